//! Every `parrhesia-bench` subcommand, briefly, against the real `parrhesia` binary on a free
//! loopback port with a temporary data directory: the JSON metrics are present and sensible,
//! and the exit codes for an unreachable relay and a relay that rejects everything hold.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// How long the relay may take to print its startup line (not a speed claim).
const STARTUP_WAIT: Duration = Duration::from_secs(30);

/// The relay binary: `$PARRHESIA_BIN` as given, else the one `cargo build -p parrhesia-shard
/// --bin parrhesia` names, built here (in this test's target directory and profile) once per
/// test process. Cargo sets `CARGO_BIN_EXE_<name>` only for this package's own binaries, and a
/// `parrhesia` merely found in the target directory may be left from an older tree; cargo's
/// own check rebuilds it if any source changed (and is quick when nothing did).
fn relay_binary() -> PathBuf {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| std::env::var_os("PARRHESIA_BIN").map_or_else(build_relay, PathBuf::from)).clone()
}

fn build_relay() -> PathBuf {
    // Test executables live in `<target>/<profile>/deps/`.
    let test_executable = std::env::current_exe().expect("test executable path");
    let profile_directory = test_executable.parent().and_then(Path::parent).expect("<target>/<profile>/deps");
    let profile = match profile_directory.file_name().and_then(|name| name.to_str()).expect("a profile directory") {
        "debug" => "dev",
        other => other,
    };
    let output = Command::new(env!("CARGO"))
        .args(["build", "-p", "parrhesia-shard", "--bin", "parrhesia", "--message-format", "json-render-diagnostics"])
        .args(["--profile", profile])
        .env("CARGO_TARGET_DIR", profile_directory.parent().expect("target directory"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(output.status.success(), "cargo build -p parrhesia-shard --bin parrhesia failed");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 cargo messages");
    let executable = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == "parrhesia")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo named the parrhesia executable");
    assert!(executable.is_file(), "no relay binary at {}", executable.display());
    executable
}

/// Ports the way the shard's tests take them (one copy of the rule for both).
#[path = "../../shard/tests/common/ports.rs"]
mod ports;
use ports::free_port;

struct Relay {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Relay {
    fn start() -> Relay {
        Relay::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Relay {
        let data = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut child = Command::new(relay_binary())
            .args(["--listen", &format!("127.0.0.1:{port}"), "--durability", "nosync", "--data-dir"])
            .arg(data.path().join("data"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start parrhesia");
        let stderr = child.stderr.take().expect("stderr");
        let (ready_sender, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = ready_sender.send(());
                }
            }
        });
        ready.recv_timeout(STARTUP_WAIT).expect("the relay printed its startup line");
        Relay { child, url: format!("ws://127.0.0.1:{port}"), _data: data }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished bench run: exit code, stderr, and the metrics by name.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    metrics: HashMap<String, f64>,
}

impl Run {
    fn metric(&self, name: &str) -> f64 {
        *self.metrics.get(name).unwrap_or_else(|| panic!("no metric {name}; stderr:\n{}", self.stderr))
    }

    fn succeeded(self) -> Run {
        assert_eq!(self.code, Some(0), "exit code; stderr:\n{}", self.stderr);
        self
    }
}

fn bench(arguments: &[&str]) -> Run {
    let Output { status, stdout, stderr } =
        Command::new(env!("CARGO_BIN_EXE_parrhesia-bench")).args(arguments).output().expect("run parrhesia-bench");
    let stdout = String::from_utf8(stdout).expect("UTF-8 stdout");
    let stderr = String::from_utf8_lossy(&stderr).to_string();
    let mut metrics = HashMap::new();
    for line in stdout.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("stdout line is not JSON ({error}): {line}"));
        assert!(value["unit"].is_string() && value["workload"].is_string() && value["parameters"].is_object());
        let name = value["name"].as_str().expect("a name").to_string();
        metrics.insert(name, value["value"].as_f64().expect("a number"));
    }
    Run { code: status.code(), stdout, stderr, metrics }
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

#[test]
fn every_subcommand_against_the_real_relay() {
    let relay = Relay::start();
    let url = relay.url.as_str();
    let pid = relay.pid();
    let files = tempfile::tempdir().expect("temp dir");
    let events = files.path().join("events.jsonl");
    let fresh = files.path().join("fresh.jsonl");
    let gen_json = files.path().join("gen.json");

    // gen: the file and its metrics (and --json-out holds exactly the stdout lines).
    let run = bench(&[
        "gen",
        "--events",
        "1500",
        "--authors",
        "30",
        "--seed",
        "5",
        "--out",
        path_text(&events),
        "--json-out",
        path_text(&gen_json),
    ])
    .succeeded();
    assert_eq!(run.metric("gen.events"), 1500.0);
    assert!(run.metric("gen.kind.1") > 500.0 && run.metric("gen.kind.7") > 100.0);
    assert_eq!(std::fs::read_to_string(&events).expect("events").lines().count(), 1500);
    assert_eq!(std::fs::read_to_string(&gen_json).expect("json out"), run.stdout);
    bench(&["gen", "--events", "300", "--authors", "10", "--seed", "6", "--out", path_text(&fresh)]).succeeded();

    // ingest: every event answered, most accepted (an older replaceable arriving after a newer
    // one on another connection is refused as a duplicate), server figures from /proc.
    let run = bench(&[
        "ingest",
        "--url",
        url,
        "--file",
        path_text(&events),
        "--connections",
        "3",
        "--window",
        "20",
        "--server-pid",
        &pid,
    ])
    .succeeded();
    assert_eq!(run.metric("ingest.sent"), 1500.0);
    assert_eq!(run.metric("ingest.unanswered"), 0.0);
    let answered = run.metric("ingest.accepted") + run.metric("ingest.duplicates") + run.metric("ingest.rejected");
    assert_eq!(answered, 1500.0);
    assert!(run.metric("ingest.accepted") > 1400.0);
    assert!(run.metric("ingest.accepted_per_second") > 0.0);
    assert!(run.metric("ingest.ok_latency.p50") > 0.0);
    assert!(run.metric("ingest.ok_latency.max") >= run.metric("ingest.ok_latency.p99"));
    assert!(run.metric("server.cpu_seconds") > 0.0);
    assert!(run.metric("server.rss_peak_bytes") > 1e6);
    assert!(run.metric("ingest.accepted_per_server_cpu_second") > 0.0);

    // query: every shape answered, the preloaded events found.
    let run = bench(&["query", "--url", url, "--file", path_text(&events), "--connections", "2", "--duration", "1.5"])
        .succeeded();
    for shape in ["authors_kinds", "tag_e", "tag_p", "kinds", "ids"] {
        assert!(run.metric(&format!("query.{shape}.completed")) > 0.0, "{shape}");
        assert!(run.metric(&format!("query.{shape}.latency.p50")) > 0.0, "{shape}");
    }
    assert!(run.metric("query.events") > 0.0);
    assert_eq!(run.metric("query.timeouts"), 0.0);

    // query at a rate: the schedule bounds the count (40/s for the 1.5 s after a ~0.2 s lead,
    // where the closed loop above answers as fast as it can), each REQ's lateness is reported.
    let run = bench(&[
        "query",
        "--url",
        url,
        "--file",
        path_text(&events),
        "--connections",
        "4",
        "--duration",
        "1.5",
        "--rate",
        "40",
    ])
    .succeeded();
    let completed = run.metric("query.completed");
    assert!(completed > 0.0 && completed <= 52.0, "{completed}");
    assert!(run.metric("query.send_lateness.max") >= run.metric("query.send_lateness.p50"));
    assert_eq!(run.metric("query.timeouts"), 0.0);

    // fanout: every matching event reaches every subscriber.
    let run = bench(&[
        "fanout",
        "--publish-url",
        url,
        "--subscribers",
        "10",
        "--publishers",
        "2",
        "--rate",
        "100",
        "--match-fraction",
        "0.5",
        "--duration",
        "1.5",
    ])
    .succeeded();
    assert_eq!(run.metric("fanout.subscribers_ready"), 10.0);
    assert!(run.metric("fanout.matching_accepted") > 10.0);
    assert_eq!(run.metric("fanout.deliveries"), run.metric("fanout.deliveries_expected"));
    assert!(run.metric("fanout.latency.p50") > 0.0);
    assert!(run.metric("fanout.latency.p99.9") >= run.metric("fanout.latency.p50"));

    // connect: from two source addresses, then split over two processes.
    let run = bench(&[
        "connect",
        "--url",
        url,
        "--connections",
        "50",
        "--rate",
        "500",
        "--hold",
        "0.5",
        "--source-addresses",
        "127.0.0.1-127.0.0.2",
    ])
    .succeeded();
    assert_eq!(run.metric("connect.established"), 50.0);
    assert_eq!(run.metric("connect.failed"), 0.0);
    assert_eq!(run.metric("connect.open_after_hold"), 50.0);
    assert!(run.metric("connect.latency.p99") > 0.0);
    let run =
        bench(&["connect", "--url", url, "--connections", "20", "--rate", "200", "--hold", "0.2", "--processes", "2"])
            .succeeded();
    assert_eq!(run.metric("connect.established"), 20.0);

    // mixed: all three parts measured at once.
    let run = bench(&[
        "mixed",
        "--url",
        url,
        "--file",
        path_text(&events),
        "--ingest-file",
        path_text(&fresh),
        "--duration",
        "2",
        "--ingest-connections",
        "1",
        "--query-connections",
        "1",
        "--subscribers",
        "5",
        "--fanout-rate",
        "50",
        "--match-fraction",
        "1",
    ])
    .succeeded();
    assert!(run.metric("ingest.accepted") > 0.0);
    assert!(run.metric("query.completed") > 0.0);
    assert!(run.metric("fanout.deliveries") > 0.0);

    // A relay that rejects everything: new events with broken signatures (a duplicate id would
    // be answered "duplicate:" before any signature check), exit 3 with the reason.
    let unseen = files.path().join("unseen.jsonl");
    bench(&["gen", "--events", "20", "--seed", "7", "--out", path_text(&unseen)]).succeeded();
    let broken = files.path().join("broken.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&unseen)
        .expect("unseen events")
        .lines()
        .take(20)
        .map(|line| {
            let signature_end = line.rfind("\"}").expect("sig is last");
            let flipped = if &line[signature_end - 1..signature_end] == "0" { "1" } else { "0" };
            format!("{}{flipped}{}", &line[..signature_end - 1], &line[signature_end..])
        })
        .collect();
    std::fs::write(&broken, lines.join("\n")).expect("write broken events");
    let run = bench(&["ingest", "--url", url, "--file", path_text(&broken)]);
    assert_eq!(run.code, Some(3), "stderr:\n{}", run.stderr);
    assert_eq!(run.metric("ingest.rejected.invalid"), 20.0);
    assert!(run.stderr.contains("no event was accepted: 20 invalid"), "{}", run.stderr);

    // The same stored events sent again: nothing accepted is exit 3, unless `--resend` says
    // the duplicates are the measurement.
    let stored = files.path().join("stored.jsonl");
    let unseen_text = std::fs::read_to_string(&unseen).expect("unseen events");
    let kept: Vec<&str> = unseen_text.lines().filter(|line| !line.contains("\"kind\":20001")).collect();
    std::fs::write(&stored, kept.join("\n")).expect("write stored events");
    bench(&["ingest", "--url", url, "--file", path_text(&stored)]).succeeded();
    let again = bench(&["ingest", "--url", url, "--file", path_text(&stored)]);
    assert_eq!(again.code, Some(3), "stderr:\n{}", again.stderr);
    let resent = bench(&["ingest", "--url", url, "--file", path_text(&stored), "--resend"]).succeeded();
    assert_eq!(resent.metric("ingest.accepted"), 0.0);
    assert_eq!(resent.metric("ingest.duplicates") + resent.metric("ingest.rejected"), kept.len() as f64);
    assert!(resent.metric("ingest.answered_per_second") > 0.0);
}

/// `--auth-seed`: every connection answers the relay's NIP-42 challenge, so a relay that takes
/// writes only from authenticated clients accepts the run (and refuses it without).
#[test]
fn ingest_authenticates_when_asked() {
    let relay = Relay::start_with(&["--set", "auth_required=writes", "--set", "auth_challenge_on_connect=true"]);
    let files = tempfile::tempdir().expect("temp dir");
    let events = files.path().join("events.jsonl");
    bench(&["gen", "--events", "200", "--authors", "10", "--seed", "9", "--out", path_text(&events)]).succeeded();
    let ingest = |auth: &[&str]| {
        let mut arguments =
            vec!["ingest", "--url", relay.url.as_str(), "--file", path_text(&events), "--connections", "2"];
        arguments.extend_from_slice(auth);
        bench(&arguments)
    };
    let anonymous = ingest(&[]);
    assert_eq!(anonymous.code, Some(3), "no data: nothing accepted without AUTH");
    assert_eq!(anonymous.metric("ingest.rejected.auth-required"), 200.0);
    let authenticated = ingest(&["--auth-seed", "7"]).succeeded();
    assert!(authenticated.metric("ingest.accepted") > 150.0, "{}", authenticated.stdout);
}

#[test]
fn an_unreachable_relay_exits_2_naming_the_url() {
    let url = format!("ws://127.0.0.1:{}", free_port());
    let files = tempfile::tempdir().expect("temp dir");
    let events = files.path().join("events.jsonl");
    bench(&["gen", "--events", "5", "--out", path_text(&events)]).succeeded();
    let runs = [
        bench(&["ingest", "--url", &url, "--file", path_text(&events)]),
        bench(&["query", "--url", &url, "--file", path_text(&events), "--duration", "1"]),
        bench(&["fanout", "--publish-url", &url, "--duration", "1"]),
        bench(&["connect", "--url", &url, "--connections", "1"]),
    ];
    for run in runs {
        assert_eq!(run.code, Some(2), "stderr:\n{}", run.stderr);
        assert!(run.stderr.contains(&format!("cannot reach the relay at {url}")), "{}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn usage_errors_exit_2_and_help_lists_exit_codes() {
    let run = bench(&["ingest", "--connections", "0", "--file", "x"]);
    assert_eq!(run.code, Some(2));
    let help = Command::new(env!("CARGO_BIN_EXE_parrhesia-bench")).arg("--help").output().expect("run --help");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit codes:"));
}

/// `sweep` over two settings against the real relay: every run's JSON lines carry their
/// `shards`, the table names each setting, the SVG is well-formed with one line per metric;
/// `plot` redraws it from the saved lines; a relay command that fails is reported with its
/// output and exit code 2.
#[test]
fn sweep_runs_each_setting_and_plots_the_curve() {
    let temp = tempfile::tempdir().expect("temp dir");
    let events = temp.path().join("events.jsonl");
    bench(&["gen", "--events", "300", "--out", path_text(&events)]).succeeded();
    let template = format!("{} --listen {{listen}} --data-dir {{data}} --shards {{shards}}", relay_binary().display());
    let (svg, lines) = (temp.path().join("sweep.svg"), temp.path().join("runs.jsonl"));
    let run = bench(&[
        "sweep",
        "--relay-cmd",
        &template,
        "--shards",
        "1,2",
        "--runs",
        "1",
        "--workload",
        "ingest",
        "--plot",
        path_text(&svg),
        "--json-out",
        path_text(&lines),
        "--",
        "--file",
        path_text(&events),
        "--connections",
        "2",
    ])
    .succeeded();
    assert!(run.stderr.contains("medians per setting (ingest"), "{}", run.stderr);
    let saved = std::fs::read_to_string(&lines).expect("the JSON lines");
    let mut settings: Vec<u64> = saved
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON"))
        .filter(|line| line["name"] == "ingest.accepted_per_second")
        .map(|line| {
            assert!(line["value"].as_f64().expect("a rate") > 0.0);
            line["parameters"]["shards"].as_u64().expect("a shards parameter")
        })
        .collect();
    settings.sort_unstable();
    assert_eq!(settings, [1, 2], "one run per setting");
    assert!(saved.contains("server.cpu_seconds"), "the sweep passed --server-pid");
    let polylines = |path: &Path| {
        let text = std::fs::read_to_string(path).expect("an SVG");
        let document = roxmltree::Document::parse(&text).expect("well-formed XML");
        assert_eq!(document.root_element().tag_name().name(), "svg");
        assert!(text.contains("ingest.accepted_per_second") && text.contains("ingest.ok_latency.p99"));
        // Grid lines are polylines too; the series are the blue ones.
        let series = |node: &roxmltree::Node| {
            node.attribute("stroke").is_some_and(|color| color.eq_ignore_ascii_case("#0000FF"))
        };
        document.descendants().filter(|node| node.tag_name().name() == "polyline" && series(node)).count()
    };
    assert_eq!(polylines(&svg), 2, "throughput and p99, one series each");
    let redrawn = temp.path().join("redrawn.svg");
    let plot = Command::new(env!("CARGO_BIN_EXE_parrhesia-bench"))
        .args(["plot", path_text(&lines), "--x", "shards", "--y", "ingest.accepted_per_second"])
        .args(["--y", "ingest.ok_latency.p99", "--out", path_text(&redrawn)])
        .output()
        .expect("run plot");
    assert!(plot.status.success(), "{}", String::from_utf8_lossy(&plot.stderr));
    assert_eq!(polylines(&redrawn), 2);

    let broken = format!("{} --listen {{listen}} --data-dir {{data}} --set no_such_key=1", relay_binary().display());
    let run = bench(&[
        "sweep",
        "--relay-cmd",
        &broken,
        "--shards",
        "1",
        "--runs",
        "1",
        "--workload",
        "ingest",
        "--",
        "--file",
        path_text(&events),
    ]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("exited with") && run.stderr.contains("no_such_key"), "{}", run.stderr);
}

/// A cluster node run by shell commands, as an operator's stop and start commands would:
/// `start_command` starts it in the background and records its pid, `stop_command` stops it
/// (SIGTERM) and returns once it is gone.
struct ShellNode {
    dir: tempfile::TempDir,
    port: u16,
    start_command: String,
    stop_command: String,
}

impl ShellNode {
    fn new(key: &parrhesia_net::NodeKey, cluster_port: u16, peer: (&str, u16)) -> ShellNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let key_file = dir.path().join("node.key");
        key.write_new(&key_file).expect("write the node key");
        let port = free_port();
        let (peer_key, peer_port) = peer;
        let start_command = format!(
            "{relay} --listen 127.0.0.1:{port} --durability nosync --data-dir {data} --shards 1 \
             --set cluster.node_key_file={key} --set cluster.listen=127.0.0.1:{cluster_port} \
             --set cluster.seeds=127.0.0.1:{peer_port} --set cluster.allowed_peers={peer_key} \
             --set cluster.cluster_id=slo-test >{log} 2>&1 & echo $! >{pid}",
            relay = relay_binary().display(),
            data = dir.path().join("data").display(),
            key = key_file.display(),
            log = dir.path().join("log").display(),
            pid = dir.path().join("pid").display(),
        );
        let pid = dir.path().join("pid");
        let stop_command = format!(
            "kill $(cat {pid}); while kill -0 $(cat {pid}) 2>/dev/null; do sleep 0.05; done",
            pid = pid.display()
        );
        ShellNode { dir, port, start_command, stop_command }
    }

    fn start(&self) {
        assert!(Command::new("sh").arg("-c").arg(&self.start_command).status().expect("sh").success());
        let deadline = std::time::Instant::now() + STARTUP_WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "the node never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for ShellNode {
    fn drop(&mut self) {
        let _ = Command::new("sh").arg("-c").arg(&self.stop_command).status();
    }
}

#[test]
fn slo_reports_each_service_level_of_a_cluster_and_exits_4_when_one_is_missed() {
    let keys = [parrhesia_net::NodeKey::generate().unwrap(), parrhesia_net::NodeKey::generate().unwrap()];
    let cluster_ports = [free_port(), free_port()];
    let nodes = [
        ShellNode::new(&keys[0], cluster_ports[0], (&keys[1].public_hex(), cluster_ports[1])),
        ShellNode::new(&keys[1], cluster_ports[1], (&keys[0].public_hex(), cluster_ports[0])),
    ];
    for node in &nodes {
        node.start();
    }
    let deadline = std::time::Instant::now() + STARTUP_WAIT;
    while !nodes.iter().all(|node| node.log().contains("link up")) {
        assert!(std::time::Instant::now() < deadline, "no link:\n{}\n{}", nodes[0].log(), nodes[1].log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let metrics = format!("{},{}", nodes[0].metrics_url(), nodes[1].metrics_url());
    let (a, b) = (nodes[0].url(), nodes[1].url());
    let common = [
        "slo",
        "--publish-url",
        &a,
        "--subscribe-url",
        &b,
        "--metrics-url",
        &metrics,
        "--rate",
        "50",
        "--duration",
        "2",
        "--subscribers",
        "4",
        "--match-fraction",
        "1",
    ];
    let mut arguments = common.to_vec();
    arguments.extend([
        "--stop-cmd",
        &nodes[1].stop_command,
        "--start-cmd",
        &nodes[1].start_command,
        "--restart-url",
        &b,
        "--catch-up-events",
        "50",
        // Generous thresholds: this checks the report, not the machine's speed.
        "--remote-enqueue-p95-ms",
        "60000",
        "--catch-up-seconds-max",
        "120",
        "--ephemeral-loss-max",
        "1",
    ]);
    let run = bench(&arguments).succeeded();
    assert!(run.metric("slo.remote_enqueue_p95_ms") > 0.0);
    assert_eq!(run.metric("slo.remote_enqueue_p95_ms.pass"), 1.0);
    assert!(run.metric("slo.stored_deliveries") > 0.0);
    assert!(run.metric("slo.deliver_p99_ms") > 0.0);
    assert!(run.metric("slo.ephemeral_deliveries_expected") > 0.0);
    assert!((0.0..=1.0).contains(&run.metric("slo.ephemeral_loss")));
    assert!(run.metric("slo.catch_up_seconds") > 0.0);
    assert!(run.stderr.contains("PASS slo.catch_up_seconds"), "{}", run.stderr);
    // The restarted node is back and serves: a missed SLO (nothing is under 0 ms) exits 4.
    let mut strict = common.to_vec();
    strict.extend(["--remote-enqueue-p95-ms", "0"]);
    let run = bench(&strict);
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    assert_eq!(run.metric("slo.remote_enqueue_p95_ms.pass"), 0.0);
    assert!(run.stderr.contains("FAIL slo.remote_enqueue_p95_ms"), "{}", run.stderr);
}
