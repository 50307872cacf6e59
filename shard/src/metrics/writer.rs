//! The writer's metrics (`WriterMetrics`): group commits by source, the queue, replicated
//! events stored per origin, cross-node delivery lag.

use std::time::Duration;

use super::{Count, EVENT_COUNTS, Gauge, Histogram};

/// The writer's metrics (the writer executor writes them).
#[derive(Debug)]
pub struct WriterMetrics {
    /// By source: 0 client events, 1 replicated batches.
    pub batch_events: [Histogram; 2],
    pub commit_duration: [Histogram; 2],
    /// Client events waiting for the writer after it took a batch.
    pub queue_events: Gauge,
    pub events_stored: [Count; 2],
    /// Replicated events stored, and their JSON bytes, per origin. The writer takes the lock
    /// once per replicated batch, scrapes to read; bounded by the origins replication pulls
    /// (allowed peers).
    pub applied_by_origin: std::sync::Mutex<std::collections::BTreeMap<[u8; 32], (u64, u64)>>,
    /// Events refused (clients) or batches' events left to be pulled again (replication)
    /// because the store had no space (map or disk full).
    pub store_full_events: [Count; 2],
    /// 1 while the store is full (a write failed for lack of space in the last minute), else 0.
    pub store_full: Gauge,
    /// Retention: index entries examined, events removed (by age, by size), passes completed,
    /// 1 while a pass is under way, 1 while the store is cut back under its size budget.
    pub retention_examined: Count,
    pub retention_removed: [Count; 2],
    pub retention_passes: Count,
    pub retention_running: Gauge,
    pub retention_evicting: Gauge,
    /// Origin commit to this node's fanout enqueue, for replicated batches whose origin knew
    /// the commit time (batches answered from recent commits, not backlog reads).
    pub delivery_lag: Histogram,
}

pub const WRITE_SOURCES: [&str; 2] = ["clients", "replication"];

/// `WriterMetrics::retention_removed` by index: past their age, or to keep the size budget.
pub const REMOVED_BY: [&str; 2] = ["age", "size"];

impl WriterMetrics {
    /// A group commit of `events` from `source` (index into `WRITE_SOURCES`) took `duration`.
    pub fn committed(&self, source: usize, duration: Duration, events: usize) {
        self.commit_duration[source].observe_duration(duration);
        self.batch_events[source].observe(events as u64);
    }
}

impl Default for WriterMetrics {
    fn default() -> WriterMetrics {
        WriterMetrics {
            batch_events: [Histogram::of(EVENT_COUNTS), Histogram::of(EVENT_COUNTS)],
            commit_duration: [Histogram::seconds(), Histogram::seconds()],
            queue_events: Gauge::default(),
            events_stored: Default::default(),
            applied_by_origin: Default::default(),
            store_full_events: Default::default(),
            store_full: Gauge::default(),
            retention_examined: Count::default(),
            retention_removed: Default::default(),
            retention_passes: Count::default(),
            retention_running: Gauge::default(),
            retention_evicting: Gauge::default(),
            delivery_lag: Histogram::seconds(),
        }
    }
}
