//! NIP-50 search: the scan that ranks events by the word index (`words.rs`, kept at write
//! time). Reads only; how the index is written and checked is `words.rs`'s and `write.rs`'s.
//!
//! A search filter reads the postings of its rarest whole term (or, with only a prefix, of the
//! words the prefix begins, most frequent first, at most `PREFIX_WORDS_MAX`), takes the newest
//! `search_candidates_max` events there, checks each against the whole filter (every term, the
//! other fields, who may read it) and ranks the matches by BM25; the best `limit` are returned,
//! best first.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use std::ops::Bound;

use heed::{RoTxn, WithoutTls};
use parrhesia_engine::search::{Query, idf};
use parrhesia_engine::{Filter, Id, ReadAccess};

use crate::error::StorageError;
use crate::record::{Record, RecordFilter};
use crate::store::Store;
use crate::tables::{Tables, decode_seq, read_record};
use crate::words::{decode_posting, read_totals};

pub use crate::store::DEFAULT_SEARCH_KINDS;

/// The words a prefix-only query expands to, at most (the most frequent are kept).
pub const PREFIX_WORDS_MAX: usize = 256;

/// One ranked match: better is a higher score, then newer, then the lower id (NIP-01's tie).
#[derive(Clone, Copy, Debug)]
struct Ranked {
    score: f64,
    created_at: u64,
    id: Id,
    seq: u64,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Ranked) -> Ordering {
        self.score.total_cmp(&other.score).then(self.created_at.cmp(&other.created_at)).then(other.id.cmp(&self.id))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Ranked) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Ranked) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

enum Phase {
    /// Nothing read yet.
    Start,
    /// Checking candidates (newest first) and keeping the best `remaining`.
    Rank {
        candidates: Vec<u64>,
        next: usize,
        weights: Vec<f64>,
        average_length: f64,
    },
    /// Handing the ranked matches out, best first.
    Emit {
        order: Vec<u64>,
        next: usize,
    },
    Done,
}

/// One search filter of a scan, resumable like the rest of `QueryScan`.
pub(crate) struct SearchScan {
    /// The filter without its search (the query is checked here, with the frequencies).
    filter: RecordFilter,
    query: Query,
    /// Events this filter may still return (its limit).
    pub(crate) remaining: u64,
    /// The best matches so far, worst on top.
    ranked: BinaryHeap<std::cmp::Reverse<Ranked>>,
    phase: Phase,
    /// Candidates ranked, at most (`StoreOptions::search_candidates_max`); `None`: every
    /// match, unranked, handed out as found (counts, negentropy, tools).
    candidates_max: Option<usize>,
    /// The scan's snapshot and clock.
    snapshot_seq: u64,
    now: u64,
}

impl SearchScan {
    pub(crate) fn new(
        filter: &Filter,
        limit: u64,
        candidates_max: Option<usize>,
        snapshot_seq: u64,
        now: u64,
    ) -> SearchScan {
        let query = Query::parse(filter.search.as_deref().unwrap_or_default());
        let filter = Filter { search: None, ..filter.clone() };
        // An empty list matches nothing (NIP-01): no index read.
        let empty_list = filter.ids.as_ref().is_some_and(Vec::is_empty)
            || filter.authors.as_ref().is_some_and(Vec::is_empty)
            || filter.kinds.as_ref().is_some_and(Vec::is_empty)
            || filter.tags.iter().any(|condition| condition.values.is_empty());
        let phase = if query.is_empty() || limit == 0 || empty_list { Phase::Done } else { Phase::Start };
        SearchScan {
            filter: RecordFilter::new(filter),
            query,
            remaining: limit,
            ranked: BinaryHeap::new(),
            phase,
            candidates_max,
            snapshot_seq,
            now,
        }
    }

