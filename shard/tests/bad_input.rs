//! Bad input gets its NIP-01-prefixed answer and the connection goes on (or, for a frame far
//! beyond the limit, only that connection is closed); the relay keeps serving everyone else.

mod common;

use common::{Client, Relay, hex, keys, note, now};
use parrhesia_engine::RelayMessage;
use tungstenite::Message;

const FRAME_BYTES_MAX: usize = 64 * 1024;

fn small_frames() -> Relay {
    Relay::start(&["--shards", "2", "--set", "frame_bytes_max=65536", "--set", "event_bytes_max=32768"])
}

/// The connection still publishes and queries.
fn still_works(client: &mut Client, label: &str) {
    let event = note(&keys(9), &format!("still works after {label}"));
    assert_eq!(client.publish(&event), (true, String::new()), "after {label}");
    let found = client.req("check", &[&format!(r#"{{"ids":["{}"]}}"#, hex(event.id()))]);
    assert_eq!(found.len(), 1, "after {label}");
    client.send_text(r#"["CLOSE","check"]"#);
}

fn notice(client: &mut Client) -> String {
    match client.recv() {
        RelayMessage::Notice { message } => message.to_string(),
        other => panic!("expected a NOTICE, got {other:?}"),
    }
}

/// The next OK (an AUTH challenge before it, as an `auth-required:` refusal sends, is skipped).
fn ok(client: &mut Client) -> (bool, String) {
    loop {
        match client.recv() {
            RelayMessage::Ok { accepted, message, .. } => return (accepted, message.to_string()),
            RelayMessage::Auth { .. } => {}
            other => panic!("expected an OK, got {other:?}"),
        }
    }
}

fn closed(client: &mut Client) -> (String, String) {
    match client.recv() {
        RelayMessage::Closed { subscription_id, message } => (subscription_id.to_string(), message.to_string()),
        other => panic!("expected CLOSED, got {other:?}"),
    }
}

#[test]
fn malformed_messages_get_notices() {
    let relay = small_frames();
    let mut client = relay.connect();
    let cases: Vec<(Message, &str)> = vec![
        (Message::Text("not json".into()), "invalid: bad message"),
        (Message::Text("{}".into()), "invalid: bad message"),
        (Message::Text(r#"["HELLO"]"#.into()), "invalid: unknown message type"),
        (Message::Text(r#"["EVENT"]"#.into()), "invalid: EVENT takes exactly one event"),
        (Message::Text(r#"["REQ",""]"#.into()), "invalid: subscription id must not be empty"),
        (Message::Binary(vec![1, 2, 3].into()), "invalid: binary messages are not supported"),
        (Message::Text(format!(r#"["NOTICE","{}"]"#, "x".repeat(FRAME_BYTES_MAX)).into()), "invalid: message is"),
    ];
    for (message, expected) in cases {
        let shown = format!("{message:?}").chars().take(60).collect::<String>();
        client.send_raw(message);
        let text = notice(&mut client);
        assert!(text.starts_with(expected), "{shown}: got {text:?}");
        still_works(&mut client, &shown);
    }
}

#[test]
fn bad_events_get_ok_false_with_a_prefix() {
    let relay = small_frames();
    let mut client = relay.connect();
    let author = keys(10);
    let good = note(&author, "original");
    let tampered = good.json().replace("original", "tampered");
    let other_signature = note(&keys(11), "original");
    let forged = good.json().replace(&hex(good.sig()), &hex(other_signature.sig()));
    let future = author.sign(now() + 3600, 1, vec![], "from the future".into());
    let protected = author.sign(now(), 1, vec![vec!["-".into()]], "protected".into());
    let too_big = author.sign(now(), 1, vec![], "x".repeat(40_000));
    let cases: Vec<(String, &str)> = vec![
        (tampered, "invalid: event id does not match"),
        (forged, "invalid: bad signature"),
        (future.json().to_string(), "invalid: created_at is more than 900 seconds in the future"),
        (protected.json().to_string(), "auth-required:"),
        (too_big.json().to_string(), "invalid: event is"),
    ];
    for (json, expected) in cases {
        client.send_text(&format!(r#"["EVENT",{json}]"#));
        let (accepted, message) = ok(&mut client);
        assert!(!accepted && message.starts_with(expected), "{expected}: got {message:?}");
        still_works(&mut client, expected);
    }
    // An AUTH with a note instead of a kind 22242 event is refused; a negentropy message of
    // another protocol version gets NEG-ERR.
    client.send_text(&format!(r#"["AUTH",{}]"#, good.json()));
    assert!(ok(&mut client).1.starts_with("invalid: AUTH takes a kind 22242 event"));
    client.send_text(r#"["NEG-OPEN","n",{},"00"]"#);
    assert!(matches!(client.recv(), RelayMessage::NegErr { message, .. } if message.starts_with("invalid:")));
    still_works(&mut client, "AUTH and NEG-OPEN");
}

#[test]
fn subscription_limits_are_answered_with_closed() {
    let relay = small_frames();
    let mut client = relay.connect();
    let filters = vec!["{}"; 17].join(",");
    client.send_text(&format!(r#"["REQ","many",{filters}]"#));
    assert_eq!(closed(&mut client), ("many".into(), "invalid: more than 16 filters".into()));
    client.send_text(r#"["REQ","bad",{"kinds":["one"]}]"#);
    let (id, message) = closed(&mut client);
    assert!(id == "bad" && message.starts_with("invalid: bad filter"), "{message}");
    for number in 0..32 {
        client.req(&format!("s{number}"), &[r#"{"kinds":[1],"limit":0}"#]);
    }
    client.send_text(r#"["REQ","s32",{"kinds":[1]}]"#);
    let (id, message) = closed(&mut client);
    assert!(id == "s32" && message.starts_with("error: too many subscriptions"), "{message}");
    // Replacing an existing id is not a new subscription.
    client.req("s0", &[r#"{"kinds":[7],"limit":0}"#]);
    client.send_text(r#"["CLOSE","s1"]"#);
    client.req("s32", &[r#"{"kinds":[7],"limit":0}"#]);
}

#[test]
fn a_frame_far_beyond_the_limit_closes_only_that_connection() {
    let relay = small_frames();
    let mut bystander = relay.connect();
    let mut offender = relay.connect();
    offender.send_text(&format!(r#"["NOTICE","{}"]"#, "x".repeat(3 * FRAME_BYTES_MAX)));
    let (code, texts) = offender.recv_until_closed();
    assert_eq!(code, Some(1009), "closed as message too big; saw {texts:?}");
    assert!(texts.iter().any(|text| text.contains("invalid:")), "a NOTICE says why: {texts:?}");
    still_works(&mut bystander, "another connection's oversized frame");
    still_works(&mut relay.connect(), "another connection's oversized frame (new connection)");
}

/// NIP-13 minimum difficulty and a created_at floor: refused with `pow:` and `invalid:`,
/// announced in NIP-11; events that meet them are stored.
#[test]
fn pow_and_age_limits_refuse_with_their_prefix() {
    let relay =
        Relay::start(&["--shards", "1", "--set", "min_pow_difficulty=8", "--set", "created_at_past_seconds_max=3600"]);
    let (status, body) = relay.http_get("/", &[("Accept", "application/nostr+json")]);
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document["limitation"]["min_pow_difficulty"], 8);
    assert_eq!(document["limitation"]["created_at_lower_limit"], 3600);
    let author = keys(90);
    let mine = |committed: &str| {
        (0u64..)
            .map(|nonce| {
                let tags = vec![vec!["nonce".to_string(), nonce.to_string(), committed.to_string()]];
                author.sign(common::now(), 1, tags, "worked".into())
            })
            .find(|event| parrhesia_engine::event::pow_difficulty(event.id()) >= 8)
            .unwrap()
    };
    let mut client = relay.connect();
    let plain = note(&author, "no work");
    let (accepted, message) = client.publish(&plain);
    assert!(!accepted && message.starts_with("pow: difficulty"), "{message}");
    let (accepted, message) = client.publish(&mine("4"));
    assert!(!accepted && message.starts_with("pow: committed target 4"), "{message}");
    assert_eq!(client.publish(&mine("8")), (true, String::new()));
    let old = (0u64..)
        .map(|nonce| {
            author.sign(
                common::now() - 7200,
                1,
                vec![vec!["nonce".into(), nonce.to_string(), "8".into()]],
                "old".into(),
            )
        })
        .find(|event| parrhesia_engine::event::pow_difficulty(event.id()) >= 8)
        .unwrap();
    let (accepted, message) = client.publish(&old);
    assert!(!accepted && message.starts_with("invalid: created_at is more than 3600 seconds in the past"), "{message}");
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    assert_eq!(client.req("stored", &[&filter]).len(), 1, "only the event that met both is stored");
}
