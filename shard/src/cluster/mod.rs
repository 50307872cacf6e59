//! The cluster executor: one glommio executor that owns the node's links to its peers (TCP,
//! mutually authenticated), drives the sans-I/O `Replicator` with their frames, a 100 ms
//! tick and the writer's notices, hands pulled batches to the writer and ephemeral events
//! between the shards and the peers. The protocol itself is in `parrhesia_net::cluster`.

mod anti_entropy;
mod link;
mod membership;
mod store_log;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use glommio::channels::shared_channel::{ConnectedSender, SharedReceiver, SharedSender};
use glommio::net::{TcpListener, UdpSocket};
use parrhesia_engine::{Event, EventProbe, Limits};
use parrhesia_net::NodeKey;
use parrhesia_net::cluster::NodeId;
use parrhesia_net::cluster::frame::{Message, WireEvent};
use parrhesia_net::cluster::handshake::Admission;
use parrhesia_net::cluster::membership::{Member, Membership};
use parrhesia_net::cluster::queues::{CONTROL, ClassConfig, LinkQueues};
use parrhesia_net::cluster::replication::{Action, ApplyBatch, ReplicationConfig, Replicator};
use parrhesia_storage::Store;

use crate::config::ClusterConfig;
use crate::messages::{Ephemeral, ReplicatedBatch, ToCluster, ToWriter, WriterNotice};
pub use crate::metrics::ClusterMetrics;
use crate::metrics::{OriginFigures, PeerFigures, QueueFigures};
use crate::notify::Notify;
use crate::shard::with_pulse;
use link::Link;
use store_log::StoreLog;

/// How often the replicator's timers are looked at.
const TICK: Duration = Duration::from_millis(100);

/// What the cluster executor is started with.
pub struct ClusterSetup {
    pub config: ClusterConfig,
    pub key: NodeKey,
    pub store: Store,
    pub limits: Limits,
    pub to_writer: SharedSender<ToWriter>,
    pub from_writer: SharedReceiver<WriterNotice>,
    pub to_shards: Vec<SharedSender<Ephemeral>>,
    pub from_shards: Vec<SharedReceiver<ToCluster>>,
    pub shutdown: Arc<AtomicBool>,
    /// Told once the link listener is bound (or failed to bind).
    pub bound: std::sync::mpsc::Sender<Result<(), String>>,
    pub metrics: Arc<ClusterMetrics>,
}

