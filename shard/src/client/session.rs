//! One WebSocket connection's life on its shard: the read loop that decodes client messages
//! and dispatches them, its rate limits and AUTH, and its EVENT handling.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::net::TcpStream;
use parrhesia_engine::{ClientMessage, Event, KindClass, Prefix, Reason, RelayMessage, ReplyTo};
use parrhesia_net::websocket::{Incoming, MessageReader, ReadError, SharedSocket};

use super::connection::Connection;
use super::ingest::{self, Answer};
use crate::config::AuthRequired;
use crate::metrics::{
    CLIENT_VERB_INVALID, CloseReason, KIND_UNKNOWN, OUTCOME_DUPLICATE, OUTCOME_EPHEMERAL, kind_class_index,
    refusal_outcome,
};
use crate::shard::Shard;
use parrhesia_engine::write_policy::{Source, SourceType};

/// Serves an upgraded connection until it closes. `deflate`: the client offered
/// permessage-deflate and the relay accepts it. `leftover`: bytes read past the request head
/// (frames the client already sent).
pub async fn run(
    shard: Rc<Shard>,
    mut stream: TcpStream,
    client: std::net::IpAddr,
    key: &str,
    leftover: Vec<u8>,
    deflate: bool,
) {
    let id = shard.next_connection_id();
    let shard_header = shard.index.to_string();
    let mut extra = vec![("X-Parrhesia-Shard", shard_header.as_str())];
    if deflate {
        extra.push(("Sec-WebSocket-Extensions", parrhesia_net::deflate::EXTENSION_RESPONSE));
    }
    // Boxed: the answer's state is needed once, not for the connection's life.
    if Box::pin(parrhesia_net::websocket::accept(&mut stream, key, &extra)).await.is_err() {
        return;
    }
    if deflate {
        shard.metrics.deflate_connections.inc();
    }
    let socket = SharedSocket::new(stream);
    let rate = shard.limiter.connection_buckets(crate::system::unix_now_ms());
    let connection = Rc::new(Connection::new(id, client, deflate, shard.config.outbound_bytes_max, rate));
    shard.connections.borrow_mut().insert(id, connection.clone());
    if shard.config.auth_challenge_on_connect {
        connection.challenge();
    }
    shard.metrics.connections_opened.inc();
    shard.metrics.connections_open.add(1);
    tracing::debug!(connection = id, shard = shard.index, peer = %client, "connection opened");
    let writer = glommio::spawn_local(write_loop(shard.clone(), connection.clone(), socket.clone()));
    let ended = Box::pin(read_loop(&shard, &connection, &socket, leftover)).await;
    // Closing: forget its subscriptions at once, let the writer task send what is queued.
    shard.subscriptions.borrow_mut().remove_connection(id);
    shard.subscriptions_changed();
    connection.subscriptions.borrow_mut().clear();
    if !connection.is_closed() {
        match shard.stopping.get() {
            true => connection.close(1001, "", CloseReason::Shutdown),
            false => connection.close(1000, "", ended),
        }
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
    shard.metrics.connections_open.add(-1);
    shard.metrics.closed(connection.close_reason.get().unwrap_or(ended));
    tracing::debug!(connection = id, shard = shard.index, "connection closed");
}

/// The connection's socket writer: drains its outbound queue.
async fn write_loop(shard: Rc<Shard>, connection: Rc<Connection>, socket: SharedSocket<TcpStream>) {
    let deflate = connection.deflate.then(|| crate::client::outbound::Deflate {
        deflater: &shard.deflater,
        threshold_bytes: shard.config.deflate_threshold_bytes,
        stored_events: shard.config.deflate_stored_events,
    });
    let output = crate::client::outbound::Output {
        buffers: &shard.write_buffers,
        metrics: &shard.metrics,
        deflate,
        linger: Duration::from_millis(shard.config.delivery_linger_ms),
    };
    crate::client::outbound::write_loop(&connection.outbound, socket, output).await
}

/// Reads the client's messages and handles each until the connection closes, the client
/// leaves or the shard stops; returns why it ended. Bytes are read into a buffer the shard
/// lends while they are handled (messages wholly inside it are handled in place); only an
/// incomplete message is kept by the connection.
async fn read_loop(
    shard: &Rc<Shard>,
    connection: &Rc<Connection>,
    socket: &SharedSocket<TcpStream>,
    leftover: Vec<u8>,
) -> CloseReason {
    // Text between the frame limit and twice it is answered with a NOTICE by the engine and
    // the connection goes on; past twice it, the reader refuses it before buffering it whole.
    let message_bytes_max = shard.config.frame_bytes_max.saturating_mul(2);
    let inflater = connection.deflate.then(|| shard.inflater.clone());
    let mut reader = MessageReader::new(message_bytes_max, inflater);
    let mut pending = (!leftover.is_empty()).then_some((leftover.len(), leftover));
    while !connection.is_closed() && !shard.stopping.get() {
        let (read, buffer) = match pending.take() {
            Some(leftover) => leftover,
            None => {
                // Flow control: a client that does not read its answers is not read either.
                connection.outbound.wait_below_high_water().await;
                if connection.is_closed() || shard.stopping.get() {
                    break;
                }
                let next =
                    futures_lite::future::or(async { Some(socket.read_lent(&shard.read_buffers).await) }, async {
                        futures_lite::future::or(shard.stop.notified(), connection.closed_notify.notified()).await;
                        None
                    })
                    .await;
                match next {
                    None => return CloseReason::Client,
                    Some(Ok((buffer, 0))) => {
                        shard.read_buffers.give(buffer);
                        return CloseReason::Client;
                    }
                    Some(Ok((buffer, read))) => (read, buffer),
                    Some(Err(error)) => return close_reason_of(&error),
                }
            }
        };
        connection.last_activity.set(Instant::now());
        if let Some(ended) = handle_read(shard, connection, &mut reader, buffer, read).await {
            return ended;
        }
        // A client that always has bytes waiting must not keep the shard's other tasks out.
        glommio::yield_if_needed().await;
    }
    CloseReason::Client
}

/// Handles every message complete in `buffer[..read]` (keeping the rest in `reader`) and gives
/// the buffer back; `Some` when the connection ends with it. The last message of a read is
/// copied out first and the buffer given back before it is handled: an EVENT may wait long (on
/// the plugin, the writer) and must not hold 32 KiB meanwhile.
async fn handle_read(
    shard: &Rc<Shard>,
    connection: &Rc<Connection>,
    reader: &mut MessageReader,
    mut buffer: Vec<u8>,
    read: usize,
) -> Option<CloseReason> {
    let mut at = 0;
    let ended = loop {
        let message = match reader.next(&mut buffer[..read], &mut at) {
            Ok(Some(message)) => message,
            Ok(None) => break None,
            Err(error) => {
                refuse_frames(connection, &error);
                break Some(connection.close_reason.get().unwrap_or(CloseReason::ProtocolError));
            }
        };
        if at == read {
            let message = message.into_owned(&buffer[..read]);
            shard.read_buffers.give(std::mem::take(&mut buffer));
            return handle_message(shard, connection, message, &[]).await;
        }
        if let Some(ended) = handle_message(shard, connection, message, &buffer[..read]).await {
            break Some(ended);
        }
        if connection.is_closed() || shard.stopping.get() {
            break None;
        }
        // Flow control between the messages of one read too (the buffer is held meanwhile).
        connection.outbound.wait_below_high_water().await;
        if connection.is_closed() || shard.stopping.get() {
            break None;
        }
    };
    shard.read_buffers.give(buffer);
    ended
}

/// Handles one client message (its payload in `buffer` if it is not its own); `Some` when the
/// connection ends with it.
async fn handle_message(
    shard: &Rc<Shard>,
    connection: &Rc<Connection>,
    message: Incoming,
    buffer: &[u8],
) -> Option<CloseReason> {
    match message {
        Incoming::Text(payload) => match std::str::from_utf8(payload.bytes(buffer)) {
            // Boxed: its state (3.4 KB: the EVENT pipeline's awaits) would otherwise size
            // every connection's task for its whole life.
            Ok(text) => Box::pin(handle_text(shard, connection, text)).await,
            Err(_) => {
                connection.reply(RelayMessage::Notice { message: "invalid: a text message that is not UTF-8".into() });
                connection.close(1007, "invalid UTF-8", CloseReason::ProtocolError);
                return Some(CloseReason::ProtocolError);
            }
        },
        Incoming::Binary => connection.reply(RelayMessage::Notice {
            message: "invalid: binary messages are not supported; send JSON text".into(),
        }),
        Incoming::Ping(payload) => connection.outbound.push_pong(payload.bytes(buffer)),
        Incoming::Pong => connection.awaiting_pong_since.set(None),
        Incoming::Close(code) => {
            // Answered with the client's own code (RFC 6455 section 5.5.1).
            connection.close(code.unwrap_or(1000), "", CloseReason::Client);
            return Some(CloseReason::Client);
        }
    }
    None
}

async fn handle_text(shard: &Rc<Shard>, connection: &Rc<Connection>, text: &str) {
    let started = Instant::now();
    let stored = match claimed_duplicate(shard, connection, text, started) {
        Claimed::Answered => return,
        Claimed::Absent => Some(false),
        Claimed::Unknown => None,
    };
    let message = ClientMessage::decode(text, &shard.limits);
    shard.metrics.client_messages[client_verb(&message)].inc();
    if let Ok(message) = &message
        && (!within_rate(shard, connection, message) || refuse_read(shard, connection, message))
    {
        // A refused REQ ends the subscription it would have replaced: its CLOSED says so.
        if let ClientMessage::Req { subscription_id, .. } = message {
            forget_subscription(shard, connection, subscription_id);
        }
        return;
    }
    match message {
        Err(rejection) => {
            if let ReplyTo::Ok(_) = rejection.reply_to {
                shard.metrics.event(refusal_outcome(rejection.reason.prefix), KIND_UNKNOWN);
            }
            connection.reply(rejection.to_message())
        }
        Ok(ClientMessage::Event(event)) => {
            let kind_class = kind_class_index(event.kind_class());
            let outcome = handle_event(shard, connection, event, started, stored).await;
            if let Some(outcome) = outcome {
                shard.metrics.event(outcome, kind_class);
            }
        }
        Ok(ClientMessage::Req { subscription_id, filters }) => {
            if !invite(shard, connection, &subscription_id, &filters) {
                crate::client::req::open(shard, connection, subscription_id, filters)
            }
        }
        Ok(ClientMessage::Count { subscription_id, filters }) => {
            crate::client::req::count(shard, connection, subscription_id, filters)
        }
        Ok(ClientMessage::Close { subscription_id }) => forget_subscription(shard, connection, &subscription_id),
        Ok(ClientMessage::Auth(event)) => authenticate(shard, connection, &event),
        Ok(ClientMessage::NegOpen { subscription_id, filter, message }) => {
            crate::client::negentropy::open(shard, connection, subscription_id, filter, message)
        }
        Ok(ClientMessage::NegMsg { subscription_id, message }) => {
            crate::client::negentropy::message(connection, subscription_id, message)
        }
        Ok(ClientMessage::NegClose { subscription_id }) => {
            crate::client::negentropy::close(connection, &subscription_id)
        }
    }
}

/// `CLIENT_VERBS`' index of EVENT.
const CLIENT_VERB_EVENT: usize = 0;

/// NIP-43 join request (kind 28934): a recent request with a good claim makes its author a
/// member (the relay publishes the addition and its new member list). Answers as the NIP says.
async fn join(shard: &Shard, members: &crate::members::Members, connection: &Connection, request: &Event) -> usize {
    use crate::metrics::{NIP43_JOIN_ACCEPTED, NIP43_JOIN_IGNORED, NIP43_JOIN_REFUSED};
    let now = crate::system::unix_now();
    let answer = |accepted: bool, message: String| {
        let outcome = match (accepted, message.starts_with("claim-ignored")) {
            (true, true) => NIP43_JOIN_IGNORED,
            (true, false) => NIP43_JOIN_ACCEPTED,
            (false, _) => NIP43_JOIN_REFUSED,
        };
        shard.metrics.nip43[outcome].inc();
        connection.ok(request, accepted, message)
    };
    if !parrhesia_engine::nip43::recent(request, now) {
        answer(false, "invalid: a join request must be created within 300 seconds of now".into());
        return refusal_outcome(Prefix::Invalid);
    }
    let Some(claim) = request.tag_values("claim").next() else {
        answer(false, "invalid: a join request needs a claim tag".into());
        return refusal_outcome(Prefix::Invalid);
    };
    if members.is_member(&shard.store, request.pubkey()) {
        answer(true, "claim-ignored: You are already a member of this relay.".into());
        return OUTCOME_EPHEMERAL;
    }
    if let Err(reason) = members.check_claim(claim, now) {
        answer(false, format!("restricted: {reason}"));
        return refusal_outcome(Prefix::Restricted);
    }
    if members.spent(&shard.store, claim) {
        answer(false, "restricted: That invite code was used already.".into());
        return refusal_outcome(Prefix::Restricted);
    }
    if !publish_all(shard, members.change(&shard.store, request.pubkey(), true, Some(claim), now)).await {
        answer(false, "error: the relay is shutting down".into());
        return refusal_outcome(Prefix::Error);
    }
    let relay = shard.config.relay_url.clone().unwrap_or_else(|| "this relay".into());
    answer(true, format!("claim-accepted: Welcome to {relay}!"));
    OUTCOME_EPHEMERAL
}

/// NIP-43 leave request (kind 28936): a recent request from a member ends the membership.
async fn leave(shard: &Shard, members: &crate::members::Members, connection: &Connection, request: &Event) -> usize {
    let now = crate::system::unix_now();
    if !parrhesia_engine::nip43::recent(request, now) {
        connection.ok(request, false, "invalid: a leave request must be created within 300 seconds of now".into());
        return refusal_outcome(Prefix::Invalid);
    }
    if members.is_member(&shard.store, request.pubkey())
        && !publish_all(shard, members.change(&shard.store, request.pubkey(), false, None, now)).await
    {
        connection.ok(request, false, "error: the relay is shutting down".into());
        return refusal_outcome(Prefix::Error);
    }
    shard.metrics.nip43[crate::metrics::NIP43_LEAVE].inc();
    connection.ok(request, true, String::new());
    OUTCOME_EPHEMERAL
}

/// Hands events the relay signed itself to the writer; false when it is stopping.
async fn publish_all(shard: &Shard, events: impl IntoIterator<Item = Event>) -> bool {
    for event in events {
        if shard.submit(crate::shard::RELAY_ITSELF, event).await.is_err() {
            return false;
        }
    }
    true
}

/// NIP-43 invite request: a REQ whose every filter asks for kind 28935 only is answered with a
/// fresh invite (then EOSE), for an authenticated member or admin. Returns whether it was one.
fn invite(shard: &Shard, connection: &Connection, subscription_id: &str, filters: &[parrhesia_engine::Filter]) -> bool {
    let Some(members) = &shard.members else { return false };
    let asks = |filter: &parrhesia_engine::Filter| filter.kinds.as_deref() == Some(&[parrhesia_engine::nip43::INVITE]);
    if filters.is_empty() || !filters.iter().all(asks) {
        return false;
    }
    let closed = |message: &str| {
        connection.reply(RelayMessage::Closed {
            subscription_id: subscription_id.to_string().into(),
            message: message.to_string().into(),
        })
    };
    let authenticated: Vec<parrhesia_engine::Pubkey> = connection.authenticated.borrow().clone();
    if authenticated.is_empty() {
        shard.metrics.nip43[crate::metrics::NIP43_INVITE_REFUSED].inc();
        connection.challenge();
        closed("auth-required: invites are for authenticated members (NIP-43)");
        return true;
    }
    let allowed =
        authenticated.iter().any(|pubkey| shard.admins.contains(pubkey) || members.is_member(&shard.store, pubkey));
    if !allowed {
        shard.metrics.nip43[crate::metrics::NIP43_INVITE_REFUSED].inc();
        closed("restricted: invites are for members (NIP-43)");
        return true;
    }
    shard.metrics.nip43[crate::metrics::NIP43_INVITE].inc();
    let invite = members.invite(crate::system::unix_now());
    connection.reply(RelayMessage::Event {
        subscription_id: subscription_id.to_string().into(),
        event: invite.json().to_string().into(),
    });
    connection.reply(RelayMessage::Eose { subscription_id: subscription_id.to_string().into() });
    true
}

/// What the look at an EVENT's claimed id found.
enum Claimed {
    /// The store holds it: answered `duplicate:`.
    Answered,
    /// The store does not hold it (the EVENT pipeline need not look again).
    Absent,
    /// Not an EVENT this reading takes, or one the connection may not send yet.
    Unknown,
}

/// An EVENT whose claimed id the store holds is answered `duplicate:` before it is decoded:
/// no tags, content or hash are built for the events clients send to every relay they know
/// (strfry answers them the same way). The id is only claimed, so the answer says only that
/// an event with this id is here; nothing is stored. Rate limits apply as to any EVENT; with
/// writes behind AUTH an unauthenticated connection takes the full path (and its answer).
fn claimed_duplicate(shard: &Shard, connection: &Connection, text: &str, started: Instant) -> Claimed {
    if text.len() > shard.limits.frame_bytes_max
        || (shard.config.auth_required != AuthRequired::None && !connection.is_authenticated())
    {
        return Claimed::Unknown;
    }
    let Some(id) = parrhesia_engine::message::claimed_event_id(text) else { return Claimed::Unknown };
    match shard.store.contains_id(&id) {
        Ok(true) => {}
        Ok(false) => return Claimed::Absent,
        Err(_) => return Claimed::Unknown,
    }
    shard.metrics.client_messages[CLIENT_VERB_EVENT].inc();
    if !within_rate_of(shard, connection, crate::rate::Verb::Event, |reason| connection.ok_id(&id, false, reason)) {
        return Claimed::Answered;
    }
    connection.ok_id(&id, true, "duplicate: already have this event".into());
    shard.metrics.ingest_check.observe_duration(started.elapsed());
    shard.metrics.event(OUTCOME_DUPLICATE, KIND_UNKNOWN);
    Claimed::Answered
}

/// Frames the relay will not read on: say why, and close (1009 for a message too big, 1007
/// for compressed data that is not deflate or a Close reason that is not UTF-8, 1002 for a
/// protocol error).
fn refuse_frames(connection: &Connection, error: &ReadError) {
    connection.reply(RelayMessage::Notice { message: format!("invalid: {error}").into() });
    match error.close_code() {
        1009 => connection.close(1009, "message too big", CloseReason::MessageTooBig),
        1007 => connection.close(1007, "invalid data", CloseReason::ProtocolError),
        code => connection.close(code, "protocol error", CloseReason::ProtocolError),
    }
}

/// Why a read error ended a connection: a client that went away without the closing
/// handshake (the common case) is a client close, not an error.
fn close_reason_of(error: &std::io::Error) -> CloseReason {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof => CloseReason::Client,
        _ => CloseReason::SocketError,
    }
}

