//! Retention sweeps: the stored events past the operator's rules (`parrhesia_engine::retention`),
//! or the oldest ones a size budget lets go, removed in bounded slices, oldest first, through
//! the same removal as NIP-09 deletions and NIP-40 expiry (every index, count and word-index
//! entry with the event).

use parrhesia_engine::retention::Retention;

use crate::error::StorageError;
use crate::schema::{self, TimeIndex};
use crate::store::Store;
use crate::tables::read_record;
use crate::write::{Pending, Writer};

/// What one slice of a retention pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionSlice {
    /// Index entries examined (events older than the shortest age).
    pub examined: u64,
    pub removed: u64,
    /// Where the next slice of this pass starts (a time-index position); `None`: the pass
    /// reached events younger than every rule's age and is done.
    pub next: Option<[u8; 16]>,
}

impl Store {
    /// One slice of a retention pass at `now`: walks the time index oldest first from `from`
    /// (the oldest event when `None`) through events older than the rules' shortest age,
    /// examines at most `examine_max` of them, and removes, in one transaction, those past
    /// their own rule. Events younger than the shortest age end the pass: every rule keeps them.
    pub fn sweep_retention(
        &self,
        rules: &Retention,
        now: u64,
        from: Option<[u8; 16]>,
        examine_max: usize,
    ) -> Result<RetentionSlice, StorageError> {
        let Some(shortest) = rules.shortest_age() else { return Ok(RetentionSlice::default()) };
        let horizon = now.saturating_sub(shortest);
        self.sweep(from, horizon, examine_max, usize::MAX, |kind, author, created_at| {
            rules.expired(kind, author, created_at, now)
        })
    }

    /// One slice of a size-budget eviction: from `from` (the oldest event when `None`), oldest
    /// first, removes at most `remove_max` of the events the rules let a budget remove
    /// (`Retention::evictable`), examining at most `examine_max`.
    pub fn evict_oldest(
        &self,
        rules: &Retention,
        from: Option<[u8; 16]>,
        examine_max: usize,
        remove_max: usize,
    ) -> Result<RetentionSlice, StorageError> {
        self.sweep(from, u64::MAX, examine_max, remove_max, |kind, author, _| rules.evictable(kind, author))
    }