/// The node as its tasks share it (one executor: `Rc`/`RefCell`).
pub struct Node {
    pub me: NodeId,
    pub key: NodeKey,
    pub config: ClusterConfig,
    pub admission: Admission,
    store: StoreLog,
    limits: Limits,
    replicator: RefCell<Replicator>,
    pub links: RefCell<HashMap<NodeId, Rc<Link>>>,
    next_link: Cell<u64>,
    /// Connections in their handshake now.
    handshakes: Cell<usize>,
    /// Member addresses that are names: what they resolved to, and when (milliseconds).
    resolved: RefCell<HashMap<String, (Option<std::net::SocketAddr>, u64)>>,
    pub membership: RefCell<Membership>,
    membership_socket: RefCell<Option<Rc<UdpSocket>>>,
    /// Live members, by key.
    pub members: RefCell<HashMap<NodeId, Member>>,
    /// Members this node is dialling (it has the smaller key).
    pub member_dials: RefCell<HashSet<NodeId>>,
    /// Where each linked peer said it listens.
    link_addresses: RefCell<HashMap<NodeId, String>>,
    /// Addresses the seeds resolved to at the last look, and those with a dial loop.
    seeds_resolved: RefCell<HashSet<std::net::SocketAddr>>,
    seed_addresses: RefCell<HashSet<std::net::SocketAddr>>,
    /// Peers whose link went down, and when (partition detection).
    links_lost: RefCell<HashMap<NodeId, u64>>,
    applies: RefCell<VecDeque<ApplyBatch>>,
    /// Events anti-entropy fetched, for the writer.
    repairs: RefCell<VecDeque<Vec<Event>>>,
    apply_wake: Notify,
    anti_entropy: anti_entropy::AntiEntropy,
    deliveries: RefCell<VecDeque<Event>>,
    deliver_wake: Notify,
    started: Instant,
    pub stopping: Cell<bool>,
    pub stop: Notify,
    pub counters: Arc<ClusterMetrics>,
    /// Links authenticated per peer over this run (a reconnect adds one).
    pub links_up_by_peer: RefCell<HashMap<NodeId, u64>>,
    /// Origins this node is behind, and since when (milliseconds of `now_ms`).
    behind_since: RefCell<HashMap<NodeId, u64>>,
    /// Bytes of interest summaries sent per peer (this run).
    summary_bytes_sent: RefCell<HashMap<NodeId, u64>>,
    /// A link's traffic classes besides control: replication, live, sync, then for each of
    /// `traffic_classes` its live queue and its stored-events queue.
    classes: Vec<ClassConfig>,
    /// Ephemeral kinds with a class of their own: the class's live queue.
    kind_class: HashMap<u16, usize>,
    /// Per log class (1, 2, ...: the position in `traffic_classes`), the queue of its pulled
    /// batches.
    log_class_queue: Vec<usize>,
    /// Kinds with a log class, and the classes whose own log this run has begun.
    log_classes: HashMap<u16, u8>,
    own_logs_started: RefCell<std::collections::HashSet<u8>>,
    /// Frames and bytes dropped per peer and class (over every link to it this run).
    class_drops: RefCell<HashMap<(NodeId, usize), (u64, u64)>>,
}

/// The classes every link has (indices into `Node::classes`).
const REPLICATION: usize = 0;
const LIVE: usize = 1;
const SYNC: usize = 2;

impl Node {
    /// A new link's empty queues.
    pub fn link_queues(&self) -> LinkQueues {
        LinkQueues::new(self.config.link_queue_bytes_max, self.classes.clone())
    }

    /// The traffic class a frame travels in.
    fn class_of(&self, message: &Message) -> usize {
        match message {
            Message::Batch(batch) => self.replication_queue(batch.epoch),
            Message::Positions(positions) => self.replication_queue(positions.epoch),
            Message::Fetched(fetched) => self.replication_queue(fetched.epoch),
            Message::SyncOpen(_)
            | Message::SyncMsg(_)
            | Message::SyncFetch(_)
            | Message::SyncEvents(_)
            | Message::SyncErr(_) => SYNC,
            Message::Ephemeral(event) => {
                event.kind().and_then(|kind| self.kind_class.get(&kind).copied()).unwrap_or(LIVE)
            }
            _ => CONTROL,
        }
    }

    /// The queue of a log's batches: its class's stored-events queue, or replication.
    fn replication_queue(&self, epoch: u64) -> usize {
        let class = usize::from(parrhesia_net::cluster::replication::log_class(epoch));
        class.checked_sub(1).and_then(|index| self.log_class_queue.get(index)).copied().unwrap_or(REPLICATION)
    }

    /// host:port others should use to reach this node.
    pub fn advertise(&self) -> &str {
        self.config.advertise.as_deref().unwrap_or(&self.config.listen)
    }

    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn next_link_id(&self) -> u64 {
        self.next_link.set(self.next_link.get() + 1);
        self.next_link.get()
    }

