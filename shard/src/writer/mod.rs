//! The node's single writer: a dedicated executor that gathers store requests from every shard,
//! group-commits them (LMDB allows one writer), answers each shard with its outcomes and
//! publishes the committed events, in sequence order, to every shard.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::channels::local_channel;
use glommio::channels::shared_channel::{SharedReceiver, SharedSender};
use parrhesia_engine::{Prefix, Reason};
use parrhesia_net::cluster::replication::AppliedBatch;
use parrhesia_storage::{Outcome, StorageError, Store};

use crate::messages::{Commit, ManageRequest, ReplicatedBatch, StoreRequest, ToWriter, WriterNotice, WriterRequest};
use crate::metrics::WriterMetrics;
use crate::startup::{StartupSteps, Step};
use crate::system::{unix_now, unix_now_ms};

mod management;
mod retention;
mod space;

use management::{Management, Outlets, holds_entry};
use retention::RetentionRun;
use space::{FULL_RETRY_PAUSE, STORE_FULL, SpaceWatch};

/// What the writer needs; built by the runtime.
pub struct WriterSetup {
    pub store: Store,
    pub requests: Vec<SharedReceiver<WriterRequest>>,
    pub commits: Vec<SharedSender<Commit>>,
    pub batch_events_max: usize,
    /// `Some` with `nosync` durability: flush this often.
    pub flush_interval: Option<Duration>,
    pub sweep_interval: Duration,
    pub startup: Arc<StartupSteps>,
    /// With a cluster: batches pulled from peers, and where to say what became of them.
    pub cluster: Option<(SharedReceiver<ToWriter>, SharedSender<WriterNotice>)>,
    pub metrics: Arc<WriterMetrics>,
    /// NIP-98: how long an authorization is valid either side of its created_at (its id is
    /// refused again for that long).
    pub management_auth_window_seconds: u64,
    /// The operator's policy as stored at start.
    pub policy: parrhesia_engine::policy::Policy,
    /// Signs this node's policy entries; this node's cluster key (zeros without a cluster).
    pub policy_keys: parrhesia_engine::Keys,
    pub node: [u8; 32],
    /// The retention rules, and how often a pass starts.
    pub retention: parrhesia_engine::retention::Retention,
    pub retention_interval: Duration,
    /// `store_bytes_max` and its low-water mark, in bytes.
    pub store_budget: Option<(u64, u64)>,
}

/// What the writer did, reported at exit.
#[derive(Debug, Default)]
pub struct WriterReport {
    pub commits: u64,
    pub events_stored: u64,
    pub replicated_stored: u64,
}

/// `WriterMetrics` indices of the two sources of commits.
const SOURCE_CLIENTS: usize = 0;
const SOURCE_REPLICATION: usize = 1;

