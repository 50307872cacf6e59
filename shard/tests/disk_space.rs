//! A store with no space left: when the LMDB map (`map_bytes_max`) or the disk fills, new
//! events are refused with `error: store full` (counted, logged), REQ, COUNT, NIP-11 and live
//! delivery carry on, every acknowledged event stays, and writes resume once there is space:
//! after a restart with a larger map, or as soon as the disk has room again. And retention:
//! the relay removes, while it serves, exactly what its rules no longer keep.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::wait_for_ids;
use common::metrics::{scrape, total};
use common::{Relay, WAIT, keys, now};
use parrhesia_engine::Event;

/// A note of about 3 KB, distinct for each `number`.
fn large_note(author: u8, number: usize) -> Event {
    keys(author).sign(now(), 1, vec![], format!("{number} {}", "x".repeat(3000)))
}

/// Publishes large notes until one is refused; returns the ids acknowledged and the refusal.
fn fill_until_refused(relay: &Relay, author: u8) -> (std::collections::BTreeSet<[u8; 32]>, String) {
    let mut client = relay.connect();
    let mut accepted = std::collections::BTreeSet::new();
    for number in 0..20_000 {
        let event = large_note(author, number);
        let (ok, message) = client.publish(&event);
        if !ok {
            return (accepted, message);
        }
        accepted.insert(*event.id());
    }
    panic!("20,000 notes of 3 KB were all accepted: the store never filled");
}

