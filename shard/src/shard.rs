//! One shard's state (its connections, its subscription index, its read handle on the store)
//! and what it does with commits and ephemeral events that arrive from the writer, from other
//! shards and from the cluster. Its tasks (listeners, ticks, channel ends) are in `serve`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::channels::shared_channel::ConnectedSender;
use parrhesia_engine::{Event, Id, Limits, RelayMessage, SubscriptionIndex};
use parrhesia_storage::{Outcome, Store};

use crate::client::connection::{Connection, Delivery};
use crate::client::outbound::{Frame, LiveOutcome};
use crate::config::Config;
use crate::messages::{Commit, Ephemeral, ManageAnswer, ManageRequest, StoreRequest, ToCluster, WriterRequest};
use crate::metrics::{DEFLATE_IN_COMPRESSED, DEFLATE_IN_INFLATED};
use crate::metrics::{Metrics, OUTCOME_DUPLICATE, OUTCOME_STORED, ShardMetrics, refusal_outcome};
use crate::notify::Notify;
use bytes::Bytes;
use parrhesia_engine::policy::Policy;
use parrhesia_net::deflate::{Deflater, Inflater};

/// What a shard's state is built from (the rest of its setup is its tasks': listeners and
/// the receiving ends of its channels).
pub struct Parts {
    pub index: usize,
    pub connections_max: usize,
    pub config: Config,
    pub store: Store,
    pub relay_info: parrhesia_net::RelayInfo,
    pub policy: Arc<Policy>,
    pub policy_generations: Arc<[std::sync::atomic::AtomicU64]>,
    /// How many shards the node runs (node-wide rate limits are split among them).
    pub shards: usize,
    pub to_writer: Rc<ConnectedSender<WriterRequest>>,
    pub to_peers: Vec<Rc<ConnectedSender<Ephemeral>>>,
    pub metrics: Arc<ShardMetrics>,
    pub metrics_page: Arc<Metrics>,
}

/// The connection id under which the relay submits events of its own (NIP-66): no client
/// waits for their OK, and they are not counted as clients' events.
pub const RELAY_ITSELF: u64 = u64::MAX;

/// What a mirror stream is told of each of its events the writer answered.
pub type StreamOutcomes = Rc<dyn Fn(&Outcome)>;

/// What a connection reads from its socket at most at once (into a buffer the shard lends).
const READ_BUFFER_BYTES: usize = 32 * 1024;
/// Idle lent buffers a shard keeps of each kind (more are freed when given back).
const BUFFERS_KEPT: usize = 64;

pub struct Shard {
    pub index: usize,
    /// This shard's share of `Config::connections_max`.
    pub connections_max: usize,
    pub config: Config,
    pub limits: Limits,
    /// `Config::read_restricted_kinds` and the policy log's kind (`read_restricted`), shared by
    /// every reader's `ReadAccess`.
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
    pub subscriptions: RefCell<SubscriptionIndex<u64, Delivery>>,
    /// Reused by every fanout: the (connection, subscription) pairs an event matched.
    fanout_matches: RefCell<Vec<Delivery>>,
    /// Buffers connections read into while bytes arrive and write frames from while they have
    /// frames to send: lent per turn, so an idle connection holds none.
    pub read_buffers: parrhesia_net::websocket::BufferPool,
    pub write_buffers: parrhesia_net::websocket::BufferPool,
    pub connections: RefCell<HashMap<u64, Rc<Connection>>>,
    /// Mirror streams on this shard, by the connection id (no client's) their events go to the
    /// writer under: each is told what became of its events.
    pub streams: RefCell<HashMap<u64, StreamOutcomes>>,
    /// Store requests awaiting their commit: ticket -> (connection, event id, kind class index).
    pending: RefCell<HashMap<u64, (u64, Id, usize)>>,
    next_ticket: Cell<u64>,
    next_connection: Cell<u64>,
    next_generation: Cell<u64>,
    /// Told after every commit that stored events (mirror streams publishing up wait on it).
    pub committed: Notify,
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
    /// `write_policy_plugin`: this shard's plugin process, asked about every client event.
    pub write_policy: Option<crate::plugin::WritePolicy>,
    /// NIP-43 membership, when `nip43` is on.
    pub members: Option<crate::members::Members>,
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
    pub fn on_commit(&self, commit: Commit) {
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
            if connection == RELAY_ITSELF {
                if let Outcome::Rejected(reason) = &outcome {
                    tracing::warn!(%reason, "an event the relay signed itself was refused");
                }
                continue;
            }
            let stream = self.streams.borrow().get(&connection).cloned();
            if let Some(told) = stream {
                told(&outcome);
                continue;
            }
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
        if !commit.events.is_empty() {
            self.committed.notify_all();
        }
    }

