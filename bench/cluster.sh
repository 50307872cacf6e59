#!/usr/bin/env bash
# Starts three release `parrhesia` nodes on loopback as one cluster and measures what the
# cluster issue asks for: replication throughput (events/s applied on a follower while one
# node ingests), publish-on-A to deliver-on-B latency, catch-up time of a node restarted after
# missing a batch of events, and link bytes per replicated event against its JSON size.
#
#   cargo build --release && bench/cluster.sh
#
# Environment:
#   EVENTS=100000   events per ingest (two ingests: one live, one while B is down)
#   WORK=DIR        keep keys, stores, logs and JSON lines in DIR (default: a temporary one)
#   BASE_PORT=17700 relays listen on BASE_PORT+0..2, links on BASE_PORT+10..12
#   DURABILITY=fsync
#   SHARDS=2        shards per node
#   LINK_ENCRYPTION=required   cluster.link_encryption (off: to measure what encryption costs)
#   PERF_CATCH_UP=FILE  record a perf profile of the restarted node while it catches up
#
# Exit code: 0, or the first failing step's.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release
events=${EVENTS:-100000}
base=${BASE_PORT:-17700}
durability=${DURABILITY:-fsync}
shards=${SHARDS:-2}
link_encryption=${LINK_ENCRYPTION:-required}
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
echo "work directory: $work" >&2
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

metric() { # metric FILE NAME -> value
    python3 -c 'import json,sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("name") == sys.argv[2]: print(int(m["value"]) if float(m["value"]).is_integer() else round(m["value"], 2))' "$1" "$2"
}

for node in 0 1 2; do
    [[ -f $work/node$node.key ]] || "$bin/parrhesia-tools" keygen --out "$work/node$node.key" > "$work/node$node.pub"
done
start_node() { # start_node N
    local node=$1 seeds=() peers=()
    for other in 0 1 2; do
        [[ $other == "$node" ]] && continue
        seeds+=("127.0.0.1:$((base + 10 + other))")
        peers+=("$(cat "$work/node$other.pub")")
    done
    "$bin/parrhesia" --listen "127.0.0.1:$((base + node))" --data-dir "$work/data$node" --durability "$durability" \
        --shards "$shards" \
        --set "cluster.node_key_file=$work/node$node.key" --set "cluster.listen=127.0.0.1:$((base + 10 + node))" \
        --set "cluster.seeds=$(IFS=,; echo "${seeds[*]}")" --set "cluster.allowed_peers=$(IFS=,; echo "${peers[*]}")" \
        --set cluster.cluster_id=bench --set "cluster.link_encryption=$link_encryption" \
        --log warn 2>> "$work/node$node.log" &
    pids[node]=$!
    local before; before=$(grep -c "listening on" "$work/node$node.log" 2>/dev/null || true)
    for _ in $(seq 200); do
        [[ $(grep -c "listening on" "$work/node$node.log" 2>/dev/null || true) -gt ${before:-0} ]] && return
        sleep 0.05
    done
    echo "node $node did not start" >&2; exit 1
}
url() { echo "ws://127.0.0.1:$((base + $1))"; }
thread_cpu() { # thread_cpu PID -> "name=seconds ..." per thread name (user + system time so far)
    python3 - "$1" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
task = f"/proc/{sys.argv[1]}/task"
by_name = {}
for tid in os.listdir(task):
    try:
        stat = open(f"{task}/{tid}/stat").read()
    except OSError:
        continue
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    by_name[name] = by_name.get(name, 0) + (int(fields[11]) + int(fields[12])) / tick
print(" ".join(f"{name}={seconds:.2f}" for name, seconds in sorted(by_name.items()) if seconds > 0))
PY
}