/// The metrics verb of a client message (`invalid` if it did not decode).
fn client_verb(message: &Result<ClientMessage, parrhesia_engine::Rejection>) -> usize {
    match message {
        Ok(ClientMessage::Event(_)) => CLIENT_VERB_EVENT,
        Ok(ClientMessage::Req { .. }) => 1,
        Ok(ClientMessage::Close { .. }) => 2,
        Ok(ClientMessage::Count { .. }) => 3,
        Ok(ClientMessage::Auth(_)) => 4,
        Ok(ClientMessage::NegOpen { .. }) => 5,
        Ok(ClientMessage::NegMsg { .. }) => 6,
        Ok(ClientMessage::NegClose { .. }) => 7,
        Err(_) => CLIENT_VERB_INVALID,
    }
}

/// Ends a subscription of this connection, if it has one by that id.
fn forget_subscription(shard: &Shard, connection: &Connection, subscription_id: &str) {
    connection.subscriptions.borrow_mut().remove(subscription_id);
    shard.subscriptions.borrow_mut().remove(connection.id, subscription_id);
    shard.subscriptions_changed();
}

/// Refuses a REQ, COUNT or NEG-OPEN the connection may not make, answering CLOSED (NEG-ERR)
/// with the reason: everything needs AUTH (`auth_required = all`), a restricted kind named
/// without AUTH (both with the challenge again), or a Marmot group-message filter without `#h`.
fn refuse_read(shard: &Shard, connection: &Connection, message: &ClientMessage) -> bool {
    let (subscription_id, filters, negentropy) = match message {
        ClientMessage::Req { subscription_id, filters } | ClientMessage::Count { subscription_id, filters } => {
            (subscription_id, filters.as_slice(), false)
        }
        ClientMessage::NegOpen { subscription_id, filter, .. } => (subscription_id, std::slice::from_ref(filter), true),
        _ => return false,
    };
    let access = connection.read_access(&shard.read_restricted);
    let reason = if shard.config.auth_required == AuthRequired::All && !connection.is_authenticated() {
        connection.challenge();
        "auth-required: this relay serves only authenticated clients (NIP-42)".to_string()
    } else if filters.iter().any(|filter| access.needs_auth(filter)) {
        connection.challenge();
        let kinds: Vec<String> = shard.read_restricted.iter().map(u16::to_string).collect();
        format!(
            "auth-required: kinds {} are served only to their author or recipient; authenticate (NIP-42)",
            kinds.join(", ")
        )
    } else if let Some(reason) = filters.iter().find_map(|filter| parrhesia_engine::marmot::check_filter(filter).err())
    {
        reason.to_string()
    } else {
        return false;
    };
    let subscription_id = subscription_id.clone().into();
    connection.reply(match negentropy {
        true => RelayMessage::NegErr { subscription_id, message: reason.into() },
        false => RelayMessage::Closed { subscription_id, message: reason.into() },
    });
    true
}

