//! The per-shard subscription index: each filter is indexed under one field (ids > authors >
//! one tag > kinds > match-all), keyed by xxh3; an event looks up its own keys and only those
//! candidate filters get the full match. The key extraction is public: bloom summaries reuse it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::event::Event;
use crate::filter::Filter;
use crate::summary::{InterestKey, interest_keys};

/// One key an event can be found by, or a filter indexed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKey<'a> {
    Id(&'a [u8; 32]),
    Author(&'a [u8; 32]),
    /// A single-letter tag name (ASCII letter) and a value.
    Tag(u8, &'a str),
    Kind(u16),
}

/// Which field a filter is indexed by; also the key class a bloom summary keeps it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyClass {
    Id,
    Author,
    Tag,
    Kind,
}

impl IndexKey<'_> {
    /// The key's 64-bit xxh3 hash; the seed separates the classes (and the tag letters).
    pub fn hash(&self) -> u64 {
        match *self {
            IndexKey::Id(id) => xxh3_64_with_seed(id, 1),
            IndexKey::Author(pubkey) => xxh3_64_with_seed(pubkey, 2),
            IndexKey::Kind(kind) => xxh3_64_with_seed(&kind.to_be_bytes(), 3),
            IndexKey::Tag(letter, value) => xxh3_64_with_seed(value.as_bytes(), 0x100 | u64::from(letter)),
        }
    }

    pub fn class(&self) -> KeyClass {
        match self {
            IndexKey::Id(_) => KeyClass::Id,
            IndexKey::Author(_) => KeyClass::Author,
            IndexKey::Tag(..) => KeyClass::Tag,
            IndexKey::Kind(_) => KeyClass::Kind,
        }
    }
}

/// Calls `visit` with every key `event` can be found by: its id, its pubkey, its kind and each
/// single-letter tag with a value. A repeated tag gives a repeated key.
pub fn event_keys<'a>(event: &'a Event, mut visit: impl FnMut(IndexKey<'a>)) {
    visit(IndexKey::Id(event.id()));
    visit(IndexKey::Author(event.pubkey()));
    visit(IndexKey::Kind(event.kind()));
    for tag in event.tags() {
        if tag.len() >= 2 && tag[0].len() == 1 && tag[0].as_bytes()[0].is_ascii_alphabetic() {
            visit(IndexKey::Tag(tag[0].as_bytes()[0], &tag[1]));
        }
    }
}

/// The keys a filter is indexed under: one field, the most selective present. Every event the
/// filter matches has at least one of these keys, so looking up an event's keys finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterKeys<'a> {
    /// The filter constrains none of ids, authors, tags, kinds: every event is a candidate.
    MatchAll,
    Keys(KeyClass, Vec<IndexKey<'a>>),
}

pub fn filter_keys(filter: &Filter) -> FilterKeys<'_> {
    if let Some(ids) = &filter.ids {
        return FilterKeys::Keys(KeyClass::Id, ids.iter().map(IndexKey::Id).collect());
    }
    if let Some(authors) = &filter.authors {
        return FilterKeys::Keys(KeyClass::Author, authors.iter().map(IndexKey::Author).collect());
    }
    // Of several tag conditions, any one is necessary; the one with the fewest values is cheapest.
    if let Some(condition) = filter.tags.iter().min_by_key(|condition| condition.values.len()) {
        let keys = condition.values.iter().map(|value| IndexKey::Tag(condition.letter, value)).collect();
        return FilterKeys::Keys(KeyClass::Tag, keys);
    }
    if let Some(kinds) = &filter.kinds {
        return FilterKeys::Keys(KeyClass::Kind, kinds.iter().map(|&kind| IndexKey::Kind(kind)).collect());
    }
    FilterKeys::MatchAll
}

/// Keys are already xxh3 hashes: hash them again with the identity.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

struct Subscription<T> {
    /// What a match reports for it.
    target: T,
    slots: Vec<u32>,
    /// The `generation` of the last lookup that reported this subscription.
    seen: u64,
}

struct Slot {
    subscription: u32,
    filter: Filter,
    /// The keys this filter is listed under (`InterestKey::MatchAll`: the match-all list).
    keys: Vec<InterestKey>,
    /// The `generation` of the last lookup that examined this filter.
    seen: u64,
}

