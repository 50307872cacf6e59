//! The cluster executor's metrics (`ClusterMetrics`): link and anti-entropy counters, copies of
//! the replicator's and membership's statistics, and the per-peer, per-origin and per-queue
//! figures published whole on every cluster tick.

use super::{Count, Gauge};
pub use parrhesia_net::cluster::membership::REFUSALS;

/// Why a cluster link was refused or closed.
pub const LINK_FAILURES: [&str; 19] = [
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
    "tampered",
    "plaintext_peer",
    "encryption_mismatch",
    "not_a_link",
    "invalid_event",
    "other",
];

/// The cluster executor's metrics. Counters it keeps itself are atomics here; the replicator's
/// and membership's own statistics (sans-I/O structs) are copied in on every tick.
#[derive(Debug, Default)]
pub struct ClusterMetrics {
    pub links_open: Gauge,
    /// SIGHUP reloads applied, and those refused (the running configuration kept).
    pub reloads: Count,
    pub reloads_failed: Count,
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
    /// Membership datagrams refused, by `parrhesia_net::cluster::membership::REFUSALS`.
    pub membership_refused: [Count; REFUSALS.len()],
    /// Members foca knows, by `MEMBER_STATES`.
    pub members_by_state: [Gauge; MEMBER_STATES.len()],
    /// Distinct keys in this node's interest summary, by `SUMMARY_CLASSES`.
    pub summary_keys: [Gauge; SUMMARY_CLASSES.len()],
    /// Per-peer and per-origin figures (their label sets change with the cluster), replaced
    /// whole on every cluster tick. The lock is between that tick (100 ms) and scrapes only,
    /// never on a hot path.
    pub(super) links_and_origins: std::sync::Mutex<LinksAndOrigins>,
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
    /// Settings it sent at its last link up that differ from this node's.
    pub config_mismatches: Vec<String>,
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
pub(super) struct LinksAndOrigins {
    pub(super) peers: std::collections::BTreeMap<String, PeerFigures>,
    pub(super) origins: std::collections::BTreeMap<String, OriginFigures>,
    /// By (peer, class).
    pub(super) queues: std::collections::BTreeMap<(String, String), QueueFigures>,
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
