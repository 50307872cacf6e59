//! A cluster operated as one relay, with real processes: a NIP-86 change made on one node
//! (recorded as a policy entry carrying the admin's NIP-98 authorization) holds on every node;
//! an entry signed by a key that is an admin only where it was made holds nowhere else; bans
//! and unbans made on both sides of a partition converge to the same answer after it heals;
//! a banned event stays out, also on a node wiped and filled again from its peers.

mod common;

use std::time::{Duration, Instant};

use common::cluster::*;
use common::proxy::Fault;
use common::{Relay, WAIT, hex, keys, note};
use parrhesia_engine::Keys;
use serde_json::{Value, json};

/// One NIP-86 call on `relay` by `admin` (a fresh NIP-98 authorization: a nonce tag keeps two
/// calls in one second apart); (status, answer).
fn manage(relay: &Relay, admin: &Keys, method: &str, params: Value) -> (u16, Value) {
    let body = json!({ "method": method, "params": params }).to_string();
    let header = authorization(admin, &format!("http://127.0.0.1:{}/", relay.port), &body);
    post(relay, &header, &body)
}

/// A fresh NIP-98 `Authorization` header for `body` at `url`.
fn authorization(admin: &Keys, url: &str, body: &str) -> String {
    use sha2::Digest;
    static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tags = [
        ["u".to_string(), url.to_string()],
        ["method".to_string(), "POST".to_string()],
        ["payload".to_string(), hex(&sha2::Sha256::digest(body.as_bytes()))],
        ["nonce".to_string(), NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_string()],
    ];
    let auth = admin.sign(common::now(), 27235, tags.map(Vec::from).to_vec(), String::new());
    parrhesia_engine::nip98::header_value(&auth)
}

fn post(relay: &Relay, header: &str, body: &str) -> (u16, Value) {
    let headers = [("Content-Type", "application/nostr+json+rpc"), ("Authorization", header)];
    let (status, text) = common::http_request(relay.port, "POST", "/", &headers, body.as_bytes());
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text:?}")))
}

fn change(relay: &Relay, admin: &Keys, method: &str, params: Value) {
    let answer = manage(relay, admin, method, params);
    assert_eq!(answer, (200, json!({ "result": true })), "{method} on {}", relay.url());
}

