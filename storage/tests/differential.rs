//! Differential tests from a printed seed: `Store::query` against a naive filter-and-sort over
//! the same events, and `SubscriptionIndex` against a naive match of every filter. Replay a
//! failure with `PARRHESIA_SEED=<seed> cargo test -p parrhesia-storage --test differential`.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::{hex, keys, random_from_env};
use parrhesia_engine::search::{Query, idf, word_counts};
use parrhesia_engine::{Event, Filter, Keys, KindClass, SeededRandom, SubscriptionIndex, TagFilter};
use parrhesia_storage::search::DEFAULT_SEARCH_KINDS;
use parrhesia_storage::{Outcome, ScanBudget, Store, StoreOptions};

const EVENTS: usize = 10_000;
const FILTERS: usize = 1_000;
const NOW: u64 = 1_700_000_000;
/// Few distinct timestamps, so many events share one.
const TIMESTAMPS: u64 = 400;
const KINDS: [u16; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 7, 7, 0, 3, 10002, 30023, 30000, 20001];
const WORDS: [&str; 8] = ["nostr", "relay", "rust", "lmdb", "shard", "bloom", "hello", "world"];

struct World {
    authors: Vec<Keys>,
    /// Ids and pubkeys that tags refer to: some real, some not.
    referenced: Vec<String>,
    long_values: Vec<String>,
}

fn world(random: &mut SeededRandom) -> World {
    let authors: Vec<Keys> = (1..=24).map(keys).collect();
    let mut referenced: Vec<String> = authors.iter().map(|author| hex(author.public_key())).collect();
    referenced.extend((0..40).map(|_| hex(&random.next_u64().to_be_bytes().repeat(4))));
    let long_values = (0..3).map(|number| format!("https://example.com/{}", "x".repeat(60 + number))).collect();
    World { authors, referenced, long_values }
}

fn random_event(random: &mut SeededRandom, world: &World) -> Event {
    // Skewed authors: low numbers post more.
    let author = &world.authors[(random.below(24) * random.below(24) / 24) as usize];
    let kind = *random.pick(&KINDS);
    let created_at = NOW - random.below(TIMESTAMPS);
    let mut tags = Vec::new();
    for _ in 0..random.below(4) {
        let tag = match random.below(5) {
            0 => vec!["e".to_string(), random.pick(&world.referenced).clone()],
            1 => vec!["p".to_string(), random.pick(&world.referenced).clone()],
            2 => vec!["t".to_string(), random.pick(&WORDS).to_string()],
            3 => vec!["r".to_string(), random.pick(&world.long_values).clone()],
            _ => vec!["alt".to_string(), "multi-letter tags are not indexed".to_string()],
        };
        tags.push(tag);
    }
    if KindClass::of(kind) == KindClass::Addressable && random.chance(80) {
        tags.push(vec!["d".to_string(), random.pick(&WORDS[..3]).to_string()]);
    }
    let content = (0..1 + random.below(5)).map(|_| *random.pick(&WORDS)).collect::<Vec<_>>().join(" ");
    author.sign(created_at, kind, tags, content)
}

fn random_list<T: Clone>(random: &mut SeededRandom, items: &[T], most: u64) -> Vec<T> {
    (0..1 + random.below(most)).map(|_| random.pick(items).clone()).collect()
}

fn random_filter(random: &mut SeededRandom, world: &World, stored: &[Event]) -> Filter {
    let mut filter = Filter::default();
    if random.chance(10) {
        let mut ids: Vec<[u8; 32]> = random_list(random, stored, 4).iter().map(|event| *event.id()).collect();
        ids.push([7; 32]);
        filter.ids = Some(ids);
    }
    if random.chance(40) {
        filter.authors =
            Some(random_list(random, &world.authors, 3).iter().map(|author| *author.public_key()).collect());
    }
    if random.chance(40) {
        filter.kinds = Some(random_list(random, &KINDS, 3));
    }
    if random.chance(35) {
        let (letter, values) = match random.below(4) {
            0 => (b'e', random_list(random, &world.referenced, 3)),
            1 => (b'p', random_list(random, &world.referenced, 3)),
            2 => (b't', random_list(random, &WORDS.map(String::from), 3)),
            _ => (b'r', random_list(random, &world.long_values, 2)),
        };
        filter.tags.push(TagFilter { letter, values });
        if random.chance(20) {
            filter.tags.push(TagFilter {
                letter: b'd',
                values: random_list(random, &WORDS[..3].iter().map(|word| word.to_string()).collect::<Vec<_>>(), 2),
            });
        }
        filter.tags.sort_by_key(|condition| condition.letter);
        filter.tags.dedup_by_key(|condition| condition.letter);
    }
    if random.chance(30) {
        filter.since = Some(NOW - random.below(TIMESTAMPS));
    }
    if random.chance(30) {
        filter.until = Some(NOW - random.below(TIMESTAMPS));
    }
    if random.chance(50) {
        filter.limit = Some(random.below(60));
    }
    if random.chance(10) {
        // One or two words, any case; the last often cut short (a prefix) or closed by a space.
        let mut words: Vec<String> = random_list(random, &WORDS, 2).iter().map(|word| word.to_string()).collect();
        if random.chance(50) {
            words[0] = words[0].to_uppercase();
        }
        let last = words.last_mut().unwrap();
        match random.below(3) {
            0 => last.truncate(2 + random.below(3) as usize),
            1 => last.push(' '),
            _ => {}
        }
        filter.search = Some(words.join(" "));
    }
    filter
}

