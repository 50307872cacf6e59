//! `parrhesia-tools export` and `import` through the real binary: a store round-trips through
//! JSON lines, and a store of the previous schema version, which the relay refuses, is moved.

use std::path::Path;
use std::process::Command;

use heed::types::Bytes;
use parrhesia_engine::{Event, Filter, Keys, Limits};
use parrhesia_storage::{Outcome, StorageError, Store, StoreOptions};

const NOW: u64 = 1_700_000_000;

fn tools(arguments: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_parrhesia-tools")).args(arguments).output().expect("runs");
    assert!(output.status.success(), "{arguments:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

fn events() -> Vec<Event> {
    let keys = Keys::from_secret_bytes([3; 32]).expect("valid secret");
    let mut events: Vec<Event> = (0..50)
        .map(|n| keys.sign(NOW - n, 1, vec![vec!["t".into(), format!("tag{}", n % 5)]], format!("note {n}")))
        .collect();
    events.push(keys.sign(NOW, 0, vec![], "{\"name\":\"x\"}".into()));
    events.push(keys.sign(NOW, 30023, vec![vec!["d".into(), "slug".into()]], "article".into()));
    events
}

fn stored_ids(path: &Path) -> Vec<[u8; 32]> {
    let store = Store::open(path, &StoreOptions::default()).expect("opens");
    let all = Filter::parse("{}", &Limits::default()).expect("parses");
    let mut ids: Vec<[u8; 32]> =
        store.query(&[all], u64::MAX, NOW).expect("queries").iter().map(|stored| stored.header.id).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn a_store_round_trips_through_json_lines() {
    let old = tempfile::tempdir().unwrap();
    let new = tempfile::tempdir().unwrap();
    let file = old.path().join("events.jsonl");
    {
        let store = Store::open(old.path(), &StoreOptions::default()).unwrap();
        let outcomes = store.apply(&events(), NOW).unwrap();
        assert!(outcomes.iter().all(|outcome| matches!(outcome, Outcome::Stored { .. })));
    }
    let (old_dir, out) = (old.path().to_str().unwrap(), file.to_str().unwrap());
    tools(&["export", "--data-dir", old_dir, "--out", out]);
    let lines = std::fs::read_to_string(&file).unwrap();
    assert_eq!(lines.lines().count(), events().len());
    for line in lines.lines() {
        let event = Event::parse(line, &Limits::default()).expect("exported lines are events");
        assert_eq!(&**event.json(), line, "exported as the stored canonical JSON");
    }
    let output = tools(&["import", "--data-dir", new.path().to_str().unwrap(), "--batch-events-max", "7", out]);
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(report.contains("52 stored, 0 duplicates"), "{report}");
    assert_eq!(stored_ids(new.path()), stored_ids(old.path()));
    let output = tools(&["stats", "--data-dir", new.path().to_str().unwrap()]);
    let table = String::from_utf8_lossy(&output.stdout);
    let events_line = table.lines().find(|line| line.starts_with("events ")).expect("an events row");
    assert_eq!(events_line.split_whitespace().nth(1), Some("52"), "{table}");
    // Importing again stores nothing new.
    let output = tools(&["import", "--data-dir", new.path().to_str().unwrap(), out]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("0 stored, 52 duplicates"));
}

/// Writes a store as schema version 1 wrote it: meta version 1 and records of a 123-byte
/// header followed by the JSON.
fn write_version_1_store(path: &Path, events: &[Event]) {
    // SAFETY: opened once in this process, closed before anything else opens it.
    let env = unsafe { heed::EnvOpenOptions::new().max_dbs(11).map_size(1 << 30).open(path) }.unwrap();
    let created = env
        .create_databases_and_commit(env.write_txn().unwrap(), |opener, txn| -> Result<_, heed::Error> {
            let events = opener.create_database::<Bytes, Bytes>(txn, Some("events"))?;
            let meta = opener.create_database::<Bytes, Bytes>(txn, Some("meta"))?;
            Ok(heed::CommitOrAbort::<_, ()>::Commit((events, meta)))
        })
        .unwrap();
    let heed::CommitOrAbort::Commit((events_table, meta)) = created else { unreachable!("never aborts") };
    let mut txn = env.write_txn().unwrap();
    meta.put(&mut txn, b"schema_version", &1u32.to_be_bytes()).unwrap();
    meta.put(&mut txn, b"node_id", &[0; 32]).unwrap();
    for (position, event) in events.iter().enumerate() {
        let mut record = vec![1u8];
        record.extend_from_slice(event.id());
        record.extend_from_slice(event.pubkey());
        record.extend_from_slice(&event.created_at().to_be_bytes());
        record.extend_from_slice(&event.kind().to_be_bytes());
        record.extend_from_slice(&[0; 8 + 32 + 8]);
        assert_eq!(record.len(), 123);
        record.extend_from_slice(event.json().as_bytes());
        events_table.put(&mut txn, &(position as u64 + 1).to_be_bytes(), &record).unwrap();
    }
    txn.commit().unwrap();
    env.prepare_for_closing().wait();
}

#[test]
fn a_version_1_store_is_refused_with_the_way_out_and_moved() {
    let old = tempfile::tempdir().unwrap();
    let new = tempfile::tempdir().unwrap();
    write_version_1_store(old.path(), &events());
    let data_before = std::fs::read(old.path().join("data.mdb")).unwrap();
    let refusal = Store::open(old.path(), &StoreOptions::default()).expect_err("an old store is refused");
    assert!(
        matches!(
            refusal,
            StorageError::SchemaVersion { found: 1, expected: parrhesia_storage::schema::SCHEMA_VERSION }
        ),
        "{refusal}"
    );
    let message = refusal.to_string();
    let data_after = std::fs::read(old.path().join("data.mdb")).unwrap();
    assert!(data_before == data_after, "refusing the old store wrote nothing to it");
    assert!(message.contains("parrhesia-tools export") && message.contains("parrhesia-tools import"), "{message}");
    let file = new.path().join("moved.jsonl");
    tools(&["export", "--data-dir", old.path().to_str().unwrap(), "--out", file.to_str().unwrap()]);
    let store_dir = new.path().join("store");
    let output = tools(&["import", "--data-dir", store_dir.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("52 stored"));
    let mut expected: Vec<[u8; 32]> = events().iter().map(|event| *event.id()).collect();
    expected.sort_unstable();
    assert_eq!(stored_ids(&store_dir), expected);
}
