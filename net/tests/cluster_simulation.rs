//! A deterministic simulator of the replication protocol: several nodes, each a real
//! `Replicator` over an in-memory store with LMDB's guarantees (a batch and its cursor are
//! applied together or not at all), joined by simulated links that delay, reset and partition,
//! with crashes and restarts (the store survives, the process state does not), wiped stores,
//! long origin outages, and stores seeded from another node's export (its events without
//! their log positions: the `ids_only` pulls). Every run checks, after healing and
//! quiescence: all stores hold the same events; every acknowledged event is everywhere,
//! unless the node that accepted it was wiped before anyone pulled it (then it is nowhere);
//! a node's cursor of a log covers every position of that log any node holds; cursors never
//! move back within a log; no node delivers an event twice; the bytes queued on a link stay
//! within their bound.
//!
//! The policy log rides along: some published events are policy entries (a NIP-86 change as
//! `parrhesia_engine::policy_log` makes it): bans and unbans of a few keys, and bans of an
//! acknowledged event (a tombstone: `banevent`, `parrhesia-tools delete --admin-key`). The
//! simulated store applies them as the real one does (storing an entry applies it if it is the
//! newest of its key among the entries held; a banned event is removed and refused from then
//! on). Checked after every step: no node holds an event it has banned. After quiescence: every
//! node's policy is the fold of the entries it holds and the same on every node, and a banned
//! event is nowhere.
//!
//! Phase C rides along: each process subscribes to and drops random authors (interest
//! summaries, with summary frames lost at random), and own-log pulls linger. Checked after
//! every step: no pull lingers while one of its waiting events matches the puller's summary
//! as the server holds it, if that summary is current (such an event goes out at once).
//!
//! The simulated store also keeps the store contract (`parrhesia_net::cluster::store_contract`)
//! the node's LMDB store is held to, so the two cannot drift apart unseen.
//!
//! `PARRHESIA_SIM_SEEDS` sets how many seeds run (default 1000) and `PARRHESIA_SIM_FIRST_SEED`
//! the first (default: the Unix time); `PARRHESIA_SEED` replays one.
//!
//! Past 1,100 lines because it is one world: the simulated store (`SimStore`, ~270 lines with
//! the policy log's rules and the store contract), the processes and links (`Sim`, ~530
//! lines: faults, steps, the per-step checks) and the checks after quiescence share their
//! types and invariants; split across files they would only import each other.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use parrhesia_engine::IndexKey;
use parrhesia_engine::random::SeededRandom;
use parrhesia_engine::summary::{EventProbe, InterestKey};
use parrhesia_net::cluster::NodeId;
use parrhesia_net::cluster::frame::{LogHead, Message, PositionId, WireEvent};
use parrhesia_net::cluster::replication::{
    Action, AppliedBatch, ApplyBatch, LOG_CLASS_MASK, LogStore, ReadIds, ReadLog, ReplicationConfig, Replicator,
};
use parrhesia_net::cluster::store_contract::{self, ContractStore};

const PULL_EVENTS_MAX: u32 = 4;
const PULL_BYTES_MAX: u32 = 600;
const EVENT_MIDDLE_BYTES: usize = 40;

fn config() -> ReplicationConfig {
    ReplicationConfig {
        pull_events_max: PULL_EVENTS_MAX,
        pull_bytes_max: PULL_BYTES_MAX,
        pull_wait_ms: 1_000,
        pull_timeout_ms: 2_000,
        origin_timeout_ms: 3_000,
        heads_interval_ms: 500,
        ephemeral_ids_max: 64,
        origins: (0..5).map(node_id).collect(),
        linger_ms: 40,
        // The second class of kinds stands for the policy log, whose pulls never linger.
        eager_classes: vec![1],
        summary_delta_ms: 200,
        summary_full_ms: 5_000,
        summary_stale_ms: 2_000,
        ids_pull_max: 16,
        ids_pull_behind: 2,
        ..ReplicationConfig::default()
    }
}

/// Authors events are published under; subscriptions follow some of them.
const AUTHORS: u8 = 8;

fn author_of(id: &[u8; 32]) -> [u8; 32] {
    [id[7] % AUTHORS + 1; 32]
}

fn probe(id: &[u8; 32]) -> EventProbe {
    EventProbe {
        id: IndexKey::Id(id).hash(),
        author: IndexKey::Author(&author_of(id)).hash(),
        kind: 1,
        tags: Vec::new(),
        tags_truncated: false,
    }
}

/// The class of kinds an event belongs to: half of them have a log of their own.
fn class_of(id: &[u8; 32]) -> u8 {
    (id[7] / 3) % 2
}

fn author_key(author: u8) -> InterestKey {
    InterestKey::of(&IndexKey::Author(&[author; 32]))
}

/// A policy entry's id: byte 8 marks it, byte 9 is its change, 10 the key it is about, 11
/// the node that accepted it, 12..16 when it expires (ms, 0: never), 16..24 the banned
/// event's number, 24..32 the admin's time.
const ENTRY: u8 = 0x86;
const BAN: u8 = 0;
const UNBAN: u8 = 1;
const BAN_EVENT: u8 = 2;

/// What an entry is about: a key (a pubkey's ban) or an event's id (its ban, never lifted here).
type PolicyKey = (u8, [u8; 8]);

fn is_entry(id: &[u8; 32]) -> bool {
    id[8] == ENTRY
}

