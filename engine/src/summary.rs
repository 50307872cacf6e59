//! Interest summaries: what a node's subscriptions can match, as bloom bit sets that a peer
//! tests an event against before pushing it. A filter is summarised under the same keys the
//! subscription index lists it under (`filter_keys`: one field per filter), so an event a
//! filter matches always hits the summary: a summary can be wrong only towards sending.
//!
//! Three bloom bit sets (ids, authors, single-letter tag name+value), an exact bitmap of the
//! 65,536 kinds and a match-all flag (a filter with none of those fields). Every bloom uses
//! `HASHES` positions per key from the key's xxh3 hash (double hashing), sized to
//! `BITS_PER_KEY` bits per key (about 0.1% false positives); `CountingSummary` doubles a bit
//! set when its keys outgrow it and halves it when they shrink to a quarter.

use std::collections::HashMap;

use bitvec::prelude::{BitSlice, Lsb0};

use crate::event::Event;
use crate::filter::Filter;
use crate::index::{FilterKeys, IndexKey, KeyClass, filter_keys};

/// Bit positions per key.
pub const HASHES: u32 = 10;
/// Bits per key a bloom is sized for, in tenths: 14.4 bits and 10 hashes give ~0.1% false positives.
pub const BITS_PER_KEY_TENTHS: usize = 144;
/// Size bounds of one bloom, as log2 of its bits (4,096 bits to 16 Mbit).
pub const LOG2_BITS_MIN: u8 = 12;
pub const LOG2_BITS_MAX: u8 = 24;
/// The classes kept in blooms: ids, authors, tags (kinds are exact).
pub const BLOOM_CLASSES: usize = 3;
const KINDS: usize = 1 << 16;

/// A key a filter is summarised under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InterestKey {
    /// A bloom class (0 ids, 1 authors, 2 tags) and the key's `IndexKey::hash`.
    Hashed(u8, u64),
    Kind(u16),
    /// A filter with none of ids, authors, tags, kinds: every event is of interest.
    MatchAll,
}

impl InterestKey {
    pub fn of(key: &IndexKey) -> InterestKey {
        match key {
            IndexKey::Kind(kind) => InterestKey::Kind(*kind),
            other => InterestKey::Hashed(bloom_class(other.class()), other.hash()),
        }
    }

    /// The hash the subscription index lists the key under (`None`: the match-all list).
    pub fn index_hash(&self) -> Option<u64> {
        match *self {
            InterestKey::Hashed(_, hash) => Some(hash),
            InterestKey::Kind(kind) => Some(IndexKey::Kind(kind).hash()),
            InterestKey::MatchAll => None,
        }
    }
}

fn bloom_class(class: KeyClass) -> u8 {
    match class {
        KeyClass::Id => 0,
        KeyClass::Author => 1,
        KeyClass::Tag | KeyClass::Kind => 2,
    }
}

/// The keys `filter` is summarised (and indexed) under, each once.
pub fn interest_keys(filter: &Filter) -> Vec<InterestKey> {
    match filter_keys(filter) {
        FilterKeys::MatchAll => vec![InterestKey::MatchAll],
        FilterKeys::Keys(_, keys) => {
            let mut keys: Vec<InterestKey> = keys.iter().map(InterestKey::of).collect();
            keys.sort_unstable();
            keys.dedup();
            keys
        }
    }
}

/// How many keys a bloom of `2^log2_bits` bits holds at the designed false-positive rate.
pub fn capacity(log2_bits: u8) -> usize {
    (1usize << log2_bits) * 10 / BITS_PER_KEY_TENTHS
}

/// The smallest size that holds `keys`.
fn log2_bits_for(keys: usize) -> u8 {
    let mut log2 = LOG2_BITS_MIN;
    while log2 < LOG2_BITS_MAX && capacity(log2) < keys {
        log2 += 1;
    }
    log2
}

