//! Shared helpers for the storage tests: keys, signed events, a store in a temp directory and
//! a seeded random generator whose seed is printed so a failure replays.

#![allow(dead_code)]

use parrhesia_engine::{Event, Filter, Keys, Limits};
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

pub fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path(), &StoreOptions::default()).expect("store opens")
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

/// SplitMix64: small, fast, and the same sequence for the same seed everywhere.
pub struct Random(u64);

impl Random {
    /// Seeded from `PARRHESIA_SEED` if set, else from the clock; the seed is printed.
    pub fn from_env(test: &str) -> Random {
        let seed = std::env::var("PARRHESIA_SEED").ok().and_then(|text| text.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_nanos()
                as u64
        });
        eprintln!("{test}: seed {seed} (replay with PARRHESIA_SEED={seed})");
        Random(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        value ^ (value >> 31)
    }

    /// Uniform in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}