fn entry_id(number: u64, change: u8, key: u8, node: usize, target: u64, made_ms: u64, expires_ms: u32) -> [u8; 32] {
    let mut id = [0; 32];
    id[..8].copy_from_slice(&number.to_be_bytes());
    (id[8], id[9], id[10], id[11]) = (ENTRY, change, key, node as u8);
    id[12..16].copy_from_slice(&expires_ms.to_be_bytes());
    id[16..24].copy_from_slice(&target.to_be_bytes());
    id[24..].copy_from_slice(&made_ms.to_be_bytes());
    id
}

fn entry_key(id: &[u8; 32]) -> PolicyKey {
    match id[9] {
        BAN_EVENT => (BAN_EVENT, id[16..24].try_into().expect("eight bytes")),
        _ => (BAN, [id[10]; 8]),
    }
}

/// The order of entries of one key (`policy_log::Version`): the admin's time, the node, the id.
fn entry_version(id: &[u8; 32]) -> ([u8; 8], u8, [u8; 32]) {
    (id[24..].try_into().expect("eight bytes"), id[11], *id)
}

/// When an entry expires (`parrhesia-tools delete --keep-out-days`), if it does.
fn entry_expiry(id: &[u8; 32]) -> Option<u64> {
    let at = u32::from_be_bytes(id[12..16].try_into().expect("four bytes"));
    (is_entry(id) && at != 0).then_some(u64::from(at))
}

/// The id of the event an entry bans.
fn banned_event(id: &[u8; 32]) -> [u8; 32] {
    let mut target = [0; 32];
    target[..8].copy_from_slice(&id[16..24]);
    target
}

/// One node's durable store: what survives a crash.
#[derive(Default)]
struct SimStore {
    me: NodeId,
    epoch: u64,
    last_seq: u64,
    /// id -> (local seq, origin, epoch, origin seq)
    events: BTreeMap<[u8; 32], (u64, NodeId, u64, u64)>,
    origin_log: BTreeMap<(NodeId, u64, u64), [u8; 32]>,
    cursors: BTreeMap<(NodeId, u64), u64>,
    /// The policy as applied when entries were stored (the `policy` table): key -> change.
    policy: BTreeMap<PolicyKey, u8>,
    /// The clock the store's writes see (the simulation sets it each step).
    now: u64,
    /// Events a ban removed: one may come again once no ban holds, and is delivered again.
    removed_by_ban: BTreeSet<[u8; 32]>,
    /// Entries that expire, by when (the `expiration` table).
    expiring: BTreeSet<(u64, [u8; 32])>,
}

impl SimStore {
    fn new(me: NodeId, epoch: u64) -> SimStore {
        SimStore { me, epoch, ..SimStore::default() }
    }

    /// A process start: a new epoch; the previous one, if it has events, stays a log this
    /// store holds (its cursor is kept with every local insert, as in LMDB).
    fn start_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
    }

    /// Stores an event (idempotent by id); returns whether it was new. A replicated event
    /// already held keeps this position too, so that serving this log includes it.
    fn insert(&mut self, id: [u8; 32], position: Option<(NodeId, u64, u64)>) -> bool {
        if self.events.contains_key(&id) {
            if let Some(position) = position {
                self.origin_log.insert(position, id);
            }
            return false;
        }
        if self.is_banned(&id) || entry_expiry(&id).is_some_and(|at| at <= self.now) {
            return false; // refused: a pulled one leaves its position a hole
        }
        self.last_seq += 1;
        // Own events of the second class of kinds go to a log of their own (`epoch | 1`).
        let own_epoch = self.epoch | u64::from(class_of(&id));
        if position.is_none() {
            self.cursors.insert((self.me, own_epoch), self.last_seq + 1);
        }
        let (origin, epoch, origin_seq) = position.unwrap_or((self.me, own_epoch, self.last_seq));
        self.events.insert(id, (self.last_seq, origin, epoch, origin_seq));
        self.origin_log.insert((origin, epoch, origin_seq), id);
        if is_entry(&id) {
            if let Some(at) = entry_expiry(&id) {
                self.expiring.insert((at, id));
            }
            self.apply_entry(&id);
        }
        true
    }

    /// Whether the event is banned: the policy says so and the entry that decided has not
    /// expired (a ban whose entry expired before a sweep no longer holds: `ban_lapsed`).
    fn is_banned(&self, id: &[u8; 32]) -> bool {
        let key = (BAN_EVENT, id[..8].try_into().expect("eight bytes"));
        self.policy.get(&key) == Some(&BAN_EVENT)
            && self.newest_entry(key).is_none_or(|entry| entry_expiry(&entry).is_none_or(|at| at > self.now))
    }

    fn newest_entry(&self, key: PolicyKey) -> Option<[u8; 32]> {
        self.events
            .keys()
            .filter(|held| is_entry(held) && entry_key(held) == key)
            .max_by_key(|held| entry_version(held))
            .copied()
    }

    /// The expiration sweep: expired entries go, and each of their keys is decided by the
    /// newest entry left, or nothing (`Store::sweep_expired`).
    fn sweep(&mut self) {
        let mut expired: Vec<[u8; 32]> = Vec::new();
        while let Some(&(at, id)) = self.expiring.first()
            && at <= self.now
        {
            self.expiring.pop_first();
            if self.events.contains_key(&id) {
                expired.push(id);
            }
        }
        for id in &expired {
            self.events.remove(id);
            self.origin_log.retain(|_, held| held != id);
        }
        for id in &expired {
            let key = entry_key(id);
            match self.newest_entry(key) {
                Some(newest) => {
                    self.policy.insert(key, newest[9]);
                }
                None => {
                    self.policy.remove(&key);
                }
            }
        }
    }

    /// A just-stored entry takes effect if it is the newest held for its key (the real store's
    /// rule: `Writer::apply_policy_entry`); a banned event leaves the store, positions too.
    fn apply_entry(&mut self, entry: &[u8; 32]) {
        let key = entry_key(entry);
        let newest = self
            .events
            .keys()
            .filter(|held| is_entry(held) && entry_key(held) == key)
            .all(|held| entry_version(held) <= entry_version(entry));
        if !newest {
            return;
        }
        self.policy.insert(key, entry[9]);
        if entry[9] == BAN_EVENT {
            let target = banned_event(entry);
            if self.events.remove(&target).is_some() {
                self.removed_by_ban.insert(target);
                self.origin_log.retain(|_, id| *id != target);
            }
        }
    }

    /// The policy as a fold of every entry held, newest per key: what `policy` must be.
    fn folded_policy(&self) -> BTreeMap<PolicyKey, u8> {
        let mut newest: BTreeMap<PolicyKey, [u8; 32]> = BTreeMap::new();
        for id in self.events.keys().filter(|id| is_entry(id)) {
            let held = newest.entry(entry_key(id)).or_insert(*id);
            if entry_version(id) > entry_version(held) {
                *held = *id;
            }
        }
        newest.into_iter().map(|(key, id)| (key, id[9])).collect()
    }

    /// How far this store holds a log: its cursor (1: nothing of it).
    fn cursor(&self, log: (NodeId, u64)) -> u64 {
        self.cursors.get(&log).copied().unwrap_or(1)
    }

    /// What the writer does with a batch, in one step as in one LMDB transaction: its events
    /// stored (idempotent by id) at their positions, held events recorded at theirs (a gone
    /// one stays a hole) and the cursor moved, never back. Returns the ids stored new; `None`,
    /// changing nothing, if the batch would leave a gap.
    fn apply(&mut self, batch: &ApplyBatch) -> Option<Vec<[u8; 32]>> {
        let log = (batch.origin, batch.epoch);
        if batch.from_seq > self.cursor(log) {
            return None;
        }
        let mut stored = Vec::new();
        for event in &batch.events {
            if self.insert(event.id, Some((batch.origin, batch.epoch, event.origin_seq))) {
                stored.push(event.id);
            }
        }
        for held in &batch.positions {
            if self.events.contains_key(&held.id) {
                self.origin_log.insert((batch.origin, batch.epoch, held.position), held.id);
            }
        }
        let cursor = self.cursors.entry(log).or_insert(1);
        *cursor = (*cursor).max(batch.next_seq);
        Some(stored)
    }
}