    pub(crate) fn with_access(&mut self, access: &ReadAccess) {
        let filter = std::mem::replace(&mut self.filter, RecordFilter::new(Filter::default()));
        self.filter = filter.with_access(access.clone());
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Advances until `examined` reaches `budget` (candidates checked, events handed out);
    /// hands matches to `emit` (once ranked) and returns how many.
    pub(crate) fn step(
        &mut self,
        store: &Store,
        txn: &RoTxn<WithoutTls>,
        examined: &mut usize,
        budget: usize,
        emit: &mut impl FnMut(Record) -> bool,
    ) -> Result<usize, StorageError> {
        let tables = &store.tables;
        let mut emitted = 0;
        while *examined < budget {
            match &mut self.phase {
                Phase::Done => break,
                Phase::Start => {
                    self.phase = self.plan(store, txn, examined)?;
                }
                Phase::Rank { candidates, next, weights, average_length } => {
                    let Some(&seq) = candidates.get(*next) else {
                        let mut order: Vec<Ranked> = self.ranked.drain().map(|ranked| ranked.0).collect();
                        order.sort_unstable_by(|left, right| right.cmp(left));
                        self.phase = Phase::Emit { order: order.iter().map(|ranked| ranked.seq).collect(), next: 0 };
                        continue;
                    };
                    *next += 1;
                    *examined += 1;
                    let Some(record) = read_record(txn, tables, seq)? else { continue };
                    if record.header.expired(self.now) {
                        continue;
                    }
                    let matches = self
                        .filter
                        .matches(&record)
                        .ok_or_else(|| StorageError::Corrupt(format!("event {seq} cannot be read")))?;
                    if !matches {
                        continue;
                    }
                    let content =
                        record.content().ok_or_else(|| StorageError::Corrupt(format!("event {seq} content")))?;
                    if self.candidates_max.is_none() {
                        // Unranked: every match, as found.
                        if self.query.matches(&content) && emit(record) {
                            emitted += 1;
                        }
                        continue;
                    }
                    let Some(score) = self.query.score(&content, weights, *average_length) else { continue };
                    let ranked = Ranked { score, created_at: record.header.created_at, id: record.header.id, seq };
                    if (self.ranked.len() as u64) < self.remaining {
                        self.ranked.push(std::cmp::Reverse(ranked));
                    } else if self.ranked.peek().is_some_and(|worst| worst.0 < ranked) {
                        self.ranked.pop();
                        self.ranked.push(std::cmp::Reverse(ranked));
                    }
                }
                Phase::Emit { order, next } => {
                    let Some(&seq) = order.get(*next) else {
                        self.phase = Phase::Done;
                        break;
                    };
                    *next += 1;
                    *examined += 1;
                    // Removed since it was ranked: gone.
                    if let Some(record) = read_record(txn, tables, seq)?
                        && emit(record)
                    {
                        emitted += 1;
                    }
                }
            }
        }
        Ok(emitted)
    }

    /// Reads the index: BM25 weights of the terms and the candidates, newest first. The
    /// candidates are every event holding the rarest whole term (or a word the lone prefix
    /// begins) when there are at most `candidates_max` of them, so the answer is exact; past
    /// that, a filter with ids, authors or tags takes the newest `candidates_max` events its
    /// other fields match, and any other filter the newest `candidates_max` holders of the term.
    fn plan(&self, store: &Store, txn: &RoTxn<WithoutTls>, examined: &mut usize) -> Result<Phase, StorageError> {
        let tables = &store.tables;
        let (documents, length) = read_totals(txn, tables)?;
        let frequency = |word: &[u8]| -> Result<u64, StorageError> {
            Ok(tables.search_words.get(txn, word)?.map(decode_seq).transpose()?.unwrap_or(0))
        };
        let mut weights = Vec::new();
        let mut rarest: Option<(u64, &str)> = None;
        for term in &self.query.terms {
            *examined += 1;
            let matching = frequency(term.as_bytes())?;
            if matching == 0 {
                return Ok(Phase::Done);
            }
            weights.push(idf(documents, matching));
            if rarest.is_none_or(|(fewest, _)| matching < fewest) {
                rarest = Some((matching, term));
            }
        }
        let mut expanded: Vec<(u64, Vec<u8>)> = Vec::new();
        if let Some(prefix) = &self.query.prefix {
            expanded = expand_prefix(txn, tables, prefix, examined)?;
            if expanded.is_empty() {
                return Ok(Phase::Done);
            }
            let matching = expanded.iter().map(|(matching, _)| matching).sum::<u64>().min(documents);
            weights.push(idf(documents, matching));
        }
        let (holders, sources): (u64, Vec<&[u8]>) = match rarest {
            Some((matching, term)) => (matching, vec![term.as_bytes()]),
            None => (
                expanded.iter().map(|(matching, _)| matching).sum(),
                expanded.iter().map(|(_, word)| &word[..]).collect(),
            ),
        };
        let filter = &self.filter.filter;
        let selective = filter.ids.is_some() || filter.authors.is_some() || !filter.tags.is_empty();
        let candidates = match self.candidates_max {
            None => newest_postings(txn, tables, &sources, usize::MAX, self.snapshot_seq)?,
            Some(max) if holders as usize <= max || !selective => {
                newest_postings(txn, tables, &sources, max, self.snapshot_seq)?
            }
            Some(max) => self.newest_matching_other_fields(store, max)?,
        };
        let average_length = if documents == 0 { 1.0 } else { length as f64 / documents as f64 };
        Ok(Phase::Rank { candidates, next: 0, weights, average_length })
    }

    /// The newest `max` events (up to the snapshot) that the filter's other fields match, read
    /// through the time indexes like any REQ.
    fn newest_matching_other_fields(&self, store: &Store, max: usize) -> Result<Vec<u64>, StorageError> {
        let filter = Filter { limit: Some(max as u64), ..self.filter.filter.clone() };
        let mut scan = store.scan(std::slice::from_ref(&filter), max as u64, self.now)?;
        let mut seqs = Vec::new();
        while !scan.is_done() {
            scan.step(store, crate::query::ScanBudget::UNLIMITED, |record| {
                if record.seq <= self.snapshot_seq {
                    seqs.push(record.seq);
                }
            })?;
        }
        Ok(seqs)
    }
}

/// Vocabulary entries a prefix reads, at most.
const PREFIX_SCAN_MAX: usize = 10_000;

/// The words `prefix` begins, with their document frequencies: the `PREFIX_WORDS_MAX` most
/// frequent among the first `PREFIX_SCAN_MAX` in the vocabulary.
fn expand_prefix(
    txn: &RoTxn<WithoutTls>,
    tables: &Tables,
    prefix: &str,
    examined: &mut usize,
) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
    // The most frequent so far, least frequent on top.
    let mut kept: BinaryHeap<std::cmp::Reverse<(u64, Vec<u8>)>> = BinaryHeap::new();
    for entry in tables.search_words.prefix_iter(txn, prefix.as_bytes())?.take(PREFIX_SCAN_MAX) {
        let (word, matching) = entry?;
        *examined += 1;
        kept.push(std::cmp::Reverse((decode_seq(matching)?, word.to_vec())));
        if kept.len() > PREFIX_WORDS_MAX {
            kept.pop();
        }
    }
    Ok(kept.into_iter().map(|entry| entry.0).collect())
}

