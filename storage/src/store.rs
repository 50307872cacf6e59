//! Opening the node's LMDB environment: options, the tables, the meta records (schema version,
//! node id, store epoch, last sequence number), and small reads the relay needs on its hot path.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::Path;

use heed::types::Bytes;
use heed::{CommitOrAbort, Env, EnvFlags, EnvOpenOptions, RwTxn, WithoutTls};
use parrhesia_engine::Id;

use crate::error::StorageError;
use crate::record::{Header, Record};
use crate::schema;
use crate::tables::{
    TABLE_NAMES, Table, Tables, create_tables, decode_record, decode_seq, log_of, read_last_seq, read_record,
    record_of_id, seq_of_id,
};

/// When a commit reaches the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync at every commit: an acknowledged event survives power loss. The default.
    Fsync,
    /// No fsync at commit; the OS writes back, and `Store::flush` (called on a timer by the
    /// relay) forces it. A crash of the machine may lose the last unflushed commits; a crash of
    /// the process alone loses nothing.
    NoSync,
}

/// How to open a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Largest size the data file may grow to, in bytes (LMDB's map size; address space only).
    pub map_bytes_max: usize,
    /// Concurrent read transactions allowed (LMDB max readers); at least one per shard task.
    pub readers_max: u32,
    pub durability: Durability,
    /// This node's identity (its ed25519 public key); recorded as the origin of local events.
    /// A store created under another node id is refused.
    pub node_id: [u8; 32],
    /// Open the store as whichever node it belongs to (`node_id` unused): for operator tools
    /// working on a node's store while the node is stopped.
    pub as_stored_node: bool,
    /// This relay's own URL, for NIP-62 requests that name it (`ALL_RELAYS` always applies).
    pub relay_url: Option<String>,
    /// The kinds whose content NIP-50 search indexes. A new store records them; an existing
    /// store that records others is refused (`parrhesia-tools reindex` changes them). `None`:
    /// whatever the store records (`search::DEFAULT_SEARCH_KINDS` for a new one).
    pub search_kinds: Option<Vec<u16>>,
    /// Events a search filter examines, at most: the newest holding its rarest term.
    pub search_candidates_max: usize,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            map_bytes_max: 1 << 40,
            readers_max: 1024,
            durability: Durability::Fsync,
            node_id: [0; 32],
            as_stored_node: false,
            relay_url: None,
            search_kinds: None,
            search_candidates_max: 1024,
        }
    }
}

/// The event store of one node. Cheap to clone; every clone shares one LMDB environment, so
/// each shard holds its own clone and opens its own short read transactions.
#[derive(Clone)]
pub struct Store {
    pub(crate) env: Env<WithoutTls>,
    pub(crate) tables: Tables,
    pub(crate) node_id: [u8; 32],
    pub(crate) epoch: u64,
    pub(crate) relay_url: Option<String>,
    /// The kinds the word index holds (`META_SEARCH_KINDS`).
    pub(crate) search_kinds: Vec<u16>,
    pub(crate) search_candidates_max: usize,
    /// Sequence numbers up to here were handed out by a write transaction that did not commit
    /// after its events were fanned out (`StagedBatch`): never used again in this process, so
    /// a subscription that saw one never skips a later event numbered the same.
    pub(crate) seq_floor: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Kinds whose events this node numbers in a log of their own (`set_log_classes`): kind ->
    /// class (1..=255), the low byte of that log's epoch.
    pub(crate) log_classes: std::sync::Arc<std::collections::HashMap<u16, u8>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Store({})", self.env.path().display())
    }
}

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
    /// Opens the store in directory `path`, refusing a directory that holds none (a tool
    /// pointed at the wrong place must not create an empty store there).
    pub fn open_existing(path: &Path, options: &StoreOptions) -> Result<Store, StorageError> {
        if !path.join("data.mdb").is_file() {
            return Err(StorageError::NotAStore(path.into()));
        }
        Store::open(path, options)
    }

    /// Opens (creating if needed) the store in directory `path`.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Store, StorageError> {
        let env = open_env(path, options)?;
        // Refuse a store of another version before creating any table in it.
        if let Some(found) = existing_schema_version(&env)? {
            check_schema_version(found)?;
        }
        let tables = create_tables(&env)?;
        let mut txn = env.write_txn()?;
        let (node_id, epoch, search_kinds) = init_meta(&mut txn, &tables, options)?;
        txn.commit()?;
        Ok(Store {
            env,
            tables,
            node_id,
            epoch,
            relay_url: options.relay_url.clone(),
            search_kinds,
            search_candidates_max: options.search_candidates_max,
            seq_floor: Default::default(),
            log_classes: Default::default(),
        })
    }

    /// The node id this store was created with.
    pub fn node_id(&self) -> &[u8; 32] {
        &self.node_id
    }
}

