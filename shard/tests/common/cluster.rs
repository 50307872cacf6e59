//! Cluster test support: nodes with their own keys and data directories started as real
//! processes, meshes of them, proxied clusters, and a link peer played by the test.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use parrhesia_engine::Event;

use super::{Client, Relay, WAIT, free_port, note, tools_binary};

/// `parrhesia-tools keygen --out FILE`; returns the public key it prints.
pub fn keygen(path: &Path) -> String {
    let output = Command::new(tools_binary()).arg("keygen").arg("--out").arg(path).output().expect("run keygen");
    assert!(output.status.success(), "keygen failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8").trim().to_string()
}

/// One node's identity and addresses, before and across starts.
pub struct NodeSpec {
    pub dir: tempfile::TempDir,
    pub public_key: String,
    pub cluster_port: u16,
}

impl NodeSpec {
    pub fn new() -> NodeSpec {
        let dir = tempfile::tempdir().expect("temp dir");
        let public_key = keygen(&dir.path().join("node.key"));
        NodeSpec { dir, public_key, cluster_port: free_port() }
    }

    pub fn cluster_address(&self) -> String {
        format!("127.0.0.1:{}", self.cluster_port)
    }

    /// Starts this node with `seeds` and `allowed` peers in cluster `cluster_id`.
    pub fn start(&self, seeds: &[String], allowed: &[&str], cluster_id: &str) -> Relay {
        self.start_with(seeds, allowed, cluster_id, &self.cluster_address(), &[], &[])
    }

    /// As `start`, telling the others to reach it at `advertise` (a proxy in front of it), with
    /// more `--set` assignments.
    pub fn start_with(
        &self,
        seeds: &[String],
        allowed: &[&str],
        cluster_id: &str,
        advertise: &str,
        sets: &[&str],
        env: &[(&str, &str)],
    ) -> Relay {
        let args = [
            format!("cluster.advertise={advertise}"),
            format!("cluster.node_key_file={}", self.dir.path().join("node.key").display()),
            format!("cluster.listen={}", self.cluster_address()),
            format!("cluster.seeds={}", seeds.join(",")),
            format!("cluster.allowed_peers={}", allowed.join(",")),
            format!("cluster.cluster_id={cluster_id}"),
        ];
        let mut flags: Vec<String> = Vec::new();
        for arg in args.into_iter().chain(sets.iter().map(|set| set.to_string())) {
            flags.push("--set".into());
            flags.push(arg);
        }
        flags.extend(["--shards".to_string(), "2".to_string()]);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Relay::start_in_with_env(&self.dir.path().join("data"), &flags, env)
    }
}

impl NodeSpec {
    /// Writes a configuration file whose `[cluster]` table makes this node, with the key in
    /// `key_file`, one of cluster "test-cluster" with these seeds and allowed peers, and
    /// `extra` lines in the table.
    pub fn write_config(&self, path: &Path, key_file: &Path, seeds: &[String], allowed: &[&str], extra: &str) {
        let quoted = |items: &[&str]| items.iter().map(|item| format!("{item:?}")).collect::<Vec<_>>().join(", ");
        let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
        let text = format!(
            "[cluster]\nnode_key_file = {:?}\nlisten = {:?}\nseeds = [{}]\nallowed_peers = [{}]\ncluster_id = \"test-cluster\"\n{extra}",
            key_file.display().to_string(),
            self.cluster_address(),
            quoted(&seeds),
            quoted(allowed),
        );
        std::fs::write(path, text).expect("write the configuration");
    }

    /// The key file the node was made with.
    pub fn key_file(&self) -> std::path::PathBuf {
        self.dir.path().join("node.key")
    }

    /// Starts this node from the configuration file at `path` (`--config`), so a SIGHUP
    /// reloads what the file says then.
    pub fn start_from_file(&self, path: &Path) -> Relay {
        let path = path.display().to_string();
        Relay::start_in_with_env(&self.dir.path().join("data"), &["--config", &path, "--shards", "2"], &[])
    }
}

/// A full mesh of `count` nodes: every node has every other as a seed and an allowed peer.
pub struct Mesh {
    pub specs: Vec<NodeSpec>,
}

impl Mesh {
    pub fn new(count: usize) -> Mesh {
        Mesh { specs: (0..count).map(|_| NodeSpec::new()).collect() }
    }

