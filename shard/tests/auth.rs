//! NIP-42 against the real binary: the challenge, AUTH checked field by field, the
//! `auth_required` modes, several pubkeys on one connection, and NIP-70 protected events
//! accepted from their authenticated author only.

mod common;

use common::{Client, Relay, hex, keys, note};
use parrhesia_engine::{Event, Keys, RelayMessage};

const URL: &str = "wss://relay.example.com";

fn challenge(client: &mut Client) -> String {
    match client.recv() {
        RelayMessage::Auth { challenge } => challenge.to_string(),
        other => panic!("expected AUTH, got {}", other.encode()),
    }
}

fn auth_event(keys: &Keys, challenge: &str, relay: &str, created_at: u64) -> Event {
    let tags = vec![vec!["relay".into(), relay.into()], vec!["challenge".into(), challenge.into()]];
    keys.sign(created_at, 22242, tags, String::new())
}

fn send_auth(client: &mut Client, event: &Event) -> (bool, String) {
    client.send_text(&format!(r#"["AUTH",{}]"#, event.json()));
    loop {
        if let RelayMessage::Ok { event_id, accepted, message } = client.recv()
            && &event_id == event.id()
        {
            return (accepted, message.to_string());
        }
    }
}

#[test]
fn writes_need_auth_and_auth_is_checked() {
    let relay = Relay::start(&[
        "--shards",
        "1",
        "--set",
        "auth_required=writes",
        "--set",
        "auth_challenge_on_connect=true",
        "--set",
        &format!("relay_url={URL}/"),
    ]);
    let (status, body) = relay.http_get("/", &[("Accept", "application/nostr+json")]);
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document["limitation"]["auth_required"], true);
    assert!(document["supported_nips"].as_array().unwrap().contains(&serde_json::json!(42)));

    let mut client = relay.connect();
    let challenge = challenge(&mut client);
    assert_eq!(challenge.len(), 32, "16 random bytes as hex");
    let (alice, bob) = (keys(100), keys(101));
    // Unauthenticated writes are refused, and the challenge comes again.
    let (accepted, message) = client.publish(&note(&alice, "too early"));
    assert!(!accepted && message.starts_with("auth-required:"), "{message}");
    assert_eq!(self::challenge(&mut client), challenge, "the same challenge, repeated");
    // Reads are open in `writes` mode.
    assert!(client.req("open", &[r#"{"kinds":[1]}"#]).is_empty());
    client.send_text(r#"["CLOSE","open"]"#);
    let now = common::now();
    for (event, why) in [
        (auth_event(&alice, "not-it", URL, now), "challenge"),
        (auth_event(&alice, &challenge, "wss://other.example.com", now), "relay tag"),
        (auth_event(&alice, &challenge, URL, now - 3600), "within 600 seconds"),
    ] {
        let (accepted, message) = send_auth(&mut client, &event);
        assert!(!accepted && message.starts_with("invalid:") && message.contains(why), "{message}");
    }
    assert_eq!(
        send_auth(&mut client, &auth_event(&alice, &challenge, "WSS://Relay.Example.com", now)),
        (true, String::new())
    );
    assert_eq!(client.publish(&note(&alice, "authenticated")), (true, String::new()));
    // NIP-70: protected events only from their authenticated author.
    let protected = |author: &Keys, content: &str| author.sign(now, 1, vec![vec!["-".into()]], content.into());
    assert_eq!(client.publish(&protected(&alice, "alice's own")), (true, String::new()));
    let (accepted, message) = client.publish(&protected(&bob, "bob's, sent by alice"));
    assert!(!accepted && message.starts_with("auth-required:"), "{message}");
    assert_eq!(self::challenge(&mut client), challenge);
    // A second pubkey on the same connection.
    assert_eq!(send_auth(&mut client, &auth_event(&bob, &challenge, URL, now)), (true, String::new()));
    assert_eq!(client.publish(&protected(&bob, "bob's own")), (true, String::new()));
    let filter = format!(r#"{{"authors":["{}","{}"]}}"#, hex(alice.public_key()), hex(bob.public_key()));
    assert_eq!(client.req("stored", &[&filter]).len(), 3);
}

#[test]
fn everything_needs_auth_in_all_mode() {
    let relay = Relay::start(&["--shards", "1", "--set", "auth_required=all"]);
    let mut client = relay.connect();
    client.send_text(r#"["REQ","r",{"kinds":[1]}]"#);
    let challenge = challenge(&mut client);
    assert!(matches!(client.recv(), RelayMessage::Closed { message, .. } if message.starts_with("auth-required:")));
    client.send_text(r#"["COUNT","c",{"kinds":[1]}]"#);
    assert_eq!(self::challenge(&mut client), challenge);
    assert!(matches!(client.recv(), RelayMessage::Closed { message, .. } if message.starts_with("auth-required:")));
    // Without relay_url set, any relay tag is taken.
    let alice = keys(102);
    let auth = auth_event(&alice, &challenge, "wss://whatever.example", common::now());
    assert_eq!(send_auth(&mut client, &auth), (true, String::new()));
    assert!(client.req("r", &[r#"{"kinds":[1]}"#]).is_empty());
    assert_eq!(client.publish(&note(&alice, "in")), (true, String::new()));
}