/// Opens the LMDB environment in `path` (creating the directory if needed).
fn open_env(path: &Path, options: &StoreOptions) -> Result<Env<WithoutTls>, StorageError> {
    std::fs::create_dir_all(path).map_err(|source| StorageError::Directory { path: path.into(), source })?;
    let mut open_options = EnvOpenOptions::new().read_txn_without_tls();
    open_options.map_size(options.map_bytes_max).max_readers(options.readers_max).max_dbs(schema::TABLE_COUNT);
    if options.durability == Durability::NoSync {
        // SAFETY: NO_SYNC only defers fsync; `flush` forces it. It does not weaken LMDB's
        // consistency after a process crash.
        unsafe { open_options.flags(EnvFlags::NO_SYNC) };
    }
    // SAFETY: heed requires that the same environment is not opened twice in one process;
    // the relay opens it once and shares clones of this `Store`.
    Ok(unsafe { open_options.open(path) }?)
}

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
        (None, None) => crate::search::DEFAULT_SEARCH_KINDS.to_vec(),
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
        relay_url: None,
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

/// A store of another schema version is refused, with what to do about it.
pub(crate) fn check_schema_version(found: u32) -> Result<(), StorageError> {
    match found {
        schema::SCHEMA_VERSION => Ok(()),
        found => Err(StorageError::SchemaVersion { found, expected: schema::SCHEMA_VERSION }),
    }
}

impl Store {
    /// The kinds whose content the word index holds.
    pub fn search_kinds(&self) -> &[u16] {
        &self.search_kinds
    }

    /// A random value minted when the store was created; a wiped store gets a new one.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The sequence number of the last stored event (0 before the first).
    pub fn last_seq(&self) -> Result<u64, StorageError> {
        let txn = self.env.read_txn()?;
        read_last_seq(&txn, &self.tables)
    }