[[ -f $work/first.jsonl ]] || "$bin/parrhesia-bench" gen --events "$events" --seed 11 --out "$work/first.jsonl" --json-out /dev/null
[[ -f $work/second.jsonl ]] || "$bin/parrhesia-bench" gen --events "$events" --seed 12 --start-unix 1702600000 --out "$work/second.jsonl" --json-out /dev/null
json_bytes=$(python3 -c 'import sys; lines=open(sys.argv[1]).read().splitlines(); print(sum(map(len,lines))/len(lines))' "$work/first.jsonl")

for node in 0 1 2; do start_node $node; done
sleep 2

# What a store holds after the first ingest (replaced and deleted events leave it).
if [[ ! -f $work/probe.count ]]; then
    rm -rf "$work/probe"
    "$bin/parrhesia-tools" import --data-dir "$work/probe" "$work/first.jsonl" >/dev/null 2>&1
    "$bin/parrhesia-tools" stats --data-dir "$work/probe" | awk '$1 == "events" {print $2}' > "$work/probe.count"
fi
held=$(cat "$work/probe.count")
"$bin/parrhesia-bench" ingest --url "$(url 0)" --file "$work/first.jsonl" --connections 8 --window 200 \
    --server-pid "${pids[0]}" --json-out "$work/ingest-first.json" > /dev/null &
ingest=$!
"$bin/parrhesia-bench" converge --url "$(url 1)" --count "$held" --interval-ms 20 --json-out "$work/replication.json"
wait $ingest
echo "B's CPU by thread after replicating the first ingest (s): $(thread_cpu "${pids[1]}")" >&2
echo "replication: A ingested $(metric "$work/ingest-first.json" ingest.accepted_per_second) events/s; B reached A's $held events with growth $(metric "$work/replication.json" converge.growth) events/s" >&2

"$bin/parrhesia-bench" fanout --publish-url "$(url 0)" --subscribe-url "$(url 1)" --subscribers 100 --rate 100 \
    --match-fraction 1 --duration 10 --json-out "$work/fanout.json"
echo "fanout A->B: p50 $(metric "$work/fanout.json" fanout.latency.p50) ms p99 $(metric "$work/fanout.json" fanout.latency.p99) ms" >&2

# Catch-up: B misses a whole ingest, then restarts.
kill -9 "${pids[1]}"
"$bin/parrhesia-bench" ingest --url "$(url 0)" --file "$work/second.jsonl" --connections 8 --window 200 --json-out /dev/null
held=$("$bin/parrhesia-bench" converge --url "$(url 0)" --count 0 --json-out "$work/a-count.json" >/dev/null; metric "$work/a-count.json" converge.count_last)
start=$(date +%s.%N)
start_node 1
if [[ -n ${PERF_CATCH_UP:-} ]]; then
    perf record -F 999 -g -o "$PERF_CATCH_UP" -p "${pids[1]}" 2>/dev/null &
    perf=$!
fi
"$bin/parrhesia-bench" converge --url "$(url 1)" --count "$held" --interval-ms 20 --json-out "$work/catch-up.json"
end=$(date +%s.%N)
[[ -n ${PERF_CATCH_UP:-} ]] && kill -INT "$perf" && wait "$perf" 2>/dev/null || true
echo "catch-up: B restarted and reached $held events in $(python3 -c "print(round($end - $start, 2))") s (start included)" >&2

for node in 0 1 2; do kill -TERM "${pids[node]}"; done
wait 2>/dev/null || true
grep -h "cluster stopped" "$work/node1.log" | tail -1 >&2
python3 - "$work/node1.log" "$json_bytes" <<'PY' >&2
import re, sys
line = [l for l in open(sys.argv[1]) if "cluster stopped" in l][-1]
received = int(re.search(r"received (\d+)", line).group(1))
events = int(re.search(r"events received (\d+)", line).group(1))
json_bytes = float(sys.argv[2])
print(f"link bytes into B per replicated event: {received / events:.0f} (JSON {json_bytes:.0f} bytes: {received / events / json_bytes:.2f}x)")
PY
