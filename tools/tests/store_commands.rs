//! `parrhesia-tools` through the real binary: filtered and ordered export, an import with bad
//! lines, the directory lock, verify on a sound and on a damaged store, delete, compact, stats.

use std::path::Path;
use std::process::{Command, Output};

use parrhesia_engine::{Event, Filter, Keys, Limits};
use parrhesia_storage::{DirectoryLock, Store, StoreOptions};

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn run(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parrhesia-tools")).args(arguments).output().expect("runs")
}

fn succeeds(arguments: &[&str]) -> Output {
    let output = run(arguments);
    assert!(output.status.success(), "{arguments:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Three authors, kinds 1 and 7 and a profile each, tags, spread over 300 seconds.
fn events(base: u64) -> Vec<Event> {
    let authors: Vec<Keys> = (1..=3).map(|number| Keys::from_secret_bytes([number; 32]).unwrap()).collect();
    let mut events = Vec::new();
    for number in 0..60u64 {
        let keys = &authors[(number % 3) as usize];
        let kind = if number % 4 == 0 { 7 } else { 1 };
        let tags = vec![vec!["t".to_string(), format!("topic{}", number % 5)]];
        events.push(keys.sign(base + number * 5, kind, tags, format!("event {number}")));
    }
    for keys in &authors {
        events.push(keys.sign(base + 400, 0, vec![], "{}".into()));
    }
    events
}

fn write_jsonl(path: &Path, events: &[Event]) {
    let lines: Vec<String> = events.iter().map(|event| event.json().to_string()).collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn filters() -> Vec<&'static str> {
    vec!["{}", r#"{"kinds":[7]}"#, r##"{"#t":["topic1","topic3"]}"##, r#"{"kinds":[1],"limit":7}"#, r#"{"kinds":[0]}"#]
}

/// The answer of each differential filter, as ids in the store's order.
fn answers(path: &Path, at: u64) -> Vec<Vec<[u8; 32]>> {
    let store = Store::open(path, &StoreOptions::default()).unwrap();
    filters()
        .iter()
        .map(|text| {
            let filter = Filter::parse(text, &Limits::default()).unwrap();
            store.query(&[filter], u64::MAX, at).unwrap().iter().map(|stored| stored.header.id).collect()
        })
        .collect()
}

fn import(directory: &Path, events: &[Event]) {
    let file = directory.with_extension("jsonl");
    write_jsonl(&file, events);
    succeeds(&["import", "--data-dir", directory.to_str().unwrap(), file.to_str().unwrap()]);
}

#[test]
fn export_then_import_answers_the_same_and_filters_export_in_time_order() {
    let temp = tempfile::tempdir().unwrap();
    let (original, copy) = (temp.path().join("original"), temp.path().join("copy"));
    let base = now() - 1000;
    let mut shuffled = events(base);
    shuffled.reverse();
    import(&original, &shuffled);
    let file = temp.path().join("export.jsonl");
    succeeds(&["export", "--data-dir", original.to_str().unwrap(), "--out", file.to_str().unwrap()]);
    let exported: Vec<Event> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|line| Event::parse(line, &Limits::default()).unwrap())
        .collect();
    assert_eq!(exported.len(), 63);
    assert!(exported.windows(2).all(|pair| pair[0].created_at() <= pair[1].created_at()), "oldest first");
    succeeds(&["import", "--data-dir", copy.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(answers(&copy, now()), answers(&original, now()));
    // Standard output, a filter, and a time window.
    let (since, until) = ((base + 50).to_string(), (base + 149).to_string());
    let output = succeeds(&[
        "export",
        "--data-dir",
        original.to_str().unwrap(),
        "--filter",
        r#"{"kinds":[7]}"#,
        "--since",
        &since,
        "--until",
        &until,
    ]);
    let created: Vec<u64> =
        text(&output.stdout).lines().map(|line| Event::parse(line, &Limits::default()).unwrap().created_at()).collect();
    // Kind 7 are the events numbered 0, 4, 8, ... at base + 5n; in [50, 149]: n = 12, 16, 20, 24, 28.
    assert_eq!(created, [60, 80, 100, 120, 140].map(|offset| base + offset));
}

#[test]
fn import_reports_bad_lines_by_number_and_stores_the_good_ones() {
    let temp = tempfile::tempdir().unwrap();
    let directory = temp.path().join("store");
    let good = events(now() - 1000);
    let mut forged: serde_json::Value = serde_json::from_str(good[1].json()).unwrap();
    forged["sig"] = serde_json::Value::String("11".repeat(64));
    let lines = [
        good[0].json().to_string(),
        "not json".to_string(),
        String::new(),
        forged.to_string(),
        good[2].json().to_string(),
        good[0].json().to_string(),
    ];
    let file = temp.path().join("mixed.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let output = succeeds(&["import", "--data-dir", directory.to_str().unwrap(), file.to_str().unwrap()]);
    let report = text(&output.stderr);
    assert!(report.contains("line 2: invalid:"), "{report}");
    assert!(report.contains("line 4: invalid:") && report.contains("signature"), "{report}");
    assert!(report.contains("2 stored, 1 duplicates, 0 refused, 2 bad lines"), "{report}");
    // Standard input works too, and --no-verify takes what parses.
    let mut child = Command::new(env!("CARGO_BIN_EXE_parrhesia-tools"))
        .args(["import", "--no-verify", "--data-dir", directory.to_str().unwrap(), "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("{}\n", good[3].json()).as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success() && text(&output.stderr).contains("1 stored"), "{}", text(&output.stderr));
}

#[test]
fn writing_commands_refuse_a_directory_another_process_holds() {
    let temp = tempfile::tempdir().unwrap();
    let directory = temp.path().join("store");
    import(&directory, &events(now() - 1000));
    let _held = DirectoryLock::acquire(&directory, "parrhesia relay, pid 4242, listening on 127.0.0.1:7777").unwrap();
    let file = directory.with_extension("jsonl");
    for arguments in [
        vec!["import", file.to_str().unwrap()],
        vec!["delete", "--filter", r#"{"kinds":[7]}"#],
        vec!["compact", "--replace"],
    ] {
        let mut arguments = arguments.clone();
        arguments.extend(["--data-dir", directory.to_str().unwrap()]);
        let output = run(&arguments);
        assert_eq!(output.status.code(), Some(1), "{arguments:?}");
        let message = text(&output.stderr);
        assert!(message.contains("pid 4242") && message.contains("stop the relay"), "{arguments:?}: {message}");
    }
    // Reading commands go on beside the holder.
    succeeds(&["verify", "--data-dir", directory.to_str().unwrap()]);
    succeeds(&["stats", "--data-dir", directory.to_str().unwrap()]);
}

#[test]
fn verify_passes_on_a_sound_store_and_names_the_damage_on_a_damaged_one() {
    let temp = tempfile::tempdir().unwrap();
    let directory = temp.path().join("store");
    import(&directory, &events(now() - 1000));
    let output = succeeds(&["verify", "--data-dir", directory.to_str().unwrap()]);
    assert!(text(&output.stderr).contains("63 events") && text(&output.stderr).contains("0 problems"));
    // Remove one kind-index entry behind the store's back.
    {
        // SAFETY: opened once in this process and closed before the tool runs.
        let env = unsafe { heed::EnvOpenOptions::new().max_dbs(16).open(&directory) }.unwrap();
        let opened = env
            .open_databases_and_commit(env.read_txn().unwrap(), |opener, txn| -> Result<_, heed::Error> {
                let table = opener.open_database::<heed::types::Bytes, heed::types::Bytes>(txn, Some("kind_time"))?;
                Ok(heed::CommitOrAbort::<_, ()>::Commit(table.expect("the kind index exists")))
            })
            .unwrap();
        let heed::CommitOrAbort::Commit(kind_index) = opened else { unreachable!("never aborts") };
        let txn = env.read_txn().unwrap();
        // The index keeps each event as a duplicate under its kind: remove one event's.
        let (key, dup) = kind_index.iter(&txn).unwrap().next().unwrap().unwrap();
        let (key, dup) = (key.to_vec(), dup.to_vec());
        drop(txn);
        let mut txn = env.write_txn().unwrap();
        assert!(kind_index.delete_one_duplicate(&mut txn, &key, &dup).unwrap());
        txn.commit().unwrap();
        env.prepare_for_closing().wait();
    }
    let output = run(&["verify", "--data-dir", directory.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let problems = text(&output.stdout);
    assert!(problems.contains("missing its kind_time entry"), "{problems}");
    assert!(problems.contains("kind_time: 62 entries, the events need 63"), "{problems}");
    // A directory without a store is an error, not an empty store.
    let output = run(&["verify", "--data-dir", temp.path().join("nothing").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("holds no Parrhesia store"));
    assert!(!temp.path().join("nothing").exists());
}

#[test]
fn delete_by_filter_and_by_age_with_a_dry_run_first() {
    let temp = tempfile::tempdir().unwrap();
    let directory = temp.path().join("store");
    let base = now() - 10_000;
    import(&directory, &events(base));
    let dir = directory.to_str().unwrap();
    let output = succeeds(&["delete", "--data-dir", dir, "--filter", r#"{"kinds":[7]}"#, "--dry-run"]);
    assert!(text(&output.stderr).contains("would delete 15 events"), "{}", text(&output.stderr));
    let output = succeeds(&["delete", "--data-dir", dir, "--filter", r#"{"kinds":[7]}"#]);
    assert!(text(&output.stderr).contains("deleted 15 events"));
    // Events are 10,000 s old and older, except the profiles (base + 400): older than 9,700 s.
    let output = succeeds(&["delete", "--data-dir", dir, "--age", "9700"]);
    assert!(text(&output.stderr).contains("deleted 45 events"), "{}", text(&output.stderr));
    let remaining = answers(&directory, now());
    assert_eq!(remaining[0].len(), 3, "the three profiles");
    succeeds(&["verify", "--data-dir", dir]);
    let output = run(&["delete", "--data-dir", dir, "--filter", "{}"]);
    assert_eq!(output.status.code(), Some(1), "an empty filter would delete everything");
}

#[test]
fn compact_copies_and_replaces_and_stats_describe_the_store() {
    let temp = tempfile::tempdir().unwrap();
    let directory = temp.path().join("store");
    import(&directory, &events(now() - 10_000));
    let dir = directory.to_str().unwrap();
    succeeds(&["delete", "--data-dir", dir, "--filter", r#"{"kinds":[1]}"#]);
    let copy = temp.path().join("copy");
    succeeds(&["compact", "--data-dir", dir, "--out", copy.to_str().unwrap()]);
    assert_eq!(answers(&copy, now()), answers(&directory, now()));
    succeeds(&["verify", "--data-dir", copy.to_str().unwrap()]);
    let before = answers(&directory, now());
    let output = succeeds(&["compact", "--data-dir", dir, "--replace"]);
    assert!(text(&output.stderr).contains("compacted"), "{}", text(&output.stderr));
    assert_eq!(answers(&directory, now()), before);
    succeeds(&["verify", "--data-dir", dir]);
    let output = succeeds(&["stats", "--data-dir", dir]);
    let stats = text(&output.stdout);
    assert!(stats.contains("stored events 18: regular 15, replaceable 3, addressable 0"), "{stats}");
    assert!(stats.contains("top kinds: 7: 15, 0: 3"), "{stats}");
    assert!(stats.contains("free"), "{stats}");
}

#[test]
fn the_data_directory_comes_from_the_relays_config_file() {
    let temp = tempfile::tempdir().unwrap();
    let directory = temp.path().join("configured");
    import(&directory, &events(now() - 1000));
    let config = temp.path().join("parrhesia.toml");
    std::fs::write(&config, format!("data_dir = {:?}\nshards = 2\n", directory.to_str().unwrap())).unwrap();
    let output = succeeds(&["stats", "--config", config.to_str().unwrap()]);
    assert!(text(&output.stdout).contains("stored events 63"), "{}", text(&output.stdout));
}