/// What a full store must still do: serve every acknowledged event (REQ), count (COUNT),
/// answer NIP-11, deliver live events, and report itself full in /metrics.
fn serves_while_full(relay: &Relay, accepted: &std::collections::BTreeSet<[u8; 32]>) {
    wait_for_ids(relay, accepted);
    let count = relay.connect().count("stored", &[r#"{"kinds":[1]}"#]);
    assert!(count >= accepted.len() as u64, "COUNT {count} of {} acknowledged", accepted.len());
    let (status, _) = relay.http_get("/", &[("Accept", "application/nostr+json")]);
    assert_eq!(status, 200);
    let mut subscriber = relay.connect();
    assert!(subscriber.req("live", &[r#"{"kinds":[20001]}"#]).is_empty());
    let ephemeral = keys(9).sign(now(), 20001, vec![], "delivered while the store is full".into());
    assert!(relay.connect().publish(&ephemeral).0, "ephemeral events are not stored");
    assert_eq!(subscriber.next_event("live").id(), ephemeral.id());
    let scrape = scrape(relay);
    assert_eq!(total(&scrape, "parrhesia_store_full", &[]), 1.0);
    assert!(total(&scrape, "parrhesia_writer_store_full_events_total", &[("source", "clients")]) >= 1.0);
}

#[test]
fn a_full_map_refuses_events_with_store_full_keeps_serving_and_resumes_with_a_larger_map() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut relay = Relay::start_in(&data, &["--shards", "2", "--set", "map_bytes_max=2097152"]);
    let (accepted, refusal) = fill_until_refused(&relay, 31);
    assert!(refusal.starts_with("error: store full"), "{refusal}");
    assert!(accepted.len() > 100, "only {} notes fitted in 2 MiB", accepted.len());
    // Still full: the next one is refused the same way (and nothing else broke).
    let (ok, again) = relay.connect().publish(&large_note(31, 99_999));
    assert!(!ok && again.starts_with("error: store full"), "{again}");
    serves_while_full(&relay, &accepted);
    assert_eq!(relay.log_text().matches("the store is full").count(), 1, "logged once: {}", relay.log_text());

    // The operator raises the map and restarts: writes resume, nothing acknowledged is lost
    // (and the store verifies clean when the relay is dropped).
    relay.stop();
    let relay = Relay::start_in(&data, &["--shards", "2", "--set", "map_bytes_max=67108864"]);
    let more = large_note(31, 100_000);
    assert!(relay.connect().publish(&more).0);
    let mut all = accepted;
    all.insert(*more.id());
    wait_for_ids(&relay, &all);
}

/// A tmpfs of `bytes`, unmounted (lazily) when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// Mounts one, or says why it cannot (not root, no tmpfs in this sandbox).
    fn mount(bytes: u64) -> Result<SmallDisk, String> {
        let dir = tempfile::tempdir().unwrap().keep();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&dir)
            .output()
            .map_err(|error| format!("cannot run mount: {error}"))?;
        if !output.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
        }
        Ok(SmallDisk(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_full_disk_refuses_events_with_store_full_keeps_serving_and_resumes_once_space_is_freed() {
    let disk = match SmallDisk::mount(6 << 20) {
        Ok(disk) => disk,
        Err(reason) => {
            // Never silently: the reason is in the test's output.
            println!("skipped: a full disk needs a small filesystem, and {reason}");
            return;
        }
    };
    // Something else on the disk the operator can remove to make room.
    let filler = disk.path().join("old-logs");
    std::fs::write(&filler, vec![7u8; 2 << 20]).unwrap();
    let data = disk.path().join("data");
    let relay = Relay::start_in(&data, &["--shards", "2"]);
    let (accepted, refusal) = fill_until_refused(&relay, 32);
    assert!(refusal.starts_with("error: store full"), "{refusal}");
    assert!(accepted.len() > 100, "only {} notes fitted", accepted.len());
    serves_while_full(&relay, &accepted);

    // Space is freed while the relay runs: it takes writes again by itself.
    std::fs::remove_file(&filler).unwrap();
    let more = large_note(32, 100_000);
    let deadline = Instant::now() + WAIT;
    let mut client = relay.connect();
    loop {
        let (ok, message) = client.publish(&more);
        if ok {
            break;
        }
        assert!(message.starts_with("error: store full"), "{message}");
        assert!(Instant::now() < deadline, "still refused after the space was freed: {message}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut all = accepted;
    all.insert(*more.id());
    wait_for_ids(&relay, &all);
    // The relay is dropped (and its store verified) before the disk is unmounted.
    drop(relay);
}

// ---- Retention: the relay removes what its rules no longer keep, while it serves ----

/// The rules of the test below, written out plainly: what a relay configured with them keeps.
fn naive_keeps(kind: u16, age: u64, author: u8) -> bool {
    let protected = author == 40;
    let replaceable = kind == 0 || kind == 3 || (10000..20000).contains(&kind) || (30000..40000).contains(&kind);
    protected
        || match kind {
            7 => age <= 600,
            4 => true,
            _ if replaceable => true,
            _ => age <= 3600,
        }
}

#[test]
fn retention_removes_exactly_what_the_rules_no_longer_keep_while_the_relay_serves() {
    let protected = common::hex(keys(40).public_key());
    let relay = Relay::start(&[
        "--shards",
        "2",
        "--set",
        "retention_max_age_seconds=3600",
        "--set",
        "retention_kinds=7:600, 4:forever",
        "--set",
        &format!("retention_protected_pubkeys={protected}"),
        "--set",
        "retention_interval_seconds=1",
        "--set",
        "search_kinds=1",
        // Kind 4 (DMs) readable without AUTH here, so the test can look for it.
        "--set",
        "read_restricted_kinds=",
    ]);
    // NIP-11 tells clients what is kept.
    let (_, document) = relay.http_get("/", &[("Accept", "application/nostr+json")]);
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    assert_eq!(
        document["retention"],
        serde_json::json!([
            {"kinds": [7], "time": 600}, {"kinds": [4], "time": null},
            {"kinds": [0, 3, [10000, 19999], [30000, 39999]], "time": null}, {"time": 3600}
        ])
    );
    // Events of every kind the rules treat differently, at ages either side of their limits,
    // by an ordinary author and a protected one; a subscriber for fresh notes meanwhile.
    let mut subscriber = relay.connect();
    assert!(subscriber.req("fresh", &[r##"{"kinds":[1],"#t":["fresh"]}"##]).is_empty());
    let mut client = relay.connect();
    let mut published: Vec<(Event, bool)> = Vec::new();
    let mut number = 0;
    for author in [41u8, 40] {
        for (kind, age) in [
            (1, 100),
            (1, 7200),
            (7, 300),
            (7, 900),
            (4, 100_000),
            (0, 100_000),
            (10002, 100_000),
            (30023, 100_000),
            (6, 5000),
        ] {
            number += 1;
            let tags = if kind == 30023 { vec![vec!["d".to_string(), format!("{number}")]] } else { vec![] };
            let event = keys(author).sign(now() - age, kind, tags, format!("retention words {number}"));
            assert!(client.publish(&event).0, "kind {kind} aged {age}");
            published.push((event, naive_keeps(kind, age, author)));
        }
    }
    // A larger sweep (old notes) with live traffic through it: every fresh note is delivered.
    for number in 0..2000 {
        let old = keys(42).sign(now() - 7200, 1, vec![], format!("old words {number}"));
        assert!(client.publish(&old).0);
        if number % 200 == 0 {
            let fresh = keys(43).sign(now(), 1, vec![vec!["t".into(), "fresh".into()]], format!("fresh {number}"));
            assert!(client.publish(&fresh).0);
            assert_eq!(subscriber.next_event("fresh").id(), fresh.id());
            published.push((fresh, true));
        }
    }
    // Two passes that began after the last publish have removed everything due.
    let passes = |relay: &Relay| total(&scrape(relay), "parrhesia_retention_passes_total", &[]);
    let before = passes(&relay);
    let deadline = Instant::now() + WAIT;
    while passes(&relay) < before + 2.0 {
        assert!(Instant::now() < deadline, "retention passes stalled");
        std::thread::sleep(Duration::from_millis(100));
    }
    for (event, kept) in &published {
        let found = relay.connect().req("one", &[&format!(r#"{{"ids":["{}"]}}"#, common::hex(event.id()))]);
        assert_eq!(found.len() == 1, *kept, "kind {} created {}s ago", event.kind(), now() - event.created_at());
    }
    let old_left =
        relay.connect().count("old", &[&format!(r#"{{"authors":["{}"]}}"#, common::hex(keys(42).public_key()))]);
    assert_eq!(old_left, 0);
    let removed = total(&scrape(&relay), "parrhesia_retention_removed_events_total", &[]);
    let expected = published.iter().filter(|(_, kept)| !kept).count() + 2000;
    assert_eq!(removed as usize, expected);
    // NIP-50 no longer finds the removed notes (their words went with them); the relay's drop
    // verifies every index and count.
    assert!(relay.connect().req("search", &[r#"{"search":"old words"}"#]).is_empty());
    assert!(!relay.connect().req("search", &[r#"{"search":"retention words"}"#]).is_empty());
}

#[test]
fn a_store_over_its_size_budget_loses_its_oldest_events_down_to_the_low_water_mark() {
    let budget: u64 = 3 << 20;
    let relay = Relay::start(&[
        "--shards",
        "2",
        "--set",
        &format!("store_bytes_max={budget}"),
        "--set",
        "retention_kinds=4:forever",
        "--set",
        "read_restricted_kinds=",
    ]);
    let mut client = relay.connect();
    // Kept forever whatever the budget: the oldest of all.
    let kept: Vec<Event> =
        (0..20).map(|number| keys(51).sign(now() - 50_000 + number, 4, vec![], format!("dm {number}"))).collect();
    for event in &kept {
        assert!(client.publish(event).0);
    }
    // About 7.5 MB of notes, oldest first.
    let notes: Vec<Event> = (0..2500u64)
        .map(|number| keys(50).sign(now() - 10_000 + number, 1, vec![], format!("{number} {}", "z".repeat(3000))))
        .collect();
    for event in &notes {
        assert!(client.publish(event).0);
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let scrape = scrape(&relay);
        let used = total(&scrape, "parrhesia_store_map_used_bytes", &[]);
        if used <= budget as f64 && total(&scrape, "parrhesia_retention_evicting", &[]) == 0.0 {
            assert!(total(&scrape, "parrhesia_retention_removed_events_total", &[("rule", "size")]) > 0.0);
            break;
        }
        assert!(Instant::now() < deadline, "still {used} bytes in use, over the budget of {budget}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let present = |event: &Event| {
        relay.connect().req("one", &[&format!(r#"{{"ids":["{}"]}}"#, common::hex(event.id()))]).len() == 1
    };
    assert!(kept.iter().all(present), "kind 4 is kept forever");
    assert!(notes[2400..].iter().all(present), "the newest notes stay");
    assert!(!notes[..100].iter().any(present), "the oldest notes went first");
    // Oldest first: no kept note is older than a removed one.
    let first_kept = notes.iter().position(present).unwrap();
    assert!(notes[first_kept..].iter().all(present), "removed in age order, from the oldest");
}

/// A cluster node whose store is full refuses what replication brings (counted, paced, the
/// writer going on) and serves what it holds; restarted with room, it pulls the rest.
#[test]
fn a_full_cluster_node_keeps_serving_and_catches_up_once_it_has_room() {
    use common::cluster::{Mesh, ids, publish_stream, wait_for_ids, wait_for_log};
    let mesh = Mesh::new(2);
    let roomy = mesh.start(0);
    let full = mesh.start_with(1, &["map_bytes_max=2097152"]);
    wait_for_log(&roomy, "link up", 1);
    wait_for_log(&full, "link up", 1);
    let mut clients = vec![roomy.connect()];
    let mut published = Vec::new();
    for round in 0..8 {
        published.extend(publish_stream(&mut clients, &keys(33), 100, &format!("{round} {}", "q".repeat(3000))));
    }
    // The full node refuses replicated batches for lack of space...
    let deadline = Instant::now() + WAIT;
    while total(&scrape(&full), "parrhesia_writer_store_full_events_total", &[("source", "replication")]) == 0.0 {
        assert!(Instant::now() < deadline, "the full node never ran out of space");
        std::thread::sleep(Duration::from_millis(100));
    }
    // ...and still serves reads and takes nothing it cannot hold.
    assert!(full.connect().count("held", &[r#"{"kinds":[1]}"#]) < published.len() as u64);
    let (status, _) = full.http_get("/", &[("Accept", "application/nostr+json")]);
    assert_eq!(status, 200);
    // Given room, it pulls everything it missed.
    let mut full = full;
    full.stop();
    let full = mesh.start_with(1, &["map_bytes_max=268435456"]);
    wait_for_ids(&full, &ids(&published));
    drop(roomy);
}
