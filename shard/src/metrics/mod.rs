//! The node's metrics: each executor (shard, writer, cluster) owns its counters, gauges and
//! histograms as atomics that only it writes; a scrape reads them from whichever shard serves
//! `/metrics` and renders the Prometheus text format with `prometheus-client`. No lock is taken
//! on any hot path, and a scrape never waits for a shard.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use parrhesia_engine::{KindClass, Prefix};
use parrhesia_storage::Store;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// A counter.
#[derive(Debug, Default)]
pub struct Count(AtomicU64);

impl Count {
    pub fn add(&self, amount: u64) {
        self.0.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets a counter that mirrors one kept elsewhere (by the same executor).
    pub fn mirror(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

/// A gauge: a value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub fn add(&self, amount: i64) {
        self.0.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Histogram bucket bounds for durations, in nanoseconds (10 µs to 10 s).
pub const DURATION_NANOS: &[u64] = &[
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    10_000_000_000,
];
/// Bucket bounds for counts of events (batch sizes).
pub const EVENT_COUNTS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
/// Bucket bounds for queue depths in bytes.
pub const QUEUE_BYTES: &[u64] = &[0, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];

/// A histogram over fixed integer bounds (`bounds` in the unit observed; `scale` turns that
/// unit into the base unit rendered, e.g. 1e-9 for nanoseconds into seconds).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    scale: f64,
    /// One per bound, then one for values above the last bound.
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [u64], scale: f64) -> Histogram {
        assert!(bounds.windows(2).all(|pair| pair[0] < pair[1]), "bounds ascend");
        Histogram {
            bounds,
            scale,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// A histogram of durations, rendered in seconds.
    pub fn seconds() -> Histogram {
        Histogram::new(DURATION_NANOS, 1e-9)
    }

    /// A histogram of plain counts or sizes over `bounds`.
    pub fn of(bounds: &'static [u64]) -> Histogram {
        Histogram::new(bounds, 1.0)
    }

    pub fn observe(&self, value: u64) {
        let bucket = self.bounds.partition_point(|&bound| bound < value);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    pub fn observe_duration(&self, duration: Duration) {
        self.observe(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    }

    /// (sum, count, per-bucket counts with their upper bounds); the count is the buckets' sum,
    /// so a scrape racing an observation still renders a consistent histogram.
    fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut buckets: Vec<(f64, u64)> = Vec::with_capacity(self.buckets.len());
        for (index, bucket) in self.buckets.iter().enumerate() {
            let bound = self.bounds.get(index).map_or(f64::INFINITY, |&bound| bound as f64 * self.scale);
            buckets.push((bound, bucket.load(Ordering::Relaxed)));
        }
        let count = buckets.iter().map(|(_, count)| count).sum();
        (self.sum.load(Ordering::Relaxed) as f64 * self.scale, count, buckets)
    }
}

/// Why a client connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent Close or went away (with or without the closing handshake).
    Client,
    /// It broke the WebSocket protocol (bad frames, invalid UTF-8 in text).
    ProtocolError,
    SocketError,
    Idle,
    NoPong,
    OutboundOverflow,
    MessageTooBig,
    Shutdown,
    /// It kept sending over its rate limits (`rate_limit_strikes_max` refusals in a row).
    RateLimited,
    /// Its address was blocked (NIP-86 `blockip`) while it was connected.
    Blocked,
}

pub const CLOSE_REASONS: [&str; 10] = [
    "client",
    "protocol_error",
    "socket_error",
    "idle",
    "no_pong",
    "outbound_overflow",
    "message_too_big",
    "shutdown",
    "rate_limited",
    "blocked",
];

/// Client message verbs, and `invalid` for a message that did not decode.
pub const CLIENT_VERBS: [&str; 9] =
    ["EVENT", "REQ", "CLOSE", "COUNT", "AUTH", "NEG-OPEN", "NEG-MSG", "NEG-CLOSE", "invalid"];
pub const CLIENT_VERB_INVALID: usize = 8;

/// Relay message verbs as sent, and `other` for anything else.
pub const RELAY_VERBS: [&str; 10] =
    ["EVENT", "OK", "EOSE", "CLOSED", "NOTICE", "COUNT", "AUTH", "NEG-MSG", "NEG-ERR", "other"];
pub const RELAY_VERB_EVENT: usize = 0;

/// The relay verb of a text frame we queued (`["OK",...`): its index in `RELAY_VERBS`.
pub fn relay_verb(frame: &[u8]) -> usize {
    let verb = frame.strip_prefix(b"[\"").and_then(|rest| rest.split(|&byte| byte == b'"').next());
    let other = RELAY_VERBS.len() - 1;
    verb.and_then(|verb| RELAY_VERBS[..other].iter().position(|known| known.as_bytes() == verb)).unwrap_or(other)
}

/// What became of an event a client sent: accepted outcomes, then the refusal prefixes.
pub const EVENT_OUTCOMES: [&str; 11] = [
    "stored",
    "duplicate",
    "ephemeral",
    "invalid",
    "pow",
    "blocked",
    "rate-limited",
    "restricted",
    "mute",
    "error",
    "auth-required",
];
pub const OUTCOME_STORED: usize = 0;
pub const OUTCOME_DUPLICATE: usize = 1;
pub const OUTCOME_EPHEMERAL: usize = 2;

/// The outcome index of a refusal (or of `duplicate:`) by its NIP-01 prefix.
pub fn refusal_outcome(prefix: Prefix) -> usize {
    let label = prefix.as_str();
    EVENT_OUTCOMES.iter().position(|outcome| *outcome == label).expect("every prefix is an outcome")
}

/// Kind classes, and `unknown` for an event that did not decode.
pub const KIND_CLASSES: [&str; 5] = ["regular", "replaceable", "ephemeral", "addressable", "unknown"];
pub const KIND_UNKNOWN: usize = 4;

pub fn kind_class_index(class: KindClass) -> usize {
    match class {
        KindClass::Regular => 0,
        KindClass::Replaceable => 1,
        KindClass::Ephemeral => 2,
        KindClass::Addressable => 3,
    }
}

/// One shard's metrics; only that shard writes them.
#[derive(Debug)]
pub struct ShardMetrics {
    pub connections_open: Gauge,
    pub connections_opened: Count,
    pub connections_closed: [Count; CLOSE_REASONS.len()],
    pub connections_refused: Count,
    pub accept_failures: Count,
    pub client_messages: [Count; CLIENT_VERBS.len()],
    pub relay_messages: [Count; RELAY_VERBS.len()],
    /// Flushes of a connection's queued messages to its socket (one write each, as the
    /// socket takes it): messages sent per flush is what `delivery_linger_ms` raises.
    pub outbound_flushes: Count,
    /// By outcome, then kind class.
    pub events: [[Count; KIND_CLASSES.len()]; EVENT_OUTCOMES.len()],
    /// Decode, duplicate check, signature and policy of one EVENT, up to handing it on.
    pub ingest_check: Histogram,
    /// Matching one event against this shard's subscriptions and queueing its deliveries.
    pub fanout: Histogram,
    /// A commit's wait between the writer and this shard (enqueue to dequeue), local and
    /// replicated alike.
    pub commit_queue: Histogram,
    pub deliveries: Count,
    pub live_dropped: Count,
    pub overflow_closes: Count,
    /// Connections closed at accept because their address is blocked (NIP-86 `blockip`).
    pub blocked_ip_refusals: Count,
    /// New connections closed at accept over `rate_connect_address`.
    pub rate_limited_connections: Count,
    /// Requests refused by a rate limit, by verb (EVENT, REQ, COUNT).
    pub rate_limited: [Count; 3],
    /// Addresses and pubkeys with rate-limit buckets held (sampled each second).
    pub rate_limit_keys: Gauge,
    pub cluster_ephemeral_dropped: Count,
    /// Cluster links whose socket this shard owns, and the frames it received on them.
    pub cluster_links_owned: Gauge,
    pub cluster_link_frames_received: Count,
    pub subscriptions_open: Gauge,
    pub req_to_eose: Histogram,
    pub scan_slices: Count,
    /// Sampled once a second: bytes queued on this shard's connections, the fullest queue as a
    /// fraction of its bound (per mille), and every connection's depth.
    pub outbound_queued_bytes: Gauge,
    pub outbound_pressure_per_mille: Gauge,
    pub outbound_depth: Histogram,
    /// permessage-deflate: bytes by `DEFLATE_FORMS` (outbound before and after compression,
    /// inbound before and after inflating), and connections that negotiated it.
    pub deflate_bytes: [Count; DEFLATE_FORMS.len()],
    pub deflate_connections: Count,
    /// Compressed client messages refused (too big once inflated, or not deflate data).
    pub inflate_refused: Count,
}

/// (direction, form) of the permessage-deflate byte counts.
pub const DEFLATE_FORMS: [(&str, &str); 4] =
    [("out", "plain"), ("out", "compressed"), ("in", "compressed"), ("in", "inflated")];
pub const DEFLATE_OUT_PLAIN: usize = 0;
pub const DEFLATE_OUT_COMPRESSED: usize = 1;
pub const DEFLATE_IN_COMPRESSED: usize = 2;
pub const DEFLATE_IN_INFLATED: usize = 3;

impl Default for ShardMetrics {
    fn default() -> ShardMetrics {
        ShardMetrics {
            connections_open: Gauge::default(),
            connections_opened: Count::default(),
            connections_closed: Default::default(),
            connections_refused: Count::default(),
            accept_failures: Count::default(),
            client_messages: Default::default(),
            relay_messages: Default::default(),
            outbound_flushes: Count::default(),
            events: Default::default(),
            ingest_check: Histogram::seconds(),
            fanout: Histogram::seconds(),
            commit_queue: Histogram::seconds(),
            deliveries: Count::default(),
            live_dropped: Count::default(),
            overflow_closes: Count::default(),
            blocked_ip_refusals: Count::default(),
            rate_limited_connections: Count::default(),
            rate_limited: Default::default(),
            rate_limit_keys: Gauge::default(),
            cluster_ephemeral_dropped: Count::default(),
            cluster_links_owned: Gauge::default(),
            cluster_link_frames_received: Count::default(),
            subscriptions_open: Gauge::default(),
            req_to_eose: Histogram::seconds(),
            scan_slices: Count::default(),
            outbound_queued_bytes: Gauge::default(),
            outbound_pressure_per_mille: Gauge::default(),
            outbound_depth: Histogram::of(QUEUE_BYTES),
            deflate_bytes: Default::default(),
            deflate_connections: Count::default(),
            inflate_refused: Count::default(),
        }
    }
}

impl ShardMetrics {
    pub fn closed(&self, reason: CloseReason) {
        self.connections_closed[reason as usize].inc();
    }

    pub fn event(&self, outcome: usize, kind_class: usize) {
        self.events[outcome][kind_class].inc();
    }
}

/// The writer's metrics (the writer executor writes them).
#[derive(Debug)]
pub struct WriterMetrics {
    /// By source: 0 client events, 1 replicated batches.
    pub batch_events: [Histogram; 2],
    pub commit_duration: [Histogram; 2],
    /// Client events waiting for the writer after it took a batch.
    pub queue_events: Gauge,
    pub events_stored: [Count; 2],
    /// Replicated events stored, and their JSON bytes, per origin. The writer takes the lock
    /// once per replicated batch, scrapes to read; bounded by the origins replication pulls
    /// (allowed peers).
    pub applied_by_origin: std::sync::Mutex<std::collections::BTreeMap<[u8; 32], (u64, u64)>>,
    /// Origin commit to this node's fanout enqueue, for replicated batches whose origin knew
    /// the commit time (batches answered from recent commits, not backlog reads).
    pub delivery_lag: Histogram,
}

pub const WRITE_SOURCES: [&str; 2] = ["clients", "replication"];

impl WriterMetrics {
    /// A group commit of `events` from `source` (index into `WRITE_SOURCES`) took `duration`.
    pub fn committed(&self, source: usize, duration: Duration, events: usize) {
        self.commit_duration[source].observe_duration(duration);
        self.batch_events[source].observe(events as u64);
    }
}

impl Default for WriterMetrics {
    fn default() -> WriterMetrics {
        WriterMetrics {
            batch_events: [Histogram::of(EVENT_COUNTS), Histogram::of(EVENT_COUNTS)],
            commit_duration: [Histogram::seconds(), Histogram::seconds()],
            queue_events: Gauge::default(),
            events_stored: Default::default(),
            applied_by_origin: Default::default(),
            delivery_lag: Histogram::seconds(),
        }
    }
}

/// Why a cluster link was refused or closed.
pub const LINK_FAILURES: [&str; 14] = [
    "bad_signature",
    "not_allowed",
    "other_cluster",
    "handshake",
    "duplicate",
    "io",
    "bad_frame",
    "timeout",
    "closed",
    "queue_full",
    "too_many_handshakes",
    "silent",
    "protocol",
    "other",
];

/// The cluster executor's metrics. Counters it keeps itself are atomics here; the replicator's
/// and membership's own statistics (sans-I/O structs) are copied in on every tick.
#[derive(Debug, Default)]
pub struct ClusterMetrics {
    pub links_open: Gauge,
    pub links_opened: Count,
    pub links_closed: Count,
    pub link_failures: [Count; LINK_FAILURES.len()],
    pub link_bytes_sent: Count,
    pub link_bytes_received: Count,
    pub replicated_events_invalid: Count,
    pub partitions_detected: Count,
    /// Anti-entropy: sessions started, completed (every fetch answered), served for peers,
    /// refused (too many events in the window), ids found missing, events fetched.
    pub anti_entropy_started: Count,
    pub anti_entropy_completed: Count,
    pub anti_entropy_served: Count,
    pub anti_entropy_refused: Count,
    pub anti_entropy_missing: Count,
    pub anti_entropy_repaired: Count,
    pub members_up: Gauge,
    /// Copies of `ReplicationStats` and `MembershipStats`, by the names in `REPLICATION_STATS`
    /// and `MEMBERSHIP_STATS`.
    pub replication: [Count; REPLICATION_STATS.len()],
    pub membership: [Count; MEMBERSHIP_STATS.len()],
    /// Members foca knows, by `MEMBER_STATES`.
    pub members_by_state: [Gauge; MEMBER_STATES.len()],
    /// Distinct keys in this node's interest summary, by `SUMMARY_CLASSES`.
    pub summary_keys: [Gauge; SUMMARY_CLASSES.len()],
    /// Per-peer and per-origin figures (their label sets change with the cluster), replaced
    /// whole on every cluster tick. The lock is between that tick (100 ms) and scrapes only,
    /// never on a hot path.
    links_and_origins: std::sync::Mutex<LinksAndOrigins>,
}

pub const MEMBER_STATES: [&str; 3] = ["alive", "suspect", "down"];

pub const SUMMARY_CLASSES: [&str; 3] = ["ids", "authors", "tags"];

/// One linked peer, by its key (hex).
#[derive(Clone, Debug, Default)]
pub struct PeerFigures {
    /// The round trip of the last answered ping.
    pub rtt_seconds: Option<f64>,
    /// Links authenticated with it this run (a reconnect adds one).
    pub links_up: u64,
    /// What its interest summary decided (see `LiveStats`).
    pub live: parrhesia_net::cluster::replication::LiveStats,
    /// How long ago its summary was last confirmed (`None`: none held, it is sent everything).
    pub summary_age_seconds: Option<f64>,
    /// Bytes of this node's summaries (full and deltas) sent to it.
    pub summary_bytes_sent: u64,
}

/// One origin this node pulls, by its key (hex): see `Replicator::backlog`.
#[derive(Clone, Debug, Default)]
pub struct OriginFigures {
    pub held_positions: u64,
    pub behind_positions: u64,
    pub resets_received: u64,
    /// How long this node has been behind the origin (0 when caught up).
    pub behind_seconds: f64,
}

/// One traffic class of the links to one peer.
#[derive(Clone, Debug, Default)]
pub struct QueueFigures {
    pub queued_frames: u64,
    pub queued_bytes: u64,
    /// Over every link to the peer this run (best-effort classes only).
    pub dropped_frames: u64,
    pub dropped_bytes: u64,
}

#[derive(Debug, Default)]
struct LinksAndOrigins {
    peers: std::collections::BTreeMap<String, PeerFigures>,
    origins: std::collections::BTreeMap<String, OriginFigures>,
    /// By (peer, class).
    queues: std::collections::BTreeMap<(String, String), QueueFigures>,
}

pub const REPLICATION_STATS: [(&str, &str); 18] = [
    ("pulls_sent", "Pulls sent to peers"),
    ("pulls_served", "Pulls answered for peers"),
    ("pulls_parked", "Pulls parked at the head of a log until it grows"),
    ("pull_timeouts", "Pulls that got no answer in time"),
    ("fallback_pulls", "Pulls sent to a peer other than the log's origin"),
    ("batches_applied", "Pulled batches stored"),
    ("batches_retried", "Pulled batches not stored, to be pulled again"),
    ("events_received", "Events received in pulled batches"),
    ("events_served", "Events sent in answered pulls"),
    ("resets_sent", "Resets sent for logs this node does not hold"),
    ("resets_received", "Resets received"),
    ("ephemeral_sent", "Ephemeral events sent to peers"),
    ("ephemeral_delivered", "Ephemeral events from peers delivered here"),
    ("ephemeral_duplicates", "Ephemeral events from peers already seen"),
    ("ids_pulls_sent", "Pulls of positions and ids only (a log mostly held here already)"),
    ("positions_held", "Log positions learned whose events were held here already (not transferred)"),
    ("fetches_sent", "Fetches of the events of a positions answer this node lacked"),
    ("events_fetched", "Events received by fetches"),
];

pub const MEMBERSHIP_STATS: [(&str, &str); 5] = [
    ("joins", "Members that joined"),
    ("suspicions", "Members suspected of being down"),
    ("downs", "Members declared down"),
    ("rejoins", "Members that came back"),
    ("foca_errors", "Membership inputs the SWIM state machine refused"),
];

impl ClusterMetrics {
    /// Replaces the per-peer and per-origin figures (the cluster executor, each tick).
    pub fn publish_links_and_origins(
        &self,
        peers: std::collections::BTreeMap<String, PeerFigures>,
        origins: std::collections::BTreeMap<String, OriginFigures>,
        queues: std::collections::BTreeMap<(String, String), QueueFigures>,
    ) {
        let mut figures = self.links_and_origins.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *figures = LinksAndOrigins { peers, origins, queues };
    }

    pub fn failure(&self, reason: &'static str) {
        let other = LINK_FAILURES.len() - 1;
        let index = LINK_FAILURES.iter().position(|known| *known == reason).unwrap_or(other);
        self.link_failures[index].inc();
    }

    /// Copies `values` (in the order of `REPLICATION_STATS` or `MEMBERSHIP_STATS`) into `into`.
    pub fn copy(into: &[Count], values: &[u64]) {
        assert_eq!(into.len(), values.len(), "one value per statistic");
        for (count, value) in into.iter().zip(values) {
            count.mirror(*value);
        }
    }
}

/// Everything a scrape reads, and the registry that renders it.
pub struct Metrics {
    registry: Registry,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Metrics")
    }
}

/// What the collector reads at each scrape.
#[derive(Debug)]
struct Sources {
    shards: Vec<Arc<ShardMetrics>>,
    writer: Arc<WriterMetrics>,
    cluster: Option<Arc<ClusterMetrics>>,
    store: StoreHandle,
}

/// The store, for its gauges (`Store` is not `Debug`).
struct StoreHandle(Store);

impl fmt::Debug for StoreHandle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Store")
    }
}

