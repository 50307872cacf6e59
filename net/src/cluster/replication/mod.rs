//! Phase B, the durable data plane, as a state machine without I/O: link changes, frames and
//! ticks go in (with read access to the node's store), actions come out (frames to send,
//! batches to apply through the node's writer, ephemeral events to deliver, links to close).
//!
//! The model: every node's events form logs, one per (origin node, origin epoch); a node
//! mints a new epoch each time it starts, so a log never has two events at one position even
//! if its store was restored from a backup. A node serves its own current log to everyone
//! (one hop: it never forwards what it pulled), and pulls every other log it knows of with
//! long-poll requests, one in flight per log. A log whose origin is gone, or an old epoch of a
//! live origin, is pulled from whichever linked peer holds more of it (peers advertise how far
//! they hold each log). Cursors move only when the writer has stored a batch, in the same
//! transaction, so a crash keeps both or neither; inserts are idempotent by event id.
//!
//! A node that holds most of a log's events without their positions (its store was imported
//! from an export, or restored without its cursors) would pull the whole log again to learn
//! nothing. When a pulled batch was mostly held already and the source holds much more, the
//! log is pulled `ids_only`: positions with their events' ids (40 bytes each), the held ones
//! recorded at their positions, only the others fetched. The cursor still moves only over
//! positions this node then holds exactly as the source does, so it serves the log whole.
//!
//! Here: the public surface (settings, what the store is asked, the actions, counters), the
//! shared state and the entry points, which own the control flow. The work they hand on lives
//! in child modules by role: `serve` (answering peers' pulls and fetches), `pull` (learning
//! logs, choosing sources, pulling, taking batches and resets), `fetch` (completing an
//! `ids_only` answer) and `live` (interest summaries, the linger, ephemeral events).

use std::collections::{BTreeMap, HashSet, VecDeque};

use parrhesia_engine::summary::{EventProbe, InterestKey, Summary};

use super::NodeId;
use super::frame::{LogHead, Message, PositionId, Pull, WireEvent};
use super::interest::{DeltaOutcome, InterestPublisher, PeerInterest, Publish};

mod fetch;
mod live;
mod pull;
mod serve;
#[cfg(test)]
mod tests;

/// A log: (origin node, origin epoch).
pub type LogId = (NodeId, u64);

/// Bounds and timings of replication; every value is a named setting of the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationConfig {
    /// Events and bytes a pull asks for, and at most serves (peer requests are capped to these).
    pub pull_events_max: u32,
    pub pull_bytes_max: u32,
    /// How long a pull of an origin's current log waits for new events before an empty answer.
    pub pull_wait_ms: u32,
    /// How long past its wait an unanswered pull is given up (and sent again).
    pub pull_timeout_ms: u64,
    /// How long an origin may be unreachable before its log is pulled from other peers.
    pub origin_timeout_ms: u64,
    /// How often, at most, a node tells its peers how far it holds each log.
    pub heads_interval_ms: u64,
    /// Ephemeral event ids remembered to drop duplicates.
    pub ephemeral_ids_max: usize,
    /// The origins whose logs this node pulls (the allowed peers, itself and the anonymous
    /// origin of a store that had no node key); a log of any other origin that a peer names is
    /// ignored, so no peer can make this node keep state for logs it invents. Empty: any.
    pub origins: Vec<NodeId>,
    /// How long new events of this node's own log may wait for more before a pull is answered,
    /// when none of them matches the puller's interest summary (0: answer at once).
    pub linger_ms: u64,
    /// Log classes whose pulls never linger (the policy log: a ban should not wait for company,
    /// and no subscriber's summary names its kind).
    pub eager_classes: Vec<u8>,
    /// Interest summaries: a delta to every peer this often (an empty one confirms), a full
    /// summary this often, and a peer summary not confirmed for this long is not trusted.
    pub summary_delta_ms: u64,
    pub summary_full_ms: u64,
    pub summary_stale_ms: u64,
    /// Own events remembered with their probes for the linger decision.
    pub recent_events_max: usize,
    /// Added to `now_ms` to give Unix milliseconds (commit times travel in batches).
    pub unix_offset_ms: u64,
    /// Positions an `ids_only` pull asks for, and at most serves.
    pub ids_pull_max: u32,
    /// A log is pulled `ids_only` once a pulled batch was at least 90% held here and its
    /// source holds at least this many positions beyond it (0: never).
    pub ids_pull_behind: u64,
}

