//! The LMDB event store of a Parrhesia node (through heed): one environment per node, a
//! group-commit write path that numbers every stored event (the node's log), time-ordered
//! indexes and resumable query scans. Only this crate knows LMDB.

mod counts;
mod error;
mod lock;
mod maintenance;
mod policy;
mod query;
mod reads;
pub mod record;
mod reindex;
mod replication;
mod retention;
pub mod schema;
pub mod search;
mod store;
mod tables;
mod words;
mod write;

pub use counts::KeptCount;
pub use error::StorageError;
pub use lock::{DirectoryLock, LOCK_FILE, LockError};
pub use maintenance::{Space, VERIFY_PROBLEMS_SHOWN, VerifyReport};
pub use policy::AuditEntry;
pub use query::{QueryScan, ScanBudget};
pub use reads::{StoreGauges, StoredEvent, TableStats};
pub use record::{Header, Record, RecordFilter};
pub use reindex::{ReindexReport, reindex_search};
pub use replication::LogHead;
pub use retention::RetentionSlice;
pub use store::{Durability, ExportError, Store, StoreOptions, export_any_version};
pub use write::{KIND_DELETION, KIND_VANISH, Outcome, StagedBatch, Swept};
