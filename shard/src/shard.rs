//! One shard: an executor's state (its connections, its subscription index, its read handle on
//! the store), its accept loop, and what it does with commits and ephemeral events that arrive
//! from the writer and from other shards.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use glommio::channels::shared_channel::{ConnectedSender, SharedReceiver, SharedSender};
use glommio::net::TcpListener;
use parrhesia_engine::{Event, Id, Limits, RelayMessage, SubscriptionIndex};
use parrhesia_storage::{Outcome, Store};

use crate::config::Config;
use crate::connection::Connection;
use crate::executor::with_pulse;
use crate::messages::{Commit, Ephemeral, ManageAnswer, ManageRequest, StoreRequest, ToCluster, WriterRequest};
use crate::metrics::{DEFLATE_IN_COMPRESSED, DEFLATE_IN_INFLATED};
use crate::metrics::{Metrics, OUTCOME_DUPLICATE, OUTCOME_STORED, ShardMetrics, refusal_outcome};
use crate::notify::Notify;
use crate::outbound::{Frame, LiveOutcome};
use crate::startup::{StartupSteps, Step};
use bytes::Bytes;
use parrhesia_engine::policy::Policy;
use parrhesia_net::deflate::{Deflater, Inflater};

/// Everything a shard is started with.
pub struct ShardSetup {
    pub index: usize,
    pub config: Config,
    pub store: Store,
    /// The NIP-11 document as configured, and the operator's policy as stored at start.
    pub relay_info: parrhesia_net::RelayInfo,
    pub policy: Arc<Policy>,
    /// The policy generation each shard has taken (each shard writes its own).
    pub policy_generations: Arc<[std::sync::atomic::AtomicU64]>,
    pub to_writer: SharedSender<WriterRequest>,
    pub from_writer: SharedReceiver<Commit>,
    /// To every other shard, and from every other shard.
    pub to_peers: Vec<SharedSender<Ephemeral>>,
    pub from_peers: Vec<SharedReceiver<Ephemeral>>,
    pub connections_max: usize,
    /// How many shards the node runs (node-wide rate limits are split among them).
    pub shards: usize,
    pub shutdown: Arc<AtomicBool>,
    /// Told once the listener is bound (or failed to bind).
    pub bound: std::sync::mpsc::Sender<Result<(), String>>,
    pub startup: Arc<StartupSteps>,
    /// With a cluster: ephemeral events to the cluster executor (for peers) and from it,
    /// and this shard's subscription interest changes (the node's summary).
    pub cluster: Option<(SharedSender<ToCluster>, SharedReceiver<Ephemeral>)>,
    /// With a cluster: what this shard needs to accept, dial and run links to peers.
    pub links: Option<crate::cluster::link::LinksSetup>,
    /// This shard's metrics, and the node's for rendering `/metrics`.
    pub metrics: Arc<ShardMetrics>,
    pub metrics_page: Arc<Metrics>,
}