/// Runs until every shard has closed its request channel and all requests are answered.
pub async fn run(setup: WriterSetup) -> WriterReport {
    let queue: Rc<RefCell<VecDeque<(usize, StoreRequest)>>> = Rc::default();
    let calls: Rc<RefCell<VecDeque<(usize, ManageRequest)>>> = Rc::default();
    let open_channels = Rc::new(Cell::new(setup.requests.len()));
    let (wake_sender, wake_receiver) = local_channel::new_bounded::<()>(1);
    let wake_sender = Rc::new(wake_sender);
    let mut forwarders = Vec::new();
    let open_shards = setup.requests.len();
    for (shard, receiver) in setup.requests.into_iter().enumerate() {
        let (queue, open_channels, wake) = (queue.clone(), open_channels.clone(), wake_sender.clone());
        let (startup, calls) = (setup.startup.clone(), calls.clone());
        forwarders.push(glommio::spawn_local(async move {
            let receiver = crate::executor::with_pulse(receiver.connect()).await;
            startup.mark(Step::WriterRequests(shard));
            while let Some(request) = receiver.recv().await {
                match request {
                    WriterRequest::Store(request) => queue.borrow_mut().push_back((shard, request)),
                    WriterRequest::Manage(call) => calls.borrow_mut().push_back((shard, call)),
                }
                let _ = wake.try_send(());
            }
            open_channels.set(open_channels.get() - 1);
            let _ = wake.try_send(());
        }));
    }
    let replicated: Rc<RefCell<VecDeque<ToWriter>>> = Rc::default();
    let notices = Rc::new(RefCell::new(None));
    if let Some((receiver, sender)) = setup.cluster {
        let (replicated, wake, notices) = (replicated.clone(), wake_sender.clone(), notices.clone());
        // The cluster executor may start after the writer: connect without holding the loop.
        forwarders.push(glommio::spawn_local(async move {
            notices.replace(Some(crate::executor::with_pulse(sender.connect()).await));
            let receiver = crate::executor::with_pulse(receiver.connect()).await;
            while let Some(batch) = receiver.recv().await {
                replicated.borrow_mut().push_back(batch);
                let _ = wake.try_send(());
            }
        }));
    }
    let mut commits = Vec::with_capacity(setup.commits.len());
    for (shard, sender) in setup.commits.into_iter().enumerate() {
        commits.push(crate::executor::with_pulse(sender.connect()).await);
        setup.startup.mark(Step::WriterCommits(shard));
    }
    let mut report = WriterReport::default();
    let mut management = Management::new(
        &setup.store,
        setup.policy,
        setup.management_auth_window_seconds,
        setup.policy_keys,
        setup.node,
    );
    let mut last_flush = Instant::now();
    let mut last_sweep = Instant::now();
    let space = SpaceWatch::new(setup.metrics.clone());
    let mut retention =
        RetentionRun::new(setup.retention.clone(), setup.retention_interval, setup.store_budget, setup.metrics.clone());
    loop {
        let batch: Vec<(usize, StoreRequest)> = {
            let mut queue = queue.borrow_mut();
            let take = queue.len().min(setup.batch_events_max);
            let batch = queue.drain(..take).collect();
            setup.metrics.queue_events.set(queue.len() as i64);
            batch
        };
        // While the store is full, pulled batches wait (they would fail again) and clients'
        // refusals, management calls and eviction go on.
        let pulled = if space.replication_paused() { None } else { replicated.borrow_mut().pop_front() };
        let managed: Vec<(usize, ManageRequest)> = calls.borrow_mut().drain(..).collect();
        if !managed.is_empty() {
            let outlets = Outlets { shards: &commits, notices: &notices, metrics: &setup.metrics, space: &space };
            management.serve(&setup.store, managed, &outlets).await;
        }
        if batch.is_empty() && pulled.is_none() {
            if open_channels.get() == 0 {
                break;
            }
            // A retention pass under way wakes the writer for its next slice; else sleep longer.
            let pause = retention.next_slice_in().unwrap_or(Duration::from_millis(200));
            let tick = glommio::timer::sleep(pause);
            futures_lite::future::or(async { wake_receiver.recv().await.unwrap_or(()) }, tick).await;
        }
        let clients_wrote = !batch.is_empty();
        if !batch.is_empty() {
            report.commits += 1;
            let stored = commit(&setup.store, batch, &commits, &setup.metrics, &management.policy, &space).await;
            report.events_stored += stored.len() as u64;
            if !stored.is_empty() {
                notify_cluster(&notices, WriterNotice::Committed(stored)).await;
            }
        }
        match pulled {
            Some(ToWriter::Replicated(pulled)) => {
                let stored = commit_replicated(&setup.store, pulled, &commits, &notices, &setup.metrics, &space).await;
                report.replicated_stored += stored.len() as u64;
                if holds_entry(&stored) {
                    management.refresh(&setup.store, &commits).await;
                }
            }
            Some(ToWriter::Repair(events)) => {
                // As a client's events: stored in this node's own log, fanned out, and the
                // cluster told (its peers then pull them like any other).
                let batch = events.into_iter().map(|event| (usize::MAX, StoreRequest { ticket: 0, event })).collect();
                let stored = commit(&setup.store, batch, &commits, &setup.metrics, &management.policy, &space).await;
                report.events_stored += stored.len() as u64;
                let refresh = holds_entry(&stored);
                if !stored.is_empty() {
                    notify_cluster(&notices, WriterNotice::Committed(stored)).await;
                }
                if refresh {
                    management.refresh(&setup.store, &commits).await;
                }
            }
            None => {}
        }
        if setup.flush_interval.is_some_and(|interval| last_flush.elapsed() >= interval) {
            flush(&setup.store);
            last_flush = Instant::now();
        }
        if last_sweep.elapsed() >= setup.sweep_interval {
            if sweep(&setup.store) {
                management.refresh(&setup.store, &commits).await;
            }
            last_sweep = Instant::now();
        }
        // Clients writing now (a batch this turn, or more waiting): an age pass yields to them.
        retention.step(&setup.store, unix_now(), clients_wrote || !queue.borrow().is_empty());
        space.tick();
        glommio::yield_if_needed().await;
    }
    drop(notices.take());
    flush(&setup.store);
    // The cluster's forwarder ends when the cluster executor stops; do not wait for it.
    for forwarder in forwarders.into_iter().take(open_shards) {
        forwarder.await;
    }
    report
}

type Notices = Rc<RefCell<Option<glommio::channels::shared_channel::ConnectedSender<WriterNotice>>>>;

