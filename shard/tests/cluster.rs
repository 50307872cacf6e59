//! Cluster tests with real processes: three (or more) `parrhesia` nodes on loopback, each with
//! its own data directory and a key made by `parrhesia-tools keygen`, linked over TCP.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::*;
use common::metrics::{scrape, scrape_until, total};
use common::{Client, Relay, WAIT, hex, keys, note, tools_binary};
use parrhesia_engine::Event;

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
    // Replicated events are indexed for NIP-50 search like local ones.
    let searched = wait_for_events(&nodes[2], r#"{"search":"from "}"#, 1);
    assert_eq!(searched[0].id(), event.id(), "a search on C finds it");
    // Membership (SWIM over UDP) converges on its own time, after the links; a link's round trip
    // is measured by its first answered ping (one a second).
    let on_c_metrics = scrape_until(&nodes[2], "C counts what it replicated, both members and both RTTs", |scrape| {
        let rtts = scrape.samples.iter().filter(|sample| sample.metric == "parrhesia_cluster_peer_rtt_seconds").count();
        total(scrape, "parrhesia_writer_events_stored_total", &[("source", "replication")]) == 1.0
            && total(scrape, "parrhesia_cluster_members_up", &[]) == 2.0
            && total(scrape, "parrhesia_cluster_members", &[("state", "alive")]) == 2.0
            && rtts == 2
            && total(scrape, "parrhesia_cluster_links_owned", &[]) == 2.0
    });
    assert_eq!(total(&on_c_metrics, "parrhesia_cluster_links_open", &[]), 2.0);
    // The shards own the links' sockets and receive their frames (not the cluster executor).
    assert!(total(&on_c_metrics, "parrhesia_cluster_link_frames_received_total", &[]) >= 2.0);
    assert!(total(&on_c_metrics, "parrhesia_cluster_peer_rtt_seconds", &[]) > 0.0);
    // At least one link each (two nodes dialling each other at start may make a second).
    assert!(total(&on_c_metrics, "parrhesia_cluster_peer_links_up_total", &[]) >= 2.0);
    // Caught up with A: nothing behind, and A's log held up to its event.
    let a_key = mesh.specs[0].public_key.as_str();
    let origin = [("origin", a_key)];
    assert_eq!(total(&on_c_metrics, "parrhesia_cluster_replication_backlog_positions", &origin), 0.0);
    assert_eq!(total(&on_c_metrics, "parrhesia_cluster_replication_lag_seconds", &origin), 0.0);
    assert!(total(&on_c_metrics, "parrhesia_cluster_origin_held_positions", &origin) >= 1.0);
    assert_eq!(total(&on_c_metrics, "parrhesia_cluster_applied_events_total", &origin), 1.0);
    let bytes = total(&on_c_metrics, "parrhesia_cluster_applied_bytes_total", &origin);
    assert_eq!(bytes, event.json().len() as f64);
    assert!(total(&on_c_metrics, "parrhesia_cluster_replication_events_received_total", &[]) >= 1.0);
    assert!(total(&on_c_metrics, "parrhesia_cluster_link_received_bytes_total", &[]) > 0.0);
    // Exactly once: nothing more arrives for the subscription.
    assert!(on_b.quiet_for(Duration::from_millis(300)) && on_c.quiet_for(Duration::from_millis(300)));

    // An ephemeral event reaches live subscribers on the other nodes and is stored nowhere.
    let ephemeral = author.sign(common::now(), 20001, vec![], "typing".into());
    assert_eq!(nodes[0].connect().publish(&ephemeral), (true, String::new()));
    assert_eq!(on_b.next_event("live").id(), ephemeral.id(), "ephemeral on B");
    assert_eq!(on_c.next_event("live").id(), ephemeral.id(), "ephemeral on C");
    assert!(on_b.quiet_for(Duration::from_millis(300)), "once");
    let kinds = format!(r#"{{"authors":["{}"],"kinds":[20001]}}"#, hex(author.public_key()));
    assert!(nodes[1].connect().req("stored", &[&kinds]).is_empty(), "never stored");
}

#[test]
fn a_node_killed_during_a_publish_stream_converges_after_restart() {
    let mesh = Mesh::new(3);
    let (a, b, c) = (mesh.start(0), mesh.start(1), mesh.start(2));
    for node in [&a, &b, &c] {
        wait_for_log(node, "link up", 2);
    }
    let author = keys(42);
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let (a_url, c_url) = (a.url(), c.url());
    let stream_author = author.clone();
    let stream = std::thread::spawn(move || {
        let mut clients = [Client::connect(&a_url), Client::connect(&c_url)];
        publish_stream(&mut clients, &stream_author, 450, "stream")
    });
    // Kill B once part of the stream has reached it.
    wait_for_events(&b, &filter, 50);
    let mut b = b;
    b.kill();
    let published = stream.join().expect("publisher");
    let b = b.restart();
    let on_b = wait_for_events(&b, &filter, published.len());
    assert_eq!(ids(&on_b), ids(&published), "B holds exactly what A and C accepted");
    assert_eq!(ids(&wait_for_events(&a, &filter, published.len())), ids(&published));

    // A subscriber on the restarted B gets what is published after it subscribed, once.
    let since = format!(r#"{{"authors":["{}"],"kinds":[7]}}"#, hex(author.public_key()));
    let mut subscriber = subscribe(&b, "after", &since);
    let reaction = author.sign(common::now(), 7, vec![], "+".into());
    assert!(c.connect().publish(&reaction).0);
    assert_eq!(subscriber.next_event("after").id(), reaction.id());
    assert!(subscriber.quiet_for(Duration::from_millis(300)), "delivered once");
}

#[test]
fn strangers_and_other_clusters_never_join() {
    let mut mesh = Mesh::new(2);
    // A node A allows but of another cluster (its key is refused before any other check; its
    // cluster only inside the channel, in its hello).
    mesh.specs.push(NodeSpec::new());
    let (a, b) = (mesh.start(0), mesh.start(1));
    wait_for_log(&a, "link up", 1);
    // A node A does not allow (it allows A).
    let stranger = NodeSpec::new();
    let stranger_node =
        stranger.start(&[mesh.specs[0].cluster_address()], &[&mesh.specs[0].public_key], "test-cluster");
    let foreign_node =
        mesh.specs[2].start(&[mesh.specs[0].cluster_address()], &[&mesh.specs[0].public_key], "other-cluster");
    let refusals = ["is not in allowed_peers", "peer belongs to cluster \"other-cluster\""];
    for refusal in refusals {
        wait_for_log(&a, refusal, 1);
    }
    let refused_before: Vec<usize> = refusals.iter().map(|refusal| a.log_text().matches(refusal).count()).collect();
    let author = keys(43);
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let event = note(&author, "members only");
    assert!(a.connect().publish(&event).0);
    wait_for_events(&b, &filter, 1);
    // Each outsider dials A again, after the event was stored, and is refused again: still
    // unlinked then. A pull needs a link, and a link would say "link up" in its log.
    for (refusal, before) in refusals.into_iter().zip(refused_before) {
        wait_for_log(&a, refusal, before + 1);
    }
    for outsider in [&stranger_node, &foreign_node] {
        assert!(outsider.connect().req("outside", &[&filter]).is_empty(), "{}", outsider.log_text());
        assert!(!outsider.log_text().contains("link up"), "{}", outsider.log_text());
    }
    let refused = scrape(&a);
    assert!(total(&refused, "parrhesia_cluster_link_failures_total", &[("reason", "not_allowed")]) >= 1.0);
    assert!(total(&refused, "parrhesia_cluster_link_failures_total", &[("reason", "other_cluster")]) >= 1.0);
    assert_eq!(total(&refused, "parrhesia_cluster_links_open", &[]), 1.0);
}

#[test]
fn garbage_from_an_authenticated_peer_closes_that_link_only() {
    use std::io::Write;
    let mut mesh = Mesh::new(2);
    // A third, test-played peer that A allows.
    let intruder = NodeSpec::new();
    mesh.specs.push(intruder);
    let (a, b) = (mesh.start(0), mesh.start(1));
    wait_for_log(&a, "link up", 1);
    let key_file = mesh.specs[2].dir.path().join("node.key");
    let address = mesh.specs[0].cluster_address();
    let bodies: [&[u8]; 4] = [
        &[0, 0, 0, 3, 7, 0xff, 0xff],       // a batch that is not an archive
        &[0, 0, 0, 1, 200],                 // an unknown frame type
        &[0xff, 0xff, 0xff, 0xff],          // a length over the limit
        &[0, 0, 0, 2, 3, 0, 0, 0, 9, 9, 9], // a ping that claims more than it is (truncated next)
    ];
    // Garbage inside the channel: frames the peer sealed itself.
    for (round, garbage) in bodies.iter().enumerate() {
        let mut link = handshake_as(&key_file, &address, "test-cluster");
        wait_for_log(&a, "link up", 2 + round);
        // The node may close as soon as it has read enough to refuse: later writes may fail.
        let _ = link.send(garbage);
        if round == 3 {
            let _ = link.send(&[0, 0, 0, 100, 6]); // then a frame cut short
            let _ = link.stream.shutdown(std::net::Shutdown::Write);
        }
        assert!(closed_by_node(&mut link.stream), "round {round}");
    }
    // Bytes on the wire that the channel did not seal: a record that fails its tag, and one
    // too short to hold one.
    let raw: [&[u8]; 2] =
        [&[0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], &[0, 3, 1, 2, 3]];
    for (round, bytes) in raw.iter().enumerate() {
        let mut link = handshake_as(&key_file, &address, "test-cluster");
        wait_for_log(&a, "link up", 6 + round);
        let _ = link.stream.write_all(bytes);
        assert!(closed_by_node(&mut link.stream), "raw round {round}");
    }
    scrape_until(&a, "two tampered links counted", |scrape| {
        total(scrape, "parrhesia_cluster_link_failures_total", &[("reason", "tampered")]) >= 2.0
    });
    // A well-formed frame carrying an event whose content does not match its id: the link
    // closes: its frame is dropped whole, never passed on with the bad event left out.
    let forged = note(&keys(45), "as signed");
    let middle = parrhesia_storage::record::json_middle(forged.json()).to_vec();
    let text = String::from_utf8(middle).unwrap().replace("as signed", "as altered");
    let wire = parrhesia_net::cluster::frame::WireEvent {
        origin_seq: 0,
        id: *forged.id(),
        pubkey: *forged.pubkey(),
        sig: *forged.sig(),
        middle: text.into_bytes(),
    };
    let mut link = handshake_as(&key_file, &address, "test-cluster");
    wait_for_log(&a, "link up", 8);
    let _ = link.send(&parrhesia_net::cluster::frame::Message::Ephemeral(wire).encode());
    assert!(closed_by_node(&mut link.stream), "an invalid event closes its link");
    scrape_until(&a, "the invalid event counted", |scrape| {
        total(scrape, "parrhesia_cluster_link_failures_total", &[("reason", "invalid_event")]) >= 1.0
    });
    // A still serves its clients and its other link.
    let author = keys(44);
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let event = note(&author, "still here");
    assert!(a.connect().publish(&event).0);
    assert_eq!(wait_for_events(&b, &filter, 1)[0].id(), event.id());
    let log = a.log_text();
    assert!(log.contains("bad frame") || log.contains("malformed"), "{log}");
}

#[test]
fn partitions_through_a_faulty_network_heal_and_converge() {
    use common::proxy::Fault;
    let (specs, proxies, nodes) = proxied_cluster(&[]);
    let key = |index: usize| -> [u8; 32] { parrhesia_engine::hex::decode_array(&specs[index].public_key).unwrap() };
    for node in &nodes {
        wait_for_log(node, "link up", 2);
        wait_for_log(node, "member up", 2);
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    let author = keys(45);
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let mut published = Vec::new();

    // B alone is cut off, links and datagrams, both ways.
    proxies[1].set(Fault::Cut);
    proxies[0].block(key(1));
    proxies[2].block(key(1));
    wait_for_log(a, "member down", 1);
    wait_for_log(b, "member down", 2);
    let mut by_node = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        by_node.push(publish_stream(&mut [node.connect()], &author, 10, &format!("cut {index}")));
    }
    // A and C replicate what the two of them accepted: time enough for it to reach B too, had
    // the cut let anything through.
    let reachable: Vec<Event> = by_node[0].iter().chain(&by_node[2]).cloned().collect();
    for node in [&nodes[0], &nodes[2]] {
        assert_eq!(ids(&wait_for_events(node, &filter, reachable.len())), ids(&reachable), "A and C, linked");
    }
    let on_b = b.connect().req("partitioned", &[&filter]);
    assert_eq!(ids(&on_b), ids(&by_node[1]), "B holds only its own events while cut off");
    published.extend(by_node.into_iter().flatten());
    proxies[1].set(Fault::Pass);
    proxies[0].unblock_all();
    proxies[2].unblock_all();
    for node in &nodes {
        assert_eq!(ids(&wait_for_events(node, &filter, published.len())), ids(&published), "after the cut");
    }

    // Everything goes silent (sockets stay open), long enough for links to be declared dead.
    for fault in [Fault::Blackhole, Fault::Delay(30)] {
        for proxy in &proxies {
            proxy.set(fault);
        }
        for (index, node) in nodes.iter().enumerate() {
            published.extend(publish_stream(&mut [node.connect()], &author, 10, &format!("{fault:?} {index}")));
        }
        if fault == Fault::Blackhole {
            // Until every link is declared dead (silent for 5 s): healing must then link anew.
            for node in &nodes {
                scrape_until(node, "every link declared dead in the blackhole", |scrape| {
                    total(scrape, "parrhesia_cluster_links_open", &[]) == 0.0
                });
            }
        }
        for proxy in &proxies {
            proxy.set(Fault::Pass);
        }
        for node in &nodes {
            let held = wait_for_events(node, &filter, published.len());
            assert_eq!(ids(&held), ids(&published), "after {fault:?} on {}", node.url());
        }
    }
    assert!(b.log_text().contains("link down"), "the faults cut B's links:\n{}", b.log_text());
}

#[test]
fn members_found_through_one_seed_link_to_each_other() {
    // B and C know only A; the membership introduces them and they link directly.
    let specs = [NodeSpec::new(), NodeSpec::new(), NodeSpec::new()];
    let all: Vec<&str> = specs.iter().map(|spec| spec.public_key.as_str()).collect();
    let others = |index: usize| -> Vec<&str> {
        all.iter().enumerate().filter(|(other, _)| *other != index).map(|(_, key)| *key).collect()
    };
    let a = specs[0].start(&[], &others(0), "test-cluster");
    let b = specs[1].start(&[specs[0].cluster_address()], &others(1), "test-cluster");
    let c = specs[2].start(&[specs[0].cluster_address()], &others(2), "test-cluster");
    for node in [&a, &b, &c] {
        wait_for_log(node, "member up", 2);
        wait_for_log(node, "link up", 2);
    }
    assert!(
        c.log_text().contains(&format!("peer={} ", specs[1].public_key)) || c.log_text().contains(&specs[1].public_key)
    );
    let author = keys(46);
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let mut on_c = subscribe(&c, "live", &filter);
    let event = note(&author, "from B");
    assert!(b.connect().publish(&event).0);
    assert_eq!(on_c.next_event("live").id(), event.id(), "B's log reaches C over their own link");
}

#[test]
fn a_wiped_node_gets_everything_back_and_an_unreachable_origin_is_served_by_others() {
    use common::proxy::Proxy;
    let specs = [NodeSpec::new(), NodeSpec::new(), NodeSpec::new()];
    let proxies: Vec<Proxy> = specs.iter().map(|spec| Proxy::start(spec.cluster_address())).collect();
    let key = |index: usize| -> [u8; 32] { parrhesia_engine::hex::decode_array(&specs[index].public_key).unwrap() };
    let start = |index: usize| {
        let others: Vec<usize> = (0..3).filter(|other| *other != index).collect();
        let seeds: Vec<String> = others.iter().map(|&other| proxies[other].address()).collect();
        let allowed: Vec<&str> = others.iter().map(|&other| specs[other].public_key.as_str()).collect();
        let mut args = vec!["--set".to_string(), "cluster.origin_timeout_seconds=1".to_string()];
        args.extend(["--set".to_string(), format!("cluster.advertise={}", proxies[index].address())]);
        let spec = &specs[index];
        let mut relay_args: Vec<String> = Vec::new();
        for arg in [
            format!("cluster.node_key_file={}", spec.dir.path().join("node.key").display()),
            format!("cluster.listen={}", spec.cluster_address()),
            format!("cluster.seeds={}", seeds.join(",")),
            format!("cluster.allowed_peers={}", allowed.join(",")),
            "cluster.cluster_id=test-cluster".to_string(),
        ] {
            relay_args.extend(["--set".to_string(), arg]);
        }
        relay_args.extend(args);
        let relay_args: Vec<&str> = relay_args.iter().map(String::as_str).collect();
        Relay::start_in(&spec.dir.path().join("data"), &relay_args)
    };
    let (a, b, c) = (start(0), start(1), start(2));
    for node in [&a, &b, &c] {
        wait_for_log(node, "link up", 2);
    }
    let author = keys(47);
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let mut published = Vec::new();
    for (index, node) in [&a, &b, &c].into_iter().enumerate() {
        published.extend(publish_stream(&mut [node.connect()], &author, 20, &format!("before {index}")));
    }
    for node in [&a, &b, &c] {
        wait_for_events(node, &filter, published.len());
    }

    // C's store is wiped: it comes back with a new store and pulls every log back, its own
    // old one included, from the nodes that hold it.
    let mut c = c;
    c.stop();
    std::fs::remove_dir_all(specs[2].dir.path().join("data")).unwrap();
    let c = c.restart();
    assert_eq!(ids(&wait_for_events(&c, &filter, published.len())), ids(&published), "the wiped node converges");

    // A and C cannot reach each other; A's new events reach C through B once A has been
    // unreachable for the origin timeout (1 s here).
    proxies[0].block(key(2));
    proxies[2].block(key(0));
    wait_for_log(&c, "link down", 1);
    published.extend(publish_stream(&mut [a.connect()], &author, 20, "while A and C are apart"));
    assert_eq!(ids(&wait_for_events(&c, &filter, published.len())), ids(&published), "served by B");
    assert_eq!(ids(&wait_for_events(&b, &filter, published.len())), ids(&published));
    let mut c = c;
    c.stop();
    let log = c.log_text();
    let fallback_pulls: u64 = log
        .split("fallback pulls ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .expect("the cluster's shutdown line");
    assert!(fallback_pulls > 0, "C pulled logs from nodes other than their origin:\n{log}");
}

/// A per-peer figure from a scrape (counters carry `_total`).
fn of_peer(scrape: &prometheus_parse::Scrape, metric: &str, peer: &str) -> f64 {
    total(scrape, metric, &[("peer", peer)])
}

/// Own events a node sent to `peer` at once because its current summary matched them (not
/// because its summary was missing or stale).
fn matched(scrape: &prometheus_parse::Scrape, peer: &str) -> f64 {
    of_peer(scrape, "parrhesia_cluster_live_pushed_events_total", peer)
        - of_peer(scrape, "parrhesia_cluster_summary_fallbacks_total", peer)
}

/// Publishes notes by `author` on `client` until `done` holds on `node`'s scrape (the summary
/// change that makes it hold travels in the background); returns the notes.
fn publish_until(
    client: &mut Client,
    node: &Relay,
    author: &parrhesia_engine::Keys,
    what: &str,
    done: impl Fn(&prometheus_parse::Scrape) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + WAIT;
    let mut published = Vec::new();
    loop {
        let event = note(author, &format!("{what} {}", published.len()));
        assert_eq!(client.publish(&event), (true, String::new()));
        published.push(event);
        std::thread::sleep(Duration::from_millis(100));
        if done(&scrape(node)) {
            return published;
        }
        assert!(Instant::now() < deadline, "{what}: never held");
    }
}

#[test]
fn interest_summaries_send_live_events_only_to_nodes_that_want_them() {
    let mesh = Mesh::new(3);
    let nodes: Vec<Relay> = (0..3).map(|index| mesh.start(index)).collect();
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    let (b, c) = (mesh.specs[1].public_key.as_str(), mesh.specs[2].public_key.as_str());
    let (followed, unfollowed) = (keys(51), keys(52));
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(followed.public_key()));
    let mut on_b = subscribe(&nodes[1], "follow", &filter);
    let mut on_a = nodes[0].connect();
    // Once B's summary with the subscription has reached A, A pushes B's events at once.
    let warmup = publish_until(&mut on_a, &nodes[0], &followed, "warm-up", |scrape| matched(scrape, b) >= 1.0);
    for _ in &warmup {
        on_b.next_event("follow");
    }
    let before = scrape(&nodes[0]);
    let count = 20;
    let wanted: Vec<Event> = (0..count).map(|n| note(&followed, &format!("wanted {n}"))).collect();
    let unwanted: Vec<Event> = (0..count).map(|n| note(&unfollowed, &format!("unwanted {n}"))).collect();
    for (one, other) in wanted.iter().zip(&unwanted) {
        assert_eq!(on_a.publish(one), (true, String::new()));
        assert_eq!(on_a.publish(other), (true, String::new()));
    }
    for event in &wanted {
        assert_eq!(on_b.next_event("follow").id(), event.id(), "live on B, in order");
    }
    let decided = |scrape: &prometheus_parse::Scrape, peer: &str| {
        ["parrhesia_cluster_live_pushed_events_total", "parrhesia_cluster_live_avoided_events_total"]
            .iter()
            .map(|metric| of_peer(scrape, metric, peer) - of_peer(&before, metric, peer))
            .sum::<f64>()
    };
    let after = scrape_until(&nodes[0], "A decided every event for B and C", |scrape| {
        decided(scrape, b) >= 2.0 * count as f64 && decided(scrape, c) >= 2.0 * count as f64
    });
    assert_eq!(matched(&after, b) - matched(&before, b), count as f64, "exactly B's events go to B at once");
    assert_eq!(matched(&after, c) - matched(&before, c), 0.0, "nothing goes to C at once");
    // Everything still reaches every node, through the lingering pull.
    let unfollowed_filter = format!(r#"{{"authors":["{}"]}}"#, hex(unfollowed.public_key()));
    wait_for_events(&nodes[2], &unfollowed_filter, count);
    wait_for_events(&nodes[2], &filter, count + warmup.len());
    wait_for_events(&nodes[1], &unfollowed_filter, count);
    let on_b_metrics = scrape_until(&nodes[1], "B measured the delivery lag", |scrape| {
        total(scrape, "parrhesia_cluster_delivery_lag_seconds", &[]) >= 1.0
    });
    assert!(total(&on_b_metrics, "parrhesia_cluster_summary_keys", &[("class", "authors")]) >= 1.0);
    assert!(of_peer(&after, "parrhesia_cluster_summary_sent_bytes_total", b) > 0.0);
    assert!(of_peer(&after, "parrhesia_cluster_summary_age_seconds", c) < 2.0);

    // The subscription closed, A stops pushing to B (the removal rides the next delta).
    on_b.send_text(r#"["CLOSE","follow"]"#);
    let avoided_b = of_peer(&scrape(&nodes[0]), "parrhesia_cluster_live_avoided_events_total", b);
    publish_until(&mut on_a, &nodes[0], &followed, "after close", |scrape| {
        of_peer(scrape, "parrhesia_cluster_live_avoided_events_total", b) > avoided_b
    });
    let before = scrape(&nodes[0]);
    for n in 0..count {
        assert_eq!(on_a.publish(&note(&followed, &format!("closed {n}"))), (true, String::new()));
    }
    let after =
        scrape_until(&nodes[0], "A decided the events after the close", |scrape| decided(scrape, b) >= count as f64);
    assert_eq!(matched(&after, b) - matched(&before, b), 0.0, "no subscription on B: nothing pushed");

    // Ephemeral events go only to nodes with a subscription that may match.
    let kind_filter = r#"{"kinds":[20001]}"#;
    let mut typing_on_b = subscribe(&nodes[1], "typing", kind_filter);
    let ephemeral = |n: usize| followed.sign(common::now(), 20001, vec![], format!("typing {n}"));
    let mut sent = 0;
    let deadline = Instant::now() + WAIT;
    loop {
        assert_eq!(on_a.publish(&ephemeral(sent)), (true, String::new()));
        sent += 1;
        if typing_on_b.recv_within(Duration::from_millis(200)).is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "no ephemeral event reached B");
    }
    assert!(typing_on_b.quiet_for(Duration::from_millis(300)));
    let before = scrape(&nodes[0]);
    for n in 0..count {
        assert_eq!(on_a.publish(&ephemeral(sent + n)), (true, String::new()));
    }
    for n in 0..count {
        let event = typing_on_b.next_event("typing");
        assert_eq!(event.content(), format!("typing {}", sent + n));
    }
    let ephemeral_figures = |scrape: &prometheus_parse::Scrape, peer: &str| {
        ["sent", "avoided"].map(|what| {
            let metric = format!("parrhesia_cluster_ephemeral_{what}_events_total");
            of_peer(scrape, &metric, peer) - of_peer(&before, &metric, peer)
        })
    };
    let after = scrape_until(&nodes[0], "A decided the ephemeral events", |scrape| {
        ephemeral_figures(scrape, c).iter().sum::<f64>() >= count as f64
    });
    assert_eq!(ephemeral_figures(&after, b)[0], count as f64, "to B, which wants them");
    let fallbacks_c = of_peer(&after, "parrhesia_cluster_summary_fallbacks_total", c)
        - of_peer(&before, "parrhesia_cluster_summary_fallbacks_total", c);
    assert!(ephemeral_figures(&after, c)[0] <= fallbacks_c, "to C only if its summary was not current");
}

#[test]
fn a_stalled_peer_loses_live_frames_only_and_converges_through_the_pull() {
    use common::proxy::Fault;
    // A live queue of ten of this test's 100 kB frames: small enough that B's fills, large
    // enough that C's writer (on another thread than the executor that queues for it) keeps up.
    let (specs, proxies, nodes) = proxied_cluster(&["cluster.link_live_queue_bytes_max=1048576"]);
    let key = |index: usize| -> [u8; 32] { parrhesia_engine::hex::decode_array(&specs[index].public_key).unwrap() };
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let author = keys(46);
    let typing = r#"{"kinds":[20001]}"#;
    let (mut typing_on_b, mut typing_on_c) = (subscribe(b, "typing", typing), subscribe(c, "typing", typing));
    let mut on_a = a.connect();
    // Both summaries (with kind 20001) have reached A once an ephemeral event reaches both.
    let deadline = Instant::now() + WAIT;
    let mut warm = 0;
    loop {
        let event = author.sign(common::now(), 20001, vec![], format!("warm-up {warm}"));
        warm += 1;
        assert_eq!(on_a.publish(&event), (true, String::new()));
        let on_b = typing_on_b.recv_within(Duration::from_millis(200)).is_some();
        let on_c = typing_on_c.recv_within(Duration::from_millis(200)).is_some();
        if on_b && on_c {
            break;
        }
        assert!(Instant::now() < deadline, "ephemeral events never reached B and C");
    }
    assert!(typing_on_b.quiet_for(Duration::from_millis(300)) && typing_on_c.quiet_for(Duration::from_millis(300)));

    // B stops reading its links: A's socket buffers fill, then its live queue for B.
    proxies[1].set(Fault::Stall);
    proxies[0].stall(key(1));
    proxies[2].stall(key(1));
    let filler = "x".repeat(100_000);
    let count = 200; // ~20 MB: more than loopback socket buffers hold
    // C reads as they come (a client that falls behind by 20 MB would be cut off itself).
    let reader = std::thread::spawn(move || {
        (0..count).map(|_| typing_on_c.next_event("typing").content().split(' ').next().unwrap().to_string()).collect()
    });
    for n in 0..count {
        let event = author.sign(common::now(), 20001, vec![], format!("{n} {filler}"));
        assert_eq!(on_a.publish(&event), (true, String::new()));
    }
    let stored: Vec<Event> = (0..10).map(|n| note(&author, &format!("stored while B stalls {n}"))).collect();
    for event in &stored {
        assert_eq!(on_a.publish(event), (true, String::new()));
    }
    let b_key = specs[1].public_key.as_str();
    let c_key = specs[2].public_key.as_str();
    let dropped = |scrape: &prometheus_parse::Scrape, peer: &str, class: &str| {
        total(scrape, "parrhesia_cluster_link_dropped_frames_total", &[("peer", peer), ("class", class)])
    };
    let on_a_metrics = scrape_until(a, "A drops live frames for B", |scrape| dropped(scrape, b_key, "live") > 0.0);
    // C is not held up: it gets every one of them, in order.
    let on_c: Vec<String> = reader.join().expect("C's reader");
    assert_eq!(on_c, (0..count).map(|n| n.to_string()).collect::<Vec<_>>());
    assert_eq!(dropped(&on_a_metrics, c_key, "live"), 0.0);
    assert_eq!(dropped(&on_a_metrics, b_key, "replication"), 0.0, "replication is never dropped");

    // Healed, B gets every stored event through the pull.
    proxies[1].set(Fault::Pass);
    proxies[0].unblock_all();
    proxies[2].unblock_all();
    let filter = format!(r#"{{"authors":["{}"],"kinds":[1]}}"#, hex(author.public_key()));
    assert_eq!(ids(&wait_for_events(b, &filter, stored.len())), ids(&stored));
}

#[test]
fn anti_entropy_repairs_events_removed_under_a_cursor() {
    let mesh = Mesh::new(2);
    let sets = ["cluster.anti_entropy_interval_seconds=1"];
    let a = mesh.start_with(0, &sets);
    let mut b = mesh.start_with(1, &sets);
    wait_for_log(&a, "link up", 1);
    let author = keys(47);
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let events = publish_stream(&mut [a.connect()], &author, 20, "anti-entropy");
    wait_for_events(&b, &filter, events.len());
    // Removed by hand while B is stopped: B's cursor still covers them, so the pull never
    // brings them back; anti-entropy does.
    b.stop();
    let removed: Vec<String> = events[..5].iter().map(|event| format!("\"{}\"", hex(event.id()))).collect();
    let delete = Command::new(tools_binary())
        .args(["delete", "--filter", &format!(r#"{{"ids":[{}]}}"#, removed.join(",")), "--data-dir"])
        .arg(&b.data_dir)
        .output()
        .unwrap();
    assert!(delete.status.success(), "{}", String::from_utf8_lossy(&delete.stderr));
    let b = b.restart();
    assert_eq!(ids(&wait_for_events(&b, &filter, events.len())), ids(&events));
    let on_b = scrape_until(&b, "B counts the repair", |scrape| {
        total(scrape, "parrhesia_cluster_anti_entropy_repaired_total", &[]) >= 5.0
    });
    assert!(total(&on_b, "parrhesia_cluster_anti_entropy_missing_total", &[]) >= 5.0);
    assert!(total(&on_b, "parrhesia_cluster_anti_entropy_started_total", &[]) >= 1.0);
    scrape_until(&a, "A served B's sessions", |scrape| {
        total(scrape, "parrhesia_cluster_anti_entropy_served_total", &[]) >= 1.0
            && total(scrape, "parrhesia_cluster_anti_entropy_completed_total", &[]) >= 1.0
    });
}

/// `parrhesia-tools import --data-dir DIR` of `events` (the relay not running).
fn import_into(data_dir: &Path, events: &[&Event]) {
    let file = data_dir.with_extension("jsonl");
    let lines: Vec<&str> = events.iter().map(|event| event.json().as_ref()).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let output =
        Command::new(tools_binary()).arg("import").arg("--data-dir").arg(data_dir).arg(&file).output().unwrap();
    assert!(output.status.success(), "import failed: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn nodes_seeded_from_one_export_pull_positions_instead_of_each_other_whole() {
    // Both stores imported from (nearly) the same export before the cluster ever ran: each
    // holds the other's log without its positions. Each pulls one batch of the other's log,
    // finds it held, and then pulls positions and ids only, fetching just what it lacks.
    let mesh = Mesh::new(2);
    let author = keys(48);
    let events: Vec<Event> = (0..400).map(|number| note(&author, &format!("exported {number}"))).collect();
    let only_b: Vec<Event> = (0..5).map(|number| note(&author, &format!("only on B {number}"))).collect();
    let on_a: Vec<&Event> = events.iter().collect();
    let on_b: Vec<&Event> = events[..200].iter().chain(&events[210..]).chain(&only_b).collect();
    import_into(&mesh.specs[0].dir.path().join("data"), &on_a);
    import_into(&mesh.specs[1].dir.path().join("data"), &on_b);
    let sets = [
        "cluster.pull_events_max=32",
        "cluster.pull_ids_behind=100",
        // The imported logs are the anonymous origin's: pulled from peers after this.
        "cluster.origin_timeout_seconds=1",
    ];
    let nodes: Vec<Relay> = (0..2).map(|index| mesh.start_with(index, &sets)).collect();
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let all: std::collections::BTreeSet<[u8; 32]> = ids(&events).union(&ids(&only_b)).copied().collect();
    for node in &nodes {
        assert_eq!(ids(&wait_for_events(node, &filter, all.len())), all);
    }
    let metric = |name: &str| format!("parrhesia_cluster_replication_{name}_total");
    for (name, node, lacked, log) in [("A", &nodes[0], 5.0, 395.0), ("B", &nodes[1], 10.0, 400.0)] {
        let scrape = scrape_until(node, &format!("{name} caught up"), |scrape| {
            total(scrape, &metric("positions_held"), &[]) + total(scrape, &metric("events_received"), &[]) >= log
        });
        // One batch of whole events, then only the events it lacked; the rest as positions.
        assert_eq!(total(&scrape, &metric("events_fetched"), &[]), lacked, "{name}");
        assert_eq!(total(&scrape, &metric("events_received"), &[]), 32.0 + lacked, "{name}");
        assert_eq!(total(&scrape, &metric("positions_held"), &[]), log - 32.0 - lacked, "{name}");
        assert!(total(&scrape, &metric("ids_pulls_sent"), &[]) >= 1.0, "{name}");
    }
}

/// Every event a subscription receives until none arrives for a while: the stored ones up to
/// EOSE (already collected) and the live ones.
fn received_until_quiet(client: &mut Client, subscription: &str, mut events: Vec<Event>) -> Vec<Event> {
    while let Some(message) = client.recv_within(Duration::from_millis(500)) {
        if let parrhesia_engine::RelayMessage::Event { subscription_id, event } = message
            && subscription_id == subscription
        {
            events.push(Event::parse_trusted(&event).expect("event"));
        }
    }
    events
}

/// A replicated batch is fanned out on B before B's commit. Subscriptions opened on B all
/// along a stream of events published on A each get every event exactly once: from the scan,
/// from the catch-up (the store or, before the commit, the shard's copies) or live. With
/// `failing_commits`, that share of B's replicated commits fails after the fan-out: the events
/// are taken back, pulled again, and still reach each subscription once.
fn subscriptions_opened_during_replication_get_each_event_once(failing_commits: Option<&str>) {
    let mesh = Mesh::new(2);
    let a = mesh.start(0);
    let env: Vec<(&str, &str)> =
        failing_commits.map(|every| ("FAILPOINT_PARRHESIA_REPLICATED_COMMIT", every)).into_iter().collect();
    // Its subscribers are read one after another once the stream is in: on a loaded machine
    // that takes longer than the default ping interval and pong timeout, and a client not read
    // meanwhile is closed for "no pong" (liveness is not what this test is about).
    let b = mesh.start_with_env(1, &["ping_interval_seconds=3600"], &env);
    for node in [&a, &b] {
        wait_for_log(node, "link up", 1);
    }
    let author = keys(49);
    let filter = format!(r#"{{"authors":["{}"],"limit":500}}"#, hex(author.public_key()));
    let count = 150;
    let publisher = {
        let (url, author) = (a.url(), author.clone());
        std::thread::spawn(move || {
            let mut client = Client::connect(&url);
            let events = publish_stream(std::slice::from_mut(&mut client), &author, count, "during replication");
            events.iter().map(|event| *event.id()).collect::<std::collections::BTreeSet<_>>()
        })
    };
    let mut subscribers = Vec::new();
    while !publisher.is_finished() {
        let mut client = b.connect();
        let stored = client.req("s", &[&filter]);
        subscribers.push((client, stored));
        std::thread::sleep(Duration::from_millis(3));
    }
    let published = publisher.join().unwrap();
    wait_for_events(&b, &filter, count);
    assert!(subscribers.len() >= 20, "{} subscriptions opened", subscribers.len());
    for (index, (mut client, stored)) in subscribers.into_iter().enumerate() {
        let events = received_until_quiet(&mut client, "s", stored);
        let ids: Vec<[u8; 32]> = events.iter().map(|event| *event.id()).collect();
        let distinct: std::collections::BTreeSet<[u8; 32]> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), ids.len(), "subscription {index} got an event twice");
        let missing = published.difference(&distinct).count();
        assert!(distinct == published, "subscription {index} lacks {missing} of {count} (got {})", distinct.len());
    }
    if failing_commits.is_some() {
        let scrape = scrape(&b);
        assert!(total(&scrape, "parrhesia_cluster_replication_batches_retried_total", &[]) >= 1.0);
    }
}

#[test]
fn subscriptions_opened_during_replication_get_each_event_once_before_the_commit() {
    subscriptions_opened_during_replication_get_each_event_once(None);
}

#[test]
fn events_of_a_failed_commit_after_their_fan_out_still_reach_each_subscription_once() {
    subscriptions_opened_during_replication_get_each_event_once(Some("3"));
}

/// Stored events of a class of kinds (`traffic_classes`) go to a log of their own per node,
/// pulled on its own: a node catching up on a long backlog of that class gets another kind's
/// event from the same origin long before the backlog is through (in one log it would come
/// after all of it).
#[test]
fn a_backlog_of_one_class_of_kinds_does_not_hold_back_another() {
    let mesh = Mesh::new(2);
    let sets = ["cluster.traffic_classes=bulk:1:7", "cluster.pull_events_max=8", "durability=nosync"];
    let a = mesh.start_with(0, &sets);
    let author = keys(50);
    let mut on_a = a.connect();
    let backlog = 1500;
    let filler = "x".repeat(600);
    for number in 0..backlog {
        let reaction = author.sign(common::now(), 7, vec![], format!("{number} {filler}"));
        assert!(on_a.publish(&reaction).0);
    }
    let note = note(&author, "after the backlog");
    assert!(on_a.publish(&note).0);
    // B starts and pulls A's logs: the note's log has one event, the reactions' log 1,500.
    let b = mesh.start_with(1, &sets);
    let by_id = format!(r#"{{"ids":["{}"]}}"#, hex(note.id()));
    let reactions = format!(r#"{{"authors":["{}"],"kinds":[7]}}"#, hex(author.public_key()));
    let deadline = Instant::now() + WAIT;
    let mut client = b.connect();
    // COUNT rather than REQ: a REQ left open would later carry the note live.
    let reactions_then = loop {
        if client.count("note", &[&by_id]) == 1 {
            break client.count("reactions", &[&reactions]);
        }
        assert!(Instant::now() < deadline, "the note never reached B");
        std::thread::sleep(Duration::from_millis(2));
    };
    assert!(reactions_then < backlog as u64, "the note came after all {reactions_then} reactions");
    wait_for_events(&b, &format!(r#"{{"authors":["{}"],"kinds":[7],"limit":2000}}"#, hex(author.public_key())), 500);
    // Its log's batches travel in the class's own queue (named after the class; the figures
    // are published on the cluster executor's next tick).
    scrape_until(&a, "the class's stored-events queue on the link", |scrape| {
        scrape.samples.iter().any(|sample| {
            sample.metric == "parrhesia_cluster_link_queue_bytes" && sample.labels.get("class") == Some("bulk_stored")
        })
    });
}

/// Settings that change what a node stores or serves are compared when nodes link: a
/// difference is logged with both values and shown per peer and setting, and the link stays.
#[test]
fn settings_nodes_should_agree_on_are_compared_when_they_link() {
    let mesh = Mesh::new(2);
    let a = mesh.start(0);
    let b = mesh.start_with(1, &["event_bytes_max=200000", "cluster.traffic_classes=mls:1:1059"]);
    wait_for_log(&a, "link up", 1);
    wait_for_log(&a, "a setting nodes should agree on differs", 2);
    let mismatch = |scrape: &prometheus_parse::Scrape, peer: &str, setting: &str| {
        total(scrape, "parrhesia_cluster_config_mismatch", &[("peer", peer), ("setting", setting)])
    };
    for (node, peer) in [(&a, &mesh.specs[1].public_key), (&b, &mesh.specs[0].public_key)] {
        let scrape = scrape_until(node, "the mismatches shown", |scrape| {
            mismatch(scrape, peer, "event_bytes_max") == 1.0 && mismatch(scrape, peer, "cluster.traffic_classes") == 1.0
        });
        assert_eq!(mismatch(&scrape, peer, "tags_per_event_max"), 0.0, "settings that agree are not shown");
    }
    let log = a.log_text();
    assert!(log.contains("here=262144") && log.contains("there=200000"), "{log}");
    // The link stays: events still cross.
    let author = keys(46);
    let event = note(&author, "across a mismatch");
    assert!(a.connect().publish(&event).0);
    wait_for_events(&b, &format!(r#"{{"ids":["{}"]}}"#, hex(event.id())), 1);
}

/// Each node restarted in turn (SIGTERM, then started again) while a writer publishes to the
/// others: every acknowledged event ends up on every node, and the others serve throughout.
#[test]
fn a_rolling_restart_under_a_write_stream_loses_nothing() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let mesh = Mesh::new(3);
    let nodes: Vec<Relay> = (0..3).map(|index| mesh.start(index)).collect();
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    let urls: Vec<String> = nodes.iter().map(Relay::url).collect();
    // The node being restarted (usize::MAX: none); the writer holds the lock per publish, so no
    // publish is in flight to a node when it stops.
    let (down, turn, stop) =
        (Arc::new(AtomicUsize::new(usize::MAX)), Arc::new(Mutex::new(())), Arc::new(AtomicBool::new(false)));
    let author = keys(47);
    let writer = {
        let (down, turn, stop, author) = (down.clone(), turn.clone(), stop.clone(), author.clone());
        std::thread::spawn(move || {
            let mut acknowledged = Vec::new();
            let mut number = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let _turn = turn.lock().unwrap();
                let node = (0..3).map(|step| (number + step) % 3).find(|node| *node != down.load(Ordering::Relaxed));
                let event = note(&author, &format!("rolling {number}"));
                if Client::connect(&urls[node.unwrap()]).publish(&event).0 {
                    acknowledged.push(*event.id());
                }
                number += 1;
            }
            acknowledged
        })
    };
    let mut nodes: Vec<Option<Relay>> = nodes.into_iter().map(Some).collect();
    for (index, slot) in nodes.iter_mut().enumerate() {
        std::thread::sleep(Duration::from_millis(300));
        let mut node = {
            let _turn = turn.lock().unwrap();
            down.store(index, Ordering::Relaxed);
            let mut node = slot.take().unwrap();
            node.stop();
            node
        };
        node = node.restart();
        wait_for_log(&node, "link up", 2);
        down.store(usize::MAX, Ordering::Relaxed);
        *slot = Some(node);
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let acknowledged: std::collections::BTreeSet<[u8; 32]> = writer.join().unwrap().into_iter().collect();
    eprintln!("{} events acknowledged during the rolling restart", acknowledged.len());
    for node in nodes.iter().flatten() {
        wait_for_ids(node, &acknowledged);
    }
}

/// `cluster.relay_urls`: a NIP-62 request sent to one node naming another node's URL removes
/// the author's events on every node, and keeps them from coming back.
#[test]
fn a_vanish_request_naming_any_url_of_the_cluster_removes_the_author_everywhere() {
    let mesh = Mesh::new(3);
    let urls = ["wss://a.relay.example", "wss://b.relay.example", "wss://c.relay.example"];
    let shared = format!("cluster.relay_urls={}", urls.join(","));
    let nodes: Vec<Relay> =
        (0..3).map(|index| mesh.start_with(index, &[&format!("relay_url={}", urls[index]), &shared])).collect();
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    let author = keys(48);
    let notes: Vec<Event> = (0..4).map(|number| note(&author, &format!("soon gone {number}"))).collect();
    for (number, event) in notes.iter().enumerate() {
        assert!(nodes[if number % 2 == 0 { 0 } else { 2 }].connect().publish(event).0);
    }
    let filter = format!(r#"{{"authors":["{}"],"kinds":[1]}}"#, hex(author.public_key()));
    for node in &nodes {
        wait_for_events(node, &filter, notes.len());
    }
    // Sent to B, naming A's URL (B's own is another).
    let request = author.sign(common::now(), 62, vec![vec!["relay".into(), urls[0].into()]], String::new());
    assert!(nodes[1].connect().publish(&request).0);
    for node in &nodes {
        let deadline = Instant::now() + WAIT;
        while !node.connect().req("gone", &[&filter]).is_empty() {
            assert!(Instant::now() < deadline, "the author's notes are still on {}", node.url());
            std::thread::sleep(Duration::from_millis(20));
        }
        // And they do not come back: published again, they are refused.
        assert!(!node.connect().publish(&notes[0]).0, "a vanished author's note accepted again");
    }
}