pub struct Shard {
    pub index: usize,
    /// This shard's share of `Config::connections_max`.
    pub connections_max: usize,
    pub config: Config,
    pub limits: Limits,
    /// `Config::read_restricted_kinds`, shared by every reader's `ReadAccess`.
    pub read_restricted: Arc<[u16]>,
    pub store: Store,
    /// The NIP-11 document as configured; what is served is `relay_info_json` (with the
    /// policy's overrides).
    relay_info: parrhesia_net::RelayInfo,
    pub relay_info_json: RefCell<String>,
    /// The operator's policy (NIP-86), replaced whenever the writer records a change.
    pub policy: RefCell<Arc<Policy>>,
    /// The policy generation each shard has taken: a management call is answered once every
    /// shard has taken its change.
    pub policy_generations: Arc<[std::sync::atomic::AtomicU64]>,
    /// This shard's rate limits and their buckets.
    pub limiter: crate::rate::Limiter,
    /// `Config::trusted_proxies`, parsed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `Config::admin_pubkeys`, decoded.
    pub admins: Vec<parrhesia_engine::Pubkey>,
    /// Management calls awaiting the writer's answer, by ticket.
    manage_pending: RefCell<HashMap<u64, glommio::channels::local_channel::LocalSender<ManageAnswer>>>,
    pub subscriptions: RefCell<SubscriptionIndex<u64>>,
    /// Reused by every fanout: the (connection, subscription) pairs an event matched.
    fanout_matches: RefCell<Vec<(u64, Arc<str>)>>,
    /// Where socket writers join a live event's prefix and JSON; each joined frame is copied
    /// into its socket's write buffer at once, so one chunk serves the whole shard.
    pub event_scratch: RefCell<bytes::BytesMut>,
    pub connections: RefCell<HashMap<u64, Rc<Connection>>>,
    /// Store requests awaiting their commit: ticket -> (connection, event id, kind class index).
    pending: RefCell<HashMap<u64, (u64, Id, usize)>>,
    next_ticket: Cell<u64>,
    next_connection: Cell<u64>,
    next_generation: Cell<u64>,
    /// The highest sequence number this shard has fanned out (a replicated batch's events
    /// are fanned out before their commit: see `undurable`).
    pub last_seq_seen: Cell<u64>,
    /// Fanned-out events not yet durable, and events taken back.
    pub undurable: RefCell<crate::undurable::Undurable>,
    to_writer: RefCell<Option<Rc<ConnectedSender<WriterRequest>>>>,
    to_peers: RefCell<Vec<Rc<ConnectedSender<Ephemeral>>>>,
    /// Connected once the cluster executor has connected its end.
    to_cluster: RefCell<Option<Rc<ConnectedSender<ToCluster>>>>,
    /// Interest changes not yet sent to the cluster executor, and the wake of the task that
    /// sends them (in a cluster only).
    interest_pending: RefCell<Vec<(parrhesia_engine::InterestKey, bool)>>,
    interest_wake: Notify,
    pub stopping: Cell<bool>,
    pub stop: Notify,
    pub metrics: Arc<ShardMetrics>,
    pub metrics_page: Arc<Metrics>,
    /// permessage-deflate: one compressor and one decompressor for all the shard's
    /// connections (every message is compressed on its own).
    pub deflater: RefCell<Deflater>,
    pub inflater: Rc<RefCell<Inflater>>,
}

impl Shard {
    pub fn next_connection_id(&self) -> u64 {
        self.next_connection.set(self.next_connection.get() + 1);
        self.next_connection.get()
    }

    pub fn next_generation(&self) -> u64 {
        self.next_generation.set(self.next_generation.get() + 1);
        self.next_generation.get()
    }

    pub fn connection(&self, id: u64) -> Option<Rc<Connection>> {
        self.connections.borrow().get(&id).cloned()
    }

    /// Sends a verified event to the writer; its OK is sent when the commit comes back.
    /// `Err` if the writer no longer takes events (shutdown).
    pub async fn submit(&self, connection: u64, event: Event) -> Result<(), ()> {
        let Some(sender) = self.to_writer.borrow().clone() else { return Err(()) };
        let ticket = self.next_ticket.get() + 1;
        self.next_ticket.set(ticket);
        let kind_class = crate::metrics::kind_class_index(event.kind_class());
        self.pending.borrow_mut().insert(ticket, (connection, *event.id(), kind_class));
        if sender.send(WriterRequest::Store(StoreRequest { ticket, event })).await.is_err() {
            self.pending.borrow_mut().remove(&ticket);
            return Err(());
        }
        Ok(())
    }

    /// Hands a checked management call to the writer and waits for its answer (`None` at
    /// shutdown).
    pub async fn manage(&self, mut request: ManageRequest) -> Option<ManageAnswer> {
        let sender = self.to_writer.borrow().clone()?;
        let ticket = self.next_ticket.get() + 1;
        self.next_ticket.set(ticket);
        request.ticket = ticket;
        let (answer_sender, answer) = glommio::channels::local_channel::new_bounded(1);
        self.manage_pending.borrow_mut().insert(ticket, answer_sender);
        if sender.send(WriterRequest::Manage(request)).await.is_err() {
            self.manage_pending.borrow_mut().remove(&ticket);
            return None;
        }
        answer.recv().await
    }

    /// Fans an ephemeral event out here and on every other shard.
    pub async fn publish_ephemeral(&self, event: &Event) {
        self.fan_out(event, None);
        let peers: Vec<_> = self.to_peers.borrow().clone();
        for peer in peers {
            // A full peer queue slows this publisher down rather than dropping the event.
            let _ = peer.send(Ephemeral { event: event.clone() }).await;
        }
        let cluster = self.to_cluster.borrow().clone();
        if let Some(cluster) = cluster {
            // Best effort across nodes: a full queue to the cluster drops the event, counted.
            if cluster.try_send(ToCluster::Ephemeral(event.clone())).is_err() {
                self.metrics.cluster_ephemeral_dropped.inc();
            }
        }
    }

