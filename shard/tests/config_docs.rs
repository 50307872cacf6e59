//! The README's configuration sample is `parrhesia --print-config`, byte for byte, so the
//! documentation cannot drift from the schema.

use std::process::Command;

#[test]
fn the_readme_sample_is_the_printed_configuration() {
    let output = Command::new(env!("CARGO_BIN_EXE_parrhesia")).arg("--print-config").output().unwrap();
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let marker = "the output of `parrhesia --print-config`";
    let after = &readme[readme.find(marker).expect("the README introduces the sample")..];
    let block = after.split("```toml\n").nth(1).and_then(|rest| rest.split("```\n").next()).expect("a toml block");
    assert!(
        block == printed,
        "README.md's sample differs from `parrhesia --print-config`; paste the output into README.md:\n{printed}"
    );
}

mod common;

/// `log_format = "json"`: every log line the relay's logger writes is one JSON object.
#[test]
fn json_logs_are_one_object_per_line() {
    let relay = common::Relay::start(&["--shards", "1", "--set", "log_format=json"]);
    let log = relay.log_text();
    let logged: Vec<serde_json::Value> =
        log.lines().filter(|line| line.starts_with('{')).map(|line| serde_json::from_str(line).unwrap()).collect();
    let limit = logged.iter().find(|line| line["fields"]["message"] == "open file limit (soft raised to hard)");
    let limit = limit.unwrap_or_else(|| panic!("no JSON line for the open file limit in:\n{log}"));
    assert_eq!(limit["level"], "INFO");
    assert!(limit["fields"]["now"].is_u64());
}

/// Text logs to a pipe (a file, a journal) carry no terminal colour codes.
#[test]
fn text_logs_to_a_pipe_have_no_colour_codes() {
    let relay = common::Relay::start(&["--shards", "1"]);
    let log = relay.log_text();
    assert!(log.contains("INFO"), "the relay logged at info level:\n{log}");
    assert!(!log.contains('\u{1b}'), "an escape sequence in:\n{log:?}");
}

/// The deployment files work with this build: the unit's ExecStart flags parse and the sample
/// configuration it points at is valid.
#[test]
fn the_deployment_files_start_this_build() {
    let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");
    let unit = std::fs::read_to_string(format!("{deploy}/parrhesia.service")).unwrap();
    let exec_start = unit.lines().find_map(|line| line.strip_prefix("ExecStart=")).expect("an ExecStart line");
    let mut words = exec_start.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/parrhesia"));
    let arguments: Vec<String> =
        words.map(|word| word.replace("/etc/parrhesia/parrhesia.toml", &format!("{deploy}/parrhesia.toml"))).collect();
    let output = Command::new(env!("CARGO_BIN_EXE_parrhesia")).args(&arguments).arg("--check-config").output().unwrap();
    let effective = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(effective.contains("data_dir = \"/var/lib/parrhesia\""), "{effective}");
    assert!(effective.contains("metrics_listen = \"127.0.0.1:9777\""), "{effective}");
    // A bad value is named.
    let output = Command::new(env!("CARGO_BIN_EXE_parrhesia"))
        .args(["--set", "log_format=yaml", "--check-config"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("log_format"));
}
