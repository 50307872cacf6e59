//! Micro-benchmarks of the LMDB store: group-commit `Store::apply` of pre-signed events with and
//! without fsync, one event per transaction, and two queries on the filled store. Std-only
//! harness: a warm-up round, then `ROUNDS` measured rounds (a fresh store each for inserts), the
//! median round reported. Human summary on stderr, one JSON object per metric on stdout.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use parrhesia_engine::{Event, Filter, Keys, Limits, SeededRandom, hex};
use parrhesia_storage::{Durability, Outcome, Store, StoreOptions};

/// Measured rounds per metric; the median is reported.
#[path = "../../engine/benches/harness/mod.rs"]
mod harness;

/// Names this benchmark in its JSON lines.
const BENCH: &str = "storage";

const ROUNDS: usize = 5;
/// Fixed seed: every run signs the same events.
const SEED: u64 = 0x5eed_0002;
const EVENT_COUNT: usize = 10_000;
/// Events per `Store::apply` call: the writer's group commit size (DESIGN.md).
const BATCH_EVENTS: usize = 1_000;
/// Events stored one transaction each, to show the cost of not batching.
const UNBATCHED_EVENT_COUNT: usize = 200;
const AUTHOR_POOL_COUNT: usize = 500;
/// Size the events are padded to, in bytes of JSON.
const EVENT_JSON_BYTES: usize = 500;
/// Authors in the authors query (each has about `EVENT_COUNT / AUTHOR_POOL_COUNT` events).
const QUERY_AUTHOR_COUNT: usize = 10;
const QUERY_ITERATIONS: usize = 200;
const CREATED_AT_FIRST: u64 = 1_700_000_000;
/// The `now` passed to the store: after every event.
const NOW: u64 = CREATED_AT_FIRST + EVENT_COUNT as u64 + 86_400;

