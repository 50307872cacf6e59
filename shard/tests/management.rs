//! NIP-86 management with NIP-98 against the real binary on two shards: the nostr crate's
//! NIP-98 builder signs every authorization; each refusal (no header, wrong URL, old
//! timestamp, wrong payload, a reused authorization, a key that is not an admin) has its
//! status; a ban takes effect on both shards at once and survives a restart; `banevent`
//! removes the event; the NIP-11 name follows `changerelayname`; bad bodies get clear errors
//! and the relay keeps serving; `parrhesia-tools admin` and `audit` work against it.

mod common;

use std::process::Command;

use base64::Engine;
use common::{Relay, hex, keys, note, one_per_shard, tools_binary};
use nostr::event::{EventBuilder, IntoEventBuilder};
use nostr::nips::nip98::{HttpData, HttpMethod, Sha256Hash};
use nostr::types::Timestamp;
use nostr::types::url::Url;
use sha2::Digest;

#[path = "../../engine/tests/support/fixed_signer.rs"]
mod fixed_signer;
use fixed_signer::FixedSigner;

const ADMIN_SEED: u8 = 110;

/// The Authorization header for `body` at `url`, built and signed by nostr; `adjust` may
/// change the builder (its timestamp) before signing.
fn authorization(
    signer: &FixedSigner,
    url: &str,
    body: &str,
    adjust: impl FnOnce(EventBuilder) -> EventBuilder,
) -> String {
    let payload = Sha256Hash::from_byte_array(sha2::Sha256::digest(body.as_bytes()).into());
    let data = HttpData::new(Url::parse(url).expect("url"), HttpMethod::POST).payload(payload);
    let event = signer.sign(adjust(data.into_event_builder()));
    format!("Nostr {}", base64::engine::general_purpose::STANDARD.encode(event.as_json()))
}

fn post(relay: &Relay, authorization: Option<&str>, body: &str) -> (u16, serde_json::Value) {
    let mut headers = vec![("Content-Type", "application/nostr+json+rpc")];
    if let Some(authorization) = authorization {
        headers.push(("Authorization", authorization));
    }
    let (status, text) = common::http_request(relay.port, "POST", "/", &headers, body.as_bytes());
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text:?}")))
}

/// One call by `signer` with a fresh authorization.
fn call(relay: &Relay, signer: &FixedSigner, method: &str, params: serde_json::Value) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "method": method, "params": params }).to_string();
    let url = format!("http://127.0.0.1:{}/", relay.port);
    post(relay, Some(&authorization(signer, &url, &body, |builder| builder)), &body)
}

fn error_of(answer: &(u16, serde_json::Value)) -> (u16, String) {
    (answer.0, answer.1["error"].as_str().unwrap_or_default().to_string())
}