/// The newest events (by sequence) in the postings of any of `words`, at most `max`, none
/// after `snapshot_seq`: a merge of the words' duplicate lists, each read backwards.
fn newest_postings(
    txn: &RoTxn<WithoutTls>,
    tables: &Tables,
    words: &[&[u8]],
    max: usize,
    snapshot_seq: u64,
) -> Result<Vec<u64>, StorageError> {
    let mut lists = Vec::with_capacity(words.len());
    for word in words {
        // Ends before the next possible key (`word ++ 0`), so the walk starts at the word's last
        // duplicate (an inclusive end would start at its first).
        let after = [*word, &[0]].concat();
        let range = (Bound::Included(*word), Bound::Excluded(&after[..]));
        lists.push(tables.search_postings.rev_range(txn, &range)?);
    }
    // (next seq, list) of every list with entries left, newest on top.
    let mut heads = BinaryHeap::with_capacity(lists.len());
    for (list, iterator) in lists.iter_mut().enumerate() {
        if let Some(seq) = next_posting(iterator, snapshot_seq)? {
            heads.push((seq, list));
        }
    }
    let mut candidates = Vec::new();
    while candidates.len() < max {
        let Some((seq, list)) = heads.pop() else { break };
        if candidates.last() != Some(&seq) {
            candidates.push(seq);
        }
        if let Some(next) = next_posting(&mut lists[list], snapshot_seq)? {
            heads.push((next, list));
        }
    }
    Ok(candidates)
}

/// The next event of a word's postings that the snapshot holds.
fn next_posting<'txn>(
    list: &mut impl Iterator<Item = heed::Result<(&'txn [u8], &'txn [u8])>>,
    snapshot_seq: u64,
) -> Result<Option<u64>, StorageError> {
    for entry in list {
        let seq = decode_posting(entry?.1)?;
        if seq <= snapshot_seq {
            return Ok(Some(seq));
        }
    }
    Ok(None)
}
