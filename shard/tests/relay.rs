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
    // `third` matches the closed "s" (its author) as well as "r": a delivery to "s" would be
    // queued with the one to "r", so it comes before the marker REQ's EOSE, and `next_event`
    // and `until_eose` fail on an EVENT for any other subscription.
    let third = note(&author, "third");
    assert!(publisher.publish(&third).0);
    assert_eq!(subscriber.next_event("r").id(), third.id(), "the replaced REQ matches kind 1");
    assert!(subscriber.req("marker", &[r#"{"kinds":[4242]}"#]).is_empty(), "nothing for the closed subscription");
}

#[test]
fn relay_information_and_http_routes() {
    let relay = Relay::start(&["--shards", "1", "--set", "relay_name=test relay"]);
    let (status, body) = relay.http_get("/", &[("Accept", "application/nostr+json")]);
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(document["name"], "test relay");
    assert!(document["supported_nips"].as_array().unwrap().contains(&serde_json::json!(1)));
    assert!(document["supported_nips"].as_array().unwrap().contains(&serde_json::json!(77)), "NIP-77 served");
    let nips: Vec<u64> =
        document["supported_nips"].as_array().unwrap().iter().filter_map(serde_json::Value::as_u64).collect();
    assert!(nips.contains(&17) && nips.contains(&59), "gift wraps gated by default: {nips:?}");
    assert!(nips.windows(2).all(|pair| pair[0] < pair[1]), "ascending: {nips:?}");
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

/// NIP-45 HLL: each relay's registers for a qualifying filter merge into the registers of the
/// union, so a client can add up several relays without counting shared events twice.
#[test]
fn count_carries_hll_registers_that_merge_across_relays() {
    let relays: Vec<Relay> = (0..3).map(|_| Relay::start(&["--shards", "1"])).collect();
    let target = "c0ffee".repeat(10) + "abcd";
    let reactions: Vec<parrhesia_engine::Event> = (10..70u8)
        .map(|author| keys(author).sign(common::now(), 7, vec![vec!["e".into(), target.clone()]], "+".into()))
        .collect();
    // The first relay holds the first two thirds, the second the last two thirds, the third all.
    let shares = [&reactions[..40], &reactions[20..], &reactions[..]];
    let filter = format!(r##"{{"kinds":[7],"#e":["{target}"]}}"##);
    let mut answers = Vec::new();
    for (relay, share) in relays.iter().zip(shares) {
        let mut client = relay.connect();
        for event in share {
            assert!(client.publish(event).0);
        }
        client.send_text(&format!(r#"["COUNT","c",{filter}]"#));
        let RelayMessage::Count { count, approximate, hll: Some(hll), .. } = client.recv() else {
            panic!("a qualifying COUNT answers with registers");
        };
        assert_eq!((count, approximate), (share.len() as u64, false));
        let offset = usize::from(target.as_bytes()[32] % 24);
        answers.push(parrhesia_engine::hll::Hll::from_hex(offset, &hll).expect("512 hex characters"));
        // Two tag conditions do not qualify: no registers.
        client.send_text(&format!(r##"["COUNT","d",{{"#e":["{target}"],"#p":["{target}"]}}]"##));
        assert!(matches!(client.recv(), RelayMessage::Count { hll: None, .. }));
    }
    let mut merged = answers[0].clone();
    merged.merge(&answers[1]);
    assert_eq!(merged, answers[2], "merged registers are the union's");
    let estimate = merged.estimate() as f64;
    assert!((estimate - 60.0).abs() / 60.0 < 0.2, "estimate {estimate} for 60 distinct reactions");
}

/// The relay's own key (`relay_key_file`): NIP-11 `self` (and `pubkey` unless the operator
/// sets one), read from a `keygen --nostr` file or an `nsec1...` one; a file others may read,
/// or one without a key, stops the relay at start with the reason.
#[test]
fn the_relay_key_is_nip11_self_and_a_bad_key_file_is_refused_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("relay.key");
    let output = std::process::Command::new(common::tools_binary())
        .args(["keygen", "--nostr", "--out"])
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(output.status.success());
    let public = String::from_utf8(output.stdout).unwrap().trim().to_string();
    let document = |relay: &Relay| -> serde_json::Value {
        serde_json::from_str(&relay.http_get("/", &[("Accept", "application/nostr+json")]).1).unwrap()
    };
    let key_flag = format!("relay_key_file={}", key_file.display());
    let relay = Relay::start(&["--shards", "1", "--set", &key_flag]);
    assert_eq!(document(&relay)["self"], public);
    assert_eq!(document(&relay)["pubkey"], public, "no relay_pubkey: the relay's own");
    drop(relay);
    let operator = "ab".repeat(32);
    let relay = Relay::start(&["--shards", "1", "--set", &key_flag, "--set", &format!("relay_pubkey={operator}")]);
    assert_eq!(
        (document(&relay)["self"].clone(), document(&relay)["pubkey"].clone()),
        (public.clone().into(), operator.into())
    );
    drop(relay);

    // NIP-19's example secret key, as an nsec file.
    std::fs::create_dir(dir.path().join("nsec")).unwrap();
    let nsec_file = common::nip19_example_key_file(&dir.path().join("nsec"));
    let relay = Relay::start(&["--shards", "1", "--set", &format!("relay_key_file={}", nsec_file.display())]);
    assert_eq!(document(&relay)["self"], common::NIP19_EXAMPLE_PUBLIC);
    drop(relay);

    let refused = |path: &std::path::Path| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_parrhesia"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--set", &format!("relay_key_file={}", path.display())])
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    std::fs::set_permissions(&nsec_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(refused(&nsec_file).contains("may be read by others"));
    let empty = dir.path().join("empty.key");
    std::fs::write(&empty, "not a key\n").unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(refused(&empty).contains("holds no secret key"));
}

/// Gift wraps readable by anyone: the relay no longer claims NIP-17/59.
#[test]
fn nip17_and_59_are_listed_only_while_gift_wraps_are_gated() {
    let relay = Relay::start(&["--shards", "1", "--set", "read_restricted_kinds=4"]);
    let (_, body) = relay.http_get("/", &[("Accept", "application/nostr+json")]);
    let document: serde_json::Value = serde_json::from_str(&body).unwrap();
    let nips = document["supported_nips"].as_array().unwrap();
    assert!(!nips.contains(&serde_json::json!(17)) && !nips.contains(&serde_json::json!(59)), "{nips:?}");
}

/// An EVENT whose claimed id the store holds is answered `duplicate:` before it is decoded:
/// the same answer as before for a true duplicate, the same answer for a forgery of a held id
/// (nothing is stored either way), still under the EVENT rate limit and behind AUTH.
#[test]
fn a_held_id_is_answered_duplicate_at_once_within_rate_limits_and_auth() {
    let relay = Relay::start(&["--shards", "1"]);
    let mut client = relay.connect();
    let event = note(&keys(80), "once");
    assert!(client.publish(&event).0);
    assert_eq!(client.publish(&event), (true, "duplicate: already have this event".to_string()));
    // The held id with other content: answered as a duplicate, the stored event unchanged.
    let forged = event.json().replace("once", "twice");
    client.send_text(&format!(r#"["EVENT",{forged}]"#));
    match client.recv() {
        parrhesia_engine::RelayMessage::Ok { event_id, accepted, message } => {
            assert_eq!(
                (&event_id, accepted, message.as_ref()),
                (event.id(), true, "duplicate: already have this event")
            );
        }
        other => panic!("{}", other.encode()),
    }
    let held = relay.connect().req("one", &[&format!(r#"{{"ids":["{}"]}}"#, hex(event.id()))]);
    assert_eq!(held[0].content(), "once");
    let scrape = common::metrics::scrape(&relay);
    assert_eq!(common::metrics::total(&scrape, "parrhesia_events_total", &[("outcome", "duplicate")]), 2.0);
    drop(relay);

    let relay = Relay::start(&["--shards", "1", "--set", "rate_event_connection=1/1"]);
    let mut client = relay.connect();
    assert!(client.publish(&event).0);
    let (accepted, message) = client.publish(&event);
    assert!(!accepted && message.starts_with("rate-limited:"), "a duplicate is an EVENT like any other: {message}");
    drop(relay);

    let relay = Relay::start(&["--shards", "1", "--set", "auth_required=writes"]);
    let mut client = relay.connect();
    let (accepted, message) = client.publish(&event);
    assert!(!accepted && message.starts_with("auth-required:"), "{message}");
}

/// NIP-66: with a relay key and URL, the relay probes itself and publishes a kind 30166 for
/// its URL (round trips, NIPs and requirements, the NIP-11 document) and a 10166
/// announcement, signed by NIP-11 `self`: read back and verified by a third-party library.
#[test]
fn the_relay_monitors_itself_and_publishes_nip66_events_signed_by_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = common::nip19_example_key_file(dir.path());
    let relay_key = common::NIP19_EXAMPLE_PUBLIC;
    let relay = Relay::start(&[
        "--shards",
        "2",
        "--set",
        &format!("relay_key_file={}", key_file.display()),
        "--set",
        "relay_url=WSS://Relay.Example.com",
        "--set",
        "monitor_interval_seconds=1",
    ]);
    let filter = format!(r#"{{"authors":["{relay_key}"],"kinds":[30166]}}"#);
    let deadline = std::time::Instant::now() + common::WAIT;
    let discovery = loop {
        if let Some(event) = relay.connect().req("nip66", &[&filter]).pop() {
            break event;
        }
        assert!(std::time::Instant::now() < deadline, "no 30166 published");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let parsed = nostr::event::Event::from_json(discovery.json().to_string()).unwrap();
    assert!(parsed.verify().is_ok(), "signed by the relay key");
    assert_eq!(parsed.pubkey.to_hex(), relay_key);
    let tags: Vec<Vec<String>> = discovery.tags().to_vec();
    let value = |name: &str| tags.iter().find(|tag| tag[0] == name).map(|tag| tag[1].clone());
    assert_eq!(value("d").as_deref(), Some("wss://relay.example.com/"));
    assert!(value("rtt-open").unwrap().parse::<u64>().is_ok() && value("rtt-read").unwrap().parse::<u64>().is_ok());
    let nips: Vec<&str> = tags.iter().filter(|tag| tag[0] == "N").map(|tag| tag[1].as_str()).collect();
    assert!(nips.contains(&"1") && nips.contains(&"66"), "{nips:?}");
    let requirements: Vec<&str> = tags.iter().filter(|tag| tag[0] == "R").map(|tag| tag[1].as_str()).collect();
    assert!(requirements.contains(&"!auth") && requirements.contains(&"!payment"), "{requirements:?}");
    let document: serde_json::Value = serde_json::from_str(discovery.content()).unwrap();
    assert_eq!(document["self"], relay_key);
    let announcements = relay.connect().req("nip66", &[&format!(r#"{{"authors":["{relay_key}"],"kinds":[10166]}}"#)]);
    assert_eq!(announcements.len(), 1);
    let parsed = nostr::event::Event::from_json(announcements[0].json().to_string()).unwrap();
    assert!(parsed.verify().is_ok());
    assert!(announcements[0].tags().iter().any(|tag| tag[0] == "frequency" && tag[1] == "1"));
    // Without the key, no monitoring: refused at start with the reason.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_parrhesia"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("other"))
        .args(["--set", "monitor_interval_seconds=60"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs `relay_key_file`"));
}