impl Metrics {
    pub fn new(
        shards: Vec<Arc<ShardMetrics>>,
        writer: Arc<WriterMetrics>,
        cluster: Option<Arc<ClusterMetrics>>,
        store: Store,
    ) -> Metrics {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Sources { shards, writer, cluster, store: StoreHandle(store) }));
        Metrics { registry }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(64 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing into a String cannot fail");
        text
    }
}

pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// One rendered value.
enum Sample<'a> {
    Counter(u64),
    CounterF64(f64),
    Gauge(i64),
    GaugeF64(f64),
    Histogram(&'a Histogram),
}

/// Writes one metric family: its descriptor, then every labelled sample.
fn family<'a, S: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (S, Sample<'a>)>,
) -> fmt::Result {
    let mut samples = samples.into_iter().peekable();
    let Some((_, first)) = samples.peek() else { return Ok(()) };
    let kind = match first {
        Sample::Counter(_) | Sample::CounterF64(_) => MetricType::Counter,
        Sample::Gauge(_) | Sample::GaugeF64(_) => MetricType::Gauge,
        Sample::Histogram(_) => MetricType::Histogram,
    };
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, sample) in samples {
        let mut encoder = metric.encode_family(&labels)?;
        match sample {
            Sample::Counter(value) => encoder.encode_counter::<NoLabelSet, _, u64>(&value, None)?,
            Sample::CounterF64(value) => encoder.encode_counter::<NoLabelSet, _, f64>(&value, None)?,
            Sample::Gauge(value) => encoder.encode_gauge(&value)?,
            Sample::GaugeF64(value) => encoder.encode_gauge(&value)?,
            Sample::Histogram(histogram) => {
                let (sum, count, buckets) = histogram.snapshot();
                encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?
            }
        }
    }
    Ok(())
}

