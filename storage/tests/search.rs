//! NIP-50 search through the word index, against a naive scan of what the store must hold,
//! from a printed seed: the same events are found for AND queries (with and without a prefix),
//! after deletions, replacements, expirations and vanish requests; the index verifies; the
//! candidate bound and the store's search kinds hold. Replay a failure with
//! `PARRHESIA_SEED=<seed> cargo test -p parrhesia-storage --test search`.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::{Checked, event, filter, hex, keys, random_from_env};
use parrhesia_engine::search::Query;
use parrhesia_engine::{Event, Id, KindClass, SeededRandom};
use parrhesia_storage::{StorageError, Store, StoreOptions};

const NOW: u64 = 1_700_000_000;

/// Words of several scripts, Zipf-like by position (early words are common).
fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = [
        "nostr",
        "relay",
        "über",
        "café",
        "привет",
        "日",
        "本",
        "coffee",
        "cofounder",
        "coffeehouse",
        "rust",
        "bitcoin",
    ]
    .iter()
    .map(|word| word.to_string())
    .collect();
    words.extend((0..150).map(|number| format!("w{number}x")));
    words
}

fn pick_word(random: &mut SeededRandom, words: &[String]) -> String {
    let skewed = random.below(words.len() as u64) * random.below(words.len() as u64) / words.len() as u64;
    words[skewed as usize].clone()
}

fn content(random: &mut SeededRandom, words: &[String]) -> String {
    let mut text = Vec::new();
    for _ in 0..1 + random.below(12) {
        let mut word = pick_word(random, words);
        if random.chance(20) {
            word = word.to_uppercase();
        }
        text.push(word);
    }
    let separators = [" ", ", ", "\n", "! ", " #"];
    let mut joined = String::new();
    for (position, word) in text.iter().enumerate() {
        if position > 0 {
            joined.push_str(separators[random.below(separators.len() as u64) as usize]);
        }
        joined.push_str(word);
    }
    joined
}

/// The events a naive model says are stored, by id.
struct Model {
    stored: HashMap<Id, Event>,
}

impl Model {
    fn search(&self, query: &str, kinds: &[u16], now: u64) -> BTreeSet<Id> {
        let query = Query::parse(query);
        self.stored
            .values()
            .filter(|event| kinds.contains(&event.kind()) && event.expiration().is_none_or(|at| at > now))
            .filter(|event| query.matches(event.content()))
            .map(|event| *event.id())
            .collect()
    }
}

