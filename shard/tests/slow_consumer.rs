//! A client that never reads (with a small socket receive buffer, so the kernel does not absorb
//! tens of megabytes first) cannot grow the relay's memory past its outbound bound: with the
//! `close` policy it is told why and closed; with `drop_newest` it stays connected and misses
//! events. Either way a reading client on the same relay receives every event.

mod common;

use common::{Client, Relay, anonymous_rss_bytes, keys, now};

const EVENTS: usize = 3000;
const CONTENT_BYTES: usize = 4096;

/// Publishes `EVENTS` kind-1 events of `CONTENT_BYTES` each (about 12 MiB in all) while a
/// reader keeps up; returns how many the reader received.
fn flood(relay: &Relay, reader: &mut Client) -> usize {
    let author = keys(20);
    let content = "x".repeat(CONTENT_BYTES);
    let mut publisher = relay.connect();
    let mut received = 0;
    for number in 0..EVENTS {
        let event = author.sign(now(), 1, vec![vec!["n".into(), number.to_string()]], content.clone());
        assert!(publisher.publish(&event).0);
        // Read as we go, so the reader is never the slow one.
        while received < number {
            reader.next_event("all");
            received += 1;
        }
    }
    while received < EVENTS {
        reader.next_event("all");
        received += 1;
    }
    received
}

#[test]
fn close_policy_closes_the_slow_reader_and_bounds_memory() {
    let relay = Relay::start(&["--shards", "1", "--durability", "nosync", "--set", "outbound_bytes_max=262144"]);
    let mut slow = Client::connect_with_receive_buffer(&relay.url(), 64 * 1024);
    slow.req("all", &[r#"{"kinds":[1],"limit":0}"#]);
    let mut reader = relay.connect();
    reader.req("all", &[r#"{"kinds":[1],"limit":0}"#]);
    let before = anonymous_rss_bytes(relay.pid());
    assert_eq!(flood(&relay, &mut reader), EVENTS, "the reading client got every event");
    let after = anonymous_rss_bytes(relay.pid());
    // 12 MiB went to a client that read nothing; its queue may hold 256 KiB.
    let growth = after.saturating_sub(before);
    assert!(growth < 16 * 1024 * 1024, "relay memory grew by {growth} bytes");
    let (code, texts) = slow.recv_until_closed();
    assert_eq!(code, Some(1008), "closed for policy after {} messages", texts.len());
    assert!(texts.iter().any(|text| text.contains("error: too slow reading")), "told why");
    assert!(texts.len() < EVENTS, "it did not get everything: {}", texts.len());
}

#[test]
fn drop_newest_policy_keeps_the_slow_reader_connected() {
    let relay = Relay::start(&[
        "--shards",
        "2",
        "--durability",
        "nosync",
        "--set",
        "outbound_bytes_max=262144",
        "--set",
        "outbound_overflow=drop_newest",
    ]);
    let mut slow = Client::connect_with_receive_buffer(&relay.url(), 64 * 1024);
    slow.req("all", &[r#"{"kinds":[1],"limit":0}"#]);
    let mut reader = relay.connect();
    reader.req("all", &[r#"{"kinds":[1],"limit":0}"#]);
    assert_eq!(flood(&relay, &mut reader), EVENTS);
    // Now the slow client reads: it is still connected, got some events, missed others.
    let mut got = 0;
    while let Some(message) = slow.recv_within(std::time::Duration::from_secs(2)) {
        assert!(matches!(message, parrhesia_engine::RelayMessage::Event { .. }), "{message:?}");
        got += 1;
    }
    assert!(got > 0 && got < EVENTS, "received {got} of {EVENTS}");
    assert_eq!(slow.publish(&keys(21).sign(now(), 1, vec![], "still here".into())), (true, String::new()));
}

#[test]
fn a_slow_reader_with_room_in_its_queue_gets_every_event() {
    let relay = Relay::start(&["--shards", "1", "--durability", "nosync", "--set", "outbound_bytes_max=67108864"]);
    let mut slow = Client::connect_with_receive_buffer(&relay.url(), 64 * 1024);
    slow.req("all", &[r#"{"kinds":[1],"limit":0}"#]);
    let mut publisher = relay.connect();
    let content = "x".repeat(CONTENT_BYTES);
    let events = 2000;
    for number in 0..events {
        let event = keys(22).sign(now(), 1, vec![vec!["n".into(), number.to_string()]], content.clone());
        assert!(publisher.publish(&event).0);
    }
    // The socket filled long before the end; the relay must resume writing once it drains.
    let mut got = 0;
    while let Some(message) = slow.recv_within(std::time::Duration::from_secs(3)) {
        assert!(matches!(message, parrhesia_engine::RelayMessage::Event { .. }), "{message:?}");
        got += 1;
    }
    assert_eq!(got, events);
}
