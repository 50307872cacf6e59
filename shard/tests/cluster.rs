//! Cluster tests with real processes: three (or more) `parrhesia` nodes on loopback, each with
//! its own data directory and a key made by `parrhesia-tools keygen`, linked over TCP.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Client, Relay, WAIT, free_port, hex, keys, note};
use parrhesia_engine::Event;

/// The `parrhesia-tools` binary beside `parrhesia` (the workspace's test run builds both).
fn tools_binary() -> PathBuf {
    let relay = PathBuf::from(env!("CARGO_BIN_EXE_parrhesia"));
    let tools = relay.with_file_name("parrhesia-tools");
    assert!(tools.is_file(), "{} is missing: run the workspace's tests (cargo test --workspace)", tools.display());
    tools
}

/// `parrhesia-tools keygen --out FILE`; returns the public key it prints.
fn keygen(path: &Path) -> String {
    let output = Command::new(tools_binary()).arg("keygen").arg("--out").arg(path).output().expect("run keygen");
    assert!(output.status.success(), "keygen failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8").trim().to_string()
}

/// One node's identity and addresses, before and across starts.
struct NodeSpec {
    dir: tempfile::TempDir,
    public_key: String,
    cluster_port: u16,
}

impl NodeSpec {
    fn new() -> NodeSpec {
        let dir = tempfile::tempdir().expect("temp dir");
        let public_key = keygen(&dir.path().join("node.key"));
        NodeSpec { dir, public_key, cluster_port: free_port() }
    }

    fn cluster_address(&self) -> String {
        format!("127.0.0.1:{}", self.cluster_port)
    }

    /// Starts this node with `seeds` and `allowed` peers in cluster `cluster_id`.
    fn start(&self, seeds: &[String], allowed: &[&str], cluster_id: &str) -> Relay {
        let args = [
            format!("cluster.node_key_file={}", self.dir.path().join("node.key").display()),
            format!("cluster.listen={}", self.cluster_address()),
            format!("cluster.seeds={}", seeds.join(",")),
            format!("cluster.allowed_peers={}", allowed.join(",")),
            format!("cluster.cluster_id={cluster_id}"),
        ];
        let mut flags: Vec<String> = Vec::new();
        for arg in args {
            flags.push("--set".into());
            flags.push(arg);
        }
        flags.extend(["--shards".to_string(), "2".to_string()]);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Relay::start_in(&self.dir.path().join("data"), &flags)
    }
}

/// A full mesh of `count` nodes: every node has every other as a seed and an allowed peer.
struct Mesh {
    specs: Vec<NodeSpec>,
}

impl Mesh {
    fn new(count: usize) -> Mesh {
        Mesh { specs: (0..count).map(|_| NodeSpec::new()).collect() }
    }

    fn start(&self, index: usize) -> Relay {
        let others: Vec<&NodeSpec> =
            self.specs.iter().enumerate().filter(|(other, _)| *other != index).map(|(_, spec)| spec).collect();
        let seeds: Vec<String> = others.iter().map(|spec| spec.cluster_address()).collect();
        let allowed: Vec<&str> = others.iter().map(|spec| spec.public_key.as_str()).collect();
        self.specs[index].start(&seeds, &allowed, "test-cluster")
    }
}

/// Waits until `relay` has logged `count` lines containing `text`.
fn wait_for_log(relay: &Relay, text: &str, count: usize) {
    let deadline = Instant::now() + WAIT;
    while relay.log_text().matches(text).count() < count {
        assert!(Instant::now() < deadline, "no {count} x {text:?} in the log:\n{}", relay.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until a REQ on `relay` for `filter` returns `count` events; returns them.
fn wait_for_events(relay: &Relay, filter: &str, count: usize) -> Vec<Event> {
    let deadline = Instant::now() + WAIT;
    let mut client = relay.connect();
    loop {
        let events = client.req("converge", &[filter]);
        client.send_text(r#"["CLOSE","converge"]"#);
        if events.len() >= count {
            return events;
        }
        assert!(Instant::now() < deadline, "{} of {count} events on {}", events.len(), relay.url());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn subscribe(relay: &Relay, subscription: &str, filter: &str) -> Client {
    let mut client = relay.connect();
    assert!(client.req(subscription, &[filter]).is_empty());
    client
}

#[test]
fn an_event_published_on_one_node_reaches_the_others_live_and_stored() {
    let mesh = Mesh::new(3);
    let nodes: Vec<Relay> = (0..3).map(|index| mesh.start(index)).collect();
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    let author = keys(41);
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let mut on_b = subscribe(&nodes[1], "live", &filter);
    let mut on_c = subscribe(&nodes[2], "live", &filter);
    let event = note(&author, "from A");
    assert_eq!(nodes[0].connect().publish(&event), (true, String::new()));
    assert_eq!(on_b.next_event("live").id(), event.id(), "live on B");
    assert_eq!(on_c.next_event("live").id(), event.id(), "live on C");
    let stored = wait_for_events(&nodes[2], &filter, 1);
    assert_eq!(stored[0].id(), event.id(), "REQ on C returns it");
    // Exactly once: nothing more arrives for the subscription.
    assert!(on_b.quiet_for(Duration::from_millis(300)) && on_c.quiet_for(Duration::from_millis(300)));
}
