//! Write-policy plugins (strfry's protocol) against the real binary, with a plugin written in
//! Python as operators write them (`tests/plugins/policy.py`): accept, reject with a message,
//! shadowReject, answers out of order, the fields a plugin sees (sourceType, sourceInfo,
//! receivedAt, authed), and every way a plugin fails: too slow, exiting, a wrong id, garbage;
//! each refuses only the event it held with `error:` and the next event is judged by a fresh
//! plugin; and a changed script is started again.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::metrics::{scrape, total};
use common::{Client, Relay, WAIT, hex, keys, note, now};
use parrhesia_engine::{Event, RelayMessage};

/// A copy of the test plugin in its own directory (so a test may rewrite it), and its log.
fn plugin(dir: &Path) -> (PathBuf, PathBuf) {
    let script = dir.join("policy.py");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/plugins/policy.py"), &script).unwrap();
    (script, dir.join("requests.jsonl"))
}

fn start(script: &Path, log: &Path, extra: &[&str]) -> Relay {
    let mut args = vec!["--shards", "1", "--set"];
    let plugin = format!("write_policy_plugin={}", script.display());
    args.push(&plugin);
    args.extend_from_slice(extra);
    let log = log.display().to_string();
    let dir = tempfile::tempdir().unwrap().keep();
    Relay::start_in_with_env(&dir.join("data"), &args, &[("PLUGIN_LOG", &log), ("SLOW_SECONDS", "3")])
}

