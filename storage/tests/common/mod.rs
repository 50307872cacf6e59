//! Shared helpers for the storage tests: keys, signed events, a store in a temp directory and
//! a seeded random generator whose seed is printed so a failure replays.

#![allow(dead_code)]

use parrhesia_engine::{Event, Filter, Keys, Limits, SeededRandom};
use parrhesia_storage::{Store, StoreOptions, StoredEvent};

pub fn keys(number: u8) -> Keys {
    Keys::from_secret_bytes([number.max(1); 32]).expect("valid secret")
}

pub fn tags(pairs: &[(&str, &str)]) -> Vec<Vec<String>> {
    pairs.iter().map(|(name, value)| vec![name.to_string(), value.to_string()]).collect()
}

pub fn event(keys: &Keys, created_at: u64, kind: u16, pairs: &[(&str, &str)], content: &str) -> Event {
    keys.sign(created_at, kind, tags(pairs), content.to_string())
}

/// A store that checks itself when the test is done with it: whatever a test wrote, the
/// tables must agree (`Store::verify`).
pub struct Checked(pub Store);

impl std::ops::Deref for Checked {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.0
    }
}

impl Drop for Checked {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_verified(&self.0);
        }
    }
}

pub fn assert_verified(store: &Store) {
    let report = store.verify(|_| {}).expect("the store reads");
    assert_eq!(report.problems, 0, "the store does not verify: {:#?}", report.shown);
}

pub fn open(dir: &tempfile::TempDir) -> Checked {
    Checked(Store::open(dir.path(), &StoreOptions::default()).expect("store opens"))
}

pub fn filter(text: &str) -> Filter {
    Filter::parse(text, &Limits::default()).unwrap_or_else(|reason| panic!("{text}: {reason}"))
}

pub fn ids(events: &[StoredEvent]) -> Vec<[u8; 32]> {
    events.iter().map(|stored| stored.header.id).collect()
}

pub fn hex(bytes: &[u8]) -> String {
    parrhesia_engine::hex::encode(bytes)
}

/// A seeded generator from `PARRHESIA_SEED` if set, else from the clock; the seed is printed
/// so a failure replays.
pub fn random_from_env(test: &str) -> SeededRandom {
    let seed = std::env::var("PARRHESIA_SEED").ok().and_then(|text| text.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_nanos() as u64
    });
    eprintln!("{test}: seed {seed} (replay with PARRHESIA_SEED={seed})");
    SeededRandom::new(seed)
}
