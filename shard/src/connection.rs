//! One WebSocket connection on its shard: its subscriptions' states, liveness, the read loop
//! that decodes client messages and dispatches them, and its EVENT handling.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use glommio::net::TcpStream;
use parrhesia_engine::{ClientMessage, Event, KindClass, RelayMessage};
use tungstenite::Message;

use crate::notify::Notify;
use crate::outbound::Outbound;
use crate::shard::Shard;

/// Where a subscription is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The stored-events scan (and its catch-up) is running; live fanout skips it.
    Scanning,
    /// Live: stored events with a sequence above `after_seq` are delivered.
    Live { after_seq: u64 },
}

pub struct SubscriptionState {
    /// Distinguishes this REQ from an earlier one with the same id (a REQ replaces).
    pub generation: u64,
    pub phase: Phase,
    /// `["EVENT","<id>",`, built once for every event this subscription is sent.
    pub prefix: bytes::Bytes,
}

pub struct Connection {
    pub id: u64,
    pub outbound: Outbound,
    pub subscriptions: RefCell<HashMap<String, SubscriptionState>>,
    last_activity: Cell<Instant>,
    last_ping: Cell<Instant>,
    awaiting_pong_since: Cell<Option<Instant>>,
    closed: Cell<bool>,
    closed_notify: Notify,
}