/// The writes the store contract sets its reads up with, as the simulation makes them.
impl ContractStore for SimStore {
    fn event(&mut self, number: u32, class: u8) -> WireEvent {
        // `class_of` reads the class from byte 7.
        let mut id = [0; 32];
        id[..4].copy_from_slice(&number.to_be_bytes());
        id[7] = class * 3;
        assert_eq!(class_of(&id), class);
        wire_event(id, 0)
    }

    fn publish(&mut self, event: &WireEvent) -> bool {
        self.insert(event.id, None)
    }

    fn apply(&mut self, batch: &ApplyBatch) -> bool {
        SimStore::apply(self, batch).is_some()
    }

    fn restart(&mut self) {
        self.start_epoch(self.epoch + (LOG_CLASS_MASK + 1));
    }

    fn counted_bytes(&self, event: &WireEvent) -> usize {
        event.wire_bytes()
    }
}

impl LogStore for SimStore {
    fn own_log(&self) -> LogHead {
        let next_seq = self.cursors.get(&(self.me, self.epoch)).copied().unwrap_or(1);
        LogHead { origin: self.me, epoch: self.epoch, next_seq }
    }

    fn heads(&self) -> Vec<LogHead> {
        let own = self.own_log();
        let mut heads = vec![own];
        let others = self.cursors.iter().filter(|(log, _)| **log != (own.origin, own.epoch));
        heads.extend(others.map(|(&(origin, epoch), &next_seq)| LogHead { origin, epoch, next_seq }));
        heads
    }

    fn read(&self, origin: &NodeId, epoch: u64, from: u64, events_max: usize, bytes_max: usize) -> Option<ReadLog> {
        let held = self.heads().into_iter().find(|head| (head.origin, head.epoch) == (*origin, epoch))?.next_seq;
        let mut events: Vec<WireEvent> = Vec::new();
        let mut bytes = 0;
        let mut cut = false;
        for (&(_, _, origin_seq), id) in self.origin_log.range((*origin, epoch, from)..(*origin, epoch, u64::MAX)) {
            if events.len() >= events_max || (bytes >= bytes_max && !events.is_empty()) {
                cut = true;
                break;
            }
            let event = wire_event(*id, origin_seq);
            bytes += event.wire_bytes();
            events.push(event);
        }
        let next_seq = if cut { events.last().expect("cut after one").origin_seq + 1 } else { held };
        Some(ReadLog { events, next_seq })
    }

    fn read_ids(&self, origin: &NodeId, epoch: u64, from: u64, ids_max: usize) -> Option<ReadIds> {
        let read = self.read(origin, epoch, from, ids_max, usize::MAX)?;
        let ids = read.events.iter().map(|event| PositionId { position: event.origin_seq, id: event.id }).collect();
        Some(ReadIds { ids, next_seq: read.next_seq })
    }

    fn read_at(
        &self,
        origin: &NodeId,
        epoch: u64,
        positions: &[u64],
        events_max: usize,
        bytes_max: usize,
    ) -> Option<ReadLog> {
        let mut events: Vec<WireEvent> = Vec::new();
        let mut bytes = 0;
        for &position in positions {
            if events.len() >= events_max || (bytes >= bytes_max && !events.is_empty()) {
                return Some(ReadLog { events, next_seq: position });
            }
            if let Some(id) = self.origin_log.get(&(*origin, epoch, position)) {
                let event = wire_event(*id, position);
                bytes += event.wire_bytes();
                events.push(event);
            }
        }
        Some(ReadLog { events, next_seq: positions.last().map_or(0, |last| last + 1) })
    }