/// Takes an EVENT, REQ, COUNT or NEG-OPEN (a query: the REQ budget) from the rate limits; a
/// refusal is answered (OK false, CLOSED or NEG-ERR, `rate-limited:` naming the limit) and
/// counted, and a connection refused `rate_limit_strikes_max` times in a row is closed.
fn within_rate(shard: &Shard, connection: &Connection, message: &ClientMessage) -> bool {
    use crate::rate::Verb;
    let verb = match message {
        ClientMessage::Event(_) => Verb::Event,
        ClientMessage::Req { .. } | ClientMessage::NegOpen { .. } => Verb::Req,
        ClientMessage::Count { .. } => Verb::Count,
        _ => return true,
    };
    within_rate_of(shard, connection, verb, |reason| match message {
        ClientMessage::Event(event) => connection.ok(event, false, reason),
        ClientMessage::Req { subscription_id, .. } | ClientMessage::Count { subscription_id, .. } => connection
            .reply(RelayMessage::Closed { subscription_id: subscription_id.clone().into(), message: reason.into() }),
        ClientMessage::NegOpen { subscription_id, .. } => connection
            .reply(RelayMessage::NegErr { subscription_id: subscription_id.clone().into(), message: reason.into() }),
        _ => {}
    })
}

/// Takes one `verb` from the connection's buckets; over a limit, `refuse` answers with the
/// reason, and too many refusals in a row close the connection.
fn within_rate_of(
    shard: &Shard,
    connection: &Connection,
    verb: crate::rate::Verb,
    refuse: impl FnOnce(String),
) -> bool {
    let pubkey = connection.authenticated.borrow().first().copied();
    let taken =
        shard.limiter.take(verb, &connection.rate, connection.address, pubkey.as_ref(), crate::system::unix_now_ms());
    let Err(refusal) = taken else {
        connection.strikes.set(0);
        return true;
    };
    shard.metrics.rate_limited[verb as usize].inc();
    refuse(refusal.to_string());
    if struck_out(&connection.strikes, shard.config.rate_limit_strikes_max) {
        connection.reply(RelayMessage::Notice { message: "rate-limited: too many requests over the limits".into() });
        connection.close(1008, "rate limited", CloseReason::RateLimited);
    }
    false
}

