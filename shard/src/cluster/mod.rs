//! The cluster executor: one glommio executor that keeps the node's view of its peers (the
//! links it keeps, the membership, the sans-I/O `Replicator` driven by the links' frames, a
//! 100 ms tick and the writer's notices), hands pulled batches to the writer and ephemeral
//! events between the shards and the peers. The links' sockets are the shards' (`link.rs`):
//! frames arrive decoded, their events checked, and leave through the link's queues. The
//! protocol itself is in `parrhesia_net::cluster`.

mod anti_entropy;
pub mod link;
mod links;
mod membership;
pub mod reload;
mod store_log;
pub mod transport;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use glommio::channels::shared_channel::{ConnectedSender, SharedReceiver, SharedSender};
use glommio::net::UdpSocket;
use parrhesia_engine::{Event, EventProbe, Limits};
use parrhesia_net::NodeKey;
use parrhesia_net::cluster::NodeId;
use parrhesia_net::cluster::frame::{Message, Setting, WireEvent};
use parrhesia_net::cluster::handshake::Admission;
use parrhesia_net::cluster::membership::{Member, Membership};
use parrhesia_net::cluster::queues::{CONTROL, ClassConfig};
use parrhesia_net::cluster::replication::{Action, ApplyBatch, ReplicationConfig, Replicator};
use parrhesia_storage::Store;

use crate::config::ClusterConfig;
use crate::executor::with_pulse;
use crate::messages::{Ephemeral, ReplicatedBatch, ToCluster, ToWriter, WriterNotice};
pub use crate::metrics::ClusterMetrics;
use crate::metrics::{OriginFigures, PeerFigures, QueueFigures};
use crate::notify::Notify;
use link::{CloseCause, FromLinks, ToLinks};
use links::Link;
use store_log::StoreLog;
use transport::SharedTerms;

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
    /// Per shard: requests to its links, and what its links report.
    pub to_links: Vec<SharedSender<ToLinks>>,
    pub from_links: Vec<SharedReceiver<FromLinks>>,
    pub shutdown: Arc<AtomicBool>,
    /// Told once the membership socket is bound (or failed to bind).
    pub bound: std::sync::mpsc::Sender<Result<(), String>>,
    pub metrics: Arc<ClusterMetrics>,
    /// Who may link and the address advertised, shared with the shards' links.
    pub terms: SharedTerms,
    pub reload: reload::Reload,
    /// The settings peers compare with theirs (`shared_settings`).
    pub settings: Vec<Setting>,
}

/// The node as its tasks share it (one executor: `Rc`/`RefCell`).
pub struct Node {
    pub me: NodeId,
    pub config: ClusterConfig,
    store: StoreLog,
    limits: Limits,
    replicator: RefCell<Replicator>,
    pub links: RefCell<HashMap<NodeId, Rc<Link>>>,
    /// Per shard, the requests for its links.
    to_links: Vec<links::ToShard>,
    next_dial: Cell<u64>,
    /// Dials that ended (their link, if any, ended too), by dial number.
    dials_ended: RefCell<HashMap<u64, (Option<NodeId>, bool)>>,
    dial_wake: Notify,
    /// The events of the frame being handled that its link's shard checked, by id.
    checked: RefCell<HashMap<[u8; 32], Event>>,
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
    /// Who may link and the address advertised, shared with the shards' links.
    terms: SharedTerms,
    /// `allowed_peers`, `seeds` and `advertise` as last loaded (`config` holds them as started;
    /// the keys and the address in effect are in `terms`).
    reloadable: RefCell<reload::Reloadable>,
    /// Wakes the seed loop (a reload changed the seeds).
    seed_wake: Notify,
    /// The settings peers compare with theirs, and per peer those it differed in at its last
    /// link up.
    settings: Vec<Setting>,
    config_mismatches: RefCell<HashMap<NodeId, Vec<String>>>,
    /// Addresses the seeds resolved to at the last look, and those with a dial loop.
    seeds_resolved: RefCell<HashSet<std::net::SocketAddr>>,
    seed_addresses: RefCell<HashSet<std::net::SocketAddr>>,
    /// Peers whose link went down, and when (partition detection).
    links_lost: RefCell<HashMap<NodeId, u64>>,
    applies: RefCell<VecDeque<ReplicatedBatch>>,
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
    /// Whether the peer is allowed now (a reload may have removed it).
    pub fn allows(&self, peer: &NodeId) -> bool {
        transport::read_terms(&self.terms).admission.allowed_peers.contains(peer)
    }