    /// Copies what the sans-I/O parts count, and the link and member gauges, into the metrics.
    fn publish_metrics(&self) {
        let stats = &self.replicator.borrow().stats;
        let replication = [
            stats.pulls_sent,
            stats.pulls_served,
            stats.pulls_parked,
            stats.pull_timeouts,
            stats.fallback_pulls,
            stats.batches_applied,
            stats.batches_retried,
            stats.events_received,
            stats.events_served,
            stats.resets_sent,
            stats.resets_received,
            stats.ephemeral_sent,
            stats.ephemeral_delivered,
            stats.ephemeral_duplicates,
            stats.ids_pulls_sent,
            stats.positions_held,
            stats.fetches_sent,
            stats.events_fetched,
        ];
        ClusterMetrics::copy(&self.counters.replication, &replication);
        let members = &self.membership.borrow().stats;
        let membership = [members.joins, members.suspicions, members.downs, members.rejoins, members.foca_errors];
        ClusterMetrics::copy(&self.counters.membership, &membership);
        self.counters.links_open.set(self.links.borrow().len() as i64);
        self.counters.members_up.set(self.members.borrow().len() as i64);
        let (alive, suspect, down) = self.membership.borrow().counts_by_state();
        for (gauge, count) in self.counters.members_by_state.iter().zip([alive, suspect, down]) {
            gauge.set(count as i64);
        }
        let now = self.now_ms();
        let replicator = self.replicator.borrow();
        for (gauge, keys) in self.counters.summary_keys.iter().zip(replicator.summary_keys()) {
            gauge.set(keys as i64);
        }
        let ages: HashMap<NodeId, Option<u64>> = replicator.summary_ages(now).into_iter().collect();
        // Every peer linked now or with interest counters from earlier links (counters stay).
        let mut keys: HashSet<NodeId> = self.links.borrow().keys().copied().collect();
        keys.extend(replicator.live_stats().keys());
        let peers = keys
            .into_iter()
            .map(|peer| {
                let link = self.links.borrow().get(&peer).cloned();
                let figures = PeerFigures {
                    rtt_seconds: link.and_then(|link| link.round_trip.get()).map(|rtt| rtt.as_secs_f64()),
                    links_up: self.links_up_by_peer.borrow().get(&peer).copied().unwrap_or(0),
                    live: replicator.live_stats().get(&peer).copied().unwrap_or_default(),
                    summary_age_seconds: ages.get(&peer).copied().flatten().map(|age| age as f64 / 1000.0),
                    summary_bytes_sent: self.summary_bytes_sent.borrow().get(&peer).copied().unwrap_or(0),
                };
                (parrhesia_net::identity_hex(&peer), figures)
            })
            .collect();
        drop(replicator);
        let mut behind_since = self.behind_since.borrow_mut();
        let origins = self
            .replicator
            .borrow()
            .backlog()
            .into_iter()
            .map(|(origin, backlog)| {
                let behind_seconds = if backlog.behind_positions == 0 {
                    behind_since.remove(&origin);
                    0.0
                } else {
                    (now - *behind_since.entry(origin).or_insert(now)) as f64 / 1000.0
                };
                let figures = OriginFigures {
                    held_positions: backlog.held_positions,
                    behind_positions: backlog.behind_positions,
                    resets_received: backlog.resets_received,
                    behind_seconds,
                };
                (parrhesia_net::identity_hex(&origin), figures)
            })
            .collect();
        let mut queues = std::collections::BTreeMap::new();
        let drops = self.class_drops.borrow();
        let mut peers_with_queues: HashSet<NodeId> = drops.keys().map(|(peer, _)| *peer).collect();
        peers_with_queues.extend(self.links.borrow().keys());
        for peer in peers_with_queues {
            let link = self.links.borrow().get(&peer).cloned();
            let figures = link.map(|link| link.queues.borrow().figures());
            // Control first (index 0 of the figures), then the classes.
            for (index, name) in
                std::iter::once("control").chain(self.classes.iter().map(|c| c.name.as_str())).enumerate()
            {
                let class = if index == 0 { CONTROL } else { index - 1 };
                let queued = figures.as_ref().and_then(|figures| figures.get(index));
                let (dropped_frames, dropped_bytes) = drops.get(&(peer, class)).copied().unwrap_or_default();
                let entry = QueueFigures {
                    queued_frames: queued.map_or(0, |queued| queued.queued_frames as u64),
                    queued_bytes: queued.map_or(0, |queued| queued.queued_bytes as u64),
                    dropped_frames,
                    dropped_bytes,
                };
                queues.insert((parrhesia_net::identity_hex(&peer), name.to_string()), entry);
            }
        }
        self.counters.publish_links_and_origins(peers, origins, queues);
    }