/// The events the store must hold: unique ids, non-ephemeral, one winner per coordinate.
fn expected_stored(events: &[Event]) -> Vec<Event> {
    let mut winners: HashMap<(Vec<u8>, u16, String), Event> = HashMap::new();
    let mut regular: HashMap<[u8; 32], Event> = HashMap::new();
    for event in events {
        match event.kind_class() {
            KindClass::Ephemeral => {}
            KindClass::Regular => {
                regular.insert(*event.id(), event.clone());
            }
            class => {
                let d = if class == KindClass::Addressable { event.d_tag().to_string() } else { String::new() };
                let key = (event.pubkey().to_vec(), event.kind(), d);
                let wins = |current: &Event| {
                    (event.created_at(), std::cmp::Reverse(*event.id()))
                        > (current.created_at(), std::cmp::Reverse(*current.id()))
                };
                if winners.get(&key).is_none_or(wins) {
                    winners.insert(key, event.clone());
                }
            }
        }
    }
    regular.into_values().chain(winners.into_values()).collect()
}

/// Filters without a search merge by time (newest first, ties by id); then each search filter
/// adds its matches by BM25 relevance (`naive_search`), leaving out what was already listed.
fn naive_query(stored: &[Event], filters: &[Filter]) -> Vec<[u8; 32]> {
    let order =
        |left: &&Event, right: &&Event| right.created_at().cmp(&left.created_at()).then(left.id().cmp(right.id()));
    let mut union = BTreeSet::new();
    for filter in filters.iter().filter(|filter| filter.search.is_none()) {
        let mut matching: Vec<&Event> = stored.iter().filter(|event| filter.matches(event)).collect();
        matching.sort_by(order);
        let limit = filter.limit.map_or(usize::MAX, |limit| limit as usize);
        union
            .extend(matching.into_iter().take(limit).map(|event| (std::cmp::Reverse(event.created_at()), *event.id())));
    }
    let mut listed: Vec<[u8; 32]> = union.into_iter().map(|(_, id)| id).collect();
    for filter in filters.iter().filter(|filter| filter.search.is_some()) {
        for id in naive_search(stored, filter) {
            if !listed.contains(&id) {
                listed.push(id);
            }
        }
    }
    listed
}

/// A search filter over every stored event: those of the indexed kinds that match the filter
/// and hold every term, best BM25 score first (then newest, then lowest id), up to the limit.
fn naive_search(stored: &[Event], filter: &Filter) -> Vec<[u8; 32]> {
    let indexed: Vec<&Event> = stored.iter().filter(|event| DEFAULT_SEARCH_KINDS.contains(&event.kind())).collect();
    let mut frequencies: HashMap<String, u64> = HashMap::new();
    let mut length = 0u64;
    for event in &indexed {
        let (counts, words) = word_counts(event.content());
        length += u64::from(words);
        for word in counts.into_keys() {
            *frequencies.entry(word).or_default() += 1;
        }
    }
    let documents = indexed.len() as u64;
    let query = Query::parse(filter.search.as_deref().unwrap());
    let mut weights: Vec<f64> = query.terms.iter().map(|term| idf(documents, frequencies[term.as_str()])).collect();
    if let Some(prefix) = &query.prefix {
        let matching: u64 =
            frequencies.iter().filter(|(word, _)| word.starts_with(prefix.as_str())).map(|(_, count)| count).sum();
        weights.push(idf(documents, matching.min(documents)));
    }
    let average = length as f64 / documents as f64;
    let mut ranked: Vec<(f64, u64, [u8; 32])> = indexed
        .iter()
        .filter(|event| filter.matches(event))
        .filter_map(|event| Some((query.score(event.content(), &weights, average)?, event.created_at(), *event.id())))
        .collect();
    ranked.sort_by(|left, right| right.0.total_cmp(&left.0).then(right.1.cmp(&left.1)).then(left.2.cmp(&right.2)));
    let limit = filter.limit.map_or(usize::MAX, |limit| limit as usize);
    ranked.into_iter().take(limit).map(|(_, _, id)| id).collect()
}