/// Subscriptions of one shard: `(connection, subscription id) -> filters`, indexed for lookup by
/// event. `C` identifies a connection within the shard; `T` is what a match reports of a
/// subscription (by default its connection and id; a relay hands its fanout a direct handle,
/// so a delivery needs no lookup by id).
pub struct SubscriptionIndex<C, T = (C, Arc<str>)> {
    subscriptions: Vec<Option<Subscription<T>>>,
    free_subscriptions: Vec<u32>,
    slots: Vec<Option<Slot>>,
    free_slots: Vec<u32>,
    by_connection: HashMap<C, HashMap<Arc<str>, u32>>,
    by_key: KeyMap<Vec<u32>>,
    match_all: Vec<u32>,
    generation: u64,
    /// With `track_interest`: keys that became held (`true`) or no longer held (`false`) by
    /// any filter here, in order, until taken.
    interest: Option<Vec<(InterestKey, bool)>>,
}

impl<C: Copy + Eq + Hash, T: Clone> Default for SubscriptionIndex<C, T> {
    fn default() -> Self {
        SubscriptionIndex {
            subscriptions: Vec::new(),
            free_subscriptions: Vec::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            by_connection: HashMap::new(),
            by_key: KeyMap::default(),
            match_all: Vec::new(),
            generation: 0,
            interest: None,
        }
    }
}

impl<C: Copy + Eq + Hash> SubscriptionIndex<C> {
    /// Adds a subscription that matches report as `(connection, id)`, replacing one with the
    /// same connection and id (NIP-01).
    pub fn insert(&mut self, connection: C, id: &str, filters: Vec<Filter>) {
        self.insert_target(connection, id, filters, (connection, Arc::from(id)));
    }
}