    /// Sends one frame to a linked peer (dropped if there is no link), in its class.
    pub fn send_to(&self, peer: NodeId, message: Message) {
        self.execute(vec![Action::Send { peer, message }]);
    }

    /// Carries out the replicator's actions. Never touches the replicator itself.
    pub fn execute(&self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send { peer, message } => {
                    let link = self.links.borrow().get(&peer).cloned();
                    if let Some(link) = link {
                        let frame = message.encode();
                        if matches!(message, Message::SummaryFull(_) | Message::SummaryDelta(_)) {
                            *self.summary_bytes_sent.borrow_mut().entry(peer).or_default() += frame.len() as u64;
                        }
                        let class = self.class_of(&message);
                        if let Some((frames, bytes)) = link.send(class, frame, &self.counters) {
                            let mut drops = self.class_drops.borrow_mut();
                            let entry = drops.entry((peer, class)).or_default();
                            entry.0 += frames as u64;
                            entry.1 += bytes as u64;
                        }
                    }
                }
                Action::Apply(batch) => {
                    self.applies.borrow_mut().push_back(batch);
                    self.apply_wake.notify_all();
                }
                Action::Deliver(wire) => match self.event_of(&wire) {
                    Some(event) => {
                        self.deliveries.borrow_mut().push_back(event);
                        self.deliver_wake.notify_all();
                    }
                    None => self.counters.replicated_events_invalid.inc(),
                },
                Action::Close { peer, reason } => {
                    let link = self.links.borrow().get(&peer).cloned();
                    if let Some(link) = link {
                        tracing::warn!(peer = %parrhesia_net::identity_hex(&peer), %reason, "closing link: protocol error");
                        self.counters.failure("protocol");
                        link.close();
                    }
                }
            }
        }
    }

    /// Runs `change` on the replicator and carries out what it asks.
    pub fn drive(&self, change: impl FnOnce(&mut Replicator, u64, &StoreLog) -> Vec<Action>) {
        let actions = change(&mut self.replicator.borrow_mut(), self.now_ms(), &self.store);
        self.execute(actions);
    }

    /// An event from a peer, checked as a client's would be (id, limits) and, with
    /// `verify_replicated`, its signature. `None` (logged) if it does not hold.
    fn event_of(&self, wire: &WireEvent) -> Option<Event> {
        let json = parrhesia_storage::record::json_from_parts(&wire.id, &wire.pubkey, &wire.sig, &wire.middle);
        let parsed = String::from_utf8(json).map_err(|_| "not UTF-8".to_string()).and_then(|json| {
            let event = Event::parse(&json, &self.limits).map_err(|reason| reason.to_string())?;
            if self.config.verify_replicated {
                event.verify_signature().map_err(|reason| reason.to_string())?;
            }
            Ok(event)
        });
        match parsed {
            Ok(event) => Some(event),
            Err(reason) => {
                tracing::warn!(id = %parrhesia_engine::hex::encode(&wire.id), %reason, "dropping an invalid event from a peer");
                None
            }
        }
    }
}

/// An event as replication and ephemeral forwarding carry it.
fn wire_of(event: &Event) -> WireEvent {
    WireEvent {
        origin_seq: 0,
        id: *event.id(),
        pubkey: *event.pubkey(),
        sig: *event.sig(),
        middle: parrhesia_storage::record::json_middle(event.json()).to_vec(),
    }
}