impl Sources {
    /// A per-shard family: `value` picks the sample from each shard.
    fn per_shard<'a>(
        &'a self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        value: impl Fn(&'a ShardMetrics) -> Sample<'a>,
    ) -> fmt::Result {
        let samples =
            self.shards.iter().enumerate().map(|(index, shard)| ([("shard", index.to_string())], value(shard)));
        family(encoder, name, help, samples)
    }

    /// A per-shard family with one more label over `labels`.
    fn per_shard_labelled<'a>(
        &'a self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        (label, labels): (&'static str, &'static [&'static str]),
        value: impl Fn(&'a ShardMetrics, usize) -> Sample<'a>,
    ) -> fmt::Result {
        let samples = self.shards.iter().enumerate().flat_map(|(index, shard)| {
            let value = &value;
            labels.iter().enumerate().map(move |(position, name)| {
                ([("shard", index.to_string()), (label, (*name).to_string())], value(shard, position))
            })
        });
        family(encoder, name, help, samples)
    }

    fn encode_shards(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        use Sample::{Counter, Gauge, Histogram};
        let count = |count: &Count| Counter(count.get());
        self.per_shard(encoder, "parrhesia_connections_open", "Client connections open", |shard| {
            Gauge(shard.connections_open.get())
        })?;
        self.per_shard(encoder, "parrhesia_connections_opened", "Client connections upgraded to WebSocket", |shard| {
            count(&shard.connections_opened)
        })?;
        self.per_shard_labelled(
            encoder,
            "parrhesia_connections_closed",
            "Client connections closed, by reason",
            ("reason", &CLOSE_REASONS),
            |shard, reason| count(&shard.connections_closed[reason]),
        )?;
        self.per_shard_labelled(
            encoder,
            "parrhesia_rate_limited",
            "Requests refused by a rate limit, by verb",
            ("verb", &crate::rate::VERBS),
            |shard, verb| count(&shard.rate_limited[verb]),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_connections_refused",
            "Connections refused with 503 at the connection limit",
            |shard| count(&shard.connections_refused),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_accept_failures",
            "Failed accepts (mostly out of file descriptors)",
            |shard| count(&shard.accept_failures),
        )?;
        self.per_shard_labelled(
            encoder,
            "parrhesia_client_messages",
            "Messages received from clients, by verb",
            ("verb", &CLIENT_VERBS),
            |shard, verb| count(&shard.client_messages[verb]),
        )?;
        self.per_shard_labelled(
            encoder,
            "parrhesia_relay_messages",
            "Messages sent to clients, by verb",
            ("verb", &RELAY_VERBS),
            |shard, verb| count(&shard.relay_messages[verb]),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_outbound_flushes",
            "Flushes of a connection's queued messages to its socket (messages per flush: see delivery_linger_ms)",
            |shard| count(&shard.outbound_flushes),
        )?;
        let samples = self.shards.iter().enumerate().flat_map(|(index, shard)| {
            EVENT_OUTCOMES.iter().enumerate().flat_map(move |(outcome, outcome_name)| {
                KIND_CLASSES.iter().enumerate().map(move |(class, class_name)| {
                    let labels = [
                        ("shard", index.to_string()),
                        ("outcome", (*outcome_name).to_string()),
                        ("kind_class", (*class_name).to_string()),
                    ];
                    (labels, Counter(shard.events[outcome][class].get()))
                })
            })
        });
        family(encoder, "parrhesia_events", "Events received from clients, by outcome and kind class", samples)?;
        self.per_shard(
            encoder,
            "parrhesia_ingest_check_duration_seconds",
            "Time to decode and check one EVENT (duplicate, signature, policy) up to handing it on",
            |shard| Histogram(&shard.ingest_check),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_fanout_queue_seconds",
            "Time a commit waited between the writer and the shard's fanout (enqueue to dequeue)",
            |shard| Histogram(&shard.commit_queue),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_fanout_duration_seconds",
            "Time to match one event against a shard's subscriptions and queue its deliveries",
            |shard| Histogram(&shard.fanout),
        )?;
        self.per_shard(encoder, "parrhesia_fanout_deliveries", "Live events queued to subscriptions", |shard| {
            count(&shard.deliveries)
        })?;
        self.per_shard(
            encoder,
            "parrhesia_live_events_dropped",
            "Live events dropped by the overflow policy",
            |shard| count(&shard.live_dropped),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_outbound_overflow_closes",
            "Connections closed because their outbound queue was full",
            |shard| count(&shard.overflow_closes),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_blocked_ip_refusals",
            "Connections closed at accept because their address is blocked (NIP-86 blockip)",
            |shard| count(&shard.blocked_ip_refusals),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_rate_limit_keys",
            "Addresses and pubkeys with rate-limit buckets held (sampled each second)",
            |shard| Gauge(shard.rate_limit_keys.get()),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_rate_limited_connections",
            "New connections closed at accept over the connection rate per address",
            |shard| count(&shard.rate_limited_connections),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_outbound_queued_bytes",
            "Bytes queued to this shard's connections (sampled each second)",
            |shard| Gauge(shard.outbound_queued_bytes.get()),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_outbound_queue_pressure_ratio",
            "The fullest outbound queue as a fraction of outbound_bytes_max (sampled each second)",
            |shard| Sample::GaugeF64(shard.outbound_pressure_per_mille.get() as f64 / 1000.0),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_outbound_queue_depth_bytes",
            "Each connection's outbound queue depth, sampled each second",
            |shard| Histogram(&shard.outbound_depth),
        )?;
        self.per_shard(encoder, "parrhesia_subscriptions_open", "Open REQ subscriptions", |shard| {
            Gauge(shard.subscriptions_open.get())
        })?;
        self.per_shard(
            encoder,
            "parrhesia_req_eose_duration_seconds",
            "Time from a REQ to its EOSE (the stored-events scan)",
            |shard| Histogram(&shard.req_to_eose),
        )?;
        self.per_shard(encoder, "parrhesia_scan_slices", "Budgeted slices of REQ and COUNT scans", |shard| {
            count(&shard.scan_slices)
        })?;
        let samples = self.shards.iter().enumerate().flat_map(|(index, shard)| {
            DEFLATE_FORMS.iter().zip(&shard.deflate_bytes).map(move |((direction, form), count)| {
                let labels = [
                    ("shard", index.to_string()),
                    ("direction", (*direction).to_string()),
                    ("form", (*form).to_string()),
                ];
                (labels, Counter(count.get()))
            })
        });
        family(
            encoder,
            "parrhesia_deflate_bytes",
            "permessage-deflate message bytes: out before/after compressing, in before/after inflating",
            samples,
        )?;
        self.per_shard(
            encoder,
            "parrhesia_deflate_connections",
            "Connections that negotiated permessage-deflate",
            |shard| count(&shard.deflate_connections),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_inflate_refused",
            "Compressed client messages refused (too big once inflated, or not deflate data)",
            |shard| count(&shard.inflate_refused),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_cluster_ephemeral_dropped",
            "Ephemeral events not handed to the cluster (its queue was full)",
            |shard| count(&shard.cluster_ephemeral_dropped),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_cluster_links_owned",
            "Cluster links whose socket this shard owns (it reads, decodes and checks their frames)",
            |shard| Gauge(shard.cluster_links_owned.get()),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_cluster_link_frames_received",
            "Frames received on the cluster links this shard owns",
            |shard| count(&shard.cluster_link_frames_received),
        )
    }

    fn encode_writer(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let writer = &self.writer;
        let by_source = |pick: fn(&WriterMetrics, usize) -> Sample<'_>| {
            WRITE_SOURCES.iter().enumerate().map(move |(index, source)| ([("source", *source)], pick(writer, index)))
        };
        family(
            encoder,
            "parrhesia_writer_batch_events",
            "Events per group commit",
            by_source(|writer, source| Sample::Histogram(&writer.batch_events[source])),
        )?;
        family(
            encoder,
            "parrhesia_writer_commit_duration_seconds",
            "Duration of one group commit, flush included",
            by_source(|writer, source| Sample::Histogram(&writer.commit_duration[source])),
        )?;
        family(
            encoder,
            "parrhesia_writer_events_stored",
            "Events the writer stored",
            by_source(|writer, source| Sample::Counter(writer.events_stored[source].get())),
        )?;
        family(
            encoder,
            "parrhesia_writer_queue_events",
            "Client events waiting for the writer",
            [(NO_LABELS, Sample::Gauge(writer.queue_events.get()))],
        )?;
        let applied = writer.applied_by_origin.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let origin = |key: &[u8; 32]| [("origin", parrhesia_net::identity_hex(key))];
        let events = applied.iter().map(|(key, (events, _))| (origin(key), Sample::Counter(*events)));
        family(encoder, "parrhesia_cluster_applied_events", "Replicated events stored, per origin", events)?;
        let bytes = applied.iter().map(|(key, (_, bytes))| (origin(key), Sample::Counter(*bytes)));
        family(
            encoder,
            "parrhesia_cluster_applied_bytes",
            "JSON bytes of replicated events stored, per origin",
            bytes,
        )?;
        family(
            encoder,
            "parrhesia_cluster_delivery_lag_seconds",
            "Cross-node delivery lag: the origin's commit to this node's fanout enqueue, for batches sent from recent commits. The origin's clock against this node's: skew between them adds to it (a negative difference counts as 0)",
            [(NO_LABELS, Sample::Histogram(&writer.delivery_lag))],
        )
    }

    fn encode_store(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let Ok(gauges) = self.store.0.gauges() else {
            // An unreadable store shows as missing gauges; the relay logs its read errors.
            return Ok(());
        };
        let gauge = |value: u64| [(NO_LABELS, Sample::Gauge(i64::try_from(value).unwrap_or(i64::MAX)))];
        family(encoder, "parrhesia_store_events", "Events stored", gauge(gauges.events))?;
        family(
            encoder,
            "parrhesia_store_last_sequence",
            "Sequence number of the last stored event",
            gauge(gauges.last_seq),
        )?;
        family(encoder, "parrhesia_store_disk_bytes", "Size of the LMDB data file", gauge(gauges.disk_bytes))
    }

    fn encode_cluster(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let Some(cluster) = &self.cluster else { return Ok(()) };
        let one = |sample: Sample<'static>| [(NO_LABELS, sample)];
        family(
            encoder,
            "parrhesia_cluster_links_open",
            "Authenticated links to peers",
            one(Sample::Gauge(cluster.links_open.get())),
        )?;
        family(
            encoder,
            "parrhesia_cluster_links_opened",
            "Links authenticated",
            one(Sample::Counter(cluster.links_opened.get())),
        )?;
        family(
            encoder,
            "parrhesia_cluster_links_closed",
            "Links closed",
            one(Sample::Counter(cluster.links_closed.get())),
        )?;
        let failures = LINK_FAILURES
            .iter()
            .zip(&cluster.link_failures)
            .map(|(reason, count)| ([("reason", *reason)], Sample::Counter(count.get())));
        family(encoder, "parrhesia_cluster_link_failures", "Links refused or closed, by reason", failures)?;
        family(
            encoder,
            "parrhesia_cluster_link_sent_bytes",
            "Frame bytes queued to peers",
            one(Sample::Counter(cluster.link_bytes_sent.get())),
        )?;
        family(
            encoder,
            "parrhesia_cluster_link_received_bytes",
            "Frame bytes read from peers",
            one(Sample::Counter(cluster.link_bytes_received.get())),
        )?;
        family(
            encoder,
            "parrhesia_cluster_replicated_events_invalid",
            "Replicated events refused by the checks a client's event gets",
            one(Sample::Counter(cluster.replicated_events_invalid.get())),
        )?;
        family(
            encoder,
            "parrhesia_cluster_partitions_detected",
            "A link down to a member that is up, or a member down while linked",
            one(Sample::Counter(cluster.partitions_detected.get())),
        )?;
        let anti_entropy = [
            ("started", "Anti-entropy sessions this node started", &cluster.anti_entropy_started),
            (
                "completed",
                "Anti-entropy sessions this node finished (every fetch answered)",
                &cluster.anti_entropy_completed,
            ),
            ("served", "Anti-entropy sessions this node served for peers", &cluster.anti_entropy_served),
            ("refused", "Anti-entropy windows over anti_entropy_items_max (here)", &cluster.anti_entropy_refused),
            ("missing", "Event ids anti-entropy found this node lacking", &cluster.anti_entropy_missing),
            ("repaired", "Events anti-entropy fetched for the writer", &cluster.anti_entropy_repaired),
        ];
        for (name, help, count) in anti_entropy {
            family(
                encoder,
                &format!("parrhesia_cluster_anti_entropy_{name}"),
                help,
                one(Sample::Counter(count.get())),
            )?;
        }
        family(
            encoder,
            "parrhesia_cluster_members_up",
            "Members this node sees up",
            one(Sample::Gauge(cluster.members_up.get())),
        )?;
        let states = MEMBER_STATES.iter().zip(&cluster.members_by_state);
        let states = states.map(|(state, gauge)| ([("state", *state)], Sample::Gauge(gauge.get())));
        family(encoder, "parrhesia_cluster_members", "Members the SWIM layer knows, by state", states)?;
        self.encode_links_and_origins(encoder, cluster)?;
        for (prefix, names, counts) in [
            ("parrhesia_cluster_replication_", &REPLICATION_STATS[..], &cluster.replication[..]),
            ("parrhesia_cluster_membership_", &MEMBERSHIP_STATS[..], &cluster.membership[..]),
        ] {
            for ((name, help), count) in names.iter().zip(counts) {
                family(encoder, &format!("{prefix}{name}"), help, one(Sample::Counter(count.get())))?;
            }
        }
        Ok(())
    }

    fn encode_links_and_origins(&self, encoder: &mut DescriptorEncoder, cluster: &ClusterMetrics) -> fmt::Result {
        let figures = cluster.links_and_origins.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let peer = |key: &String| [("peer", key.clone())];
        let rtt = figures
            .peers
            .iter()
            .filter_map(|(key, peer_figures)| peer_figures.rtt_seconds.map(|rtt| (peer(key), Sample::GaugeF64(rtt))));
        family(
            encoder,
            "parrhesia_cluster_peer_rtt_seconds",
            "Round trip of the last answered link ping, per peer",
            rtt,
        )?;
        let links_up = figures.peers.iter().map(|(key, figures)| (peer(key), Sample::Counter(figures.links_up)));
        family(
            encoder,
            "parrhesia_cluster_peer_links_up",
            "Links authenticated with the peer this run (reconnects are this minus one)",
            links_up,
        )?;
        let per_peer: [PeerCounter; 7] = [
            (
                "parrhesia_cluster_live_pushed_events",
                "Own events sent to the peer without lingering: they matched its interest summary, or its summary was not current",
                |figures| figures.live.pushed,
            ),
            (
                "parrhesia_cluster_live_avoided_events",
                "Own events the peer's current summary did not match: they reach it through the lingering pull",
                |figures| figures.live.avoided,
            ),
            (
                "parrhesia_cluster_summary_fallbacks",
                "Own and ephemeral events sent as if the peer wanted everything: its summary was missing or not confirmed within 2 s",
                |figures| figures.live.fallbacks,
            ),
            (
                "parrhesia_cluster_ephemeral_sent_events",
                "Ephemeral events sent to the peer (its summary matched or was not current)",
                |figures| figures.live.ephemeral_sent,
            ),
            (
                "parrhesia_cluster_ephemeral_avoided_events",
                "Ephemeral events not sent to the peer: its current summary did not match",
                |figures| figures.live.ephemeral_avoided,
            ),
            (
                "parrhesia_cluster_summary_requests",
                "Full summaries asked of the peer after a gap in its deltas",
                |figures| figures.live.summary_requests,
            ),
            (
                "parrhesia_cluster_summary_sent_bytes",
                "Bytes of this node's interest summaries (full and deltas) sent to the peer",
                |figures| figures.summary_bytes_sent,
            ),
        ];
        for (name, help, pick) in per_peer {
            let samples = figures.peers.iter().map(|(key, figures)| (peer(key), Sample::Counter(pick(figures))));
            family(encoder, name, help, samples)?;
        }
        let age = figures
            .peers
            .iter()
            .filter_map(|(key, figures)| figures.summary_age_seconds.map(|age| (peer(key), Sample::GaugeF64(age))));
        family(
            encoder,
            "parrhesia_cluster_summary_age_seconds",
            "How long ago the linked peer last confirmed its interest summary",
            age,
        )?;
        let queue = |(peer, class): &(String, String)| [("peer", peer.clone()), ("class", class.clone())];
        let gauge_of = |value: u64| Sample::Gauge(i64::try_from(value).unwrap_or(i64::MAX));
        let queued = figures.queues.iter().map(|(key, figures)| (queue(key), gauge_of(figures.queued_bytes)));
        family(encoder, "parrhesia_cluster_link_queue_bytes", "Bytes queued to the peer, per traffic class", queued)?;
        let queued = figures.queues.iter().map(|(key, figures)| (queue(key), gauge_of(figures.queued_frames)));
        family(encoder, "parrhesia_cluster_link_queue_frames", "Frames queued to the peer, per traffic class", queued)?;
        let dropped = figures.queues.iter().map(|(key, figures)| (queue(key), Sample::Counter(figures.dropped_frames)));
        family(
            encoder,
            "parrhesia_cluster_link_dropped_frames",
            "Best-effort frames dropped (oldest first) because the peer's class queue was full",
            dropped,
        )?;
        let dropped = figures.queues.iter().map(|(key, figures)| (queue(key), Sample::Counter(figures.dropped_bytes)));
        family(encoder, "parrhesia_cluster_link_dropped_bytes", "Bytes of the dropped frames", dropped)?;
        let keys = SUMMARY_CLASSES.iter().zip(&cluster.summary_keys);
        let keys = keys.map(|(class, gauge)| ([("class", *class)], Sample::Gauge(gauge.get())));
        family(
            encoder,
            "parrhesia_cluster_summary_keys",
            "Distinct keys in this node's interest summary, per bloom",
            keys,
        )?;
        let origin = |key: &String| [("origin", key.clone())];
        let gauge = |value: u64| Sample::Gauge(i64::try_from(value).unwrap_or(i64::MAX));
        let held = figures.origins.iter().map(|(key, figures)| (origin(key), gauge(figures.held_positions)));
        family(
            encoder,
            "parrhesia_cluster_origin_held_positions",
            "Positions of the origin's logs this node holds",
            held,
        )?;
        let behind = figures.origins.iter().map(|(key, figures)| (origin(key), gauge(figures.behind_positions)));
        family(
            encoder,
            "parrhesia_cluster_replication_backlog_positions",
            "Positions of the origin's logs a linked peer holds and this node has not pulled yet (an upper bound on events: removed events leave holes)",
            behind,
        )?;
        let resets =
            figures.origins.iter().map(|(key, figures)| (origin(key), Sample::Counter(figures.resets_received)));
        family(encoder, "parrhesia_cluster_resets_received", "Resets received for the origin's logs", resets)?;
        let lag = figures.origins.iter().map(|(key, figures)| (origin(key), Sample::GaugeF64(figures.behind_seconds)));
        family(
            encoder,
            "parrhesia_cluster_replication_lag_seconds",
            "How long this node has been behind the origin (0 when caught up)",
            lag,
        )
    }

    fn encode_process(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let one = |value: u64| [(NO_LABELS, Sample::Gauge(i64::try_from(value).unwrap_or(i64::MAX)))];
        family(encoder, "parrhesia_shards", "Shards (executors serving connections)", one(self.shards.len() as u64))?;
        let info = [([("version", env!("CARGO_PKG_VERSION"))], Sample::Gauge(1))];
        family(encoder, "parrhesia_build_info", "The running build", info)?;
        if let Ok(limit) = crate::system::open_file_limit() {
            family(encoder, "process_max_fds", "The open-file limit (soft)", one(limit.rlim_cur))?;
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            family(encoder, "process_open_fds", "File descriptors open", one(entries.count() as u64))?;
        }
        if let Some((cpu_seconds, resident_bytes)) = process_stat() {
            let cpu = [(NO_LABELS, Sample::CounterF64(cpu_seconds))];
            family(encoder, "process_cpu_seconds", "User and system CPU time", cpu)?;
            family(encoder, "process_resident_memory_bytes", "Resident memory", one(resident_bytes))?;
        }
        Ok(())
    }
}