    pub fn start(&self, index: usize) -> Relay {
        self.start_with(index, &[])
    }

    pub fn start_with(&self, index: usize, sets: &[&str]) -> Relay {
        self.start_with_env(index, sets, &[])
    }

    pub fn start_with_env(&self, index: usize, sets: &[&str], env: &[(&str, &str)]) -> Relay {
        let others: Vec<&NodeSpec> =
            self.specs.iter().enumerate().filter(|(other, _)| *other != index).map(|(_, spec)| spec).collect();
        let seeds: Vec<String> = others.iter().map(|spec| spec.cluster_address()).collect();
        let allowed: Vec<&str> = others.iter().map(|spec| spec.public_key.as_str()).collect();
        let spec = &self.specs[index];
        spec.start_with(&seeds, &allowed, "test-cluster", &spec.cluster_address(), sets, env)
    }
}

/// Waits until `relay` has logged `count` lines containing `text`.
pub fn wait_for_log(relay: &Relay, text: &str, count: usize) {
    let deadline = Instant::now() + WAIT;
    while relay.log_text().matches(text).count() < count {
        assert!(Instant::now() < deadline, "no {count} x {text:?} in the log:\n{}", relay.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until a REQ on `relay` for `filter` returns `count` events; returns them.
pub fn wait_for_events(relay: &Relay, filter: &str, count: usize) -> Vec<Event> {
    let deadline = Instant::now() + WAIT;
    loop {
        // A fresh connection each time: a live event for the last subscription may still
        // arrive after its CLOSE, and must not be counted as part of this scan.
        let events = relay.connect().req("converge", &[filter]);
        if events.len() >= count {
            return events;
        }
        assert!(Instant::now() < deadline, "{} of {count} events on {}", events.len(), relay.url());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `relay` holds every one of `ids` (asked by id, 100 at a time: a REQ answers at
/// most the relay's `filter_limit_max` events, and a filter holds at most 128 ids).
pub fn wait_for_ids(relay: &Relay, ids: &std::collections::BTreeSet<[u8; 32]>) {
    let deadline = Instant::now() + WAIT;
    let mut missing: Vec<[u8; 32]> = ids.iter().copied().collect();
    while !missing.is_empty() {
        let mut held = std::collections::BTreeSet::new();
        for chunk in missing.chunks(100) {
            let list: Vec<String> = chunk.iter().map(|id| format!("\"{}\"", super::hex(id))).collect();
            let filter = format!(r#"{{"ids":[{}]}}"#, list.join(","));
            held.extend(relay.connect().req("held", &[&filter]).iter().map(|event| *event.id()));
        }
        missing.retain(|id| !held.contains(id));
        assert!(Instant::now() < deadline, "{} of {} events missing on {}", missing.len(), ids.len(), relay.url());
        if !missing.is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn subscribe(relay: &Relay, subscription: &str, filter: &str) -> Client {
    let mut client = relay.connect();
    assert!(client.req(subscription, &[filter]).is_empty());
    client
}

/// Publishes `count` notes by `author`, alternating between the clients, and returns them.
pub fn publish_stream(
    clients: &mut [Client],
    author: &parrhesia_engine::Keys,
    count: usize,
    label: &str,
) -> Vec<Event> {
    let mut events = Vec::with_capacity(count);
    for number in 0..count {
        let event = note(author, &format!("{label} {number}"));
        let client = &mut clients[number % clients.len()];
        assert!(client.publish(&event).0, "accepted");
        events.push(event);
    }
    events
}

pub fn ids(events: &[Event]) -> std::collections::BTreeSet<[u8; 32]> {
    events.iter().map(|event| *event.id()).collect()
}

/// A link played by the test, past its handshake: frames go out sealed (`send`), or as raw
/// bytes on the wire (`stream`).
pub struct TestLink {
    pub stream: std::net::TcpStream,
    pub sealer: parrhesia_net::cluster::secure::Sealer,
    pub opener: parrhesia_net::cluster::secure::Opener,
    pub plain: Vec<u8>,
}

impl TestLink {
    pub fn send(&mut self, frame: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let mut sealed = Vec::new();
        self.sealer.seal(frame, &mut sealed).unwrap();
        self.stream.write_all(&sealed)
    }

    /// The next frame's body from the node.
    pub fn receive(&mut self) -> Vec<u8> {
        use std::io::Read;
        loop {
            if self.plain.len() >= 4 {
                let length = u32::from_be_bytes(self.plain[..4].try_into().unwrap()) as usize;
                if self.plain.len() >= 4 + length {
                    let body = self.plain[4..4 + length].to_vec();
                    self.plain.drain(..4 + length);
                    return body;
                }
            }
            let mut header = [0; 2];
            self.stream.read_exact(&mut header).unwrap();
            let mut record = vec![0; u16::from_be_bytes(header) as usize];
            self.stream.read_exact(&mut record).unwrap();
            self.opener.open(&record, &mut self.plain).unwrap();
        }
    }
}

/// A peer played by the test: handshakes with `address` as the node whose key is in `key_file`.
pub fn handshake_as(key_file: &Path, address: &str, cluster_id: &str) -> TestLink {
    use parrhesia_net::cluster::frame::{Hello, Message, PROTOCOL_VERSION};
    use parrhesia_net::cluster::handshake::{self, Exchanged, Role};
    use parrhesia_net::cluster::secure::{Encryption, NoiseHandshake, PREAMBLE_BYTES, Preamble};
    use std::io::{Read, Write};
    let key = parrhesia_net::NodeKey::load(key_file).expect("key");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let preamble = Preamble::new(Encryption::Required, key.public());
    stream.write_all(&preamble.encode()).unwrap();
    let mut peer_preamble = [0; PREAMBLE_BYTES];
    stream.read_exact(&mut peer_preamble).unwrap();
    preamble.decode_peer(&peer_preamble).expect("the node's preamble");
    let mut noise = NoiseHandshake::dialer(&preamble.encode(), &peer_preamble).unwrap();
    stream.write_all(&noise.write().unwrap()).unwrap();
    let mut header = [0; 2];
    stream.read_exact(&mut header).unwrap();
    let mut message = vec![0; u16::from_be_bytes(header) as usize];
    stream.read_exact(&mut message).unwrap();
    noise.read(&message).unwrap();
    let (sealer, opener, channel) = noise.finish().unwrap();
    let mut link = TestLink { stream, sealer, opener, plain: Vec::new() };
    let hello = Hello {
        version: PROTOCOL_VERSION,
        cluster_id: cluster_id.into(),
        public_key: key.public(),
        nonce: handshake::fresh_nonce().unwrap(),
        epoch: 1,
        advertise: "127.0.0.1:9".into(),
        heads: Vec::new(),
        settings: Vec::new(),
    };
    let own = Message::Hello(hello).encode();
    link.send(&own).unwrap();
    let peer_hello = link.receive();
    let exchanged = Exchanged { channel: &channel, dialer_hello: &own[4..], acceptor_hello: &peer_hello };
    link.send(&Message::Auth(handshake::sign(&key, Role::Dialer, exchanged)).encode()).unwrap();
    let Message::Auth(_) = Message::decode(&link.receive()).unwrap() else { panic!("no auth") };
    link
}

/// Whether the node closed `stream` (EOF or reset), reading and discarding what it sends.
pub fn closed_by_node(stream: &mut std::net::TcpStream) -> bool {
    use std::io::Read;
    let mut buffer = [0; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Three nodes, each reached only through its proxy (links and membership datagrams): it
/// advertises the proxy, and the others' seeds are proxies. `sets` go to every node.
pub fn proxied_cluster(sets: &[&str]) -> ([NodeSpec; 3], Vec<super::proxy::Proxy>, Vec<Relay>) {
    let specs = [NodeSpec::new(), NodeSpec::new(), NodeSpec::new()];
    let proxies: Vec<super::proxy::Proxy> =
        specs.iter().map(|spec| super::proxy::Proxy::start(spec.cluster_address())).collect();
    let nodes = (0..3)
        .map(|index| {
            let others: Vec<usize> = (0..3).filter(|other| *other != index).collect();
            let seeds: Vec<String> = others.iter().map(|&other| proxies[other].address()).collect();
            let allowed: Vec<&str> = others.iter().map(|&other| specs[other].public_key.as_str()).collect();
            specs[index].start_with(&seeds, &allowed, "test-cluster", &proxies[index].address(), sets, &[])
        })
        .collect();
    (specs, proxies, nodes)
}