fn stored(relay: &Relay, event: &Event) -> bool {
    relay.connect().req("one", &[&format!(r#"{{"ids":["{}"]}}"#, hex(event.id()))]).len() == 1
}

/// Publishes notes until one is accepted (a plugin that just failed may still be starting).
fn accepted_soon(client: &mut Client, label: &str) -> Event {
    let deadline = Instant::now() + WAIT;
    for number in 0.. {
        let event = note(&keys(60), &format!("{label} {number}"));
        let (ok, message) = client.publish(&event);
        if ok {
            return event;
        }
        assert!(message.starts_with("error: the write policy plugin"), "{message}");
        assert!(Instant::now() < deadline, "no plugin answered again: {message}");
        std::thread::sleep(Duration::from_millis(20));
    }
    unreachable!()
}

#[test]
fn verdicts_reach_the_client_and_shadow_rejected_events_go_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log) = plugin(dir.path());
    let relay = start(&script, &log, &[]);
    let mut subscriber = relay.connect();
    assert!(subscriber.req("live", &[r#"{"kinds":[1]}"#]).is_empty());
    let mut client = relay.connect();

    let plain = note(&keys(61), "hello");
    assert_eq!(client.publish(&plain), (true, String::new()));
    assert_eq!(subscriber.next_event("live").id(), plain.id());
    let rejected = note(&keys(61), "reject-me");
    assert_eq!(client.publish(&rejected), (false, "blocked: spam detected".to_string()));
    let pow = note(&keys(61), "pow-me");
    assert_eq!(client.publish(&pow), (false, "pow: difficulty 30 needed".to_string()), "a prefixed message is kept");
    let shadow = note(&keys(61), "shadow");
    assert_eq!(client.publish(&shadow), (true, String::new()), "shadowReject: OK true");
    let after = note(&keys(61), "after the shadow");
    assert!(client.publish(&after).0);
    assert_eq!(subscriber.next_event("live").id(), after.id(), "the shadow-rejected event was not delivered");
    assert!(stored(&relay, &plain) && stored(&relay, &after));
    assert!(!stored(&relay, &rejected) && !stored(&relay, &pow) && !stored(&relay, &shadow));

    // Several requests in flight, answered out of order, each to its own event.
    let mut slow_client = relay.connect();
    let later = note(&keys(62), "later");
    slow_client.send_text(&format!(r#"["EVENT",{}]"#, later.json()));
    let quick = note(&keys(62), "quick");
    assert!(client.publish(&quick).0, "answered while the other waits");
    match slow_client.recv() {
        RelayMessage::Ok { event_id, accepted: true, .. } => assert_eq!(&event_id, later.id()),
        other => panic!("{}", other.encode()),
    }

    let scrape = scrape(&relay);
    assert_eq!(total(&scrape, "parrhesia_write_policy_verdicts_total", &[("verdict", "shadow_reject")]), 1.0);
    assert_eq!(total(&scrape, "parrhesia_write_policy_verdicts_total", &[("verdict", "reject")]), 2.0);
    assert_eq!(total(&scrape, "parrhesia_events_total", &[("outcome", "shadow-rejected")]), 1.0);
    assert_eq!(total(&scrape, "parrhesia_write_policy_starts_total", &[]), 1.0, "one process served them all");
}

#[test]
fn the_plugin_sees_the_source_the_time_and_the_authenticated_pubkey() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log) = plugin(dir.path());
    let url = "wss://relay.example.com";
    let relay = start(&script, &log, &["--set", &format!("relay_url={url}")]);
    let anonymous = note(&keys(63), "anonymous");
    assert!(relay.connect().publish(&anonymous).0);

    let mut client = relay.connect();
    client.send_text(r#"["REQ","x",{"kinds":[4]}]"#);
    let challenge = loop {
        if let RelayMessage::Auth { challenge } = client.recv() {
            break challenge.to_string();
        }
    };
    let alice = keys(64);
    let tags = vec![vec!["relay".into(), url.into()], vec!["challenge".into(), challenge]];
    let auth = alice.sign(now(), 22242, tags, String::new());
    client.send_text(&format!(r#"["AUTH",{}]"#, auth.json()));
    loop {
        if let RelayMessage::Ok { accepted, .. } = client.recv() {
            assert!(accepted);
            break;
        }
    }
    let authed = note(&alice, "authenticated");
    assert!(client.publish(&authed).0);

    let requests: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(requests.len(), 2);
    for (request, event) in requests.iter().zip([&anonymous, &authed]) {
        assert_eq!(request["type"], "new");
        assert_eq!(request["event"]["id"], hex(event.id()));
        assert_eq!(request["event"]["sig"], hex(event.sig()));
        assert_eq!(request["sourceType"], "IP4");
        assert_eq!(request["sourceInfo"], "127.0.0.1");
        assert!(request["receivedAt"].as_u64().unwrap().abs_diff(now()) < 60);
    }
    assert!(requests[0].get("authed").is_none(), "no AUTH, no authed");
    assert_eq!(requests[1]["authed"], hex(alice.public_key()));
}

#[test]
fn a_plugin_that_fails_refuses_only_the_event_it_held_and_a_fresh_one_judges_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log) = plugin(dir.path());
    let relay = start(&script, &log, &["--set", "write_policy_timeout_ms=500"]);
    let mut client = relay.connect();
    for (content, failure) in
        [("slow", "timeout"), ("crash", "exited"), ("wrongid", "bad answer"), ("garbage", "bad answer")]
    {
        let event = note(&keys(65), content);
        let (ok, message) = client.publish(&event);
        assert!(!ok, "{content}");
        assert_eq!(message, format!("error: the write policy plugin failed ({failure})"), "{content}");
        assert!(!stored(&relay, &event));
        let next = accepted_soon(&mut client, &format!("after {content}"));
        assert!(stored(&relay, &next));
    }
    let scrape = scrape(&relay);
    for reason in ["timeout", "exited", "bad_answer"] {
        assert!(total(&scrape, "parrhesia_write_policy_failures_total", &[("reason", reason)]) >= 1.0, "{reason}");
    }
    assert!(total(&scrape, "parrhesia_write_policy_starts_total", &[]) >= 5.0, "started again after each failure");
}

#[test]
fn a_changed_script_is_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log) = plugin(dir.path());
    let relay = start(&script, &log, &[]);
    let mut client = relay.connect();
    assert!(client.publish(&note(&keys(66), "before the change")).0);
    let text = std::fs::read_to_string(&script).unwrap().replace(r#"VERDICT = "accept""#, r#"VERDICT = "reject""#);
    // Written beside and renamed over it, as an editor or a deploy does.
    std::fs::write(dir.path().join("policy.py.new"), text).unwrap();
    std::fs::set_permissions(dir.path().join("policy.py.new"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    std::fs::rename(dir.path().join("policy.py.new"), &script).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let (ok, message) = client.publish(&note(&keys(66), &format!("after the change {}", now())));
        if !ok {
            assert_eq!(message, "blocked: this relay takes nothing today");
            break;
        }
        assert!(Instant::now() < deadline, "the changed script was never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(total(&scrape(&relay), "parrhesia_write_policy_starts_total", &[]), 2.0);
}

#[test]
fn a_plugin_that_cannot_start_refuses_with_error_and_the_relay_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start_in(
        &dir.path().join("data"),
        &["--shards", "1", "--set", "write_policy_plugin=/nonexistent/plugin --flag"],
    );
    let mut client = relay.connect();
    let (ok, message) = client.publish(&note(&keys(67), "nobody to ask"));
    assert!(!ok && message.starts_with("error: the write policy plugin failed"), "{message}");
    assert!(client.req("still", &[r#"{"kinds":[1]}"#]).is_empty(), "reads go on");
}

#[test]
fn an_import_puts_each_event_to_the_plugin_when_asked_and_stops_when_it_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log) = plugin(dir.path());
    let events = [note(&keys(68), "imported"), note(&keys(68), "reject-me"), note(&keys(68), "shadow")];
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, events.iter().map(|event| format!("{}\n", event.json())).collect::<String>()).unwrap();
    let data = dir.path().join("data");
    let import = |file: &Path| {
        std::process::Command::new(common::tools_binary())
            .args(["import", "--data-dir"])
            .arg(&data)
            .arg("--write-policy")
            .arg(&script)
            .arg(file)
            .env("PLUGIN_LOG", &log)
            .output()
            .unwrap()
    };
    let output = import(&file);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("1 stored") && said.contains("refused 1: blocked: spam detected"), "{said}");
    assert!(said.contains("shadow-rejected by the write policy plugin (not stored): 1"), "{said}");
    let requests: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(requests.len(), 3);
    assert!(
        requests
            .iter()
            .all(|request| request["sourceType"] == "Import" && request["sourceInfo"] == file.display().to_string())
    );
    let relay = Relay::start_in(&data, &["--shards", "1"]);
    assert!(stored(&relay, &events[0]) && !stored(&relay, &events[1]) && !stored(&relay, &events[2]));
    drop(relay);

    // A plugin that dies stops the import with an error; nothing of that batch is stored.
    let failing = dir.path().join("failing.jsonl");
    let crash = note(&keys(68), "crash");
    std::fs::write(&failing, format!("{}\n{}\n", note(&keys(68), "before the crash").json(), crash.json())).unwrap();
    let output = import(&failing);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("exited"), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_sync_down_puts_each_downloaded_event_to_the_plugin_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log) = plugin(dir.path());
    let remote = Relay::start(&["--shards", "1"]);
    let events = [note(&keys(69), "synced"), note(&keys(69), "reject-me"), note(&keys(69), "shadow")];
    let mut client = remote.connect();
    for event in &events {
        assert!(client.publish(event).0);
    }
    let data = dir.path().join("data");
    let output = std::process::Command::new(common::tools_binary())
        .args(["sync", "--data-dir"])
        .arg(&data)
        .arg("--write-policy")
        .arg(&script)
        .arg(remote.url())
        .env("PLUGIN_LOG", &log)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("downloaded 1,"), "{said}");
    assert!(said.contains("failed 1: refused here: blocked: spam detected"), "{said}");
    assert!(said.contains("failed 1: refused here: shadow-rejected by the write policy plugin"), "{said}");
    let requests: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|request| request["sourceType"] == "Sync" && request["sourceInfo"] == remote.url()));
    let local = Relay::start_in(&data, &["--shards", "1"]);
    assert!(stored(&local, &events[0]) && !stored(&local, &events[1]) && !stored(&local, &events[2]));
}

#[test]
fn a_stuck_plugin_fails_an_import_on_time_even_with_its_pipe_full() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log) = plugin(dir.path());
    // One event the plugin sleeps on, then ~200 KB more than a pipe holds.
    let mut lines = vec![note(&keys(70), "slow").json().to_string()];
    lines.extend((0..200).map(|number| note(&keys(70), &format!("{number} {}", "p".repeat(1000))).json().to_string()));
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let started = Instant::now();
    let output = std::process::Command::new(common::tools_binary())
        .args(["import", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--write-policy-timeout-ms", "500", "--write-policy"])
        .arg(&script)
        .arg(&file)
        .env("PLUGIN_LOG", &log)
        .env("SLOW_SECONDS", "60")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("did not answer"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(started.elapsed() < WAIT, "it gave up on the timeout, not after the plugin's 60 s");
}

#[test]
fn a_shell_command_plugin_is_killed_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log) = plugin(dir.path());
    // Not a lone command: the shell stays the plugin's parent.
    let command = format!("write_policy_plugin=cd {} && python3 {} | cat", dir.path().display(), script.display());
    let data = dir.path().join("data");
    let relay = Relay::start_in_with_env(
        &data,
        &["--shards", "1", "--set", &command, "--set", "write_policy_timeout_ms=500"],
        &[("PLUGIN_LOG", &log.display().to_string()), ("SLOW_SECONDS", "60")],
    );
    let mut client = relay.connect();
    let (ok, message) = client.publish(&note(&keys(71), "slow"));
    assert!(!ok && message.ends_with("(timeout)"), "{message}");
    accepted_soon(&mut client, "after the timeout");
    // The sleeping one is gone: one python process runs this script, the fresh one.
    let running = || {
        let output = std::process::Command::new("pgrep")
            .arg("-f")
            .arg(format!("^[^ ]*python3 {}$", script.display()))
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).lines().count()
    };
    let deadline = Instant::now() + WAIT;
    while running() != 1 {
        let all = std::process::Command::new("pgrep").arg("-af").arg("policy.py").output().unwrap();
        assert!(
            Instant::now() < deadline,
            "{} plugin processes still run: {}",
            running(),
            String::from_utf8_lossy(&all.stdout)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_readme_example_plugin_runs_as_documented() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = &readme[readme.find("## Write-policy plugins").expect("the README section")..];
    let start = section.find("```python\n").expect("the example") + "```python\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    assert!(example.lines().count() <= 12, "a ten-line example: {example}");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("links.py");
    std::fs::write(&script, example).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let relay = Relay::start(&["--shards", "1", "--set", &format!("write_policy_plugin={}", script.display())]);
    let mut client = relay.connect();
    assert!(client.publish(&note(&keys(72), "no links here")).0);
    let (ok, message) = client.publish(&note(&keys(72), "see https://example.com"));
    assert_eq!((ok, message.as_str()), (false, "auth-required: authenticate to post links"));
}

#[test]
fn a_plugin_that_fails_on_every_event_is_not_started_for_every_event() {
    // It starts, takes 0.3 s over its first request (longer than a plugin that dies at once),
    // and exits without answering: every start serves nothing.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("dies.py");
    std::fs::write(
        &script,
        "#!/usr/bin/env python3\nimport sys, time\nsys.stdin.readline()\ntime.sleep(0.3)\nsys.exit(1)\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let relay = start(&script, &dir.path().join("unused.jsonl"), &[]);
    let mut client = relay.connect();
    let events = 40;
    for number in 0..events {
        let (ok, message) = client.publish(&note(&keys(69), &format!("refused {number}")));
        assert!(!ok && message.starts_with("error: the write policy plugin failed"), "{message}");
    }
    // Each short run doubles the pause before the next start; events meanwhile are refused
    // at once. Started for every event, it would have started 40 times.
    let starts = total(&scrape(&relay), "parrhesia_write_policy_starts_total", &[]);
    assert!(starts < f64::from(events) / 2.0, "{starts} starts for {events} events");
}
