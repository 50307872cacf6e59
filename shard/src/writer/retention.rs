//! Retention, run by the writer between its commits: every `retention_interval_seconds` a pass
//! walks the stored events older than the rules' shortest age, oldest first, one slice of at
//! most `AGE_SLICE_EXAMINED` index entries at a time, and removes those past their rule
//! (`Store::sweep_retention`); and every second the store's size is checked against
//! `store_bytes_max`: past it, slices remove the oldest evictable events until the store is
//! under the low-water mark (`Store::evict_oldest`). Removal goes through the writer because
//! LMDB has one writer; slices are small and paced (see the constants) so that client
//! commits and the shards sharing the machine barely notice them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parrhesia_engine::retention::Retention;
use parrhesia_storage::Store;

use crate::metrics::WriterMetrics;

/// Index entries one slice examines at most (each read of an old event's header is a lookup):
/// an age pass's slices are short, as a client commit may wait behind one; an eviction's are
/// longer, to keep up with ingest.
const AGE_SLICE_EXAMINED: usize = 250;
const EVICT_SLICE_EXAMINED: usize = 1000;

/// While clients' events wait for the writer, an age pass takes a slice at most this often
/// (it has all of `retention_interval_seconds`; their commits come first).
const AGE_SLICE_WHEN_BUSY: Duration = Duration::from_secs(1);

/// Events one eviction slice removes at most (then the store's size is read again).
const EVICT_SLICE: usize = 500;

/// How often the store's size is compared with the budget when it is not being cut.
const BUDGET_CHECK: Duration = Duration::from_secs(1);

/// After a round that removed every evictable event and left the store over its budget (what
/// the rules keep whatever happens is larger than it), the next round waits this long.
const BUDGET_EXHAUSTED_PAUSE: Duration = Duration::from_secs(600);

/// After a slice that took T, the next waits a multiple of T (at least `SLICE_PAUSE_MIN`): an
/// age pass, which has all the interval to finish, takes at most a tenth of the writer's
/// core, so the shards sharing the machine keep their latency; an eviction, which must keep
/// up with ingest to hold the budget, at most half.
const AGE_PAUSE_FACTOR: u32 = 9;
const EVICT_PAUSE_FACTOR: u32 = 1;
const SLICE_PAUSE_MIN: Duration = Duration::from_millis(5);

/// The retention rules and the pass under way, if any.
pub(super) struct RetentionRun {
    rules: Retention,
    interval: Duration,
    metrics: Arc<WriterMetrics>,
    /// When the last pass started; `None`: none yet (the first starts at once).
    last_start: Option<Instant>,
    pass: Option<Pass>,
    /// `store_bytes_max` and its low-water mark, in bytes.
    budget: Option<(u64, u64)>,
    last_check: Instant,
    /// Over budget: where the next eviction slice starts, and what this round removed.
    evicting: Option<Pass>,
    /// No eviction round starts before this (after one that found nothing more to remove).
    budget_resumes: Option<Instant>,
    /// When the last slice ended, and no slice before `next_slice` (the pause after it).
    last_slice: Instant,
    next_slice: Instant,
}

/// A pass under way: where its next slice starts (`None`: at the oldest event) and its totals.
struct Pass {
    from: Option<[u8; 16]>,
    started: Instant,
    examined: u64,
    removed: u64,
}

/// `WriterMetrics::retention_removed` indices (`metrics::REMOVED_BY`).
const BY_AGE: usize = 0;
const BY_SIZE: usize = 1;

impl Pass {
    /// Adds a slice's figures (to the metrics too, removals under `rule`); whether the walk
    /// reached its end.
    fn record(&mut self, slice: parrhesia_storage::RetentionSlice, metrics: &WriterMetrics, rule: usize) -> bool {
        self.examined += slice.examined;
        self.removed += slice.removed;
        metrics.retention_examined.add(slice.examined);
        metrics.retention_removed[rule].add(slice.removed);
        self.from = slice.next;
        slice.next.is_none()
    }
}

impl RetentionRun {
    /// `budget`: `store_bytes_max` and the low-water mark, in bytes (`None`: no budget).
    pub(super) fn new(
        rules: Retention,
        interval: Duration,
        budget: Option<(u64, u64)>,
        metrics: Arc<WriterMetrics>,
    ) -> RetentionRun {
        let last_check = Instant::now();
        RetentionRun {
            rules,
            interval,
            metrics,
            last_start: None,
            pass: None,
            budget,
            last_check,
            evicting: None,
            budget_resumes: None,
            last_slice: last_check,
            next_slice: last_check,
        }
    }