/// Runs the cluster executor until shutdown.
pub async fn run(setup: ClusterSetup) {
    let me = setup.key.public();
    let mut origins = setup.config.allowed_peer_keys();
    origins.extend([me, [0; 32]]);
    let replication = ReplicationConfig {
        pull_events_max: setup.config.pull_events_max,
        pull_bytes_max: setup.config.pull_bytes_max,
        ids_pull_max: setup.config.pull_ids_max,
        ids_pull_behind: setup.config.pull_ids_behind,
        origin_timeout_ms: setup.config.origin_timeout_seconds * 1000,
        origins,
        linger_ms: setup.config.replication_linger_ms,
        unix_offset_ms: crate::unix_now_ms(),
        ..ReplicationConfig::default()
    };
    let store = StoreLog(setup.store);
    let admission = Admission {
        cluster_id: setup.config.cluster_id.clone(),
        own_key: me,
        allowed_peers: setup.config.allowed_peer_keys(),
    };
    let bound = TcpListener::bind(setup.config.listen.as_str())
        .and_then(|listener| Ok((listener, UdpSocket::bind(setup.config.listen.as_str())?)));
    let (listener, socket) = match bound {
        Ok(bound) => {
            let _ = setup.bound.send(Ok(()));
            bound
        }
        Err(error) => {
            let _ = setup
                .bound
                .send(Err(format!("the cluster cannot bind {} (TCP and UDP): {error}", setup.config.listen)));
            return;
        }
    };
    let started_unix_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64);
    let advertise = setup.config.advertise.clone().unwrap_or_else(|| setup.config.listen.clone());
    // A restarted node's bump is larger than its last run's, so its new self wins everywhere.
    let member = Member { key: me, address: advertise, bump: started_unix_ms };
    let membership = Membership::new(
        member,
        setup.key.clone(),
        setup.config.cluster_id.clone(),
        setup.config.allowed_peer_keys(),
        started_unix_ms ^ u64::from_be_bytes(me[..8].try_into().expect("eight bytes")),
    );
    let socket = Rc::new(socket);
    let mut classes = vec![
        ClassConfig {
            name: "replication".into(),
            weight: setup.config.link_replication_weight,
            bytes_max: setup.config.link_queue_bytes_max,
            drop_oldest: false,
        },
        ClassConfig {
            name: "live".into(),
            weight: setup.config.link_live_weight,
            bytes_max: setup.config.link_live_queue_bytes_max,
            drop_oldest: true,
        },
        // Anti-entropy: request-driven (bounded by its sessions), never dropped.
        ClassConfig {
            name: "sync".into(),
            weight: 1,
            bytes_max: setup.config.link_queue_bytes_max,
            drop_oldest: false,
        },
    ];
    let (mut kind_class, mut log_class_queue) = (HashMap::new(), Vec::new());
    for (name, weight, kinds) in setup.config.kind_classes().expect("validated at load") {
        kind_class.extend(kinds.into_iter().map(|kind| (kind, classes.len())));
        classes.push(ClassConfig {
            name: name.clone(),
            weight,
            bytes_max: setup.config.link_live_queue_bytes_max,
            drop_oldest: true,
        });
        // The class's stored events: their own log per origin, pulled, never dropped.
        log_class_queue.push(classes.len());
        classes.push(ClassConfig {
            name: format!("{name}_stored"),
            weight,
            bytes_max: setup.config.link_queue_bytes_max,
            drop_oldest: false,
        });
    }
    let node = Rc::new(Node {
        me,
        replicator: RefCell::new(Replicator::new(me, replication, 0, &store)),
        key: setup.key,
        admission,
        store,
        limits: setup.limits,
        links: RefCell::default(),
        next_link: Cell::new(0),
        handshakes: Cell::new(0),
        resolved: RefCell::default(),
        membership: RefCell::new(membership),
        membership_socket: RefCell::new(Some(socket.clone())),
        members: RefCell::default(),
        member_dials: RefCell::default(),
        link_addresses: RefCell::default(),
        links_lost: RefCell::default(),
        seeds_resolved: RefCell::default(),
        seed_addresses: RefCell::default(),
        applies: RefCell::default(),
        repairs: RefCell::default(),
        apply_wake: Notify::default(),
        anti_entropy: anti_entropy::AntiEntropy::default(),
        deliveries: RefCell::default(),
        deliver_wake: Notify::default(),
        started: Instant::now(),
        stopping: Cell::new(false),
        stop: Notify::default(),
        counters: setup.metrics,
        links_up_by_peer: RefCell::default(),
        behind_since: RefCell::default(),
        summary_bytes_sent: RefCell::default(),
        classes,
        kind_class,
        log_class_queue,
        log_classes: setup.config.log_classes().expect("validated at load"),
        own_logs_started: RefCell::default(),
        class_drops: RefCell::default(),
        config: setup.config,
    });
    tracing::info!(node = %parrhesia_net::identity_hex(&me), listen = %node.config.listen, "cluster links listening");
    let mut tasks = vec![
        glommio::spawn_local(apply_loop(node.clone(), setup.to_writer)),
        glommio::spawn_local(notice_loop(node.clone(), setup.from_writer)),
        glommio::spawn_local(deliver_loop(node.clone(), setup.to_shards)),
        glommio::spawn_local(link::accept_loop(node.clone(), listener)),
        glommio::spawn_local(membership::receive_loop(node.clone(), socket.clone())),
        glommio::spawn_local(membership::timer_loop(node.clone(), socket)),
    ];
    for receiver in setup.from_shards {
        tasks.push(glommio::spawn_local(shard_loop(node.clone(), receiver)));
    }
    tasks.push(glommio::spawn_local(link::seed_loop(node.clone(), node.config.seeds.clone())));
    tasks.push(glommio::spawn_local(anti_entropy::run(node.clone())));
    let mut metrics_published = Instant::now();
    while !setup.shutdown.load(Ordering::Relaxed) {
        // Wake for the replicator's next deadline (a lingering pull, a summary delta), at
        // least every tick.
        let deadline = node.replicator.borrow().next_deadline_ms();
        let wait = Duration::from_millis(deadline.saturating_sub(node.now_ms()).max(1)).min(TICK);
        glommio::timer::sleep(wait).await;
        node.drive(|replicator, now, store| replicator.tick(now, store));
        if metrics_published.elapsed() >= TICK {
            node.publish_metrics();
            metrics_published = Instant::now();
        }
    }
    node.stopping.set(true);
    node.stop.notify_all();
    let links: Vec<Rc<Link>> = node.links.borrow().values().cloned().collect();
    for link in links {
        link.close();
    }
    node.apply_wake.notify_all();
    node.deliver_wake.notify_all();
    // Tasks blocked on channels from the shards and the writer end when those close; the
    // rest end on `stop`. Give them a moment, then drop what is left.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !node.links.borrow().is_empty() && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    drop(tasks);
    let stats = &node.replicator.borrow().stats;
    let counters = &node.counters;
    let members = &node.membership.borrow().stats;
    eprintln!(
        "parrhesia cluster stopped: joins {} suspicions {} downs {} rejoins {} partitions {}, links opened {}, link \
         bytes sent {} received {}, events received {} served {}, batches applied {}, fallback pulls {}",
        members.joins,
        members.suspicions,
        members.downs,
        members.rejoins,
        counters.partitions_detected.get(),
        counters.links_opened.get(),
        counters.link_bytes_sent.get(),
        counters.link_bytes_received.get(),
        stats.events_received,
        stats.events_served,
        stats.batches_applied,
        stats.fallback_pulls
    );
}