const NO_LABELS: [(&str, &str); 0] = [];

/// A per-peer counter family: name, help, and where its value is.
type PeerCounter = (&'static str, &'static str, fn(&PeerFigures) -> u64);

impl prometheus_client::collector::Collector for Sources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        self.encode_shards(&mut encoder)?;
        self.encode_writer(&mut encoder)?;
        self.encode_store(&mut encoder)?;
        self.encode_cluster(&mut encoder)?;
        self.encode_process(&mut encoder)
    }
}

/// (CPU seconds, resident bytes) from /proc/self/stat.
fn process_stat() -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3, "state".
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    let cpu = (field(14)? + field(15)?) as f64 / ticks;
    Some((cpu, field(24)? * page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_verbs_from_frames() {
        for (frame, verb) in [
            (&b"[\"OK\",\"ab\",true,\"\"]"[..], "OK"),
            (b"[\"EVENT\",\"s\",{}]", "EVENT"),
            (b"[\"EOSE\",\"s\"]", "EOSE"),
            (b"[\"NEG-ERR\",\"s\",\"x\"]", "NEG-ERR"),
            (b"[\"OKAY\",1]", "other"),
            (b"garbage", "other"),
            (b"", "other"),
        ] {
            assert_eq!(RELAY_VERBS[relay_verb(frame)], verb, "{:?}", String::from_utf8_lossy(frame));
        }
    }

    #[test]
    fn every_prefix_is_an_outcome() {
        use Prefix::*;
        for prefix in [Duplicate, Pow, Blocked, RateLimited, Invalid, Restricted, Mute, Error, AuthRequired] {
            assert_eq!(EVENT_OUTCOMES[refusal_outcome(prefix)], prefix.as_str());
        }
        assert_eq!(refusal_outcome(Duplicate), OUTCOME_DUPLICATE);
    }

    #[test]
    fn histogram_buckets_are_upper_bounds_and_count_matches() {
        let histogram = Histogram::of(&[1, 10, 100]);
        for value in [0, 1, 2, 10, 11, 100, 101, 5000] {
            histogram.observe(value);
        }
        let (sum, count, buckets) = histogram.snapshot();
        assert_eq!(count, 8);
        assert_eq!(sum, 5225.0);
        assert_eq!(buckets, vec![(1.0, 2), (10.0, 2), (100.0, 2), (f64::INFINITY, 2)]);
        let seconds = Histogram::seconds();
        seconds.observe_duration(Duration::from_micros(300));
        let (sum, _, buckets) = seconds.snapshot();
        assert!((sum - 0.0003).abs() < 1e-12);
        assert_eq!(buckets.iter().find(|(_, count)| *count == 1).map(|(bound, _)| *bound), Some(0.0005));
    }
}
