//! The storage error type. A storage error is a failure of this node, never a verdict on an
//! event: protocol refusals are `Outcome` values.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// LMDB failed; a write transaction in progress was aborted, nothing of it is stored.
    #[error("lmdb: {0}")]
    Lmdb(#[from] heed::Error),
    /// The data directory could not be created. Nothing was opened.
    #[error("cannot create data directory {path}: {source}")]
    Directory { path: PathBuf, source: std::io::Error },
    /// The store was written by another schema version. Nothing was changed.
    #[error(
        "store has schema version {found}, this build reads version {expected}; move its events: \
         `parrhesia-tools export --data-dir OLD_DIR --out events.jsonl` (reads any version), then \
         `parrhesia-tools import --data-dir NEW_DIR events.jsonl`, and start the relay on NEW_DIR"
    )]
    SchemaVersion { found: u32, expected: u32 },
    /// A `reindex` of the store did not finish. Nothing was changed.
    #[error("the store's search index was being rebuilt and did not finish: run `parrhesia-tools reindex` again")]
    SearchRebuilding,
    /// The store's word index holds other kinds than the configuration asks for.
    #[error(
        "the store's search index holds kinds {stored:?}, the configuration asks for {wanted:?}: with the relay \
         stopped, run `parrhesia-tools reindex --data-dir DIR --search-kinds KINDS`, or set `search_kinds` to the \
         store's"
    )]
    SearchKinds { stored: Vec<u16>, wanted: Vec<u16> },
    /// The store belongs to another node identity. Nothing was changed.
    #[error("store belongs to node {found}, not to this node's identity")]
    NodeId { found: String },
    /// The directory holds no store (no `data.mdb`). Nothing was created.
    #[error("{0} holds no Parrhesia store (no data.mdb)")]
    NotAStore(PathBuf),
    /// A record is not what this code writes: the store is damaged. Nothing was changed.
    #[error("store is corrupt: {0}")]
    Corrupt(String),
}

impl StorageError {
    /// Whether a write failed for lack of space: the LMDB map is full (`map_bytes_max`), or
    /// the filesystem (or the user's quota) is. The transaction was aborted; nothing of it is
    /// stored, and the store takes writes again once there is space.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            StorageError::Lmdb(heed::Error::Mdb(heed::MdbError::MapFull)) => true,
            StorageError::Lmdb(heed::Error::Io(error)) => {
                matches!(error.raw_os_error(), Some(libc_codes::ENOSPC | libc_codes::EDQUOT))
            }
            _ => false,
        }
    }
}

/// The two errno values of a full disk, on Linux (the only target; no libc dependency here).
mod libc_codes {
    pub const ENOSPC: i32 = 28;
    pub const EDQUOT: i32 = 122;
}
