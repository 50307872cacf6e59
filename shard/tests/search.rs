//! NIP-50 search through the real binary: ranked stored results, live matches held to the
//! same words and kinds, a deletion removing a hit, and a store whose search kinds differ
//! from the configuration refused at start with what to do.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Relay, keys, now};
use parrhesia_engine::RelayMessage;

fn contents(events: &[parrhesia_engine::Event]) -> Vec<String> {
    events.iter().map(|event| event.content().to_string()).collect()
}

fn ids(events: &[parrhesia_engine::Event]) -> Vec<[u8; 32]> {
    events.iter().map(|event| *event.id()).collect()
}

/// A filter for `event` by its id.
fn by_id(event: &parrhesia_engine::Event) -> String {
    format!(r#"{{"ids":["{}"]}}"#, parrhesia_engine::hex::encode(event.id()))
}

#[test]
fn search_ranks_stored_events_and_matches_live_ones_by_the_same_words() {
    let relay = Relay::start(&["--shards", "2"]);
    let mut client = relay.connect();
    let author = keys(1);
    let at = now() - 100;
    let notes = [
        "Coffee, coffee and more COFFEE",
        "I had a coffee this morning with a friend before the long meeting about budgets",
        "tea is better",
        "the coffeehouse opens at nine",
    ];
    for (offset, text) in notes.iter().enumerate() {
        let note = author.sign(at + offset as u64, 1, Vec::new(), text.to_string());
        assert!(client.publish(&note).0);
    }
    // A reaction saying "coffee": kind 7 is not indexed, so no search finds it.
    assert!(client.publish(&author.sign(at, 7, Vec::new(), "coffee".into())).0);

    let found = client.req("whole", &[r#"{"search":"coffee "}"#]);
    assert_eq!(contents(&found), [notes[0], notes[1]], "best first: the note saying coffee three times");
    let prefixed = client.req("prefix", &[r#"{"search":"cof"}"#]);
    assert_eq!(prefixed.len(), 3, "coffee and coffeehouse: {:?}", contents(&prefixed));
    assert!(client.req("none", &[r#"{"search":"coffee tea"}"#]).is_empty());
    assert!(client.req("reactions", &[r#"{"search":"coffee","kinds":[7]}"#]).is_empty());
    let limited = client.req("limited", &[r#"{"search":"coffee morning ","limit":1}"#]);
    assert_eq!(contents(&limited), [notes[1]]);

    // Live: a search subscription gets new notes holding its words, of indexed kinds only.
    let mut listener = relay.connect();
    assert!(listener.req("live", &[r#"{"search":"espresso "}"#]).is_empty());
    let mut publisher = relay.connect();
    // Each is stored (OK true) and fanned out in turn: had either of the first two been
    // delivered, it would have come before `wanted` (`next_event` fails on it).
    let reaction = author.sign(now(), 7, Vec::new(), "espresso".into());
    assert_eq!(publisher.publish(&reaction), (true, String::new()));
    assert_eq!(publisher.publish(&author.sign(now(), 1, Vec::new(), "no match here".into())), (true, String::new()));
    let wanted = author.sign(now(), 1, Vec::new(), "Espresso at noon".into());
    assert_eq!(publisher.publish(&wanted), (true, String::new()));
    assert_eq!(listener.next_event("live").id(), wanted.id());
    assert!(listener.quiet_for(Duration::from_millis(300)), "only the matching note is delivered");

    // A deletion takes the note out of the results.
    let deletion =
        author.sign(now(), 5, vec![vec!["e".into(), parrhesia_engine::hex::encode(found[0].id())]], String::new());
    assert!(client.publish(&deletion).0);
    assert_eq!(contents(&client.req("after", &[r#"{"search":"coffee "}"#])), [notes[1]]);
    // COUNT counts the matches.
    client.send_text(r#"["COUNT","c",{"search":"cof"}]"#);
    match client.recv() {
        RelayMessage::Count { count, .. } => assert_eq!(count, 2),
        other => panic!("expected COUNT, got {other:?}"),
    }
}

#[test]
fn a_store_indexed_for_other_kinds_is_refused_until_reindexed() {
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path().join("data");
    let mut relay = Relay::start_in(&data_dir, &["--shards", "1"]);
    let author = keys(2);
    let article = author.sign(now(), 30023, vec![vec!["d".into(), "a".into()]], "article about gardens".into());
    let mut client = relay.connect();
    assert_eq!(client.publish(&article), (true, String::new()));
    assert_eq!(ids(&client.req("article", &[r#"{"search":"gardens "}"#])), [*article.id()], "30023 indexed by default");
    drop(client);
    relay.stop();
    // Another kinds list: the relay refuses to start and says what to run.
    let binary = env!("CARGO_BIN_EXE_parrhesia");
    let refused = Command::new(binary)
        .args(["--listen", "127.0.0.1:1", "--data-dir"])
        .arg(&data_dir)
        .args(["--set", "search_kinds=1"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("parrhesia-tools reindex"), "{said}");
    let reindex = Command::new(common::tools_binary())
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["reindex", "--search-kinds", "1"])
        .output()
        .unwrap();
    assert!(reindex.status.success(), "{}", String::from_utf8_lossy(&reindex.stderr));
    let relay = Relay::start_in(&data_dir, &["--shards", "1", "--set", "search_kinds=1"]);
    let mut client = relay.connect();
    assert!(client.req("article", &[r#"{"search":"gardens "}"#]).is_empty(), "30023 is no longer indexed");
    client.send_text(r#"["CLOSE","article"]"#);
    assert_eq!(ids(&client.req("stored", &[&by_id(&article)])), [*article.id()], "the article is still stored");
    let spring = author.sign(now(), 1, Vec::new(), "gardens in spring".into());
    assert_eq!(client.publish(&spring), (true, String::new()));
    assert_eq!(ids(&relay.connect().req("note", &[r#"{"search":"gardens "}"#])), [*spring.id()]);
}

/// `parrhesia-tools import --config FILE` builds a new store for the relay's `search_kinds`, so
/// the relay started with the same file serves it (export, then import, keeps an operator's
/// kinds).
#[test]
fn import_indexes_the_configured_search_kinds() {
    let directory = tempfile::tempdir().unwrap();
    let data_dir = directory.path().join("data");
    let config = directory.path().join("parrhesia.toml");
    std::fs::write(&config, format!("data_dir = {:?}\nsearch_kinds = [1]\n", data_dir.display().to_string())).unwrap();
    let author = keys(3);
    let events = [
        author.sign(now(), 1, Vec::new(), "gardens in spring".into()),
        author.sign(now(), 30023, vec![vec!["d".into(), "a".into()]], "an article about gardens".into()),
    ];
    let file = directory.path().join("events.jsonl");
    std::fs::write(&file, events.iter().map(|event| format!("{}\n", event.json())).collect::<String>()).unwrap();
    let import =
        Command::new(common::tools_binary()).arg("--config").arg(&config).arg("import").arg(&file).output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let config_arg = config.display().to_string();
    let relay = Relay::start_in(&data_dir, &["--shards", "1", "--config", &config_arg]);
    let mut client = relay.connect();
    let found = client.req("gardens", &[r#"{"search":"gardens "}"#]);
    assert_eq!(contents(&found), ["gardens in spring"], "only kind 1 is indexed");
    assert_eq!(ids(&client.req("article", &[&by_id(&events[1])])), [*events[1].id()], "the article was imported");
}