/// Tells the cluster executor (if any, and if still there).
async fn notify_cluster(notices: &Notices, notice: WriterNotice) {
    let sender = notices.borrow_mut().take();
    if let Some(sender) = sender {
        // The cluster drains its notices at once; a send fails only once it has stopped.
        if sender.send(notice).await.is_ok() {
            notices.replace(Some(sender));
        }
    }
}

/// Stores one pulled batch with its cursor, fans its new events out on every shard, and
/// tells the cluster. Returns the events stored (none if the commit failed). The events are fanned out once the
/// batch is applied and before its commit (its flush): their origin made them durable
/// already, and the commit is the slowest step between a peer's commit and delivery here. A
/// commit that then fails takes them back (the shards keep REQs and later deliveries exact)
/// and the batch is pulled again.
async fn commit_replicated(
    store: &Store,
    batch: ReplicatedBatch,
    shards: &[glommio::channels::shared_channel::ConnectedSender<Commit>],
    notices: &Notices,
    metrics: &WriterMetrics,
    space: &SpaceWatch,
) -> Arc<[(u64, parrhesia_engine::Event)]> {
    let ReplicatedBatch { origin, epoch, from_seq, next_seq, events, positions, origin_commit_unix_ms } = batch;
    let applied = |stored| AppliedBatch { origin, epoch, from_seq, next_seq, stored };
    let started = Instant::now();
    let count = events.len();
    // This executor exists to block on LMDB: the transaction (and its fsync) runs here, on purpose.
    let staged = match store.stage_replicated(&origin, epoch, from_seq..next_seq, &events, &positions, unix_now()) {
        Ok(Some(staged)) => staged,
        Ok(None) => {
            // An earlier batch of this log failed: this one would leave a gap.
            notify_cluster(notices, WriterNotice::Applied(applied(false))).await;
            return Arc::new([]);
        }
        Err(error) => {
            if space.refused(&error, SOURCE_REPLICATION, count) {
                // Pulled again at once it would fail again: the next waits a while.
                space.pause_replication(FULL_RETRY_PAUSE);
            } else {
                tracing::warn!(%error, events = count, "storing a replicated batch failed; it will be pulled again");
            }
            notify_cluster(notices, WriterNotice::Applied(applied(false))).await;
            return Arc::new([]);
        }
    };
    let stored = stored_events(staged.outcomes(), events.into_iter().map(|(_, event)| event));
    if !stored.is_empty() {
        for sender in shards {
            let commit = Commit { durable: false, ..Commit::stored(Vec::new(), stored.clone()) };
            let _ = sender.send(commit).await;
        }
        if origin_commit_unix_ms > 0 {
            // Clocks differ between nodes: a receiver behind the origin would see a negative
            // lag; it counts as zero.
            let lag_ms = unix_now_ms().saturating_sub(origin_commit_unix_ms);
            metrics.delivery_lag.observe_duration(Duration::from_millis(lag_ms));
        }
    }
    let committed = if failpoint_abort_replicated() {
        drop(staged);
        Err(StorageError::Corrupt("failpoint: replicated commit".into()))
    } else {
        staged.commit()
    };
    metrics.committed(SOURCE_REPLICATION, started.elapsed(), count);
    if committed.is_ok() {
        space.wrote();
    }
    if let Err(error) = committed {
        if space.refused(&error, SOURCE_REPLICATION, count) {
            space.pause_replication(FULL_RETRY_PAUSE);
        } else {
            tracing::warn!(%error, events = count, "committing a replicated batch failed; it will be pulled again");
        }
        if !stored.is_empty() {
            let taken_back: Vec<parrhesia_engine::Id> = stored.iter().map(|(_, event)| *event.id()).collect();
            for sender in shards {
                let commit = Commit { taken_back: taken_back.clone(), ..Commit::stored(Vec::new(), Arc::new([])) };
                let _ = sender.send(commit).await;
            }
        }
        notify_cluster(notices, WriterNotice::Applied(applied(false))).await;
        return Arc::new([]);
    }
    metrics.events_stored[SOURCE_REPLICATION].add(stored.len() as u64);
    if !stored.is_empty() {
        let bytes: usize = stored.iter().map(|(_, event)| event.json().len()).sum();
        let mut applied = metrics.applied_by_origin.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = applied.entry(origin).or_default();
        entry.0 += stored.len() as u64;
        entry.1 += bytes as u64;
    }
    notify_cluster(notices, WriterNotice::Applied(applied(true))).await;
    stored
}