fn main() {
    let started = Instant::now();
    // Under the target directory, on the same disk as the build: /tmp may be a tmpfs, where
    // fsync costs nothing and the figures would lie.
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    eprintln!("storage bench: {ROUNDS} rounds per metric, median reported, seed {SEED:#x}");
    eprintln!("stores under {}", scratch.display());
    eprintln!("signing {EVENT_COUNT} events of {EVENT_JSON_BYTES} bytes from {AUTHOR_POOL_COUNT} authors...");
    let mut random = SeededRandom::new(SEED);
    let authors: Vec<Keys> = (0..AUTHOR_POOL_COUNT).map(|_| random.keys()).collect();
    let events = signed_events(&authors, &mut random);
    let json_bytes_total: usize = events.iter().map(|event| event.json().len()).sum();
    eprintln!("{} bytes of JSON per event on average", json_bytes_total / events.len());

    bench_batched(scratch, &events, Durability::Fsync, "storage.insert_batched_fsync");
    bench_batched(scratch, &events, Durability::NoSync, "storage.insert_batched_nosync");
    bench_unbatched(scratch, &events[..UNBATCHED_EVENT_COUNT]);

    let directory = tempfile::Builder::new().prefix("query-").tempdir_in(scratch).expect("temp dir");
    let store = open(directory.path(), Durability::NoSync);
    for batch in events.chunks(BATCH_EVENTS) {
        apply_all_stored(&store, batch);
    }
    let limits = Limits::default();
    let kinds = Filter::parse(r#"{"kinds":[1],"limit":500}"#, &limits).expect("valid filter");
    bench_query(&store, kinds, "storage.query_kinds_limit_500", r#"{"kinds":[1],"limit":500}"#);
    let author_list: Vec<String> =
        authors[..QUERY_AUTHOR_COUNT].iter().map(|keys| format!("\"{}\"", hex::encode(keys.public_key()))).collect();
    let text = format!(r#"{{"authors":[{}],"limit":100}}"#, author_list.join(","));
    let authors_filter = Filter::parse(&text, &limits).expect("valid filter");
    bench_query(&store, authors_filter, "storage.query_authors_limit_100", "10 authors, limit 100");
    eprintln!("storage bench done in {:.1} s", started.elapsed().as_secs_f64());
}

/// Kind-1 events, a random author each, a `p`, a `t` and a `client` tag, content padded so the
/// JSON is `EVENT_JSON_BYTES` long. Distinct created_at, so no two are alike.
fn signed_events(authors: &[Keys], random: &mut SeededRandom) -> Vec<Event> {
    (0..EVENT_COUNT)
        .map(|number| {
            let keys = random.pick(authors);
            let tags = vec![
                vec!["p".to_string(), hex::encode(random.pick(authors).public_key())],
                vec!["t".to_string(), format!("topic{}", random.below(50))],
                vec!["client".to_string(), "parrhesia-bench".into()],
            ];
            let created_at = CREATED_AT_FIRST + number as u64;
            let empty = keys.sign(created_at, 1, tags.clone(), String::new());
            let content = random.text(EVENT_JSON_BYTES.saturating_sub(empty.json().len()));
            keys.sign(created_at, 1, tags, content)
        })
        .collect()
}

fn open(directory: &Path, durability: Durability) -> Store {
    Store::open(directory, &StoreOptions { durability, ..StoreOptions::default() }).expect("store opens")
}

/// Applies `batch` in one transaction and checks every event was stored.
fn apply_all_stored(store: &Store, batch: &[Event]) {
    let outcomes = store.apply(batch, NOW).expect("apply succeeds");
    assert!(outcomes.iter().all(|outcome| matches!(outcome, Outcome::Stored { .. })), "all events stored");
}

/// All events in batches of `BATCH_EVENTS` into a fresh store per round.
fn bench_batched(scratch: &Path, events: &[Event], durability: Durability, name: &str) {
    let rounds = measure_fresh_stores(scratch, durability, |store| {
        for batch in events.chunks(BATCH_EVENTS) {
            apply_all_stored(store, batch);
        }
    });
    let median = harness::median(&rounds);
    let per_second = events.len() as f64 / median.as_secs_f64();
    let batches = events.len().div_ceil(BATCH_EVENTS);
    let milliseconds_per_batch = median.as_secs_f64() * 1e3 / batches as f64;
    let what = format!("{} events in batches of {BATCH_EVENTS}, {durability:?}", events.len());
    let extra = [("milliseconds_per_batch", milliseconds_per_batch), ("batch_events", BATCH_EVENTS as f64)];
    harness::report(BENCH, name, &what, per_second, "events/s", &rounds, events.len(), &extra);
}

/// One event per transaction, with fsync.
fn bench_unbatched(scratch: &Path, events: &[Event]) {
    let rounds = measure_fresh_stores(scratch, Durability::Fsync, |store| {
        for event in events {
            apply_all_stored(store, std::slice::from_ref(event));
        }
    });
    let median = harness::median(&rounds);
    let per_second = events.len() as f64 / median.as_secs_f64();
    let milliseconds_per_event = median.as_secs_f64() * 1e3 / events.len() as f64;
    let what = format!("{} events, one transaction each, Fsync", events.len());
    let extra = [("milliseconds_per_transaction", milliseconds_per_event)];
    harness::report(
        BENCH,
        "storage.insert_unbatched_fsync",
        &what,
        per_second,
        "events/s",
        &rounds,
        events.len(),
        &extra,
    );
}

fn bench_query(store: &Store, filter: Filter, name: &str, what: &str) {
    let filters = [filter];
    let returned = store.query(&filters, 500, NOW).expect("query succeeds").len();
    let rounds = measure(|| {
        for _ in 0..QUERY_ITERATIONS {
            black_box(store.query(black_box(&filters), 500, NOW).expect("query succeeds"));
        }
    });
    let microseconds = harness::median(&rounds).as_secs_f64() * 1e6 / QUERY_ITERATIONS as f64;
    let what = format!("{what}, {returned} events returned, store of {EVENT_COUNT}");
    let extra = [("events_returned", returned as f64)];
    harness::report(BENCH, name, &what, microseconds, "us/query", &rounds, QUERY_ITERATIONS, &extra);
}

// ---------------------------------------------------------------- harness

/// One warm-up round, then `ROUNDS` timed rounds of `round`.
fn measure(mut round: impl FnMut()) -> Vec<Duration> {
    round();
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            round();
            start.elapsed()
        })
        .collect()
}

/// Like `measure`, but each round gets a fresh store in a new directory; opening the store and
/// removing the directory are not timed.
fn measure_fresh_stores(scratch: &Path, durability: Durability, mut round: impl FnMut(&Store)) -> Vec<Duration> {
    let mut timed_round = || {
        let directory = tempfile::Builder::new().prefix("insert-").tempdir_in(scratch).expect("temp dir");
        let store = open(directory.path(), durability);
        let start = Instant::now();
        round(&store);
        let elapsed = start.elapsed();
        drop(store);
        elapsed
    };
    timed_round();
    (0..ROUNDS).map(|_| timed_round()).collect()
}

// ---------------------------------------------------------------- inputs