    /// Handles one commit from the writer: answer the OKs, then fan out in sequence order.
    fn on_commit(&self, commit: Commit) {
        self.metrics.commit_queue.observe_duration(commit.sent.elapsed());
        if let Some((generation, policy)) = commit.policy {
            self.relay_info_json.replace(crate::relay_info::relay_info_json(&self.relay_info, &policy));
            // A newly blocked address loses the connections it holds too.
            for connection in self.connections.borrow().values() {
                if policy.ip_blocked(connection.client).is_some() && !connection.is_closed() {
                    connection.reply(RelayMessage::Notice { message: "blocked: this address is blocked here".into() });
                    connection.close(1008, "blocked", crate::metrics::CloseReason::Blocked);
                }
            }
            self.policy.replace(policy);
            self.policy_generations[self.index].store(generation, std::sync::atomic::Ordering::Release);
        }
        for (ticket, answer) in commit.answers {
            if let Some(sender) = self.manage_pending.borrow_mut().remove(&ticket) {
                let _ = sender.try_send(answer);
            }
        }
        for (ticket, outcome) in commit.outcomes {
            let Some((connection, id, kind_class)) = self.pending.borrow_mut().remove(&ticket) else { continue };
            let (accepted, message, counted) = match outcome {
                Outcome::Stored { .. } => (true, String::new(), OUTCOME_STORED),
                Outcome::Duplicate => (true, "duplicate: already have this event".to_string(), OUTCOME_DUPLICATE),
                Outcome::Rejected(reason) => (false, reason.to_string(), refusal_outcome(reason.prefix)),
            };
            self.metrics.event(counted, kind_class);
            let Some(connection) = self.connection(connection) else { continue };
            let reply = RelayMessage::Ok { event_id: id, accepted, message: message.into() };
            connection.outbound.push_reply(reply.encode());
        }
        let mut undurable = self.undurable.borrow_mut();
        undurable.tick();
        if !commit.taken_back.is_empty() {
            undurable.take_back(&commit.taken_back);
        }
        // Everything fanned out before this commit is durable now (or was taken back).
        let durable_through = if commit.durable {
            commit.events.last().map_or(self.last_seq_seen.get(), |(seq, _)| *seq)
        } else {
            self.last_seq_seen.get()
        };
        undurable.fanned_out(&commit.events, durable_through);
        drop(undurable);
        for (seq, event) in commit.events.iter() {
            self.fan_out(event, Some(*seq));
            self.last_seq_seen.set(*seq);
        }
    }

    /// Delivers `event` to every live subscription here that matches it. `seq` is `None` for
    /// ephemeral events; a stored event goes only to subscriptions whose scan did not cover it.
    fn fan_out(&self, event: &Event, seq: Option<u64>) {
        let started = Instant::now();
        let mut matches = self.fanout_matches.borrow_mut();
        matches.clear();
        self.subscriptions.borrow_mut().matches_into(event, &mut matches);
        let connections = self.connections.borrow();
        let mut queued = 0;
        // The event's JSON compressed once for every permessage-deflate delivery here.
        let mut json_deflated: Option<Bytes> = None;
        let restricted = self.read_restricted.contains(&event.kind());
        // An event fanned out before, whose commit failed: subscriptions sent it then have it.
        let taken_back = seq.and_then(|_| self.undurable.borrow_mut().fanned_out_before(event.id()));
        for (connection_id, subscription_id) in matches.drain(..) {
            let Some(connection) = connections.get(&connection_id) else { continue };
            let Some(prefix) = connection.live_prefix(&subscription_id, seq, taken_back) else { continue };
            if restricted && !connection.read_access(&self.read_restricted).may_read_event(event) {
                continue;
            }
            let plain_bytes = prefix.len() + event.json().len() + 1;
            let deflated = connection.deflate && plain_bytes >= self.config.deflate_threshold_bytes;
            let frame = match deflated.then(|| connection.deflated_prefix(&subscription_id, &self.deflater)).flatten() {
                Some(prefix_deflated) => {
                    let json = json_deflated.get_or_insert_with(|| {
                        let mut out = Vec::new();
                        self.deflater.borrow_mut().compress_pieces(&[event.json().as_bytes(), b"]"], &mut out);
                        Bytes::from(out)
                    });
                    Frame::DeflatedEvent { prefix: prefix_deflated, json: json.clone(), plain_bytes }
                }
                None => Frame::Event { prefix, json: event.json().clone() },
            };
            let policy = self.config.outbound_overflow;
            match connection.outbound.push_live(frame, policy) {
                LiveOutcome::Queued => queued += 1,
                LiveOutcome::Dropped => self.metrics.live_dropped.inc(),
                LiveOutcome::Overflow => {
                    self.metrics.overflow_closes.inc();
                    connection.close_for_overflow();
                }
            }
        }
        self.metrics.deliveries.add(queued);
        self.metrics.fanout.observe_duration(started.elapsed());
    }

