//! Micro-benchmarks of the engine's hot paths: the ingest check (parse, id, signature), its
//! parts, and event-to-subscription matching through `SubscriptionIndex`. Std-only harness:
//! one warm-up round, then `ROUNDS` measured rounds, the median round reported. Human summary
//! on stderr, one JSON object per metric on stdout.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parrhesia_engine::{Event, Filter, Keys, Limits, SeededRandom, SubscriptionIndex, compute_id, hex};

/// Measured rounds per metric; the median is reported.
#[path = "harness/mod.rs"]
mod harness;

/// Names this benchmark in its JSON lines.
const BENCH: &str = "engine";

const ROUNDS: usize = 5;
/// Fixed seed: every run builds the same events and filters.
const SEED: u64 = 0x5eed_0001;
/// Size the ingest events are padded to, in bytes of JSON.
const EVENT_JSON_BYTES: usize = 500;
/// Distinct pre-signed events the ingest benchmarks cycle through.
const INGEST_EVENT_COUNT: usize = 256;
const VERIFY_ITERATIONS: usize = 4_000;
const PARSE_ITERATIONS: usize = 50_000;
const SERIALIZE_ITERATIONS: usize = 200_000;
/// Subscriptions in the index (one filter each) and the pools their values come from.
const SUBSCRIPTION_COUNT: usize = 10_000;
const SUBSCRIPTIONS_PER_CONNECTION: usize = 20;
const AUTHOR_POOL_COUNT: usize = 5_000;
const REFERENCED_EVENT_POOL_COUNT: usize = 5_000;
/// Distinct events the matching benchmark looks up, cycling through them.
const LOOKUP_EVENT_COUNT: usize = 10_000;
/// created_at of every generated event; filters with `since` are set around it.
const CREATED_AT: u64 = 1_700_000_000;

