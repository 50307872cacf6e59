//! The `Store` handle and opening it: options, the LMDB environment, the meta records (schema
//! version, node id, store epoch, search kinds), this run's epoch and log classes, and
//! `export_any_version`, which reads a store of any version. Stands on the tables
//! (`tables.rs`); knows none of the roles built on the handle (reads, replication, the write
//! path, scans, search, policy).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::Path;

use heed::types::Bytes;
use heed::{CommitOrAbort, Env, EnvFlags, EnvOpenOptions, RwTxn, WithoutTls};

use crate::error::StorageError;
use crate::schema;
use crate::tables::{Table, Tables, create_tables, read_last_seq};

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
    /// This relay's URLs, for NIP-62 requests that name one (`ALL_RELAYS` always applies): its
    /// own `relay_url` and, in a cluster, every URL the cluster serves under.
    pub relay_urls: Vec<String>,
    /// The operators (NIP-86 `admin_pubkeys`): a policy entry (`policy_log`) is stored and
    /// applied only if one of them signed its authorization.
    pub admin_pubkeys: Vec<parrhesia_engine::Pubkey>,
    /// The kinds whose content NIP-50 search indexes. A new store records them; an existing
    /// store that records others is refused (`parrhesia-tools reindex` changes them). `None`:
    /// whatever the store records (`DEFAULT_SEARCH_KINDS` for a new one).
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
            relay_urls: Vec::new(),
            admin_pubkeys: Vec::new(),
            search_kinds: None,
            search_candidates_max: 1024,
        }
    }
}

/// The kinds indexed when a store is created without saying: text meant to be read (profiles,
/// notes, comments, long-form articles, highlights).
pub const DEFAULT_SEARCH_KINDS: [u16; 5] = [0, 1, 1111, 9802, 30023];

/// The event store of one node. Cheap to clone; every clone shares one LMDB environment, so
/// each shard holds its own clone and opens its own short read transactions.
#[derive(Clone)]
pub struct Store {
    pub(crate) env: Env<WithoutTls>,
    pub(crate) tables: Tables,
    pub(crate) node_id: [u8; 32],
    pub(crate) epoch: u64,
    pub(crate) relay_urls: Vec<String>,
    pub(crate) admin_pubkeys: Vec<parrhesia_engine::Pubkey>,
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
            relay_urls: options.relay_urls.clone(),
            admin_pubkeys: options.admin_pubkeys.clone(),
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
pub(crate) fn open_env(path: &Path, options: &StoreOptions) -> Result<Env<WithoutTls>, StorageError> {
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

    /// Forces written data to disk (for `Durability::NoSync`, on a timer and at shutdown).
    pub fn flush(&self) -> Result<(), StorageError> {
        Ok(self.env.force_sync()?)
    }
}

impl Store {
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

impl Store {
    /// Gives the store to another node key (its key was rotated; the node must be stopped):
    /// later runs number their own events in logs of `node_id`, and the logs of the previous
    /// key stay as held logs (their cursors are where its last run left them), served to
    /// peers like any other. Returns the previous node id.
    pub fn rekey(&mut self, node_id: [u8; 32]) -> Result<[u8; 32], StorageError> {
        let previous = self.node_id;
        if previous != node_id {
            let mut txn = self.env.write_txn()?;
            self.tables.meta.put(&mut txn, schema::META_NODE_ID, &node_id)?;
            let epoch = new_epoch();
            self.tables.meta.put(&mut txn, schema::META_EPOCH, &epoch.to_be_bytes())?;
            txn.commit()?;
            (self.node_id, self.epoch) = (node_id, epoch);
        }
        Ok(previous)
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
pub(crate) fn existing_schema_version(env: &Env<WithoutTls>) -> Result<Option<u32>, StorageError> {
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
            let kinds = normal_kinds(wanted.as_deref().unwrap_or(&DEFAULT_SEARCH_KINDS));
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

pub(crate) fn decode_kinds(bytes: &[u8]) -> Result<Vec<u16>, StorageError> {
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