    /// The address this node advertises now.
    pub fn advertise(&self) -> String {
        transport::read_terms(&self.terms).advertise.clone()
    }

    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
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
        let refused = parrhesia_net::cluster::membership::REFUSALS
            .map(|reason| members.datagrams_refused.get(reason).copied().unwrap_or(0));
        ClusterMetrics::copy(&self.counters.membership_refused, &refused);
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
                    rtt_seconds: link.and_then(|link| link.shared.round_trip()).map(|rtt| rtt.as_secs_f64()),
                    links_up: self.links_up_by_peer.borrow().get(&peer).copied().unwrap_or(0),
                    live: replicator.live_stats().get(&peer).copied().unwrap_or_default(),
                    summary_age_seconds: ages.get(&peer).copied().flatten().map(|age| age as f64 / 1000.0),
                    summary_bytes_sent: self.summary_bytes_sent.borrow().get(&peer).copied().unwrap_or(0),
                    config_mismatches: self.config_mismatches.borrow().get(&peer).cloned().unwrap_or_default(),
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
            let figures = link.map(|link| link.shared.figures());
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
                        if let Some((frames, bytes)) = self.send_on(&link, class, frame) {
                            let mut drops = self.class_drops.borrow_mut();
                            let entry = drops.entry((peer, class)).or_default();
                            entry.0 += frames as u64;
                            entry.1 += bytes as u64;
                        }
                    }
                }
                Action::Apply(batch) => {
                    let batch = self.replicated(batch);
                    self.applies.borrow_mut().push_back(batch);
                    self.apply_wake.notify_all();
                }
                Action::Deliver(wire) => {
                    if let Some(event) = self.event_of(&wire) {
                        self.deliveries.borrow_mut().push_back(event);
                        self.deliver_wake.notify_all();
                    }
                }
                Action::Close { peer, reason } => {
                    let link = self.links.borrow().get(&peer).cloned();
                    if let Some(link) = link {
                        tracing::warn!(peer = %parrhesia_net::identity_hex(&peer), %reason, "closing link: protocol error");
                        self.close_link(&link, CloseCause::Protocol);
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
    /// `verify_replicated`, its signature: by the shard that received it (`checked`), or here
    /// if it was not (an event held over from an earlier frame) or did not hold. `None`
    /// (logged and counted) if it does not hold.
    fn event_of(&self, wire: &WireEvent) -> Option<Event> {
        // The id does not cover the signature: the checked event stands for this one only if
        // its signature is the same.
        let checked = self.checked.borrow_mut().remove(&wire.id);
        if let Some(event) = checked.filter(|event| event.sig() == &wire.sig) {
            return Some(event);
        }
        match link::check_event(wire, &self.limits, self.config.verify_replicated) {
            Ok(event) => Some(event),
            // An invalid event closed its link on the shard before its frame got here; one
            // past this node's limits is refused as a client's would be.
            Err(link::EventCheck::Refused(reason) | link::EventCheck::Invalid(reason)) => {
                tracing::warn!(id = %parrhesia_engine::hex::encode(&wire.id), %reason, "refusing an event from a peer");
                self.counters.replicated_events_invalid.inc();
                None
            }
        }
    }

    /// A batch the replicator pulled, as the writer takes it: its events checked.
    fn replicated(&self, batch: ApplyBatch) -> ReplicatedBatch {
        let events =
            batch.events.iter().filter_map(|wire| self.event_of(wire).map(|event| (wire.origin_seq, event))).collect();
        ReplicatedBatch {
            origin: batch.origin,
            epoch: batch.epoch,
            from_seq: batch.from_seq,
            next_seq: batch.next_seq,
            events,
            positions: batch.positions.iter().map(|held| (held.position, held.id)).collect(),
            origin_commit_unix_ms: batch.origin_commit_unix_ms,
        }
    }
}

/// The settings whose difference between two nodes changes what one stores or serves of the
/// other's events: compared when they link, a difference logged with both values and counted
/// (`parrhesia_cluster_config_mismatch{peer,setting}`). Never a refusal: nodes take a new value
/// one restart at a time, and a cluster must not split while it rolls out.
pub fn shared_settings(config: &crate::config::Config) -> Vec<Setting> {
    let setting = |name: &str, value: String| Setting { name: name.into(), value };
    let mut settings = vec![
        // A peer's event past these is refused here (and then missing from the logs this node
        // serves).
        setting("event_bytes_max", config.event_bytes_max.to_string()),
        setting("tags_per_event_max", config.tags_per_event_max.to_string()),
        // Who may read what: a subscriber on one node sees what another would hide.
        setting("read_restricted_kinds", format!("{:?}", config.read_restricted_kinds)),
        // One relay, one key: the events it signs must verify against one NIP-11 `self`.
        setting(
            "relay_key",
            config
                .relay_key()
                .ok()
                .flatten()
                .map_or("none".to_string(), |keys| parrhesia_engine::hex::encode(keys.public_key())),
        ),
        // Whose NIP-86 changes (policy entries) a node applies: one by a key it does not trust is
        // kept and changes nothing there.
        setting("admin_pubkeys", format!("{:?}", config.admin_pubkeys)),
        // Who may write, and whether membership requests are answered.
        setting("nip43", config.nip43.to_string()),
        setting("write_access", config.write_access.clone()),
        // What each node removes by age: a node that keeps less serves holes the others fill
        // again (and it removes them again).
        setting("retention_max_age_seconds", config.retention_max_age_seconds.to_string()),
        setting("retention_kinds", format!("{:?}", config.retention_kinds)),
        setting("retention_keep_replaceable", config.retention_keep_replaceable.to_string()),
        setting("retention_protected_pubkeys", format!("{:?}", config.retention_protected_pubkeys)),
    ];
    if let Some(cluster) = &config.cluster {
        // A class's log is numbered by its place in the list.
        settings.push(setting("cluster.traffic_classes", format!("{:?}", cluster.traffic_classes)));
        // Which NIP-62 requests remove an author's events here.
        settings.push(setting("cluster.relay_urls", format!("{:?}", cluster.relay_urls)));
        // A batch larger than a peer's frame limit closes its link, again and again.
        settings.push(setting("cluster.link_frame_bytes_max", cluster.link_frame_bytes_max.to_string()));
        settings.push(setting("cluster.pull_bytes_max", cluster.pull_bytes_max.to_string()));
    }
    settings
}

/// Who may link to a node with this configuration and key.
pub fn admission(config: &ClusterConfig, me: NodeId) -> Admission {
    Admission { cluster_id: config.cluster_id.clone(), own_key: me, allowed_peers: config.allowed_peer_keys() }
}

/// A link's traffic classes besides control, and which of them carry what.
pub struct LinkClasses {
    /// Replication, live, sync, then for each of `traffic_classes` its live queue and its
    /// stored-events queue, then the policy log's queue.
    pub classes: Vec<ClassConfig>,
    /// Ephemeral kinds with a class of their own: the class's live queue.
    pub kind_class: HashMap<u16, usize>,
    /// Per log class (1, 2, ...), the queue of its pulled batches.
    pub log_class_queue: Vec<usize>,
}

/// The traffic classes of every link of a node with this configuration.
pub fn link_classes(config: &ClusterConfig) -> LinkClasses {
    let mut classes = vec![
        ClassConfig {
            name: "replication".into(),
            weight: config.link_replication_weight,
            bytes_max: config.link_queue_bytes_max,
            drop_oldest: false,
        },
        ClassConfig {
            name: "live".into(),
            weight: config.link_live_weight,
            bytes_max: config.link_live_queue_bytes_max,
            drop_oldest: true,
        },
        // Anti-entropy: request-driven (bounded by its sessions), never dropped.
        ClassConfig { name: "sync".into(), weight: 1, bytes_max: config.link_queue_bytes_max, drop_oldest: false },
    ];
    let (mut kind_class, mut log_class_queue) = (HashMap::new(), Vec::new());
    for (name, weight, kinds) in config.kind_classes().expect("validated at load") {
        kind_class.extend(kinds.into_iter().map(|kind| (kind, classes.len())));
        classes.push(ClassConfig {
            name: name.clone(),
            weight,
            bytes_max: config.link_live_queue_bytes_max,
            drop_oldest: true,
        });
        // The class's stored events: their own log per origin, pulled, never dropped.
        log_class_queue.push(classes.len());
        classes.push(ClassConfig {
            name: format!("{name}_stored"),
            weight,
            bytes_max: config.link_queue_bytes_max,
            drop_oldest: false,
        });
    }
    // The policy log's class comes after the configured ones (`ClusterConfig::log_classes`).
    log_class_queue.push(classes.len());
    classes.push(ClassConfig {
        name: format!("{}_stored", crate::config::POLICY_CLASS),
        weight: config.link_replication_weight,
        bytes_max: config.link_queue_bytes_max,
        drop_oldest: false,
    });
    LinkClasses { classes, kind_class, log_class_queue }
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
        // The policy log's class comes after the configured ones (`ClusterConfig::log_classes`).
        eager_classes: vec![setup.config.kind_classes().map_or(0, |classes| classes.len()) as u8 + 1],
        unix_offset_ms: crate::system::unix_now_ms(),
        ..ReplicationConfig::default()
    };
    let store = StoreLog(setup.store);
    // The links' TCP port is bound by every shard; the membership's UDP port here.
    let socket = match UdpSocket::bind(setup.config.listen.as_str()) {
        Ok(socket) => {
            let _ = setup.bound.send(Ok(()));
            socket
        }
        Err(error) => {
            let _ = setup.bound.send(Err(format!("the cluster cannot bind {} (UDP): {error}", setup.config.listen)));
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
    let LinkClasses { classes, kind_class, log_class_queue } = link_classes(&setup.config);
    let node = Rc::new(Node {
        me,
        replicator: RefCell::new(Replicator::new(me, replication, 0, &store)),
        store,
        limits: setup.limits,
        links: RefCell::default(),
        to_links: setup.to_links.iter().map(|_| links::ToShard::default()).collect(),
        next_dial: Cell::new(0),
        dials_ended: RefCell::default(),
        dial_wake: Notify::default(),
        checked: RefCell::default(),
        resolved: RefCell::default(),
        membership: RefCell::new(membership),
        membership_socket: RefCell::new(Some(socket.clone())),
        members: RefCell::default(),
        member_dials: RefCell::default(),
        link_addresses: RefCell::default(),
        links_lost: RefCell::default(),
        seeds_resolved: RefCell::default(),
        terms: setup.terms,
        reloadable: RefCell::new(reload::Reloadable::of(&setup.config)),
        seed_wake: Notify::default(),
        settings: setup.settings,
        config_mismatches: RefCell::default(),
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
    if node.config.link_encryption == crate::config::LinkEncryption::Off {
        tracing::warn!(
            "cluster.link_encryption is off: link frames travel in the clear after the handshake, and anyone on \
             the path can read and alter replicated events; use it only to measure the cost of encryption"
        );
    }
    let mut tasks = vec![
        glommio::spawn_local(apply_loop(node.clone(), setup.to_writer)),
        glommio::spawn_local(notice_loop(node.clone(), setup.from_writer)),
        glommio::spawn_local(deliver_loop(node.clone(), setup.to_shards)),
        glommio::spawn_local(membership::receive_loop(node.clone(), socket.clone())),
        glommio::spawn_local(membership::timer_loop(node.clone(), socket)),
    ];
    for receiver in setup.from_shards {
        tasks.push(glommio::spawn_local(shard_loop(node.clone(), receiver)));
    }
    for (shard, (to_links, from_links)) in setup.to_links.into_iter().zip(setup.from_links).enumerate() {
        tasks.push(glommio::spawn_local(links::pump(node.clone(), shard, to_links)));
        tasks.push(glommio::spawn_local(links::receive(node.clone(), shard, from_links)));
    }
    tasks.push(glommio::spawn_local(links::seed_loop(node.clone())));
    tasks.push(glommio::spawn_local(anti_entropy::run(node.clone())));
    let mut metrics_published = Instant::now();
    while !setup.shutdown.load(Ordering::Relaxed) {
        // Wake for the replicator's next deadline (a lingering pull, a summary delta), at
        // least every tick.
        let deadline = node.replicator.borrow().next_deadline_ms();
        let wait = Duration::from_millis(deadline.saturating_sub(node.now_ms()).max(1)).min(TICK);
        glommio::timer::sleep(wait).await;
        node.drive(|replicator, now, store| replicator.tick(now, store));
        setup.reload.check(&node);
        if metrics_published.elapsed() >= TICK {
            node.publish_metrics();
            metrics_published = Instant::now();
        }
    }
    node.stopping.set(true);
    node.stop.notify_all();
    let links: Vec<Rc<Link>> = node.links.borrow().values().cloned().collect();
    for link in links {
        node.close_link(&link, CloseCause::Shutdown);
    }
    node.apply_wake.notify_all();
    node.deliver_wake.notify_all();
    for to in &node.to_links {
        to.wake.notify_all();
    }
    node.dial_wake.notify_all();
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

/// Hands batches the replicator pulled (their events checked like a client's) to the writer.
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
        let Some(request) = next else {
            if node.stopping.get() {
                return;
            }
            node.apply_wake.notified().await;
            continue;
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