/// The `HASHES` bit positions of a key hash in a bloom of `2^log2_bits` bits.
fn positions(hash: u64, log2_bits: u8) -> impl Iterator<Item = usize> {
    // Double hashing (Kirsch-Mitzenmacher): the second hash is a mix of the first, made odd.
    let step = (hash ^ (hash >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1;
    (0..u64::from(HASHES)).map(move |i| (hash.wrapping_add(i.wrapping_mul(step)) >> (64 - log2_bits)) as usize)
}

/// One bloom bit set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bloom {
    log2_bits: u8,
    /// The bits as words (sent as they are); single bits through bitvec's view.
    words: Vec<u64>,
}

impl Bloom {
    pub fn new(log2_bits: u8) -> Bloom {
        assert!((LOG2_BITS_MIN..=LOG2_BITS_MAX).contains(&log2_bits), "bloom size out of bounds");
        Bloom { log2_bits, words: vec![0; (1 << log2_bits) / 64] }
    }

    /// A bloom from its words as a peer sent them; refused unless the size is in bounds and
    /// the words fill it exactly.
    pub fn from_words(log2_bits: u8, words: &[u64]) -> Result<Bloom, String> {
        if !(LOG2_BITS_MIN..=LOG2_BITS_MAX).contains(&log2_bits) {
            return Err(format!("bloom of 2^{log2_bits} bits is out of bounds"));
        }
        if words.len() != (1 << log2_bits) / 64 {
            return Err(format!("bloom of 2^{log2_bits} bits sent with {} words", words.len()));
        }
        Ok(Bloom { log2_bits, words: words.to_vec() })
    }

    pub fn log2_bits(&self) -> u8 {
        self.log2_bits
    }

    pub fn words(&self) -> &[u64] {
        &self.words
    }

    fn bits(&self) -> &BitSlice<u64, Lsb0> {
        BitSlice::from_slice(&self.words)
    }

    fn bits_mut(&mut self) -> &mut BitSlice<u64, Lsb0> {
        BitSlice::from_slice_mut(&mut self.words)
    }

    pub fn insert(&mut self, hash: u64) {
        for position in positions(hash, self.log2_bits) {
            self.bits_mut().set(position, true);
        }
    }

    pub fn contains(&self, hash: u64) -> bool {
        positions(hash, self.log2_bits).all(|position| self.bits()[position])
    }

    /// Bits set (for fill and false-positive estimates).
    pub fn ones(&self) -> usize {
        self.words().iter().map(|word| word.count_ones() as usize).sum()
    }

    /// Positions where `self` and `other` (same size) differ.
    pub fn flips_from(&self, other: &Bloom) -> Vec<u32> {
        assert_eq!(self.log2_bits, other.log2_bits, "flips between blooms of one size");
        differing(self.words(), other.words())
    }

    /// Toggles each position; refused (nothing changed) if one is outside the bloom.
    pub fn flip(&mut self, positions: &[u32]) -> Result<(), String> {
        let len = self.words.len() * 64;
        if let Some(bad) = positions.iter().find(|&&position| position as usize >= len) {
            return Err(format!("bit {bad} outside a bloom of {len} bits"));
        }
        let bits = self.bits_mut();
        for &position in positions {
            let value = bits[position as usize];
            bits.set(position as usize, !value);
        }
        Ok(())
    }

    fn union_with(&mut self, other: &Bloom) {
        assert_eq!(self.log2_bits, other.log2_bits, "union of blooms of one size");
        or_into(&mut self.words, &other.words);
    }
}

// Whole-set operations work on the words: bitvec's generic bit iterators cost ~100x more
// unoptimised (debug tests run thousands of simulated summaries).

fn or_into(target: &mut [u64], other: &[u64]) {
    for (mine, theirs) in target.iter_mut().zip(other) {
        *mine |= theirs;
    }
}

/// Positions of the bits set in one word list and not the other.
fn differing(one: &[u64], other: &[u64]) -> Vec<u32> {
    let mut positions = Vec::new();
    for (index, (mine, theirs)) in one.iter().zip(other).enumerate() {
        let mut differ = mine ^ theirs;
        while differ != 0 {
            positions.push((index * 64) as u32 + differ.trailing_zeros());
            differ &= differ - 1;
        }
    }
    positions
}

/// The keys of an event a summary is tested with, hashed once per event (and per peer tested
/// with it, none again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventProbe {
    pub id: u64,
    pub author: u64,
    pub kind: u16,
    pub tags: Vec<u64>,
    /// The event has more single-letter tags than were probed: treat it as matching.
    pub tags_truncated: bool,
}

impl EventProbe {
    /// The probe of `event`, with at most `tags_max` tag keys.
    pub fn of(event: &Event, tags_max: usize) -> EventProbe {
        let mut probe = EventProbe {
            id: IndexKey::Id(event.id()).hash(),
            author: IndexKey::Author(event.pubkey()).hash(),
            kind: event.kind(),
            tags: Vec::new(),
            tags_truncated: false,
        };
        for tag in event.tags() {
            if tag.len() >= 2 && tag[0].len() == 1 && tag[0].as_bytes()[0].is_ascii_alphabetic() {
                if probe.tags.len() == tags_max {
                    probe.tags_truncated = true;
                    break;
                }
                probe.tags.push(IndexKey::Tag(tag[0].as_bytes()[0], &tag[1]).hash());
            }
        }
        probe
    }
}

