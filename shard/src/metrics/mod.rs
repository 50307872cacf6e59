//! The node's metrics: each executor (shard, writer, cluster) owns its counters, gauges and
//! histograms as atomics that only it writes; a scrape reads them from whichever shard serves
//! `/metrics` and renders the Prometheus text format with `prometheus-client`. No lock is taken
//! on any hot path, and a scrape never waits for a shard.
//!
//! The primitives (`Count`, `Gauge`, `Histogram` and their bucket bounds) are here; each
//! executor's set of metrics is in its own file (`shard.rs`, `writer.rs`, `cluster.rs`, and
//! `mirror.rs` for each mirror stream) with
//! the label sets its arrays are sized by, and `registry.rs` reads them all at a scrape and
//! renders `/metrics`. What other files use is re-exported here: they name `crate::metrics::X`.

mod cluster;
mod mirror;
mod registry;
mod shard;
mod writer;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

pub use cluster::{ClusterMetrics, OriginFigures, PeerFigures, QueueFigures};
pub use mirror::MirrorMetrics;
pub use registry::{CONTENT_TYPE, Metrics};
pub use shard::{
    CLIENT_VERB_INVALID, CloseReason, DEFLATE_IN_COMPRESSED, DEFLATE_IN_INFLATED, DEFLATE_OUT_COMPRESSED,
    DEFLATE_OUT_PLAIN, KIND_UNKNOWN, NIP43_INVITE, NIP43_INVITE_REFUSED, NIP43_JOIN_ACCEPTED, NIP43_JOIN_IGNORED,
    NIP43_JOIN_REFUSED, NIP43_LEAVE, NIP43_WRITE_REFUSED, OUTCOME_DUPLICATE, OUTCOME_EPHEMERAL,
    OUTCOME_SHADOW_REJECTED, OUTCOME_STORED, PLUGIN_FAILURES, RELAY_VERB_EVENT, ShardMetrics, kind_class_index,
    refusal_outcome, relay_verb,
};
pub use writer::WriterMetrics;

/// A counter.
#[derive(Debug, Default)]
pub struct Count(AtomicU64);

impl Count {
    pub fn add(&self, amount: u64) {
        self.0.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets a counter that mirrors one kept elsewhere (by the same executor).
    pub fn mirror(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

/// A gauge: a value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub fn add(&self, amount: i64) {
        self.0.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Histogram bucket bounds for durations, in nanoseconds (10 µs to 10 s).
pub const DURATION_NANOS: &[u64] = &[
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    10_000_000_000,
];
/// Bucket bounds for counts of events (batch sizes).
pub const EVENT_COUNTS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
/// Bucket bounds for queue depths in bytes.
pub const QUEUE_BYTES: &[u64] = &[0, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];

/// A histogram over fixed integer bounds (`bounds` in the unit observed; `scale` turns that
/// unit into the base unit rendered, e.g. 1e-9 for nanoseconds into seconds).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    scale: f64,
    /// One per bound, then one for values above the last bound.
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [u64], scale: f64) -> Histogram {
        assert!(bounds.windows(2).all(|pair| pair[0] < pair[1]), "bounds ascend");
        Histogram {
            bounds,
            scale,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// A histogram of durations, rendered in seconds.
    pub fn seconds() -> Histogram {
        Histogram::new(DURATION_NANOS, 1e-9)
    }

    /// A histogram of plain counts or sizes over `bounds`.
    pub fn of(bounds: &'static [u64]) -> Histogram {
        Histogram::new(bounds, 1.0)
    }

    pub fn observe(&self, value: u64) {
        let bucket = self.bounds.partition_point(|&bound| bound < value);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    pub fn observe_duration(&self, duration: Duration) {
        self.observe(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    }

    /// (sum, count, per-bucket counts with their upper bounds); the count is the buckets' sum,
    /// so a scrape racing an observation still renders a consistent histogram.
    fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut buckets: Vec<(f64, u64)> = Vec::with_capacity(self.buckets.len());
        for (index, bucket) in self.buckets.iter().enumerate() {
            let bound = self.bounds.get(index).map_or(f64::INFINITY, |&bound| bound as f64 * self.scale);
            buckets.push((bound, bucket.load(Ordering::Relaxed)));
        }
        let count = buckets.iter().map(|(_, count)| count).sum();
        (self.sum.load(Ordering::Relaxed) as f64 * self.scale, count, buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_upper_bounds_and_count_matches() {
        let histogram = Histogram::of(&[1, 10, 100]);
        for value in [0, 1, 2, 10, 11, 100, 101, 5000] {
            histogram.observe(value);
        }
        let (sum, count, buckets) = histogram.snapshot();
        assert_eq!(count, 8);
        assert_eq!(sum, 5225.0);
        assert_eq!(buckets, vec![(1.0, 2), (10.0, 2), (100.0, 2), (f64::INFINITY, 2)]);
        let seconds = Histogram::seconds();
        seconds.observe_duration(Duration::from_micros(300));
        let (sum, _, buckets) = seconds.snapshot();
        assert!((sum - 0.0003).abs() < 1e-12);
        assert_eq!(buckets.iter().find(|(_, count)| *count == 1).map(|(bound, _)| *bound), Some(0.0005));
    }
}
