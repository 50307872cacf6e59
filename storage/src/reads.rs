//! Small reads of the store: the last seq, the gauges `/metrics` reports, an event by id,
//! which ids are held, every table's size. Each is one short read transaction; none writes,
//! and none knows the write path, the scans or the replication logs.

use parrhesia_engine::Id;

use crate::error::StorageError;
use crate::record::{Header, Record};
use crate::schema;
use crate::store::Store;
use crate::tables::{TABLE_NAMES, read_last_seq, record_of_id, seq_of_id};

/// One table's size, from LMDB's own counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableStats {
    pub name: &'static str,
    pub entries: u64,
    /// Bytes in the table's pages (branch, leaf and overflow); free pages are not counted.
    pub bytes: u64,
    /// A `DUP_SORT` table: LMDB's counts leave out the sub-databases that hold a key's
    /// duplicates past one page, so `bytes` is its main tree only.
    pub main_tree_only: bool,
}

/// The store's size as `/metrics` reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreGauges {
    /// Events stored (expired ones not yet swept included).
    pub events: u64,
    /// The sequence number of the last stored event.
    pub last_seq: u64,
    /// Size of the data file on disk.
    pub disk_bytes: u64,
    /// The map: the most the data file may grow to (`map_bytes_max`).
    pub map_bytes: u64,
    /// Bytes of the map in use: the data file's pages less those on LMDB's free list (which
    /// later writes reuse before the file grows). Writes fail with MDB_MAP_FULL when it nears
    /// `map_bytes`; the `store_bytes_max` budget is kept against it.
    pub map_used_bytes: u64,
}

/// An event as read back from the store, owned (for tools and tests; the relay's hot paths
/// read `Record`s in place instead).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: u64,
    pub header: Header,
    pub json: String,
}

impl StoredEvent {
    /// Copies a record out of its page.
    pub fn from_record(record: &Record) -> Result<StoredEvent, StorageError> {
        let json =
            record.json_string().ok_or_else(|| StorageError::Corrupt(format!("event {} is not UTF-8", record.seq)))?;
        Ok(StoredEvent { seq: record.seq, header: record.header, json })
    }
}

impl Store {
    /// The sequence number of the last stored event (0 before the first).
    pub fn last_seq(&self) -> Result<u64, StorageError> {
        let txn = self.env.read_txn()?;
        read_last_seq(&txn, &self.tables)
    }

    /// Bytes of the data file in use (its pages less the free list's), as `/metrics` reports
    /// `parrhesia_store_map_used_bytes`.
    pub fn used_bytes(&self) -> Result<u64, StorageError> {
        let txn = self.env.read_txn()?;
        used_bytes(&self.env, &txn)
    }

    /// The store's directory.
    pub fn directory(&self) -> &std::path::Path {
        self.env.path()
    }

    /// What `/metrics` reports of the store, read in one transaction.
    pub fn gauges(&self) -> Result<StoreGauges, StorageError> {
        let txn = self.env.read_txn()?;
        let info = self.env.info();
        Ok(StoreGauges {
            events: self.tables.events.len(&txn)?,
            last_seq: read_last_seq(&txn, &self.tables)?,
            disk_bytes: self.env.real_disk_size()?,
            map_bytes: info.map_size as u64,
            map_used_bytes: used_bytes(&self.env, &txn)?,
        })
    }

    /// Whether an event with this id is stored (the relay's duplicate check before verifying).
    pub fn contains_id(&self, id: &Id) -> Result<bool, StorageError> {
        let txn = self.env.read_txn()?;
        Ok(seq_of_id(&txn, &self.tables, id)?.is_some())
    }

    /// The stored event with this id.
    pub fn get_by_id(&self, id: &Id) -> Result<Option<StoredEvent>, StorageError> {
        let txn = self.env.read_txn()?;
        record_of_id(&txn, &self.tables, id)?.map(|record| StoredEvent::from_record(&record)).transpose()
    }

    /// Every table's size: name, entries, and bytes in pages (branch, leaf and overflow).
    pub fn table_stats(&self) -> Result<Vec<TableStats>, StorageError> {
        let txn = self.env.read_txn()?;
        let mut stats = Vec::with_capacity(TABLE_NAMES.len());
        for (name, table) in TABLE_NAMES.into_iter().zip(self.tables.in_order()) {
            let stat = table.stat(&txn)?;
            let pages = stat.branch_pages + stat.leaf_pages + stat.overflow_pages;
            stats.push(TableStats {
                name,
                entries: stat.entries as u64,
                bytes: (pages * stat.page_size as usize) as u64,
                main_tree_only: schema::is_dup_sort(name),
            });
        }
        Ok(stats)
    }

    /// Which of `ids` this store holds, in one read transaction.
    pub fn holds(&self, ids: &[[u8; 32]]) -> Result<Vec<bool>, StorageError> {
        let txn = self.env.read_txn()?;
        ids.iter().map(|id| Ok(seq_of_id(&txn, &self.tables, id)?.is_some())).collect()
    }
}

/// The data file's pages up to the last one written, less those on the free list, in bytes.
fn used_bytes(env: &heed::Env<heed::WithoutTls>, txn: &heed::RoTxn<heed::WithoutTls>) -> Result<u64, StorageError> {
    let pages = env.info().last_page_number as u64 + 1;
    let free = txn.free_pages()? as u64;
    Ok(pages.saturating_sub(free) * u64::from(env.unnamed_database_stat().page_size))
}