    /// Keeps the open-subscriptions gauge equal to the index's size; called after every change.
    pub fn subscriptions_changed(&self) {
        let mut subscriptions = self.subscriptions.borrow_mut();
        self.metrics.subscriptions_open.set(subscriptions.len() as i64);
        let changes = subscriptions.take_interest_changes();
        if !changes.is_empty() {
            self.interest_pending.borrow_mut().extend(changes);
            self.interest_wake.notify_all();
        }
    }

    /// Pings, pong deadlines and idle connections, once a second.
    fn check_connections(&self) {
        let now = Instant::now();
        let ping_interval = Duration::from_secs(self.config.ping_interval_seconds);
        let pong_timeout = Duration::from_secs(self.config.pong_timeout_seconds);
        let idle_timeout = Duration::from_secs(self.config.idle_timeout_seconds);
        let negentropy_idle = Duration::from_secs(self.config.negentropy_idle_timeout_seconds);
        let connections: Vec<Rc<Connection>> = self.connections.borrow().values().cloned().collect();
        let (mut queued_bytes, mut fullest) = (0, 0);
        self.limiter.prune(crate::system::unix_now_ms());
        let (addresses, pubkeys) = self.limiter.tracked();
        self.metrics.rate_limit_keys.set((addresses + pubkeys) as i64);
        for connection in connections {
            connection.check_liveness(now, ping_interval, pong_timeout, idle_timeout);
            crate::negentropy::expire(&connection, now, negentropy_idle);
            let bytes = connection.outbound.queued_bytes();
            queued_bytes += bytes;
            fullest = fullest.max(bytes);
            self.metrics.outbound_depth.observe(bytes as u64);
        }
        self.metrics.outbound_queued_bytes.set(queued_bytes as i64);
        let inflated = self.inflater.borrow().stats;
        self.metrics.deflate_bytes[DEFLATE_IN_COMPRESSED].mirror(inflated.compressed_bytes);
        self.metrics.deflate_bytes[DEFLATE_IN_INFLATED].mirror(inflated.inflated_bytes);
        self.metrics.inflate_refused.mirror(inflated.refused);
        let per_mille = fullest.saturating_mul(1000) / self.config.outbound_bytes_max.max(1);
        self.metrics.outbound_pressure_per_mille.set(per_mille as i64);
    }
}

