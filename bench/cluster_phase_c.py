#!/usr/bin/env python3
"""The cluster's phase C figures on three local nodes (release binaries in BIN_DIR):

    cargo build --release && bench/cluster_phase_c.py target/release /tmp/phase-c

(a) topic-local: each node's 100 subscribers follow what only its own publisher sends (three
    `fanout` runs at once, 100 events/s for 20 s): remote live sends pushed vs avoided by the
    interest summaries (every push here is a false positive);
(b) publish on A, deliver on B (`fanout`, 100 subscribers, 100 events/s, 15 s) with the pull
    linger at 50 ms (summaries decide what is answered at once) and at 0 (everything is);
(c) follower events per commit and process CPU per replicated event while A publishes
    200 events/s for 20 s that nobody on B or C follows, linger 50 and 0.
Prints one JSON line per part and writes OUT_DIR/report.json. Environment: BASE=18300 (relay
ports BASE..BASE+2, links BASE+10..12), SHARDS=1 per node."""
import json, os, subprocess, sys, time, urllib.request, shutil

bin_dir, out = sys.argv[1], sys.argv[2]
base = int(os.environ.get("BASE", "18300"))
shards = os.environ.get("SHARDS", "1")
os.makedirs(out, exist_ok=True)

def scrape(node):
    text = urllib.request.urlopen(f"http://127.0.0.1:{base + node}/metrics").read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values

def total(values, prefix, *needles):
    return sum(v for k, v in values.items() if k.split("{")[0] == prefix and all(n in k for n in needles))

def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

class Cluster:
    def __init__(self, name, sets):
        self.work = os.path.join(out, name)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.pubs = []
        for node in range(3):
            pub = subprocess.run([f"{bin_dir}/parrhesia-tools", "keygen", "--out", f"{self.work}/node{node}.key"],
                                 capture_output=True, text=True, check=True).stdout.strip()
            self.pubs.append(pub)
        self.procs = []
        for node in range(3):
            others = [o for o in range(3) if o != node]
            args = [f"{bin_dir}/parrhesia", "--listen", f"127.0.0.1:{base + node}", "--data-dir", f"{self.work}/data{node}",
                    "--shards", shards, "--log", "warn",
                    "--set", f"cluster.node_key_file={self.work}/node{node}.key",
                    "--set", f"cluster.listen=127.0.0.1:{base + 10 + node}",
                    "--set", "cluster.seeds=" + ",".join(f"127.0.0.1:{base + 10 + o}" for o in others),
                    "--set", "cluster.allowed_peers=" + ",".join(self.pubs[o] for o in others),
                    "--set", "cluster.cluster_id=phasec"]
            for s in sets:
                args += ["--set", s]
            self.procs.append(subprocess.Popen(args, stderr=open(f"{self.work}/node{node}.log", "w")))
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if all(total(scrape(n), "parrhesia_cluster_links_open") == 2 for n in range(3)):
                    break
            except Exception:
                pass
            time.sleep(0.2)
        time.sleep(2.5)  # summaries exchanged and confirmed

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait()

def fanout(publish, subscribe, extra, name, work):
    args = [f"{bin_dir}/parrhesia-bench", "fanout", "--publish-url", f"ws://127.0.0.1:{base + publish}",
            "--subscribe-url", f"ws://127.0.0.1:{base + subscribe}", "--json-out", f"{work}/{name}.json"] + extra
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(f"{work}/{name}.err", "w"))

def metric(work, name, key):
    for line in open(f"{work}/{name}.json"):
        m = json.loads(line)
        if m["name"] == key:
            return m["value"]

report = {}
# (a) topic-local
c = Cluster("topic", [])
runs = [fanout(n, n, ["--rate", "100", "--duration", "20", "--match-fraction", "1", "--subscribers", "100"], f"local{n}", c.work) for n in range(3)]
for r in runs:
    r.wait()
pushed = avoided = fallbacks = 0
for n in range(3):
    v = scrape(n)
    pushed += total(v, "parrhesia_cluster_live_pushed_events_total")
    avoided += total(v, "parrhesia_cluster_live_avoided_events_total")
    fallbacks += total(v, "parrhesia_cluster_summary_fallbacks_total")
delivered = [metric(c.work, f"local{n}", "fanout.deliveries") for n in range(3)]
report["topic_local"] = {"pushed": pushed, "avoided": avoided, "cut": avoided / max(1, pushed + avoided), "fallbacks": fallbacks, "deliveries": delivered}
c.stop()
print(json.dumps(report["topic_local"]), flush=True)

# (b) A->B with linger 50 and 0; (c) follower commits with linger 50 and 0
for linger in (50, 0):
    c = Cluster(f"linger{linger}", [f"cluster.replication_linger_ms={linger}"])
    r = fanout(0, 1, ["--rate", "100", "--duration", "15", "--subscribers", "100"], "ab", c.work)
    r.wait()
    ab = {k: metric(c.work, "ab", f"fanout.latency.{k}") for k in ("p50", "p99")}
    before = [scrape(n) for n in (1, 2)]
    cpu_before = [cpu(c.procs[n].pid) for n in (1, 2)]
    r = fanout(0, 0, ["--rate", "200", "--duration", "20", "--subscribers", "10"], "paced", c.work)
    r.wait()
    time.sleep(1)
    after = [scrape(n) for n in (1, 2)]
    cpu_after = [cpu(c.procs[n].pid) for n in (1, 2)]
    followers = []
    for i in range(2):
        key = lambda v, suffix: total(v, f"parrhesia_writer_batch_events_{suffix}", 'source="replication"')
        commits = key(after[i], "count") - key(before[i], "count")
        events = key(after[i], "sum") - key(before[i], "sum")
        followers.append({"events": events, "events_per_commit": events / max(1, commits),
                          "cpu_us_per_event": (cpu_after[i] - cpu_before[i]) * 1e6 / max(1, events)})
    report[f"linger{linger}"] = {"ab_ms": ab, "followers": followers}
    print(json.dumps({f"linger{linger}": report[f"linger{linger}"]}), flush=True)
    c.stop()
json.dump(report, open(f"{out}/report.json", "w"), indent=1)
