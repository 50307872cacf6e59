//! NIP-50 search: a word index kept at write time, and the scan that ranks by it.
//!
//! Events of the store's search kinds (`META_SEARCH_KINDS`, set when the store is created or
//! re-indexed) have each distinct word of their content (`engine::search::for_each_word`) in
//! `search_postings`: key the word, one duplicate value per event, its seq in 5 bytes
//! big-endian (`posting`; LMDB keeps a word's duplicates sorted and packs them 5 bytes each
//! with `DUP_FIXED`, 800 to a page; a new event
//! has the highest seq, so its postings are appended with `APPEND_DUP`, which fills pages
//! instead of splitting them in half; readers walk a word's list backwards, newest first). `search_words` keeps each word's document frequency, and meta the
//! number of indexed documents and their total length in words, for BM25. Removing an event
//! (replacement, deletion, expiration, vanish, ban) removes its postings.
//!
//! A search filter reads the postings of its rarest whole term (or, with only a prefix, of the
//! words the prefix begins, most frequent first, at most `PREFIX_WORDS_MAX`), takes the newest
//! `search_candidates_max` events there, checks each against the whole filter (every term, the
//! other fields, who may read it) and ranks the matches by BM25; the best `limit` are returned,
//! best first.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use std::ops::Bound;

use heed::{RoTxn, RwTxn, WithoutTls};
use parrhesia_engine::search::{Query, idf};
use parrhesia_engine::{Filter, Id, ReadAccess};

use crate::error::StorageError;
use crate::record::{Record, RecordFilter};
use crate::schema;
use crate::store::Store;
use crate::tables::{Tables, decode_seq, read_record};
use crate::write::Writer;

/// The words a prefix-only query expands to, at most (the most frequent are kept).
pub const PREFIX_WORDS_MAX: usize = 256;

/// The kinds indexed when a store is created without saying: text meant to be read (profiles,
/// notes, comments, long-form articles, highlights).
pub const DEFAULT_SEARCH_KINDS: [u16; 5] = [0, 1, 1111, 9802, 30023];

/// The index changes of one transaction: document frequencies gathered per word, written
/// once at its end (postings are written at once).
#[derive(Default)]
pub(crate) struct PendingSearch {
    frequencies: HashMap<Vec<u8>, i64>,
    documents: i64,
    length: i64,
}

impl PendingSearch {
    pub(crate) fn flush(&mut self, txn: &mut RwTxn, tables: &Tables) -> Result<(), StorageError> {
        for (word, delta) in self.frequencies.drain() {
            let current = tables.search_words.get(txn, &word)?.map(decode_seq).transpose()?.unwrap_or(0);
            match current.saturating_add_signed(delta) {
                0 => {
                    tables.search_words.delete(txn, &word)?;
                }
                frequency => tables.search_words.put(txn, &word, &frequency.to_be_bytes())?,
            }
        }
        if self.documents != 0 || self.length != 0 {
            let (documents, length) = read_totals(txn, tables)?;
            let documents = documents.saturating_add_signed(std::mem::take(&mut self.documents));
            let length = length.saturating_add_signed(std::mem::take(&mut self.length));
            tables.meta.put(txn, schema::META_SEARCH_DOCUMENTS, &documents.to_be_bytes())?;
            tables.meta.put(txn, schema::META_SEARCH_LENGTH, &length.to_be_bytes())?;
        }
        Ok(())
    }
}

/// Indexed documents and their total length in words.
fn read_totals(txn: &RoTxn<WithoutTls>, tables: &Tables) -> Result<(u64, u64), StorageError> {
    let read = |key: &[u8]| tables.meta.get(txn, key)?.map(decode_seq).transpose().map(Option::unwrap_or_default);
    Ok((read(schema::META_SEARCH_DOCUMENTS)?, read(schema::META_SEARCH_LENGTH)?))
}

/// The distinct words of `content` and its length in words.
pub(crate) fn distinct_words(content: &str) -> (Vec<String>, u32) {
    let (counts, length) = parrhesia_engine::search::word_counts(content);
    (counts.into_keys().collect(), length)
}

/// The bytes of a posting: the low 5 of the seq, big-endian. A store numbers its events from
/// 1 and would need 2^40 of them (a petabyte at the smallest event) to outgrow it; the writer
/// refuses to index beyond, rather than wrap.
pub(crate) const POSTING_BYTES: usize = 5;
const POSTING_SEQ_MAX: u64 = (1 << (8 * POSTING_BYTES)) - 1;

pub(crate) fn posting(seq: u64) -> Result<[u8; POSTING_BYTES], StorageError> {
    if seq > POSTING_SEQ_MAX {
        return Err(StorageError::Corrupt(format!(
            "seq {seq} is beyond what the word index holds ({POSTING_SEQ_MAX})"
        )));
    }
    Ok(seq.to_be_bytes()[8 - POSTING_BYTES..].try_into().expect("5 bytes"))
}

pub(crate) fn decode_posting(bytes: &[u8]) -> Result<u64, StorageError> {
    let bytes: [u8; POSTING_BYTES] =
        bytes.try_into().map_err(|_| StorageError::Corrupt("word index posting".into()))?;
    let mut seq = [0; 8];
    seq[8 - POSTING_BYTES..].copy_from_slice(&bytes);
    Ok(u64::from_be_bytes(seq))
}