impl Default for ReplicationConfig {
    fn default() -> ReplicationConfig {
        ReplicationConfig {
            pull_events_max: 1024,
            pull_bytes_max: 1 << 20,
            eager_classes: Vec::new(),
            pull_wait_ms: 5_000,
            pull_timeout_ms: 5_000,
            origin_timeout_ms: 30_000,
            heads_interval_ms: 1_000,
            ephemeral_ids_max: 4096,
            origins: Vec::new(),
            linger_ms: 50,
            summary_delta_ms: 200,
            summary_full_ms: 60_000,
            summary_stale_ms: 2_000,
            recent_events_max: 8192,
            unix_offset_ms: 0,
            ids_pull_max: 16_384,
            ids_pull_behind: 4_096,
        }
    }
}

/// What the state machine reads from the node's store.
pub trait LogStore {
    /// This node's current log and how far it goes.
    fn own_log(&self) -> LogHead;
    /// Every log this node holds and how far (its own current log included).
    fn heads(&self) -> Vec<LogHead>;
    /// Events of a log from `from_seq` on, bounded, with the next position the store holds
    /// nothing before (read together, so no event is skipped). `None` if the store failed.
    fn read(&self, origin: &NodeId, epoch: u64, from_seq: u64, events_max: usize, bytes_max: usize) -> Option<ReadLog>;
    /// As `read`, the positions with their events' ids only.
    fn read_ids(&self, origin: &NodeId, epoch: u64, from_seq: u64, ids_max: usize) -> Option<ReadIds>;
    /// The events this node holds at `positions` (increasing) of a log, bounded as `read` (at
    /// least the first held one); the answer's `next_seq` is the first position asked for
    /// that was not looked at (past the last one asked for when every one was). `None` if the
    /// store failed.
    fn read_at(
        &self,
        origin: &NodeId,
        epoch: u64,
        positions: &[u64],
        events_max: usize,
        bytes_max: usize,
    ) -> Option<ReadLog>;
    /// Which of `ids` this node stores. `None` if the store failed.
    fn holds(&self, ids: &[[u8; 32]]) -> Option<Vec<bool>>;
}

/// A bounded read of one log's positions and ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadIds {
    pub ids: Vec<PositionId>,
    pub next_seq: u64,
}

/// A bounded read of one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadLog {
    pub events: Vec<WireEvent>,
    pub next_seq: u64,
}

/// A batch for the node's writer: store `events` of log (`origin`, `epoch`) and move the
/// log's cursor from `from_seq` to `next_seq`, in one transaction; then call
/// `Replicator::applied`. Batches of a log must be applied in the order they are given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyBatch {
    pub origin: NodeId,
    pub epoch: u64,
    /// The store must hold the log up to here already, or refuse the batch (no gaps).
    pub from_seq: u64,
    pub next_seq: u64,
    pub events: Vec<WireEvent>,
    /// Events this node already stores, to record at these positions of the log too (if
    /// one is gone by then, its position stays a hole, as a removed event's does).
    pub positions: Vec<PositionId>,
    /// When the origin committed the newest event (Unix ms, origin's clock; 0 unknown).
    pub origin_commit_unix_ms: u64,
}

/// What the writer did with an `ApplyBatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedBatch {
    pub origin: NodeId,
    pub epoch: u64,
    pub from_seq: u64,
    pub next_seq: u64,
    pub stored: bool,
}

/// What the caller must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Send {
        peer: NodeId,
        message: Message,
    },
    Apply(ApplyBatch),
    /// An ephemeral event from a peer, seen for the first time: deliver to local subscribers.
    Deliver(WireEvent),
    /// The peer broke the protocol; close its link (it may reconnect).
    Close {
        peer: NodeId,
        reason: String,
    },
}

