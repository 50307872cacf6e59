#!/usr/bin/env bash
# deploy/build.sh [--profile NAME] PREFIX: builds the relay and parrhesia-tools with the locked
# dependencies and installs them, with deploy/entrypoint.sh as parrhesia-entrypoint, into
# PREFIX/bin. The container image's build stage runs exactly this (release profile); CI runs it
# too (dev profile, to reuse the test build) and starts the result, so the image's steps are
# tested where no image can be built.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
if [[ ${1:-} == --profile ]]; then
    profile=$2
    shift 2
fi
[[ $# -eq 1 ]] || { echo "usage: deploy/build.sh [--profile NAME] PREFIX" >&2; exit 2; }
prefix=$1

cargo build --locked --profile "$profile" -p parrhesia-shard --bin parrhesia -p parrhesia-tools --bin parrhesia-tools
# Cargo names the dev profile's directory `debug`.
out=${CARGO_TARGET_DIR:-target}/$([[ $profile == dev ]] && echo debug || echo "$profile")
install -d "$prefix/bin"
install -m 0755 "$out/parrhesia" "$out/parrhesia-tools" "$prefix/bin/"
install -m 0755 deploy/entrypoint.sh "$prefix/bin/parrhesia-entrypoint"
echo "deploy/build.sh: installed parrhesia, parrhesia-tools and parrhesia-entrypoint in $prefix/bin"
