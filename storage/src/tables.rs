//! The LMDB tables (`Tables`, created by `create_tables`) and the small reads and writes
//! every role makes on them: a record by seq or id, the last seq, log numbers, appended
//! duplicates. Knows the schema and the record; knows nothing of `Store`, of the write
//! path, the scans or the meta records beyond the last seq.

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, DatabaseFlags, Env, RoTxn, RwTxn, WithoutTls};
use parrhesia_engine::Id;

use crate::error::StorageError;
use crate::record::Record;
use crate::schema::{self, TimeIndex};

/// A table handle; valid for as long as its environment is open (the `Store` holds both).
pub(crate) type Table = Database<'static, Bytes, Bytes>;

#[derive(Clone, Copy)]
pub(crate) struct Tables {
    pub events: Table,
    pub ids: Table,
    pub time: [Table; 5],
    pub replaceable: Table,
    pub deleted: Table,
    pub expiration: Table,
    pub meta: Table,
    pub origin_log: Table,
    pub cursors: Table,
    pub policy: Table,
    pub audit: Table,
    pub tag_counts: Table,
    pub search_postings: Table,
    pub search_words: Table,
    pub logs: Table,
}

/// Every table, in the order `Tables::in_order` lists the handles.
pub(crate) const TABLE_NAMES: [&str; schema::TABLE_COUNT as usize] = [
    schema::TABLE_EVENTS,
    schema::TABLE_IDS,
    TimeIndex::Time.table_name(),
    TimeIndex::Pubkey.table_name(),
    TimeIndex::Kind.table_name(),
    TimeIndex::PubkeyKind.table_name(),
    TimeIndex::Tag.table_name(),
    schema::TABLE_REPLACEABLE,
    schema::TABLE_DELETED,
    schema::TABLE_EXPIRATION,
    schema::TABLE_META,
    schema::TABLE_ORIGIN_LOG,
    schema::TABLE_CURSORS,
    schema::TABLE_POLICY,
    schema::TABLE_AUDIT,
    schema::TABLE_TAG_COUNTS,
    schema::TABLE_SEARCH_POSTINGS,
    schema::TABLE_SEARCH_WORDS,
    schema::TABLE_LOGS,
];

impl Tables {
    /// Every handle, in the order of `TABLE_NAMES`.
    pub(crate) fn in_order(&self) -> [Table; schema::TABLE_COUNT as usize] {
        let [time, pubkey, kind, pubkey_kind, tag] = self.time;
        [
            self.events,
            self.ids,
            time,
            pubkey,
            kind,
            pubkey_kind,
            tag,
            self.replaceable,
            self.deleted,
            self.expiration,
            self.meta,
            self.origin_log,
            self.cursors,
            self.policy,
            self.audit,
            self.tag_counts,
            self.search_postings,
            self.search_words,
            self.logs,
        ]
    }

    pub fn time_index(&self, index: TimeIndex) -> Table {
        self.time[TimeIndex::ALL.iter().position(|&candidate| candidate == index).expect("listed")]
    }
}

/// Opens (creating if needed) every table of the schema.
pub(crate) fn create_tables(env: &Env<WithoutTls>) -> Result<Tables, StorageError> {
    {
        let txn = env.write_txn()?;
        let created = env.create_databases_and_commit(txn, |opener, txn| -> Result<_, heed::Error> {
            let mut tables = Vec::with_capacity(TABLE_NAMES.len());
            for name in TABLE_NAMES {
                let mut options = opener.database_options().types::<Bytes, Bytes>();
                options.name(name);
                if schema::is_dup_sort(name) {
                    options.flags(DatabaseFlags::DUP_SORT | DatabaseFlags::DUP_FIXED);
                }
                tables.push(options.create(txn)?);
            }
            let Ok(tables) = <[_; schema::TABLE_COUNT as usize]>::try_from(tables) else {
                unreachable!("one handle per name")
            };
            Ok(CommitOrAbort::<_, ()>::Commit(tables))
        })?;
        let CommitOrAbort::Commit(
            [
                events,
                ids,
                time,
                pubkey,
                kind,
                pubkey_kind,
                tag,
                replaceable,
                deleted,
                expiration,
                meta,
                origin_log,
                cursors,
                policy,
                audit,
                tag_counts,
                search_postings,
                search_words,
                logs,
            ],
        ) = created
        else {
            unreachable!("the closure never aborts")
        };
        Ok(Tables {
            events,
            ids,
            time: [time, pubkey, kind, pubkey_kind, tag],
            replaceable,
            deleted,
            expiration,
            meta,
            origin_log,
            cursors,
            policy,
            audit,
            tag_counts,
            search_postings,
            search_words,
            logs,
        })
    }
}

pub(crate) fn read_last_seq(txn: &RoTxn<WithoutTls>, tables: &Tables) -> Result<u64, StorageError> {
    let bytes = tables.meta.get(txn, schema::META_LAST_SEQ)?.ok_or_else(|| StorageError::Corrupt("last seq".into()))?;
    decode_seq(bytes)
}