/// Runs a shard until shutdown completes.
pub async fn run(setup: ShardSetup) {
    // A shared channel's `connect` waits for the other end: connect every receiving end in its
    // own task first, so shards connecting to each other cannot wait on each other in a cycle.
    let (index, startup) = (setup.index, setup.startup.clone());
    let from_writer = glommio::spawn_local({
        let startup = startup.clone();
        async move {
            let receiver = with_pulse(setup.from_writer.connect()).await;
            startup.mark(Step::ShardFromWriter(index));
            receiver
        }
    });
    // Peer channels are listed in shard order, skipping this shard.
    let peers = (0..setup.to_peers.len() + 1).filter(|&other| other != index);
    let from_peers: Vec<_> = setup
        .from_peers
        .into_iter()
        .zip(peers.clone())
        .map(|(receiver, from)| {
            let startup = startup.clone();
            glommio::spawn_local(async move {
                let receiver = with_pulse(receiver.connect()).await;
                startup.mark(Step::ShardFromPeer { from, to: index });
                receiver
            })
        })
        .collect();
    let to_writer = Rc::new(with_pulse(setup.to_writer.connect()).await);
    startup.mark(Step::ShardToWriter(index));
    let mut to_peers = Vec::new();
    for (peer, to) in setup.to_peers.into_iter().zip(peers) {
        to_peers.push(Rc::new(with_pulse(peer.connect()).await));
        startup.mark(Step::ShardToPeer { from: index, to });
    }
    let from_writer = from_writer.await;
    let listener = match TcpListener::bind(setup.config.listen.as_str()) {
        Ok(listener) => listener,
        Err(error) => {
            let _ =
                setup.bound.send(Err(format!("shard {} cannot bind {}: {error}", setup.index, setup.config.listen)));
            return;
        }
    };
    // With a cluster, every shard accepts links on its port, as clients on theirs.
    let links_listener = match setup.links.as_ref().map(|links| (TcpListener::bind(links.listen.as_str()), links)) {
        Some((Ok(listener), _)) => Some(listener),
        Some((Err(error), links)) => {
            let _ = setup.bound.send(Err(format!(
                "shard {} cannot bind the cluster's link address {}: {error}",
                setup.index, links.listen
            )));
            return;
        }
        None => None,
    };
    // The metrics listener, if any, is shard 0's (a scrape is rare and cheap).
    let metrics_listener = match setup.config.metrics_listen.as_deref().filter(|_| setup.index == 0) {
        Some(address) => match TcpListener::bind(address) {
            Ok(listener) => Some(listener),
            Err(error) => {
                let _ = setup.bound.send(Err(format!("cannot bind the metrics listener {address}: {error}")));
                return;
            }
        },
        None => None,
    };
    let _ = setup.bound.send(Ok(()));
    let deflater = RefCell::new(Deflater::new(setup.config.deflate_level));
    let shard = Rc::new(Shard {
        index: setup.index,
        connections_max: setup.connections_max,
        limits: setup.config.limits(),
        read_restricted: setup.config.read_restricted_kinds.as_slice().into(),
        admins: setup.config.admin_keys(),
        limiter: crate::rate::Limiter::new(
            setup.config.rate_limits().expect("validated at load").share(setup.shards),
            crate::system::unix_now_ms(),
        ),
        trusted_proxies: setup.config.trusted_proxy_addresses().expect("validated at load"),
        config: setup.config,
        store: setup.store,
        relay_info_json: RefCell::new(crate::relay_info::relay_info_json(&setup.relay_info, &setup.policy)),
        relay_info: setup.relay_info,
        policy: RefCell::new(setup.policy),
        policy_generations: setup.policy_generations,
        manage_pending: RefCell::default(),
        subscriptions: RefCell::new(SubscriptionIndex::new()),
        fanout_matches: RefCell::default(),
        event_scratch: RefCell::default(),
        connections: RefCell::default(),
        pending: RefCell::default(),
        next_ticket: Cell::new(0),
        next_connection: Cell::new(0),
        next_generation: Cell::new(0),
        last_seq_seen: Cell::new(0),
        undurable: RefCell::default(),
        to_writer: RefCell::new(Some(to_writer)),
        to_peers: RefCell::new(to_peers),
        to_cluster: RefCell::new(None),
        interest_pending: RefCell::default(),
        interest_wake: Notify::default(),
        stopping: Cell::new(false),
        stop: Notify::default(),
        deflater,
        inflater: Rc::default(),
        metrics: setup.metrics,
        metrics_page: setup.metrics_page,
    });
    // Events committed before this shard started are in the store: scans find them.
    shard.last_seq_seen.set(shard.store.last_seq().unwrap_or(0));
    shard.undurable.replace(crate::undurable::Undurable::new(shard.last_seq_seen.get()));
    let commits = glommio::spawn_local({
        let shard = shard.clone();
        async move {
            while let Some(commit) = from_writer.recv().await {
                shard.on_commit(commit);
            }
        }
    });
    let mut peer_tasks = Vec::new();
    for receiver in from_peers {
        let shard = shard.clone();
        peer_tasks.push(glommio::spawn_local(async move {
            let receiver = receiver.await;
            while let Some(message) = receiver.recv().await {
                shard.fan_out(&message.event, None);
            }
        }));
    }
    // The cluster's ends connect in the background (the cluster executor may start after this
    // shard). Its receiving task is dropped at shutdown, not awaited: the cluster executor
    // stops after the shards.
    let cluster_task = setup.cluster.map(|(to_cluster, from_cluster)| {
        shard.subscriptions.borrow_mut().track_interest();
        let shard_for_sender = shard.clone();
        glommio::spawn_local(async move {
            let sender = Rc::new(with_pulse(to_cluster.connect()).await);
            shard_for_sender.to_cluster.replace(Some(sender.clone()));
            forward_interest(&shard_for_sender, &sender).await;
        })
        .detach();
        let shard = shard.clone();
        glommio::spawn_local(async move {
            let receiver = with_pulse(from_cluster.connect()).await;
            while let Some(message) = receiver.recv().await {
                shard.fan_out(&message.event, None);
            }
        })
    });
    let links = setup.links.zip(links_listener).map(|(links, listener)| {
        let (links, to_cluster, from_cluster) = crate::cluster::link::Links::new(links);
        let task = glommio::spawn_local(links.clone().run(listener, to_cluster, from_cluster));
        (links, task)
    });
    let ticker = glommio::spawn_local(tick(shard.clone(), setup.shutdown));
    let metrics_task = metrics_listener.map(|listener| glommio::spawn_local(metrics_loop(shard.clone(), listener)));
    accept_loop(&shard, &listener).await;
    if let Some(task) = metrics_task {
        task.await;
    }
    drop(listener);
    if let Some((links, task)) = links {
        links.stop();
        task.await;
    }
    ticker.await;
    // Stop taking events; the writer commits what it holds and answers before it closes.
    shard.to_writer.borrow_mut().take();
    shard.to_peers.borrow_mut().clear();
    shard.to_cluster.borrow_mut().take();
    // The interest forwarder holds the other clone of the cluster sender: end it too.
    shard.interest_wake.notify_all();
    commits.await;
    for task in peer_tasks {
        task.await;
    }
    drop(cluster_task);
    let connections: Vec<Rc<Connection>> = shard.connections.borrow().values().cloned().collect();
    for connection in &connections {
        connection.close(1001, "relay shutting down", crate::metrics::CloseReason::Shutdown);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while !shard.connections.borrow().is_empty() && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
}

async fn accept_loop(shard: &Rc<Shard>, listener: &TcpListener) {
    let mut last_warning: Option<Instant> = None;
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            shard.stop.notified().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { break };
        match accepted {
            Ok(stream) if shard.connections.borrow().len() >= shard.connections_max => {
                // At this shard's share of the connection limit: a clean, counted refusal.
                shard.metrics.connections_refused.inc();
                glommio::spawn_local(crate::front::refuse(stream)).detach();
            }
            Ok(stream) => {
                let shard = shard.clone();
                glommio::spawn_local(async move { crate::front::serve(shard, stream).await }).detach();
            }
            Err(error) => {
                // Out of file descriptors, mostly. Count it, say so at most once a second, and
                // back off so a storm of waiting clients does not spin this shard.
                shard.metrics.accept_failures.inc();
                let failures = shard.metrics.accept_failures.get();
                if last_warning.is_none_or(|at: Instant| at.elapsed() >= Duration::from_secs(1)) {
                    tracing::warn!(shard = shard.index, %error, failures, "accept failed");
                    last_warning = Some(Instant::now());
                }
                glommio::timer::sleep(Duration::from_millis(50)).await;
            }
        }
        if shard.stopping.get() {
            break;
        }
    }
}

