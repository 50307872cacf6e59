//! The NIP-50 word index as the store keeps it: postings and their encoding, the document
//! frequencies a transaction gathers (`PendingSearch`), and what `verify` expects of it.
//! Knows neither the scan that ranks by it (`search.rs`) nor the writer that fills it
//! (`Writer::index_words` in `write.rs`).
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

use std::collections::HashMap;

use heed::{RoTxn, RwTxn, WithoutTls};

use crate::error::StorageError;
use crate::record::Record;
use crate::schema;
use crate::store::Store;
use crate::tables::{Tables, decode_seq, read_record};

/// The index changes of one transaction: document frequencies gathered per word, written
/// once at its end (postings are written at once).
#[derive(Default)]
pub(crate) struct PendingSearch {
    pub(crate) frequencies: HashMap<Vec<u8>, i64>,
    pub(crate) documents: i64,
    pub(crate) length: i64,
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
pub(crate) fn read_totals(txn: &RoTxn<WithoutTls>, tables: &Tables) -> Result<(u64, u64), StorageError> {
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