/// Counters (they become metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicationStats {
    pub pulls_sent: u64,
    pub pulls_served: u64,
    pub pulls_parked: u64,
    pub pull_timeouts: u64,
    pub fallback_pulls: u64,
    pub batches_applied: u64,
    pub batches_retried: u64,
    pub events_received: u64,
    pub events_served: u64,
    pub resets_sent: u64,
    pub resets_received: u64,
    pub ephemeral_sent: u64,
    pub ephemeral_delivered: u64,
    pub ephemeral_duplicates: u64,
    pub protocol_errors: u64,
    /// Logs a peer named past `LOGS_PER_ORIGIN_MAX` for their origin (ignored).
    pub logs_refused: u64,
    pub summaries_sent: u64,
    pub summary_deltas_sent: u64,
    /// `ids_only` pulls sent, positions received by them that this node held already (their
    /// events did not cross the link), fetches sent and events they brought.
    pub ids_pulls_sent: u64,
    pub positions_held: u64,
    pub fetches_sent: u64,
    pub events_fetched: u64,
}

/// Per peer, what the interest summaries decided (kept across reconnects: counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Own events sent to the peer without lingering: they matched its summary, or its summary
    /// was not current (then also counted in `fallbacks`).
    pub pushed: u64,
    /// Own events its current summary did not match: they wait for the lingering pull.
    pub avoided: u64,
    /// Own and ephemeral events sent because the peer's summary was missing or not current.
    pub fallbacks: u64,
    pub ephemeral_sent: u64,
    pub ephemeral_avoided: u64,
    /// Full summaries asked of the peer (a gap in its deltas).
    pub summary_requests: u64,
}

/// How far this node is behind one origin (see `Replicator::backlog`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OriginBacklog {
    pub held_positions: u64,
    pub behind_positions: u64,
    /// Resets received for the origin's logs (a peer no longer serves a log as this node asked).
    pub resets_received: u64,
}

struct Peer {
    /// The peer's current epoch (its own log is `(peer, epoch)`).
    epoch: u64,
    /// How far the peer holds each log, as it last said.
    heads: BTreeMap<LogId, u64>,
    /// What the peer's subscriptions can match, as it said.
    interest: PeerInterest,
}

/// An event of this node's own log, recently committed.
struct Recent {
    position: u64,
    committed_ms: u64,
    probe: EventProbe,
}

/// Runs (epochs) of one origin this node keeps state for; an origin gets a new epoch each
/// time it starts, so this is restarts, not load. Past it, a peer naming yet another epoch
/// of that origin is ignored (counted): no peer can make this node keep unbounded state. A
/// run has a log per class of kinds; an origin's logs are bounded too, at four per run.
pub const LOGS_PER_ORIGIN_MAX: usize = 4096;

/// Batches of one log that may wait for the writer at once: the next pull goes out while the
/// previous batch is being stored, so the network and the disk overlap.
const APPLYING_MAX: u8 = 2;

#[derive(Default)]
struct PullState {
    /// This node holds every event of the log before this position (durably).
    next_seq: u64,
    /// Where the next pull starts: past every batch received, stored or not yet.
    requested_seq: u64,
    in_flight: Option<InFlight>,
    /// Batches with the writer, in order.
    applying: u8,
    /// The next pull is `ids_only`.
    ids_only: bool,
    /// A `Positions` answer being completed (`in_flight` is its fetch).
    fetching: Option<Fetching>,
}

impl PullState {
    fn at(next_seq: u64) -> PullState {
        PullState { next_seq, requested_seq: next_seq, ..PullState::default() }
    }

    /// Whether an answer of this kind from `peer` for `from_seq` is the one in flight (else it
    /// is a late answer to a request already given up).
    fn awaits(&self, peer: NodeId, from_seq: u64, asked: Asked) -> bool {
        let in_flight = self
            .in_flight
            .is_some_and(|flight| flight.peer == peer && flight.from_seq == from_seq && flight.asked == asked);
        in_flight && self.requested_seq == from_seq
    }

    /// Nothing more is expected of the pull in flight: it is sent again.
    fn give_up(&mut self) {
        self.in_flight = None;
        self.fetching = None;
    }
}

/// The rest of a `Positions` answer, from `requested_seq` to `next_seq`: positions of events
/// this node holds, and positions whose events it fetches (from `peer`, which answered).
struct Fetching {
    peer: NodeId,
    next_seq: u64,
    held: Vec<PositionId>,
    missing: Vec<u64>,
}