impl<C: Copy + Eq + Hash, T: Clone> SubscriptionIndex<C, T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of subscriptions held.
    pub fn len(&self) -> usize {
        self.subscriptions.len() - self.free_subscriptions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of subscriptions `connection` holds.
    pub fn connection_len(&self, connection: C) -> usize {
        self.by_connection.get(&connection).map_or(0, HashMap::len)
    }

    /// Adds a subscription that matches report as `target`, replacing one with the same
    /// connection and id (NIP-01).
    pub fn insert_target(&mut self, connection: C, id: &str, filters: Vec<Filter>, target: T) {
        self.remove(connection, id);
        let id: Arc<str> = Arc::from(id);
        let slots = Vec::with_capacity(filters.len());
        let subscription =
            allocate(&mut self.subscriptions, &mut self.free_subscriptions, Subscription { target, slots, seen: 0 });
        for filter in filters {
            let keys = interest_keys(&filter);
            let slot = allocate(&mut self.slots, &mut self.free_slots, Slot { subscription, filter, keys, seen: 0 });
            let keys = &self.slots[slot as usize].as_ref().expect("just allocated").keys;
            for key in keys {
                let list = match key.index_hash() {
                    Some(hash) => self.by_key.entry(hash).or_default(),
                    None => &mut self.match_all,
                };
                list.push(slot);
                if list.len() == 1
                    && let Some(interest) = &mut self.interest
                {
                    interest.push((*key, true));
                }
            }
            self.subscriptions[subscription as usize].as_mut().expect("just allocated").slots.push(slot);
        }
        self.by_connection.entry(connection).or_default().insert(id, subscription);
    }

    /// Removes one subscription; `false` if there was none.
    pub fn remove(&mut self, connection: C, id: &str) -> bool {
        let Some(subscriptions) = self.by_connection.get_mut(&connection) else { return false };
        let Some(subscription) = subscriptions.remove(id) else { return false };
        if subscriptions.is_empty() {
            self.by_connection.remove(&connection);
        }
        self.release(subscription);
        true
    }

    /// Removes every subscription of `connection`; returns how many there were.
    pub fn remove_connection(&mut self, connection: C) -> usize {
        let Some(subscriptions) = self.by_connection.remove(&connection) else { return 0 };
        let count = subscriptions.len();
        for (_, subscription) in subscriptions {
            self.release(subscription);
        }
        count
    }

    fn release(&mut self, subscription: u32) {
        let entry = self.subscriptions[subscription as usize].take().expect("indexed subscription exists");
        self.free_subscriptions.push(subscription);
        for slot_index in entry.slots {
            let slot = self.slots[slot_index as usize].take().expect("indexed filter exists");
            self.free_slots.push(slot_index);
            for key in slot.keys {
                let list = match key.index_hash() {
                    Some(hash) => self.by_key.get_mut(&hash).expect("indexed key exists"),
                    None => &mut self.match_all,
                };
                remove_value(list, slot_index);
                if list.is_empty() {
                    if let Some(hash) = key.index_hash() {
                        self.by_key.remove(&hash);
                    }
                    if let Some(interest) = &mut self.interest {
                        interest.push((key, false));
                    }
                }
            }
        }
    }

    /// Appends to `out` the target of every subscription with a filter matching `event`, each
    /// once.
    pub fn matches_into(&mut self, event: &Event, out: &mut Vec<T>) {
        self.generation += 1;
        let generation = self.generation;
        let mut visit =
            |slot_index: u32, slots: &mut Vec<Option<Slot>>, subscriptions: &mut Vec<Option<Subscription<T>>>| {
                let slot = slots[slot_index as usize].as_mut().expect("listed filter exists");
                if slot.seen == generation {
                    return;
                }
                slot.seen = generation;
                let subscription =
                    subscriptions[slot.subscription as usize].as_mut().expect("filter's subscription exists");
                if subscription.seen != generation && slot.filter.matches(event) {
                    subscription.seen = generation;
                    out.push(subscription.target.clone());
                }
            };
        for &slot in &self.match_all {
            visit(slot, &mut self.slots, &mut self.subscriptions);
        }
        event_keys(event, |key| {
            if let Some(list) = self.by_key.get(&key.hash()) {
                for &slot in list {
                    visit(slot, &mut self.slots, &mut self.subscriptions);
                }
            }
        });
    }

    /// The matching targets as a new vector.
    pub fn matches(&mut self, event: &Event) -> Vec<T> {
        let mut out = Vec::new();
        self.matches_into(event, &mut out);
        out
    }

    /// Every filter held.
    pub fn filters(&self) -> impl Iterator<Item = &Filter> {
        self.slots.iter().flatten().map(|slot| &slot.filter)
    }

    /// Starts recording interest changes (for a cluster's summaries); the keys already held
    /// are recorded as added.
    pub fn track_interest(&mut self) {
        let mut held: Vec<(InterestKey, bool)> = Vec::new();
        for slot in self.slots.iter().flatten() {
            held.extend(slot.keys.iter().map(|key| (*key, true)));
        }
        held.sort_unstable();
        held.dedup();
        self.interest = Some(held);
    }

    /// The interest changes since the last call (empty unless tracking): each key at most
    /// once per transition, in the order they happened.
    pub fn take_interest_changes(&mut self) -> Vec<(InterestKey, bool)> {
        self.interest.as_mut().map(std::mem::take).unwrap_or_default()
    }
}

fn allocate<T>(items: &mut Vec<Option<T>>, free: &mut Vec<u32>, item: T) -> u32 {
    match free.pop() {
        Some(index) => {
            items[index as usize] = Some(item);
            index
        }
        None => {
            items.push(Some(item));
            u32::try_from(items.len() - 1).expect("fewer than 2^32 entries")
        }
    }
}