/// Hands batches the replicator pulled to the writer, as events checked like a client's.
async fn apply_loop(node: Rc<Node>, to_writer: SharedSender<ToWriter>) {
    let to_writer = with_pulse(to_writer.connect()).await;
    loop {
        let repair = node.repairs.borrow_mut().pop_front();
        if let Some(events) = repair {
            if to_writer.send(ToWriter::Repair(events)).await.is_err() {
                return; // the writer has stopped: shutdown
            }
            continue;
        }
        let next = node.applies.borrow_mut().pop_front();
        let Some(batch) = next else {
            if node.stopping.get() {
                return;
            }
            node.apply_wake.notified().await;
            continue;
        };
        let events: Vec<(u64, Event)> = batch
            .events
            .iter()
            .filter_map(|wire| {
                let event = node.event_of(wire);
                if event.is_none() {
                    node.counters.replicated_events_invalid.inc();
                }
                event.map(|event| (wire.origin_seq, event))
            })
            .collect();
        let request = ReplicatedBatch {
            origin: batch.origin,
            epoch: batch.epoch,
            from_seq: batch.from_seq,
            next_seq: batch.next_seq,
            events,
            positions: batch.positions.iter().map(|held| (held.position, held.id)).collect(),
            origin_commit_unix_ms: batch.origin_commit_unix_ms,
        };
        if to_writer.send(ToWriter::Replicated(request)).await.is_err() {
            return; // the writer has stopped: shutdown
        }
    }
}