/// Debug builds only: `FAILPOINT_PARRHESIA_REPLICATED_COMMIT=N` fails every Nth commit of a
/// replicated batch (after its events were fanned out), for the tests of that path.
fn failpoint_abort_replicated() -> bool {
    if !cfg!(debug_assertions) {
        return false;
    }
    static EVERY: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let every = *EVERY.get_or_init(|| {
        std::env::var("FAILPOINT_PARRHESIA_REPLICATED_COMMIT").ok().and_then(|text| text.parse().ok()).unwrap_or(0)
    });
    every > 0 && (COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1).is_multiple_of(every)
}

/// Applies one batch and answers every shard. Returns the events stored, with their
/// sequence numbers. The policy is checked again here: a shard may not have taken a change
/// yet when an event it checked arrives, but the writer has (it records every change).
async fn commit(
    store: &Store,
    batch: Vec<(usize, StoreRequest)>,
    shards: &[glommio::channels::shared_channel::ConnectedSender<Commit>],
    metrics: &WriterMetrics,
    policy: &parrhesia_engine::policy::Policy,
    space: &SpaceWatch,
) -> Arc<[(u64, parrhesia_engine::Event)]> {
    let (routes, events): (Vec<(usize, u64)>, Vec<_>) =
        batch.into_iter().map(|(shard, request)| ((shard, request.ticket), request.event)).unzip();
    // Events are moved, never cloned: the admitted ones to the store, the refused ones dropped.
    // A policy entry answers to the admin who signed it (storage checks), not to the policy.
    let verdicts: Vec<Result<(), Reason>> = events
        .iter()
        .map(|event| match event.kind() {
            parrhesia_engine::policy_log::POLICY_ENTRY_KIND => Ok(()),
            _ => policy.check_event(event),
        })
        .collect();
    let admitted: Vec<parrhesia_engine::Event> =
        events.into_iter().zip(&verdicts).filter(|(_, verdict)| verdict.is_ok()).map(|(event, _)| event).collect();
    let started = Instant::now();
    // This executor exists to block on LMDB: the commit (and its fsync) runs here, on purpose.
    let result = store.apply(&admitted, unix_now());
    metrics.committed(SOURCE_CLIENTS, started.elapsed(), admitted.len());
    let applied = match result {
        Ok(outcomes) => {
            space.wrote();
            outcomes
        }
        Err(error) if space.refused(&error, SOURCE_CLIENTS, admitted.len()) => {
            vec![Outcome::Rejected(Reason::new(Prefix::Error, STORE_FULL)); admitted.len()]
        }
        Err(error) => {
            tracing::warn!(%error, events = admitted.len(), "group commit failed; nothing of the batch was stored");
            vec![Outcome::Rejected(Reason::new(Prefix::Error, "the relay could not store this event")); admitted.len()]
        }
    };
    let stored = stored_events(&applied, admitted);
    let mut applied = applied.into_iter();
    let outcomes: Vec<Outcome> = verdicts
        .into_iter()
        .map(|verdict| match verdict {
            Ok(()) => applied.next().expect("one outcome per admitted event"),
            Err(reason) => Outcome::Rejected(reason),
        })
        .collect();
    metrics.events_stored[SOURCE_CLIENTS].add(stored.len() as u64);
    let mut per_shard: Vec<Vec<(u64, Outcome)>> = vec![Vec::new(); shards.len()];
    for ((shard, ticket), outcome) in routes.into_iter().zip(outcomes) {
        // Repaired events (shard usize::MAX) have no client waiting for an OK.
        if let Some(outcomes) = per_shard.get_mut(shard) {
            outcomes.push((ticket, outcome));
        }
    }
    for (sender, outcomes) in shards.iter().zip(per_shard) {
        // A shard that has gone away (shutdown) no longer needs its answers.
        let _ = sender.send(Commit::stored(outcomes, stored.clone())).await;
    }
    stored
}

/// The events a commit stored, with their sequence numbers, in order: what every shard fans
/// out.
fn stored_events(
    outcomes: &[Outcome],
    events: impl IntoIterator<Item = parrhesia_engine::Event>,
) -> Arc<[(u64, parrhesia_engine::Event)]> {
    outcomes
        .iter()
        .zip(events)
        .filter_map(|(outcome, event)| match outcome {
            Outcome::Stored { seq } => Some((*seq, event)),
            _ => None,
        })
        .collect()
}

fn flush(store: &Store) {
    if let Err(error) = store.flush() {
        tracing::warn!(%error, "flushing the store failed");
    }
}

/// Removes expired events; returns whether policy entries expired (the policy changed).
fn sweep(store: &Store) -> bool {
    match store.sweep_expired(unix_now(), 10_000) {
        Ok(swept) => {
            if swept.removed > 0 {
                tracing::debug!(removed = swept.removed, "swept expired events");
            }
            swept.policy_changed
        }
        Err(error) => {
            tracing::warn!(%error, "expiration sweep failed");
            false
        }
    }
}