fn found(store: &Store, query: &str, now: u64) -> BTreeSet<Id> {
    let text = format!(r#"{{"search":{}}}"#, serde_json::to_string(query).unwrap());
    store.query(&[filter(&text)], u64::MAX, now).unwrap().iter().map(|hit| hit.header.id).collect()
}

fn random_query(random: &mut SeededRandom, words: &[String]) -> String {
    let mut terms: Vec<String> = (0..1 + random.below(3)).map(|_| pick_word(random, words)).collect();
    let last = terms.last_mut().unwrap();
    match random.below(3) {
        // A prefix: the first characters of a word.
        0 => *last = last.chars().take(2 + random.below(3) as usize).collect(),
        1 => last.push(' '),
        _ => {}
    }
    if random.chance(10) {
        terms.push("include:spam".into());
    }
    terms.join(" ")
}

#[test]
fn index_finds_what_a_naive_scan_finds_through_removals() {
    let mut random = random_from_env("index_finds_what_a_naive_scan_finds_through_removals");
    let words = vocabulary();
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { search_candidates_max: usize::MAX, ..StoreOptions::default() };
    let store = Checked(Store::open(dir.path(), &options).unwrap());
    let kinds = store.search_kinds().to_vec();
    let authors: Vec<_> = (1..=12).map(keys).collect();
    let mut model = Model { stored: HashMap::new() };
    let mut created_at = NOW - 100_000;
    for round in 0..30 {
        let mut batch = Vec::new();
        for _ in 0..100 {
            created_at += 1;
            let author = &authors[random.below(authors.len() as u64) as usize];
            let text = content(&mut random, &words);
            let event = match random.below(10) {
                0 => event(author, created_at, 0, &[], &text),
                1 => event(author, created_at, 30023, &[("d", &format!("a{}", random.below(3)))], &text),
                2 => event(author, created_at, 7, &[], &text),
                3 => event(author, created_at, 1, &[("expiration", &(NOW + random.below(200)).to_string())], &text),
                _ => event(author, created_at, 1, &[], &text),
            };
            batch.push(event);
        }
        // Deletions of earlier events, by their authors.
        let earlier: Vec<Event> = model.stored.values().take(3).cloned().collect();
        for target in earlier {
            let author = authors.iter().find(|keys| keys.public_key() == target.pubkey()).unwrap();
            created_at += 1;
            let id = parrhesia_engine::hex::encode(target.id());
            batch.push(event(author, created_at, 5, &[("e", &id)], ""));
        }
        if round == 20 {
            // One author vanishes.
            created_at += 1;
            batch.push(event(&authors[11], created_at, 62, &[("relay", "ALL_RELAYS")], ""));
        }
        for (event, outcome) in batch.iter().zip(store.apply(&batch, NOW).unwrap()) {
            if matches!(outcome, parrhesia_storage::Outcome::Stored { .. }) {
                apply_to_model(&mut model, event);
            }
        }
    }
    let mut nonempty = 0;
    for now in [NOW, NOW + 100, NOW + 300] {
        if now > NOW {
            store.sweep_expired(now, usize::MAX).unwrap();
        }
        for _ in 0..150 {
            let query = random_query(&mut random, &words);
            let expected = model.search(&query, &kinds, now);
            nonempty += usize::from(!expected.is_empty());
            assert_eq!(found(&store, &query, now), expected, "query {query:?} at {now}");
        }
    }
    assert!(nonempty > 150, "queries should often match ({nonempty} of 450)");
    // Every AND of two words through the index equals the naive answer (exhaustively, for the
    // common words).
    for first in &words[..12] {
        for second in &words[..12] {
            let query = format!("{first} {second} ");
            assert_eq!(found(&store, &query, NOW + 300), model.search(&query, &kinds, NOW + 300), "{query:?}");
        }
    }
}

/// What storing `event` does to the model: replacement, NIP-09 deletion, NIP-62 vanish.
fn apply_to_model(model: &mut Model, event: &Event) {
    match event.kind() {
        5 => {
            for value in event.tag_values("e") {
                let id: Id = parrhesia_engine::hex::decode_array(value).unwrap();
                if model.stored.get(&id).is_some_and(|target| target.pubkey() == event.pubkey()) {
                    model.stored.remove(&id);
                }
            }
        }
        62 => model
            .stored
            .retain(|_, stored| stored.pubkey() != event.pubkey() || stored.created_at() > event.created_at()),
        _ => {}
    }
    if KindClass::of(event.kind()) == KindClass::Addressable {
        model.stored.retain(|_, stored| {
            !(stored.pubkey() == event.pubkey() && stored.kind() == event.kind() && stored.d_tag() == event.d_tag())
        });
    }
    if KindClass::of(event.kind()) == KindClass::Replaceable {
        model.stored.retain(|_, stored| !(stored.pubkey() == event.pubkey() && stored.kind() == event.kind()));
    }
    model.stored.insert(*event.id(), event.clone());
}

#[test]
fn ranking_limit_and_candidate_bound() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { search_candidates_max: 3, ..StoreOptions::default() };
    let store = Checked(Store::open(dir.path(), &options).unwrap());
    let author = keys(1);
    let texts = [
        "coffee and tea",                    // oldest
        "coffee coffee coffee, more coffee", // most coffee
        "a long note that mentions coffee once among very many other words here",
        "tea only",
        "coffee",
        "cold brew", // newest
    ];
    let events: Vec<Event> =
        texts.iter().enumerate().map(|(at, text)| event(&author, NOW - 10 + at as u64, 1, &[], text)).collect();
    store.apply(&events, NOW).unwrap();
    // Only the 3 newest events holding "coffee" are ranked: texts 4, 2 and 1, best first.
    let hits = store.query(&[filter(r#"{"search":"coffee "}"#)], 10, NOW).unwrap();
    let ids: Vec<Id> = hits.iter().map(|hit| hit.header.id).collect();
    assert_eq!(ids, [*events[1].id(), *events[4].id(), *events[2].id()]);
    // The limit keeps the best.
    let best = store.query(&[filter(r#"{"search":"coffee ","limit":1}"#)], 10, NOW).unwrap();
    assert_eq!(best[0].header.id, *events[1].id());
    // Other fields combine with the search; no word, no match.
    let other_author =
        store.query(&[filter(&format!(r#"{{"search":"coffee","authors":["{}"]}}"#, "ab".repeat(32)))], 10, NOW);
    assert!(other_author.unwrap().is_empty());
    assert!(store.query(&[filter(r#"{"search":"a I"}"#)], 10, NOW).unwrap().is_empty());
    assert_eq!(store.count(&[filter(r#"{"search":"tea "}"#)], NOW).unwrap(), 2);
    // A count is not bounded by the candidates: all four notes saying coffee.
    assert_eq!(store.count(&[filter(r#"{"search":"coffee "}"#)], NOW).unwrap(), 4);

    // Another author's newer notes fill the newest candidates of "coffee" (the postings would
    // give the first author nothing): a filter naming the first author takes its candidates
    // from that author's newest events instead (3 here: cold brew, coffee, tea only).
    let other = keys(4);
    let newer: Vec<Event> = (0..5).map(|at| event(&other, NOW - 3 + at, 1, &[], "coffee again")).collect();
    store.apply(&newer, NOW + 10).unwrap();
    let by_author = format!(r#"{{"search":"coffee ","authors":["{}"],"limit":10}}"#, hex(author.public_key()));
    let hits = store.query(&[filter(&by_author)], 10, NOW + 10).unwrap();
    assert_eq!(hits.iter().map(|hit| hit.header.id).collect::<Vec<_>>(), [*events[4].id()]);
    let everyone = store.query(&[filter(r#"{"search":"coffee "}"#)], 10, NOW + 10).unwrap();
    assert_eq!(everyone.len(), 3, "without other fields, the newest 3 holders of coffee are ranked");
}

#[test]
fn the_store_keeps_its_search_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let only_notes = StoreOptions { search_kinds: Some(vec![1]), ..StoreOptions::default() };
    let store = Store::open(dir.path(), &only_notes).unwrap();
    let author = keys(2);
    store
        .apply(&[event(&author, NOW, 1, &[], "hello note"), event(&author, NOW, 0, &[], "hello profile")], NOW)
        .unwrap();
    assert_eq!(found(&store, "hello ", NOW).len(), 1, "kind 0 is not indexed here");
    drop(store);
    let other = StoreOptions { search_kinds: Some(vec![0, 1]), ..StoreOptions::default() };
    match Store::open(dir.path(), &other) {
        Err(StorageError::SearchKinds { stored, wanted }) => assert_eq!((stored, wanted), (vec![1], vec![0, 1])),
        other => panic!("opened with other search kinds: {other:?}"),
    }
    // Rebuilt with both kinds, it opens with them, finds both, and verifies.
    let report = parrhesia_storage::reindex_search(dir.path(), Some(&[1, 0]), |_| {}).unwrap();
    assert_eq!((report.events, report.indexed), (2, 2));
    let store = Checked(Store::open(dir.path(), &other).unwrap());
    assert_eq!(found(&store, "hello ", NOW).len(), 2);
    assert_eq!(store.search_kinds(), [0, 1]);
}

/// A count of one word is the word's document frequency, unless the reader may not see a
/// restricted kind the index holds: then the events are read and only readable ones count.
#[test]
fn a_word_count_respects_restricted_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { search_kinds: Some(vec![1, 4]), ..StoreOptions::default() };
    let store = Checked(Store::open(dir.path(), &options).unwrap());
    let (author, recipient) = (keys(5), keys(6));
    let to = hex(recipient.public_key());
    store
        .apply(
            &[event(&author, NOW, 1, &[], "coffee for all"), event(&author, NOW, 4, &[("p", &to)], "secret coffee")],
            NOW,
        )
        .unwrap();
    let count = |access: &parrhesia_engine::ReadAccess| {
        let mut scan = store.tally_scan(&[filter(r#"{"search":"coffee "}"#)], NOW).unwrap().with_access(access);
        let mut total = 0;
        while !scan.is_done() {
            total += scan.step(&store, parrhesia_storage::ScanBudget::UNLIMITED, |_| {}).unwrap();
        }
        total
    };
    let restricted: std::sync::Arc<[u16]> = vec![4].into();
    assert_eq!(count(&parrhesia_engine::ReadAccess::default()), 2, "open access: the frequency");
    assert_eq!(count(&parrhesia_engine::ReadAccess::new(restricted.clone(), Vec::new())), 1, "nobody: the note only");
    let as_recipient = parrhesia_engine::ReadAccess::new(restricted, vec![*recipient.public_key()]);
    assert_eq!(count(&as_recipient), 2, "the recipient reads the message");
}
