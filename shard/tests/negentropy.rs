//! NIP-77 against the real binary: a client (the negentropy crate, as strfry's clients use it)
//! reconciles seeded random sets with the relay's store and ends with exactly the naive set
//! difference; the bounds refuse cleanly and a malformed message ends only its session.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

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

/// 600 events of one author on a new relay (published), and the filter that selects them.
fn relay_with_events(random: &mut SeededRandom) -> (Relay, Vec<Event>, String) {
    let relay = Relay::start(&["--shards", "1", "--durability", "nosync"]);
    let mut client = relay.connect();
    let author = keys(77);
    let events: Vec<Event> = (0..600)
        .map(|n| author.sign(1_700_000_000 + random.below(100_000), 1, vec![], format!("negentropy {n}")))
        .collect();
    for event in &events {
        assert!(client.publish(event).0);
    }
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    (relay, events, filter)
}

/// Client sets against the relay's `events`: empty, equal, disjoint, overlapping, nearly equal.
fn client_sets(random: &mut SeededRandom, events: &[Event]) -> Vec<(&'static str, Vec<Item>)> {
    // Ids the relay does not have (no event behind them is needed to reconcile).
    let foreign: Vec<Item> = (0..400).map(|_| (1_700_000_000 + random.below(100_000), random.bytes32())).collect();
    let some_of = |random: &mut SeededRandom, percent| -> Vec<Item> {
        events.iter().filter(|_| random.chance(percent)).map(item).collect()
    };
    vec![
        ("empty client", Vec::new()),
        ("equal", events.iter().map(item).collect()),
        ("disjoint", foreign.clone()),
        ("overlap", [some_of(random, 70), foreign[..150].to_vec()].concat()),
        ("mostly equal", [some_of(random, 99), foreign[..3].to_vec()].concat()),
    ]
}

/// Checks a reconciliation's outcome against the naive set differences.
fn check_differences(
    name: &str,
    events: &[Event],
    items: &[Item],
    have: &BTreeSet<[u8; 32]>,
    need: &BTreeSet<[u8; 32]>,
) {
    let on_relay: BTreeSet<[u8; 32]> = events.iter().map(|event| *event.id()).collect();
    let held: BTreeSet<[u8; 32]> = items.iter().map(|(_, id)| *id).collect();
    assert_eq!(*need, on_relay.difference(&held).copied().collect(), "{name}: what the client lacks");
    assert_eq!(*have, held.difference(&on_relay).copied().collect(), "{name}: what the relay lacks");
}

#[test]
fn reconciliation_finds_exactly_the_set_differences() {
    let mut random = SeededRandom::new(7702);
    let (relay, events, filter) = relay_with_events(&mut random);
    let mut client = relay.connect();
    for (name, items) in client_sets(&mut random, &events) {
        let (have, need) = reconcile(&mut client, &filter, &items);
        check_differences(name, &events, &items, &have, &need);
    }
    // The connection still serves ordinary requests.
    assert_eq!(client.req("after", &[&filter]).len(), 500.min(events.len()));
}