    /// Walks the time index from `from` while created_at < `horizon`, examining at most
    /// `examine_max` entries and choosing at most `remove_max` by `doomed(kind, author,
    /// created_at)`, then removes those in one transaction.
    fn sweep(
        &self,
        from: Option<[u8; 16]>,
        horizon: u64,
        examine_max: usize,
        remove_max: usize,
        doomed: impl Fn(u16, &[u8; 32], u64) -> bool,
    ) -> Result<RetentionSlice, StorageError> {
        let mut slice = RetentionSlice::default();
        let mut chosen = Vec::new();
        {
            let txn = self.env.read_txn()?;
            let start = from.unwrap_or([0; 16]);
            let index = self.tables.time_index(TimeIndex::Time);
            for dup in index.duplicates_from(&txn, schema::TIME_KEY, &start)? {
                let dup = dup?;
                let (created_at, seq) = schema::split_time_suffix(dup);
                if created_at >= horizon {
                    break;
                }
                if slice.examined as usize >= examine_max.max(1) || chosen.len() >= remove_max.max(1) {
                    slice.next = Some(schema::time_dup(created_at, seq));
                    break;
                }
                slice.examined += 1;
                let Some(record) = read_record(&txn, &self.tables, seq)? else { continue };
                let header = &record.header;
                if doomed(header.kind, &header.pubkey, created_at) {
                    chosen.push(seq);
                }
            }
        }
        if !chosen.is_empty() {
            // The caller is the node's only writer: nothing changed since the walk's snapshot.
            let mut txn = self.env.write_txn()?;
            let mut pending = Pending::default();
            let mut writer = Writer::new(&mut txn, self, &mut pending);
            for &seq in &chosen {
                writer.remove(seq)?;
            }
            pending.flush(&mut txn, self)?;
            txn.commit()?;
            slice.removed = chosen.len() as u64;
        }
        Ok(slice)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use parrhesia_engine::retention::KindRule;
    use parrhesia_engine::{Event, Keys};

    use super::*;
    use crate::store::StoreOptions;

    /// Every event kept, by id, after running passes to their end in slices of `examine_max`.
    fn sweep_all(store: &Store, rules: &Retention, now: u64, examine_max: usize) -> (u64, u64) {
        let (mut removed, mut slices, mut from) = (0, 0, None);
        loop {
            let slice = store.sweep_retention(rules, now, from, examine_max).unwrap();
            removed += slice.removed;
            slices += 1;
            assert!(slice.examined <= examine_max as u64);
            match slice.next {
                Some(next) => from = Some(next),
                None => return (removed, slices),
            }
        }
    }

    /// Against a naive model: after a pass in small slices, exactly the events the rules keep
    /// remain, and the store verifies (every index, count and word entry went with its event).
    #[test]
    fn a_pass_in_slices_leaves_exactly_what_the_rules_keep_and_the_store_verifies() {
        let directory = tempfile::tempdir().unwrap();
        let options = StoreOptions { search_kinds: Some(vec![1]), ..StoreOptions::default() };
        let store = Store::open(directory.path(), &options).unwrap();
        let now = 1_000_000;
        let authors: Vec<Keys> = (1..=4u8).map(|n| Keys::from_secret_bytes([n; 32]).unwrap()).collect();
        let mut events: Vec<Event> = Vec::new();
        for number in 0..600u64 {
            let author = &authors[number as usize % authors.len()];
            let kind = [1, 7, 6, 4, 0, 30023, 10002][number as usize % 7];
            let created_at = now - (number * 37) % 5000;
            let tags = if kind == 30023 { vec![vec!["d".to_string(), format!("{number}")]] } else { vec![] };
            let content = format!("note {number} about retention words");
            let event = author.sign(created_at, kind, tags, content);
            events.push(event);
        }
        store.apply(&events, now).unwrap();
        // What the store holds (replaced versions of replaceable events are gone already).
        let stored: Vec<&Event> =
            events.iter().filter(|event| store.get_by_id(event.id()).unwrap().is_some()).collect();
        let mut rules = Retention {
            default_age: Some(3000),
            kinds: vec![KindRule::parse("1, 7:1000").unwrap(), KindRule::parse("4:forever").unwrap()],
            keep_replaceable: true,
            protected: BTreeSet::new(),
        };
        rules.protected.insert(*authors[3].public_key());
        let model: BTreeSet<[u8; 32]> = stored
            .iter()
            .filter(|event| !rules.expired(event.kind(), event.pubkey(), event.created_at(), now))
            .map(|event| *event.id())
            .collect();
        assert!(model.len() < stored.len() && !model.is_empty(), "the rules keep some and remove some");
        let (removed, slices) = sweep_all(&store, &rules, now, 25);
        assert_eq!(removed as usize, stored.len() - model.len());
        assert!(slices > 5, "the pass ran in slices ({slices})");
        let kept: BTreeSet<[u8; 32]> = stored
            .iter()
            .filter(|event| store.get_by_id(event.id()).unwrap().is_some())
            .map(|event| *event.id())
            .collect();
        assert!(kept == model, "{} kept, the model keeps {}", kept.len(), model.len());
        assert_eq!(store.gauges().unwrap().events, model.len() as u64);
        let report = store.verify(|_| {}).unwrap();
        assert_eq!(report.problems, 0, "{:?}", report.shown);
        // A second pass finds nothing more.
        assert_eq!(sweep_all(&store, &rules, now, 25).0, 0);
    }

    /// Eviction takes the oldest evictable events first, skips what the rules keep, and gives
    /// pages back to the free list (the store's used bytes fall).
    #[test]
    fn eviction_removes_the_oldest_evictable_events_and_frees_pages() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::open(directory.path(), &StoreOptions::default()).unwrap();
        let author = Keys::from_secret_bytes([5; 32]).unwrap();
        let events: Vec<Event> = (0..400u64)
            .map(|number| {
                let kind = if number % 10 == 0 { 4 } else { 1 };
                author.sign(10_000 + number, kind, vec![], format!("{number} {}", "y".repeat(2000)))
            })
            .collect();
        store.apply(&events, 20_000).unwrap();
        let used_before = store.used_bytes().unwrap();
        let rules = Retention { kinds: vec![KindRule::parse("4:forever").unwrap()], ..Retention::default() };
        let slice = store.evict_oldest(&rules, None, 1000, 100).unwrap();
        assert_eq!(slice.removed, 100);
        assert!(slice.next.is_some(), "stopped at its removal bound");
        let gone: Vec<&Event> = events.iter().filter(|event| store.get_by_id(event.id()).unwrap().is_none()).collect();
        assert_eq!(gone.len(), 100);
        assert!(gone.iter().all(|event| event.kind() == 1), "kind 4 is kept forever");
        let oldest_kept = events.iter().filter(|e| e.kind() == 1 && store.get_by_id(e.id()).unwrap().is_some());
        let newest_gone = gone.iter().map(|event| event.created_at()).max().unwrap();
        assert!(oldest_kept.map(|event| event.created_at()).min().unwrap() > newest_gone, "oldest first");
        assert!(store.used_bytes().unwrap() < used_before, "pages went back to the free list");
        assert_eq!(store.verify(|_| {}).unwrap().problems, 0);
    }

    #[test]
    fn rules_that_remove_nothing_end_the_pass_at_once() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::open(directory.path(), &StoreOptions::default()).unwrap();
        let slice = store.sweep_retention(&Retention::default(), 1_000, None, 10).unwrap();
        assert_eq!(slice, RetentionSlice::default());
    }
}