    /// While a pass or an eviction is under way, how long until its next slice (the writer
    /// wakes for it); `None` when none is.
    pub(super) fn next_slice_in(&self) -> Option<Duration> {
        (self.pass.is_some() || self.evicting.is_some())
            .then(|| self.next_slice.saturating_duration_since(Instant::now()))
    }

    /// Runs one slice, unless the pause after the last has not passed: of an eviction if the
    /// store is over its budget, else of the age pass under way or due (starting it), which
    /// yields to waiting client events (`clients_waiting`) for up to `AGE_SLICE_WHEN_BUSY`.
    pub(super) fn step(&mut self, store: &Store, now: u64, clients_waiting: bool) {
        let started = Instant::now();
        if started < self.next_slice {
            return;
        }
        let age_may_run = !clients_waiting || started.duration_since(self.last_slice) >= AGE_SLICE_WHEN_BUSY;
        let factor = if self.evict(store) {
            EVICT_PAUSE_FACTOR
        } else if age_may_run && self.age_slice(store, now) {
            AGE_PAUSE_FACTOR
        } else {
            return;
        };
        self.last_slice = Instant::now();
        self.next_slice = self.last_slice + (started.elapsed() * factor).max(SLICE_PAUSE_MIN);
    }

    /// One slice of the age pass under way or due (starting it); returns whether it ran one.
    fn age_slice(&mut self, store: &Store, now: u64) -> bool {
        if self.rules.is_off() {
            return false;
        }
        if self.pass.is_none() {
            if self.last_start.is_some_and(|started| started.elapsed() < self.interval) {
                return false;
            }
            self.last_start = Some(Instant::now());
            self.pass = Some(Pass { from: None, started: Instant::now(), examined: 0, removed: 0 });
            self.metrics.retention_running.set(1);
        }
        let pass = self.pass.as_mut().expect("a pass under way");
        match store.sweep_retention(&self.rules, now, pass.from, AGE_SLICE_EXAMINED) {
            Ok(slice) => {
                if pass.record(slice, &self.metrics, BY_AGE) {
                    self.finish(None);
                }
            }
            Err(error) => self.finish(Some(error)),
        }
        true
    }

    /// Keeps the store under its budget: reads its size every `BUDGET_CHECK` (every slice while
    /// cutting), starts cutting past `store_bytes_max`, stops under the low-water mark.
    /// Returns whether it ran a slice.
    fn evict(&mut self, store: &Store) -> bool {
        let Some((max, low)) = self.budget else { return false };
        if self.evicting.is_none()
            && (self.last_check.elapsed() < BUDGET_CHECK || self.budget_resumes.is_some_and(|at| Instant::now() < at))
        {
            return false;
        }
        self.last_check = Instant::now();
        let used = match store.used_bytes() {
            Ok(used) => used,
            Err(error) => {
                tracing::warn!(%error, "reading the store's size failed; the budget is checked again in a second");
                self.end_eviction();
                return false;
            }
        };
        match &self.evicting {
            None if used > max => {
                tracing::warn!(used, store_bytes_max = max, "the store is over its budget: removing the oldest events");
                self.evicting = Some(Pass { from: None, started: Instant::now(), examined: 0, removed: 0 });
                self.metrics.retention_evicting.set(1);
            }
            Some(round) if used <= low => {
                let (removed, seconds) = (round.removed, round.started.elapsed().as_secs_f64());
                tracing::info!(used, low_water = low, removed, seconds, "the store is back under its budget");
                self.end_eviction();
                return false;
            }
            None => return false,
            Some(_) => {}
        }
        let round = self.evicting.as_mut().expect("cutting");
        match store.evict_oldest(&self.rules, round.from, EVICT_SLICE_EXAMINED, EVICT_SLICE) {
            Ok(slice) => {
                if round.record(slice, &self.metrics, BY_SIZE) {
                    tracing::warn!(
                        used,
                        store_bytes_max = max,
                        removed = round.removed,
                        "every event the rules let the budget remove is gone and the store is still over it; \
                         the next try is in 10 minutes"
                    );
                    self.end_eviction();
                    self.budget_resumes = Some(Instant::now() + BUDGET_EXHAUSTED_PAUSE);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "removing the oldest events failed; the budget is checked again in a second");
                self.end_eviction();
            }
        }
        true
    }

    fn end_eviction(&mut self) {
        self.evicting = None;
        self.metrics.retention_evicting.set(0);
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