fn remove_value(list: &mut Vec<u32>, value: u32) {
    let position = list.iter().position(|&item| item == value).expect("value is listed");
    list.swap_remove(position);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Keys;
    use crate::limits::Limits;

    fn filter(text: &str) -> Filter {
        Filter::parse(text, &Limits::default()).unwrap()
    }

    fn sorted(mut pairs: Vec<(u32, Arc<str>)>) -> Vec<(u32, String)> {
        pairs.sort();
        pairs.into_iter().map(|(connection, id)| (connection, id.to_string())).collect()
    }

    #[test]
    fn filter_keys_cascade() {
        let hex = "ab".repeat(32);
        let cases: Vec<(String, Option<KeyClass>)> = vec![
            (format!(r#"{{"ids":["{hex}"],"authors":["{hex}"],"kinds":[1]}}"#), Some(KeyClass::Id)),
            (format!(r##"{{"authors":["{hex}"],"#t":["x"],"kinds":[1]}}"##), Some(KeyClass::Author)),
            (r##"{"#t":["x","y"],"#r":["z"],"kinds":[1]}"##.into(), Some(KeyClass::Tag)),
            (r#"{"kinds":[1,2]}"#.into(), Some(KeyClass::Kind)),
            (r#"{"since":5,"search":"x"}"#.into(), None),
        ];
        for (text, class) in cases {
            let parsed = filter(&text);
            match (filter_keys(&parsed), class) {
                (FilterKeys::MatchAll, None) => {}
                (FilterKeys::Keys(found, _), Some(expected)) => assert_eq!(found, expected, "{text}"),
                (other, expected) => panic!("{text}: {other:?} vs {expected:?}"),
            }
        }
        let two_tags = filter(r##"{"#t":["x","y"],"#r":["z"]}"##);
        let FilterKeys::Keys(_, keys) = filter_keys(&two_tags) else { panic!("indexed") };
        assert_eq!(keys, vec![IndexKey::Tag(b'r', "z")]);
    }

    #[test]
    fn insert_match_replace_remove() {
        let keys = Keys::from_secret_bytes([4; 32]).unwrap();
        let author = crate::hex::encode(keys.public_key());
        let event = keys.sign(10, 1, vec![vec!["t".into(), "x".into()], vec!["t".into(), "x".into()]], "hi".into());
        let mut index = SubscriptionIndex::new();
        index.insert(1u32, "a", vec![filter(r#"{"kinds":[1]}"#), filter(r##"{"#t":["x"]}"##)]);
        index.insert(1, "b", vec![filter(&format!(r#"{{"authors":["{author}"],"kinds":[2]}}"#))]);
        index.insert(2, "a", vec![filter("{}")]);
        index.insert(3, "c", vec![filter(r#"{"since":11}"#)]);
        assert_eq!(index.len(), 4);
        assert_eq!(sorted(index.matches(&event)), vec![(1, "a".into()), (2, "a".into())]);

        index.insert(1, "b", vec![filter(&format!(r#"{{"authors":["{author}"]}}"#))]);
        assert_eq!(index.len(), 4, "same id replaces");
        assert_eq!(sorted(index.matches(&event)), vec![(1, "a".into()), (1, "b".into()), (2, "a".into())]);

        assert!(index.remove(1, "a"));
        assert!(!index.remove(1, "a"));
        assert_eq!(sorted(index.matches(&event)), vec![(1, "b".into()), (2, "a".into())]);
        assert_eq!(index.remove_connection(2), 1);
        assert_eq!(index.connection_len(1), 1);
        assert_eq!(sorted(index.matches(&event)), vec![(1, "b".into())]);
        assert_eq!(index.remove_connection(1), 1);
        assert_eq!(index.remove_connection(3), 1);
        assert!(index.is_empty());
        assert!(index.by_key.is_empty() && index.match_all.is_empty());
    }

    #[test]
    fn interest_changes_report_each_key_held_and_released_once() {
        let mut index = SubscriptionIndex::new();
        index.insert(1u32, "before", vec![filter(r#"{"kinds":[1]}"#)]);
        index.track_interest();
        assert_eq!(index.take_interest_changes(), vec![(InterestKey::Kind(1), true)], "held before tracking");
        index.insert(2, "a", vec![filter(r#"{"kinds":[1,3]}"#), filter(r#"{"since":1}"#), filter("{}")]);
        assert_eq!(
            index.take_interest_changes(),
            vec![(InterestKey::Kind(3), true), (InterestKey::MatchAll, true)],
            "kind 1 was held already; match-all once for two filters"
        );
        assert!(index.remove(1, "before"));
        assert!(index.take_interest_changes().is_empty(), "kind 1 is still held by 2/a");
        index.remove_connection(2);
        let mut released = index.take_interest_changes();
        released.sort();
        assert_eq!(
            released,
            vec![(InterestKey::Kind(1), false), (InterestKey::Kind(3), false), (InterestKey::MatchAll, false)]
        );
    }

    #[test]
    fn hashes_separate_classes() {
        let bytes = [7u8; 32];
        assert_ne!(IndexKey::Id(&bytes).hash(), IndexKey::Author(&bytes).hash());
        assert_ne!(IndexKey::Tag(b'e', "x").hash(), IndexKey::Tag(b'p', "x").hash());
    }
}