    fn holds(&self, ids: &[[u8; 32]]) -> Option<Vec<bool>> {
        Some(ids.iter().map(|id| self.events.contains_key(id)).collect())
    }
}

fn wire_event(id: [u8; 32], origin_seq: u64) -> WireEvent {
    WireEvent { origin_seq, id, pubkey: author_of(&id), sig: [0; 64], middle: vec![b'x'; EVENT_MIDDLE_BYTES] }
}

/// A process: present while the node is up.
struct Process {
    replicator: Replicator,
    /// Batches with the writer: applied at the given time unless the node crashes first.
    applying: Vec<(u64, ApplyBatch)>,
    /// Event ids delivered to this process's subscriber.
    delivered: BTreeSet<[u8; 32]>,
    /// Authors this process's subscriptions follow.
    following: BTreeSet<u8>,
}

struct Node {
    store: SimStore,
    process: Option<Process>,
    /// The highest each cursor has been (to check it never moves back).
    cursor_floor: BTreeMap<(NodeId, u64), u64>,
}

/// One direction of a link: encoded frames in flight with their arrival times (FIFO, as TCP).
type Queue = VecDeque<(u64, Vec<u8>)>;

struct Sim {
    random: SeededRandom,
    now: u64,
    nodes: Vec<Node>,
    /// Open links, by (lower index, higher index): the two directions' queues.
    links: BTreeMap<(usize, usize), (Queue, Queue)>,
    /// Partition: nodes on different sides cannot link.
    side: Vec<u8>,
    latency_max_ms: u64,
    acknowledged: BTreeMap<[u8; 32], usize>,
    /// Events whose acceptor was wiped after accepting them.
    wiped_acceptor: BTreeSet<[u8; 32]>,
    next_event: u64,
    summary: Summary,
}

/// What happened in runs (printed, to see that the faults and paths are exercised).
#[derive(Default, Debug)]
struct Summary {
    events: u64,
    crashes: u64,
    wipes: u64,
    partitions: u64,
    link_resets: u64,
    fallback_pulls: u64,
    resets: u64,
    batches_applied: u64,
    batches_retried: u64,
    summary_frames_lost: u64,
    summary_requests: u64,
    pushed: u64,
    avoided: u64,
    seeded: u64,
    /// Logs of the second class of kinds held at the end (summed over nodes).
    class_logs: u64,
    ids_pulls: u64,
    positions_held: u64,
    events_fetched: u64,
    /// Policy entries published, and event bans in force at the end (summed over runs).
    entries: u64,
    events_banned: u64,
}

impl Summary {
    fn add(&mut self, other: &Summary) {
        self.events += other.events;
        self.crashes += other.crashes;
        self.wipes += other.wipes;
        self.partitions += other.partitions;
        self.link_resets += other.link_resets;
        self.fallback_pulls += other.fallback_pulls;
        self.resets += other.resets;
        self.batches_applied += other.batches_applied;
        self.batches_retried += other.batches_retried;
        self.summary_frames_lost += other.summary_frames_lost;
        self.summary_requests += other.summary_requests;
        self.pushed += other.pushed;
        self.avoided += other.avoided;
        self.seeded += other.seeded;
        self.class_logs += other.class_logs;
        self.ids_pulls += other.ids_pulls;
        self.positions_held += other.positions_held;
        self.events_fetched += other.events_fetched;
        self.entries += other.entries;
        self.events_banned += other.events_banned;
    }
}

