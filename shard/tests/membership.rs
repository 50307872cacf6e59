//! NIP-43 against the real binary, as a client sees it, every request built and signed by a
//! third-party library (the `nostr` crate): invites only for authenticated members and
//! admins, a join with a good claim answered `claim-accepted:` and the relay's 8000 and member
//! list published (signed by NIP-11 `self`), a second join `claim-ignored:`, forged, expired
//! and stale requests refused with their prefixes, `write_access = members` enforced, and a
//! leave ending it (8001, the list without the member).

mod common;
#[path = "../../engine/tests/support/fixed_signer.rs"]
mod fixed_signer;

use std::time::{Duration, Instant};

use common::{Client, Relay, WAIT};
use fixed_signer::FixedSigner;
use nostr::event::{EventBuilder, Kind, Tag};
use nostr::types::Timestamp;
use parrhesia_engine::RelayMessage;

const URL: &str = "wss://relay.example.com";
const RELAY_KEY: &str = common::NIP19_EXAMPLE_PUBLIC;

fn send(client: &mut Client, event: &nostr::event::Event) -> (bool, String) {
    client.send_text(&format!(r#"["EVENT",{}]"#, event.as_json()));
    loop {
        if let RelayMessage::Ok { event_id, accepted, message } = client.recv()
            && event_id == event.id.to_bytes()
        {
            return (accepted, message.to_string());
        }
    }
}

fn request(signer: &FixedSigner, kind: u16, tags: &[[&str; 2]], created_at: u64) -> nostr::event::Event {
    let tags = tags.iter().map(|tag| Tag::parse(*tag).unwrap());
    signer.sign(EventBuilder::new(Kind::Custom(kind), "").tags(tags).custom_created_at(Timestamp::from(created_at)))
}

fn note(signer: &FixedSigner, content: &str) -> nostr::event::Event {
    signer.sign(EventBuilder::new(Kind::TextNote, content))
}

/// AUTHs `client` as `signer` (the challenge comes with a refusal).
fn authenticate(client: &mut Client, signer: &FixedSigner) {
    client.send_text(r#"["REQ","x",{"kinds":[28935]}]"#);
    let challenge = loop {
        if let RelayMessage::Auth { challenge } = client.recv() {
            break challenge.to_string();
        }
    };
    let auth = request(signer, 22242, &[["relay", URL], ["challenge", &challenge]], common::now());
    client.send_text(&format!(r#"["AUTH",{}]"#, auth.as_json()));
    loop {
        if let RelayMessage::Ok { event_id, accepted, message } = client.recv()
            && event_id == auth.id.to_bytes()
        {
            assert!(accepted, "{message}");
            return;
        }
    }
}

/// The invite an authenticated client gets for a REQ of kind 28935, or the CLOSED message.
fn ask_invite(client: &mut Client) -> Result<String, String> {
    client.send_text(r#"["REQ","invite",{"kinds":[28935]}]"#);
    loop {
        match client.recv() {
            RelayMessage::Event { subscription_id, event } if subscription_id == "invite" => {
                let parsed = nostr::event::Event::from_json(event.as_ref()).unwrap();
                assert!(parsed.verify().is_ok(), "the invite is signed");
                assert_eq!(parsed.pubkey.to_hex(), RELAY_KEY, "by NIP-11 self");
                assert_eq!(parsed.kind, Kind::Custom(28935));
                let claim = parsed.tags.iter().find_map(|tag| match tag.as_slice() {
                    [name, value, ..] if name == "claim" => Some(value.clone()),
                    _ => None,
                });
                let claim = claim.expect("a claim tag");
                assert!(matches!(client.recv(), RelayMessage::Eose { .. }));
                return Ok(claim);
            }
            RelayMessage::Closed { subscription_id, message } if subscription_id == "invite" => {
                return Err(message.to_string());
            }
            _ => {}
        }
    }
}

/// The relay's member list once it is `expected` (its events commit after the request's OK).
/// The settings of a members-only NIP-43 relay with this key file and admin, and `more`.
fn members_only(key_file: &std::path::Path, admin: &str, more: &[&str]) -> Vec<String> {
    let mut sets = vec![
        format!("relay_key_file={}", key_file.display()),
        format!("relay_url={URL}"),
        "nip43=true".to_string(),
        "write_access=members".to_string(),
        format!("admin_pubkeys={admin}"),
    ];
    sets.extend(more.iter().map(|set| set.to_string()));
    sets
}

/// A two-shard relay with these settings.
fn start(sets: &[String]) -> Relay {
    let mut args = vec!["--shards", "2"];
    for set in sets {
        args.extend(["--set", set.as_str()]);
    }
    Relay::start(&args)
}

fn members_become(relay: &Relay, expected: &[String]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let lists = relay.connect().req("list", &[&format!(r#"{{"authors":["{RELAY_KEY}"],"kinds":[13534]}}"#)]);
        let listed: Vec<String> =
            lists.last().map(|list| list.tag_values("member").map(str::to_string).collect()).unwrap_or_default();
        if listed == expected {
            return;
        }
        assert!(Instant::now() < deadline, "the list is {listed:?}, not {expected:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Publishes notes as `signer` until `accepted` holds of the answer (the other shard takes a
/// change when its events fan out there).
fn until_note(relay: &Relay, signer: &FixedSigner, accepted: bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (ok, message) = send(&mut relay.connect(), &note(signer, &format!("note {}", common::now())));
        if ok == accepted {
            return message;
        }
        assert!(Instant::now() < deadline, "still {message:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn members_join_with_an_invite_write_while_members_and_leave() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = common::nip19_example_key_file(dir.path());
    let (admin, alice, bob) = (FixedSigner::new(90), FixedSigner::new(91), FixedSigner::new(92));
    let relay = start(&members_only(&key_file, &admin.public_key.to_hex(), &["invite_ttl_seconds=3"]));
    let (_, document) = relay.http_get("/", &[("Accept", "application/nostr+json")]);
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    assert!(document["supported_nips"].as_array().unwrap().contains(&serde_json::json!(43)));
    assert_eq!(document["limitation"]["restricted_writes"], true);

    // Not a member: writes refused; invites need AUTH, then membership.
    let (ok, message) = send(&mut relay.connect(), &note(&alice, "before joining"));
    assert!(!ok && message.starts_with("restricted:"), "{message}");
    let mut alice_client = relay.connect();
    assert!(ask_invite(&mut alice_client).unwrap_err().starts_with("auth-required:"));
    authenticate(&mut alice_client, &alice);
    assert!(ask_invite(&mut alice_client).unwrap_err().starts_with("restricted:"));

    // An admin gets an invite; alice joins with it.
    let mut admin_client = relay.connect();
    authenticate(&mut admin_client, &admin);
    let claim = ask_invite(&mut admin_client).unwrap();
    let join = request(&alice, 28934, &[["claim", &claim]], common::now());
    assert_eq!(send(&mut alice_client, &join), (true, format!("claim-accepted: Welcome to {URL}!")));
    until_note(&relay, &alice, true);
    members_become(&relay, &[alice.public_key.to_hex()]);
    let added = relay.connect().req("added", &[&format!(r#"{{"authors":["{RELAY_KEY}"],"kinds":[8000]}}"#)]);
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].tag_values("p").collect::<Vec<_>>(), vec![alice.public_key.to_hex()]);
    let again = request(&alice, 28934, &[["claim", &claim]], common::now());
    assert_eq!(
        send(&mut alice_client, &again),
        (true, "claim-ignored: You are already a member of this relay.".into())
    );
    // A claim is spent once used, whoever brings it next.
    let reused = request(&bob, 28934, &[["claim", &claim]], common::now());
    assert_eq!(
        send(&mut relay.connect(), &reused),
        (false, "restricted: That invite code was used already.".to_string())
    );
    // A member may invite too.
    let bob_claim = ask_invite(&mut alice_client).unwrap();

    // Forged, stale and (after the TTL) expired claims.
    let mut forged = bob_claim.clone().into_bytes();
    forged[40] = if forged[40] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    let (ok, message) = send(&mut relay.connect(), &request(&bob, 28934, &[["claim", &forged]], common::now()));
    assert_eq!((ok, message.as_str()), (false, "restricted: That is an invalid invite code."));
    let stale = request(&bob, 28934, &[["claim", &bob_claim]], common::now() - 1000);
    assert!(send(&mut relay.connect(), &stale).1.starts_with("invalid:"));
    std::thread::sleep(Duration::from_secs(4));
    let late = request(&bob, 28934, &[["claim", &bob_claim]], common::now());
    assert_eq!(send(&mut relay.connect(), &late), (false, "restricted: That invite code is expired.".to_string()));

    // Alice leaves: 8001, the list without her, and her writes refused again.
    let leave = request(&alice, 28936, &[], common::now());
    assert!(send(&mut alice_client, &leave).0);
    assert!(until_note(&relay, &alice, false).starts_with("restricted:"));
    members_become(&relay, &[]);
    let removed = relay.connect().req("removed", &[&format!(r#"{{"authors":["{RELAY_KEY}"],"kinds":[8001]}}"#)]);
    assert_eq!(removed.len(), 1);
    drop(relay);

    // NIP-86, by an admin through `parrhesia-tools admin`: addmember, listmembers, removemember.
    let admin_key = dir.path().join("admin.key");
    let output = std::process::Command::new(common::tools_binary())
        .args(["keygen", "--nostr", "--out"])
        .arg(&admin_key)
        .output()
        .unwrap();
    let admin_hex = String::from_utf8(output.stdout).unwrap().trim().to_string();
    let relay = start(&members_only(&key_file, &admin_hex, &[]));
    let manage = |method: &str, params: &[String]| -> String {
        let output = std::process::Command::new(common::tools_binary())
            .args(["admin", &format!("http://127.0.0.1:{}/", relay.port), method])
            .args(params)
            .arg("--key")
            .arg(&admin_key)
            .args(["--signed-url", URL])
            .output()
            .unwrap();
        assert!(output.status.success(), "{method}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let bob_hex = bob.public_key.to_hex();
    assert!(manage("supportedmethods", &[]).contains("addmember"));
    manage("addmember", std::slice::from_ref(&bob_hex));
    assert!(manage("listmembers", &[]).contains(&bob_hex));
    until_note(&relay, &bob, true);
    members_become(&relay, std::slice::from_ref(&bob_hex));
    manage("removemember", std::slice::from_ref(&bob_hex));
    assert!(until_note(&relay, &bob, false).starts_with("restricted:"));
    assert!(!manage("listmembers", &[]).contains(&bob_hex));
}

/// In a cluster sharing the relay key: a claim one node issued is good on another, a join on
/// one node makes a member everywhere (the 8000 and the list replicate), and the metrics count
/// what each node answered.
#[test]
fn membership_is_one_across_a_cluster() {
    use common::cluster::{Mesh, wait_for_log};
    let dir = tempfile::tempdir().unwrap();
    let key_file = common::nip19_example_key_file(dir.path());
    let (admin, alice, bob) = (FixedSigner::new(93), FixedSigner::new(94), FixedSigner::new(95));
    let sets = members_only(&key_file, &admin.public_key.to_hex(), &[]);
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let mesh = Mesh::new(2);
    let nodes = [mesh.start_with(0, &sets), mesh.start_with(1, &sets)];
    for node in &nodes {
        wait_for_log(node, "link up", 1);
    }
    let mut admin_client = nodes[0].connect();
    authenticate(&mut admin_client, &admin);
    let alice_claim = ask_invite(&mut admin_client).unwrap();
    let bob_claim = ask_invite(&mut admin_client).unwrap();
    // Alice joins on node 0 and may then write on node 1; bob joins on node 1 with node 0's claim.
    let join = request(&alice, 28934, &[["claim", &alice_claim]], common::now());
    assert!(send(&mut nodes[0].connect(), &join).1.starts_with("claim-accepted:"));
    until_note(&nodes[1], &alice, true);
    // Alice's addition committed on node 1 (its list is there) before bob joins there.
    members_become(&nodes[1], &[alice.public_key.to_hex()]);
    let join = request(&bob, 28934, &[["claim", &bob_claim]], common::now());
    assert!(send(&mut nodes[1].connect(), &join).1.starts_with("claim-accepted:"));
    until_note(&nodes[0], &bob, true);
    // Both nodes hold both additions; each list names its node's joiner at least, and the
    // members both fold are the same.
    for node in &nodes {
        let deadline = Instant::now() + WAIT;
        loop {
            let added =
                node.connect().req("added", &[&format!(r#"{{"authors":["{RELAY_KEY}"],"kinds":[8000]}}"#)]).len();
            if added == 2 {
                break;
            }
            assert!(Instant::now() < deadline, "{added} additions on {}", node.url());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // The same member list on both nodes: the one event, naming both.
    let mut both = vec![alice.public_key.to_hex(), bob.public_key.to_hex()];
    both.sort();
    for node in &nodes {
        members_become(node, &both);
    }
    let list = |node: &Relay| {
        *node.connect().req("list", &[&format!(r#"{{"authors":["{RELAY_KEY}"],"kinds":[13534]}}"#)])[0].id()
    };
    assert_eq!(list(&nodes[0]), list(&nodes[1]));
    let scrape = common::metrics::scrape(&nodes[1]);
    assert_eq!(common::metrics::total(&scrape, "parrhesia_nip43_requests_total", &[("outcome", "join_accepted")]), 1.0);
}
