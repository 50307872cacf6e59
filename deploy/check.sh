#!/usr/bin/env bash
# Checks the files in deploy/ with the tools operators use on them: `promtool check rules` and
# `promtool test rules` for the Prometheus alert rules. promtool comes from Debian's
# `prometheus` package, unpacked (no service started) under target/tools/; where it cannot be
# fetched, the check is skipped with the reason printed. (That every metric and label the rules
# use exists is tested against a real cluster in shard/tests/deploy.rs.)
set -euo pipefail
cd "$(dirname "$0")/.."

tools=target/tools
promtool=$tools/prometheus/usr/bin/promtool
if [[ ! -x $promtool ]]; then
    mkdir -p "$tools"
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        echo "deploy/check.sh: skipped: no apt-get/dpkg-deb here to fetch promtool"
        exit 0
    fi
    if ! (cd "$tools" && apt-get download prometheus >/dev/null 2>&1); then
        echo "deploy/check.sh: skipped: Debian's prometheus package could not be downloaded"
        exit 0
    fi
    dpkg-deb -x "$(ls "$tools"/prometheus_*.deb | head -1)" "$tools/prometheus"
    rm -f "$tools"/prometheus_*.deb
fi
"$promtool" check rules deploy/prometheus/alerts.yml
(cd deploy/prometheus && "../../$promtool" test rules alerts.test.yml)
