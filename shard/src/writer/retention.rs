//! Retention passes, run by the writer between its commits: every `retention_interval_seconds`
//! a pass walks the stored events older than the rules' shortest age, oldest first, one slice
//! of at most `SLICE_EXAMINED` index entries at a time, and removes those past their rule
//! (`Store::sweep_retention`). Removal goes through the writer because LMDB has one writer;
//! slices are small so that client commits wait at most one slice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parrhesia_engine::retention::Retention;
use parrhesia_storage::Store;

use crate::metrics::WriterMetrics;

/// Index entries one slice examines at most (each read of an old event's header is a lookup).
const SLICE_EXAMINED: usize = 1000;

/// How long the writer waits between two slices when it has nothing else to do.
pub(super) const SLICE_PAUSE: Duration = Duration::from_millis(5);

/// The retention rules and the pass under way, if any.
pub(super) struct RetentionRun {
    rules: Retention,
    interval: Duration,
    metrics: Arc<WriterMetrics>,
    /// When the last pass started; `None`: none yet (the first starts at once).
    last_start: Option<Instant>,
    pass: Option<Pass>,
}

/// A pass under way: where its next slice starts (`None`: at the oldest event) and its totals.
struct Pass {
    from: Option<[u8; 16]>,
    started: Instant,
    examined: u64,
    removed: u64,
}

impl RetentionRun {
    pub(super) fn new(rules: Retention, interval: Duration, metrics: Arc<WriterMetrics>) -> RetentionRun {
        RetentionRun { rules, interval, metrics, last_start: None, pass: None }
    }

    /// Whether a pass is under way (its slices should follow each other closely).
    pub(super) fn busy(&self) -> bool {
        self.pass.is_some()
    }

    /// Runs one slice if a pass is under way or one is due (starting it), else nothing.
    pub(super) fn step(&mut self, store: &Store, now: u64) {
        if self.rules.is_off() {
            return;
        }
        if self.pass.is_none() {
            if self.last_start.is_some_and(|started| started.elapsed() < self.interval) {
                return;
            }
            self.last_start = Some(Instant::now());
            self.pass = Some(Pass { from: None, started: Instant::now(), examined: 0, removed: 0 });
            self.metrics.retention_running.set(1);
        }
        let pass = self.pass.as_mut().expect("a pass under way");
        match store.sweep_retention(&self.rules, now, pass.from, SLICE_EXAMINED) {
            Ok(slice) => {
                pass.examined += slice.examined;
                pass.removed += slice.removed;
                self.metrics.retention_examined.add(slice.examined);
                self.metrics.retention_removed.add(slice.removed);
                pass.from = slice.next;
                if slice.next.is_none() {
                    self.finish(None);
                }
            }
            Err(error) => self.finish(Some(error)),
        }
    }

    fn finish(&mut self, error: Option<parrhesia_storage::StorageError>) {
        let Some(pass) = self.pass.take() else { return };
        self.metrics.retention_running.set(0);
        let seconds = pass.started.elapsed().as_secs_f64();
        let (examined, removed) = (pass.examined, pass.removed);
        match error {
            Some(error) => tracing::warn!(
                %error, examined, removed, seconds,
                "retention pass failed; the next one starts after retention_interval_seconds"
            ),
            None => {
                self.metrics.retention_passes.add(1);
                if removed > 0 {
                    tracing::info!(examined, removed, seconds, "retention pass removed events past their age");
                }
            }
        }
    }
}