    /// Delivers `event` to every live subscription here that matches it. `seq` is `None` for
    /// ephemeral events; a stored event goes only to subscriptions whose scan did not cover it.
    pub fn fan_out(&self, event: &Event, seq: Option<u64>) {
        let started = Instant::now();
        if let Some(members) = &self.members {
            members.seen(event);
        }
        let mut matches = self.fanout_matches.borrow_mut();
        matches.clear();
        self.subscriptions.borrow_mut().matches_into(event, &mut matches);
        let mut queued = 0;
        // The event's JSON compressed once for every permessage-deflate delivery here.
        let mut json_deflated: Option<Bytes> = None;
        let restricted = self.read_restricted.contains(&event.kind());
        // An event fanned out before, whose commit failed: subscriptions sent it then have it.
        let taken_back = seq.and_then(|_| self.undurable.borrow_mut().fanned_out_before(event.id()));
        for (connection, subscription) in matches.drain(..) {
            if connection.is_closed() {
                continue; // its subscriptions go when its read loop ends
            }
            let Some(prefix) = subscription.live_prefix(seq, taken_back) else { continue };
            if restricted && !connection.read_access(&self.read_restricted).may_read_event(event) {
                continue;
            }
            let plain_bytes = prefix.len() + event.json().len() + 1;
            let deflated = connection.deflate && plain_bytes >= self.config.deflate_threshold_bytes;
            let frame = match deflated {
                true => {
                    let json = json_deflated.get_or_insert_with(|| {
                        let mut out = Vec::new();
                        self.deflater.borrow_mut().compress_pieces(&[event.json().as_bytes(), b"]"], &mut out);
                        Bytes::from(out)
                    });
                    let prefix = subscription.deflated_prefix(&self.deflater).clone();
                    Frame::DeflatedEvent { prefix, json: json.clone(), plain_bytes }
                }
                false => Frame::Event { prefix: prefix.clone(), json: event.json().clone() },
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
    pub fn check_connections(&self) {
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
            crate::client::reconciliation::expire(&connection, now, negentropy_idle);
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

    /// A shard's state, before any of its tasks runs.
    pub fn new(parts: Parts) -> Shard {
        let deflater = RefCell::new(Deflater::new(parts.config.deflate_level));
        let write_policy = parts
            .config
            .write_policy_plugin
            .clone()
            .map(|command| crate::plugin::WritePolicy::configured(command, &parts.config, parts.metrics.clone()));
        let members = match (parts.config.nip43, parts.config.relay_key()) {
            (true, Ok(Some(keys))) => Some(crate::members::Members::new(
                keys,
                parts.config.invite_ttl_seconds,
                parts.config.write_access == "members",
            )),
            _ => None,
        };
        Shard {
            index: parts.index,
            connections_max: parts.connections_max,
            limits: parts.config.limits(),
            read_restricted: read_restricted(&parts.config.read_restricted_kinds),
            admins: parts.config.admin_keys(),
            limiter: crate::rate::Limiter::new(
                parts.config.rate_limits().expect("validated at load").share(parts.shards),
                crate::system::unix_now_ms(),
            ),
            trusted_proxies: parts.config.trusted_proxy_addresses().expect("validated at load"),
            config: parts.config,
            store: parts.store,
            relay_info_json: RefCell::new(crate::relay_info::relay_info_json(&parts.relay_info, &parts.policy)),
            relay_info: parts.relay_info,
            policy: RefCell::new(parts.policy),
            policy_generations: parts.policy_generations,
            manage_pending: RefCell::default(),
            subscriptions: RefCell::new(SubscriptionIndex::new()),
            fanout_matches: RefCell::default(),
            read_buffers: parrhesia_net::websocket::BufferPool::new(READ_BUFFER_BYTES, BUFFERS_KEPT),
            write_buffers: parrhesia_net::websocket::BufferPool::new(
                crate::client::outbound::WRITE_BUFFER_BYTES,
                BUFFERS_KEPT,
            ),
            connections: RefCell::default(),
            streams: RefCell::default(),
            committed: Notify::default(),
            pending: RefCell::default(),
            next_ticket: Cell::new(0),
            next_connection: Cell::new(0),
            next_generation: Cell::new(0),
            last_seq_seen: Cell::new(0),
            undurable: RefCell::default(),
            to_writer: RefCell::new(Some(parts.to_writer)),
            to_peers: RefCell::new(parts.to_peers),
            to_cluster: RefCell::new(None),
            interest_pending: RefCell::default(),
            interest_wake: Notify::default(),
            stopping: Cell::new(false),
            stop: Notify::default(),
            deflater,
            inflater: Rc::default(),
            write_policy,
            members,
            metrics: parts.metrics,
            metrics_page: parts.metrics_page,
        }
    }

    /// The cluster executor connected its end: interest changes and ephemeral events go there.
    pub fn connect_cluster(&self, sender: Rc<ConnectedSender<ToCluster>>) {
        self.to_cluster.replace(Some(sender));
    }

    /// Stops taking events: the writer, the other shards and the cluster are sent no more, and
    /// the interest forwarder ends.
    pub fn stop_sending(&self) {
        self.to_writer.borrow_mut().take();
        self.to_peers.borrow_mut().clear();
        self.to_cluster.borrow_mut().take();
        // The interest forwarder holds the other clone of the cluster sender: end it too.
        self.interest_wake.notify_all();
    }

    /// Sends this shard's interest changes to the cluster executor as they happen, waiting when
    /// its queue is full (they are never dropped), until shutdown.
    pub async fn forward_interest(&self, sender: &ConnectedSender<ToCluster>) {
        loop {
            let changes = std::mem::take(&mut *self.interest_pending.borrow_mut());
            if changes.is_empty() {
                if self.stopping.get() {
                    return;
                }
                self.interest_wake.notified().await;
                continue;
            }
            if sender.send(ToCluster::Interest(changes)).await.is_err() {
                return; // the cluster executor has stopped
            }
        }
    }
}

/// The kinds readers are restricted from: the configured ones, and always the policy log
/// (its entries carry operators' authorizations; only the relay's own key could read them).
fn read_restricted(configured: &[u16]) -> Arc<[u16]> {
    let policy_log = parrhesia_engine::policy_log::POLICY_ENTRY_KIND;
    configured.iter().copied().chain((!configured.contains(&policy_log)).then_some(policy_log)).collect()
}
