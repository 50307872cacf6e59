//! Every message that crosses a thread: shard -> writer, writer -> shard, shard -> shard, and
//! between the cluster executor and the writer and shards.
//! Channels are glommio shared channels (single producer, single consumer) with named,
//! bounded capacities (`Config::writer_queue_events_max`, `Config::shard_channel_messages_max`).

use std::sync::Arc;

use parrhesia_engine::policy::Policy;
use parrhesia_engine::{Event, InterestKey};
use parrhesia_storage::Outcome;

/// Shard -> writer: a verified, non-ephemeral event to store. `ticket` is the shard's handle
/// for routing the outcome back to the connection that sent it.
#[derive(Debug)]
pub struct StoreRequest {
    pub ticket: u64,
    pub event: Event,
}

/// Shard -> writer: an event to store, or a NIP-86 management call.
#[derive(Debug)]
pub enum WriterRequest {
    Store(StoreRequest),
    Manage(ManageRequest),
}

/// A NIP-86 call whose NIP-98 authorization and caller the shard checked. The writer refuses
/// a reused authorization (node-wide), records the call, stores a change as a policy entry
/// (`policy_log`: the authorization and the body travel with it to every node) and answers.
#[derive(Debug)]
pub struct ManageRequest {
    pub ticket: u64,
    /// The NIP-98 event: its id is taken once, while its created_at is within the window.
    pub auth: Event,
    /// The request body as sent (what the authorization's payload hash covers).
    pub body: String,
    pub request: parrhesia_engine::management::Request,
}

/// The writer's answer to a `ManageRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManageAnswer {
    /// The JSON `result`, and the policy generation it leaves (the caller answers once every
    /// shard has taken it).
    Done(serde_json::Value, u64),
    /// This NIP-98 authorization was used before.
    Replayed,
    /// The store failed.
    Failed,
}

/// Writer -> every shard, once per group commit (or policy change), in commit order.
#[derive(Debug)]
pub struct Commit {
    /// Outcomes of this shard's requests in the commit, by ticket.
    pub outcomes: Vec<(u64, Outcome)>,
    /// Every event the commit stored, in sequence order, shared by all shards.
    pub events: Arc<[(u64, Event)]>,
    /// The events are durable, and so is everything sent before. `false`: a replicated batch
    /// sent before its commit (its origin made it durable already; everything sent before it
    /// is durable); the next message says whether that commit held (`taken_back`).
    pub durable: bool,
    /// Events of the replicated batch sent before its commit, which then failed: not stored.
    pub taken_back: Vec<parrhesia_engine::Id>,
    /// When the writer sent it (the shard measures how long it waited in its queue).
    pub sent: std::time::Instant,
    /// The operator's policy after a management call changed it, with its generation: every
    /// shard takes it at once and says so in `Shard::policy_generations`.
    pub policy: Option<(u64, Arc<Policy>)>,
    /// Answers to this shard's management calls, by ticket.
    pub answers: Vec<(u64, ManageAnswer)>,
}

impl Commit {
    /// A commit of stored events, with this shard's outcomes.
    pub fn stored(outcomes: Vec<(u64, Outcome)>, events: Arc<[(u64, Event)]>) -> Commit {
        Commit {
            outcomes,
            events,
            durable: true,
            taken_back: Vec::new(),
            sent: std::time::Instant::now(),
            policy: None,
            answers: Vec::new(),
        }
    }
}

/// Shard -> every other shard: an ephemeral event to fan out (never stored, no sequence).
#[derive(Debug)]
pub struct Ephemeral {
    pub event: Event,
}

/// Shard -> cluster executor.
#[derive(Debug)]
pub enum ToCluster {
    /// An ephemeral event accepted here, for the peers whose interest summaries want it.
    Ephemeral(Event),
    /// Keys this shard's subscriptions now hold (`true`) or no longer hold, in order (never
    /// dropped: a lost addition would hide this node's interest until the next restart).
    Interest(Vec<(InterestKey, bool)>),
}

/// Cluster -> writer: a batch pulled from a peer, to store with the log's new cursor in one
/// transaction (`parrhesia_storage::Store::apply_replicated`).
#[derive(Debug)]
pub struct ReplicatedBatch {
    pub origin: [u8; 32],
    pub epoch: u64,
    pub from_seq: u64,
    pub next_seq: u64,
    /// (position in the log, event)
    pub events: Vec<(u64, Event)>,
    /// (position in the log, id) of events this node stores already, to record there too.
    pub positions: Vec<(u64, [u8; 32])>,
    /// When the origin committed the newest event (Unix ms by its clock; 0 unknown).
    pub origin_commit_unix_ms: u64,
}

/// Cluster -> writer.
#[derive(Debug)]
pub enum ToWriter {
    Replicated(ReplicatedBatch),
    /// Events anti-entropy found missing here (no log position: stored as events of this node,
    /// like a client's; a node that removed one on purpose refuses it again).
    Repair(Vec<Event>),
}

/// Writer -> cluster.
#[derive(Debug)]
pub enum WriterNotice {
    /// Events accepted on this node were committed: its own log grew by these (position =
    /// sequence, in order).
    Committed(Arc<[(u64, Event)]>),
    /// A `ReplicatedBatch` was stored, or not (it failed, or it would have left a gap) and
    /// nothing of it was: it will be pulled again.
    Applied(parrhesia_net::cluster::replication::AppliedBatch),
}