#[derive(Clone, Copy)]
struct InFlight {
    peer: NodeId,
    from_seq: u64,
    deadline_ms: u64,
    /// What was asked: only its answer is taken.
    asked: Asked,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Asked {
    Batch,
    Positions,
    Fetched,
}

struct Parked {
    peer: NodeId,
    pull: Pull,
    deadline_ms: u64,
    /// Events are waiting for the pull but lingering: answer by then.
    ready_ms: Option<u64>,
}

/// The replication state of one node. Deterministic: the same inputs give the same actions.
pub struct Replicator {
    me: NodeId,
    config: ReplicationConfig,
    started_ms: u64,
    peers: BTreeMap<NodeId, Peer>,
    logs: BTreeMap<LogId, PullState>,
    parked: Vec<Parked>,
    down_since_ms: BTreeMap<NodeId, u64>,
    heads_sent_ms: Option<u64>,
    heads_sent: Vec<LogHead>,
    ephemeral_seen: HashSet<[u8; 32]>,
    ephemeral_order: VecDeque<[u8; 32]>,
    /// Resets received per origin (only origins with a log here: bounded like `logs`).
    resets_by_origin: BTreeMap<NodeId, u64>,
    interest: InterestPublisher,
    delta_sent_ms: u64,
    full_sent_ms: u64,
    /// Own events of the last moments, in position order, complete from `recent_from` on.
    recent: VecDeque<Recent>,
    recent_from: u64,
    live: BTreeMap<NodeId, LiveStats>,
    pub stats: ReplicationStats,
}

impl Replicator {
    /// Starts from the store's cursors (every log it holds, and how far).
    /// Replaces the origins whose logs this node pulls (a reloaded `allowed_peers`): heads of
    /// other origins are ignored from now on; logs held stay held.
    pub fn set_origins(&mut self, origins: Vec<NodeId>) {
        self.config.origins = origins;
    }

    pub fn new(me: NodeId, config: ReplicationConfig, now_ms: u64, store: &impl LogStore) -> Replicator {
        let own = store.own_log();
        let logs = store
            .heads()
            .into_iter()
            .filter(|head| !is_current(&own, head.origin, head.epoch))
            .map(|head| ((head.origin, head.epoch), PullState::at(head.next_seq)))
            .collect();
        Replicator {
            me,
            config,
            started_ms: now_ms,
            peers: BTreeMap::new(),
            logs,
            parked: Vec::new(),
            down_since_ms: BTreeMap::new(),
            heads_sent_ms: None,
            heads_sent: Vec::new(),
            ephemeral_seen: HashSet::new(),
            ephemeral_order: VecDeque::new(),
            resets_by_origin: BTreeMap::new(),
            interest: InterestPublisher::default(),
            delta_sent_ms: now_ms,
            full_sent_ms: now_ms,
            recent: VecDeque::new(),
            recent_from: own.next_seq,
            live: BTreeMap::new(),
            stats: ReplicationStats::default(),
        }
    }

    /// Per peer: what the interest summaries decided.
    pub fn live_stats(&self) -> &BTreeMap<NodeId, LiveStats> {
        &self.live
    }

    /// Per linked peer: how long ago its summary was last confirmed (`None`: none held).
    pub fn summary_ages(&self, now_ms: u64) -> Vec<(NodeId, Option<u64>)> {
        self.peers.iter().map(|(id, peer)| (*id, peer.interest.age_ms(now_ms))).collect()
    }

    /// Pulls parked with events waiting (lingering): the puller, the log's epoch and where
    /// the pull starts.
    pub fn lingering(&self) -> impl Iterator<Item = (NodeId, u64, u64)> + '_ {
        let lingering = self.parked.iter().filter(|parked| parked.ready_ms.is_some());
        lingering.map(|parked| (parked.peer, parked.pull.epoch, parked.pull.from_seq))
    }

    /// A linked peer's summary as this node holds it, if it is current.
    pub fn peer_summary(&self, peer: &NodeId, now_ms: u64) -> Option<&Summary> {
        self.peers.get(peer)?.interest.current(now_ms, self.config.summary_stale_ms)
    }