fn node_id(index: usize) -> NodeId {
    let mut id = [0; 32];
    id[0] = index as u8 + 1;
    id
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut random = SeededRandom::new(seed);
        let count = 2 + random.below(3) as usize;
        let nodes = (0..count)
            .map(|index| {
                let store = SimStore::new(node_id(index), random.next_u64() & !LOG_CLASS_MASK);
                Node { store, process: None, cursor_floor: BTreeMap::new() }
            })
            .collect();
        let latency_max_ms = 1 + random.below(300);
        let mut sim = Sim {
            random,
            now: 0,
            nodes,
            links: BTreeMap::new(),
            side: vec![0; count],
            latency_max_ms,
            acknowledged: BTreeMap::new(),
            wiped_acceptor: BTreeSet::new(),
            next_event: 0,
            summary: Summary::default(),
        };
        for index in 0..count {
            sim.start(index);
        }
        sim
    }

    fn start(&mut self, index: usize) {
        let epoch = self.random.next_u64() & !LOG_CLASS_MASK;
        let node = &mut self.nodes[index];
        node.store.start_epoch(epoch);
        let replicator = Replicator::new(node_id(index), config(), self.now, &node.store);
        node.process =
            Some(Process { replicator, applying: Vec::new(), delivered: BTreeSet::new(), following: BTreeSet::new() });
    }

    fn crash(&mut self, index: usize) {
        self.summary.crashes += 1;
        self.count_stats(index);
        let links: Vec<(usize, usize)> =
            self.links.keys().filter(|(a, b)| *a == index || *b == index).copied().collect();
        for link in links {
            self.cut(link);
        }
        self.nodes[index].process = None;
    }

    /// Adds a process's counters to the summary (before it goes away).
    fn count_stats(&mut self, index: usize) {
        if let Some(process) = &self.nodes[index].process {
            let stats = &process.replicator.stats;
            self.summary.fallback_pulls += stats.fallback_pulls;
            self.summary.resets += stats.resets_received;
            self.summary.batches_applied += stats.batches_applied;
            self.summary.batches_retried += stats.batches_retried;
            self.summary.ids_pulls += stats.ids_pulls_sent;
            self.summary.positions_held += stats.positions_held;
            self.summary.events_fetched += stats.events_fetched;
            for live in process.replicator.live_stats().values() {
                self.summary.summary_requests += live.summary_requests;
                self.summary.pushed += live.pushed;
                self.summary.avoided += live.avoided;
            }
        }
    }

    fn wipe(&mut self, index: usize) {
        self.summary.wipes += 1;
        self.crash(index);
        for (id, acceptor) in &self.acknowledged {
            if *acceptor == index {
                self.wiped_acceptor.insert(*id);
            }
        }
        let epoch = self.random.next_u64() & !LOG_CLASS_MASK;
        self.nodes[index].store = SimStore::new(node_id(index), epoch);
        self.nodes[index].store.now = self.now;
        self.nodes[index].cursor_floor.clear();
    }

    /// The operator wipes a node and imports another node's export before it starts again:
    /// it holds events with none of their log positions.
    fn seed_from_export(&mut self, index: usize, source: usize) {
        self.summary.seeded += 1;
        self.wipe(index);
        let ids: Vec<[u8; 32]> = self.nodes[source].store.events.keys().copied().collect();
        for id in ids {
            // An export goes out in store order: keep some of the events, like a partial one.
            if !self.random.chance(10) {
                let node = &mut self.nodes[index];
                node.store.insert(id, None);
            }
        }
    }

    fn cut(&mut self, link: (usize, usize)) {
        if self.links.remove(&link).is_none() {
            return;
        }
        for (me, peer) in [(link.0, link.1), (link.1, link.0)] {
            let node = &mut self.nodes[me];
            if let Some(process) = &mut node.process {
                let actions = process.replicator.link_down(self.now, node_id(peer), &node.store);
                self.run(me, actions);
            }
        }
    }

    /// Opens every link that may exist and does not.
    fn connect(&mut self) {
        for a in 0..self.nodes.len() {
            for b in a + 1..self.nodes.len() {
                let up = self.nodes[a].process.is_some() && self.nodes[b].process.is_some();
                if !up || self.side[a] != self.side[b] || self.links.contains_key(&(a, b)) {
                    continue;
                }
                self.links.insert((a, b), (VecDeque::new(), VecDeque::new()));
                for (me, peer) in [(a, b), (b, a)] {
                    let own = self.nodes[peer].store.own_log();
                    let heads = self.nodes[peer].store.heads();
                    let node = &mut self.nodes[me];
                    let process = node.process.as_mut().expect("up");
                    let actions = process.replicator.link_up(self.now, node_id(peer), own.epoch, &heads, &node.store);
                    self.run(me, actions);
                }
            }
        }
    }

    /// Carries out a node's actions.
    fn run(&mut self, me: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send { peer, message } => {
                    let peer = peer[0] as usize - 1;
                    let summary_frame =
                        matches!(message, Message::SummaryFull(_) | Message::SummaryDelta(_) | Message::SummaryRequest);
                    if summary_frame && self.random.chance(5) {
                        self.summary.summary_frames_lost += 1;
                        continue;
                    }
                    let delay = 1 + self.random.below(self.latency_max_ms);
                    let key = (me.min(peer), me.max(peer));
                    let Some((low_to_high, high_to_low)) = self.links.get_mut(&key) else { continue };
                    let queue = if me < peer { low_to_high } else { high_to_low };
                    // FIFO: never before the frame ahead of it.
                    let at = queue.back().map_or(0, |(at, _)| *at).max(self.now + delay);
                    queue.push_back((at, message.encode()));
                }
                Action::Apply(batch) => {
                    let at = self.now + 1 + self.random.below(30);
                    self.nodes[me]
                        .process
                        .as_mut()
                        .expect("actions come from a live process")
                        .applying
                        .push((at, batch));
                }
                Action::Deliver(_) => {}
                Action::Close { peer, reason } => panic!("node {me} closed its link to {}: {reason}", peer[0] - 1),
            }
        }
    }

    fn check_link_bounds(&self) {
        let logs = self.nodes.iter().map(|node| node.store.heads().len()).sum::<usize>() + self.nodes.len();
        let bound = 2 * logs * (PULL_BYTES_MAX as usize + wire_event([0; 32], 0).wire_bytes() + 64) + 64 * 1024;
        for (link, (one, other)) in &self.links {
            for queue in [one, other] {
                let bytes: usize = queue.iter().map(|(_, frame)| frame.len()).sum();
                assert!(bytes <= bound, "link {link:?} holds {bytes} bytes, bound {bound}");
            }
        }
    }

    /// The next frame due on one direction of a link, if the link is still open.
    fn due_frame(&mut self, key: (usize, usize), low_to_high: bool) -> Option<Vec<u8>> {
        let (up, down) = self.links.get_mut(&key)?;
        let queue = if low_to_high { up } else { down };
        queue.front().is_some_and(|(at, _)| *at <= self.now).then(|| queue.pop_front().expect("checked").1)
    }

    /// One step: the next thing due happens (a frame arrives, a batch is applied, a tick).
    fn step(&mut self, tick_ms: u64) {
        self.now += tick_ms;
        for node in &mut self.nodes {
            node.store.now = self.now;
            // A running node's writer sweeps expired events (a stopped one cannot).
            if node.process.is_some() {
                node.store.sweep();
            }
        }
        // Deliver due frames.
        let keys: Vec<(usize, usize)> = self.links.keys().copied().collect();
        for key in keys {
            for (from, to) in [(key.0, key.1), (key.1, key.0)] {
                while let Some(frame) = self.due_frame(key, from < to) {
                    let message = Message::decode(&frame[4..]).expect("frames round-trip");
                    let node = &mut self.nodes[to];
                    let process = node.process.as_mut().expect("links join live nodes");
                    let actions = process.replicator.on_message(self.now, node_id(from), message, &node.store);
                    self.run(to, actions);
                }
            }
        }
        // Apply due batches.
        for index in 0..self.nodes.len() {
            let Some(process) = &mut self.nodes[index].process else { continue };
            let (due, later): (Vec<_>, Vec<_>) = process.applying.drain(..).partition(|(at, _)| *at <= self.now);
            process.applying = later;
            for (_, batch) in due {
                let node = &mut self.nodes[index];
                if std::env::var_os("PARRHESIA_SIM_TRACE").is_some() {
                    let cursor = node.store.cursors.get(&(batch.origin, batch.epoch)).copied().unwrap_or(1);
                    let positions: Vec<(u64, u64)> = batch
                        .events
                        .iter()
                        .map(|event| (event.origin_seq, u64::from_be_bytes(event.id[..8].try_into().unwrap())))
                        .collect();
                    eprintln!(
                        "t={} node {index} applies {}:{:x} cursor {cursor} -> {} positions {positions:?}",
                        self.now,
                        batch.origin[0] - 1,
                        batch.epoch >> 48,
                        batch.next_seq
                    );
                }
                let log = (batch.origin, batch.epoch);
                // The writer refuses a batch that would leave a gap, and sometimes fails.
                let stored = batch.from_seq <= node.store.cursor(log) && !self.random.chance(2);
                if stored {
                    for id in node.store.apply(&batch).expect("no gap") {
                        let process = node.process.as_mut().expect("up");
                        let again = node.store.removed_by_ban.contains(&id);
                        assert!(process.delivered.insert(id) || again, "node {index} delivered an event twice");
                    }
                    let cursor = node.store.cursor(log);
                    let floor = node.cursor_floor.entry(log).or_insert(0);
                    assert!(cursor >= *floor, "cursor moved back");
                    *floor = cursor;
                }
                let process = node.process.as_mut().expect("up");
                let applied = AppliedBatch {
                    origin: batch.origin,
                    epoch: batch.epoch,
                    from_seq: batch.from_seq,
                    next_seq: batch.next_seq,
                    stored,
                };
                let actions = process.replicator.applied(self.now, applied, &node.store);
                self.run(index, actions);
            }
        }
        for index in 0..self.nodes.len() {
            let node = &mut self.nodes[index];
            let Some(process) = &mut node.process else { continue };
            let actions = process.replicator.tick(self.now, &node.store);
            self.run(index, actions);
        }
        self.check_link_bounds();
        self.check_lingering();
        self.check_bans();
    }

    /// No pull lingers while an event it waits for matches the puller's current summary.
    fn check_lingering(&self) {
        for (index, node) in self.nodes.iter().enumerate() {
            let Some(process) = &node.process else { continue };
            let own = node.store.own_log();
            for (peer, epoch, from_seq) in process.replicator.lingering() {
                let Some(summary) = process.replicator.peer_summary(&peer, self.now) else { continue };
                let waiting = node.store.origin_log.range((own.origin, epoch, from_seq)..(own.origin, epoch, u64::MAX));
                for (_, id) in waiting {
                    assert!(
                        !summary.matches(&probe(id)),
                        "node {index} lingers on a pull by node {} though event {:?} matches its summary",
                        peer[0] - 1,
                        &id[..8]
                    );
                }
            }
        }
    }

    /// A process subscribes to an author, or drops one.
    fn follow(&mut self) {
        let index = self.random.below(self.nodes.len() as u64) as usize;
        let author = 1 + self.random.below(u64::from(AUTHORS)) as u8;
        let Some(process) = &mut self.nodes[index].process else { return };
        let added = process.following.insert(author);
        if !added {
            process.following.remove(&author);
        }
        let actions = process.replicator.interest_changed(self.now, &[(author_key(author), added)]);
        self.run(index, actions);
    }

    fn publish(&mut self) {
        let index = self.random.below(self.nodes.len() as u64) as usize;
        if self.nodes[index].process.is_none() {
            return;
        }
        // Sometimes a client publishes an event it already sent to another node; sometimes an
        // operator makes a change there.
        let id = match self.acknowledged.keys().next_back() {
            Some(&existing) if self.random.chance(10) => existing,
            _ if self.random.chance(8) => self.policy_entry(index),
            _ => {
                self.next_event += 1;
                let mut id = [0; 32];
                id[..8].copy_from_slice(&self.next_event.to_be_bytes());
                id
            }
        };
        let node = &mut self.nodes[index];
        let process = node.process.as_mut().expect("up");
        let own_log = (node.store.me, node.store.epoch | u64::from(class_of(&id)));
        let new_log = !node.store.cursors.contains_key(&own_log);
        if node.store.insert(id, None) {
            assert!(process.delivered.insert(id) || node.store.removed_by_ban.contains(&id), "delivered twice");
            let position = node.store.last_seq;
            let mut actions = process.replicator.local_commit(self.now, &node.store, vec![(position, probe(&id))]);
            if new_log {
                // Half the time, as the real node does; else the periodic heads tell the peers.
                if self.random.chance(50) {
                    actions.extend(process.replicator.own_log_started(self.now, &node.store));
                }
            }
            self.acknowledged.entry(id).or_insert(index);
            self.run(index, actions);
        }
    }

    /// A change made on node `index`: a ban or an unban of one of three keys, or the ban of an
    /// acknowledged event. Its admin time is the simulated clock, in whole seconds sometimes
    /// (so entries of one key tie there and the node and id decide).
    fn policy_entry(&mut self, index: usize) -> [u8; 32] {
        self.next_event += 1;
        self.summary.entries += 1;
        let made_ms = if self.random.chance(50) { self.now / 1000 * 1000 } else { self.now };
        let events: Vec<u64> = self
            .acknowledged
            .keys()
            .filter(|id| !is_entry(id))
            .map(|id| u64::from_be_bytes(id[..8].try_into().expect("eight bytes")))
            .collect();
        if !events.is_empty() && self.random.chance(30) {
            let target = events[self.random.below(events.len() as u64) as usize];
            // Half the bans are tombstones that expire (`delete --keep-out-days`).
            let expires = if self.random.chance(50) { self.now + 1_000 + self.random.below(30_000) } else { 0 };
            return entry_id(self.next_event, BAN_EVENT, 0, index, target, made_ms, expires as u32);
        }
        let change = if self.random.chance(50) { BAN } else { UNBAN };
        entry_id(self.next_event, change, self.random.below(3) as u8, index, 0, made_ms, 0)
    }

    /// No node holds an event it has banned (a deleted id never comes back).
    fn check_bans(&self) {
        for (index, node) in self.nodes.iter().enumerate() {
            for (key, change) in &node.store.policy {
                let mut target = [0; 32];
                target[..8].copy_from_slice(&key.1);
                if *change == BAN_EVENT && node.store.is_banned(&target) {
                    assert!(!node.store.events.contains_key(&target), "node {index} holds event {:?} it banned", key.1);
                }
            }
        }
    }

    fn fault(&mut self) {
        let count = self.nodes.len();
        match self.random.below(100) {
            0..=39 => {
                let keys: Vec<(usize, usize)> = self.links.keys().copied().collect();
                if !keys.is_empty() {
                    let link = keys[self.random.below(keys.len() as u64) as usize];
                    self.summary.link_resets += 1;
                    self.cut(link);
                }
            }
            40..=59 => {
                self.summary.partitions += 1;
                for side in &mut self.side {
                    *side = self.random.below(2) as u8;
                }
                let links: Vec<(usize, usize)> = self.links.keys().copied().collect();
                for (a, b) in links {
                    if self.side[a] != self.side[b] {
                        self.cut((a, b));
                    }
                }
            }
            60..=69 => self.side = vec![0; count],
            70..=89 => {
                let index = self.random.below(count as u64) as usize;
                if self.nodes[index].process.is_some() {
                    self.crash(index);
                } else {
                    self.start(index);
                }
            }
            90..=94 => {
                let index = self.random.below(count as u64) as usize;
                if self.random.chance(30) {
                    self.wipe(index);
                }
            }
            _ => {
                let index = self.random.below(count as u64) as usize;
                let source = self.random.below(count as u64) as usize;
                if index != source && self.random.chance(20) {
                    self.seed_from_export(index, source);
                }
            }
        }
    }

    fn heal(&mut self) {
        self.side = vec![0; self.nodes.len()];
        for index in 0..self.nodes.len() {
            if self.nodes[index].process.is_none() {
                self.start(index);
            }
        }
    }

    fn check(&self, seed: u64) {
        // Events some ban named that no ban holds at the end (its tombstone expired, or its
        // entry was lost with a wipe before anyone pulled it): while the ban held, the nodes
        // that applied it refused the event and served its logs with a hole there, so a node
        // whose cursor passed then never pulls it, while a node that never applied the ban
        // keeps it. Anti-entropy settles those within its window; the simulation has none, so
        // they are left out of the comparisons below.
        let lapsed: BTreeSet<[u8; 32]> = self
            .acknowledged
            .keys()
            .filter(|id| is_entry(id) && id[9] == BAN_EVENT)
            .map(banned_event)
            .filter(|target| !self.nodes[0].store.is_banned(target))
            .collect();
        let compared = |store: &SimStore| -> BTreeSet<[u8; 32]> {
            store.events.keys().filter(|id| !lapsed.contains(*id)).copied().collect()
        };
        let reference = compared(&self.nodes[0].store);
        for (index, node) in self.nodes.iter().enumerate() {
            let held = compared(&node.store);
            if held != reference {
                let name = |id: &[u8; 32]| u64::from_be_bytes(id[..8].try_into().expect("eight bytes"));
                let missing: Vec<u64> = reference.difference(&held).map(name).take(10).collect();
                let extra: Vec<u64> = held.difference(&reference).map(name).take(10).collect();
                self.describe();
                for id in reference.difference(&held).take(3) {
                    let (_, origin, epoch, origin_seq) = self.nodes[0].store.events[id];
                    eprintln!("event {}: log {}:{:x} position {origin_seq}", name(id), origin[0] - 1, epoch >> 48);
                    for (holder, node) in self.nodes.iter().enumerate() {
                        if let Some((_, origin, epoch, origin_seq)) = node.store.events.get(id) {
                            eprintln!("  node {holder} holds it at {}:{:x} {origin_seq}", origin[0] - 1, epoch >> 48);
                        }
                    }
                }
                panic!("seed {seed}: node {index} lacks {missing:?} of node 0 and has {extra:?} it lacks");
            }
        }
        // A cursor covers every position of its log that any node holds: a node never claims
        // a log whole while lacking some of it (it would serve the log with holes).
        for (index, node) in self.nodes.iter().enumerate() {
            for head in node.store.heads() {
                for (holder, other) in self.nodes.iter().enumerate() {
                    let log = (head.origin, head.epoch, 0)..(head.origin, head.epoch, head.next_seq);
                    for (&(_, _, position), id) in other.store.origin_log.range(log) {
                        if lapsed.contains(id) {
                            continue;
                        }
                        let held = node.store.origin_log.get(&(head.origin, head.epoch, position));
                        assert!(
                            held == Some(id),
                            "seed {seed}: node {index}'s cursor of log {}:{:x} is {} but it lacks position \
                             {position}, which node {holder} holds",
                            head.origin[0] - 1,
                            head.epoch >> 48,
                            head.next_seq
                        );
                    }
                }
            }
        }
        // One policy everywhere, and on each node the fold of the entries it holds.
        let policy = self.nodes[0].store.folded_policy();
        for (index, node) in self.nodes.iter().enumerate() {
            assert_eq!(
                node.store.policy,
                node.store.folded_policy(),
                "seed {seed}: node {index} applied a stale entry"
            );
            assert_eq!(node.store.policy, policy, "seed {seed}: node {index}'s policy differs from node 0's");
        }
        // Events some ban named: gone while it held (an expired one lets them come back only if
        // sent again).
        let banned_once: BTreeSet<[u8; 32]> =
            self.acknowledged.keys().filter(|id| is_entry(id) && id[9] == BAN_EVENT).map(banned_event).collect();
        for (id, acceptor) in &self.acknowledged {
            let lost_with_wipe = self.wiped_acceptor.contains(id);
            let expired = entry_expiry(id).is_some_and(|at| at <= self.now);
            let banned = self.nodes[0].store.is_banned(id);
            assert!(!(banned && reference.contains(id)), "seed {seed}: banned event {:?} is held", &id[..8]);
            assert!(
                reference.contains(id) || lost_with_wipe || banned_once.contains(id) || expired,
                "seed {seed}: event {:?} acknowledged by node {acceptor} is missing everywhere",
                &id[..8]
            );
        }
    }

    /// Every node's logs and where its events came from (printed when a check fails).
    fn describe(&self) {
        for (index, node) in self.nodes.iter().enumerate() {
            let heads: Vec<String> = node
                .store
                .heads()
                .iter()
                .map(|head| format!("{}:{:x}:{}", head.origin[0] - 1, head.epoch >> 48, head.next_seq))
                .collect();
            eprintln!("node {index}: {} events, logs {heads:?}", node.store.events.len());
        }
    }
}

