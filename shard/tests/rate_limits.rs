//! Rate limits against the real binary: EVENT, REQ and COUNT per connection trip with
//! `rate-limited:` naming the limit and recover as tokens refill; a connection that keeps
//! going over is closed (1008); per-address limits follow the client a trusted proxy names;
//! new connections per address are limited at accept; all of it counted in /metrics.

mod common;

use std::time::Duration;

use common::{Client, Relay, keys, note};
use parrhesia_engine::RelayMessage;

fn closed_message(client: &mut Client, subscription: &str) -> String {
    loop {
        match client.recv() {
            RelayMessage::Closed { subscription_id, message } if subscription_id == subscription => {
                return message.to_string();
            }
            RelayMessage::Eose { .. } | RelayMessage::Count { .. } => {}
            other => panic!("expected CLOSED for {subscription}, got {}", other.encode()),
        }
    }
}

#[test]
fn per_connection_limits_trip_recover_and_close_persistent_offenders() {
    let relay = Relay::start(&[
        "--shards",
        "1",
        "--set",
        "rate_event_connection=0.5/3",
        "--set",
        "rate_req_connection=0.2/2",
        "--set",
        "rate_count_connection=0.2/1",
        "--set",
        "rate_limit_strikes_max=4",
    ]);
    let author = keys(130);
    let mut client = relay.connect();
    for number in 0..3 {
        assert_eq!(client.publish(&note(&author, &format!("burst {number}"))), (true, String::new()));
    }
    let (accepted, message) = client.publish(&note(&author, "over"));
    assert!(!accepted, "the fourth in a burst of three");
    assert_eq!(message, "rate-limited: more than 0.5 EVENTs per second per connection (burst 3)");
    // REQ and COUNT have their own buckets.
    assert_eq!(client.req("one", &[r#"{"kinds":[1]}"#]).len(), 3);
    assert_eq!(client.req("two", &[r#"{"kinds":[1]}"#]).len(), 3);
    client.send_text(r#"["REQ","three",{"kinds":[1]}]"#);
    assert!(
        closed_message(&mut client, "three").starts_with("rate-limited: more than 0.2 REQs per second per connection")
    );
    client.send_text(r#"["COUNT","c1",{"kinds":[1]}]"#);
    assert!(matches!(client.recv(), RelayMessage::Count { count: 3, .. }));
    client.send_text(r#"["COUNT","c2",{"kinds":[1]}]"#);
    assert!(closed_message(&mut client, "c2").starts_with("rate-limited:"));
    // Tokens refill: one EVENT every two seconds. (Slow rates, so that a loaded machine cannot
    // refill a bucket between the requests that are meant to find it empty.)
    std::thread::sleep(Duration::from_millis(2_200));
    assert_eq!(client.publish(&note(&author, "after a second")), (true, String::new()));
    // A client that keeps going over is told and closed; a new connection starts afresh.
    let mut flooder = relay.connect();
    for number in 0..3 {
        assert!(flooder.publish(&note(&author, &format!("flood {number}"))).0);
    }
    for number in 0..4 {
        flooder.send_text(&format!(r#"["EVENT",{}]"#, note(&author, &format!("over {number}")).json()));
    }
    let (code, texts) = flooder.recv_until_closed();
    assert_eq!(code, Some(1008), "{texts:?}");
    assert!(texts.iter().any(|text| text.contains("NOTICE") && text.contains("rate-limited:")), "{texts:?}");
    assert_eq!(relay.connect().publish(&note(&author, "a fresh connection")), (true, String::new()));

    let (_, metrics) = relay.http_get("/metrics", &[]);
    let scrape = prometheus_parse::Scrape::parse(metrics.lines().map(|line| Ok(line.to_string()))).unwrap();
    let value = |name: &str, label: (&str, &str)| {
        scrape
            .samples
            .iter()
            .filter(|sample| sample.metric == name && sample.labels.get(label.0) == Some(label.1))
            .map(|sample| match sample.value {
                prometheus_parse::Value::Counter(value) | prometheus_parse::Value::Untyped(value) => value,
                _ => 0.0,
            })
            .sum::<f64>()
    };
    assert_eq!(value("parrhesia_rate_limited_total", ("verb", "EVENT")), 5.0, "one over, then four");
    assert_eq!(value("parrhesia_rate_limited_total", ("verb", "REQ")), 1.0);
    assert_eq!(value("parrhesia_rate_limited_total", ("verb", "COUNT")), 1.0);
    assert_eq!(value("parrhesia_connections_closed_total", ("reason", "rate_limited")), 1.0);
}

#[test]
fn address_limits_follow_the_client_a_trusted_proxy_names() {
    let relay = Relay::start(&[
        "--shards",
        "2",
        "--set",
        "rate_event_address=0.2/2",
        "--set",
        "trusted_proxies=127.0.0.1",
        "--set",
        "rate_connect_address=1/4",
    ]);
    let author = keys(131);
    let behind = |client: &str| Client::connect_with_headers(&relay.url(), &[("X-Forwarded-For", client)]);
    // Split over two shards, each address may publish one event at once (burst 2 / 2 shards)
    // on each shard: a client's connections on one shard share its bucket there.
    let mut first = behind("203.0.113.1");
    let mut again = behind("203.0.113.1");
    let mut other = behind("203.0.113.2");
    let mut outcomes = Vec::new();
    for (client, label) in [(&mut first, "first"), (&mut again, "again"), (&mut other, "other")] {
        outcomes.push((label, client.publish(&note(&author, label)).0));
        outcomes.push((label, client.publish(&note(&author, &format!("{label} 2"))).0));
    }
    let accepted = |label: &str| outcomes.iter().filter(|(name, ok)| *name == label && *ok).count();
    assert_eq!(accepted("other"), 1, "one event at once per address and shard: {outcomes:?}");
    assert!(accepted("first") + accepted("again") <= 2, "the two connections of one client share: {outcomes:?}");
    // Four connections at once per address (two per shard); past that the socket is closed.
    let mut attempts = 0;
    let refused = loop {
        attempts += 1;
        assert!(attempts <= 8, "a connection past the burst is refused");
        let stream = std::net::TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
        stream.set_read_timeout(Some(common::WAIT)).unwrap();
        let mut request = tungstenite::client::IntoClientRequest::into_client_request(relay.url()).unwrap();
        request.headers_mut().insert("X-Forwarded-For", "203.0.113.9".parse().unwrap());
        if tungstenite::client(request, stream).is_err() {
            break attempts;
        }
    };
    assert!(refused >= 2, "the burst is admitted first ({refused})");
    // Another client behind the same proxy still gets in.
    assert!(behind("203.0.113.10").publish(&note(&author, "someone else")).0);
}