/// The banned pubkeys `relay` lists, sorted.
fn banned(relay: &Relay, admin: &Keys) -> Vec<String> {
    let (status, answer) = manage(relay, admin, "listbannedpubkeys", json!([]));
    assert_eq!(status, 200, "{answer}");
    let mut keys: Vec<String> = answer["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["pubkey"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

/// Waits until `relay` lists exactly `expected` as banned.
fn until_banned(relay: &Relay, admin: &Keys, expected: &[&Keys]) {
    let mut expected: Vec<String> = expected.iter().map(|keys| hex(keys.public_key())).collect();
    expected.sort();
    let deadline = Instant::now() + WAIT;
    while banned(relay, admin) != expected {
        assert!(Instant::now() < deadline, "{} lists {:?}, not {expected:?}", relay.url(), banned(relay, admin));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `relay` lists `id` among its banned events (NIP-86 `listbannedevents`).
fn until_event_banned(relay: &Relay, admin: &Keys, id: &[u8; 32]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, answer) = manage(relay, admin, "listbannedevents", json!([]));
        assert_eq!(status, 200, "{answer}");
        let listed = answer["result"].as_array().unwrap().iter().any(|entry| entry["id"] == json!(hex(id)));
        if listed {
            return;
        }
        assert!(Instant::now() < deadline, "{} does not list {} as banned", relay.url(), hex(id));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Publishes fresh notes by `author` on `relay` until one is answered as `accepted`; returns
/// how long that took, and the refusal's message.
fn until_publish(relay: &Relay, author: &Keys, accepted: bool) -> (Duration, String) {
    // Every note is new: one published on another node in the same second would be answered
    // `duplicate:` (and `true`) whatever the policy.
    static NOTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    let mut client = relay.connect();
    loop {
        let number = NOTES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (ok, message) = client.publish(&note(author, &format!("attempt {number}")));
        assert!(!message.starts_with("duplicate:"), "{message}");
        if ok == accepted {
            return (started.elapsed(), message);
        }
        assert!(started.elapsed() < WAIT, "{}: still {ok} ({message})", relay.url());
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn admins(keys: &[&Keys]) -> String {
    let list: Vec<String> = keys.iter().map(|keys| hex(keys.public_key())).collect();
    format!("admin_pubkeys={}", list.join(","))
}

#[test]
fn a_change_on_one_node_holds_on_every_node_and_an_entry_from_a_stranger_holds_nowhere_else() {
    let (admin, rogue, spammer, victim, marker) = (keys(120), keys(121), keys(122), keys(123), keys(124));
    let mesh = Mesh::new(3);
    let (ours, with_rogue) = (admins(&[&admin]), admins(&[&admin, &rogue]));
    let mut nodes: Vec<Relay> = vec![
        mesh.start_with(0, &[with_rogue.as_str()]),
        mesh.start_with(1, &[ours.as_str()]),
        mesh.start_with(2, &[ours.as_str()]),
    ];
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }

    // A ban on A: B and C refuse the pubkey's next events and list the same bans.
    change(&nodes[0], &admin, "banpubkey", json!([hex(spammer.public_key()), "spam"]));
    for node in &nodes[1..] {
        let (took, message) = until_publish(node, &spammer, false);
        assert_eq!(message, "blocked: this pubkey is banned here: spam");
        eprintln!("ban made on A refused on {} after {took:?}", node.url());
    }
    for node in &nodes {
        until_banned(node, &admin, &[&spammer]);
    }

    // The rogue is an admin on A only: its ban holds on A and nowhere else. The marker's ban,
    // made after it in A's policy log, shows B and C have read past it.
    change(&nodes[0], &rogue, "banpubkey", json!([hex(victim.public_key()), "rogue"]));
    change(&nodes[0], &admin, "banpubkey", json!([hex(marker.public_key()), "marker"]));
    until_publish(&nodes[0], &victim, false);
    for node in &nodes[1..] {
        until_publish(node, &marker, false);
        until_publish(node, &victim, true);
        until_banned(node, &admin, &[&spammer, &marker]);
    }

    // An unban on C lifts the ban everywhere.
    change(&nodes[2], &admin, "unbanpubkey", json!([hex(spammer.public_key())]));
    for node in &nodes {
        until_publish(node, &spammer, true);
    }

    // B's record of the changes: where each was made, by whom, and which is the newest of its
    // key (the rogue's entry is kept there, and counts only where the rogue is an admin).
    let audit = std::process::Command::new(common::tools_binary())
        .args(["audit", "--changes", "--data-dir"])
        .arg(&nodes[1].data_dir)
        .output()
        .unwrap();
    assert!(audit.status.success(), "{}", String::from_utf8_lossy(&audit.stderr));
    let changes: Vec<Value> =
        String::from_utf8_lossy(&audit.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let summary: Vec<(String, String, String, String, bool)> = changes
        .iter()
        .map(|change| {
            let text = |field: &str| change[field].as_str().unwrap().to_string();
            (text("method"), text("key"), text("node"), text("caller"), change["newest_of_key"].as_bool().unwrap())
        })
        .collect();
    let spammer_key = format!("p:{}", hex(spammer.public_key()));
    let node = |index: usize| mesh.specs[index].public_key.clone();
    let (by_admin, by_rogue) = (hex(admin.public_key()), hex(rogue.public_key()));
    let row = |method: &str, key: String, at: usize, caller: &str, newest: bool| {
        (method.to_string(), key, node(at), caller.to_string(), newest)
    };
    assert_eq!(
        summary,
        [
            row("banpubkey", spammer_key.clone(), 0, &by_admin, false),
            row("banpubkey", format!("p:{}", hex(victim.public_key())), 0, &by_rogue, true),
            row("banpubkey", format!("p:{}", hex(marker.public_key())), 0, &by_admin, true),
            row("unbanpubkey", spammer_key, 2, &by_admin, true),
        ]
    );

    // An event banned on B leaves every store and stays out, also of a node wiped and filled
    // again from its peers.
    let author = keys(125);
    let doomed = note(&author, "to be banned");
    assert!(nodes[0].connect().publish(&doomed).0);
    let by_id = format!(r#"{{"ids":["{}"]}}"#, hex(doomed.id()));
    for node in &nodes {
        wait_for_events(node, &by_id, 1);
    }
    change(&nodes[1], &admin, "banevent", json!([hex(doomed.id()), "illegal"]));
    let kept = note(&author, "kept");
    assert!(nodes[1].connect().publish(&kept).0);
    let by_author = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    for node in &nodes {
        until_held(node, &by_id, 0);
        wait_for_events(node, &by_id.replace(&hex(doomed.id()), &hex(kept.id())), 1);
        let (ok, message) = node.connect().publish(&doomed);
        assert_eq!((ok, message.as_str()), (false, "blocked: this event is banned here: illegal"), "{}", node.url());
    }
    let mut wiped = nodes.pop().unwrap();
    wiped.stop();
    std::fs::remove_dir_all(mesh.specs[2].dir.path().join("data")).unwrap();
    let wiped = mesh.start_with(2, &[ours.as_str()]);
    wait_for_events(&wiped, &by_author, 1);
    until_banned(&wiped, &admin, &[&marker]);
    // The ban came back from B's log: from then on nothing brings the event in.
    until_event_banned(&wiped, &admin, doomed.id());
    let held = wiped.connect().req("after wipe", &[&by_author]);
    assert_eq!(held.iter().map(|event| *event.id()).collect::<Vec<_>>(), [*kept.id()], "the banned event stays out");
    assert!(!wiped.connect().publish(&doomed).0, "and is refused");
}

#[test]
fn bans_and_unbans_on_both_sides_of_a_partition_converge_after_it_heals() {
    let admin = keys(130);
    let (x, y, z) = (keys(131), keys(132), keys(133));
    let setting = admins(&[&admin]);
    let (specs, proxies, nodes) = proxied_cluster(&[setting.as_str()]);
    let key = |index: usize| -> [u8; 32] { parrhesia_engine::hex::decode_array(&specs[index].public_key).unwrap() };
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    // B alone is cut off, links and datagrams, both ways.
    proxies[1].set(Fault::Cut);
    proxies[0].block(key(1));
    proxies[2].block(key(1));
    wait_for_log(a, "member down", 1);
    wait_for_log(b, "member down", 2);
    // In time order (the admin's clock, then each node's): the later decision about each key
    // wins: z banned (A, last), x not banned (B's unban after A's ban), y banned (B).
    let hex_of = |keys: &Keys| json!([hex(keys.public_key())]);
    change(b, &admin, "unbanpubkey", hex_of(&z));
    change(a, &admin, "banpubkey", hex_of(&x));
    change(b, &admin, "unbanpubkey", hex_of(&x));
    change(b, &admin, "banpubkey", hex_of(&y));
    change(a, &admin, "banpubkey", hex_of(&z));
    until_banned(a, &admin, &[&x, &z]);
    until_banned(&nodes[2], &admin, &[&x, &z]);
    assert_eq!(banned(b, &admin), [hex(y.public_key())], "B decided alone while cut off");
    proxies[1].set(Fault::Pass);
    proxies[0].unblock_all();
    proxies[2].unblock_all();
    for node in &nodes {
        until_banned(node, &admin, &[&y, &z]);
        until_publish(node, &x, true);
        until_publish(node, &y, false);
    }
}

/// The events of `filter` `relay` holds, waiting until there are exactly `count`.
fn until_held(relay: &Relay, filter: &str, count: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let held = relay.connect().req("held", &[filter]).len();
        if held == count {
            return;
        }
        assert!(Instant::now() < deadline, "{} holds {held} events of {filter}, not {count}", relay.url());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_delete_with_an_admin_key_holds_on_every_node_through_anti_entropy_and_a_wipe() {
    let keys_dir = tempfile::tempdir().unwrap();
    let admin_key = keys_dir.path().join("admin.key");
    let output = std::process::Command::new(common::tools_binary())
        .args(["keygen", "--nostr", "--out"])
        .arg(&admin_key)
        .output()
        .unwrap();
    assert!(output.status.success());
    let setting = format!("admin_pubkeys={}", String::from_utf8_lossy(&output.stdout).trim());
    let mesh = Mesh::new(3);
    let sets = [setting.as_str(), "cluster.anti_entropy_interval_seconds=1"];
    let mut nodes: Vec<Relay> = (0..3).map(|index| mesh.start_with(index, &sets)).collect();
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    let author = keys(140);
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let events = publish_stream(&mut [nodes[0].connect()], &author, 20, "to delete");
    for node in &nodes {
        wait_for_events(node, &filter, events.len());
    }
    // Deleted on B's store while B is stopped, as an admin: the bans replicate from B's log.
    let mut b = nodes.remove(1);
    b.stop();
    let doomed: Vec<String> = events[..5].iter().map(|event| format!("\"{}\"", hex(event.id()))).collect();
    let delete = std::process::Command::new(common::tools_binary())
        .args(["delete", "--filter", &format!(r#"{{"ids":[{}]}}"#, doomed.join(",")), "--admin-key"])
        .arg(&admin_key)
        .arg("--data-dir")
        .arg(&b.data_dir)
        .output()
        .unwrap();
    assert!(delete.status.success(), "{}", String::from_utf8_lossy(&delete.stderr));
    nodes.insert(1, b.restart());
    for node in &nodes {
        until_held(node, &filter, events.len() - 5);
    }
    // Anti-entropy sessions after the delete bring nothing back (the local delete without a
    // key is undone by them: `anti_entropy_repairs_events_removed_under_a_cursor`).
    for node in &nodes {
        let started = common::metrics::total(
            &common::metrics::scrape(node),
            "parrhesia_cluster_anti_entropy_completed_total",
            &[],
        );
        common::metrics::scrape_until(node, "two more anti-entropy sessions", |scrape| {
            common::metrics::total(scrape, "parrhesia_cluster_anti_entropy_completed_total", &[]) >= started + 2.0
        });
    }
    for node in &nodes {
        assert_eq!(node.connect().req("after", &[&filter]).len(), events.len() - 5, "{}", node.url());
    }
    // A wiped node pulls every log back, and the deleted events stay out of it too.
    let mut wiped = nodes.pop().unwrap();
    wiped.stop();
    std::fs::remove_dir_all(mesh.specs[2].dir.path().join("data")).unwrap();
    let wiped = mesh.start_with(2, &sets);
    let admin = Keys::from_secret_text(&std::fs::read_to_string(&admin_key).unwrap()).unwrap();
    for event in &events[..5] {
        until_event_banned(&wiped, &admin, event.id());
    }
    until_held(&wiped, &filter, events.len() - 5);
    common::metrics::scrape_until(&wiped, "an anti-entropy session", |scrape| {
        common::metrics::total(scrape, "parrhesia_cluster_anti_entropy_completed_total", &[]) >= 1.0
    });
    assert_eq!(wiped.connect().req("after wipe", &[&filter]).len(), events.len() - 5);
    let (ok, message) = wiped.connect().publish(&events[0]);
    assert_eq!((ok, message.as_str()), (false, "blocked: this event is banned here: deleted by the operator"));
}

#[test]
fn an_authorization_used_on_one_node_is_refused_on_the_others() {
    // Both nodes serve one URL (as behind one name), so one authorization is valid on either.
    let admin = keys(150);
    let spammer = keys(151);
    let mesh = Mesh::new(2);
    let sets = [admins(&[&admin]), "relay_url=wss://cluster.test".to_string()];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let nodes: Vec<Relay> = (0..2).map(|index| mesh.start_with(index, &sets)).collect();
    for node in &nodes {
        wait_for_log(node, "link up", 1);
    }
    let body = json!({ "method": "banpubkey", "params": [hex(spammer.public_key()), "spam"] }).to_string();
    let header = authorization(&admin, "https://cluster.test/", &body);
    assert_eq!(post(&nodes[0], &header, &body), (200, json!({ "result": true })));
    until_publish(&nodes[1], &spammer, false);
    let (status, answer) = post(&nodes[1], &header, &body);
    assert_eq!((status, answer["error"].as_str()), (401, Some("invalid: this authorization was used already")));
    assert_eq!(post(&nodes[0], &header, &body).0, 401, "and on the node it was made on");
}
