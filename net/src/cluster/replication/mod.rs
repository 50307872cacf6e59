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

use std::collections::{BTreeMap, HashSet, VecDeque};

use parrhesia_engine::summary::{EventProbe, InterestKey, Summary};

use super::NodeId;
use super::frame::{Batch, Fetch, Fetched, LogHead, Message, PositionId, Positions, Pull, Reset, WireEvent};
use super::interest::{DeltaOutcome, InterestPublisher, PeerInterest, Publish};

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

    fn send_delta(&mut self, now_ms: u64, actions: &mut Vec<Action>) {
        self.delta_sent_ms = now_ms;
        self.stats.summary_deltas_sent += self.peers.len() as u64;
        let delta = Message::SummaryDelta(self.interest.delta());
        self.broadcast(delta, actions);
    }

    fn send_full(&mut self, now_ms: u64, actions: &mut Vec<Action>) {
        self.full_sent_ms = now_ms;
        self.stats.summaries_sent += self.peers.len() as u64;
        self.broadcast(Message::SummaryFull(self.interest.full()), actions);
    }

    /// `message` to every linked peer.
    fn broadcast(&self, message: Message, actions: &mut Vec<Action>) {
        actions.extend(self.peers.keys().map(|&peer| Action::Send { peer, message: message.clone() }));
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
            entry.held_positions += state.next_seq.saturating_sub(1);
            entry.behind_positions += best.map_or(0, |head| head.saturating_sub(state.next_seq));
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
                continue; // told twice: keep positions increasing
            }
            self.recent.push_back(Recent { position, committed_ms: now_ms, probe });
        }
        self.trim_recent(now_ms);
        let mut actions = Vec::new();
        self.answer_parked(now_ms, store, false, &mut actions);
        actions
    }

    /// Forgets own events too old to matter for the linger (or past the bound).
    fn trim_recent(&mut self, now_ms: u64) {
        let keep_ms = self.config.linger_ms + 1000;
        while let Some(oldest) = self.recent.front() {
            if self.recent.len() <= self.config.recent_events_max && oldest.committed_ms + keep_ms >= now_ms {
                break;
            }
            self.recent_from = oldest.position + 1;
            self.recent.pop_front();
        }
    }

    /// When a pull of this node's own log from `from_seq` by `peer` may be answered: `None`
    /// now, `Some(ms)` once the events waiting have lingered enough. Now whenever an event
    /// waiting matches the peer's summary, the summary is not current, what waits is not all
    /// known here, or a whole batch waits.
    fn linger_until(&self, now_ms: u64, peer: &NodeId, from_seq: u64) -> Option<u64> {
        if self.config.linger_ms == 0 || from_seq < self.recent_from {
            return None;
        }
        let summary = self.peers.get(peer)?.interest.current(now_ms, self.config.summary_stale_ms)?;
        let start = self.recent.partition_point(|recent| recent.position < from_seq);
        let first = self.recent.get(start)?;
        let waiting = self.recent.len() - start;
        if waiting >= self.config.pull_events_max as usize
            || self.recent.range(start..).any(|recent| summary.matches(&recent.probe))
        {
            return None;
        }
        let ready_ms = first.committed_ms + self.config.linger_ms;
        (now_ms < ready_ms).then_some(ready_ms)
    }

    /// An ephemeral event accepted here: to every linked peer whose summary may match it (or
    /// is not current), once.
    pub fn local_ephemeral(&mut self, now_ms: u64, event: WireEvent, probe: &EventProbe) -> Vec<Action> {
        self.remember_ephemeral(event.id);
        let mut actions = Vec::new();
        for (&peer, state) in &self.peers {
            let live = self.live.entry(peer).or_default();
            let summary = state.interest.current(now_ms, self.config.summary_stale_ms);
            match summary {
                Some(summary) if !summary.matches(probe) => {
                    live.ephemeral_avoided += 1;
                    continue;
                }
                Some(_) => {}
                None => live.fallbacks += 1,
            }
            live.ephemeral_sent += 1;
            self.stats.ephemeral_sent += 1;
            actions.push(Action::Send { peer, message: Message::Ephemeral(event.clone()) });
        }
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

    /// Tells every linked peer how far this node holds each log, if that changed.
    fn send_heads(&mut self, now_ms: u64, store: &impl LogStore, actions: &mut Vec<Action>) {
        if self.peers.is_empty() {
            return;
        }
        let heads = store.heads();
        if heads != self.heads_sent {
            for &peer in self.peers.keys() {
                actions.push(Action::Send { peer, message: Message::Heads(heads.clone()) });
            }
            self.heads_sent = heads;
        }
        self.heads_sent_ms = Some(now_ms);
    }

    /// Records how far `peer` holds each log, and starts pulling logs this node did not know.
    fn learn(&mut self, peer: NodeId, heads: &[LogHead], store: &impl LogStore) {
        let own = store.own_log();
        for head in heads {
            let log = (head.origin, head.epoch);
            let known_origin = self.config.origins.is_empty() || self.config.origins.contains(&head.origin);
            if is_current(&own, head.origin, head.epoch) || !known_origin {
                continue;
            }
            if !self.logs.contains_key(&log) {
                // Runs of the origin, not logs: a run has a log per class of kinds.
                let mut runs: Vec<u64> = self
                    .logs
                    .range((head.origin, 0)..=(head.origin, u64::MAX))
                    .map(|((_, epoch), _)| epoch & !LOG_CLASS_MASK)
                    .collect();
                runs.dedup();
                let new_run = !runs.contains(&(head.epoch & !LOG_CLASS_MASK));
                let logs = self.logs.range((head.origin, 0)..=(head.origin, u64::MAX)).count();
                if (new_run && runs.len() >= LOGS_PER_ORIGIN_MAX) || logs >= 4 * LOGS_PER_ORIGIN_MAX {
                    self.stats.logs_refused += 1;
                    continue;
                }
                self.logs.insert(log, PullState::at(1));
            }
            if let Some(known) = self.peers.get_mut(&peer) {
                let held = known.heads.entry(log).or_insert(0);
                *held = (*held).max(head.next_seq);
            }
        }
    }

    /// Where to pull `log` from now, and how long the pull may wait: its origin while the origin
    /// serves it; otherwise, once the origin has moved on or been gone long enough, whichever
    /// linked peer holds the most of it beyond `next_seq`.
    fn source(&self, now_ms: u64, log: LogId, next_seq: u64) -> Option<(NodeId, u32)> {
        let (origin, epoch) = log;
        let origin_link = self.peers.get(&origin);
        if origin_link.is_some_and(|peer| same_run(peer.epoch, epoch)) {
            return Some((origin, self.config.pull_wait_ms));
        }
        let origin_moved_on = origin == self.me || origin_link.is_some();
        let down_since = self.down_since_ms.get(&origin).copied().unwrap_or(self.started_ms);
        if !origin_moved_on && now_ms < down_since + self.config.origin_timeout_ms {
            return None;
        }
        self.peers
            .iter()
            .filter_map(|(id, peer)| peer.heads.get(&log).filter(|&&held| held > next_seq).map(|&held| (held, *id)))
            .max()
            .map(|(_, id)| (id, 0))
    }

    /// Sends a pull for every log that has none in flight and a source.
    fn plan(&mut self, now_ms: u64, store: &impl LogStore, actions: &mut Vec<Action>) {
        let own = store.own_log();
        let logs: Vec<(LogId, u64, bool)> = self
            .logs
            .iter()
            .filter(|(log, state)| {
                state.in_flight.is_none() && state.applying < APPLYING_MAX && !is_current(&own, log.0, log.1)
            })
            .map(|(log, state)| (*log, state.requested_seq, state.ids_only))
            .collect();
        for (log, next_seq, ids_only) in logs {
            if self.logs[&log].fetching.is_some() {
                // A `Positions` answer waits for the writer before its next fetch.
                self.send_fetch(now_ms, log, actions);
                continue;
            }
            let Some((peer, wait_ms)) = self.source(now_ms, log, next_seq) else { continue };
            // An ids-only pull is a catch-up: it never waits at the head.
            let wait_ms = if ids_only { 0 } else { wait_ms };
            let pull = Pull {
                origin: log.0,
                epoch: log.1,
                from_seq: next_seq,
                events_max: if ids_only { self.config.ids_pull_max } else { self.config.pull_events_max },
                bytes_max: self.config.pull_bytes_max,
                wait_ms,
                ids_only,
            };
            self.stats.ids_pulls_sent += u64::from(ids_only);
            let deadline_ms = now_ms + u64::from(wait_ms) + self.config.pull_timeout_ms;
            let state = self.logs.get_mut(&log).expect("listed above");
            let asked = if ids_only { Asked::Positions } else { Asked::Batch };
            state.in_flight = Some(InFlight { peer, from_seq: next_seq, deadline_ms, asked });
            self.stats.pulls_sent += 1;
            if peer != log.0 {
                self.stats.fallback_pulls += 1;
            }
            actions.push(Action::Send { peer, message: Message::Pull(pull) });
        }
    }

    /// Answers a peer's pull now, or parks it until the log grows or its wait is over.
    fn serve(&mut self, now_ms: u64, peer: NodeId, pull: Pull, store: &impl LogStore, actions: &mut Vec<Action>) {
        self.parked
            .retain(|parked| (parked.peer, parked.pull.origin, parked.pull.epoch) != (peer, pull.origin, pull.epoch));
        let held = store.heads().into_iter().find(|head| (head.origin, head.epoch) == (pull.origin, pull.epoch));
        let own = store.own_log();
        let lingering = |replicator: &Replicator| {
            let own_log = is_current(&own, pull.origin, pull.epoch);
            own_log.then(|| replicator.linger_until(now_ms, &peer, pull.from_seq)).flatten()
        };
        match held {
            Some(head) if pull.from_seq < head.next_seq => match lingering(self) {
                None => self.answer(peer, &pull, store, actions),
                Some(ready_ms) => {
                    let wait_ms = u64::from(pull.wait_ms.min(self.config.pull_wait_ms));
                    self.parked.push(Parked { peer, pull, deadline_ms: now_ms + wait_ms, ready_ms: Some(ready_ms) });
                    self.stats.pulls_parked += 1;
                }
            },
            Some(head) if pull.from_seq == head.next_seq => {
                if pull.wait_ms == 0 {
                    actions.push(empty_batch(peer, &pull));
                } else {
                    let wait_ms = u64::from(pull.wait_ms.min(self.config.pull_wait_ms));
                    self.parked.push(Parked { peer, pull, deadline_ms: now_ms + wait_ms, ready_ms: None });
                    self.stats.pulls_parked += 1;
                }
            }
            _ => {
                self.stats.resets_sent += 1;
                let reset = Reset { origin: pull.origin, epoch: pull.epoch, head: store.own_log() };
                actions.push(Action::Send { peer, message: Message::Reset(reset) });
            }
        }
    }

    /// Reads and sends a batch, bounded by this node's limits whatever the peer asked.
    fn answer(&mut self, peer: NodeId, pull: &Pull, store: &impl LogStore, actions: &mut Vec<Action>) {
        if pull.ids_only {
            return self.answer_ids(peer, pull, store, actions);
        }
        let events_max = pull.events_max.clamp(1, self.config.pull_events_max) as usize;
        let bytes_max = pull.bytes_max.clamp(1, self.config.pull_bytes_max) as usize;
        // A failed read is not answered: the puller's timeout sends the pull again.
        let Some(read) = store.read(&pull.origin, pull.epoch, pull.from_seq, events_max, bytes_max) else { return };
        self.stats.pulls_served += 1;
        self.stats.events_served += read.events.len() as u64;
        // The commit time of the newest event, when it is recent enough to be known here.
        let newest = read.events.last().map(|event| event.origin_seq);
        let origin_commit_unix_ms = newest
            .filter(|_| pull.origin == self.me)
            .and_then(|position| {
                let at = self.recent.partition_point(|recent| recent.position < position);
                self.recent.get(at).filter(|recent| recent.position == position)
            })
            .map_or(0, |recent| recent.committed_ms + self.config.unix_offset_ms);
        let batch = Batch {
            origin: pull.origin,
            epoch: pull.epoch,
            from_seq: pull.from_seq,
            next_seq: read.next_seq,
            events: read.events,
            origin_commit_unix_ms,
        };
        actions.push(Action::Send { peer, message: Message::Batch(batch) });
    }

    /// Reads and sends the positions and ids of an `ids_only` pull, bounded by this node's
    /// limits whatever the peer asked.
    fn answer_ids(&mut self, peer: NodeId, pull: &Pull, store: &impl LogStore, actions: &mut Vec<Action>) {
        let by_bytes = pull.bytes_max.clamp(1, self.config.pull_bytes_max) as usize / POSITION_ID_BYTES;
        let ids_max = (pull.events_max.clamp(1, self.config.ids_pull_max) as usize).min(by_bytes.max(1));
        // A failed read is not answered: the puller's timeout sends the pull again.
        let Some(read) = store.read_ids(&pull.origin, pull.epoch, pull.from_seq, ids_max) else { return };
        self.stats.pulls_served += 1;
        let positions = Positions {
            origin: pull.origin,
            epoch: pull.epoch,
            from_seq: pull.from_seq,
            next_seq: read.next_seq,
            ids: read.ids,
        };
        actions.push(Action::Send { peer, message: Message::Positions(positions) });
    }

    /// Answers a fetch of events at positions a `Positions` answer named.
    fn serve_fetch(&mut self, peer: NodeId, fetch: &Fetch, store: &impl LogStore, actions: &mut Vec<Action>) {
        let in_range = |position: &u64| (fetch.from_seq..fetch.next_seq).contains(position);
        let valid = !fetch.positions.is_empty()
            && fetch.positions.len() <= self.config.ids_pull_max as usize
            && fetch.positions.iter().all(in_range)
            && fetch.positions.is_sorted_by(|a, b| a < b);
        if !valid {
            self.stats.protocol_errors += 1;
            let reason = format!("a fetch of {} positions out of order, range or bounds", fetch.positions.len());
            actions.push(Action::Close { peer, reason });
            return;
        }
        let events_max = fetch.events_max.clamp(1, self.config.pull_events_max) as usize;
        let bytes_max = fetch.bytes_max.clamp(1, self.config.pull_bytes_max) as usize;
        // A failed read is not answered: the puller's timeout sends the pull again.
        let Some(read) = store.read_at(&fetch.origin, fetch.epoch, &fetch.positions, events_max, bytes_max) else {
            return;
        };
        self.stats.events_served += read.events.len() as u64;
        let last = *fetch.positions.last().expect("not empty");
        let through = if read.next_seq > last { fetch.next_seq } else { read.next_seq };
        let fetched = Fetched {
            origin: fetch.origin,
            epoch: fetch.epoch,
            from_seq: fetch.from_seq,
            through,
            events: read.events,
        };
        actions.push(Action::Send { peer, message: Message::Fetched(fetched) });
    }

    /// Answers parked pulls whose log has grown, and (with `expire`) those whose wait is over.
    fn answer_parked(&mut self, now_ms: u64, store: &impl LogStore, expire: bool, actions: &mut Vec<Action>) {
        if self.parked.is_empty() {
            return;
        }
        let heads = store.heads();
        let own = store.own_log();
        let held = |pull: &Pull| {
            heads
                .iter()
                .find(|head| (head.origin, head.epoch) == (pull.origin, pull.epoch))
                .map_or(0, |head| head.next_seq)
        };
        let parked = std::mem::take(&mut self.parked);
        for mut entry in parked {
            if held(&entry.pull) > entry.pull.from_seq {
                let own_log = is_current(&own, entry.pull.origin, entry.pull.epoch);
                entry.ready_ms = own_log.then(|| self.linger_until(now_ms, &entry.peer, entry.pull.from_seq)).flatten();
                match entry.ready_ms {
                    None => self.answer(entry.peer, &entry.pull, store, actions),
                    Some(_) => self.parked.push(entry),
                }
            } else if expire && now_ms >= entry.deadline_ms {
                actions.push(empty_batch(entry.peer, &entry.pull));
            } else {
                self.parked.push(entry);
            }
        }
    }

    fn on_batch(&mut self, peer: NodeId, batch: Batch, store: &impl LogStore, actions: &mut Vec<Action>) {
        let log = (batch.origin, batch.epoch);
        if let Err(reason) = check_batch(&batch, self.config.pull_events_max) {
            self.stats.protocol_errors += 1;
            actions.push(Action::Close { peer, reason });
            return;
        }
        let Some(state) = self.logs.get_mut(&log) else { return };
        if !state.awaits(peer, batch.from_seq, Asked::Batch) {
            return; // a late answer to a pull already given up
        }
        state.in_flight = None;
        if let Some(known) = self.peers.get_mut(&peer) {
            let held = known.heads.entry(log).or_insert(0);
            *held = (*held).max(batch.next_seq);
        }
        let source_head = self.peers.get(&peer).and_then(|known| known.heads.get(&log)).copied().unwrap_or(0);
        let far_behind = self.config.ids_pull_behind > 0
            && source_head.saturating_sub(batch.next_seq) >= self.config.ids_pull_behind
            && !batch.events.is_empty();
        if far_behind {
            let ids: Vec<[u8; 32]> = batch.events.iter().map(|event| event.id).collect();
            let held = store.holds(&ids).map_or(0, |held| held.into_iter().filter(|&held| held).count());
            state.ids_only = held * 10 >= ids.len() * 9;
        }
        if batch.next_seq > state.requested_seq {
            state.applying += 1;
            state.requested_seq = batch.next_seq;
            self.stats.events_received += batch.events.len() as u64;
            actions.push(Action::Apply(ApplyBatch {
                origin: batch.origin,
                epoch: batch.epoch,
                from_seq: batch.from_seq,
                next_seq: batch.next_seq,
                events: batch.events,
                positions: Vec::new(),
                origin_commit_unix_ms: batch.origin_commit_unix_ms,
            }));
        }
    }

    /// Positions of a log (an `ids_only` pull): those of events held here are recorded as
    /// they are, the others fetched first. Pulls go on `ids_only` while most are held and
    /// the source holds more than this answer reached.
    fn on_positions(
        &mut self,
        now_ms: u64,
        peer: NodeId,
        positions: Positions,
        store: &impl LogStore,
        actions: &mut Vec<Action>,
    ) {
        let log = (positions.origin, positions.epoch);
        let ids_max = self.config.ids_pull_max as usize;
        if let Err(reason) =
            check_range(positions.from_seq, positions.next_seq, &positions.ids, ids_max, |entry| entry.position)
        {
            self.stats.protocol_errors += 1;
            actions.push(Action::Close { peer, reason });
            return;
        }
        let Some(state) = self.logs.get_mut(&log) else { return };
        if !state.awaits(peer, positions.from_seq, Asked::Positions) || state.fetching.is_some() {
            return; // a late answer to a pull already given up
        }
        state.in_flight = None;
        let source_head = match self.peers.get_mut(&peer) {
            Some(known) => {
                let held = known.heads.entry(log).or_insert(0);
                *held = (*held).max(positions.next_seq);
                *held
            }
            None => 0,
        };
        if positions.next_seq == positions.from_seq {
            state.ids_only = false;
            return;
        }
        let ids: Vec<[u8; 32]> = positions.ids.iter().map(|entry| entry.id).collect();
        let Some(held) = store.holds(&ids) else {
            state.ids_only = false; // pulled again, whole
            return;
        };
        let (mut kept, mut missing) = (Vec::new(), Vec::new());
        for (entry, held) in positions.ids.into_iter().zip(held) {
            if held {
                kept.push(entry);
            } else {
                missing.push(entry.position);
            }
        }
        state.ids_only = kept.len() >= missing.len() && positions.next_seq < source_head;
        // Everything before the first missing event is complete already.
        let complete = missing.first().copied().unwrap_or(positions.next_seq);
        state.fetching = Some(Fetching { peer, next_seq: positions.next_seq, held: kept, missing });
        self.advance_fetching(now_ms, log, Vec::new(), complete, actions);
    }

    /// Events fetched for a `Positions` answer.
    fn on_fetched(&mut self, now_ms: u64, peer: NodeId, fetched: Fetched, actions: &mut Vec<Action>) {
        let log = (fetched.origin, fetched.epoch);
        let events_max = self.config.pull_events_max as usize;
        if let Err(reason) =
            check_range(fetched.from_seq, fetched.through, &fetched.events, events_max, |event| event.origin_seq)
        {
            self.stats.protocol_errors += 1;
            actions.push(Action::Close { peer, reason });
            return;
        }
        let Some(state) = self.logs.get_mut(&log) else { return };
        let expected = state.awaits(peer, fetched.from_seq, Asked::Fetched);
        let Some(fetching) = state.fetching.as_ref().filter(|_| expected) else {
            return; // a late answer to a fetch already given up
        };
        let asked = fetched.events.iter().all(|event| fetching.missing.binary_search(&event.origin_seq).is_ok());
        let progress = fetching.missing.first().is_some_and(|&first| fetched.through > first);
        if !asked || !progress || fetched.through > fetching.next_seq {
            self.stats.protocol_errors += 1;
            let reason = format!("a fetch answer through {} not matching its fetch", fetched.through);
            actions.push(Action::Close { peer, reason });
            return;
        }
        self.stats.events_fetched += fetched.events.len() as u64;
        state.in_flight = None;
        self.advance_fetching(now_ms, log, fetched.events, fetched.through, actions);
    }

    /// Hands the writer the part of a `Positions` answer complete before `through` (with
    /// `events` fetched for it): everything, once nothing is missing past it; then fetches
    /// what is still missing, unless the writer has enough of this log already (`plan` sends
    /// that fetch once it has stored some).
    fn advance_fetching(
        &mut self,
        now_ms: u64,
        log: LogId,
        events: Vec<WireEvent>,
        through: u64,
        actions: &mut Vec<Action>,
    ) {
        let state = self.logs.get_mut(&log).expect("the caller found it");
        let fetching = state.fetching.as_mut().expect("the caller set it");
        fetching.missing.retain(|&position| position >= through);
        let end = if fetching.missing.is_empty() { fetching.next_seq } else { through };
        let split = fetching.held.partition_point(|entry| entry.position < end);
        let positions: Vec<PositionId> = fetching.held.drain(..split).collect();
        if end > state.requested_seq {
            self.stats.positions_held += positions.len() as u64;
            self.stats.events_received += events.len() as u64;
            state.applying += 1;
            actions.push(Action::Apply(ApplyBatch {
                origin: log.0,
                epoch: log.1,
                from_seq: state.requested_seq,
                next_seq: end,
                events,
                positions,
                origin_commit_unix_ms: 0,
            }));
            state.requested_seq = end;
        }
        if state.fetching.as_ref().is_some_and(|fetching| fetching.missing.is_empty()) {
            state.fetching = None;
        } else if state.applying < APPLYING_MAX {
            self.send_fetch(now_ms, log, actions);
        }
    }

    /// Asks the peer that answered a `Positions` for the events still missing of it.
    fn send_fetch(&mut self, now_ms: u64, log: LogId, actions: &mut Vec<Action>) {
        let state = self.logs.get_mut(&log).expect("the caller found it");
        let fetching = state.fetching.as_ref().expect("the caller checked");
        let peer = fetching.peer;
        let fetch = Fetch {
            origin: log.0,
            epoch: log.1,
            from_seq: state.requested_seq,
            next_seq: fetching.next_seq,
            positions: fetching.missing.clone(),
            events_max: self.config.pull_events_max,
            bytes_max: self.config.pull_bytes_max,
        };
        let deadline_ms = now_ms + self.config.pull_timeout_ms;
        state.in_flight = Some(InFlight { peer, from_seq: state.requested_seq, deadline_ms, asked: Asked::Fetched });
        self.stats.fetches_sent += 1;
        actions.push(Action::Send { peer, message: Message::Fetch(fetch) });
    }

    fn on_reset(&mut self, peer: NodeId, reset: Reset, store: &impl LogStore) {
        self.stats.resets_received += 1;
        if self.logs.keys().any(|(origin, _)| *origin == reset.origin) {
            *self.resets_by_origin.entry(reset.origin).or_default() += 1;
        }
        let log = (reset.origin, reset.epoch);
        if let Some(state) = self.logs.get_mut(&log)
            && state.in_flight.is_some_and(|flight| flight.peer == peer)
        {
            state.give_up();
        }
        if let Some(known) = self.peers.get_mut(&peer) {
            known.heads.remove(&log);
            if reset.head.origin == peer {
                known.epoch = reset.head.epoch;
            }
        }
        self.learn(peer, &[reset.head], store);
    }

    fn on_ephemeral(&mut self, event: WireEvent, actions: &mut Vec<Action>) {
        if self.ephemeral_seen.contains(&event.id) {
            self.stats.ephemeral_duplicates += 1;
            return;
        }
        self.remember_ephemeral(event.id);
        self.stats.ephemeral_delivered += 1;
        actions.push(Action::Deliver(event));
    }

    fn remember_ephemeral(&mut self, id: [u8; 32]) {
        if self.ephemeral_seen.insert(id) {
            self.ephemeral_order.push_back(id);
        }
        while self.ephemeral_order.len() > self.config.ephemeral_ids_max {
            let oldest = self.ephemeral_order.pop_front().expect("longer than the bound");
            self.ephemeral_seen.remove(&oldest);
        }
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

/// Bytes a position and its id take in a `Positions` answer.
const POSITION_ID_BYTES: usize = 40;

fn empty_batch(peer: NodeId, pull: &Pull) -> Action {
    if pull.ids_only {
        let positions = Positions {
            origin: pull.origin,
            epoch: pull.epoch,
            from_seq: pull.from_seq,
            next_seq: pull.from_seq,
            ids: Vec::new(),
        };
        return Action::Send { peer, message: Message::Positions(positions) };
    }
    let batch = Batch {
        origin: pull.origin,
        epoch: pull.epoch,
        from_seq: pull.from_seq,
        next_seq: pull.from_seq,
        events: Vec::new(),
        origin_commit_unix_ms: 0,
    };
    Action::Send { peer, message: Message::Batch(batch) }
}

/// A batch must stay inside `[from_seq, next_seq)` in increasing positions, within the
/// pull's bound.
fn check_batch(batch: &Batch, events_max: u32) -> Result<(), String> {
    check_range(batch.from_seq, batch.next_seq, &batch.events, events_max as usize, |event| event.origin_seq)
}

/// Entries of an answer must stay inside `[from_seq, next_seq)` in increasing positions,
/// within the bound asked for.
fn check_range<T>(
    from_seq: u64,
    next_seq: u64,
    entries: &[T],
    max: usize,
    position: impl Fn(&T) -> u64,
) -> Result<(), String> {
    if next_seq < from_seq {
        return Err(format!("answer ends at {next_seq} before it starts at {from_seq}"));
    }
    if entries.len() > max {
        return Err(format!("answer of {} entries exceeds the {max} asked for", entries.len()));
    }
    let mut previous = None;
    for entry in entries {
        let at = position(entry);
        if !(from_seq..next_seq).contains(&at) || previous.is_some_and(|seq| at <= seq) {
            return Err(format!("answer position {at} out of order or range"));
        }
        previous = Some(at);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store holding its own log (node 1, epoch 7) up to position 4, events at 2 and 3.
    struct OneLog;

    impl LogStore for OneLog {
        fn own_log(&self) -> LogHead {
            LogHead { origin: [1; 32], epoch: 7, next_seq: 4 }
        }

        fn heads(&self) -> Vec<LogHead> {
            vec![self.own_log()]
        }

        fn read(&self, _: &NodeId, _: u64, from_seq: u64, events_max: usize, _: usize) -> Option<ReadLog> {
            let event = |origin_seq| WireEvent {
                origin_seq,
                id: [origin_seq as u8; 32],
                pubkey: [0; 32],
                sig: [0; 64],
                middle: Vec::new(),
            };
            let events: Vec<WireEvent> =
                [2, 3].into_iter().filter(|&seq| seq >= from_seq).take(events_max).map(event).collect();
            Some(ReadLog {
                next_seq: if events.len() == events_max { events[events.len() - 1].origin_seq + 1 } else { 4 },
                events,
            })
        }

        fn read_ids(&self, origin: &NodeId, epoch: u64, from_seq: u64, ids_max: usize) -> Option<ReadIds> {
            let read = self.read(origin, epoch, from_seq, ids_max, usize::MAX)?;
            let ids = read.events.iter().map(|event| PositionId { position: event.origin_seq, id: event.id }).collect();
            Some(ReadIds { ids, next_seq: read.next_seq })
        }

        fn read_at(&self, origin: &NodeId, epoch: u64, positions: &[u64], _: usize, _: usize) -> Option<ReadLog> {
            let all = self.read(origin, epoch, 1, usize::MAX, usize::MAX)?;
            let events = all.events.into_iter().filter(|event| positions.contains(&event.origin_seq)).collect();
            Some(ReadLog { events, next_seq: positions.last().map_or(0, |last| last + 1) })
        }

        fn holds(&self, ids: &[[u8; 32]]) -> Option<Vec<bool>> {
            Some(ids.iter().map(|id| *id == [2; 32] || *id == [3; 32]).collect())
        }
    }

    fn pull(epoch: u64, from_seq: u64, wait_ms: u32) -> Message {
        Message::Pull(Pull {
            origin: [1; 32],
            epoch,
            from_seq,
            events_max: 10,
            bytes_max: 1 << 20,
            wait_ms,
            ids_only: false,
        })
    }

    fn sent(actions: &[Action]) -> Vec<&Message> {
        actions
            .iter()
            .filter_map(|action| match action {
                Action::Send { message, .. } => Some(message),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn pulls_are_answered_parked_or_reset() {
        let peer = [2; 32];
        let mut replicator = Replicator::new([1; 32], ReplicationConfig::default(), 0, &OneLog);
        replicator.link_up(0, peer, 9, &[], &OneLog);
        // From the start: both events, and where to go on from.
        let actions = replicator.on_message(0, peer, pull(7, 1, 1000), &OneLog);
        let Message::Batch(batch) =
            sent(&actions).into_iter().find(|m| matches!(m, Message::Batch(_))).unwrap().clone()
        else {
            unreachable!()
        };
        assert_eq!((batch.from_seq, batch.next_seq, batch.events.len()), (1, 4, 2));
        // At the head: parked, answered empty when its wait is over.
        let actions = replicator.on_message(0, peer, pull(7, 4, 1000), &OneLog);
        assert!(!sent(&actions).iter().any(|m| matches!(m, Message::Batch(_))), "parked");
        let actions = replicator.tick(999, &OneLog);
        assert!(!sent(&actions).iter().any(|m| matches!(m, Message::Batch(_))), "still waiting");
        let actions = replicator.tick(1000, &OneLog);
        let empty = sent(&actions).into_iter().find_map(|m| match m {
            Message::Batch(batch) => Some(batch.clone()),
            _ => None,
        });
        assert_eq!(empty.map(|batch| (batch.from_seq, batch.next_seq, batch.events.len())), Some((4, 4, 0)));
        // Past the head, or another epoch: a reset naming the current log.
        for message in [pull(7, 9, 0), pull(6, 1, 0)] {
            let actions = replicator.on_message(0, peer, message, &OneLog);
            let reset = sent(&actions).into_iter().find_map(|m| match m {
                Message::Reset(reset) => Some(*reset),
                _ => None,
            });
            assert_eq!(reset.map(|reset| reset.head), Some(OneLog.own_log()));
        }
        assert_eq!(replicator.stats.resets_sent, 2);
        // A peer naming endless epochs of an origin gets no more state than the bound.
        let many: Vec<LogHead> = (0..LOGS_PER_ORIGIN_MAX as u64 + 10)
            .map(|epoch| LogHead { origin: peer, epoch: (100 + epoch) << 8, next_seq: 2 })
            .collect();
        replicator.on_message(0, peer, Message::Heads(many), &OneLog);
        assert_eq!(replicator.cursors().filter(|((origin, _), _)| *origin == peer).count(), LOGS_PER_ORIGIN_MAX);
        assert!(replicator.stats.logs_refused >= 10);
        // A batch outside its range closes the link.
        let bad =
            Batch { origin: [2; 32], epoch: 9, from_seq: 5, next_seq: 3, events: Vec::new(), origin_commit_unix_ms: 0 };
        let actions = replicator.on_message(0, peer, Message::Batch(bad), &OneLog);
        assert!(actions.iter().any(|action| matches!(action, Action::Close { .. })));
    }

    fn applies(actions: &[Action]) -> Vec<(u64, u64, Vec<u64>, Vec<u64>)> {
        actions
            .iter()
            .filter_map(|action| match action {
                Action::Apply(batch) => Some((
                    batch.from_seq,
                    batch.next_seq,
                    batch.events.iter().map(|event| event.origin_seq).collect(),
                    batch.positions.iter().map(|held| held.position).collect(),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn positions_and_ids_are_served_and_fetched_exactly() {
        let peer = [2; 32];
        let mut server = Replicator::new([1; 32], ReplicationConfig::default(), 0, &OneLog);
        server.link_up(0, peer, 9, &[], &OneLog);
        let ids_pull = Pull {
            origin: [1; 32],
            epoch: 7,
            from_seq: 1,
            events_max: 10,
            bytes_max: 1 << 20,
            wait_ms: 0,
            ids_only: true,
        };
        let actions = server.on_message(0, peer, Message::Pull(ids_pull), &OneLog);
        let expected = Positions {
            origin: [1; 32],
            epoch: 7,
            from_seq: 1,
            next_seq: 4,
            ids: vec![PositionId { position: 2, id: [2; 32] }, PositionId { position: 3, id: [3; 32] }],
        };
        assert!(sent(&actions).contains(&&Message::Positions(expected)));
        let fetch = |positions: Vec<u64>| {
            Message::Fetch(Fetch {
                origin: [1; 32],
                epoch: 7,
                from_seq: 1,
                next_seq: 4,
                positions,
                events_max: 10,
                bytes_max: 1 << 20,
            })
        };
        let actions = server.on_message(0, peer, fetch(vec![3]), &OneLog);
        let Some(Message::Fetched(fetched)) = sent(&actions).into_iter().find(|m| matches!(m, Message::Fetched(_)))
        else {
            panic!("a fetch is answered: {actions:?}")
        };
        assert_eq!((fetched.through, fetched.events.iter().map(|e| e.origin_seq).collect::<Vec<_>>()), (4, vec![3]));
        for bad in [vec![3, 2], vec![4], vec![]] {
            let actions = server.on_message(0, peer, fetch(bad.clone()), &OneLog);
            assert!(actions.iter().any(|action| matches!(action, Action::Close { .. })), "{bad:?}");
        }

        // The puller: a log of an unlinked origin held far ahead by the peer.
        let config = ReplicationConfig { origin_timeout_ms: 0, ids_pull_behind: 100, ..ReplicationConfig::default() };
        let mut puller = Replicator::new([1; 32], config, 0, &OneLog);
        let log = LogHead { origin: [5; 32], epoch: 1, next_seq: 10_000 };
        let actions = puller.link_up(0, peer, 9, &[log], &OneLog);
        assert!(
            sent(&actions).iter().any(|m| matches!(m, Message::Pull(pull) if pull.origin == [5; 32] && !pull.ids_only))
        );
        let wire = |origin_seq, id| WireEvent { origin_seq, id, pubkey: [0; 32], sig: [0; 64], middle: Vec::new() };
        // A first batch held here already: the next pull asks for positions and ids.
        let batch = Batch {
            origin: [5; 32],
            epoch: 1,
            from_seq: 1,
            next_seq: 3,
            events: vec![wire(1, [2; 32]), wire(2, [3; 32])],
            origin_commit_unix_ms: 0,
        };
        let actions = puller.on_message(0, peer, Message::Batch(batch), &OneLog);
        assert_eq!(applies(&actions), vec![(1, 3, vec![1, 2], vec![])]);
        assert!(sent(&actions).iter().any(|m| matches!(m, Message::Pull(pull) if pull.ids_only && pull.from_seq == 3)));
        // Held positions before the first missing one are stored at once; the missing one is
        // fetched once the writer has stored a batch (two of this log are with it).
        let ids = [(4, [2; 32]), (5, [9; 32]), (6, [3; 32])].map(|(position, id)| PositionId { position, id }).to_vec();
        let positions = Positions { origin: [5; 32], epoch: 1, from_seq: 3, next_seq: 8, ids };
        let actions = puller.on_message(0, peer, Message::Positions(positions), &OneLog);
        assert_eq!(applies(&actions), vec![(3, 5, vec![], vec![4])]);
        assert!(!sent(&actions).iter().any(|m| matches!(m, Message::Fetch(_))), "the writer has two batches");
        let applied = |from_seq, next_seq| AppliedBatch { origin: [5; 32], epoch: 1, from_seq, next_seq, stored: true };
        let actions = puller.applied(0, applied(1, 3), &OneLog);
        assert!(
            sent(&actions)
                .iter()
                .any(|m| matches!(m, Message::Fetch(fetch) if fetch.positions == vec![5] && fetch.from_seq == 5))
        );
        // An answer with an event not asked for breaks the protocol.
        let wrong = Fetched { origin: [5; 32], epoch: 1, from_seq: 5, through: 8, events: vec![wire(6, [3; 32])] };
        let actions = puller.on_message(0, peer, Message::Fetched(wrong.clone()), &OneLog);
        assert!(actions.iter().any(|action| matches!(action, Action::Close { .. })));
        let fetched = Fetched { events: vec![wire(5, [9; 32])], ..wrong.clone() };
        let actions = puller.on_message(0, peer, Message::Fetched(fetched), &OneLog);
        assert_eq!(applies(&actions), vec![(5, 8, vec![5], vec![6])]);
        assert_eq!((puller.stats.positions_held, puller.stats.events_fetched, puller.stats.fetches_sent), (2, 1, 1));
        // Once the writer has stored the batches, the next pull goes on with positions and ids.
        let mut actions = Vec::new();
        for (from_seq, next_seq) in [(3, 5), (5, 8)] {
            actions.extend(puller.applied(0, applied(from_seq, next_seq), &OneLog));
        }
        assert!(sent(&actions).iter().any(|m| matches!(m, Message::Pull(pull) if pull.ids_only && pull.from_seq == 8)));
        let actions = puller.on_message(0, peer, Message::Fetched(wrong), &OneLog);
        assert!(applies(&actions).is_empty(), "a late answer is ignored");
    }

    /// A store whose heads are whatever the test says.
    struct Heads(Vec<LogHead>);

    impl LogStore for Heads {
        fn own_log(&self) -> LogHead {
            self.0[0]
        }

        fn heads(&self) -> Vec<LogHead> {
            self.0.clone()
        }

        fn read(&self, _: &NodeId, _: u64, from_seq: u64, _: usize, _: usize) -> Option<ReadLog> {
            Some(ReadLog { events: Vec::new(), next_seq: from_seq })
        }

        fn read_ids(&self, _: &NodeId, _: u64, from_seq: u64, _: usize) -> Option<ReadIds> {
            Some(ReadIds { ids: Vec::new(), next_seq: from_seq })
        }

        fn read_at(&self, _: &NodeId, _: u64, _: &[u64], _: usize, _: usize) -> Option<ReadLog> {
            None
        }

        fn holds(&self, ids: &[[u8; 32]]) -> Option<Vec<bool>> {
            Some(vec![false; ids.len()])
        }
    }

    #[test]
    fn a_new_own_log_is_announced_at_once_and_only_when_heads_changed() {
        let own = LogHead { origin: [1; 32], epoch: 0x700, next_seq: 3 };
        let class_log = LogHead { origin: [1; 32], epoch: 0x701, next_seq: 3 };
        let mut replicator = Replicator::new([1; 32], ReplicationConfig::default(), 0, &Heads(vec![own]));
        replicator.link_up(0, [2; 32], 9, &[], &Heads(vec![own]));
        replicator.tick(0, &Heads(vec![own]));
        let heads_sent = |actions: &[Action]| {
            sent(actions)
                .into_iter()
                .filter_map(|m| if let Message::Heads(heads) = m { Some(heads.clone()) } else { None })
                .collect::<Vec<_>>()
        };
        assert!(heads_sent(&replicator.own_log_started(10, &Heads(vec![own]))).is_empty(), "nothing new");
        let announced = heads_sent(&replicator.own_log_started(10, &Heads(vec![own, class_log])));
        assert_eq!(announced, vec![vec![own, class_log]], "at once, not at the next periodic heads");
        // The peer's current logs include its class logs: pulled from it with a long poll.
        let peer_class_log = LogHead { origin: [2; 32], epoch: 9 << 8 | 1, next_seq: 5 };
        let mut puller = Replicator::new([1; 32], ReplicationConfig::default(), 0, &Heads(vec![own]));
        let actions = puller.link_up(0, [2; 32], 9 << 8, &[peer_class_log], &Heads(vec![own]));
        let pulls: Vec<Pull> = sent(&actions)
            .into_iter()
            .filter_map(|m| if let Message::Pull(pull) = m { Some(*pull) } else { None })
            .collect();
        assert!(pulls.iter().any(|pull| pull.epoch == 9 << 8 | 1 && pull.wait_ms > 0), "{pulls:?}");
    }

    #[test]
    fn the_backlog_is_what_linked_peers_hold_beyond_the_cursors() {
        let (peer, other) = ([2; 32], [3; 32]);
        let mut replicator = Replicator::new([1; 32], ReplicationConfig::default(), 0, &OneLog);
        replicator.link_up(0, peer, 9, &[], &OneLog);
        assert_eq!(replicator.backlog()[&peer], OriginBacklog::default());
        // The peer holds its own log up to 6 and another origin's up to 3: five and two behind.
        let heads =
            vec![LogHead { origin: peer, epoch: 9, next_seq: 6 }, LogHead { origin: other, epoch: 1, next_seq: 3 }];
        replicator.on_message(0, peer, Message::Heads(heads), &OneLog);
        let backlog = replicator.backlog();
        assert_eq!(backlog[&peer].behind_positions, 5);
        assert_eq!(backlog[&other].behind_positions, 2);
        assert!(!backlog.contains_key(&[1; 32]), "not its own log");
        // Resets are counted per origin, only for origins with a log here.
        let head = LogHead { origin: peer, epoch: 10, next_seq: 1 };
        replicator.on_message(0, peer, Message::Reset(Reset { origin: peer, epoch: 9, head }), &OneLog);
        let stranger = LogHead { origin: [9; 32], epoch: 1, next_seq: 1 };
        replicator.on_message(0, peer, Message::Reset(Reset { origin: [9; 32], epoch: 1, head: stranger }), &OneLog);
        let backlog = replicator.backlog();
        assert_eq!(backlog[&peer].resets_received, 1);
        // (The reset's head is learned as any head is; its reset is not counted: no log then.)
        assert_eq!(backlog.get(&[9; 32]).map_or(0, |origin| origin.resets_received), 0);
        // The peer gone, nobody claims more: nothing is counted behind.
        replicator.link_down(0, peer, &OneLog);
        assert_eq!(replicator.backlog()[&peer].behind_positions, 0);
    }
}