    /// Distinct keys in this node's summary, per bloom (ids, authors, tags).
    pub fn summary_keys(&self) -> [usize; 3] {
        self.interest.distinct_keys()
    }

    /// This node's summary as its shards' subscriptions make it.
    pub fn own_summary(&self) -> &Summary {
        self.interest.summary()
    }

    /// The next moment `tick` has something to do (a lingering pull, a summary delta).
    pub fn next_deadline_ms(&self) -> u64 {
        let lingering = self.parked.iter().filter_map(|parked| parked.ready_ms).min();
        let delta = self.delta_sent_ms + self.config.summary_delta_ms;
        lingering.map_or(delta, |ready| ready.min(delta))
    }

    /// The shards' subscriptions now hold (`true`) or no longer hold keys: update this node's
    /// summary; interest added goes to every peer at once.
    pub fn interest_changed(&mut self, now_ms: u64, changes: &[(InterestKey, bool)]) -> Vec<Action> {
        let mut actions = Vec::new();
        match self.interest.apply(changes) {
            Publish::Later => {}
            Publish::DeltaNow => self.send_delta(now_ms, &mut actions),
            Publish::FullNow => self.send_full(now_ms, &mut actions),
        }
        actions
    }

    /// The peers with a link up.
    pub fn linked(&self) -> impl Iterator<Item = &NodeId> {
        self.peers.keys()
    }