#[test]
fn management_calls_are_authorized_recorded_and_applied_on_every_shard() {
    let admin = FixedSigner::new(ADMIN_SEED);
    let admin_hex = admin.public_key.to_hex();
    let relay = Relay::start(&["--shards", "2", "--set", &format!("admin_pubkeys={admin_hex}")]);
    let url = format!("http://127.0.0.1:{}/", relay.port);
    let (status, document) = relay.http_get("/", &[("Accept", "application/nostr+json")]);
    assert_eq!(status, 200);
    let nips = document_nips(&document);
    assert!(nips.contains(&86) && nips.contains(&98), "{nips:?}");

    let (status, answer) = call(&relay, &admin, "supportedmethods", serde_json::json!([]));
    assert_eq!(status, 200, "{answer}");
    assert!(answer["result"].as_array().unwrap().contains(&serde_json::json!("banpubkey")));

    // NIP-98, each check.
    let body = r#"{"method":"listbannedpubkeys","params":[]}"#;
    let stranger = FixedSigner::new(111);
    let old = |builder: EventBuilder| builder.custom_created_at(Timestamp::from_secs(common::now() - 120));
    let refusals: Vec<(Option<String>, u16, &str)> = vec![
        (None, 401, "auth-required:"),
        (Some(authorization(&admin, "http://127.0.0.1:1/", body, |b| b)), 401, "u tag"),
        (Some(authorization(&admin, &url, body, old)), 401, "within 60 seconds"),
        (Some(authorization(&admin, &url, "another body", |b| b)), 401, "payload tag"),
        (Some(authorization(&stranger, &url, body, |b| b)), 403, "restricted:"),
    ];
    for (header, status, part) in refusals {
        let (got_status, message) = error_of(&post(&relay, header.as_deref(), body));
        assert!(got_status == status && message.contains(part), "{part}: {got_status} {message}");
    }
    // (Another method than the tool's call below: two equal calls in one second have one id.)
    let listing = r#"{"method":"listbannedevents","params":[]}"#;
    let once = authorization(&admin, &url, listing, |b| b);
    assert_eq!(post(&relay, Some(&once), listing).0, 200);
    let (status, message) = error_of(&post(&relay, Some(&once), listing));
    assert!(status == 401 && message.contains("used already"), "a replay: {status} {message}");

    // Bad bodies: clear errors, and the relay keeps serving.
    for (body, status, part) in [
        ("not json", 400, "not JSON"),
        (r#"{"method":"dance","params":[]}"#, 400, "unknown method"),
        (r#"{"method":"banpubkey","params":["xyz"]}"#, 400, "64-hex"),
    ] {
        let header = authorization(&admin, &url, body, |b| b);
        let (got_status, message) = error_of(&post(&relay, Some(&header), body));
        assert!(got_status == status && message.contains(part), "{body}: {got_status} {message}");
    }
    let huge = [("Content-Type", "application/nostr+json+rpc"), ("Content-Length", "10000000")];
    assert_eq!(common::http_request(relay.port, "POST", "/", &huge, b"").0, 413);

    // A ban reaches both shards at once.
    let (mut first, mut second) = one_per_shard(&relay);
    let (alice, bob) = (keys(120), keys(121));
    assert_eq!(first.publish(&note(&alice, "before the ban")), (true, String::new()));
    let banned = call(&relay, &admin, "banpubkey", serde_json::json!([hex(alice.public_key()), "spam"]));
    assert_eq!(banned, (200, serde_json::json!({ "result": true })));
    for client in [&mut first, &mut second] {
        let (accepted, message) = client.publish(&note(&alice, &format!("after the ban, shard {}", client.shard)));
        assert!(!accepted && message == "blocked: this pubkey is banned here: spam", "{message}");
    }
    // banevent removes a stored event, and it is refused from then on.
    let unwanted = note(&bob, "unwanted");
    assert_eq!(second.publish(&unwanted), (true, String::new()));
    assert_eq!(call(&relay, &admin, "banevent", serde_json::json!([hex(unwanted.id()), "illegal"])).0, 200);
    let by_id = format!(r#"{{"ids":["{}"]}}"#, hex(unwanted.id()));
    assert!(first.req("gone", &[&by_id]).is_empty());
    let (accepted, message) = first.publish(&unwanted);
    assert!(!accepted && message.starts_with("blocked:"), "{message}");
    assert_eq!(call(&relay, &admin, "changerelayname", serde_json::json!(["Managed"])).0, 200);
    let (_, document) = relay.http_get("/", &[("Accept", "application/nostr+json")]);
    assert!(document.contains(r#""name":"Managed""#), "{document}");
    assert_eq!(call(&relay, &admin, "allowkind", serde_json::json!([1])).0, 200);
    let (accepted, message) = second.publish(&bob.sign(common::now(), 7, vec![], "+".into()));
    assert!(!accepted && message == "blocked: kind 7 is not accepted here", "{message}");
    assert_eq!(call(&relay, &admin, "disallowkind", serde_json::json!([1])).0, 200);

    // blockip: a blocked address loses the connections it holds and is closed at accept (a
    // client bound to 127.0.0.2 here), others are served; unblockip lets it in again.
    let mut held = common::Client::connect_from(&relay.url(), "127.0.0.2");
    assert!(held.req("before", &[r#"{"kinds":[1]}"#]).len() <= 3);
    assert_eq!(call(&relay, &admin, "blockip", serde_json::json!(["127.0.0.2", "abuse"])).0, 200);
    let (code, texts) = held.recv_until_closed();
    assert_eq!(code, Some(1008), "{texts:?}");
    assert!(texts.iter().any(|text| text.contains("blocked:")), "{texts:?}");
    assert_eq!(health_from(&relay, "127.0.0.2"), None, "closed without an answer");
    assert_eq!(health_from(&relay, "127.0.0.1"), Some(200));
    assert_eq!(call(&relay, &admin, "unblockip", serde_json::json!(["127.0.0.2"])).0, 200);
    assert_eq!(health_from(&relay, "127.0.0.2"), Some(200));

    // parrhesia-tools admin signs and calls the API the same way.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("admin.key");
    std::fs::write(&key, format!("{}\n", "6e".repeat(32))).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    assert_eq!("6e".repeat(32), hex(&[ADMIN_SEED; 32]), "the tool's key is the admin's");
    let listed =
        Command::new(tools_binary()).args(["admin", &url, "listbannedpubkeys", "--key"]).arg(&key).output().unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed, serde_json::json!([{ "pubkey": hex(alice.public_key()), "reason": "spam" }]));
    let refused = Command::new(tools_binary()).args(["admin", &url, "dance", "--key"]).arg(&key).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown method"));

    // After a restart: the ban and the name hold.
    let relay = relay.restart();
    let mut client = relay.connect();
    let (accepted, message) = client.publish(&note(&alice, "after the restart"));
    assert!(!accepted && message.starts_with("blocked: this pubkey is banned here"), "{message}");
    assert_eq!(client.publish(&note(&bob, "still welcome")), (true, String::new()));
    let (_, document) = relay.http_get("/", &[("Accept", "application/nostr+json")]);
    assert!(document.contains(r#""name":"Managed""#), "{document}");

    // The audit log has every recorded call (refused ones are not calls), oldest first.
    let audit = Command::new(tools_binary()).arg("audit").arg("--data-dir").arg(&relay.data_dir).output().unwrap();
    assert!(audit.status.success(), "{}", String::from_utf8_lossy(&audit.stderr));
    let methods: Vec<String> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["method"].as_str().unwrap().to_string())
        .collect();
    let expected = [
        "supportedmethods",
        "listbannedevents",
        "banpubkey",
        "banevent",
        "changerelayname",
        "allowkind",
        "disallowkind",
        "blockip",
        "unblockip",
        "listbannedpubkeys",
    ];
    assert_eq!(methods, expected);
    assert!(String::from_utf8_lossy(&audit.stdout).contains(&format!(r#""caller":"{admin_hex}""#)));
}

/// `GET /health` from a given local address: the status, or `None` if the relay closed the
/// connection without answering.
fn health_from(relay: &Relay, source: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&std::net::SocketAddr::new(source.parse().unwrap(), 0).into()).unwrap();
    socket.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], relay.port)).into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    stream.set_read_timeout(Some(common::WAIT)).unwrap();
    let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.split(' ').nth(1).and_then(|status| status.parse().ok())
}

fn document_nips(document: &str) -> Vec<u64> {
    let value: serde_json::Value = serde_json::from_str(document).unwrap();
    value["supported_nips"].as_array().unwrap().iter().filter_map(serde_json::Value::as_u64).collect()
}