impl Connection {
    fn new(id: u64, outbound_bytes_max: usize) -> Connection {
        let now = Instant::now();
        Connection {
            id,
            outbound: Outbound::new(outbound_bytes_max),
            subscriptions: RefCell::default(),
            last_activity: Cell::new(now),
            last_ping: Cell::new(now),
            awaiting_pong_since: Cell::new(None),
            closed: Cell::new(false),
            closed_notify: Notify::default(),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Queues a Close frame and stops reading.
    pub fn close(&self, code: u16, reason: &'static str) {
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
        self.close(1008, "outbound queue full");
    }

    /// The subscription's EVENT prefix if a live event (with `seq`, or ephemeral) goes to it
    /// now; `None` if it does not.
    pub fn live_prefix(&self, subscription_id: &str, seq: Option<u64>) -> Option<bytes::Bytes> {
        let subscriptions = self.subscriptions.borrow();
        let state = subscriptions.get(subscription_id)?;
        match state.phase {
            Phase::Live { after_seq } if seq.is_none_or(|seq| seq > after_seq) => Some(state.prefix.clone()),
            _ => None,
        }
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
            self.close(1001, "no pong");
        } else if now.duration_since(self.last_activity.get()) >= idle_timeout && self.subscriptions.borrow().is_empty()
        {
            self.close(1000, "idle");
        } else if now.duration_since(self.last_ping.get()) >= ping_interval {
            self.last_ping.set(now);
            if self.awaiting_pong_since.get().is_none() {
                self.awaiting_pong_since.set(Some(now));
            }
            self.outbound.push_ping();
        }
    }

    fn reply(&self, message: RelayMessage) {
        self.outbound.push_reply(message.encode());
    }

    fn ok(&self, event: &Event, accepted: bool, message: String) {
        self.reply(RelayMessage::Ok { event_id: *event.id(), accepted, message: message.into() });
    }
}

/// Serves an upgraded connection until it closes.
pub async fn run(shard: Rc<Shard>, stream: TcpStream, key: &str, leftover: Vec<u8>) {
    let id = shard.next_connection_id();
    let peer = stream.peer_addr().map(|address| address.to_string()).unwrap_or_default();
    let shard_header = shard.index.to_string();
    // tungstenite refuses messages above twice the frame limit outright (closing with 1009);
    // between the limit and that, the engine answers with a NOTICE and the connection goes on.
    let message_bytes_max = shard.config.frame_bytes_max.saturating_mul(2);
    let extra = [("X-Parrhesia-Shard", shard_header.as_str())];
    let Ok(socket) = parrhesia_net::accept_websocket(stream, key, leftover, message_bytes_max, &extra).await else {
        return;
    };
    let (sink, mut source) = socket.split();
    let connection = Rc::new(Connection::new(id, shard.config.outbound_bytes_max));
    shard.connections.borrow_mut().insert(id, connection.clone());
    shard.counters.connections_opened.set(shard.counters.connections_opened.get() + 1);
    tracing::debug!(connection = id, shard = shard.index, %peer, "connection opened");
    let writer = glommio::spawn_local({
        let connection = connection.clone();
        let shard = shard.clone();
        async move { crate::outbound::write_loop(&connection.outbound, sink, &shard.event_scratch).await }
    });
    while !connection.is_closed() && !shard.stopping.get() {
        // Flow control: a client that does not read its answers is not read either.
        connection.outbound.wait_below_high_water().await;
        let next = futures_lite::future::or(async { Some(source.next().await) }, async {
            futures_lite::future::or(shard.stop.notified(), connection.closed_notify.notified()).await;
            None
        })
        .await;
        let Some(Some(message)) = next else { break };
        connection.last_activity.set(Instant::now());
        match message {
            Ok(Message::Text(text)) => handle_text(&shard, &connection, text.as_str()).await,
            Ok(Message::Binary(_)) => connection.reply(RelayMessage::Notice {
                message: "invalid: binary messages are not supported; send JSON text".into(),
            }),
            Ok(Message::Pong(_)) => connection.awaiting_pong_since.set(None),
            Ok(Message::Ping(_)) | Ok(Message::Frame(_)) => {}
            Ok(Message::Close(_)) => break,
            Err(tungstenite::Error::Capacity(error)) => {
                connection.reply(RelayMessage::Notice { message: format!("invalid: {error}").into() });
                connection.close(1009, "message too big");
            }
            Err(_) => break,
        }
    }
    // Closing: forget its subscriptions at once, let the writer task send what is queued.
    shard.subscriptions.borrow_mut().remove_connection(id);
    connection.subscriptions.borrow_mut().clear();
    if !connection.is_closed() {
        connection.close(if shard.stopping.get() { 1001 } else { 1000 }, "");
    }
    // A client that is not reading receives its NOTICE and Close only once it reads what the
    // socket already holds: give it that long, with nothing but a few frames still queued.
    let drain = Duration::from_secs(shard.config.close_drain_timeout_seconds);
    let _ = glommio::timer::timeout(drain, async {
        writer.await;
        Ok(())
    })
    .await;
    shard.connections.borrow_mut().remove(&id);
    tracing::debug!(connection = id, shard = shard.index, "connection closed");
}

async fn handle_text(shard: &Rc<Shard>, connection: &Rc<Connection>, text: &str) {
    match ClientMessage::decode(text, &shard.limits) {
        Err(rejection) => connection.reply(rejection.to_message()),
        Ok(ClientMessage::Event(event)) => handle_event(shard, connection, event).await,
        Ok(ClientMessage::Req { subscription_id, filters }) => {
            crate::req::open(shard, connection, subscription_id, filters)
        }
        Ok(ClientMessage::Count { subscription_id, filters }) => {
            crate::req::count(shard, connection, subscription_id, filters)
        }
        Ok(ClientMessage::Close { subscription_id }) => {
            connection.subscriptions.borrow_mut().remove(&subscription_id);
            shard.subscriptions.borrow_mut().remove(connection.id, &subscription_id);
        }
        Ok(ClientMessage::Auth(event)) => {
            connection.ok(&event, false, "restricted: this relay does not support AUTH (NIP-42) yet".into())
        }
        Ok(ClientMessage::NegOpen { subscription_id, .. } | ClientMessage::NegMsg { subscription_id, .. }) => {
            connection.reply(RelayMessage::NegErr {
                subscription_id: subscription_id.into(),
                message: "error: this relay does not support negentropy (NIP-77) yet".into(),
            })
        }
        Ok(ClientMessage::NegClose { .. }) => {}
    }
}

/// The EVENT pipeline after parsing (limits, structure and id were checked by the decoder):
/// duplicate check -> signature -> policy -> ephemeral fanout or the writer.
async fn handle_event(shard: &Rc<Shard>, connection: &Rc<Connection>, event: Event) {
    let ephemeral = event.kind_class() == KindClass::Ephemeral;
    if !ephemeral {
        match shard.store.contains_id(event.id()) {
            Ok(true) => return connection.ok(&event, true, "duplicate: already have this event".into()),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, "duplicate check failed");
                return connection.ok(&event, false, "error: the relay could not read its store".into());
            }
        }
    }
    if let Err(reason) = event.verify_signature() {
        return connection.ok(&event, false, reason.to_string());
    }
    if let Err(reason) = event.check_created_at(crate::unix_now(), &shard.limits) {
        return connection.ok(&event, false, reason.to_string());
    }
    if event.tags().iter().any(|tag| tag.len() == 1 && tag[0] == "-") {
        let message = "auth-required: this event may only be published by its author (NIP-70)";
        return connection.ok(&event, false, message.into());
    }
    if ephemeral {
        shard.publish_ephemeral(&event).await;
        return connection.ok(&event, true, String::new());
    }
    if shard.submit(connection.id, event.clone()).await.is_err() {
        connection.ok(&event, false, "error: the relay is shutting down".into());
    }
}
