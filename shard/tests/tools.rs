//! `parrhesia-tools` beside a running relay: the relay holds its data directory, so writing
//! commands (and a second relay) are refused with the holder named; `import --url` publishes
//! through the relay instead; reading commands work beside it.

mod common;

use std::process::Command;

use common::{Relay, hex, keys, note, tools_binary};

#[test]
fn a_running_relay_holds_its_directory_and_import_goes_through_its_url() {
    let relay = Relay::start(&["--shards", "2"]);
    let author = keys(61);
    let events: Vec<_> = (0..300).map(|number| note(&author, &format!("imported {number}"))).collect();
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("events.jsonl");
    let mut lines: Vec<String> = events.iter().map(|event| event.json().to_string()).collect();
    lines.insert(7, "{\"broken\":".to_string());
    lines.push(events[0].json().to_string());
    std::fs::write(&file, lines.join("\n")).unwrap();
    let data_dir = relay.data_dir.to_str().unwrap();

    let refused = Command::new(tools_binary()).args(["import", "--data-dir", data_dir]).arg(&file).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("parrhesia relay, pid") && message.contains("--url"), "{message}");
    let second = Command::new(env!("CARGO_BIN_EXE_parrhesia"))
        .args(["--listen", &format!("127.0.0.1:{}", common::free_port()), "--data-dir", data_dir])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1), "a second relay on the same directory stops");
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use by another process"));

    let output = Command::new(tools_binary())
        .args(["import", "--url", &relay.url(), "--window", "32"])
        .arg(&file)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{report}");
    assert!(report.contains("300 stored, 1 duplicates, 0 refused, 1 bad lines"), "{report}");
    assert!(report.contains("line 8: invalid:"), "{report}");
    let filter = format!(r#"{{"authors":["{}"],"limit":500}}"#, hex(author.public_key()));
    assert_eq!(relay.connect().req("imported", &[&filter]).len(), 300);

    let stats = Command::new(tools_binary()).args(["stats", "--data-dir", data_dir]).output().unwrap();
    assert!(String::from_utf8_lossy(&stats.stdout).contains("stored events 300"), "reads beside the relay");
}