fn main() {
    let started = Instant::now();
    let mut random = SeededRandom::new(SEED);
    eprintln!("engine bench: {ROUNDS} rounds per metric, median reported, seed {SEED:#x}");
    eprintln!("building {INGEST_EVENT_COUNT} signed events of {EVENT_JSON_BYTES} bytes...");
    let ingest_events = ingest_events(&mut random);
    let content_bytes = ingest_events[0].content().len();
    eprintln!("each is {} bytes of JSON ({content_bytes} of content)", ingest_events[0].json().len());
    bench_ingest(&ingest_events);
    eprintln!("building {AUTHOR_POOL_COUNT} keys and {LOOKUP_EVENT_COUNT} events to match...");
    let pools = Pools::new(&mut random);
    let lookup_events = lookup_events(&pools, &mut random);
    for mix in FILTER_MIXES {
        bench_matching(&pools, &lookup_events, &mix, &mut random);
    }
    eprintln!("engine bench done in {:.1} s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------- ingest

/// Kind-1 events with a `p`, a `t` and a `client` tag, content padded so the JSON is
/// `EVENT_JSON_BYTES` long; each from its own key.
fn ingest_events(random: &mut SeededRandom) -> Vec<Event> {
    (0..INGEST_EVENT_COUNT)
        .map(|number| {
            let keys = random.keys();
            let tags = vec![
                vec!["p".to_string(), hex::encode(&random.bytes32())],
                vec!["t".to_string(), "nostr".into()],
                vec!["client".to_string(), "parrhesia-bench".into()],
            ];
            let created_at = CREATED_AT + number as u64;
            let empty = keys.sign(created_at, 1, tags.clone(), String::new());
            let padding = EVENT_JSON_BYTES.saturating_sub(empty.json().len());
            let content = random.text(padding);
            let event = keys.sign(created_at, 1, tags, content);
            assert_eq!(event.json().len(), EVENT_JSON_BYTES.max(empty.json().len()), "padding is ASCII");
            event
        })
        .collect()
}

fn bench_ingest(events: &[Event]) {
    let limits = Limits::default();
    let jsons: Vec<Arc<str>> = events.iter().map(|event| event.json().clone()).collect();
    let pick = |iteration: usize| iteration % events.len();

    let rounds = measure(VERIFY_ITERATIONS, |iteration| {
        let event = Event::parse(&jsons[pick(iteration)], &limits).expect("valid event");
        event.verify_signature().expect("valid signature");
        black_box(event);
    });
    report_rate("engine.verify", "parse + id check + signature check", &rounds, VERIFY_ITERATIONS);

    let rounds = measure(VERIFY_ITERATIONS, |iteration| {
        black_box(&events[pick(iteration)]).verify_signature().expect("valid signature");
    });
    report_rate("engine.signature_check", "signature check alone", &rounds, VERIFY_ITERATIONS);

    let rounds = measure(PARSE_ITERATIONS, |iteration| {
        black_box(Event::parse(&jsons[pick(iteration)], &limits).expect("valid event"));
    });
    report_cost("engine.parse", "Event::parse (JSON, canonical bytes, sha256 id check)", &rounds, PARSE_ITERATIONS);

    let rounds = measure(SERIALIZE_ITERATIONS, |iteration| {
        black_box(black_box(&events[pick(iteration)]).canonical_bytes());
    });
    report_cost("engine.canonical_bytes", "canonical serialization", &rounds, SERIALIZE_ITERATIONS);

    let rounds = measure(SERIALIZE_ITERATIONS, |iteration| {
        let event = black_box(&events[pick(iteration)]);
        black_box(compute_id(event.pubkey(), event.created_at(), event.kind(), event.tags(), event.content()));
    });
    report_cost("engine.compute_id", "canonical serialization + sha256", &rounds, SERIALIZE_ITERATIONS);
}

// ---------------------------------------------------------------- matching

/// The values filters and events draw from, so that they meet.
struct Pools {
    authors: Vec<Keys>,
    /// Event ids that `e` tags and `#e` / `ids` filters refer to.
    referenced_events: Vec<String>,
}

impl Pools {
    fn new(random: &mut SeededRandom) -> Pools {
        let authors = (0..AUTHOR_POOL_COUNT).map(|_| random.keys()).collect();
        let referenced_events = (0..REFERENCED_EVENT_POOL_COUNT).map(|_| hex::encode(&random.bytes32())).collect();
        Pools { authors, referenced_events }
    }

    fn author_hex(&self, random: &mut SeededRandom) -> String {
        hex::encode(random.pick(&self.authors).public_key())
    }
}

/// Kinds of the looked-up events, with weights in percent.
const EVENT_KINDS: [(u16, u64); 6] = [(1, 60), (7, 20), (6, 10), (0, 4), (30023, 3), (9735, 3)];
/// Kinds the kinds-only filters ask for.
const FILTER_KIND_SETS: [&str; 8] = ["[1]", "[1,6]", "[7]", "[0]", "[30023]", "[9735]", "[1111]", "[1,6,7]"];

/// Events by random pool authors, a kind from `EVENT_KINDS`, 0-3 `p` tags and 0-2 `e` tags.
fn lookup_events(pools: &Pools, random: &mut SeededRandom) -> Vec<Event> {
    (0..LOOKUP_EVENT_COUNT)
        .map(|number| {
            let keys = random.pick(&pools.authors);
            let mut tags = Vec::new();
            for _ in 0..random.below(4) {
                tags.push(vec!["p".to_string(), pools.author_hex(random)]);
            }
            for _ in 0..random.below(3) {
                tags.push(vec!["e".to_string(), random.pick(&pools.referenced_events).clone()]);
            }
            let kind = weighted_kind(random);
            keys.sign(CREATED_AT + number as u64, kind, tags, random.text(120))
        })
        .collect()
}

fn weighted_kind(random: &mut SeededRandom) -> u16 {
    let mut roll = random.below(100);
    for (kind, weight) in EVENT_KINDS {
        if roll < weight {
            return kind;
        }
        roll -= weight;
    }
    unreachable!("weights sum to 100")
}

/// The share of each filter shape among the subscriptions, in percent. Always 40% authors
/// filters and 30% tag filters; `ids` filters fill what the other shares leave.
struct FilterMix {
    name: &'static str,
    /// Filters on kinds alone, which match a large share of all events (broad feeds).
    kinds_only_percent: u64,
    /// `{}` or since-only filters, which match every event.
    match_all_percent: u64,
    /// Lookups per measured round: enough that a round lasts about 0.1 s or more.
    lookups_per_round: usize,
}

const FILTER_MIXES: [FilterMix; 3] = [
    FilterMix { name: "engine.match", kinds_only_percent: 20, match_all_percent: 1, lookups_per_round: 10_000 },
    FilterMix {
        name: "engine.match_no_match_all",
        kinds_only_percent: 20,
        match_all_percent: 0,
        lookups_per_round: 10_000,
    },
    // Only authors, tag and ids filters: few matches per event, so this shows the lookup's own cost.
    FilterMix {
        name: "engine.match_selective",
        kinds_only_percent: 0,
        match_all_percent: 0,
        lookups_per_round: 100_000,
    },
];

/// One filter of `mix`: authors (1-20, a quarter also with kinds), `#p` or `#e` (1-5 values),
/// kinds-only (half with a `since` that every event passes), `{}` or since-only, `ids` (1-3).
fn random_filter(pools: &Pools, mix: &FilterMix, random: &mut SeededRandom) -> String {
    let roll = random.below(100);
    let quoted_list = |values: Vec<String>| {
        let quoted: Vec<String> = values.into_iter().map(|value| format!("\"{value}\"")).collect();
        format!("[{}]", quoted.join(","))
    };
    if roll < 40 {
        let authors = (0..1 + random.below(20)).map(|_| pools.author_hex(random)).collect();
        let kinds = if random.chance(25) { r#","kinds":[1,6]"# } else { "" };
        format!(r#"{{"authors":{}{kinds}}}"#, quoted_list(authors))
    } else if roll < 70 {
        let count = 1 + random.below(5);
        if random.chance(50) {
            let values = (0..count).map(|_| pools.author_hex(random)).collect();
            format!(r##"{{"#p":{}}}"##, quoted_list(values))
        } else {
            let values = (0..count).map(|_| random.pick(&pools.referenced_events).clone()).collect();
            format!(r##"{{"#e":{}}}"##, quoted_list(values))
        }
    } else if roll < 70 + mix.kinds_only_percent {
        let kinds = random.pick(&FILTER_KIND_SETS);
        let since = if random.chance(50) { format!(r#","since":{}"#, CREATED_AT - 3_600) } else { String::new() };
        format!(r#"{{"kinds":{kinds}{since}}}"#)
    } else if roll < 70 + mix.kinds_only_percent + mix.match_all_percent {
        if random.chance(50) { "{}".to_string() } else { format!(r#"{{"since":{}}}"#, CREATED_AT - 3_600) }
    } else {
        let ids = (0..1 + random.below(3)).map(|_| random.pick(&pools.referenced_events).clone()).collect();
        format!(r#"{{"ids":{}}}"#, quoted_list(ids))
    }
}

fn bench_matching(pools: &Pools, events: &[Event], mix: &FilterMix, random: &mut SeededRandom) {
    let limits = Limits::default();
    let mut index = SubscriptionIndex::<u32>::new();
    for number in 0..SUBSCRIPTION_COUNT {
        let text = random_filter(pools, mix, random);
        let filter = Filter::parse(&text, &limits).unwrap_or_else(|reason| panic!("{text}: {reason}"));
        let connection = (number / SUBSCRIPTIONS_PER_CONNECTION) as u32;
        index.insert(connection, &format!("sub{number}"), vec![filter]);
    }
    assert_eq!(index.len(), SUBSCRIPTION_COUNT);
    let mut out = Vec::new();
    let mut matches_total = 0usize;
    let rounds = measure(mix.lookups_per_round, |iteration| {
        out.clear();
        index.matches_into(&events[iteration % events.len()], &mut out);
        matches_total += out.len();
        black_box(&out);
    });
    // The warm-up round and every measured round look up the same events.
    let lookups_total = (ROUNDS + 1) * mix.lookups_per_round;
    let matches_per_event = matches_total as f64 / lookups_total as f64;
    let what = format!(
        "SubscriptionIndex::matches_into, {SUBSCRIPTION_COUNT} subscriptions, {}% kinds-only, {}% match-all, \
         {matches_per_event:.1} matches per event",
        mix.kinds_only_percent, mix.match_all_percent
    );
    let median = harness::median(&rounds);
    let per_second = mix.lookups_per_round as f64 / median.as_secs_f64();
    let microseconds_per_event = median.as_secs_f64() * 1e6 / mix.lookups_per_round as f64;
    let extra = [
        ("microseconds_per_event", microseconds_per_event),
        ("matches_per_event", matches_per_event),
        ("nanoseconds_per_match", microseconds_per_event * 1e3 / matches_per_event.max(1.0)),
        ("subscriptions", SUBSCRIPTION_COUNT as f64),
        ("kinds_only_percent", mix.kinds_only_percent as f64),
        ("match_all_percent", mix.match_all_percent as f64),
    ];
    harness::report(BENCH, mix.name, &what, per_second, "events/s", &rounds, mix.lookups_per_round, &extra);
}

// ---------------------------------------------------------------- harness

/// Runs `operation(0..iterations)` once to warm up, then `ROUNDS` times timed; returns the
/// measured round durations.
fn measure(iterations: usize, mut operation: impl FnMut(usize)) -> Vec<Duration> {
    for iteration in 0..iterations {
        operation(iteration);
    }
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for iteration in 0..iterations {
                operation(iteration);
            }
            start.elapsed()
        })
        .collect()
}

/// Reports operations per second, with microseconds per operation alongside.
fn report_rate(name: &str, what: &str, rounds: &[Duration], iterations: usize) {
    let median = harness::median(rounds);
    let per_second = iterations as f64 / median.as_secs_f64();
    let microseconds = median.as_secs_f64() * 1e6 / iterations as f64;
    harness::report(
        BENCH,
        name,
        what,
        per_second,
        "events/s",
        rounds,
        iterations,
        &[("microseconds_per_event", microseconds)],
    );
}

/// Reports nanoseconds per operation.
fn report_cost(name: &str, what: &str, rounds: &[Duration], iterations: usize) {
    let nanoseconds = harness::median(rounds).as_secs_f64() * 1e9 / iterations as f64;
    harness::report(BENCH, name, what, nanoseconds, "ns/event", rounds, iterations, &[]);
}

// ---------------------------------------------------------------- inputs
