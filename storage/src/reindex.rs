//! Rebuilding the NIP-50 word index offline (`parrhesia-tools reindex`): every event of the
//! search kinds indexed again, in batches, with the store marked while it runs. Above the
//! write path, whose `Writer` it drives; the relay never calls it.

use std::path::Path;

use crate::error::StorageError;
use crate::schema;
use crate::store::{Store, StoreOptions, decode_kinds, encode_kinds, existing_schema_version, normal_kinds, open_env};
use crate::tables::{create_tables, decode_record, decode_seq};

/// What `reindex_search` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReindexReport {
    /// Events read.
    pub events: u64,
    /// Events of the search kinds, now in the index.
    pub indexed: u64,
    /// The kinds the index now holds (recorded in the store).
    pub kinds: Vec<u16>,
}

/// Events indexed per transaction by `reindex_search`.
const REINDEX_BATCH_EVENTS: usize = 20_000;

/// Rebuilds the NIP-50 word index of the store in `path` over the events of `kinds` (`None`:
/// the kinds the store records, or the default), and records those kinds. The relay must be
/// stopped. While it runs the store is marked, so that
/// an interrupted rebuild is refused until it is run again. `progress` gets the events read.
pub fn reindex_search(
    path: &Path,
    kinds: Option<&[u16]>,
    mut progress: impl FnMut(u64),
) -> Result<ReindexReport, StorageError> {
    if !path.join("data.mdb").is_file() {
        return Err(StorageError::NotAStore(path.into()));
    }
    let env = open_env(path, &StoreOptions::default())?;
    match existing_schema_version(&env)? {
        Some(schema::SCHEMA_VERSION) => {}
        Some(found) => return Err(StorageError::SchemaVersion { found, expected: schema::SCHEMA_VERSION }),
        None => return Err(StorageError::NotAStore(path.into())),
    }
    let tables = create_tables(&env)?;
    let mut txn = env.write_txn()?;
    let meta = tables.meta;
    let kinds = match (kinds, meta.get(&txn, schema::META_SEARCH_KINDS)?) {
        (Some(kinds), _) => normal_kinds(kinds),
        (None, Some(stored)) => decode_kinds(stored)?,
        (None, None) => crate::store::DEFAULT_SEARCH_KINDS.to_vec(),
    };
    meta.put(&mut txn, schema::META_SEARCH_REBUILDING, &[])?;
    meta.put(&mut txn, schema::META_SEARCH_KINDS, &encode_kinds(&kinds))?;
    meta.delete(&mut txn, schema::META_SEARCH_DOCUMENTS)?;
    meta.delete(&mut txn, schema::META_SEARCH_LENGTH)?;
    tables.search_postings.clear(&mut txn)?;
    tables.search_words.clear(&mut txn)?;
    let node_id: [u8; 32] = meta
        .get(&txn, schema::META_NODE_ID)?
        .and_then(|id| id.try_into().ok())
        .ok_or_else(|| StorageError::Corrupt("node id".into()))?;
    let epoch = meta.get(&txn, schema::META_EPOCH)?.map(decode_seq).transpose()?.unwrap_or_default();
    txn.commit()?;
    let store = Store {
        env,
        tables,
        node_id,
        epoch,
        relay_urls: Vec::new(),
        admin_pubkeys: Vec::new(),
        search_kinds: kinds,
        search_candidates_max: 0,
        seq_floor: Default::default(),
        log_classes: Default::default(),
    };
    let mut report = ReindexReport { kinds: store.search_kinds.clone(), ..ReindexReport::default() };
    let mut next_seq = 0u64;
    loop {
        let mut txn = store.env.write_txn()?;
        let mut batch: Vec<(u64, u16, String)> = Vec::new();
        let mut read = 0;
        let lower = next_seq.to_be_bytes();
        let range = (std::ops::Bound::Included(&lower[..]), std::ops::Bound::Unbounded);
        for entry in tables.events.range(&txn, &range)? {
            let (key, bytes) = entry?;
            let record = decode_record(decode_seq(key)?, bytes)?;
            read += 1;
            next_seq = record.seq + 1;
            if store.search_kinds.contains(&record.header.kind) {
                let content =
                    record.content().ok_or_else(|| StorageError::Corrupt(format!("event {} content", record.seq)))?;
                batch.push((record.seq, record.header.kind, content));
            }
            if read == REINDEX_BATCH_EVENTS {
                break;
            }
        }
        let mut pending = crate::write::Pending::default();
        let mut writer = crate::write::Writer::new(&mut txn, &store, &mut pending);
        for (seq, kind, content) in &batch {
            writer.index_words(*kind, content, *seq)?;
        }
        pending.flush(&mut txn, &store)?;
        if read < REINDEX_BATCH_EVENTS {
            meta.delete(&mut txn, schema::META_SEARCH_REBUILDING)?;
        }
        txn.commit()?;
        report.events += read as u64;
        report.indexed += batch.len() as u64;
        progress(report.events);
        if read < REINDEX_BATCH_EVENTS {
            return Ok(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use parrhesia_engine::{Filter, Keys, Limits};

    use crate::error::StorageError;
    use crate::schema;
    use crate::store::{Store, StoreOptions};

    #[test]
    fn reindex_rebuilds_a_lost_index_in_place() {
        let directory = tempfile::tempdir().unwrap();
        let keys = Keys::from_secret_bytes([3; 32]).unwrap();
        let notes: Vec<_> =
            (0..30).map(|at| keys.sign(1_700_000_000 + at, 1, Vec::new(), format!("note number{at} coffee"))).collect();
        {
            let store = Store::open(directory.path(), &StoreOptions::default()).unwrap();
            store.apply(&notes, 1_700_000_100).unwrap();
            // The word index gone (as in a store written before it, which `reindex` once
            // upgraded in place): the same tables, no postings, no statistics.
            let mut txn = store.env.write_txn().unwrap();
            let meta = store.tables.meta;
            for key in [schema::META_SEARCH_KINDS, schema::META_SEARCH_DOCUMENTS, schema::META_SEARCH_LENGTH] {
                meta.delete(&mut txn, key).unwrap();
            }
            store.tables.search_postings.clear(&mut txn).unwrap();
            store.tables.search_words.clear(&mut txn).unwrap();
            txn.commit().unwrap();
        }
        let mut progress = Vec::new();
        let report = crate::reindex::reindex_search(directory.path(), None, |read| progress.push(read)).unwrap();
        assert_eq!((report.events, report.indexed), (30, 30));
        assert_eq!(progress.last(), Some(&30));
        let store = Store::open(directory.path(), &StoreOptions::default()).unwrap();
        let report = store.verify(|_| {}).unwrap();
        assert_eq!(report.problems, 0, "{:#?}", report.shown);
        let search = Filter::parse(r#"{"search":"number2"}"#, &Limits::default()).unwrap();
        assert_eq!(store.query(&[search], 100, 1_700_000_100).unwrap().len(), 11, "number2, number20..29");
    }

    #[test]
    fn a_store_of_an_older_layout_is_refused_with_how_to_move_its_events() {
        let directory = tempfile::tempdir().unwrap();
        {
            let store = Store::open(directory.path(), &StoreOptions::default()).unwrap();
            let mut txn = store.env.write_txn().unwrap();
            store.tables.meta.put(&mut txn, schema::META_SCHEMA_VERSION, &6u32.to_be_bytes()).unwrap();
            txn.commit().unwrap();
        }
        let refused = Store::open(directory.path(), &StoreOptions::default()).unwrap_err();
        assert!(matches!(refused, StorageError::SchemaVersion { found: 6, expected: 8 }), "{refused}");
        let message = refused.to_string();
        assert!(message.contains("parrhesia-tools export") && message.contains("parrhesia-tools import"), "{message}");
        assert!(matches!(
            crate::reindex::reindex_search(directory.path(), None, |_| {}),
            Err(StorageError::SchemaVersion { found: 6, .. })
        ));
    }

    #[test]
    fn an_interrupted_reindex_is_refused_until_run_again() {
        let directory = tempfile::tempdir().unwrap();
        {
            let store = Store::open(directory.path(), &StoreOptions::default()).unwrap();
            let mut txn = store.env.write_txn().unwrap();
            store.tables.meta.put(&mut txn, schema::META_SEARCH_REBUILDING, &[]).unwrap();
            txn.commit().unwrap();
        }
        let refused = Store::open(directory.path(), &StoreOptions::default()).unwrap_err();
        assert!(matches!(refused, StorageError::SearchRebuilding), "{refused}");
        crate::reindex::reindex_search(directory.path(), None, |_| {}).unwrap();
        Store::open(directory.path(), &StoreOptions::default()).unwrap();
    }
}
