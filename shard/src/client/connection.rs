//! A client connection's state on its shard: its subscriptions and where each is in its life,
//! its NIP-42 identity, its liveness and its outbound queue. What a connection does (its read
//! loop, its messages) is in `session`, above the shard's state; this is below it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use parrhesia_engine::{Event, RelayMessage};
use parrhesia_net::deflate::Deflater;

use super::outbound::Outbound;
use crate::metrics::CloseReason;
use crate::notify::Notify;

/// Where a subscription is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The stored-events scan (and its catch-up) is running; live fanout skips it.
    Scanning,
    /// Live: stored events with a sequence above `after_seq` are delivered. `since` is the
    /// shard's `Undurable::clock` when it went live, `snapshot_seq` where its scan read up to.
    Live { after_seq: u64, since: u64, snapshot_seq: u64 },
}

pub struct SubscriptionState {
    /// Distinguishes this REQ from an earlier one with the same id (a REQ replaces).
    pub generation: u64,
    pub phase: Cell<Phase>,
    /// `["EVENT","<id>",`, built once for every event this subscription is sent.
    pub prefix: bytes::Bytes,
    /// The prefix compressed (a permessage-deflate part), made for the first live event a
    /// deflate connection is sent on this subscription.
    pub prefix_deflated: std::cell::OnceCell<bytes::Bytes>,
}

impl SubscriptionState {
    /// The EVENT prefix if a live event (with `seq`, or ephemeral) goes to it now; `None` if
    /// it does not. `taken_back`: the event was fanned out before and its commit failed: a
    /// subscription that was sent it then is not sent it again.
    pub fn live_prefix(
        &self,
        seq: Option<u64>,
        taken_back: Option<crate::undurable::TakenBack>,
    ) -> Option<&bytes::Bytes> {
        match self.phase.get() {
            Phase::Live { after_seq, since, snapshot_seq }
                if seq.is_none_or(|seq| seq > after_seq)
                    && taken_back.is_none_or(|taken| !taken.reached(since, snapshot_seq)) =>
            {
                Some(&self.prefix)
            }
            _ => None,
        }
    }

    /// The prefix as a compressed part, compressed on first use.
    pub fn deflated_prefix(&self, deflater: &RefCell<Deflater>) -> &bytes::Bytes {
        self.prefix_deflated.get_or_init(|| {
            let mut out = Vec::new();
            deflater.borrow_mut().compress_part(&self.prefix, &mut out);
            bytes::Bytes::from(out)
        })
    }
}

/// What a match in the shard's subscription index hands fanout: the connection and the
/// subscription's state, with no lookup by id.
pub type Delivery = (Rc<Connection>, Rc<SubscriptionState>);

pub struct Connection {
    pub id: u64,
    /// permessage-deflate was negotiated.
    pub deflate: bool,
    pub outbound: Outbound,
    pub subscriptions: RefCell<HashMap<String, Rc<SubscriptionState>>>,
    /// NIP-77 sessions by subscription id.
    pub negentropy: RefCell<HashMap<String, super::reconciliation::Session>>,
    /// NEG-OPENs still scanning: they count against `negentropy_sessions_max` with the
    /// sessions (a burst of opens must not start more scans than sessions are allowed).
    pub negentropy_opening: std::cell::Cell<usize>,
    /// NIP-42: this connection's challenge, and the pubkeys it authenticated as.
    pub(super) challenge: String,
    pub(super) authenticated: RefCell<Vec<parrhesia_engine::Pubkey>>,
    /// The client's address, as is (a blocked address closes the connection) and as rate
    /// limits key it; this connection's EVENT/REQ/COUNT buckets, and how many requests in a row
    /// a limit refused.
    pub client: std::net::IpAddr,
    pub(super) address: std::net::IpAddr,
    pub(super) rate: RefCell<[parrhesia_engine::rate::Bucket; 3]>,
    pub(super) strikes: Cell<u32>,
    pub(super) last_activity: Cell<Instant>,
    pub(super) last_ping: Cell<Instant>,
    pub(super) awaiting_pong_since: Cell<Option<Instant>>,
    pub(super) closed: Cell<bool>,
    /// Why it closed, once it has (counted in metrics when the connection ends).
    pub(super) close_reason: Cell<Option<CloseReason>>,
    pub(super) closed_notify: Notify,
}