/// The directory where the Node harness (`tests/interop`) runs, its npm packages installed
/// from the committed lock file (once, and again when the lock file changes).
fn reference_harness() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _installing = INSTALL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-node");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::read(source.join("package-lock.json")).unwrap();
    let installed = std::fs::read(dir.join("package-lock.json")).is_ok_and(|copy| copy == lock)
        && dir.join("node_modules/applesauce-relay/package.json").is_file()
        && dir.join("node_modules/ws/package.json").is_file();
    for file in ["package.json", "package-lock.json", "negentropy_reference.mjs"] {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    if !installed {
        let output = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&dir)
            .output()
            .expect("npm (Node.js) runs the reference implementation");
        assert!(output.status.success(), "npm ci failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    dir
}

/// The reference implementation of negentropy (Node.js) reconciles with the relay, in one
/// round and, with a small frame limit, in several.
#[test]
fn the_reference_implementation_reconciles_with_the_relay() {
    let harness = reference_harness();
    let mut random = SeededRandom::new(7707);
    let (relay, events, filter) = relay_with_events(&mut random);
    // Rounds without a frame limit and with one.
    let mut rounds = [0, 0];
    for (name, items) in client_sets(&mut random, &events) {
        let file = harness.join(format!("items-{}.jsonl", relay.pid()));
        let lines: Vec<String> = items.iter().map(|(at, id)| format!(r#"[{at},"{}"]"#, hex(id))).collect();
        std::fs::write(&file, lines.join("\n")).unwrap();
        for frame_limit in ["0", "4096"] {
            let output = Command::new("node")
                .arg(harness.join("negentropy_reference.mjs"))
                .args(["client", &relay.url(), &filter])
                .arg(&file)
                .arg(frame_limit)
                .output()
                .expect("node runs");
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(output.status.success(), "{name}: {}{stdout}", String::from_utf8_lossy(&output.stderr));
            let outcome: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
            let ids = |key: &str| -> BTreeSet<[u8; 32]> {
                let list = outcome[key].as_array().unwrap();
                list.iter().map(|id| parrhesia_engine::hex::decode_array(id.as_str().unwrap()).unwrap()).collect()
            };
            check_differences(
                &format!("{name}, frame limit {frame_limit}"),
                &events,
                &items,
                &ids("have"),
                &ids("need"),
            );
            rounds[usize::from(frame_limit != "0")] += outcome["rounds"].as_u64().unwrap();
        }
    }
    assert!(rounds[1] > rounds[0], "a frame limit splits the exchange into more rounds: {rounds:?}");
}

/// A client's first negentropy message when it holds nothing (hex, for NEG-OPEN).
fn empty_client_message() -> String {
    let mut storage = NegentropyStorageVector::new();
    storage.seal().unwrap();
    hex(&Negentropy::owned(storage, 4096).unwrap().initiate().unwrap())
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
    let empty_client = empty_client_message();
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

/// A relay that accepted `events` and was then stopped (its store for `parrhesia-tools sync`).
fn stopped_relay_with(events: &[Event]) -> Relay {
    let mut relay = Relay::start(&["--shards", "1", "--durability", "nosync"]);
    let mut client = relay.connect();
    for event in events {
        assert!(client.publish(event).0);
    }
    drop(client);
    relay.stop();
    relay
}

/// `parrhesia-tools sync URL --dir DIRECTION` of `local`'s store, over `author`'s events; its
/// report (stderr).
fn tools_sync(url: &str, direction: &str, local: &Relay, author: &parrhesia_engine::Keys) -> String {
    let output = Command::new(common::tools_binary())
        .args(["sync", url, "--dir", direction, "--data-dir"])
        .arg(&local.data_dir)
        .args(["--filter", &format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()))])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{report}");
    report
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
    let local = stopped_relay_with(&events[30..]);
    let sync = |direction: &str| tools_sync(&remote.url(), direction, &local, &author);
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

/// `parrhesia-tools sync` (the negentropy crate as initiator) against a relay whose negentropy
/// side is the reference implementation: both end with the union, and a second sync has
/// nothing to do.
#[test]
fn tools_sync_reconciles_with_the_reference_implementation() {
    let harness = reference_harness();
    let author = keys(80);
    let events: Vec<Event> = (0..90).map(|n| common::note(&author, &format!("reference sync {n}"))).collect();
    let local = stopped_relay_with(&events[30..]);
    let (_reference, url) = reference_relay(&harness, &format!("sync-{}", local.pid()), &events[..60]);
    let sync = || tools_sync(&url, "both", &local, &author);
    let report = sync();
    assert!(report.contains("have 30 (here only), need 30 (there only); downloaded 30, uploaded 30"), "{report}");
    assert!(sync().contains("have 0 (here only), need 0 (there only)"), "nothing left to do");
    let all: BTreeSet<[u8; 32]> = events.iter().map(|event| *event.id()).collect();
    let on_reference: BTreeSet<[u8; 32]> =
        common::Client::connect(&url).req("all", &["{}"]).iter().map(|event| *event.id()).collect();
    assert_eq!(on_reference, all);
    let filter = format!(r#"{{"authors":["{}"],"limit":500}}"#, hex(author.public_key()));
    let local = local.restart();
    let on_local: BTreeSet<[u8; 32]> = local.connect().req("all", &[&filter]).iter().map(|event| *event.id()).collect();
    assert_eq!(on_local, all);
}

/// A relay mirroring the reference implementation (`[[mirror]]`, down) catches up by NIP-77:
/// the events only the reference holds are fetched by id, those both hold are not sent.
#[test]
fn a_mirror_stream_catches_up_from_the_reference_implementation() {
    let harness = reference_harness();
    let author = keys(81);
    let events: Vec<Event> = (0..120).map(|n| common::note(&author, &format!("reference mirror {n}"))).collect();
    let local = stopped_relay_with(&events[..40]);
    let (_reference, url) = reference_relay(&harness, &format!("mirror-{}", local.pid()), &events);
    let config = local.data_dir.with_file_name("mirror.toml");
    std::fs::write(&config, format!("[[mirror]]\nname = \"reference\"\nurls = [\"{url}\"]\n")).unwrap();
    let local = Relay::start_in(&local.data_dir, &["--shards", "1", "--config", config.to_str().unwrap()]);
    let filter = format!(r#"{{"authors":["{}"],"limit":500}}"#, hex(author.public_key()));
    let all: BTreeSet<[u8; 32]> = events.iter().map(|event| *event.id()).collect();
    let scrape = common::metrics::scrape_until(&local, "the stream caught up and went live", |scrape| {
        let stream = [("mirror", "reference")];
        common::metrics::total(scrape, "parrhesia_mirror_catch_ups_negentropy_total", &stream) == 1.0
            && common::metrics::total(scrape, "parrhesia_mirror_catching_up", &stream) == 0.0
    });
    let held: BTreeSet<[u8; 32]> = local.connect().req("all", &[&filter]).iter().map(|event| *event.id()).collect();
    assert_eq!(held, all);
    let fetched = common::metrics::total(&scrape, "parrhesia_mirror_catch_up_events_total", &[("mirror", "reference")]);
    assert_eq!(fetched, 80.0, "only the 80 events the relay lacked were fetched");
}

/// The reference implementation as a relay over `events` (a file named after `name` in the
/// harness directory): the process and its URL.
fn reference_relay(harness: &Path, name: &str, events: &[Event]) -> (common::ChildGuard, String) {
    let file = harness.join(format!("events-{name}.jsonl"));
    let lines: Vec<&str> = events.iter().map(|event| event.json().as_ref()).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let mut node = Command::new("node");
    node.arg(harness.join("negentropy_reference.mjs")).arg("relay").arg(&file);
    let (reference, port) = common::spawn_listening(&mut node);
    (reference, format!("ws://127.0.0.1:{port}"))
}

/// A burst of NEG-OPENs sent before the first is answered starts no more sessions than
/// `negentropy_sessions_max`: opens still scanning count (each scan may hold up to
/// `negentropy_items_max` items, so a burst could otherwise hold that times the burst).
#[test]
fn a_burst_of_opens_is_held_to_the_session_bound() {
    // Scans in slices of one candidate: each open yields many times before its session is held.
    let relay = Relay::start(&[
        "--shards",
        "1",
        "--durability",
        "nosync",
        "--set",
        "negentropy_sessions_max=2",
        "--set",
        "scan_budget_candidates_max=1",
    ]);
    let mut client = relay.connect();
    // Enough events that a scan outlasts the executor's time slice (it then yields, and the
    // next opens in the burst are read while it runs).
    let author = keys(79);
    let events: Vec<String> =
        (0..3000).map(|n| format!(r#"["EVENT",{}]"#, common::note(&author, &format!("burst {n}")).json())).collect();
    for chunk in events.chunks(500) {
        client.send_burst(chunk);
        for _ in chunk {
            assert!(matches!(client.recv(), RelayMessage::Ok { accepted: true, .. }));
        }
    }
    let empty_client = empty_client_message();
    let opens = 12;
    let burst: Vec<String> =
        (0..opens).map(|n| format!(r#"["NEG-OPEN","s{n}",{{"kinds":[1]}},"{empty_client}"]"#)).collect();
    client.send_burst(&burst);
    let (mut held, mut refused) = (0, 0);
    for _ in 0..opens {
        match client.recv() {
            RelayMessage::NegMsg { .. } => held += 1,
            RelayMessage::NegErr { message, .. } if message.starts_with("blocked: at most 2") => refused += 1,
            other => panic!("unexpected {}", other.encode()),
        }
    }
    assert_eq!((held, refused), (2, opens - 2));
}