impl Writer<'_, '_> {
    /// Adds a stored event to the word index, if its kind is indexed.
    pub(crate) fn index_words(&mut self, kind: u16, content: &str, seq: u64) -> Result<(), StorageError> {
        if !self.store.search_kinds.contains(&kind) {
            return Ok(());
        }
        let (words, length) = distinct_words(content);
        for word in words {
            crate::tables::put_dup(self.tables.search_postings, self.txn, word.as_bytes(), &posting(seq)?)?;
            *self.pending.search.frequencies.entry(word.into_bytes()).or_default() += 1;
        }
        self.pending.search.documents += 1;
        self.pending.search.length += i64::from(length);
        Ok(())
    }

    /// Takes a removed event's words (`indexed_words`) out of the word index.
    pub(crate) fn unindex_words(&mut self, seq: u64, (words, length): (Vec<String>, u32)) -> Result<(), StorageError> {
        for word in words {
            // A posting that is not there (a damaged index) moves no frequency.
            if self.tables.search_postings.delete_one_duplicate(self.txn, word.as_bytes(), &posting(seq)?)? {
                *self.pending.search.frequencies.entry(word.into_bytes()).or_default() -= 1;
            }
        }
        self.pending.search.documents -= 1;
        self.pending.search.length -= i64::from(length);
        Ok(())
    }
}

/// The distinct words a stored event has in the index and its length, if its kind is indexed.
/// `None` also for a record whose content cannot be read (a damaged store): removing it must
/// not fail every sweep, deletion or ban that includes it; its postings stay behind, readers
/// skip them (the event is gone), and `verify` reports them.
pub(crate) fn indexed_words(record: &Record, kinds: &[u16]) -> Option<(Vec<String>, u32)> {
    if !kinds.contains(&record.header.kind) {
        return None;
    }
    Some(distinct_words(&record.content()?))
}

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

/// What the word index should hold, as the events say (for `verify`).
#[derive(Default)]
pub(crate) struct ExpectedIndex {
    pub frequencies: HashMap<Vec<u8>, u64>,
    pub documents: u64,
    pub length: u64,
}

impl ExpectedIndex {
    /// Adds a record's words; `Err` if its kind is indexed and its content cannot be read.
    pub(crate) fn add(&mut self, record: &Record, kinds: &[u16]) -> Result<(), StorageError> {
        if !kinds.contains(&record.header.kind) {
            return Ok(());
        }
        let content = record.content().ok_or_else(|| StorageError::Corrupt(format!("event {} content", record.seq)))?;
        let (words, length) = distinct_words(&content);
        for word in words {
            *self.frequencies.entry(word.into_bytes()).or_default() += 1;
        }
        self.documents += 1;
        self.length += u64::from(length);
        Ok(())
    }
}

impl Store {
    /// Checks the word index against what the events say: each word's document frequency and
    /// postings count, every posting naming a stored event of an indexed kind, the totals.
    pub(crate) fn verify_search(
        &self,
        txn: &RoTxn<WithoutTls>,
        expected: &ExpectedIndex,
        mut problem: impl FnMut(String),
    ) -> Result<(), StorageError> {
        let tables = &self.tables;
        let mut seen = 0usize;
        for entry in tables.search_words.iter(txn)? {
            let (word, frequency) = entry?;
            let kept = decode_seq(frequency)?;
            let wanted = expected.frequencies.get(word).copied().unwrap_or(0);
            seen += usize::from(wanted != 0);
            if kept != wanted {
                problem(format!("search_words: {:?} kept as in {kept} events, the events say {wanted}", lossy(word)));
            }
        }
        if seen != expected.frequencies.len() {
            problem(format!("search_words: {} words missing", expected.frequencies.len() - seen));
        }
        let mut current: Option<(Vec<u8>, u64)> = None;
        let check_count = |current: Option<(Vec<u8>, u64)>, problem: &mut dyn FnMut(String)| {
            if let Some((word, count)) = current {
                let wanted = expected.frequencies.get(&word).copied().unwrap_or(0);
                if count != wanted {
                    problem(format!(
                        "search_postings: {:?} has {count} postings, the events say {wanted}",
                        lossy(&word)
                    ));
                }
            }
        };
        for entry in tables.search_postings.iter(txn)? {
            let (word, value) = entry?;
            let seq = decode_posting(value)?;
            match &mut current {
                Some((held, count)) if held.as_slice() == word => *count += 1,
                _ => check_count(current.replace((word.to_vec(), 1)), &mut problem),
            }
            match read_record(txn, tables, seq)? {
                Some(record) if self.search_kinds.contains(&record.header.kind) => {}
                _ => problem(format!("search_postings: {:?} names event {seq}, not an indexed event", lossy(word))),
            }
        }
        check_count(current, &mut problem);
        let totals = read_totals(txn, tables)?;
        if totals != (expected.documents, expected.length) {
            problem(format!(
                "search totals: {totals:?} kept, the events say ({}, {})",
                expected.documents, expected.length
            ));
        }
        Ok(())
    }
}

fn lossy(word: &[u8]) -> String {
    String::from_utf8_lossy(word).into_owned()
}

#[cfg(test)]
mod tests {
    use super::{POSTING_SEQ_MAX, decode_posting, posting};

    #[test]
    fn postings_keep_five_bytes_of_the_seq_in_order() {
        let seqs = [1, 255, 256, 1 << 32, POSTING_SEQ_MAX];
        let postings: Vec<_> = seqs.iter().map(|seq| posting(*seq).unwrap()).collect();
        assert!(postings.windows(2).all(|pair| pair[0] < pair[1]), "byte order is seq order");
        for (seq, bytes) in seqs.iter().zip(&postings) {
            assert_eq!(decode_posting(bytes).unwrap(), *seq);
        }
        assert!(posting(POSTING_SEQ_MAX + 1).is_err(), "never wraps");
        assert!(decode_posting(&[0; 8]).is_err());
    }
}