#[test]
fn store_query_equals_naive_filter_and_sort() {
    let mut random = random_from_env("store_query_equals_naive_filter_and_sort");
    let world = world(&mut random);
    let events: Vec<Event> = (0..EVENTS).map(|_| random_event(&mut random, &world)).collect();
    let dir = tempfile::tempdir().unwrap();
    // Every candidate is ranked (the bound has its own test in `search.rs`), so search
    // results are exactly the naive ones.
    let options = StoreOptions { search_candidates_max: usize::MAX, ..StoreOptions::default() };
    let store = Store::open(dir.path(), &options).unwrap();
    let mut offset = 0;
    while offset < events.len() {
        let size = (1 + random.below(700) as usize).min(events.len() - offset);
        let outcomes = store.apply(&events[offset..offset + size], NOW).unwrap();
        assert!(outcomes.iter().all(|outcome| !matches!(outcome, Outcome::Rejected(reason) if reason.prefix != parrhesia_engine::Prefix::Duplicate && reason.prefix != parrhesia_engine::Prefix::Invalid)));
        offset += size;
    }
    let stored = expected_stored(&events);
    assert_eq!(store.count(&[Filter::default()], NOW).unwrap(), stored.len() as u64, "stored set");
    assert!(stored.len() > EVENTS / 2, "most events are stored ({})", stored.len());

    let mut nonempty = 0;
    for round in 0..FILTERS {
        let filters: Vec<Filter> =
            (0..1 + random.below(3)).map(|_| random_filter(&mut random, &world, &stored)).collect();
        let expected = naive_query(&stored, &filters);
        nonempty += usize::from(!expected.is_empty());
        let found: Vec<[u8; 32]> =
            store.query(&filters, u64::MAX, NOW).unwrap().iter().map(|hit| hit.header.id).collect();
        let shown: Vec<String> = filters.iter().map(Filter::to_json).collect();
        if found != expected {
            let first = found.iter().zip(&expected).position(|(left, right)| left != right);
            panic!(
                "round {round}: filters {shown:?}: found {} events, expected {}, first difference at {first:?}",
                found.len(),
                expected.len()
            );
        }
        if let [filter] = filters.as_slice() {
            // COUNT ignores the limit; a filter of kinds and authors is counted from its index
            // entries alone, any other by a scan: both are the naive count.
            let unlimited = Filter { limit: None, ..filter.clone() };
            let counted = store.count(std::slice::from_ref(&unlimited), NOW).unwrap();
            assert_eq!(counted, naive_query(&stored, &[unlimited]).len() as u64, "round {round}: count {shown:?}");
        }
        if round % 10 == 0 {
            // The same query in small slices gives the same answer.
            let mut scan = store.scan(&filters, u64::MAX, NOW).unwrap();
            let mut sliced = Vec::new();
            while !scan.is_done() {
                let budget = ScanBudget { candidates_max: 1 + random.below(50) as usize, time_max: None };
                scan.step(&store, budget, |record| sliced.push(record.header.id)).unwrap();
            }
            assert_eq!(sliced, expected, "round {round} sliced");
        }
    }
    assert!(nonempty > FILTERS / 4, "filters should often match something ({nonempty} of {FILTERS})");
}

#[test]
fn subscription_index_equals_naive_match() {
    let mut random = random_from_env("subscription_index_equals_naive_match");
    let world = world(&mut random);
    let events: Vec<Event> = (0..EVENTS).map(|_| random_event(&mut random, &world)).collect();
    let mut index = SubscriptionIndex::new();
    let mut subscriptions: Vec<(u32, String, Vec<Filter>)> = Vec::new();
    while subscriptions.iter().map(|(_, _, filters)| filters.len()).sum::<usize>() < FILTERS {
        let filters: Vec<Filter> =
            (0..1 + random.below(3)).map(|_| random_filter(&mut random, &world, &events)).collect();
        let connection = random.below(50) as u32;
        let id = format!("sub{}", subscriptions.len());
        index.insert(connection, &id, filters.clone());
        subscriptions.push((connection, id, filters));
    }
    // Remove and replace a few, to exercise the slot reuse.
    for number in (0..subscriptions.len()).step_by(7) {
        let (connection, id, _) = &subscriptions[number];
        assert!(index.remove(*connection, id));
        let filters = vec![random_filter(&mut random, &world, &events)];
        index.insert(*connection, id, filters.clone());
        subscriptions[number].2 = filters;
    }
    let mut matched = 0;
    let mut found = Vec::new();
    for event in &events {
        found.clear();
        index.matches_into(event, &mut found);
        let mut found: Vec<(u32, String)> =
            found.iter().map(|(connection, id)| (*connection, id.to_string())).collect();
        found.sort();
        let mut expected: Vec<(u32, String)> = subscriptions
            .iter()
            .filter(|(_, _, filters)| filters.iter().any(|filter| filter.matches(event)))
            .map(|(connection, id, _)| (*connection, id.clone()))
            .collect();
        expected.sort();
        matched += expected.len();
        assert_eq!(found, expected, "event {event:?}");
    }
    assert!(matched > EVENTS, "subscriptions should often match ({matched})");
}