/// Accepts scrapes on the metrics listener until the shard stops.
async fn metrics_loop(shard: Rc<Shard>, listener: TcpListener) {
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            shard.stop.notified().await;
            None
        })
        .await;
        match accepted {
            None => return,
            Some(Ok(stream)) => {
                glommio::spawn_local(crate::front::serve_metrics(shard.clone(), stream)).detach();
            }
            // Out of descriptors: the relay's own accept loop reports it; wait and go on.
            Some(Err(_)) => glommio::timer::sleep(Duration::from_millis(50)).await,
        }
        if shard.stopping.get() {
            return;
        }
    }
}

/// Once a second: connection liveness; and the shutdown flag set by the signal handler.
async fn tick(shard: Rc<Shard>, shutdown: Arc<AtomicBool>) {
    let mut last_check = Instant::now();
    loop {
        glommio::timer::sleep(Duration::from_millis(50)).await;
        if shutdown.load(Ordering::Relaxed) {
            shard.stopping.set(true);
            shard.stop.notify_all();
            return;
        }
        if last_check.elapsed() >= Duration::from_secs(1) {
            shard.check_connections();
            last_check = Instant::now();
        }
    }
}

/// Sends this shard's interest changes to the cluster executor as they happen, waiting when
/// its queue is full (they are never dropped), until shutdown.
async fn forward_interest(shard: &Shard, sender: &ConnectedSender<ToCluster>) {
    loop {
        let changes = std::mem::take(&mut *shard.interest_pending.borrow_mut());
        if changes.is_empty() {
            if shard.stopping.get() {
                return;
            }
            shard.interest_wake.notified().await;
            continue;
        }
        if sender.send(ToCluster::Interest(changes)).await.is_err() {
            return; // the cluster executor has stopped
        }
    }
}
