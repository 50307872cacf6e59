//! Whether the store has space: a write that fails for lack of it (map or disk full) is
//! answered `error: store full`, logged at most once a minute and counted; the writer keeps
//! serving, and takes writes again once there is space.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parrhesia_storage::StorageError;

use crate::metrics::WriterMetrics;

/// The `error:` answer to events refused because the store has no space.
pub(super) const STORE_FULL: &str = "store full: the relay cannot store events until space is freed";

/// While the store is full, a replicated batch's retry waits this long (it would fail again).
pub(super) const FULL_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// How often a store that stays full is logged again, and how long without a refusal before
/// it counts as having space again (at the edge, small batches fit where large ones did not).
const FULL_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Whether the store is full (a write failed for lack of space within the last minute): says
/// so in the log when it happens, then at most once a minute with what was refused
/// meanwhile, and once when it has taken writes for a minute without a refusal; counts what it
/// refused and sets `parrhesia_store_full`. Reads and live delivery do not go through the
/// writer and carry on.
pub(super) struct SpaceWatch {
    metrics: Arc<WriterMetrics>,
    full: Cell<Option<Full>>,
    /// No replicated batch is applied before this (set when one failed for lack of space).
    replication_resumes: Cell<Option<Instant>>,
}

#[derive(Clone, Copy)]
struct Full {
    since: Instant,
    logged: Instant,
    last_refusal: Instant,
    /// Events refused since `logged`.
    refused: u64,
}

impl SpaceWatch {
    pub(super) fn new(metrics: Arc<WriterMetrics>) -> SpaceWatch {
        SpaceWatch { metrics, full: Cell::new(None), replication_resumes: Cell::new(None) }
    }

    /// A write of `events` from `source` failed with `error`: whether for lack of space
    /// (counted and logged here; any other error is the caller's to report).
    pub(super) fn refused(&self, error: &StorageError, source: usize, events: usize) -> bool {
        if !error.is_out_of_space() {
            return false;
        }
        self.metrics.store_full_events[source].add(events as u64);
        self.metrics.store_full.set(1);
        let now = Instant::now();
        let events = events as u64;
        let full = match self.full.get() {
            None => {
                tracing::error!(
                    %error,
                    "the store is full: new events are refused with `error: store full` until space is freed \
                     (retention, deletions, a larger map_bytes_max and a restart, or a larger disk); \
                     reads and live delivery go on"
                );
                Full { since: now, logged: now, last_refusal: now, refused: events }
            }
            Some(full) if now.duration_since(full.logged) >= FULL_LOG_INTERVAL => {
                let (refused, full_for_seconds) = (full.refused + events, full.since.elapsed().as_secs());
                tracing::error!(%error, refused, full_for_seconds, "the store is still full");
                Full { logged: now, last_refusal: now, refused: 0, ..full }
            }
            Some(full) => Full { last_refusal: now, refused: full.refused + events, ..full },
        };
        self.full.set(Some(full));
        true
    }

    /// Holds replicated batches back for `pause`.
    pub(super) fn pause_replication(&self, pause: Duration) {
        self.replication_resumes.set(Some(Instant::now() + pause));
    }

    pub(super) fn replication_paused(&self) -> bool {
        self.replication_resumes.get().is_some_and(|resumes| Instant::now() < resumes)
    }

    /// Called on every turn of the writer: a store that refused nothing for a minute has space
    /// again, whether or not anything was written since (said once, the gauge cleared).
    pub(super) fn tick(&self) {
        self.wrote();
    }

    /// A write succeeded: once none was refused for a minute, the store has space again.
    pub(super) fn wrote(&self) {
        let Some(full) = self.full.get() else { return };
        if full.last_refusal.elapsed() >= FULL_LOG_INTERVAL {
            self.full.set(None);
            self.metrics.store_full.set(0);
            let full_for_seconds = full.since.elapsed().as_secs();
            tracing::warn!(full_for_seconds, refused = full.refused, "the store takes writes again");
        }
    }
}