fn struck_out(strikes: &Cell<u32>, strikes_max: u32) -> bool {
    strikes.set(strikes.get().saturating_add(1));
    strikes_max > 0 && strikes.get() >= strikes_max
}

/// `["AUTH", event]`: checks it against this connection's challenge and the relay's URL.
fn authenticate(shard: &Shard, connection: &Connection, event: &Event) {
    let config = &shard.config;
    let checked = parrhesia_engine::auth::check_auth(
        event,
        &connection.challenge,
        config.relay_url.as_deref(),
        crate::system::unix_now(),
        config.auth_window_seconds,
    );
    if let Err(reason) = checked {
        return connection.ok(event, false, reason.to_string());
    }
    let mut authenticated = connection.authenticated.borrow_mut();
    if !authenticated.contains(event.pubkey()) {
        if authenticated.len() >= config.auth_pubkeys_max {
            drop(authenticated);
            let message = format!("restricted: at most {} pubkeys per connection", config.auth_pubkeys_max);
            return connection.ok(event, false, message);
        }
        authenticated.push(*event.pubkey());
    }
    drop(authenticated);
    connection.ok(event, true, String::new());
}

/// The EVENT pipeline after parsing (limits, structure and id were checked by the decoder):
/// AUTH when writes need it -> the checks every source takes (`ingest::check`: the policy
/// log's kind, the operator's policy and Marmot's structure, duplicates, NIP-13, signature,
/// created_at) -> NIP-70 -> NIP-43 -> the write-policy plugin -> ephemeral fanout or the
/// writer. Returns the event's outcome for metrics when it is decided here (`None`: the
/// writer decides it). `started` is when its message arrived: the checks' time is observed up
/// to the hand-over. `stored`: whether the store holds the event's id, if `claimed_duplicate`
/// looked already.
async fn handle_event(
    shard: &Rc<Shard>,
    connection: &Rc<Connection>,
    event: Event,
    started: Instant,
    stored: Option<bool>,
) -> Option<usize> {
    let checked = || shard.metrics.ingest_check.observe_duration(started.elapsed());
    let answer = |answer: Answer| {
        checked();
        connection.ok(&event, answer.accepted, answer.message);
        Some(answer.outcome)
    };
    if shard.config.auth_required != AuthRequired::None && !connection.is_authenticated() {
        connection.challenge();
        return answer(Answer::refused(Reason::new(
            Prefix::AuthRequired,
            "this relay takes events only from authenticated clients (NIP-42)",
        )));
    }
    if let Err(refused) = ingest::check(shard, &event, stored) {
        return answer(refused);
    }
    if event.is_protected() && !connection.is_authenticated_as(event.pubkey()) {
        connection.challenge();
        return answer(Answer::refused(Reason::new(
            Prefix::AuthRequired,
            "this event may only be published by its author, authenticated (NIP-42, NIP-70)",
        )));
    }
    if let Some(members) = &shard.members {
        match event.kind() {
            parrhesia_engine::nip43::JOIN_REQUEST => {
                checked();
                return Some(join(shard, members, connection, &event).await);
            }
            parrhesia_engine::nip43::LEAVE_REQUEST => {
                checked();
                return Some(leave(shard, members, connection, &event).await);
            }
            _ if members.members_only && !members.is_member(&shard.store, event.pubkey()) => {
                shard.metrics.nip43[crate::metrics::NIP43_WRITE_REFUSED].inc();
                return answer(Answer::refused(members_only()));
            }
            _ => {}
        }
    }
    if let Some(plugin) = &shard.write_policy {
        let authenticated = connection.authenticated.borrow().first().copied();
        // The client's own address (not the /64 rate limits key by), IPv4-mapped ones as IPv4.
        let client = parrhesia_engine::policy::ip_key(connection.client);
        let address = client.to_string();
        let kind = if client.is_ipv4() { SourceType::Ip4 } else { SourceType::Ip6 };
        let source = Source { kind, info: &address, authed: authenticated.as_ref() };
        if let Err(refused) = ingest::ask_plugin(plugin, &event, &source).await {
            return answer(refused);
        }
    }
    checked();
    if event.kind_class() == KindClass::Ephemeral {
        shard.publish_ephemeral(&event).await;
        connection.ok(&event, true, String::new());
        return Some(OUTCOME_EPHEMERAL);
    }
    if shard.submit(connection.id, event.clone()).await.is_err() {
        connection.ok(&event, false, "error: the relay is shutting down".into());
        return Some(refusal_outcome(Prefix::Error));
    }
    None
}

/// Why a non-member's event is refused when only NIP-43 members may publish.
pub fn members_only() -> Reason {
    Reason::new(Prefix::Restricted, "this relay takes events from its members only; join with an invite (NIP-43)")
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::struck_out;

    /// (strikes before, bound) -> (struck out, strikes after). The last rows start at u32::MAX:
    /// `+ 1` panicked there in debug builds (and wrapped to 0 in release).
    #[test]
    fn strikes_table() {
        let cases = [
            ((0, 3), (false, 1)),
            ((1, 3), (false, 2)),
            ((2, 3), (true, 3)),
            ((5, 0), (false, 6)),
            ((u32::MAX - 1, 0), (false, u32::MAX)),
            ((u32::MAX, 0), (false, u32::MAX)),
            ((u32::MAX, 50), (true, u32::MAX)),
        ];
        for ((before, strikes_max), expected) in cases {
            let strikes = Cell::new(before);
            let out = struck_out(&strikes, strikes_max);
            assert_eq!((out, strikes.get()), expected, "{before} strikes, bound {strikes_max}");
        }
    }
}
