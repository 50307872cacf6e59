//! One shard's metrics (`ShardMetrics`, only that shard writes them) and the label sets its
//! arrays are indexed by: close reasons, client and relay verbs, event outcomes, kind classes,
//! permessage-deflate forms.

use parrhesia_engine::{KindClass, Prefix};

use super::{Count, Gauge, Histogram, QUEUE_BYTES};

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
pub const EVENT_OUTCOMES: [&str; 12] = [
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
    "shadow-rejected",
];
pub const OUTCOME_STORED: usize = 0;
pub const OUTCOME_DUPLICATE: usize = 1;
pub const OUTCOME_EPHEMERAL: usize = 2;
/// Answered `OK true` by a write-policy plugin's `shadowReject`, neither stored nor fanned out.
pub const OUTCOME_SHADOW_REJECTED: usize = 11;

/// NIP-43 requests by what became of them.
pub const NIP43_OUTCOMES: [&str; 7] =
    ["invite", "invite_refused", "join_accepted", "join_ignored", "join_refused", "leave", "write_refused"];
pub const NIP43_INVITE: usize = 0;
pub const NIP43_INVITE_REFUSED: usize = 1;
pub const NIP43_JOIN_ACCEPTED: usize = 2;
pub const NIP43_JOIN_IGNORED: usize = 3;
pub const NIP43_JOIN_REFUSED: usize = 4;
pub const NIP43_LEAVE: usize = 5;
pub const NIP43_WRITE_REFUSED: usize = 6;

/// A write-policy plugin's verdicts, and why it gave none (`plugin::Failure` in order).
pub const PLUGIN_VERDICTS: [&str; 4] = ["accept", "reject", "shadow_reject", "failed"];
pub const PLUGIN_FAILURES: [&str; 5] = ["timeout", "exited", "bad_answer", "busy", "unavailable"];

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
    /// Write-policy plugin: verdicts by `PLUGIN_VERDICTS`, failures by `PLUGIN_FAILURES`,
    /// processes started.
    pub plugin_verdicts: [Count; 4],
    pub plugin_failures: [Count; 5],
    pub plugin_starts: Count,
    /// NIP-43 requests by `NIP43_OUTCOMES`.
    pub nip43: [Count; 7],
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
            plugin_verdicts: Default::default(),
            plugin_failures: Default::default(),
            plugin_starts: Count::default(),
            nip43: Default::default(),
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
}
