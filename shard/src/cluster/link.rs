//! One TCP link to a peer: the mutual handshake, then a reader (frames to the replicator), a
//! writer (its bounded queue to the socket) and a pinger (a link silent for 5 s is dead).
//! Also the accept loop and the dial loop with exponential backoff and jitter.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::{TcpListener, TcpStream};
use parrhesia_net::cluster::NodeId;
use parrhesia_net::cluster::frame::{FrameError, Hello, Message, PROTOCOL_VERSION, body_length};
use parrhesia_net::cluster::handshake::{self, HandshakeError, Role};
use parrhesia_net::cluster::queues::{CONTROL, LinkQueues, Pushed};
use parrhesia_net::identity_hex;

use super::{ClusterMetrics, Node};
use crate::notify::Notify;

const PING_INTERVAL: Duration = Duration::from_secs(1);
/// A link that has carried nothing (pongs included) for this long is dead.
const SILENCE_TIMEOUT: Duration = Duration::from_secs(5);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// The largest hello or auth frame read before the peer is authenticated.
const HANDSHAKE_FRAME_BYTES_MAX: usize = 16 * 1024;
/// Connections in their handshake at once; more are closed at once (unauthenticated peers
/// must not hold more than this many sockets and buffers).
const HANDSHAKES_MAX: usize = 64;
/// How often seed names are resolved again.
const SEED_RESOLVE_INTERVAL: Duration = Duration::from_secs(30);

/// A live, authenticated link.
pub struct Link {
    pub id: u64,
    pub peer: NodeId,
    /// Which node dialled it and the nonce of its hello (of two links between a pair, both
    /// ends keep the one with the smaller (dialer, nonce)).
    pub dialer: (NodeId, [u8; 32]),
    /// Frames to send, by traffic class.
    pub queues: RefCell<LinkQueues>,
    wake: Notify,
    closed: Cell<bool>,
    last_heard: Cell<Instant>,
    /// The last ping sent (nonce, when) and the round trip its pong measured.
    ping_sent: Cell<Option<(u64, Instant)>>,
    pub round_trip: Cell<Option<Duration>>,
}

impl Link {
    /// Queues a frame in its class. A best-effort class drops its oldest frames when full
    /// (returned, for counting); a peer that lets control or replication frames pile up past
    /// their bound is too slow and is cut off (it reconnects and resumes from its cursors).
    pub fn send(&self, class: usize, frame: Vec<u8>, counters: &ClusterMetrics) -> Option<(usize, usize)> {
        if self.closed.get() {
            return None;
        }
        let bytes = frame.len();
        let pushed = self.queues.borrow_mut().push(class, frame);
        let dropped = match pushed {
            Pushed::Queued => None,
            Pushed::Dropped { frames, bytes } => Some((frames, bytes)),
            Pushed::Overflow => {
                let queued = self.queues.borrow().bytes();
                tracing::warn!(peer = %identity_hex(&self.peer), queued, "closing link: its send queue is full");
                counters.failure("queue_full");
                self.close();
                return None;
            }
        };
        counters.link_bytes_sent.add(bytes as u64);
        self.wake.notify_all();
        dropped
    }

    pub fn close(&self) {
        self.closed.set(true);
        self.wake.notify_all();
    }

    async fn closed(&self) {
        while !self.closed.get() {
            self.wake.notified().await;
        }
    }
}

/// Why a link ended.
#[derive(Debug)]
enum LinkEnd {
    Handshake(HandshakeError),
    /// A duplicate of a link to this peer that is kept.
    Duplicate(NodeId),
    Io(std::io::Error),
    Frame(FrameError),
    Timeout(&'static str),
    Closed,
}

impl LinkEnd {
    fn reason(&self) -> &'static str {
        match self {
            LinkEnd::Handshake(HandshakeError::BadSignature) => "bad_signature",
            LinkEnd::Handshake(HandshakeError::NotAllowed(_)) => "not_allowed",
            LinkEnd::Handshake(HandshakeError::OtherCluster(_)) => "other_cluster",
            LinkEnd::Handshake(_) => "handshake",
            LinkEnd::Duplicate(_) => "duplicate",
            LinkEnd::Io(_) => "io",
            LinkEnd::Frame(_) => "bad_frame",
            LinkEnd::Timeout(_) => "timeout",
            LinkEnd::Closed => "closed",
        }
    }
}

