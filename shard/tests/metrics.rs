//! `/metrics`: the real binary under a little load, scraped over HTTP and parsed with a
//! Prometheus text parser; every counter the load touched moved by what the load did.

mod common;

use common::metrics::{parse, scrape, scrape_until, total};
use common::{Relay, free_port, hex, keys, note, now};

#[test]
fn counters_follow_the_load() {
    let relay = Relay::start(&["--shards", "2"]);
    let before = scrape(&relay);
    assert_eq!(total(&before, "parrhesia_shards", &[]), 2.0);
    assert_eq!(total(&before, "parrhesia_store_events", &[]), 0.0);
    assert!(total(&before, "process_open_fds", &[]) > 0.0);
    assert!(total(&before, "process_max_fds", &[]) >= total(&before, "process_open_fds", &[]));

    let mut client = relay.connect();
    let author = keys(3);
    let stored: Vec<_> = (0..5).map(|number| note(&author, &format!("metrics {number}"))).collect();
    for event in &stored {
        assert_eq!(client.publish(event), (true, String::new()));
    }
    assert!(client.publish(&stored[0]).1.starts_with("duplicate:"));
    let ephemeral = author.sign(now(), 20001, vec![], "typing".into());
    assert!(client.publish(&ephemeral).0);
    // A bad signature is refused after decoding (kind known); a bad id while decoding.
    for (field, value) in [("sig", "00".repeat(64)), ("content", "changed".to_string())] {
        let mut forged: serde_json::Value = serde_json::from_str(note(&author, "forged").json()).unwrap();
        forged[field] = serde_json::Value::String(value);
        client.send_text(&format!(r#"["EVENT",{forged}]"#));
        let answer = client.recv();
        assert!(matches!(&answer, parrhesia_engine::RelayMessage::Ok { accepted: false, .. }), "{answer:?}");
    }
    let found = client.req("all", &[&format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()))]);
    assert_eq!(found.len(), 5);
    client.send_text(r#"["COUNT","c",{"kinds":[1]}]"#);
    let _count = client.recv();
    client.send_text("not json");
    let _notice = client.recv();

    let during = scrape_until(&relay, "the open subscription is counted", |scrape| {
        total(scrape, "parrhesia_subscriptions_open", &[]) == 1.0
    });
    let stored_regular = [("outcome", "stored"), ("kind_class", "regular")];
    assert_eq!(total(&during, "parrhesia_events_total", &stored_regular), 5.0);
    assert_eq!(total(&during, "parrhesia_events_total", &[("outcome", "duplicate")]), 1.0);
    assert_eq!(total(&during, "parrhesia_events_total", &[("outcome", "ephemeral")]), 1.0);
    let invalid = |class| [("outcome", "invalid"), ("kind_class", class)];
    assert_eq!(total(&during, "parrhesia_events_total", &invalid("regular")), 1.0);
    assert_eq!(total(&during, "parrhesia_events_total", &invalid("unknown")), 1.0);
    assert_eq!(total(&during, "parrhesia_client_messages_total", &[("verb", "EVENT")]), 8.0);
    assert_eq!(total(&during, "parrhesia_client_messages_total", &[("verb", "REQ")]), 1.0);
    assert_eq!(total(&during, "parrhesia_client_messages_total", &[("verb", "COUNT")]), 1.0);
    assert_eq!(total(&during, "parrhesia_client_messages_total", &[("verb", "invalid")]), 2.0);
    assert_eq!(total(&during, "parrhesia_relay_messages_total", &[("verb", "OK")]), 9.0);
    assert_eq!(total(&during, "parrhesia_relay_messages_total", &[("verb", "EVENT")]), 5.0);
    assert_eq!(total(&during, "parrhesia_relay_messages_total", &[("verb", "EOSE")]), 1.0);
    assert_eq!(total(&during, "parrhesia_relay_messages_total", &[("verb", "COUNT")]), 1.0);
    assert_eq!(total(&during, "parrhesia_relay_messages_total", &[("verb", "NOTICE")]), 1.0);
    // Checked: the five stored, the duplicate, the ephemeral, the bad signature (the bad id
    // never decoded).
    assert_eq!(total(&during, "parrhesia_ingest_check_duration_seconds", &[]), 8.0);
    assert_eq!(total(&during, "parrhesia_req_eose_duration_seconds", &[]), 1.0);
    assert!(total(&during, "parrhesia_scan_slices_total", &[]) >= 2.0, "the REQ's scan and the COUNT's");
    assert_eq!(total(&during, "parrhesia_writer_events_stored_total", &[("source", "clients")]), 5.0);
    let batches = total(&during, "parrhesia_writer_batch_events", &[("source", "clients")]);
    assert!((1.0..=5.0).contains(&batches), "{batches} commits for five events");
    assert_eq!(total(&during, "parrhesia_writer_commit_duration_seconds", &[("source", "clients")]), batches);
    assert_eq!(total(&during, "parrhesia_store_events", &[]), 5.0);
    assert_eq!(total(&during, "parrhesia_store_last_sequence", &[]), 5.0);
    assert!(total(&during, "parrhesia_store_disk_bytes", &[]) > 0.0);
    assert_eq!(total(&during, "parrhesia_connections_opened_total", &[]), 1.0);
    assert_eq!(total(&during, "parrhesia_connections_open", &[]), 1.0);

    // A live subscriber gets what a second connection publishes: a fanout delivery.
    let mut publisher = relay.connect();
    let live = note(&author, "live");
    assert!(publisher.publish(&live).0);
    assert_eq!(hex(client.next_event("all").id()), hex(live.id()));
    let after = scrape(&relay);
    assert_eq!(total(&after, "parrhesia_fanout_deliveries_total", &[]), 1.0);
    assert!(total(&after, "parrhesia_fanout_duration_seconds", &[]) >= 6.0, "every stored event was fanned out");
    // Every commit waited between the writer and each of the two shards: counted on each (the
    // shard that did not serve the subscriber may take its last commit a moment later).
    let commits = total(&after, "parrhesia_writer_batch_events", &[("source", "clients")]);
    scrape_until(&relay, "every commit is counted on both shards", |scrape| {
        total(scrape, "parrhesia_fanout_queue_seconds", &[]) == 2.0 * commits
    });

    // Open connections' queues are sampled once a second.
    scrape_until(&relay, "queue depths are sampled", |scrape| {
        total(scrape, "parrhesia_outbound_queue_depth_bytes", &[]) >= 2.0
    });
    client.send_text(r#"["CLOSE","all"]"#);
    drop(client);
    drop(publisher);
    let closed = scrape_until(&relay, "both closes are counted", |scrape| {
        total(scrape, "parrhesia_connections_closed_total", &[("reason", "client")]) == 2.0
    });
    assert_eq!(total(&closed, "parrhesia_connections_open", &[]), 0.0);
    assert_eq!(total(&closed, "parrhesia_subscriptions_open", &[]), 0.0);
}

#[test]
fn a_metrics_listener_takes_metrics_off_the_relay_port() {
    let metrics_port = free_port();
    let address = format!("127.0.0.1:{metrics_port}");
    let relay = Relay::start(&["--shards", "1", "--set", &format!("metrics_listen={address}")]);
    let (status, body) = relay.http_get("/metrics", &[]);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("metrics_listen"), "{body}");

    let (status, body) = common::http_get(metrics_port, "/metrics", &[]);
    assert_eq!(status, 200);
    assert_eq!(total(&parse(&body), "parrhesia_shards", &[]), 1.0);
    let (status, _) = common::http_get(metrics_port, "/", &[]);
    assert_eq!(status, 404, "the metrics listener serves metrics only");
}

/// `delivery_linger_ms`: live events reaching a subscriber while it waits leave in one flush,
/// in order and none lost; the publisher's OKs (replies to an idle connection) are not held.
#[test]
fn a_delivery_linger_joins_live_events_into_fewer_flushes() {
    // Long enough for 20 publishes on loopback to finish inside it (nosync: no fsync each).
    let relay = Relay::start(&["--shards", "1", "--durability", "nosync", "--set", "delivery_linger_ms=4000"]);
    let author = keys(5);
    let mut subscriber = relay.connect();
    subscriber.send_text(r#"["REQ","live",{"kinds":[1]}]"#);
    assert!(subscriber.until_eose("live").is_empty(), "an empty store, EOSE at once");
    let mut publisher = relay.connect();
    let flushes = || total(&scrape(&relay), "parrhesia_outbound_flushes_total", &[]);
    let before = flushes();
    let events: Vec<_> = (0..20).map(|number| note(&author, &format!("linger {number}"))).collect();
    for event in &events {
        assert_eq!(publisher.publish(event), (true, String::new()), "each OK comes while the deliveries wait");
    }
    let delivered: Vec<_> = events.iter().map(|_| *subscriber.next_event("live").id()).collect();
    assert_eq!(delivered, events.iter().map(|event| *event.id()).collect::<Vec<_>>());
    // One flush per OK; the subscriber's 20 deliveries in one (two if the linger ended
    // between two publishes).
    let flushed = flushes() - before;
    assert!((20.0..=22.0).contains(&flushed), "{flushed} flushes for 20 OKs and 20 deliveries");
}