/// What a node's subscriptions can match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub blooms: [Bloom; BLOOM_CLASSES],
    /// One bit per kind, as words.
    kinds: Vec<u64>,
    pub match_all: bool,
}

impl Summary {
    /// An empty summary with blooms of these sizes.
    pub fn empty(log2_bits: [u8; BLOOM_CLASSES]) -> Summary {
        Summary { blooms: log2_bits.map(Bloom::new), kinds: vec![0; KINDS / 64], match_all: false }
    }

    /// The summary of exactly these keys, with blooms of these sizes.
    pub fn of_keys<'a>(keys: impl IntoIterator<Item = &'a InterestKey>, log2_bits: [u8; BLOOM_CLASSES]) -> Summary {
        let mut summary = Summary::empty(log2_bits);
        for key in keys {
            summary.insert(key);
        }
        summary
    }

    pub fn insert(&mut self, key: &InterestKey) {
        match *key {
            InterestKey::Hashed(class, hash) => self.blooms[usize::from(class)].insert(hash),
            InterestKey::Kind(kind) => self.set_kind(kind, true),
            InterestKey::MatchAll => self.match_all = true,
        }
    }

    pub fn log2_bits(&self) -> [u8; BLOOM_CLASSES] {
        [0, 1, 2].map(|class| self.blooms[class].log2_bits)
    }

    pub fn has_kind(&self, kind: u16) -> bool {
        BitSlice::<u64, Lsb0>::from_slice(&self.kinds)[usize::from(kind)]
    }

    /// The kinds set, in order.
    pub fn kinds(&self) -> Vec<u16> {
        differing(&self.kinds, &[0; KINDS / 64]).into_iter().map(|kind| kind as u16).collect()
    }

    pub fn set_kind(&mut self, kind: u16, on: bool) {
        BitSlice::<u64, Lsb0>::from_slice_mut(&mut self.kinds).set(usize::from(kind), on);
    }

    /// Kinds set in one of `self` and `other` but not both.
    pub fn kind_flips_from(&self, other: &Summary) -> Vec<u16> {
        differing(&self.kinds, &other.kinds).into_iter().map(|kind| kind as u16).collect()
    }

    /// Could a subscription summarised here match the probed event? Never `false` for one
    /// that does.
    pub fn matches(&self, probe: &EventProbe) -> bool {
        self.match_all
            || probe.tags_truncated
            || self.has_kind(probe.kind)
            || self.blooms[0].contains(probe.id)
            || self.blooms[1].contains(probe.author)
            || probe.tags.iter().any(|&tag| self.blooms[2].contains(tag))
    }

    /// ORs `other` (blooms of the same sizes) into `self`.
    pub fn union_with(&mut self, other: &Summary) {
        for (mine, theirs) in self.blooms.iter_mut().zip(&other.blooms) {
            mine.union_with(theirs);
        }
        or_into(&mut self.kinds, &other.kinds);
        self.match_all |= other.match_all;
    }
}

/// A summary that keys can be removed from: the keys held (with how many holders each: the
/// node's shards) and, per bloom bit, how many held keys set it.
pub struct CountingSummary {
    keys: [HashMap<u64, u32>; BLOOM_CLASSES],
    counters: [Vec<u32>; BLOOM_CLASSES],
    kinds: HashMap<u16, u32>,
    match_all: u32,
    summary: Summary,
}

impl Default for CountingSummary {
    fn default() -> Self {
        CountingSummary {
            keys: Default::default(),
            counters: std::array::from_fn(|_| vec![0; 1 << LOG2_BITS_MIN]),
            kinds: HashMap::new(),
            match_all: 0,
            summary: Summary::empty([LOG2_BITS_MIN; BLOOM_CLASSES]),
        }
    }
}