    /// What `/metrics` reports of the store, read in one transaction.
    pub fn gauges(&self) -> Result<StoreGauges, StorageError> {
        let txn = self.env.read_txn()?;
        Ok(StoreGauges {
            events: self.tables.events.len(&txn)?,
            last_seq: read_last_seq(&txn, &self.tables)?,
            disk_bytes: self.env.real_disk_size()?,
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

    /// Forces written data to disk (for `Durability::NoSync`, on a timer and at shutdown).
    pub fn flush(&self) -> Result<(), StorageError> {
        Ok(self.env.force_sync()?)
    }

    /// Events in sequence order after `after_seq`: the node's log, as replication reads it.
    /// Stops after `events_max` events or once `bytes_max` bytes of JSON are collected (at
    /// least one event is returned if any exists).
    pub fn events_since(
        &self,
        after_seq: u64,
        events_max: usize,
        bytes_max: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let mut out = Vec::new();
        let mut failure = None;
        self.log_since(after_seq, events_max, bytes_max, |record| match StoredEvent::from_record(&record) {
            Ok(stored) => out.push(stored),
            Err(error) => failure = Some(error),
        })?;
        failure.map_or(Ok(out), Err)
    }

    /// Hands each record after `after_seq` to `visit`, in sequence order, in place (one read
    /// transaction): the same bounds as `events_since`. Returns the last seq visited, or
    /// `after_seq` when there was none.
    pub fn log_since(
        &self,
        after_seq: u64,
        events_max: usize,
        bytes_max: usize,
        mut visit: impl FnMut(Record),
    ) -> Result<u64, StorageError> {
        let txn = self.env.read_txn()?;
        let start = (after_seq.saturating_add(1)).to_be_bytes();
        let range = (std::ops::Bound::Included(&start[..]), std::ops::Bound::Unbounded);
        let (mut events, mut bytes, mut last) = (0, 0, after_seq);
        for entry in self.tables.events.range(&txn, &range)? {
            if events >= events_max || (bytes >= bytes_max && events > 0) {
                break;
            }
            let (key, bytes_stored) = entry?;
            let record = decode_record(decode_seq(key)?, bytes_stored)?;
            bytes += record.json_len();
            events += 1;
            last = record.seq;
            visit(record);
        }
        Ok(last)
    }
}

/// How much of one origin log a node holds: every event of the log below `next_seq` that
/// has not since been removed (replaced, deleted, expired).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogHead {
    pub origin: [u8; 32],
    pub epoch: u64,
    pub next_seq: u64,
}

impl Store {
    /// Every origin log this node holds, with how far: its own current one first (its cursor
    /// is written with each local commit: the position after its last own event; deletions
    /// never move it back) and one per other log.
    pub fn log_heads(&self) -> Result<Vec<LogHead>, StorageError> {
        let txn = self.env.read_txn()?;
        let own_key = schema::cursor_key(&self.node_id, self.epoch);
        let own_next = self.tables.cursors.get(&txn, &own_key)?.map(decode_seq).transpose()?.unwrap_or(1);
        let mut heads = vec![LogHead { origin: self.node_id, epoch: self.epoch, next_seq: own_next }];
        for entry in self.tables.cursors.iter(&txn)? {
            let (key, value) = entry?;
            if key == own_key {
                continue;
            }
            let corrupt = || StorageError::Corrupt("replication cursor".into());
            let (origin, epoch) = key.split_at_checked(32).ok_or_else(corrupt)?;
            heads.push(LogHead {
                origin: origin.try_into().map_err(|_| corrupt())?,
                epoch: decode_seq(epoch)?,
                next_seq: decode_seq(value)?,
            });
        }
        Ok(heads)
    }

    /// The replication cursor of one log: the next origin seq not yet pulled (1 if none).
    pub fn cursor(&self, origin: &[u8; 32], epoch: u64) -> Result<u64, StorageError> {
        let txn = self.env.read_txn()?;
        let value = self.tables.cursors.get(&txn, &schema::cursor_key(origin, epoch))?;
        Ok(value.map(decode_seq).transpose()?.unwrap_or(1))
    }

    /// Hands each event this node holds of the log (`origin`, `epoch`) from `from_seq` on (in
    /// position order, in place, one read transaction) to `visit` with its position in that
    /// log (an event that reached this node through several logs is stored once, with the
    /// position it came with first in its header), up to `events_max` events or once
    /// `bytes_max` bytes of JSON are visited (at least one if any exists). Returns the
    /// position before which this node holds nothing more that was not visited (read in the
    /// same transaction, so a concurrent commit is never skipped), or `None` if it holds
    /// nothing of this log.
    pub fn read_log(
        &self,
        origin: &[u8; 32],
        epoch: u64,
        from_seq: u64,
        events_max: usize,
        bytes_max: usize,
        mut visit: impl FnMut(u64, Record),
    ) -> Result<Option<u64>, StorageError> {
        let txn = self.env.read_txn()?;
        let held = match self.tables.cursors.get(&txn, &schema::cursor_key(origin, epoch))? {
            Some(next) => decode_seq(next)?,
            // This node's current log, before its first event.
            None if self.is_own_current_log(origin, epoch) => 1,
            None => return Ok(None),
        };
        let log = schema::cursor_key(origin, epoch);
        let start = schema::origin_log_dup(from_seq.max(1), 0);
        let (mut events, mut bytes, mut last) = (0, 0, None);
        for entry in self.tables.origin_log.duplicates_from(&txn, &log, &start)? {
            let (position, seq) = schema::split_time_suffix(entry?);
            if events >= events_max || (bytes >= bytes_max && events > 0) {
                return Ok(Some(position));
            }
            // An extra position of a since removed event (see `add_position`): skipped.
            let Some(record) = read_record(&txn, &self.tables, seq)? else { continue };
            bytes += record.json_len();
            events += 1;
            last = Some(position);
            visit(position, record);
        }
        // Positions come from peers (net's replication keeps them below u64::MAX, but this
        // store takes any it is given): the one after the last saturates, never wraps to 0.
        Ok(Some(held.max(last.map_or(from_seq, |last: u64| last.saturating_add(1)))))
    }

    /// Hands the events this node holds at `positions` (increasing) of the log (`origin`,
    /// `epoch`) to `visit`, as `read_log` does, up to `events_max` events or once `bytes_max`
    /// bytes of JSON are visited (at least one if any is held). Returns the first position
    /// not looked at, or one past the last position when every one was (positions of events
    /// not held are looked at and skipped).
    pub fn read_log_at(
        &self,
        origin: &[u8; 32],
        epoch: u64,
        positions: &[u64],
        events_max: usize,
        bytes_max: usize,
        mut visit: impl FnMut(u64, Record),
    ) -> Result<u64, StorageError> {
        let txn = self.env.read_txn()?;
        let log = schema::cursor_key(origin, epoch);
        let (mut events, mut bytes) = (0, 0);
        for &position in positions {
            if events >= events_max || (bytes >= bytes_max && events > 0) {
                return Ok(position);
            }
            let start = schema::origin_log_dup(position, 0);
            let Some(entry) = self.tables.origin_log.duplicates_from(&txn, &log, &start)?.next().transpose()? else {
                continue;
            };
            let (at, seq) = schema::split_time_suffix(entry);
            if at != position {
                continue;
            }
            let Some(record) = read_record(&txn, &self.tables, seq)? else { continue };
            bytes += record.json_len();
            events += 1;
            visit(position, record);
        }
        // `positions` are a peer's fetch: past the last one saturates, never wraps to 0.
        Ok(positions.last().map_or(0, |last| last.saturating_add(1)))
    }

    /// The origin node and epoch of the log this store numbers `number` (a record's
    /// `Header::log`).
    pub fn log_origin(&self, number: u32) -> Result<Option<([u8; 32], u64)>, StorageError> {
        let txn = self.env.read_txn()?;
        Ok(log_of(&txn, &self.tables, number)?.map(|log| {
            let (origin, epoch) = log.split_at(32);
            (origin.try_into().expect("32 bytes"), u64::from_be_bytes(epoch.try_into().expect("8 bytes")))
        }))
    }

    /// Which of `ids` this store holds, in one read transaction.
    pub fn holds(&self, ids: &[[u8; 32]]) -> Result<Vec<bool>, StorageError> {
        let txn = self.env.read_txn()?;
        ids.iter().map(|id| Ok(seq_of_id(&txn, &self.tables, id)?.is_some())).collect()
    }

    /// Starts this process's stretch of the node's own log under a new epoch; the previous
    /// epoch's log stays a log this node holds and serves. A store restored from a backup
    /// therefore never numbers two events the same in one log. Call once, before the store
    /// is cloned.
    pub fn begin_epoch(&mut self) -> Result<(), StorageError> {
        self.begin_epoch_with_classes(std::collections::HashMap::new())
    }

    /// As `begin_epoch`, with classes of kinds (kind -> class, 1..=255) whose events this run
    /// numbers in a log of their own, `(node, epoch | class)`: a peer pulls each such log on
    /// its own, so a stream of one class does not wait behind another's (their positions are
    /// the events' sequence numbers, so each class log has holes where the others' events
    /// are). Every node of a cluster should give the same classes the same numbers.
    pub fn begin_epoch_with_classes(
        &mut self,
        log_classes: std::collections::HashMap<u16, u8>,
    ) -> Result<(), StorageError> {
        assert!(log_classes.values().all(|class| *class > 0), "class 0 is every other kind's");
        self.log_classes = std::sync::Arc::new(log_classes);
        // The run's own log already has its cursor (written with each local commit) if it
        // accepted anything; a run that accepted nothing leaves no log behind.
        let mut txn = self.env.write_txn()?;
        let epoch = new_epoch();
        self.tables.meta.put(&mut txn, schema::META_EPOCH, &epoch.to_be_bytes())?;
        txn.commit()?;
        self.epoch = epoch;
        Ok(())
    }
}

/// A random epoch (a store's or a run's); its low byte is 0, left for the class of kinds a
/// log holds (`Store::begin_epoch_with_classes`).
fn new_epoch() -> u64 {
    RandomState::new().hash_one(std::time::SystemTime::now()) & !schema::LOG_CLASS_MASK
}

impl Store {
    /// The log this node's own event of `kind` goes to in this run: `(node, epoch | class)`.
    pub(crate) fn own_log_epoch(&self, kind: u16) -> u64 {
        self.epoch | u64::from(self.log_classes.get(&kind).copied().unwrap_or(0))
    }

    /// Whether (`origin`, `epoch`) is one of this run's own logs (the default or a class log).
    pub fn is_own_current_log(&self, origin: &[u8; 32], epoch: u64) -> bool {
        *origin == self.node_id
            && (epoch == self.epoch
                || (self.epoch & schema::LOG_CLASS_MASK == 0 && epoch & !schema::LOG_CLASS_MASK == self.epoch))
    }
}

/// Hands every stored event's JSON to `visit`, in sequence order, from the store in `path`
/// whatever its schema version (so that a store this build refuses can still be moved).
/// Opens the environment read-only and changes nothing. Returns how many events were visited.
pub fn export_any_version(
    path: &Path,
    mut visit: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<u64, ExportError> {
    if !path.join("data.mdb").is_file() {
        return Err(ExportError::NotAStore(path.into()));
    }
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options.max_dbs(schema::TABLE_COUNT);
    // SAFETY: READ_ONLY never writes; the environment is opened once in this process.
    let env = unsafe {
        options.flags(EnvFlags::READ_ONLY);
        options.open(path)
    }
    .map_err(StorageError::from)?;
    let events = open_existing_table(&env, schema::TABLE_EVENTS)?;
    let events = events.ok_or_else(|| ExportError::NotAStore(path.into()))?;
    let txn = env.read_txn().map_err(StorageError::from)?;
    let mut count = 0;
    for entry in events.iter(&txn).map_err(StorageError::from)? {
        let (key, bytes) = entry.map_err(StorageError::from)?;
        let json = crate::record::json_of_any_version(bytes)
            .ok_or_else(|| StorageError::Corrupt(format!("record {key:?} of an unknown version")))?;
        visit(&json).map_err(ExportError::Output)?;
        count += 1;
    }
    Ok(count)
}

/// Why `export_any_version` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The directory holds no event store. Nothing was read.
    #[error("{0} holds no Parrhesia store (no data.mdb with an events table)")]
    NotAStore(std::path::PathBuf),
    /// Reading the store failed; what was visited before stands.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The visitor failed to write; what was visited before stands.
    #[error("writing the export: {0}")]
    Output(std::io::Error),
}

/// Opens the table `name` without creating it (a read transaction); `None` if it does not exist.
fn open_existing_table(env: &Env<WithoutTls>, name: &str) -> Result<Option<Table>, StorageError> {
    let opened = env.open_databases_and_commit(env.read_txn()?, |opener, txn| -> Result<_, heed::Error> {
        Ok(CommitOrAbort::<_, ()>::Commit(opener.open_database::<Bytes, Bytes>(txn, Some(name))?))
    })?;
    let CommitOrAbort::Commit(table) = opened else { unreachable!("the closure never aborts") };
    Ok(table)
}

/// The schema version recorded in an existing store; `None` for a new one.
fn existing_schema_version(env: &Env<WithoutTls>) -> Result<Option<u32>, StorageError> {
    let Some(meta) = open_existing_table(env, schema::TABLE_META)? else { return Ok(None) };
    let txn = env.read_txn()?;
    let Some(version) = meta.get(&txn, schema::META_SCHEMA_VERSION)? else { return Ok(None) };
    let version = version.try_into().map_err(|_| StorageError::Corrupt("schema version".into()))?;
    Ok(Some(u32::from_be_bytes(version)))
}

/// Creates or checks the meta records; returns the store's node id and epoch.
fn init_meta(
    txn: &mut RwTxn,
    tables: &Tables,
    options: &StoreOptions,
) -> Result<([u8; 32], u64, Vec<u16>), StorageError> {
    let (node_id, epoch) = init_identity(txn, tables, options)?;
    let meta = tables.meta;
    if meta.get(txn, schema::META_SEARCH_REBUILDING)?.is_some() {
        return Err(StorageError::SearchRebuilding);
    }
    let stored = match meta.get(txn, schema::META_SEARCH_KINDS)? {
        Some(bytes) => Some(decode_kinds(bytes)?),
        None => None,
    };
    let kinds = match (stored, &options.search_kinds) {
        (Some(stored), Some(wanted)) if normal_kinds(wanted) != stored => {
            return Err(StorageError::SearchKinds { stored, wanted: normal_kinds(wanted) });
        }
        (Some(stored), _) => stored,
        (None, wanted) => {
            let kinds = normal_kinds(wanted.as_deref().unwrap_or(&crate::search::DEFAULT_SEARCH_KINDS));
            meta.put(txn, schema::META_SEARCH_KINDS, &encode_kinds(&kinds))?;
            kinds
        }
    };
    Ok((node_id, epoch, kinds))
}

/// Kinds sorted, without repeats (the form the store records).
pub(crate) fn normal_kinds(kinds: &[u16]) -> Vec<u16> {
    let mut kinds = kinds.to_vec();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

pub(crate) fn encode_kinds(kinds: &[u16]) -> Vec<u8> {
    kinds.iter().flat_map(|kind| kind.to_be_bytes()).collect()
}

fn decode_kinds(bytes: &[u8]) -> Result<Vec<u16>, StorageError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(StorageError::Corrupt("search kinds".into()));
    }
    Ok(bytes.chunks_exact(2).map(|pair| u16::from_be_bytes([pair[0], pair[1]])).collect())
}

/// Creates or checks the identity records; returns the store's node id and epoch.
fn init_identity(txn: &mut RwTxn, tables: &Tables, options: &StoreOptions) -> Result<([u8; 32], u64), StorageError> {
    let meta = tables.meta;
    match meta.get(txn, schema::META_SCHEMA_VERSION)? {
        None => {
            meta.put(txn, schema::META_SCHEMA_VERSION, &schema::SCHEMA_VERSION.to_be_bytes())?;
            meta.put(txn, schema::META_NODE_ID, &options.node_id)?;
            meta.put(txn, schema::META_LAST_SEQ, &0u64.to_be_bytes())?;
            let epoch = new_epoch();
            meta.put(txn, schema::META_EPOCH, &epoch.to_be_bytes())?;
            Ok((options.node_id, epoch))
        }
        Some(version) => {
            let found =
                u32::from_be_bytes(version.try_into().map_err(|_| StorageError::Corrupt("schema version".into()))?);
            check_schema_version(found)?;
            let node_id: [u8; 32] = meta
                .get(txn, schema::META_NODE_ID)?
                .and_then(|id| id.try_into().ok())
                .ok_or_else(|| StorageError::Corrupt("node id".into()))?;
            let epoch = meta.get(txn, schema::META_EPOCH)?.ok_or_else(|| StorageError::Corrupt("epoch".into()))?;
            let epoch = u64::from_be_bytes(epoch.try_into().map_err(|_| StorageError::Corrupt("epoch".into()))?);
            if node_id == options.node_id || options.as_stored_node {
                return Ok((node_id, epoch));
            }
            if node_id != [0; 32] {
                return Err(StorageError::NodeId { found: parrhesia_engine::hex::encode(&node_id) });
            }
            // A single-node store joins a cluster under this node's key: what it holds stays
            // the log of the anonymous origin it was, served to peers like any held log.
            let held = (read_last_seq(txn, tables)? + 1).to_be_bytes();
            tables.cursors.put(txn, &schema::cursor_key(&node_id, epoch), &held)?;
            meta.put(txn, schema::META_NODE_ID, &options.node_id)?;
            let epoch = new_epoch();
            meta.put(txn, schema::META_EPOCH, &epoch.to_be_bytes())?;
            Ok((options.node_id, epoch))
        }
    }
}