impl Connection {
    /// `rate`: this connection's EVENT/REQ/COUNT buckets, full.
    pub fn new(
        id: u64,
        address: std::net::IpAddr,
        deflate: bool,
        outbound_bytes_max: usize,
        rate: [parrhesia_engine::rate::Bucket; 3],
    ) -> Connection {
        let now = Instant::now();
        Connection {
            client: address,
            address: parrhesia_engine::rate::address_key(address),
            rate: RefCell::new(rate),
            strikes: Cell::new(0),
            id,
            deflate,
            outbound: Outbound::new(outbound_bytes_max),
            subscriptions: RefCell::default(),
            negentropy: RefCell::default(),
            negentropy_opening: std::cell::Cell::new(0),
            challenge: fresh_challenge(),
            authenticated: RefCell::default(),
            last_activity: Cell::new(now),
            last_ping: Cell::new(now),
            awaiting_pong_since: Cell::new(None),
            closed: Cell::new(false),
            close_reason: Cell::new(None),
            closed_notify: Notify::default(),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Queues a Close frame and stops reading.
    pub fn close(&self, code: u16, reason: &'static str, why: CloseReason) {
        if self.close_reason.get().is_none() {
            self.close_reason.set(Some(why));
        }
        self.outbound.close(code, reason);
        self.closed.set(true);
        self.closed_notify.notify_all();
    }

    /// Live overflow with the `close` policy: say why, then close (1008, policy violation).
    pub fn close_for_overflow(&self) {
        tracing::debug!(connection = self.id, "outbound queue full: closing");
        self.outbound.discard_events();
        let notice = RelayMessage::Notice { message: "error: too slow reading; the outbound queue is full".into() };
        self.outbound.push_reply(notice.encode());
        self.close(1008, "outbound queue full", CloseReason::OutboundOverflow);
    }

    /// Whether `generation` is still the current REQ for `subscription_id`.
    pub fn is_current(&self, subscription_id: &str, generation: u64) -> bool {
        !self.closed.get()
            && self.subscriptions.borrow().get(subscription_id).is_some_and(|state| state.generation == generation)
    }

    pub fn check_liveness(
        &self,
        now: Instant,
        ping_interval: Duration,
        pong_timeout: Duration,
        idle_timeout: Duration,
    ) {
        if self.closed.get() {
            return;
        }
        if self.awaiting_pong_since.get().is_some_and(|since| now.duration_since(since) >= pong_timeout) {
            self.close(1001, "no pong", CloseReason::NoPong);
        } else if now.duration_since(self.last_activity.get()) >= idle_timeout && self.subscriptions.borrow().is_empty()
        {
            self.close(1000, "idle", CloseReason::Idle);
        } else if now.duration_since(self.last_ping.get()) >= ping_interval {
            self.last_ping.set(now);
            if self.awaiting_pong_since.get().is_none() {
                self.awaiting_pong_since.set(Some(now));
            }
            self.outbound.push_ping();
        }
    }

    pub fn reply(&self, message: RelayMessage) {
        self.outbound.push_reply(message.encode());
    }

    /// Whether this connection authenticated (NIP-42) as anyone, or as `pubkey`.
    pub fn is_authenticated(&self) -> bool {
        !self.authenticated.borrow().is_empty()
    }

    pub fn is_authenticated_as(&self, pubkey: &parrhesia_engine::Pubkey) -> bool {
        self.authenticated.borrow().contains(pubkey)
    }

    /// What this connection may read: `restricted` kinds only as their author or a recipient.
    pub fn read_access(&self, restricted: &std::sync::Arc<[u16]>) -> parrhesia_engine::ReadAccess {
        parrhesia_engine::ReadAccess::new(restricted.clone(), self.authenticated.borrow().clone())
    }

    /// Sends (again) this connection's AUTH challenge.
    pub fn challenge(&self) {
        self.reply(RelayMessage::Auth { challenge: self.challenge.clone().into() });
    }

    pub(super) fn ok(&self, event: &Event, accepted: bool, message: String) {
        self.ok_id(event.id(), accepted, message);
    }

    pub(super) fn ok_id(&self, id: &parrhesia_engine::Id, accepted: bool, message: String) {
        self.reply(RelayMessage::Ok { event_id: *id, accepted, message: message.into() });
    }
}

/// A fresh NIP-42 challenge: 16 random bytes as hex.
fn fresh_challenge() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random source works");
    parrhesia_engine::hex::encode(&bytes)
}
