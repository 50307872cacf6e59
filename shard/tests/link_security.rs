//! Cluster links on a network nobody trusts, with real processes: what the bytes on the wire
//! show, what a party on the path can do to them (flip, cut, inject, replay), and a peer that
//! does not encrypt. A proxy in front of each node records and tampers.

mod common;

use std::collections::BTreeMap;
use std::io::Write;

use common::cluster::*;
use common::metrics::{scrape, scrape_until, total};
use common::proxy::Fault;
use common::{Relay, hex, keys, note};
use parrhesia_engine::Event;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Publishes a note on `nodes[0]` and waits for it on the others; returns it.
fn replicate_one(nodes: &[Relay], author: &parrhesia_engine::Keys, content: &str) -> Event {
    let event = note(author, content);
    assert!(nodes[0].connect().publish(&event).0);
    let filter = format!(r#"{{"ids":["{}"]}}"#, hex(event.id()));
    for node in &nodes[1..] {
        wait_for_events(node, &filter, 1);
    }
    event
}

#[test]
fn link_bytes_show_nothing_they_carry_unless_encryption_is_off() {
    for encryption in ["required", "off"] {
        let set = format!("cluster.link_encryption={encryption}");
        let (_specs, proxies, nodes) = proxied_cluster(&[&set]);
        for node in &nodes {
            wait_for_log(node, "link up", 2);
        }
        let author = keys(60);
        let content = format!("a gift wrap's secret, sent with link_encryption={encryption}");
        let event = replicate_one(&nodes, &author, &content);
        let wire: Vec<u8> = proxies.iter().flat_map(|proxy| proxy.recorded()).collect();
        let shown = [
            ("content", contains(&wire, content.as_bytes())),
            ("id", contains(&wire, event.id())),
            ("signature", contains(&wire, event.sig())),
            ("author", contains(&wire, author.public_key())),
        ];
        for (what, seen) in shown {
            // With encryption off the same bytes carry the event in the clear: the search finds
            // what it looks for when it is there.
            assert_eq!(seen, encryption == "off", "{what} on the wire with link_encryption={encryption}");
        }
        if encryption == "off" {
            assert!(nodes[0].log_text().contains("cluster.link_encryption is off"), "said loudly at start");
        }
    }
}

/// Every note `nodes` hold by `author`, by id, with its content.
fn stored(node: &Relay, author: &parrhesia_engine::Keys) -> BTreeMap<[u8; 32], String> {
    let filter = format!(r#"{{"authors":["{}"],"limit":1000}}"#, hex(author.public_key()));
    node.connect().req("stored", &[&filter]).iter().map(|event| (*event.id(), event.content().to_string())).collect()
}

#[test]
fn tampering_on_the_path_closes_links_and_stores_nothing_damaged() {
    let (specs, proxies, nodes) = proxied_cluster(&["cluster.replication_linger_ms=0"]);
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    let author = keys(61);
    let mut published: BTreeMap<[u8; 32], String> = BTreeMap::new();
    let tampered = |nodes: &[Relay]| -> f64 {
        nodes
            .iter()
            .map(|node| total(&scrape(node), "parrhesia_cluster_link_failures_total", &[("reason", "tampered")]))
            .sum()
    };
    let links_opened = |nodes: &[Relay]| -> f64 {
        nodes.iter().map(|node| total(&scrape(node), "parrhesia_cluster_links_opened_total", &[])).sum()
    };
    for fault in [Fault::Flip, Fault::Inject, Fault::Truncate] {
        let (tampered_before, opened_before) = (tampered(&nodes), links_opened(&nodes));
        for proxy in &proxies {
            proxy.set(fault);
        }
        // Publish until the fault has hit links (each link is hit once per direction, past its
        // handshake, while the fault is set).
        let mut number = 0;
        let deadline = std::time::Instant::now() + common::WAIT;
        loop {
            let event = note(&author, &format!("{fault:?} {number} {}", "x".repeat(2000)));
            assert!(nodes[number % 3].connect().publish(&event).0);
            published.insert(*event.id(), event.content().to_string());
            number += 1;
            let hit = match fault {
                Fault::Truncate => links_opened(&nodes) >= opened_before + 2.0,
                _ => tampered(&nodes) >= tampered_before + 1.0,
            };
            if hit && number >= 20 {
                break;
            }
            // (Bounded so the three rounds stay within one REQ's answer: `stored` reads them all.)
            assert!(std::time::Instant::now() < deadline && number < 150, "{fault:?} never hit a link");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        eprintln!(
            "{fault:?}: {number} published, tampered {} -> {}, links opened {} -> {}",
            tampered_before,
            tampered(&nodes),
            opened_before,
            links_opened(&nodes)
        );
        // Nothing a node holds is damaged, whatever it holds yet.
        for node in &nodes {
            for (id, content) in stored(node, &author) {
                assert_eq!(published.get(&id), Some(&content), "{fault:?}: a stored event that was not published");
            }
        }
        for proxy in &proxies {
            proxy.set(Fault::Pass);
        }
        // Replication resumes from the cursors: every node gets everything, intact.
        let filter = format!(r#"{{"authors":["{}"],"limit":1000}}"#, hex(author.public_key()));
        for node in &nodes {
            wait_for_events(node, &filter, published.len());
            assert_eq!(stored(node, &author), published, "{fault:?}: converged on exactly what was published");
        }
    }
    assert!(tampered(&nodes) >= 2.0);
    for node in &nodes {
        let log = node.log_text();
        assert!(!log.contains("refusing an event from a peer"), "no damaged event reached a check:\n{log}");
    }

    // A whole earlier connection replayed to a node: its first record was sealed for another
    // channel.
    let before = total(&scrape(&nodes[0]), "parrhesia_cluster_link_failures_total", &[("reason", "tampered")]);
    let dialed = proxies[0].dialed().into_iter().max_by_key(Vec::len).expect("a connection went through");
    let mut replay = std::net::TcpStream::connect(specs[0].cluster_address()).unwrap();
    replay.set_read_timeout(Some(common::WAIT)).unwrap();
    let _ = replay.write_all(&dialed);
    assert!(closed_by_node(&mut replay), "the node closes a replayed connection");
    scrape_until(&nodes[0], "the replay counted as tampering", |scrape| {
        total(scrape, "parrhesia_cluster_link_failures_total", &[("reason", "tampered")]) > before
    });
}

#[test]
fn a_plaintext_peer_and_an_encrypting_node_never_link() {
    let mesh = Mesh::new(2);
    let encrypting = mesh.start(0);
    let plaintext = mesh.start_with(1, &["cluster.link_encryption=off"]);
    wait_for_log(&encrypting, "sends plaintext", 1);
    wait_for_log(&plaintext, "requires encryption", 1);
    scrape_until(&encrypting, "the refusal counted", |scrape| {
        total(scrape, "parrhesia_cluster_link_failures_total", &[("reason", "plaintext_peer")]) >= 1.0
    });
    scrape_until(&plaintext, "the refusal counted", |scrape| {
        total(scrape, "parrhesia_cluster_link_failures_total", &[("reason", "encryption_mismatch")]) >= 1.0
    });
    for node in [&encrypting, &plaintext] {
        assert!(!node.log_text().contains("link up"), "{}", node.log_text());
    }
    // Both keep serving their clients.
    let author = keys(62);
    assert!(encrypting.connect().publish(&note(&author, "alone")).0);
    assert!(plaintext.connect().publish(&note(&author, "alone too")).0);
}

#[test]
fn a_replayed_membership_datagram_is_dropped_and_counted() {
    let (specs, proxies, nodes) = proxied_cluster(&[]);
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    let deadline = std::time::Instant::now() + common::WAIT;
    while proxies[0].datagrams().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no membership datagram reached node 0");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A datagram node 0 took already, sent again as is (authentic, in its time window).
    let datagram = proxies[0].datagrams().remove(0);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.send_to(&datagram, specs[0].cluster_address()).unwrap();
    scrape_until(&nodes[0], "the replay counted", |scrape| {
        total(scrape, "parrhesia_cluster_membership_datagrams_refused_total", &[("reason", "replayed")]) >= 1.0
    });
}

/// Sends SIGHUP to a relay (it reloads its configuration's peers).
fn hang_up(relay: &Relay) {
    let status = std::process::Command::new("kill").arg("-HUP").arg(relay.pid().to_string()).status().unwrap();
    assert!(status.success());
}

#[test]
fn peers_removed_and_added_by_a_reload_lose_and_regain_their_links() {
    let mesh = Mesh::new(3);
    let file = mesh.specs[0].dir.path().join("parrhesia.toml");
    let write = |peers: &[usize]| {
        let seeds: Vec<String> = peers.iter().map(|&peer| mesh.specs[peer].cluster_address()).collect();
        let allowed: Vec<&str> = peers.iter().map(|&peer| mesh.specs[peer].public_key.as_str()).collect();
        mesh.specs[0].write_config(&file, &mesh.specs[0].key_file(), &seeds, &allowed, "");
    };
    write(&[1, 2]);
    let a = mesh.specs[0].start_from_file(&file);
    let (b, c) = (mesh.start(1), mesh.start(2));
    wait_for_log(&a, "link up", 2);
    let links_open = |scrape: &prometheus_parse::Scrape| total(scrape, "parrhesia_cluster_links_open", &[]);
    scrape_until(&a, "both links open", |scrape| links_open(scrape) == 2.0);

    // C is no longer allowed: A closes its link at once and refuses it from then on.
    write(&[1]);
    let hung_up = std::time::Instant::now();
    hang_up(&a);
    scrape_until(&a, "only B's link left", |scrape| links_open(scrape) == 1.0);
    eprintln!("the removed peer's link closed {:?} after SIGHUP", hung_up.elapsed());
    wait_for_log(&a, "cluster configuration reloaded", 1);
    let not_allowed = |scrape: &prometheus_parse::Scrape| {
        total(scrape, "parrhesia_cluster_link_failures_total", &[("reason", "not_allowed")])
    };
    let refused_before = not_allowed(&scrape(&a));
    scrape_until(&a, "C's next dial refused", |scrape| not_allowed(scrape) > refused_before);
    assert_eq!(links_open(&scrape(&a)), 1.0);
    // C goes on: B takes its events.
    let author = keys(63);
    let from_c = note(&author, "published on C while A does not allow it");
    assert!(c.connect().publish(&from_c).0);
    let filter = format!(r#"{{"ids":["{}"]}}"#, hex(from_c.id()));
    wait_for_events(&b, &filter, 1);

    // A file that does not parse: nothing changes, and the failure is counted.
    std::fs::write(&file, "[cluster\n").unwrap();
    hang_up(&a);
    scrape_until(&a, "the failed reload counted", |scrape| {
        total(scrape, "parrhesia_cluster_reloads_failed_total", &[]) == 1.0
    });
    assert_eq!(links_open(&scrape(&a)), 1.0);

    // C allowed again: A dials it, links, and pulls what C took meanwhile.
    write(&[1, 2]);
    hang_up(&a);
    scrape_until(&a, "both links open again", |scrape| links_open(scrape) == 2.0);
    assert_eq!(wait_for_events(&a, &filter, 1)[0].id(), from_c.id());
    assert_eq!(total(&scrape(&a), "parrhesia_cluster_reloads_total", &[]), 2.0);
}

#[test]
fn a_node_key_rotated_under_write_load_loses_nothing() {
    let mesh = Mesh::new(3);
    let files: Vec<std::path::PathBuf> = mesh.specs.iter().map(|spec| spec.dir.path().join("parrhesia.toml")).collect();
    let rotated_key_file = mesh.specs[2].dir.path().join("rotated.key");
    let rotated = keygen(&rotated_key_file);
    let write = |node: usize, key_file: &std::path::Path, allowed: &[&str]| {
        let seeds: Vec<String> =
            (0..3).filter(|other| *other != node).map(|other| mesh.specs[other].cluster_address()).collect();
        mesh.specs[node].write_config(&files[node], key_file, &seeds, allowed, "origin_timeout_seconds = 2\n");
    };
    let key = |node: usize| mesh.specs[node].public_key.as_str();
    write(0, &mesh.specs[0].key_file(), &[key(1), key(2)]);
    write(1, &mesh.specs[1].key_file(), &[key(0), key(2)]);
    write(2, &mesh.specs[2].key_file(), &[key(0), key(1)]);
    let nodes: Vec<Relay> = mesh.specs.iter().zip(&files).map(|(spec, file)| spec.start_from_file(file)).collect();
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    // Writers on A and B all along, and on C before and after its rotation.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let author = keys(64);
    let writers: Vec<_> = [nodes[0].url(), nodes[1].url()]
        .into_iter()
        .enumerate()
        .map(|(index, url)| {
            let (stop, author) = (stop.clone(), author.clone());
            std::thread::spawn(move || {
                let mut client = common::Client::connect(&url);
                let mut published = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let event = note(&author, &format!("writer {index} {}", published.len()));
                    assert!(client.publish(&event).0);
                    published.push(*event.id());
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                published
            })
        })
        .collect();
    let mut published: Vec<[u8; 32]> = Vec::new();
    let mut publish_on = |node: &Relay, label: &str| {
        for number in 0..20 {
            let event = note(&author, &format!("{label} {number}"));
            assert!(node.connect().publish(&event).0);
            published.push(*event.id());
        }
    };
    publish_on(&nodes[2], "on C under its first key");

    // The recipe: every other node allows the new key too, and reloads.
    write(0, &mesh.specs[0].key_file(), &[key(1), key(2), &rotated]);
    write(1, &mesh.specs[1].key_file(), &[key(0), key(2), &rotated]);
    for node in &nodes[..2] {
        hang_up(node);
        scrape_until(node, "the new key allowed", |scrape| {
            total(scrape, "parrhesia_cluster_reloads_total", &[]) == 1.0
        });
    }
    // The node stops, its store is given to the new key, and it starts with it.
    let mut nodes = nodes;
    let mut c = nodes.pop().unwrap();
    c.stop();
    let output = std::process::Command::new(common::tools_binary())
        .args(["rekey", "--data-dir"])
        .arg(mesh.specs[2].dir.path().join("data"))
        .arg("--node-key-file")
        .arg(&rotated_key_file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains(&rotated));
    write(2, &rotated_key_file, &[key(0), key(1)]);
    let c = c.restart();
    wait_for_log(&c, "link up", 2);
    assert!(c.log_text().contains(&format!("node={rotated}")), "{}", c.log_text());
    publish_on(&c, "on C under its new key");
    // The old key removed everywhere.
    write(0, &mesh.specs[0].key_file(), &[key(1), &rotated]);
    write(1, &mesh.specs[1].key_file(), &[key(0), &rotated]);
    for node in &nodes {
        hang_up(node);
        scrape_until(node, "the old key removed", |scrape| {
            total(scrape, "parrhesia_cluster_reloads_total", &[]) == 2.0
        });
    }
    publish_on(&c, "on C after the old key went");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        published.extend(writer.join().unwrap());
    }
    let all: std::collections::BTreeSet<[u8; 32]> = published.iter().copied().collect();
    eprintln!("{} events published across the rotation", all.len());
    for node in nodes.iter().chain([&c]) {
        wait_for_ids(node, &all);
    }
}