impl CountingSummary {
    pub fn new() -> CountingSummary {
        CountingSummary::default()
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Distinct keys per bloom class.
    pub fn distinct_keys(&self) -> [usize; BLOOM_CLASSES] {
        [0, 1, 2].map(|class| self.keys[class].len())
    }

    /// One more holder of `key`. Returns whether a bloom had to grow (its size changed).
    pub fn add(&mut self, key: InterestKey) -> bool {
        match key {
            InterestKey::Hashed(class, hash) => {
                let class = usize::from(class);
                let holders = self.keys[class].entry(hash).or_insert(0);
                *holders += 1;
                if *holders > 1 {
                    return false;
                }
                let log2 = self.summary.blooms[class].log2_bits;
                if self.keys[class].len() > capacity(log2) && log2 < LOG2_BITS_MAX {
                    self.resize(class, log2 + 1);
                    return true;
                }
                for position in positions(hash, log2) {
                    self.counters[class][position] += 1;
                    self.summary.blooms[class].bits_mut().set(position, true);
                }
            }
            InterestKey::Kind(kind) => {
                *self.kinds.entry(kind).or_insert(0) += 1;
                self.summary.set_kind(kind, true);
            }
            InterestKey::MatchAll => {
                self.match_all += 1;
                self.summary.match_all = true;
            }
        }
        false
    }

    /// One holder of `key` fewer; a key no longer held clears the bits only it set.
    pub fn remove(&mut self, key: InterestKey) {
        match key {
            InterestKey::Hashed(class, hash) => {
                let class = usize::from(class);
                let Some(holders) = self.keys[class].get_mut(&hash) else { return };
                *holders -= 1;
                if *holders > 0 {
                    return;
                }
                self.keys[class].remove(&hash);
                let log2 = self.summary.blooms[class].log2_bits;
                for position in positions(hash, log2) {
                    let counter = &mut self.counters[class][position];
                    *counter -= 1;
                    if *counter == 0 {
                        self.summary.blooms[class].bits_mut().set(position, false);
                    }
                }
            }
            InterestKey::Kind(kind) => {
                let Some(holders) = self.kinds.get_mut(&kind) else { return };
                *holders -= 1;
                if *holders == 0 {
                    self.kinds.remove(&kind);
                    self.summary.set_kind(kind, false);
                }
            }
            InterestKey::MatchAll => {
                self.match_all = self.match_all.saturating_sub(1);
                self.summary.match_all = self.match_all > 0;
            }
        }
    }

    /// Halves every bloom whose keys would fit a quarter of it. Returns whether one changed.
    pub fn shrink(&mut self) -> bool {
        let mut changed = false;
        for class in 0..BLOOM_CLASSES {
            let log2 = self.summary.blooms[class].log2_bits;
            let fits = log2_bits_for(self.keys[class].len() * 2);
            if fits < log2 {
                self.resize(class, fits);
                changed = true;
            }
        }
        changed
    }

    fn resize(&mut self, class: usize, log2_bits: u8) {
        let mut bloom = Bloom::new(log2_bits);
        let mut counters = vec![0u32; 1 << log2_bits];
        for &hash in self.keys[class].keys() {
            for position in positions(hash, log2_bits) {
                counters[position] += 1;
                bloom.bits_mut().set(position, true);
            }
        }
        self.summary.blooms[class] = bloom;
        self.counters[class] = counters;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Keys;
    use crate::limits::Limits;
    use crate::random::SeededRandom;

    fn filter(text: &str) -> Filter {
        Filter::parse(text, &Limits::default()).unwrap()
    }

    fn random_hashes(seed: u64, count: usize) -> Vec<InterestKey> {
        let mut random = SeededRandom::new(seed);
        (0..count).map(|i| InterestKey::Hashed((i % 3) as u8, random.next_u64())).collect()
    }

    #[test]
    fn an_event_a_filter_matches_always_hits_its_summary() {
        let keys = Keys::from_secret_bytes([9; 32]).unwrap();
        let author = crate::hex::encode(keys.public_key());
        let tags = vec![vec!["t".into(), "nostr".into()], vec!["p".into(), "ab".repeat(32)]];
        let event = keys.sign(100, 7, tags, "hello".into());
        let id = crate::hex::encode(event.id());
        let filters = [
            format!(r#"{{"ids":["{id}"]}}"#),
            format!(r#"{{"authors":["{author}"],"kinds":[1,7]}}"#),
            r##"{"#t":["nostr","other"],"kinds":[7]}"##.to_string(),
            format!(r##"{{"#p":["{}"]}}"##, "ab".repeat(32)),
            r#"{"kinds":[7]}"#.to_string(),
            r#"{"since":5}"#.to_string(),
        ];
        for text in &filters {
            let parsed = filter(text);
            assert!(parsed.matches(&event), "{text}");
            let summary = Summary::of_keys(&interest_keys(&parsed), [LOG2_BITS_MIN; 3]);
            assert!(summary.matches(&EventProbe::of(&event, 16)), "{text}");
        }
        let miss = Summary::of_keys(&interest_keys(&filter(r#"{"kinds":[1]}"#)), [LOG2_BITS_MIN; 3]);
        assert!(!miss.matches(&EventProbe::of(&event, 16)));
        // Past the probe bound, an event with many tags is treated as matching.
        let probe = EventProbe::of(&event, 1);
        assert!(probe.tags_truncated && miss.matches(&probe));
    }

    #[test]
    fn the_or_of_parts_is_the_summary_of_all_keys() {
        let keys = random_hashes(1, 3000);
        let sizes = [14, 13, 12];
        let mut parts = Summary::of_keys(&keys[..1000], sizes);
        parts.union_with(&Summary::of_keys(&keys[1000..], sizes));
        let mut all = keys.clone();
        all.extend([InterestKey::Kind(1), InterestKey::Kind(30023)]);
        parts.union_with(&Summary::of_keys(&all[3000..], sizes));
        assert_eq!(parts, Summary::of_keys(&all, sizes));
        assert_eq!(parts.kinds(), vec![1, 30023]);
    }

    #[test]
    fn counting_adds_removes_grows_and_shrinks() {
        let keys = random_hashes(2, 6000);
        let mut counting = CountingSummary::new();
        let mut grew = false;
        for key in &keys {
            grew |= counting.add(*key);
            counting.add(*key); // a second holder
        }
        assert!(grew, "6,000 keys outgrow the smallest blooms");
        counting.add(InterestKey::Kind(3));
        counting.add(InterestKey::MatchAll);
        let sizes = counting.summary().log2_bits();
        assert!(sizes.iter().all(|&log2| capacity(log2) >= 2000), "{sizes:?}");
        let mut expected = keys.clone();
        expected.extend([InterestKey::Kind(3), InterestKey::MatchAll]);
        assert_eq!(counting.summary(), &Summary::of_keys(&expected, sizes));
        // Removing one holder changes nothing; the last clears exactly the key's own bits.
        for key in &keys {
            counting.remove(*key);
        }
        assert_eq!(counting.summary(), &Summary::of_keys(&expected, sizes));
        for key in &keys[10..] {
            counting.remove(*key);
        }
        counting.remove(InterestKey::MatchAll);
        assert_eq!(counting.summary(), &Summary::of_keys(&[&keys[..10], &[InterestKey::Kind(3)]].concat(), sizes));
        assert!(counting.shrink());
        assert_eq!(counting.summary().log2_bits(), [LOG2_BITS_MIN; 3]);
        for key in keys[..10].iter().chain([&InterestKey::Kind(3)]) {
            counting.remove(*key);
        }
        assert_eq!(counting.summary(), &Summary::empty([LOG2_BITS_MIN; 3]), "the last removal clears every bit");
    }

    #[test]
    fn false_positives_stay_near_the_design_rate_at_capacity() {
        let log2 = 16;
        let keys = random_hashes(3, capacity(log2) * 3);
        let summary = Summary::of_keys(&keys, [log2; 3]);
        let mut random = SeededRandom::new(4);
        let trials = 200_000;
        let hits = (0..trials).filter(|_| summary.blooms[1].contains(random.next_u64())).count();
        let rate = hits as f64 / trials as f64;
        eprintln!("false-positive rate at capacity ({} keys in 2^{log2} bits): {rate:.5}", capacity(log2));
        assert!(rate < 0.003, "false-positive rate {rate} at capacity");
    }

    #[test]
    fn flips_turn_one_bloom_into_another_and_bad_flips_are_refused() {
        let mut from = Summary::of_keys(&random_hashes(5, 300), [LOG2_BITS_MIN; 3]);
        let to = Summary::of_keys(&random_hashes(6, 300), [LOG2_BITS_MIN; 3]);
        for class in 0..BLOOM_CLASSES {
            let flips = to.blooms[class].flips_from(&from.blooms[class]);
            from.blooms[class].flip(&flips).unwrap();
        }
        assert_eq!(from, to);
        assert!(from.blooms[0].flip(&[1 << LOG2_BITS_MIN]).is_err());
        assert!(Bloom::from_words(LOG2_BITS_MAX + 1, &[]).is_err());
        assert!(Bloom::from_words(LOG2_BITS_MIN, &[0; 3]).is_err());
    }
}
