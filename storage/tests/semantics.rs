//! Table tests for every storage rule: duplicates, replaceable and addressable versions,
//! NIP-09 deletion, NIP-40 expiration, NIP-62 vanish, ephemeral kinds, the sequence log,
//! query ordering, limits and snapshots, and reopening the environment.

mod common;

use common::{event, filter, hex, ids, keys, open};
use parrhesia_engine::policy::Change;
use parrhesia_engine::{Event, Keys, Prefix};
use parrhesia_storage::{Durability, Outcome, ScanBudget, Store, StoreOptions, StoredEvent};

const NOW: u64 = 1_700_000_000;

fn rejected(outcome: &Outcome) -> (Prefix, String) {
    match outcome {
        Outcome::Rejected(reason) => (reason.prefix, reason.detail.to_string()),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn apply_one(store: &Store, event: &Event) -> Outcome {
    store.apply(std::slice::from_ref(event), NOW).unwrap().remove(0)
}

fn by_id(store: &Store, event: &Event) -> bool {
    store.get_by_id(event.id()).unwrap().is_some()
}

#[test]
fn duplicates_are_reported_not_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let note = event(&keys(1), NOW, 1, &[], "hi");
    let outcomes = store.apply(&[note.clone(), note.clone()], NOW).unwrap();
    assert_eq!(outcomes, vec![Outcome::Stored { seq: 1 }, Outcome::Duplicate]);
    assert_eq!(apply_one(&store, &note), Outcome::Duplicate);
    assert_eq!(store.query(&[filter("{}")], u64::MAX, NOW).unwrap().len(), 1);
    assert_eq!(store.last_seq().unwrap(), 1);
}

#[test]
fn replaceable_newest_wins_and_ties_go_to_lowest_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let author = keys(2);
    let profile = format!(r#"{{"kinds":[0],"authors":["{}"]}}"#, hex(author.public_key()));
    let old = event(&author, NOW - 10, 0, &[], "old");
    let new = event(&author, NOW - 5, 0, &[], "new");
    assert!(matches!(apply_one(&store, &old), Outcome::Stored { .. }));
    assert!(matches!(apply_one(&store, &new), Outcome::Stored { .. }));
    assert_eq!(ids(&store.query(&[filter(&profile)], u64::MAX, NOW).unwrap()), vec![*new.id()]);
    assert!(!by_id(&store, &old), "the superseded version is removed");

    // An older version arriving later is refused with a clear reason.
    let older = event(&author, NOW - 20, 0, &[], "older");
    let (prefix, detail) = rejected(&apply_one(&store, &older));
    assert_eq!(prefix, Prefix::Duplicate);
    assert!(detail.contains("newer version"), "{detail}");

    // Same created_at: the lowest id wins, whichever arrives first.
    let mut same_time: Vec<Event> = (0..4).map(|n| event(&author, NOW - 5, 0, &[], &format!("tie {n}"))).collect();
    same_time.push(new.clone());
    let lowest = same_time.iter().map(|event| *event.id()).min().unwrap();
    for candidate in &same_time {
        let _ = apply_one(&store, candidate);
    }
    assert_eq!(ids(&store.query(&[filter(&profile)], u64::MAX, NOW).unwrap()), vec![lowest]);
    for candidate in same_time.iter().filter(|event| *event.id() != lowest) {
        let outcome = apply_one(&store, candidate);
        assert!(matches!(outcome, Outcome::Rejected(_) | Outcome::Duplicate), "{outcome:?}");
    }
}

#[test]
fn addressable_versions_are_keyed_by_d_tag() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let author = keys(3);
    let a1 = event(&author, NOW - 10, 30023, &[("d", "a")], "a1");
    let b1 = event(&author, NOW - 10, 30023, &[("d", "b")], "b1");
    let no_d = event(&author, NOW - 10, 30023, &[], "none");
    let empty_d = event(&author, NOW - 9, 30023, &[("d", "")], "empty");
    let a2 = event(&author, NOW - 1, 30023, &[("d", "a")], "a2");
    for item in [&a1, &b1, &no_d, &empty_d, &a2] {
        assert!(matches!(apply_one(&store, item), Outcome::Stored { .. }), "{item:?}");
    }
    let all = store.query(&[filter(r#"{"kinds":[30023]}"#)], u64::MAX, NOW).unwrap();
    let mut found = ids(&all);
    found.sort();
    let mut expected = vec![*a2.id(), *b1.id(), *empty_d.id()];
    expected.sort();
    assert_eq!(found, expected, "a missing d tag is the empty d tag; a1 was replaced");
    // Another author's same d is another coordinate.
    let other = event(&keys(4), NOW - 20, 30023, &[("d", "a")], "other");
    assert!(matches!(apply_one(&store, &other), Outcome::Stored { .. }));
}

#[test]
fn deletion_by_id_removes_only_own_events_and_blocks_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (alice, bob) = (keys(5), keys(6));
    let mine = event(&alice, NOW - 10, 1, &[], "mine");
    let theirs = event(&bob, NOW - 10, 1, &[], "theirs");
    store.apply(&[mine.clone(), theirs.clone()], NOW).unwrap();
    let deletion = event(&alice, NOW, 5, &[("e", &hex(mine.id())), ("e", &hex(theirs.id()))], "");
    assert!(matches!(apply_one(&store, &deletion), Outcome::Stored { .. }));
    assert!(!by_id(&store, &mine));
    assert!(by_id(&store, &theirs), "only the author's own events are deleted");
    assert!(by_id(&store, &deletion), "the deletion request itself is stored");
    let (prefix, _) = rejected(&apply_one(&store, &mine));
    assert_eq!(prefix, Prefix::Blocked, "a deleted id cannot come back");

    // A deletion that arrives before its target still blocks it; another author's is unaffected.
    let later = event(&alice, NOW - 3, 1, &[], "later");
    let bobs = event(&bob, NOW - 3, 1, &[], "bob's");
    let early = event(&alice, NOW, 5, &[("e", &hex(later.id())), ("e", &hex(bobs.id()))], "early");
    store.apply(&[early], NOW).unwrap();
    assert_eq!(rejected(&apply_one(&store, &later)).0, Prefix::Blocked);
    assert!(matches!(apply_one(&store, &bobs), Outcome::Stored { .. }));

    // Deleting a deletion request has no effect.
    let undo = event(&alice, NOW, 5, &[("e", &hex(deletion.id()))], "undo");
    store.apply(&[undo], NOW).unwrap();
    assert!(by_id(&store, &deletion));
}

#[test]
fn deletion_by_coordinate_respects_created_at() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let author = keys(7);
    let pubkey = hex(author.public_key());
    let article = event(&author, NOW - 10, 30023, &[("d", "post")], "v1");
    let list = event(&author, NOW - 10, 10002, &[], "relays");
    store.apply(&[article.clone(), list.clone()], NOW).unwrap();
    let coordinate = format!("30023:{pubkey}:post");
    let replaceable = format!("10002:{pubkey}:");
    let foreign = format!("30023:{}:post", hex(keys(8).public_key()));
    let deletion = event(&author, NOW - 5, 5, &[("a", &coordinate), ("a", &replaceable), ("a", &foreign)], "");
    store.apply(&[deletion], NOW).unwrap();
    assert!(!by_id(&store, &article));
    assert!(!by_id(&store, &list));
    // Versions up to the deletion's created_at are refused; newer ones are accepted.
    let stale = event(&author, NOW - 5, 30023, &[("d", "post")], "v2 at the deletion time");
    assert_eq!(rejected(&apply_one(&store, &stale)).0, Prefix::Blocked);
    let fresh = event(&author, NOW - 4, 30023, &[("d", "post")], "v3");
    assert!(matches!(apply_one(&store, &fresh), Outcome::Stored { .. }));
    // Someone else's coordinate was not touched.
    let other = event(&keys(8), NOW - 20, 30023, &[("d", "post")], "other");
    assert!(matches!(apply_one(&store, &other), Outcome::Stored { .. }));
    // A newer version present when the deletion arrives survives it.
    let newer = event(&author, NOW - 1, 10002, &[], "newer list");
    store.apply(std::slice::from_ref(&newer), NOW).unwrap();
    let old_deletion = event(&author, NOW - 2, 5, &[("a", &replaceable)], "");
    store.apply(&[old_deletion], NOW).unwrap();
    assert!(by_id(&store, &newer));
}

#[test]
fn expiration_rejects_hides_and_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let author = keys(9);
    let expired = event(&author, NOW - 10, 1, &[("expiration", &(NOW - 1).to_string())], "gone");
    let at_now = event(&author, NOW - 10, 1, &[("expiration", &NOW.to_string())], "gone now");
    let soon = event(&author, NOW - 10, 1, &[("expiration", &(NOW + 100).to_string())], "soon");
    let malformed = event(&author, NOW - 10, 1, &[("expiration", "tomorrow")], "kept");
    let outcomes = store.apply(&[expired, at_now, soon.clone(), malformed.clone()], NOW).unwrap();
    assert_eq!(rejected(&outcomes[0]), (Prefix::Invalid, "event has expired".into()));
    assert_eq!(rejected(&outcomes[1]).0, Prefix::Invalid);
    assert!(matches!(outcomes[2], Outcome::Stored { .. }));
    assert!(matches!(outcomes[3], Outcome::Stored { .. }), "a malformed expiration is ignored");

    let all = filter("{}");
    assert_eq!(store.query(std::slice::from_ref(&all), u64::MAX, NOW).unwrap().len(), 2);
    let later = NOW + 100;
    assert_eq!(ids(&store.query(std::slice::from_ref(&all), u64::MAX, later).unwrap()), vec![*malformed.id()]);
    assert_eq!(store.count(std::slice::from_ref(&all), later).unwrap(), 1);
    // `{}` is counted from LMDB's entry count less the expired entries; a filter of kinds is
    // counted from its index entries unless an expired event waits for the sweep (then by a
    // scan): the same answer.
    assert_eq!(store.count(std::slice::from_ref(&all), NOW).unwrap(), 2);
    assert_eq!(store.count(&[filter(r#"{"kinds":[1]}"#)], later).unwrap(), 1);
    assert_eq!(store.count(&[filter(r#"{"kinds":[1]}"#)], NOW).unwrap(), 2);
    assert_eq!(store.sweep_expired(NOW, 100).unwrap().removed, 0);
    assert_eq!(store.sweep_expired(later, 100).unwrap().removed, 1);
    assert!(!by_id(&store, &soon));
    assert_eq!(store.sweep_expired(later, 100).unwrap().removed, 0);
}

#[test]
fn vanish_removes_the_author_up_to_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { relay_urls: vec!["wss://relay.example.com".into()], ..StoreOptions::default() };
    let store = Store::open(dir.path(), &options).unwrap();
    let (alice, bob, carol) = (keys(10), keys(11), keys(12));
    let notes = vec![
        event(&alice, NOW - 10, 1, &[], "a1"),
        event(&alice, NOW - 9, 0, &[], "profile"),
        event(&alice, NOW - 8, 5, &[("e", &"00".repeat(32))], "a deletion"),
        event(&bob, NOW - 10, 1, &[], "b1"),
        event(&carol, NOW - 10, 1, &[], "c1"),
    ];
    store.apply(&notes, NOW).unwrap();
    // A request for another relay changes nothing.
    let elsewhere = event(&bob, NOW - 5, 62, &[("relay", "wss://other.example.com")], "");
    store.apply(&[elsewhere], NOW).unwrap();
    assert!(by_id(&store, &notes[3]));
    // A request naming this relay (any case, trailing slash) applies.
    let bob_vanish = event(&bob, NOW - 5, 62, &[("relay", "WSS://relay.example.com/")], "");
    store.apply(&[bob_vanish], NOW).unwrap();
    assert!(!by_id(&store, &notes[3]));
    // ALL_RELAYS applies everywhere; it removes deletion requests too and keeps the request.
    let request = event(&alice, NOW - 5, 62, &[("relay", "ALL_RELAYS")], "bye");
    assert!(matches!(apply_one(&store, &request), Outcome::Stored { .. }));
    for note in &notes[..3] {
        assert!(!by_id(&store, note), "{note:?}");
    }
    assert!(by_id(&store, &request));
    assert!(by_id(&store, &notes[4]), "other authors are untouched");
    assert_eq!(rejected(&apply_one(&store, &notes[0])).0, Prefix::Blocked);
    let at_request_time = event(&alice, NOW - 5, 1, &[], "same second");
    assert_eq!(rejected(&apply_one(&store, &at_request_time)).0, Prefix::Blocked);
    let newer = event(&alice, NOW - 4, 1, &[], "back");
    assert!(matches!(apply_one(&store, &newer), Outcome::Stored { .. }));
}

#[test]
fn ephemeral_events_are_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for kind in [20000, 25000, 29999] {
        let ephemeral = event(&keys(13), NOW, kind, &[], "now only");
        assert_eq!(rejected(&apply_one(&store, &ephemeral)).0, Prefix::Invalid);
        assert!(!by_id(&store, &ephemeral));
    }
    assert_eq!(store.last_seq().unwrap(), 0);
}

#[test]
fn sequence_numbers_form_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let batch_one: Vec<Event> = (0..3).map(|n| event(&keys(14), NOW - n, 1, &[], &format!("{n}"))).collect();
    let batch_two: Vec<Event> = (3..6).map(|n| event(&keys(14), NOW - n, 1, &[], &format!("{n}"))).collect();
    let first = store.apply(&batch_one, NOW).unwrap();
    let second = store.apply(&batch_two, NOW).unwrap();
    let seqs: Vec<Outcome> = first.into_iter().chain(second).collect();
    assert_eq!(seqs, (1..=6).map(|seq| Outcome::Stored { seq }).collect::<Vec<_>>());
    let log = store.events_since(0, 100, usize::MAX).unwrap();
    assert_eq!(log.iter().map(|stored| stored.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(log[0].json, **batch_one[0].json());
    assert_eq!(store.log_origin(log[0].header.log).unwrap().map(|(origin, _)| origin), Some([0; 32]));
    assert_eq!(log[0].header.origin_seq, 1);
    assert_eq!(store.events_since(4, 100, usize::MAX).unwrap().len(), 2);
    assert_eq!(store.events_since(0, 2, usize::MAX).unwrap().len(), 2);
    assert_eq!(store.events_since(0, 100, 1).unwrap().len(), 1, "at least one event despite the byte cap");
    assert!(store.events_since(6, 100, usize::MAX).unwrap().is_empty());
}

#[test]
fn query_orders_merges_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (alice, bob) = (keys(15), keys(16));
    let mut events = Vec::new();
    for n in 0..6u64 {
        events.push(event(&alice, NOW - n / 2, 1, &[("t", "x")], &format!("a{n}")));
        events.push(event(&bob, NOW - n / 2, 7, &[("t", "x")], &format!("b{n}")));
    }
    store.apply(&events, NOW).unwrap();
    let mut expected: Vec<&Event> = events.iter().collect();
    expected.sort_by(|left, right| right.created_at().cmp(&left.created_at()).then(left.id().cmp(right.id())));
    let expected_ids: Vec<[u8; 32]> = expected.iter().map(|event| *event.id()).collect();

    let everything = store.query(&[filter("{}")], u64::MAX, NOW).unwrap();
    assert_eq!(ids(&everything), expected_ids, "created_at descending, then id ascending");
    // Two overlapping filters return each event once.
    let overlapping = [filter(r#"{"kinds":[1,7]}"#), filter(r##"{"#t":["x"]}"##)];
    assert_eq!(ids(&store.query(&overlapping, u64::MAX, NOW).unwrap()), expected_ids);
    // limit 0 returns nothing; a limit returns the newest; the default applies without one.
    assert!(store.query(&[filter(r#"{"limit":0}"#)], u64::MAX, NOW).unwrap().is_empty());
    assert_eq!(ids(&store.query(&[filter(r#"{"limit":3}"#)], u64::MAX, NOW).unwrap()), expected_ids[..3]);
    assert_eq!(ids(&store.query(&[filter("{}")], 5, NOW).unwrap()), expected_ids[..5]);
    assert_eq!(store.count(&[filter(r#"{"limit":1}"#)], NOW).unwrap(), 12, "count ignores limit");
    // Per-filter limits: the union of each filter's newest.
    let two = [filter(r#"{"kinds":[1],"limit":1}"#), filter(r#"{"kinds":[7],"limit":2}"#)];
    assert_eq!(store.query(&two, u64::MAX, NOW).unwrap().len(), 3);
}

#[test]
fn scans_resume_in_slices_and_keep_their_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let events: Vec<Event> = (0..300).map(|n| event(&keys(17), NOW - n % 50, 1, &[], &format!("{n}"))).collect();
    store.apply(&events, NOW).unwrap();
    let whole = store.query(&[filter("{}")], u64::MAX, NOW).unwrap();
    let mut scan = store.scan(&[filter("{}")], u64::MAX, NOW).unwrap();
    assert_eq!(scan.snapshot_seq(), 300);
    let late = event(&keys(17), NOW, 1, &[], "after the snapshot");
    store.apply(std::slice::from_ref(&late), NOW).unwrap();
    let mut sliced = Vec::new();
    let mut steps = 0;
    while !scan.is_done() {
        let budget = ScanBudget { candidates_max: 10, time_max: None };
        scan.step(&store, budget, |record| sliced.push(StoredEvent::from_record(&record).unwrap())).unwrap();
        steps += 1;
    }
    assert!(steps > 10, "a small budget takes many steps ({steps})");
    assert_eq!(ids(&sliced), ids(&whole), "slices add up to the whole, without the later event");
}

#[test]
fn reopen_reads_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<Event> =
        (0..50).map(|n| event(&keys(18), NOW - n, [1, 7, 9][n as usize % 3], &[("t", "r")], "x")).collect();
    let queries = [filter("{}"), filter(r##"{"#t":["r"],"limit":7}"##), filter(r#"{"kinds":[7]}"#)];
    let (before, epoch) = {
        let store = open(&dir);
        store.apply(&events, NOW).unwrap();
        let answers: Vec<_> =
            queries.iter().map(|query| store.query(std::slice::from_ref(query), u64::MAX, NOW).unwrap()).collect();
        (answers, store.epoch())
    };
    let store = open(&dir);
    let after: Vec<_> =
        queries.iter().map(|query| store.query(std::slice::from_ref(query), u64::MAX, NOW).unwrap()).collect();
    assert_eq!(before, after);
    assert_eq!(store.epoch(), epoch);
    assert_eq!(store.last_seq().unwrap(), 50);
    drop(store);
    // A store belongs to its node identity once it has one.
    let keyed = StoreOptions { node_id: [9; 32], ..StoreOptions::default() };
    drop(Store::open(dir.path(), &keyed).unwrap());
    let other = StoreOptions { node_id: [8; 32], ..StoreOptions::default() };
    assert!(Store::open(dir.path(), &other).unwrap_err().to_string().contains("belongs to node"));
    // Given to a rotated key, it opens as that node and no longer as the old one; what the
    // old key's runs logged stays held, at the cursors they left.
    let mut store = Store::open(dir.path(), &keyed).unwrap();
    store.apply(&[event(&keys(20), NOW, 1, &[], "before the rotation")], NOW).unwrap();
    let heads_before = store.log_heads().unwrap();
    assert!(heads_before.iter().any(|head| head.origin == [9; 32] && head.next_seq > 1));
    assert_eq!(store.rekey([8; 32]).unwrap(), [9; 32]);
    assert_eq!(store.rekey([8; 32]).unwrap(), [8; 32], "once is enough");
    drop(store);
    let store = Store::open(dir.path(), &other).unwrap();
    assert_eq!(store.node_id(), &[8; 32]);
    let heads_after = store.log_heads().unwrap();
    for head in &heads_before {
        assert!(heads_after.contains(head), "{head:?} kept");
    }
    assert!(heads_after.iter().any(|head| head.origin == [8; 32]), "a log of the new key");
    drop(store);
    assert!(Store::open(dir.path(), &keyed).unwrap_err().to_string().contains("belongs to node"));
}

#[test]
fn no_sync_durability_stores_and_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { durability: Durability::NoSync, ..StoreOptions::default() };
    let note = event(&keys(19), NOW, 1, &[], "fast");
    {
        let store = Store::open(dir.path(), &options).unwrap();
        store.apply(std::slice::from_ref(&note), NOW).unwrap();
        store.flush().unwrap();
    }
    assert!(by_id(&open(&dir), &note));
}

/// The events (position, id) this store holds of one origin log.
fn origin_log(store: &Store, origin: &[u8; 32], epoch: u64, from: u64) -> Vec<(u64, [u8; 32])> {
    let mut out = Vec::new();
    store
        .read_log(origin, epoch, from, 100, usize::MAX, |position, record| out.push((position, record.header.id)))
        .unwrap();
    out
}

/// The next position `read_log` reports after reading at most `events_max` events.
fn next_after(store: &Store, origin: &[u8; 32], epoch: u64, from: u64, events_max: usize) -> Option<u64> {
    store.read_log(origin, epoch, from, events_max, usize::MAX, |_, _| {}).unwrap()
}

#[test]
fn origin_logs_and_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { node_id: [1; 32], ..StoreOptions::default() };
    let store = Store::open(dir.path(), &options).unwrap();
    let own = event(&keys(30), NOW, 1, &[], "local");
    assert_eq!(apply_one(&store, &own), Outcome::Stored { seq: 1 });
    let epoch = store.epoch();
    assert_eq!(origin_log(&store, &[1; 32], epoch, 1), vec![(1, *own.id())], "a local event is in its own log");

    // A batch pulled from node 2's log keeps its positions, and the cursor moves with it.
    let remote: Vec<(u64, Event)> =
        (0..3).map(|n| (10 + 2 * n, event(&keys(31), NOW - n, 1, &[], &format!("remote {n}")))).collect();
    let outcomes = store.apply_replicated(&[2; 32], 77, 1..15, &remote, &[], NOW).unwrap().unwrap();
    assert_eq!(outcomes, vec![Outcome::Stored { seq: 2 }, Outcome::Stored { seq: 3 }, Outcome::Stored { seq: 4 }]);
    assert_eq!(store.cursor(&[2; 32], 77).unwrap(), 15);
    assert_eq!(store.cursor(&[2; 32], 78).unwrap(), 1, "another epoch is another log");
    let held = origin_log(&store, &[2; 32], 77, 11);
    assert_eq!(held.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), vec![12, 14]);
    let stored = store.get_by_id(remote[0].1.id()).unwrap().unwrap();
    assert_eq!(store.log_origin(stored.header.log).unwrap(), Some(([2; 32], 77)));
    assert_eq!(stored.header.origin_seq, 10);
    let own_log = store.get_by_id(own.id()).unwrap().unwrap().header.log;
    assert_eq!(store.log_origin(own_log).unwrap(), Some(([1; 32], epoch)));
    assert_ne!(stored.header.log, own_log, "each log its own number");
    assert_eq!(store.log_origin(own_log.max(stored.header.log) + 1).unwrap(), None);
    assert!(origin_log(&store, &[1; 32], epoch, 2).is_empty(), "replicated events are not in the own log");

    // Idempotent, and the cursor never moves back.
    let gap = store.apply_replicated(&[2; 32], 77, 16..20, &remote[..1], &[], NOW).unwrap();
    assert_eq!(gap, None, "a batch past the cursor would leave a gap: refused");
    let again = store.apply_replicated(&[2; 32], 77, 10..11, &remote[..1], &[], NOW).unwrap().unwrap();
    assert_eq!(again, vec![Outcome::Duplicate]);
    assert_eq!(store.cursor(&[2; 32], 77).unwrap(), 15);

    // An event held already that arrives through another log is served in that log too.
    let through_other_log = store.apply_replicated(&[3; 32], 5, 1..3, &[(2, own.clone())], &[], NOW).unwrap().unwrap();
    assert_eq!(through_other_log, vec![Outcome::Duplicate]);
    assert_eq!(origin_log(&store, &[3; 32], 5, 1), vec![(2, *own.id())]);
    let mut heads = store.log_heads().unwrap();
    heads.sort_by_key(|head| head.origin);
    // The own log goes up to its last own event (seq 1), not to the last seq (4).
    let expected = [([1; 32], epoch, 2), ([2; 32], 77, 15), ([3; 32], 5, 3)];
    assert_eq!(heads.iter().map(|head| (head.origin, head.epoch, head.next_seq)).collect::<Vec<_>>(), expected);

    // Where a read stops: past the last position read if cut, else as far as the store holds.
    assert_eq!(next_after(&store, &[2; 32], 77, 1, 1), Some(12), "cut after position 10");
    assert_eq!(next_after(&store, &[2; 32], 77, 1, 100), Some(15), "the cursor, past the gaps");
    assert_eq!(next_after(&store, &[2; 32], 77, 15, 100), Some(15), "nothing new");
    assert_eq!(next_after(&store, &[8; 32], 77, 1, 100), None, "a log this node does not hold");
    assert_eq!(next_after(&store, &[1; 32], epoch, 1, 100), Some(2), "the own log: after its last own event");

    // A NIP-09 deletion removes the event from its origin log too.
    let deletion = event(&keys(31), NOW, 5, &[("e", &hex(remote[1].1.id()))], "");
    assert!(matches!(apply_one(&store, &deletion), Outcome::Stored { .. }));
    assert_eq!(origin_log(&store, &[2; 32], 77, 1).iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), vec![10, 14]);

    // Positions of events held already (an ids-only pull): recorded without the events; one
    // no longer held stays a hole; the cursor moves over both.
    let held = [(3, *own.id()), (5, [0xee; 32])];
    assert_eq!(store.apply_replicated(&[4; 32], 6, 1..7, &[], &held, NOW).unwrap(), Some(Vec::new()));
    assert_eq!(origin_log(&store, &[4; 32], 6, 1), vec![(3, *own.id())]);
    assert_eq!(store.cursor(&[4; 32], 6).unwrap(), 7);

    // A staged batch dropped before its commit stores nothing, and its sequence numbers are
    // not handed out again (its events may have been fanned out under them).
    let late = event(&keys(32), NOW, 1, &[], "staged, never committed");
    let staged = store.stage_replicated(&[5; 32], 1, 1..2, &[(1, late.clone())], &[], NOW).unwrap().unwrap();
    let Outcome::Stored { seq: dropped_seq } = staged.outcomes()[0] else { panic!("{:?}", staged.outcomes()) };
    drop(staged);
    assert!(store.get_by_id(late.id()).unwrap().is_none());
    assert_eq!(store.cursor(&[5; 32], 1).unwrap(), 1);
    let staged = store.stage_replicated(&[5; 32], 1, 1..2, &[(1, late.clone())], &[], NOW).unwrap().unwrap();
    assert_eq!(staged.commit().unwrap(), vec![Outcome::Stored { seq: dropped_seq + 1 }]);
    assert_eq!(store.cursor(&[5; 32], 1).unwrap(), 2);

    // Reads at given positions: only those, bounded, and where the read stopped.
    let at = |positions: &[u64], events_max| {
        let mut read = Vec::new();
        let next = store.read_log_at(&[2; 32], 77, positions, events_max, usize::MAX, |position, record| {
            read.push((position, record.header.id));
        });
        (read, next.unwrap())
    };
    let (read, next) = at(&[10, 12, 14], 10);
    assert_eq!(read, vec![(10, *remote[0].1.id()), (14, *remote[2].1.id())], "12 was deleted");
    assert_eq!(next, 15, "every position looked at");
    let (read, next) = at(&[10, 14], 1);
    assert_eq!((read.len(), next), (1, 14), "cut after one event");

    drop(store);
    let other = StoreOptions { node_id: [9; 32], ..StoreOptions::default() };
    let error = Store::open(dir.path(), &other).unwrap_err().to_string();
    assert!(error.contains(&"01".repeat(32)), "a store of another node is refused: {error}");

    // A new run starts a new epoch; the last run's log stays held and served.
    let mut store = Store::open(dir.path(), &options).unwrap();
    assert_eq!(store.epoch(), epoch, "reopening alone keeps the epoch");
    store.begin_epoch().unwrap();
    assert_ne!(store.epoch(), epoch);
    let logs = store.log_heads().unwrap().len();
    store.begin_epoch().unwrap();
    assert_eq!(store.log_heads().unwrap().len(), logs, "a run that accepted nothing leaves no log");
    assert_eq!(origin_log(&store, &[1; 32], epoch, 1), vec![(1, *own.id()), (5, *deletion.id())]);
    assert_eq!(next_after(&store, &[1; 32], epoch, 1, 100), Some(6));
    let later = event(&keys(30), NOW, 1, &[], "next run");
    // (Seq 6 went to the dropped staged batch, 7 to its committed retry.)
    assert_eq!(apply_one(&store, &later), Outcome::Stored { seq: 8 });
    assert_eq!(origin_log(&store, &[1; 32], store.epoch(), 1), vec![(8, *later.id())]);
}

/// A run with classes of kinds numbers its own events of a class in a log of their own,
/// `(node, epoch | class)`, at their sequence numbers; each log's cursor follows its own last
/// event, and every one is this run's (never pulled).
#[test]
fn own_events_of_a_class_of_kinds_go_to_that_class_log() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { node_id: [1; 32], ..StoreOptions::default() };
    let mut store = Store::open(dir.path(), &options).unwrap();
    store.begin_epoch_with_classes([(1059, 1), (445, 2)].into_iter().collect()).unwrap();
    let epoch = store.epoch();
    assert_eq!(epoch & 0xff, 0, "epochs leave their low byte to the class");
    let (note, wrap, group, note2) = (
        event(&keys(40), NOW, 1, &[], "a note"),
        event(&keys(40), NOW, 1059, &[], "a gift wrap"),
        event(&keys(40), NOW, 445, &[], "a group message"),
        event(&keys(40), NOW, 1, &[], "another note"),
    );
    for (event, seq) in [(&note, 1), (&wrap, 2), (&group, 3), (&note2, 4)] {
        assert_eq!(apply_one(&store, event), Outcome::Stored { seq });
    }
    assert_eq!(origin_log(&store, &[1; 32], epoch, 1), vec![(1, *note.id()), (4, *note2.id())]);
    assert_eq!(origin_log(&store, &[1; 32], epoch | 1, 1), vec![(2, *wrap.id())]);
    assert_eq!(origin_log(&store, &[1; 32], epoch | 2, 1), vec![(3, *group.id())]);
    let mut heads: Vec<(u64, u64)> =
        store.log_heads().unwrap().iter().map(|head| (head.epoch, head.next_seq)).collect();
    heads.sort();
    assert_eq!(heads, vec![(epoch, 5), (epoch | 1, 3), (epoch | 2, 4)]);
    for class in 0..3 {
        assert!(store.is_own_current_log(&[1; 32], epoch | class));
    }
    assert!(!store.is_own_current_log(&[2; 32], epoch) && !store.is_own_current_log(&[1; 32], epoch ^ 0x100));
}

#[test]
fn a_single_node_store_joins_a_cluster_under_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let note = event(&keys(32), NOW, 1, &[], "before the cluster");
    assert_eq!(apply_one(&store, &note), Outcome::Stored { seq: 1 });
    let anonymous_epoch = store.epoch();
    drop(store);
    let keyed = StoreOptions { node_id: [4; 32], ..StoreOptions::default() };
    let store = Store::open(dir.path(), &keyed).unwrap();
    assert_eq!(store.node_id(), &[4; 32]);
    assert_eq!(origin_log(&store, &[0; 32], anonymous_epoch, 1), vec![(1, *note.id())], "served as a held log");
    assert_eq!(next_after(&store, &[0; 32], anonymous_epoch, 1, 100), Some(2));
    drop(store);
    let error = Store::open(dir.path(), &StoreOptions::default()).unwrap_err().to_string();
    assert!(error.contains(&"04".repeat(32)), "once keyed, the store is that node's: {error}");
    let tools = StoreOptions { as_stored_node: true, ..StoreOptions::default() };
    assert_eq!(Store::open(dir.path(), &tools).unwrap().node_id(), &[4; 32], "tools open it as its node");
}

/// A policy entry (`policy_log`) signed by `admin` for `change`, accepted by node `node` at
/// `unix_ms`, its authorization made at `created_at`.
fn policy_entry(admin: &Keys, change: &Change, created_at: u64, node: u8, unix_ms: u64) -> Event {
    let body = parrhesia_engine::management::body(change);
    let request =
        parrhesia_engine::nip98::HttpRequest { url: "http://relay.test/", method: "POST", body: body.as_bytes() };
    let auth = parrhesia_engine::nip98::sign(admin, &request, created_at);
    parrhesia_engine::policy_log::entry_event(&keys(90), &auth, &body, change, &[node; 32], unix_ms)
}

fn open_managed(dir: &tempfile::TempDir, admin: &Keys) -> common::Checked {
    let options = StoreOptions { admin_pubkeys: vec![*admin.public_key()], ..StoreOptions::default() };
    common::Checked(Store::open(dir.path(), &options).expect("store opens"))
}

/// NIP-86 decisions arrive as policy entries and persist; a banned event is removed and
/// refused from then on (also through `apply`, which replication and import use); an entry
/// not signed by an admin of this store is refused; calls are in the audit log, in order.
#[test]
fn policy_entries_persist_and_banned_events_stay_out() {
    use parrhesia_storage::AuditEntry;
    let dir = tempfile::tempdir().unwrap();
    let (alice, admin) = (keys(1), keys(2));
    let store = open_managed(&dir, &admin);
    let note = event(&alice, NOW, 1, &[("t", "x")], "bad");
    assert_eq!(apply_one(&store, &note), Outcome::Stored { seq: 1 });
    let changes = [
        Change::BanEvent(*note.id(), "illegal".into()),
        Change::BanPubkey(*alice.public_key(), "spam".into()),
        Change::AllowKind(1),
        Change::AllowKind(7),
        Change::DisallowKind(7),
        Change::BlockIp("2001:db8::1".parse().unwrap(), "abuse".into()),
        Change::BlockIp("::ffff:192.0.2.1".parse().unwrap(), String::new()),
        Change::RelayName("Mine".into()),
    ];
    let mut expected = parrhesia_engine::policy::Policy::default();
    for (number, change) in changes.iter().enumerate() {
        let entry = policy_entry(&admin, change, NOW, 1, 1_000 + number as u64);
        assert!(matches!(apply_one(&store, &entry), Outcome::Stored { .. }), "{change:?}");
        expected.apply(change);
    }
    assert!(!by_id(&store, &note), "the banned event is gone");
    let (prefix, detail) = rejected(&apply_one(&store, &note));
    assert_eq!((prefix, detail.as_str()), (Prefix::Blocked, "this event is banned here"));
    assert_eq!(store.policy().unwrap(), expected);
    assert_eq!(expected.ip_blocked("192.0.2.1".parse().unwrap()), Some(""));
    assert_eq!(store.policy_entries().unwrap().len(), changes.len(), "every entry is kept");
    // A ban, a NIP-09 deletion or a vanish request by the entries' own key removes no entry.
    let entry = &store.policy_entries().unwrap()[0];
    let deletion = event(&keys(90), NOW, 5, &[("e", &hex(entry.id()))], "");
    let vanish = event(&keys(90), NOW, 62, &[("relay", "ALL_RELAYS")], "");
    for request in
        [deletion, vanish, policy_entry(&admin, &Change::BanEvent(*entry.id(), String::new()), NOW, 1, 1_500)]
    {
        assert!(matches!(apply_one(&store, &request), Outcome::Stored { .. }));
    }
    assert!(by_id(&store, entry), "entries stay");
    expected.apply(&Change::BanEvent(*entry.id(), String::new()));
    // Signed by a key that is not an admin here: kept, and changes nothing (a store opened with
    // that key among its admins applies it: `refold_policy_log`).
    let forged = policy_entry(&alice, &Change::UnbanPubkey(*alice.public_key()), NOW + 1, 1, 2_000);
    assert!(matches!(apply_one(&store, &forged), Outcome::Stored { .. }));
    assert_eq!(store.policy().unwrap(), expected, "an entry by a stranger changes nothing");
    drop(store);
    let trusting =
        StoreOptions { admin_pubkeys: vec![*admin.public_key(), *alice.public_key()], ..StoreOptions::default() };
    let store = common::Checked(Store::open(dir.path(), &trusting).unwrap());
    store.refold_policy_log(NOW).unwrap();
    assert!(store.policy().unwrap().banned_pubkeys.is_empty(), "trusted now: alice's unban holds");
    drop(store);
    let store = open_managed(&dir, &admin);
    store.refold_policy_log(NOW).unwrap();
    assert_eq!(store.policy().unwrap(), expected, "and no longer once alice is not an admin");
    let audit = |number: u8, method: &str| AuditEntry {
        unix_ms: 1_000 + u64::from(number),
        caller: *admin.public_key(),
        auth_id: [number; 32],
        method: method.into(),
        params: format!(r#"["{number}"]"#),
    };
    for number in [5, 6, 99] {
        store.record_call(&audit(number, "listbannedpubkeys")).unwrap();
    }
    let log = store.audit_log(0).unwrap();
    assert_eq!(log, [audit(5, "listbannedpubkeys"), audit(6, "listbannedpubkeys"), audit(99, "listbannedpubkeys")]);
    assert_eq!(store.audit_log(1_006).unwrap().len(), 2, "from a time on");
    drop(store);
    let store = open_managed(&dir, &admin);
    assert_eq!(store.policy().unwrap(), expected, "the policy survives reopening");
    // Lifting the ban lets the event in again.
    let lift = policy_entry(&admin, &Change::AllowEvent(*note.id()), NOW + 2, 1, 3_000);
    assert!(matches!(apply_one(&store, &lift), Outcome::Stored { .. }));
    assert!(matches!(apply_one(&store, &note), Outcome::Stored { .. }));
}

/// A ban whose authorization expires (`parrhesia-tools delete --keep-out-days`) keeps the event
/// out until then; the sweep then removes the entry and its effect, leaving the key to the
/// newest entry left (here none), and the event may come again.
#[test]
fn an_expiring_ban_keeps_an_event_out_until_it_expires() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let admin = keys(2);
    let store = open_managed(&dir, &admin);
    let note = event(&keys(1), NOW, 1, &[], "to delete");
    assert!(matches!(apply_one(&store, &note), Outcome::Stored { .. }));
    let change = Change::BanEvent(*note.id(), "deleted".into());
    let body = parrhesia_engine::management::body(&change);
    let tags = vec![
        vec!["u".to_string(), "parrhesia-tools:delete".to_string()],
        vec!["method".to_string(), "POST".to_string()],
        vec!["payload".to_string(), hex(&sha2::Sha256::digest(body.as_bytes()))],
        vec!["expiration".to_string(), (NOW + 100).to_string()],
    ];
    let auth = admin.sign(NOW, 27235, tags, String::new());
    let entry = parrhesia_engine::policy_log::entry_event(&keys(90), &auth, &body, &change, &[1; 32], 1_000);
    assert_eq!(entry.expiration(), Some(NOW + 100), "the entry expires with its authorization");
    assert!(matches!(apply_one(&store, &entry), Outcome::Stored { .. }));
    assert!(!by_id(&store, &note));
    assert!(matches!(apply_one(&store, &note), Outcome::Rejected(_)), "kept out");
    let lapsed = tempfile::tempdir().unwrap();
    {
        // Before any sweep, a ban whose entry expired no longer holds (a node just restarted).
        let other = open_managed(&lapsed, &admin);
        assert!(matches!(apply_one(&other, &entry), Outcome::Stored { .. }));
        assert!(matches!(other.apply(std::slice::from_ref(&note), NOW + 100).unwrap()[0], Outcome::Stored { .. }));
    }
    assert_eq!(store.sweep_expired(NOW + 99, 100).unwrap(), parrhesia_storage::Swept::default());
    let swept = store.sweep_expired(NOW + 100, 100).unwrap();
    assert_eq!(swept, parrhesia_storage::Swept { removed: 1, policy_changed: true });
    assert!(store.policy().unwrap().banned_events.is_empty(), "the ban went with its entry");
    assert!(store.policy_entries().unwrap().is_empty());
    assert!(matches!(store.apply(std::slice::from_ref(&note), NOW + 101).unwrap()[0], Outcome::Stored { .. }));
}

/// Entries about one key decide by version whatever order they arrive in: every order of a
/// ban, an unban and a ban again (same second, two nodes) leaves the same policy, and an entry
/// that loses is kept but changes nothing.
#[test]
fn policy_entries_converge_in_any_order() {
    let admin = keys(2);
    let spammer = *keys(3).public_key();
    let entries = [
        policy_entry(&admin, &Change::BanPubkey(spammer, "first".into()), NOW, 1, 5_000),
        policy_entry(&admin, &Change::UnbanPubkey(spammer), NOW, 2, 5_001),
        policy_entry(&admin, &Change::BanPubkey(spammer, "again".into()), NOW + 1, 1, 4_000),
        policy_entry(&admin, &Change::UnbanPubkey(spammer), NOW, 3, 5_001),
    ];
    let orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]];
    for order in orders {
        let dir = tempfile::tempdir().unwrap();
        let store = open_managed(&dir, &admin);
        for index in order {
            assert!(matches!(apply_one(&store, &entries[index]), Outcome::Stored { .. }));
        }
        let policy = store.policy().unwrap();
        assert_eq!(policy.banned_pubkeys.get(&spammer).map(String::as_str), Some("again"), "order {order:?}");
        assert_eq!(store.policy_entries().unwrap().len(), entries.len());
    }
    let dir = tempfile::tempdir().unwrap();
    let store = open_managed(&dir, &admin);
    for index in [0, 3] {
        apply_one(&store, &entries[index]);
    }
    assert!(store.policy().unwrap().banned_pubkeys.is_empty(), "the later of two same-second entries wins");
}

/// NIP-45 counts kept at write time equal a scan's count, and their registers equal the
/// registers of the scanned authors, after stores, replacements and deletions (seeded; the
/// seed is printed).
#[test]
fn kept_counts_equal_a_scan_after_replacements_and_deletions() {
    use parrhesia_engine::hll::Hll;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut random = common::random_from_env("kept_counts");
    let authors: Vec<_> = (0..40).map(|_| random.keys()).collect();
    let targets: Vec<String> = (0..6).map(|_| hex(&random.bytes32())).collect();
    let mut stored: Vec<Event> = Vec::new();
    for step in 0..600u64 {
        let author = random.pick(&authors).clone();
        let created_at = NOW - 1_000 + step;
        let event = match random.below(10) {
            // A contact list (replaceable): the newest per author stays.
            0..=2 => {
                let mut tags: Vec<(&str, &str)> = Vec::new();
                for target in &targets {
                    if random.chance(50) {
                        tags.push(("p", target));
                    }
                }
                tags.push(("p", &targets[0])); // a repeated value counts once
                event(&author, created_at, 3, &tags, "")
            }
            3..=6 => {
                let (reacted, mentioned) = (random.pick(&targets).clone(), random.pick(&targets).clone());
                event(&author, created_at, 7, &[("e", &reacted), ("p", &mentioned)], "+")
            }
            7 => {
                let replied = random.pick(&targets).clone();
                event(&author, created_at, 1, &[("e", &replied), ("t", "x")], "note")
            }
            // The author deletes one of their own earlier events.
            _ => match stored.iter().rev().find(|old| old.pubkey() == author.public_key() && old.kind() != 5) {
                Some(old) => event(&author, created_at, 5, &[("e", &hex(old.id()))], ""),
                None => continue,
            },
        };
        if matches!(apply_one(&store, &event), Outcome::Stored { .. }) {
            stored.push(event);
        }
    }
    let mut checked = 0;
    for kind in [1u16, 3, 7] {
        for letter in ["e", "p"] {
            for target in &targets {
                let text = format!(r##"{{"kinds":[{kind}],"#{letter}":["{target}"]}}"##);
                let events = store.query(&[filter(&text)], u64::MAX, NOW).unwrap();
                let kept = store.kept_count(kind, letter.as_bytes()[0], target).unwrap();
                assert_eq!(kept.count, events.len() as u64, "{text}");
                let offset = parrhesia_engine::hll::offset_of(letter.as_bytes()[0], target).unwrap();
                let mut scanned = Hll::new(offset);
                events.iter().for_each(|event| scanned.add(&event.header.pubkey));
                let kept_hll = Hll::from_registers(offset, kept.registers);
                // Registers only grow: after removals they cover at least what is stored.
                assert!(
                    scanned.registers().iter().zip(kept_hll.registers()).all(|(scan, kept)| kept >= scan),
                    "{text}"
                );
                checked += usize::from(!events.is_empty());
            }
        }
    }
    assert!(checked >= 15, "the seed left most counts non-empty ({checked})");
    // With nothing removed, the registers are exactly the scan's.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = open(&fresh_dir);
    let reactions: Vec<Event> = (0..50)
        .map(|n| event(&authors[n % authors.len()], NOW - 100 + n as u64, 7, &[("e", &targets[1])], "+"))
        .collect();
    fresh.apply(&reactions, NOW).unwrap();
    let kept = fresh.kept_count(7, b'e', &targets[1]).unwrap();
    let offset = parrhesia_engine::hll::offset_of(b'e', &targets[1]).unwrap();
    let mut scanned = Hll::new(offset);
    reactions.iter().for_each(|event| scanned.add(event.pubkey()));
    assert_eq!((kept.count, &kept.registers), (50, scanned.registers()));
}