impl std::fmt::Display for LinkEnd {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkEnd::Handshake(error) => write!(formatter, "handshake refused: {error}"),
            LinkEnd::Duplicate(_) => write!(formatter, "another link to this peer is kept"),
            LinkEnd::Io(error) => write!(formatter, "{error}"),
            LinkEnd::Frame(error) => write!(formatter, "{error}"),
            LinkEnd::Timeout(what) => write!(formatter, "{what}"),
            LinkEnd::Closed => write!(formatter, "closed"),
        }
    }
}

pub async fn accept_loop(node: Rc<Node>, listener: TcpListener) {
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            node.stop.notified().await;
            None
        })
        .await;
        match accepted {
            None => return,
            Some(Ok(stream)) => {
                let node = node.clone();
                glommio::spawn_local(async move {
                    let address = stream.peer_addr().map(|address| address.to_string()).unwrap_or_default();
                    if let Err(end) = run_link(&node, stream, Role::Acceptor).await {
                        tracing::info!(%address, reason = %end, "incoming link ended");
                    }
                })
                .detach();
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "accepting a cluster link failed");
                glommio::timer::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Keeps a link to the node at `seed` (re-resolving the name on every attempt), backing off
/// from 100 ms to 10 s with jitter. Stops for a seed that turns out to be this node.
/// Resolves the seeds now and every `SEED_RESOLVE_INTERVAL`, and keeps one dial loop per
/// address they resolve to; a loop whose address no longer resolves ends (after its link, if
/// it has one, ends).
pub async fn seed_loop(node: Rc<Node>, seeds: Vec<String>) {
    let own = [node.config.listen.clone(), node.advertise().to_string()];
    while !node.stopping.get() {
        let mut resolved = std::collections::HashSet::new();
        for seed in seeds.iter().filter(|seed| !own.contains(seed)) {
            // getaddrinfo blocks this executor briefly; seeds are few and this runs every 30 s.
            match std::net::ToSocketAddrs::to_socket_addrs(seed.as_str()) {
                Ok(addresses) => resolved.extend(addresses),
                Err(error) => tracing::warn!(%seed, %error, "cannot resolve seed"),
            }
        }
        // Recorded before any loop starts: a loop checks that its address still resolves.
        node.seeds_resolved.replace(resolved.clone());
        for address in resolved {
            if node.seed_addresses.borrow_mut().insert(address) {
                glommio::spawn_local(dial_seed(node.clone(), address)).detach();
            }
        }
        sleep_or_stop(&node, SEED_RESOLVE_INTERVAL).await;
    }
}

/// One seed address, dialled while it still resolves.
async fn dial_seed(node: Rc<Node>, address: std::net::SocketAddr) {
    dial(node.clone(), address.to_string(), None).await;
    node.seed_addresses.borrow_mut().remove(&address);
}

/// Keeps a link to a member this node must dial (its key is the smaller), while it is a member.
pub async fn dial_member(node: Rc<Node>, member: NodeId, address: String) {
    dial(node.clone(), address, Some(member)).await;
    node.member_dials.borrow_mut().remove(&member);
}

/// Dials `address` until stopped: for a seed (`member == None`) forever, for a member while
/// the membership lists it.
async fn dial(node: Rc<Node>, seed: String, member: Option<NodeId>) {
    let mut backoff = BACKOFF_MIN;
    let mut known_peer: Option<NodeId> = member;
    while !node.stopping.get() {
        if member.is_some_and(|member| !node.members.borrow().contains_key(&member)) {
            return;
        }
        let address_gone =
            member.is_none() && seed.parse().is_ok_and(|address| !node.seeds_resolved.borrow().contains(&address));
        if address_gone {
            tracing::info!(%seed, "seed no longer resolves to this address; not dialling it");
            return;
        }
        if known_peer.is_some_and(|peer| node.links.borrow().contains_key(&peer)) {
            // Linked already (perhaps dialled by the peer): look again later.
            sleep_or_stop(&node, Duration::from_secs(1)).await;
            continue;
        }
        // A member's address is the one it advertises now (it may have moved).
        let address = match member.and_then(|member| node.members.borrow().get(&member).map(|m| m.address.clone())) {
            Some(address) => address,
            None => seed.clone(),
        };
        // Name resolution may block (getaddrinfo); seeds are few and dials rare.
        let connected = futures_lite::future::or(async { Some(TcpStream::connect(address.as_str()).await) }, async {
            glommio::timer::sleep(HANDSHAKE_TIMEOUT).await;
            None
        })
        .await;
        match connected {
            Some(Ok(stream)) => match run_link(&node, stream, Role::Dialer).await {
                Ok(peer) => {
                    known_peer = Some(peer);
                    backoff = BACKOFF_MIN;
                }
                Err(LinkEnd::Duplicate(peer)) => {
                    // The peer is linked through the link it dialled: look again later.
                    known_peer = Some(peer);
                    backoff = BACKOFF_MIN;
                }
                Err(LinkEnd::Handshake(HandshakeError::OwnKey)) => {
                    tracing::info!(%seed, "seed is this node; not dialling it");
                    return;
                }
                Err(end) => {
                    tracing::info!(%seed, reason = %end, "link to seed failed");
                }
            },
            Some(Err(error)) => tracing::debug!(%seed, %error, "dialling seed failed"),
            None => tracing::debug!(%seed, "dialling seed timed out"),
        }
        let jitter = Duration::from_millis(node.now_ms() % (backoff.as_millis() as u64 / 2 + 1));
        sleep_or_stop(&node, backoff + jitter).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn sleep_or_stop(node: &Node, duration: Duration) {
    futures_lite::future::or(glommio::timer::sleep(duration), node.stop.notified()).await;
}

/// Reads one frame body (type and payload), refusing a length over `limit` before reading it.
async fn read_body(reader: &mut (impl AsyncRead + Unpin), limit: usize) -> Result<Vec<u8>, LinkEnd> {
    read_body_with_progress(reader, limit, || {}).await
}

/// As `read_body`, calling `progress` as each piece of a large frame arrives (a link busy
/// with one big batch is not silent).
async fn read_body_with_progress(
    reader: &mut (impl AsyncRead + Unpin),
    limit: usize,
    mut progress: impl FnMut(),
) -> Result<Vec<u8>, LinkEnd> {
    const PIECE_BYTES: usize = 64 * 1024;
    let mut header = [0; 4];
    reader.read_exact(&mut header).await.map_err(LinkEnd::Io)?;
    let length = body_length(header, limit).map_err(LinkEnd::Frame)?;
    let mut body = vec![0; length];
    for piece in body.chunks_mut(PIECE_BYTES) {
        reader.read_exact(piece).await.map_err(LinkEnd::Io)?;
        progress();
    }
    Ok(body)
}

async fn with_timeout<T>(what: &'static str, future: impl Future<Output = Result<T, LinkEnd>>) -> Result<T, LinkEnd> {
    futures_lite::future::or(future, async {
        glommio::timer::sleep(HANDSHAKE_TIMEOUT).await;
        Err(LinkEnd::Timeout(what))
    })
    .await
}

/// The handshake: both sides send a hello, check the other's, then sign the transcript and
/// check the other's signature. Returns the peer's hello.
async fn handshake(
    node: &Node,
    reader: &mut (impl AsyncRead + Unpin),
    writer: &mut (impl AsyncWrite + Unpin),
    role: Role,
) -> Result<(Hello, [u8; 32]), LinkEnd> {
    use parrhesia_net::cluster::replication::LogStore;
    let nonce = handshake::fresh_nonce().map_err(|error| LinkEnd::Io(std::io::Error::other(error.to_string())))?;
    let own = node.store.own_log();
    let hello = Hello {
        version: PROTOCOL_VERSION,
        cluster_id: node.config.cluster_id.clone(),
        public_key: node.me,
        nonce,
        epoch: own.epoch,
        advertise: node.advertise().to_string(),
        // Sent after authentication (the replicator's first frame), not to strangers.
        heads: Vec::new(),
    };
    let own_frame = Message::Hello(hello.clone()).encode();
    writer.write_all(&own_frame).await.map_err(LinkEnd::Io)?;
    writer.flush().await.map_err(LinkEnd::Io)?;
    let peer_body = read_body(reader, HANDSHAKE_FRAME_BYTES_MAX).await?;
    let Message::Hello(peer) = Message::decode(&peer_body).map_err(LinkEnd::Frame)? else {
        return Err(LinkEnd::Handshake(HandshakeError::Unexpected("another frame")));
    };
    node.admission.check_hello(&hello, &peer).map_err(LinkEnd::Handshake)?;
    let own_body = &own_frame[4..];
    let (dialer_hello, acceptor_hello) = match role {
        Role::Dialer => (own_body, &peer_body[..]),
        Role::Acceptor => (&peer_body[..], own_body),
    };
    let signature = handshake::sign(&node.key, role, dialer_hello, acceptor_hello);
    writer.write_all(&Message::Auth(signature).encode()).await.map_err(LinkEnd::Io)?;
    writer.flush().await.map_err(LinkEnd::Io)?;
    let auth_body = read_body(reader, HANDSHAKE_FRAME_BYTES_MAX).await?;
    let Message::Auth(peer_signature) = Message::decode(&auth_body).map_err(LinkEnd::Frame)? else {
        return Err(LinkEnd::Handshake(HandshakeError::Unexpected("another frame")));
    };
    handshake::verify_peer(&peer.public_key, role, dialer_hello, acceptor_hello, &peer_signature)
        .map_err(LinkEnd::Handshake)?;
    Ok((peer, nonce))
}

/// Runs a link from handshake to close. Returns the peer once an authenticated link ends.
async fn run_link(node: &Rc<Node>, stream: TcpStream, role: Role) -> Result<NodeId, LinkEnd> {
    let _ = stream.set_nodelay(true);
    if node.handshakes.get() >= HANDSHAKES_MAX {
        node.counters.failure("too_many_handshakes");
        return Err(LinkEnd::Timeout("too many handshakes at once"));
    }
    let (mut reader, mut writer) = futures_lite::io::split(stream);
    node.handshakes.set(node.handshakes.get() + 1);
    let shaken = with_timeout("no handshake within 5 s", handshake(node, &mut reader, &mut writer, role)).await;
    node.handshakes.set(node.handshakes.get() - 1);
    let (hello, own_nonce) = match shaken {
        Ok(shaken) => shaken,
        Err(end) => {
            node.counters.failure(end.reason());
            if !matches!(end, LinkEnd::Handshake(HandshakeError::OwnKey)) {
                tracing::warn!(reason = %end, ?role, "link handshake failed");
            }
            return Err(end);
        }
    };
    let peer = hello.public_key;
    let link = Rc::new(Link {
        id: node.next_link_id(),
        peer,
        dialer: if role == Role::Dialer { (node.me, own_nonce) } else { (peer, hello.nonce) },
        queues: RefCell::new(node.link_queues()),
        wake: Notify::default(),
        closed: Cell::new(false),
        last_heard: Cell::new(Instant::now()),
        ping_sent: Cell::new(None),
        round_trip: Cell::new(None),
    });
    if !register(node, &link) {
        return Err(LinkEnd::Duplicate(peer));
    }
    node.counters.links_opened.inc();
    *node.links_up_by_peer.borrow_mut().entry(peer).or_default() += 1;
    tracing::info!(peer = %identity_hex(&peer), ?role, "link up");
    node.drive(|replicator, now, store| replicator.link_up(now, peer, hello.epoch, &hello.heads, store));
    super::membership::link_up(node, peer, &hello.advertise).await;
    let sender = glommio::spawn_local(write_loop(link.clone(), writer));
    let pinger = glommio::spawn_local(ping_loop(node.clone(), link.clone()));
    let end = read_loop(node, &link, &mut reader).await;
    link.close();
    // Unregister before waiting for the writer: a write to a peer that stopped reading may
    // only end when its socket is dropped, and the replicator must not wait on that link.
    let registered = node.links.borrow().get(&peer).is_some_and(|current| current.id == link.id);
    if registered {
        node.links.borrow_mut().remove(&peer);
        node.drive(|replicator, now, store| replicator.link_down(now, peer, store));
        super::anti_entropy::link_down(node, peer);
        // If the membership still sees the peer up once it had time to notice a dead process,
        // this node cannot reach a live member: a partition (see `membership::check_partitions`).
        node.links_lost.borrow_mut().insert(peer, node.now_ms());
    }
    let _ = sender.await;
    let _ = pinger.await;
    node.counters.links_closed.inc();
    if !node.stopping.get() {
        node.counters.failure(end.reason());
    }
    tracing::info!(peer = %identity_hex(&peer), reason = %end, "link down");
    Ok(peer)
}

/// Registers a new link; of two links between the same pair, both ends keep the one dialled
/// by the smaller key, and of two dialled by the same node the one with the smaller hello
/// nonce: the same choice at both ends, whatever order their handshakes finished in. (A
/// half-open link that wins is declared dead within 5 s of silence; the dialler then links
/// again.)
fn register(node: &Node, link: &Rc<Link>) -> bool {
    let existing = node.links.borrow().get(&link.peer).cloned();
    if let Some(existing) = existing {
        if link.dialer > existing.dialer {
            return false;
        }
        node.links.borrow_mut().remove(&link.peer);
        existing.close();
        node.drive(|replicator, now, store| replicator.link_down(now, link.peer, store));
        super::anti_entropy::link_down(node, link.peer);
    }
    node.links.borrow_mut().insert(link.peer, link.clone());
    true
}

async fn read_loop(node: &Rc<Node>, link: &Rc<Link>, reader: &mut (impl AsyncRead + Unpin)) -> LinkEnd {
    loop {
        let heard = || link.last_heard.set(Instant::now());
        let read = read_body_with_progress(reader, node.config.link_frame_bytes_max, heard);
        let body = futures_lite::future::or(read, async {
            link.closed().await;
            Err(LinkEnd::Closed)
        })
        .await;
        let body = match body {
            Ok(body) => body,
            Err(end) => return end,
        };
        if link.closed.get() {
            return LinkEnd::Closed; // replaced or cut off while this frame was read
        }
        link.last_heard.set(Instant::now());
        node.counters.link_bytes_received.add(4 + body.len() as u64);
        let message = match Message::decode(&body) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(peer = %identity_hex(&link.peer), %error, "closing link: bad frame");
                return LinkEnd::Frame(error);
            }
        };
        match message {
            Message::Ping(nonce) => {
                link.send(CONTROL, Message::Pong(nonce).encode(), &node.counters);
            }
            Message::Pong(nonce) => {
                if let Some((sent_nonce, sent_at)) = link.ping_sent.get()
                    && sent_nonce == nonce
                {
                    link.round_trip.set(Some(sent_at.elapsed()));
                }
            }
            message @ (Message::SyncOpen(_)
            | Message::SyncMsg(_)
            | Message::SyncFetch(_)
            | Message::SyncEvents(_)
            | Message::SyncErr(_)) => super::anti_entropy::on_frame(node, link.peer, message),
            message => node.drive(|replicator, now, store| replicator.on_message(now, link.peer, message, store)),
        }
        glommio::yield_if_needed().await;
    }
}

async fn write_loop(link: Rc<Link>, mut writer: impl AsyncWrite + Unpin) -> std::io::Result<()> {
    loop {
        if link.queues.borrow().is_empty() {
            if link.closed.get() {
                return writer.close().await;
            }
            link.wake.notified().await;
            continue;
        }
        // Control first, the other classes by weight; flushed once the queues are empty.
        loop {
            let next = link.queues.borrow_mut().pop();
            let Some(frame) = next else { break };
            // A closed link stops writing at once, even to a peer that stopped reading.
            let written = futures_lite::future::or(async { Some(writer.write_all(&frame).await) }, async {
                link.closed().await;
                None
            })
            .await;
            match written {
                Some(Ok(())) => {}
                Some(Err(error)) => {
                    link.close();
                    return Err(error);
                }
                None => return Ok(()),
            }
        }
        if let Err(error) = writer.flush().await {
            link.close();
            return Err(error);
        }
    }
}

async fn ping_loop(node: Rc<Node>, link: Rc<Link>) {
    let mut nonce = 0;
    while !link.closed.get() {
        futures_lite::future::or(glommio::timer::sleep(PING_INTERVAL), link.closed()).await;
        if link.last_heard.get().elapsed() >= SILENCE_TIMEOUT {
            tracing::warn!(peer = %identity_hex(&link.peer), "closing link: silent for 5 s");
            node.counters.failure("silent");
            link.close();
            return;
        }
        nonce += 1;
        link.ping_sent.set(Some((nonce, Instant::now())));
        link.send(CONTROL, Message::Ping(nonce).encode(), &node.counters);
    }
}