/// What the writer says: the own log grew, or a batch was applied.
async fn notice_loop(node: Rc<Node>, from_writer: SharedReceiver<WriterNotice>) {
    let from_writer = with_pulse(from_writer.connect()).await;
    while let Some(notice) = from_writer.recv().await {
        match notice {
            WriterNotice::Committed(events) => {
                let tags_max = node.config.summary_tag_probes_max;
                let committed = events.iter().map(|(seq, event)| (*seq, EventProbe::of(event, tags_max))).collect();
                node.drive(|replicator, now, store| replicator.local_commit(now, store, committed));
                // The first event of a class of kinds this run begins that class's log.
                let started = events.iter().any(|(_, event)| {
                    node.log_classes
                        .get(&event.kind())
                        .is_some_and(|class| node.own_logs_started.borrow_mut().insert(*class))
                });
                if started {
                    node.drive(|replicator, now, store| replicator.own_log_started(now, store));
                }
            }
            WriterNotice::Applied(batch) => node.drive(|replicator, now, store| replicator.applied(now, batch, store)),
        }
    }
}

/// Ephemeral events from a peer, to every shard's subscribers (best effort).
async fn deliver_loop(node: Rc<Node>, to_shards: Vec<SharedSender<Ephemeral>>) {
    let mut shards: Vec<ConnectedSender<Ephemeral>> = Vec::new();
    for sender in to_shards {
        shards.push(with_pulse(sender.connect()).await);
    }
    loop {
        let next = node.deliveries.borrow_mut().pop_front();
        match next {
            Some(event) => {
                for shard in &shards {
                    let _ = shard.try_send(Ephemeral { event: event.clone() });
                }
            }
            None if node.stopping.get() => return,
            None => node.deliver_wake.notified().await,
        }
    }
}

/// What one shard sends: ephemeral events for the peers whose summaries may want them, and
/// its subscriptions' interest changes for this node's summary.
async fn shard_loop(node: Rc<Node>, from_shard: SharedReceiver<ToCluster>) {
    let from_shard = with_pulse(from_shard.connect()).await;
    while let Some(message) = from_shard.recv().await {
        match message {
            ToCluster::Ephemeral(event) => {
                let probe = EventProbe::of(&event, node.config.summary_tag_probes_max);
                let wire = wire_of(&event);
                node.drive(|replicator, now, _| replicator.local_ephemeral(now, wire, &probe));
            }
            ToCluster::Interest(changes) => {
                node.drive(|replicator, now, _| replicator.interest_changed(now, &changes));
            }
        }
    }
}
