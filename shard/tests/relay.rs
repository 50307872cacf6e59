//! The relay end to end: the real binary on loopback, real WebSocket clients. Publish, query,
//! live delivery, CLOSE, REQ replacement, EOSE on every REQ, NIP-11 and the HTTP routes.

mod common;

use common::{Relay, hex, keys, note};
use parrhesia_engine::RelayMessage;

#[test]
fn publish_query_and_live_delivery() {
    let relay = Relay::start(&["--shards", "1"]);
    let mut publisher = relay.connect();
    let mut subscriber = relay.connect();
    let author = keys(1);
    let first = note(&author, "first");
    assert_eq!(publisher.publish(&first), (true, String::new()));
    assert_eq!(publisher.publish(&first), (true, "duplicate: already have this event".into()));

    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let stored = subscriber.req("s", &[&filter]);
    assert_eq!(stored.iter().map(|event| *event.id()).collect::<Vec<_>>(), vec![*first.id()]);

    let second = note(&author, "second");
    assert!(publisher.publish(&second).0);
    assert_eq!(subscriber.next_event("s").id(), second.id(), "live after EOSE");

    // An empty result still ends with EOSE.
    assert!(subscriber.req("empty", &[r#"{"kinds":[4242]}"#]).is_empty());

    // CLOSE stops delivery; REQ with the same id replaces the filters.
    subscriber.send_text(r#"["CLOSE","s"]"#);
    subscriber.req("r", &[r#"{"kinds":[7]}"#]);
    subscriber.req("r", &[r#"{"kinds":[1],"limit":0}"#]);
    let third = note(&author, "third");
    assert!(publisher.publish(&third).0);
    assert_eq!(subscriber.next_event("r").id(), third.id(), "the replaced REQ matches kind 1");
    assert!(subscriber.quiet_for(std::time::Duration::from_millis(300)), "nothing for the closed subscription");
}

#[test]
fn relay_information_and_http_routes() {
    let relay = Relay::start(&["--shards", "1", "--set", "relay_name=test relay"]);
    let (status, body) = relay.http_get("/", &[("Accept", "application/nostr+json")]);
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document["name"], "test relay");
    assert!(document["supported_nips"].as_array().unwrap().contains(&serde_json::json!(1)));
    assert_eq!(document["limitation"]["max_message_length"], 1024 * 1024);
    assert_eq!(document["limitation"]["max_subscriptions"], 32);
    assert_eq!(document["limitation"]["max_limit"], 500);
    assert!(document["software"].is_string() && document["version"].is_string());
    assert_eq!(relay.http_get("/health", &[]).0, 200);
    assert_eq!(relay.http_get("/ready", &[]).0, 200);
    assert_eq!(relay.http_get("/nothing-here", &[]).0, 404);
    assert_eq!(relay.http_get("/", &[]).0, 404);
    assert_eq!(relay.http_get("/", &[("Upgrade", "websocket")]).0, 400);
}

#[test]
fn count_answers_with_the_number_of_matches() {
    let relay = Relay::start(&["--shards", "1"]);
    let mut client = relay.connect();
    for number in 0..5 {
        assert!(client.publish(&note(&keys(2), &format!("n{number}"))).0);
    }
    client.send_text(&format!(r#"["COUNT","c",{{"authors":["{}"],"limit":1}}]"#, hex(keys(2).public_key())));
    assert!(matches!(client.recv(), RelayMessage::Count { count: 5, .. }));
}
