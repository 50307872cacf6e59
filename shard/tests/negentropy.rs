//! NIP-77 against the real binary: a client (the negentropy crate, as strfry's clients use it)
//! reconciles seeded random sets with the relay's store and ends with exactly the naive set
//! difference; the bounds refuse cleanly and a malformed message ends only its session.

mod common;

use std::collections::BTreeSet;

use common::{Client, Relay, hex, keys};
use negentropy::{Id, Negentropy, NegentropyStorageVector};
use parrhesia_engine::{Event, RelayMessage, SeededRandom};

/// Runs the whole reconciliation for `filter` from a client holding `items`; returns the ids
/// the client has and the relay lacks, and the ids the relay has and the client lacks.
fn reconcile(client: &mut Client, filter: &str, items: &[Item]) -> (BTreeSet<[u8; 32]>, BTreeSet<[u8; 32]>) {
    let mut storage = NegentropyStorageVector::new();
    for (created_at, id) in items {
        storage.insert(*created_at, Id::from_byte_array(*id)).unwrap();
    }
    storage.seal().unwrap();
    let mut negentropy = Negentropy::owned(storage, 4096).unwrap();
    let initial = negentropy.initiate().unwrap();
    client.send_text(&format!(r#"["NEG-OPEN","sync",{filter},"{}"]"#, hex(&initial)));
    let (mut have, mut need) = (Vec::new(), Vec::new());
    let mut rounds = 0;
    loop {
        let message = match client.recv() {
            RelayMessage::NegMsg { subscription_id, message } if subscription_id == "sync" => message,
            other => panic!("expected NEG-MSG, got {}", other.encode()),
        };
        rounds += 1;
        assert!(rounds < 100, "reconciliation never ended");
        match negentropy.reconcile_with_ids(&message, &mut have, &mut need).unwrap() {
            Some(next) => client.send_text(&format!(r#"["NEG-MSG","sync","{}"]"#, hex(&next))),
            None => break,
        }
    }
    client.send_text(r#"["NEG-CLOSE","sync"]"#);
    let ids = |list: Vec<Id>| list.into_iter().map(|id| id.to_bytes()).collect();
    (ids(have), ids(need))
}

/// A negentropy item: (created_at, id).
type Item = (u64, [u8; 32]);

fn item(event: &Event) -> Item {
    (event.created_at(), *event.id())
}

#[test]
fn reconciliation_finds_exactly_the_set_differences() {
    let relay = Relay::start(&["--shards", "1", "--durability", "nosync"]);
    let mut client = relay.connect();
    let mut random = SeededRandom::new(7702);
    let author = keys(77);
    let events: Vec<Event> = (0..600)
        .map(|n| author.sign(1_700_000_000 + random.below(100_000), 1, vec![], format!("negentropy {n}")))
        .collect();
    for event in &events {
        assert!(client.publish(event).0);
    }
    let on_relay: BTreeSet<[u8; 32]> = events.iter().map(|event| *event.id()).collect();
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    // Ids the relay does not have (no event behind them is needed to reconcile).
    let foreign: Vec<Item> = (0..400).map(|_| (1_700_000_000 + random.below(100_000), random.bytes32())).collect();
    let some_of = |random: &mut SeededRandom, percent| -> Vec<Item> {
        events.iter().filter(|_| random.chance(percent)).map(item).collect()
    };
    let cases: Vec<(&str, Vec<Item>)> = vec![
        ("empty client", Vec::new()),
        ("equal", events.iter().map(item).collect()),
        ("disjoint", foreign.clone()),
        ("overlap", [some_of(&mut random, 70), foreign[..150].to_vec()].concat()),
        ("mostly equal", [some_of(&mut random, 99), foreign[..3].to_vec()].concat()),
    ];
    for (name, items) in cases {
        let (have, need) = reconcile(&mut client, &filter, &items);
        let held: BTreeSet<[u8; 32]> = items.iter().map(|(_, id)| *id).collect();
        assert_eq!(need, on_relay.difference(&held).copied().collect(), "{name}: what the client lacks");
        assert_eq!(have, held.difference(&on_relay).copied().collect(), "{name}: what the relay lacks");
    }
    // The connection still serves ordinary requests.
    assert_eq!(client.req("after", &[&filter]).len(), 500.min(events.len()));
}

#[test]
fn bounds_and_malformed_messages_refuse_cleanly() {
    let relay = Relay::start(&[
        "--shards",
        "1",
        "--durability",
        "nosync",
        "--set",
        "negentropy_items_max=5",
        "--set",
        "negentropy_sessions_max=1",
    ]);
    let mut client = relay.connect();
    let author = keys(78);
    for n in 0..6 {
        assert!(client.publish(&common::note(&author, &format!("bounded {n}"))).0);
    }
    let empty_client = {
        let mut storage = NegentropyStorageVector::new();
        storage.seal().unwrap();
        hex(&Negentropy::owned(storage, 4096).unwrap().initiate().unwrap())
    };
    let neg_err = |client: &mut Client, id: &str| match client.recv() {
        RelayMessage::NegErr { subscription_id, message } if subscription_id == id => message.to_string(),
        other => panic!("expected NEG-ERR for {id}, got {}", other.encode()),
    };
    // More matching events than a session may hold.
    client.send_text(&format!(r#"["NEG-OPEN","all",{{}},"{empty_client}"]"#));
    assert!(neg_err(&mut client, "all").starts_with("blocked:"));
    // One session per connection here: the second is refused, the first keeps working.
    let few = r#"{"kinds":[1],"limit":1,"since":0,"until":1}"#;
    client.send_text(&format!(r#"["NEG-OPEN","one",{few},"{empty_client}"]"#));
    assert!(matches!(client.recv(), RelayMessage::NegMsg { .. }));
    client.send_text(&format!(r#"["NEG-OPEN","two",{few},"{empty_client}"]"#));
    assert!(neg_err(&mut client, "two").starts_with("blocked:"));
    // A malformed message ends its session only.
    client.send_text(r#"["NEG-MSG","one","61000005"]"#); // mode 5 does not exist
    assert!(neg_err(&mut client, "one").starts_with("invalid:"));
    client.send_text(r#"["NEG-MSG","one","61"]"#);
    assert!(neg_err(&mut client, "one").starts_with("closed:"), "the session is gone");
    client.send_text(&format!(r#"["NEG-OPEN","bad",{few},"00"]"#));
    assert!(neg_err(&mut client, "bad").starts_with("invalid:"), "not protocol version 1");
    // The connection is fine: an ordinary REQ is answered.
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    assert_eq!(client.req("req", &[&filter]).len(), 6);
}

/// `parrhesia-tools sync`: a stopped relay's store and a running relay end up holding the
/// union of their events; a second sync finds nothing to do.
#[test]
fn tools_sync_moves_what_each_side_lacks() {
    let author = keys(79);
    let events: Vec<Event> = (0..90).map(|n| common::note(&author, &format!("sync {n}"))).collect();
    let remote = Relay::start(&["--shards", "1", "--durability", "nosync"]);
    let mut on_remote = remote.connect();
    for event in &events[..60] {
        assert!(on_remote.publish(event).0);
    }
    let mut local = Relay::start(&["--shards", "1", "--durability", "nosync"]);
    let mut on_local = local.connect();
    for event in &events[30..] {
        assert!(on_local.publish(event).0);
    }
    drop(on_local);
    local.stop();
    let sync = |direction: &str| {
        let output = std::process::Command::new(common::tools_binary())
            .args(["sync", &remote.url(), "--dir", direction, "--data-dir"])
            .arg(&local.data_dir)
            .args(["--filter", &format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()))])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{report}");
        report
    };
    let report = sync("both");
    assert!(report.contains("have 30 (here only), need 30 (there only); downloaded 30, uploaded 30"), "{report}");
    assert!(sync("both").contains("have 0 (here only), need 0 (there only)"), "nothing left to do");
    let filter = format!(r#"{{"authors":["{}"],"limit":500}}"#, hex(author.public_key()));
    let all: BTreeSet<[u8; 32]> = events.iter().map(|event| *event.id()).collect();
    let held = |relay: &Relay| -> BTreeSet<[u8; 32]> {
        relay.connect().req("all", &[&filter]).iter().map(|event| *event.id()).collect()
    };
    assert_eq!(held(&remote), all);
    let local = local.restart();
    assert_eq!(held(&local), all);
}