pub(crate) fn decode_seq(bytes: &[u8]) -> Result<u64, StorageError> {
    Ok(u64::from_be_bytes(bytes.try_into().map_err(|_| StorageError::Corrupt("sequence number".into()))?))
}

pub(crate) fn decode_record(seq: u64, bytes: &[u8]) -> Result<Record<'_>, StorageError> {
    Record::decode(seq, bytes).ok_or_else(|| StorageError::Corrupt(format!("record {seq}")))
}

/// The expiration entries due at `now` (expiration at or before it): events expired and not
/// swept yet.
pub(crate) fn due_expirations<'txn>(
    txn: &'txn RoTxn<WithoutTls>,
    tables: &Tables,
    now: u64,
) -> Result<heed::RoRange<'txn, Bytes, Bytes>, StorageError> {
    let upper = now.saturating_add(1).to_be_bytes();
    let range = (std::ops::Bound::Unbounded, std::ops::Bound::Excluded(&upper[..]));
    Ok(tables.expiration.range(txn, &range)?)
}

/// The stored event with this id: each `ids` entry under the id's prefix names a candidate,
/// and its record confirms the whole id.
pub(crate) fn record_of_id<'txn>(
    txn: &'txn RoTxn<WithoutTls>,
    tables: &Tables,
    id: &Id,
) -> Result<Option<Record<'txn>>, StorageError> {
    for entry in tables.ids.prefix_iter(txn, &id[..schema::ID_PREFIX_BYTES])? {
        let (key, _) = entry?;
        let seq = decode_seq(&key[schema::ID_PREFIX_BYTES..])?;
        if let Some(record) = read_record(txn, tables, seq)?.filter(|record| record.header.id == *id) {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// The sequence number of the stored event with this id (`record_of_id`).
pub(crate) fn seq_of_id(txn: &RoTxn<WithoutTls>, tables: &Tables, id: &Id) -> Result<Option<u64>, StorageError> {
    Ok(record_of_id(txn, tables, id)?.map(|record| record.seq))
}

/// Puts a duplicate of a `DUP_SORT | DUP_FIXED` table, appended (`APPEND_DUP`) when it sorts
/// after the key's last one, as it does for events arriving in time order and for postings and
/// log positions always. LMDB splits a full page of fixed-size duplicates in half unless told
/// it is appending, so in-order puts without the flag leave every page of a key's sub-database
/// half empty (measured: the 300k gen store's sub-database pages went from 68.8 to 47.8 MiB).
pub(crate) fn put_dup(table: Table, txn: &mut RwTxn, key: &[u8], dup: &[u8]) -> Result<(), StorageError> {
    match table.put_with_flags(txn, heed::PutFlags::APPEND_DUP, key, dup) {
        // Not after the key's last duplicate: a plain put finds its place.
        Err(heed::Error::Mdb(heed::MdbError::KeyExist)) => table.put(txn, key, dup)?,
        other => other?,
    }
    Ok(())
}

/// The origin log (`schema::cursor_key`: origin ++ epoch) this store numbers `number`.
pub(crate) fn log_of(txn: &RoTxn<WithoutTls>, tables: &Tables, number: u32) -> Result<Option<[u8; 40]>, StorageError> {
    let Some(log) = tables.logs.get(txn, &schema::log_number_key(number))? else { return Ok(None) };
    Ok(Some(log.try_into().map_err(|_| StorageError::Corrupt(format!("log number {number}")))?))
}

/// The number this store gives the origin log (`schema::cursor_key`), numbering it (the next
/// after the highest) if it has none yet.
pub(crate) fn log_number(txn: &mut RwTxn, tables: &Tables, log: &[u8; 40]) -> Result<u32, StorageError> {
    let corrupt = || StorageError::Corrupt("log number".into());
    if let Some(number) = tables.logs.get(txn, &schema::log_key(log))? {
        return Ok(u32::from_be_bytes(number.try_into().map_err(|_| corrupt())?));
    }
    let highest = match tables.logs.rev_prefix_iter(txn, &[schema::LOG_NUMBER_PREFIX])?.next().transpose()? {
        Some((key, _)) => schema::number_of_log_number_key(key).ok_or_else(corrupt)?,
        None => 0,
    };
    let number = highest.checked_add(1).ok_or_else(corrupt)?;
    tables.logs.put(txn, &schema::log_key(log), &number.to_be_bytes())?;
    tables.logs.put(txn, &schema::log_number_key(number), log)?;
    Ok(number)
}

/// The record stored under `seq`, in place.
pub(crate) fn read_record<'txn>(
    txn: &'txn RoTxn<WithoutTls>,
    tables: &Tables,
    seq: u64,
) -> Result<Option<Record<'txn>>, StorageError> {
    match tables.events.get(txn, &seq.to_be_bytes())? {
        Some(bytes) => decode_record(seq, bytes).map(Some),
        None => Ok(None),
    }
}
