#!/usr/bin/env bash
# Runs one parrhesia-bench workload against two relays, alternating A, B, A, B, ... and prints,
# for the key metrics, the median of each side's runs and the ratio B / A.
#
#   bench/compare.sh URL_A URL_B SUBCOMMAND [ARGS...]
#
#   bench/compare.sh ws://127.0.0.1:7777 ws://127.0.0.1:7778 query --file events.jsonl --duration 20
#   RUNS=5 PID_A=1234 PID_B=5678 bench/compare.sh ws://127.0.0.1:7777 ws://127.0.0.1:7778 \
#       ingest --file 'events-{run}.jsonl' --connections 8
#
# The URL goes in as --url (--publish-url for fanout). '{run}' in ARGS becomes the run number
# (1..RUNS), e.g. to give each ingest run a file the relays have not seen yet.
#
# Environment:
#   RUNS=3          runs per relay (medians are reported)
#   BENCH=...       the parrhesia-bench binary (default: target/release/parrhesia-bench next to
#                   this script's workspace, else parrhesia-bench on PATH)
#   PID_A, PID_B    the relays' process ids, passed as --server-pid (adds CPU and RSS figures)
#   ALL=1           print every metric, not only the key ones
#   KEEP=DIR        keep each run's JSON lines in DIR (default: a temporary directory, removed)
#
# Exit code: 0; 2 for a wrong command line; else the first failing run's exit code (its stderr
# is shown).
set -euo pipefail

if [[ $# -lt 3 ]]; then
    sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
url_a=$1
url_b=$2
subcommand=$3
shift 3

script_directory=$(cd "$(dirname "$0")" && pwd)
if [[ -z "${BENCH:-}" ]]; then
    if [[ -x "$script_directory/../target/release/parrhesia-bench" ]]; then
        BENCH="$script_directory/../target/release/parrhesia-bench"
    else
        BENCH=parrhesia-bench
    fi
fi
runs=${RUNS:-3}
url_flag=--url
if [[ "$subcommand" == fanout ]]; then
    url_flag=--publish-url
fi
if [[ -n "${KEEP:-}" ]]; then
    output=$KEEP
    mkdir -p "$output"
else
    output=$(mktemp -d)
    trap 'rm -rf "$output"' EXIT
fi

run_once() { # SIDE URL PID RUN
    local side=$1 url=$2 pid=$3 run=$4
    local arguments=()
    for argument in "${workload_arguments[@]}"; do
        arguments+=("${argument//\{run\}/$run}")
    done
    if [[ -n "$pid" ]]; then
        arguments+=(--server-pid "$pid")
    fi
    echo "== run $run/$runs on $side ($url)" >&2
    local status=0
    "$BENCH" "$subcommand" "$url_flag" "$url" "${arguments[@]}" \
        --json-out "$output/$side-$run.jsonl" >/dev/null 2>"$output/$side-$run.stderr" || status=$?
    if [[ $status -ne 0 ]]; then
        cat "$output/$side-$run.stderr" >&2
        echo "run $run on $side failed with exit code $status" >&2
        exit "$status"
    fi
}

workload_arguments=("$@")
for run in $(seq 1 "$runs"); do
    run_once A "$url_a" "${PID_A:-}" "$run"
    run_once B "$url_b" "${PID_B:-}" "$run"
done

python3 - "$output" "$runs" "${ALL:-0}" "$url_a" "$url_b" <<'PYTHON'
import json, re, statistics, sys
from pathlib import Path

directory, runs, show_all, url_a, url_b = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], sys.argv[5]
KEY = re.compile(
    r"(per_second|per_server_cpu_second|\.p50|\.p99|\.p99\.9|\.max|delivery_ratio|accepted|"
    r"server\.cpu_seconds|server\.rss_peak_bytes|established|failed|dropped_during_hold|unanswered|timeouts)$"
)

def load(side):
    values, units, order = {}, {}, []
    for run in range(1, runs + 1):
        for line in (directory / f"{side}-{run}.jsonl").read_text().splitlines():
            metric = json.loads(line)
            name = metric["name"]
            if name not in values:
                values[name] = []
                order.append(name)
            values[name].append(metric["value"])
            units[name] = metric["unit"]
    return values, units, order

values_a, units, order = load("A")
values_b, units_b, order_b = load("B")
units.update(units_b)
order += [name for name in order_b if name not in values_a]
width = max(len(name) for name in order)
print(f"medians of {runs} run(s): A = {url_a}, B = {url_b}")
print(f"{'metric':<{width}}  {'A':>14}  {'B':>14}  {'B/A':>7}  unit")
for name in order:
    if not show_all and not KEY.search(name):
        continue
    a = statistics.median(values_a[name]) if name in values_a else None
    b = statistics.median(values_b[name]) if name in values_b else None
    ratio = f"{b / a:7.3f}" if a not in (None, 0) and b is not None else "      -"
    text = lambda value: "-" if value is None else f"{value:.3f}"
    print(f"{name:<{width}}  {text(a):>14}  {text(b):>14}  {ratio}  {units[name]}")
print("(higher is better for rates and per-CPU figures; lower for latencies, CPU seconds and RSS)")
PYTHON