    /// How far this node durably holds each log it pulls (for metrics and tests).
    pub fn cursors(&self) -> impl Iterator<Item = (LogId, u64)> + '_ {
        self.logs.iter().map(|(log, state)| (*log, state.next_seq))
    }

    /// A link to `peer` passed its handshake; `epoch` and `heads` are from its hello.
    pub fn link_up(
        &mut self,
        now_ms: u64,
        peer: NodeId,
        epoch: u64,
        heads: &[LogHead],
        store: &impl LogStore,
    ) -> Vec<Action> {
        assert_ne!(peer, self.me, "the handshake refuses a node's own key");
        self.down_since_ms.remove(&peer);
        self.peers.insert(peer, Peer { epoch, heads: BTreeMap::new(), interest: PeerInterest::default() });
        self.live.entry(peer).or_default();
        self.learn(peer, &[LogHead { origin: peer, epoch, next_seq: 1 }], store);
        self.learn(peer, heads, store);
        self.stats.summaries_sent += 1;
        let mut actions = vec![
            Action::Send { peer, message: Message::Heads(store.heads()) },
            Action::Send { peer, message: Message::SummaryFull(self.interest.full()) },
        ];
        self.plan(now_ms, store, &mut actions);
        actions
    }

    /// Per origin (its epochs together): the positions this node holds, and the positions a
    /// linked peer says it holds beyond them (the backlog still to pull; removed events leave
    /// holes, so it is an upper bound on events). Origins this node pulls from, not itself.
    pub fn backlog(&self) -> BTreeMap<NodeId, OriginBacklog> {
        let mut origins: BTreeMap<NodeId, OriginBacklog> = BTreeMap::new();
        for ((origin, epoch), state) in &self.logs {
            let best = self.peers.values().filter_map(|peer| peer.heads.get(&(*origin, *epoch))).max().copied();
            let entry = origins.entry(*origin).or_default();
            // Positions are a peer's numbers: the sums saturate.
            entry.held_positions = entry.held_positions.saturating_add(state.next_seq.saturating_sub(1));
            let behind = best.map_or(0, |head| head.saturating_sub(state.next_seq));
            entry.behind_positions = entry.behind_positions.saturating_add(behind);
        }
        for (origin, resets) in &self.resets_by_origin {
            origins.entry(*origin).or_default().resets_received = *resets;
        }
        origins
    }

    /// The link to `peer` is gone. Its pulls in flight will be sent again (to it or others).
    pub fn link_down(&mut self, now_ms: u64, peer: NodeId, store: &impl LogStore) -> Vec<Action> {
        if self.peers.remove(&peer).is_none() {
            return Vec::new();
        }
        self.down_since_ms.insert(peer, now_ms);
        self.parked.retain(|parked| parked.peer != peer);
        for state in self.logs.values_mut() {
            let fetching_from = state.fetching.as_ref().is_some_and(|fetching| fetching.peer == peer);
            if fetching_from || state.in_flight.is_some_and(|flight| flight.peer == peer) {
                state.give_up();
            }
        }
        let mut actions = Vec::new();
        self.plan(now_ms, store, &mut actions);
        actions
    }

    /// A frame from an authenticated peer.
    pub fn on_message(&mut self, now_ms: u64, peer: NodeId, message: Message, store: &impl LogStore) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.peers.contains_key(&peer) {
            return actions;
        }
        match message {
            Message::Pull(pull) => self.serve(now_ms, peer, pull, store, &mut actions),
            Message::Batch(batch) => self.on_batch(peer, batch, store, &mut actions),
            Message::Positions(positions) => self.on_positions(now_ms, peer, positions, store, &mut actions),
            Message::Fetch(fetch) => self.serve_fetch(peer, &fetch, store, &mut actions),
            Message::Fetched(fetched) => self.on_fetched(now_ms, peer, fetched, &mut actions),
            Message::Reset(reset) => self.on_reset(peer, reset, store),
            Message::Heads(heads) => self.learn(peer, &heads, store),
            Message::Ephemeral(event) => self.on_ephemeral(event, &mut actions),
            Message::SummaryFull(full) => {
                let peer_state = self.peers.get_mut(&peer).expect("checked above");
                if let Err(reason) = peer_state.interest.on_full(now_ms, &full) {
                    self.stats.protocol_errors += 1;
                    actions.push(Action::Close { peer, reason });
                }
                // Pulls lingering for this peer may now match: look again.
                self.answer_parked(now_ms, store, false, &mut actions);
            }
            Message::SummaryDelta(delta) => {
                let peer_state = self.peers.get_mut(&peer).expect("checked above");
                match peer_state.interest.on_delta(now_ms, &delta, self.config.summary_stale_ms) {
                    Ok(DeltaOutcome::Applied) => self.answer_parked(now_ms, store, false, &mut actions),
                    Ok(DeltaOutcome::Waiting) => {}
                    Ok(DeltaOutcome::RequestFull) => {
                        self.live.entry(peer).or_default().summary_requests += 1;
                        actions.push(Action::Send { peer, message: Message::SummaryRequest });
                    }
                    Err(reason) => {
                        self.stats.protocol_errors += 1;
                        actions.push(Action::Close { peer, reason });
                    }
                }
            }
            Message::SummaryRequest => {
                self.stats.summaries_sent += 1;
                actions.push(Action::Send { peer, message: Message::SummaryFull(self.interest.full()) });
            }
            other => {
                self.stats.protocol_errors += 1;
                let reason = format!("unexpected {} frame on an established link", other.kind());
                actions.push(Action::Close { peer, reason });
            }
        }
        self.plan(now_ms, store, &mut actions);
        actions
    }

    /// The writer stored the batch `Apply` asked for, from `from_seq` to `next_seq`, or did not
    /// (`stored == false`: it failed, or it would have left a gap after an earlier failure);
    /// then the log is pulled again from where this node durably holds it.
    pub fn applied(&mut self, now_ms: u64, batch: AppliedBatch, store: &impl LogStore) -> Vec<Action> {
        if let Some(state) = self.logs.get_mut(&(batch.origin, batch.epoch)) {
            state.applying = state.applying.saturating_sub(1);
            if batch.stored && batch.from_seq <= state.next_seq {
                state.next_seq = state.next_seq.max(batch.next_seq);
                self.stats.batches_applied += 1;
            } else if state.requested_seq > state.next_seq {
                // Everything received past the durable cursor is void: pull it again.
                state.requested_seq = state.next_seq;
                state.give_up();
                self.stats.batches_retried += 1;
            }
        }
        let mut actions = Vec::new();
        self.answer_parked(now_ms, store, false, &mut actions);
        self.plan(now_ms, store, &mut actions);
        actions
    }

    /// This node stored events of its own (their positions in its own log, in order, and
    /// their probes): answer pulls waiting for them, at once for a peer whose summary matches
    /// one (or is not current), after the linger for the others.
    pub fn local_commit(
        &mut self,
        now_ms: u64,
        store: &impl LogStore,
        committed: Vec<(u64, EventProbe)>,
    ) -> Vec<Action> {
        // Told twice (positions must keep increasing): counted and remembered once.
        let last = self.recent.back().map(|last| last.position);
        let committed: Vec<(u64, EventProbe)> =
            committed.into_iter().filter(|(position, _)| last.is_none_or(|last| *position > last)).collect();
        for (&peer, state) in &self.peers {
            let live = self.live.entry(peer).or_default();
            let summary = state.interest.current(now_ms, self.config.summary_stale_ms);
            for (_, probe) in &committed {
                match summary {
                    None => {
                        live.pushed += 1;
                        live.fallbacks += 1;
                    }
                    Some(summary) if summary.matches(probe) => live.pushed += 1,
                    Some(_) => live.avoided += 1,
                }
            }
        }
        for (position, probe) in committed {
            if self.recent.back().is_some_and(|last| last.position >= position) {
                continue; // out of order within one notice: keep positions increasing
            }
            self.recent.push_back(Recent { position, committed_ms: now_ms, probe });
        }
        self.trim_recent(now_ms);
        let mut actions = Vec::new();
        self.answer_parked(now_ms, store, false, &mut actions);
        actions
    }

    /// Time passes: answer pulls whose wait is over, give up pulls that got no answer, tell
    /// peers how far this node holds each log, and pull what can be pulled.
    pub fn tick(&mut self, now_ms: u64, store: &impl LogStore) -> Vec<Action> {
        let mut actions = Vec::new();
        self.trim_recent(now_ms);
        self.answer_parked(now_ms, store, true, &mut actions);
        if now_ms >= self.full_sent_ms + self.config.summary_full_ms {
            self.interest.shrink();
            self.send_full(now_ms, &mut actions);
        }
        if now_ms >= self.delta_sent_ms + self.config.summary_delta_ms {
            self.send_delta(now_ms, &mut actions);
        }
        for (&peer, state) in &mut self.peers {
            if state.interest.request_overdue(now_ms, self.config.summary_stale_ms) {
                self.live.entry(peer).or_default().summary_requests += 1;
                actions.push(Action::Send { peer, message: Message::SummaryRequest });
            }
        }
        for state in self.logs.values_mut() {
            if state.in_flight.is_some_and(|flight| now_ms >= flight.deadline_ms) {
                state.give_up();
                self.stats.pull_timeouts += 1;
            }
        }
        let due = self.heads_sent_ms.is_none_or(|sent| now_ms >= sent + self.config.heads_interval_ms);
        if due {
            self.send_heads(now_ms, store, &mut actions);
        }
        self.plan(now_ms, store, &mut actions);
        actions
    }

    /// This node began a log of its own (its first event of a class of kinds this run): tell
    /// the peers now, so they pull it without waiting for the next periodic heads.
    pub fn own_log_started(&mut self, now_ms: u64, store: &impl LogStore) -> Vec<Action> {
        let mut actions = Vec::new();
        self.send_heads(now_ms, store, &mut actions);
        actions
    }
}

/// The low byte of an epoch is the class of kinds its log holds (0: every kind without a class
/// of its own); epochs are drawn with it 0, and a node numbers its own events of class `c` in
/// the log `(node, epoch | c)` of its run. (`parrhesia_storage::schema::LOG_CLASS_MASK`.)
pub const LOG_CLASS_MASK: u64 = 0xFF;

/// The class of kinds the log of `epoch` holds.
pub fn log_class(epoch: u64) -> u8 {
    (epoch & LOG_CLASS_MASK) as u8
}

/// Whether `epoch` is a log of the run whose epoch is `run` (its default log or a class log).
fn same_run(run: u64, epoch: u64) -> bool {
    epoch == run || (run & LOG_CLASS_MASK == 0 && epoch & !LOG_CLASS_MASK == run)
}

/// Whether (`origin`, `epoch`) is one of the current run's logs of `own`'s node.
fn is_current(own: &LogHead, origin: NodeId, epoch: u64) -> bool {
    origin == own.origin && same_run(own.epoch, epoch)
}