fn run_seed(seed: u64) -> Summary {
    let mut sim = Sim::new(seed);
    sim.connect();
    let steps = 200 + sim.random.below(800);
    for _ in 0..steps {
        let tick = 1 + sim.random.below(60);
        if sim.random.chance(30) {
            sim.publish();
        }
        if sim.random.chance(5) {
            sim.follow();
        }
        if sim.random.chance(3) {
            sim.fault();
        }
        sim.connect();
        sim.step(tick);
    }
    sim.heal();
    // Quiescence: long enough for reconnection, fallback timeouts and every log to be pulled.
    let quiet_until = sim.now + 20_000;
    while sim.now < quiet_until {
        sim.connect();
        sim.step(50);
    }
    sim.check(seed);
    for index in 0..sim.nodes.len() {
        sim.count_stats(index);
    }
    sim.summary.events = sim.acknowledged.len() as u64;
    let heads = sim.nodes.iter().flat_map(|node| node.store.heads());
    sim.summary.class_logs = heads.filter(|head| head.epoch & LOG_CLASS_MASK == 1).count() as u64;
    sim.summary.events_banned =
        sim.nodes[0].store.policy.values().filter(|change| **change == BAN_EVENT).count() as u64;
    sim.summary
}

#[test]
fn replication_converges_under_faults() {
    if let Some(seed) = std::env::var("PARRHESIA_SEED").ok().and_then(|text| text.parse().ok()) {
        eprintln!("replaying seed {seed}");
        eprintln!("{:?}", run_seed(seed));
        return;
    }
    let seeds: u64 = std::env::var("PARRHESIA_SIM_SEEDS").ok().and_then(|text| text.parse().ok()).unwrap_or(1000);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs();
    // Runs split across processes each take their own range.
    let first = std::env::var("PARRHESIA_SIM_FIRST_SEED").ok().and_then(|text| text.parse().ok()).unwrap_or(now);
    eprintln!("simulating seeds {first}..{} (replay one with PARRHESIA_SEED=N)", first + seeds);
    let mut total = Summary::default();
    for seed in first..first + seeds {
        match std::panic::catch_unwind(|| run_seed(seed)) {
            Ok(summary) => total.add(&summary),
            Err(panic) => {
                eprintln!("seed {seed} failed; replay with PARRHESIA_SEED={seed}");
                std::panic::resume_unwind(panic);
            }
        }
    }
    eprintln!("{seeds} seeds: {total:?}");
    let exercised = total.wipes > 0
        && total.fallback_pulls > 0
        && total.partitions > 0
        && total.batches_retried > 0
        && total.summary_requests > 0
        && total.pushed > 0
        && total.avoided > 0
        && total.seeded > 0
        && total.class_logs > 0
        && total.positions_held > 0
        && total.events_fetched > 0
        && total.entries > 0
        && total.events_banned > 0;
    assert!(exercised, "the faults were exercised");
}

/// The simulator's store keeps the contract the node's LMDB store is held to as well
/// (`shard/src/cluster/store_log.rs`): what the simulation shows holds for the real store.
#[test]
fn the_simulated_store_keeps_the_store_contract() {
    store_contract::check_all(|| SimStore::new(node_id(0), 0x1234_5678_0000_0000));
}
