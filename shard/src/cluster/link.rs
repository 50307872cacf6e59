//! A cluster link on the shard that owns its socket. Every shard accepts links (the cluster
//! port is bound by each, SO_REUSEPORT, as the client port is) and dials the ones the cluster
//! executor asks it to (the peer's key, or a seed's address, hashes to the shard). On its
//! shard a link runs the mutual handshake, then a reader (frames decoded, their events parsed,
//! id-checked and, with `verify_replicated`, signature-checked here, then passed to the
//! cluster executor), a writer (the link's queues, which the cluster executor fills, to the
//! socket) and a pinger (a link silent for 5 s is dead). The replicator, the summaries and the
//! membership stay on the cluster executor: they are the node's one view of its peers.
//! The link's bytes (handshake, encryption, frame reading and writing) are `transport.rs`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_lite::{AsyncRead, AsyncWrite};
use glommio::channels::shared_channel::{ConnectedSender, SharedReceiver, SharedSender};
use glommio::net::{TcpListener, TcpStream};
use parrhesia_engine::{Event, Limits};
use parrhesia_net::NodeKey;
use parrhesia_net::cluster::NodeId;
use parrhesia_net::cluster::frame::{Hello, Message, WireEvent};
use parrhesia_net::cluster::handshake::{HandshakeError, Role};
use parrhesia_net::cluster::queues::{CONTROL, ClassConfig, ClassFigures, LinkQueues, Pushed};
use parrhesia_net::cluster::secure::Encryption;
use parrhesia_net::identity_hex;
use parrhesia_storage::Store;

use super::ClusterMetrics;
pub use super::transport::CloseCause;
use super::transport::{HANDSHAKE_TIMEOUT, LinkEnd, LinkReader, LinkWriter, Linked, Party, SharedTerms, with_timeout};
use crate::executor::with_pulse;
use crate::metrics::ShardMetrics;
use crate::notify::Notify;

const PING_INTERVAL: Duration = Duration::from_secs(1);
/// A link that has carried nothing (pongs included) for this long is dead.
const SILENCE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in their handshake at once on a node (each shard takes its share); more are
/// closed at once (unauthenticated peers must not hold more than this many sockets and
/// buffers).
const HANDSHAKES_MAX: usize = 64;
/// Events of a frame checked between two yields to the shard's other tasks (a batch of
/// signature checks must not hold up its clients).
const CHECKS_PER_YIELD: usize = 64;

/// What a link's two executors share: its queues (filled by the cluster executor, emptied by
/// the link's shard), whether it is closed, and its last round trip.
pub struct LinkShared {
    /// Unique in the node: the shard's index in the high bits.
    pub id: u64,
    pub peer: NodeId,
    /// The shard that owns the socket.
    pub shard: usize,
    outbox: Mutex<Outbox>,
    closed: AtomicU8,
    /// Microseconds; 0 until the first pong.
    round_trip_us: AtomicU64,
}

struct Outbox {
    queues: LinkQueues,
    /// The writer found the queues empty and waits to be woken.
    idle: bool,
}

/// A frame pushed into a link's queues, and whether its writer must be woken.
pub struct Push {
    pub pushed: Pushed,
    pub wake: bool,
}

impl LinkShared {
    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // A panic while holding the lock leaves plain queues behind: keep using them.
        self.outbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a frame in its class (see `LinkQueues::push`).
    pub fn push(&self, class: usize, frame: Vec<u8>) -> Push {
        let mut outbox = self.outbox();
        let pushed = outbox.queues.push(class, frame);
        let wake = !matches!(pushed, Pushed::Overflow) && std::mem::take(&mut outbox.idle);
        Push { pushed, wake }
    }

    /// Queues a frame in its class and counts its bytes as sent. A class past its bound (see
    /// `LinkQueues::push`) closes the link instead: the peer is too slow, it reconnects and
    /// resumes from its cursors. The caller wakes the link's writer when `wake` says so, and
    /// always after a close.
    pub fn send(&self, class: usize, frame: Vec<u8>, counters: &ClusterMetrics) -> Push {
        let bytes = frame.len() as u64;
        let push = self.push(class, frame);
        if matches!(push.pushed, Pushed::Overflow) {
            let queued = self.queued_bytes();
            tracing::warn!(peer = %identity_hex(&self.peer), class, queued, "closing link: its send queue is full");
            self.close(CloseCause::QueueFull);
        } else {
            counters.link_bytes_sent.add(bytes);
        }
        push
    }

    /// The next frame to write, control first and the other classes by weight.
    fn pop(&self) -> Option<Vec<u8>> {
        self.outbox().queues.pop()
    }

    /// Marks the writer idle if the queues are empty (the next push then wakes it); false if
    /// a frame came meanwhile.
    fn park(&self) -> bool {
        let mut outbox = self.outbox();
        outbox.idle = outbox.queues.is_empty();
        outbox.idle
    }

    pub fn queued_bytes(&self) -> usize {
        self.outbox().queues.bytes()
    }

    pub fn figures(&self) -> Vec<ClassFigures> {
        self.outbox().queues.figures()
    }

    pub fn close(&self, cause: CloseCause) {
        let _ = self.closed.compare_exchange(CloseCause::Open as u8, cause as u8, Ordering::AcqRel, Ordering::Acquire);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) != CloseCause::Open as u8
    }

    fn close_cause(&self) -> u8 {
        self.closed.load(Ordering::Acquire)
    }

    pub fn round_trip(&self) -> Option<Duration> {
        match self.round_trip_us.load(Ordering::Relaxed) {
            0 => None,
            micros => Some(Duration::from_micros(micros)),
        }
    }
}

/// From the cluster executor to a shard's links.
pub enum ToLinks {
    /// Connect to `address` and run the link until it ends; answer `DialEnded`.
    Dial { dial: u64, address: String },
    /// Frames were queued on an idle link of this shard, or it was closed.
    Wake(u64),
}

/// From a shard's links to the cluster executor, in the order they happened on the shard.
pub enum FromLinks {
    /// A link passed its handshake; the cluster executor keeps it or closes it.
    Up { link: Arc<LinkShared>, hello: Hello, dialer: (NodeId, [u8; 32]), role: Role },
    /// A frame from the peer, with the events it carries that were checked here (parsed and
    /// id-checked; with `verify_replicated`, signature-checked). Events missing from
    /// `checked` did not hold and are checked again, logged and counted by the executor.
    Frame { link: u64, message: Message, checked: Vec<Event> },
    /// A link that was `Up` ended.
    Down { link: u64 },
    /// A dial asked for ended: the peer it linked to (`None` if no link was authenticated),
    /// or the address is this node.
    DialEnded { dial: u64, peer: Option<NodeId>, own_key: bool },
}

/// What a shard needs to run links.
pub struct LinksSetup {
    pub shard: usize,
    /// How many shards the node runs (they share `HANDSHAKES_MAX`).
    pub shards: usize,
    pub key: NodeKey,
    pub encryption: Encryption,
    /// Who may link and the address advertised (a reload changes them).
    pub terms: SharedTerms,
    /// The settings peers compare with theirs.
    pub settings: Vec<parrhesia_net::cluster::frame::Setting>,
    /// The cluster's link address (every shard binds it).
    pub listen: String,
    pub store: Store,
    pub limits: Limits,
    pub verify_replicated: bool,
    pub frame_bytes_max: usize,
    pub queue_bytes_max: usize,
    pub classes: Vec<ClassConfig>,
    pub counters: Arc<ClusterMetrics>,
    /// The shard's own figures (links owned, frames received).
    pub shard_counters: Arc<ShardMetrics>,
    pub to_cluster: SharedSender<FromLinks>,
    pub from_cluster: SharedReceiver<ToLinks>,
}

/// A shard's links.
pub struct Links {
    shard: usize,
    handshakes_max: usize,
    party: Party,
    store: Store,
    limits: Limits,
    verify_replicated: bool,
    frame_bytes_max: usize,
    queue_bytes_max: usize,
    classes: Vec<ClassConfig>,
    counters: Arc<ClusterMetrics>,
    shard_counters: Arc<ShardMetrics>,
    to_cluster: RefCell<Option<Rc<ConnectedSender<FromLinks>>>>,
    links: RefCell<HashMap<u64, Rc<Local>>>,
    next_link: Cell<u64>,
    handshakes: Cell<usize>,
    stopping: Cell<bool>,
    stop: Notify,
}

/// A link as its shard sees it.
struct Local {
    shared: Arc<LinkShared>,
    wake: Notify,
    last_heard: Cell<Instant>,
    /// The last ping sent (nonce, when).
    ping_sent: Cell<Option<(u64, Instant)>>,
}

impl Local {
    /// Queues a frame from this shard (pings, pongs) and wakes the writer if it waits.
    fn send(&self, frame: Vec<u8>, counters: &ClusterMetrics) {
        let push = self.shared.send(CONTROL, frame, counters);
        if push.wake || matches!(push.pushed, Pushed::Overflow) {
            self.wake.notify_all();
        }
    }

    fn close(&self, cause: CloseCause) {
        self.shared.close(cause);
        self.wake.notify_all();
    }

    async fn closed(&self) {
        while !self.shared.is_closed() {
            self.wake.notified().await;
        }
    }
}

/// Why an event from a peer was not taken.
#[derive(Debug)]
pub enum EventCheck {
    /// Not an event (not UTF-8, not an event's JSON, an id that does not match, with
    /// `verify_replicated` a bad signature): the peer is broken or lying.
    Invalid(String),
    /// An event, but past this node's limits (`event_bytes_max`, `tags_per_event_max`): refused
    /// as a client's would be.
    Refused(String),
}

/// An event from a peer, checked as a client's would be (id, limits) and, with `verify`, its
/// signature.
pub fn check_event(wire: &WireEvent, limits: &Limits, verify: bool) -> Result<Event, EventCheck> {
    let json = parrhesia_storage::record::json_from_parts(&wire.id, &wire.pubkey, &wire.sig, &wire.middle);
    let json = String::from_utf8(json).map_err(|_| EventCheck::Invalid("not UTF-8".to_string()))?;
    let event = match Event::parse(&json, limits) {
        Ok(event) => event,
        Err(reason) => {
            // Only this node's limits refused it if it parses without them (the frame's bound
            // already bounds its size).
            let unbounded = Limits { event_bytes_max: usize::MAX, tags_per_event_max: usize::MAX, ..limits.clone() };
            return Err(match Event::parse(&json, &unbounded) {
                Ok(_) => EventCheck::Refused(reason.to_string()),
                Err(_) => EventCheck::Invalid(reason.to_string()),
            });
        }
    };
    if verify {
        event.verify_signature().map_err(|reason| EventCheck::Invalid(reason.to_string()))?;
    }
    Ok(event)
}

impl Links {
    pub fn new(setup: LinksSetup) -> (Rc<Links>, SharedSender<FromLinks>, SharedReceiver<ToLinks>) {
        let links = Rc::new(Links {
            shard: setup.shard,
            handshakes_max: HANDSHAKES_MAX.div_ceil(setup.shards.max(1)),
            party: Party { key: setup.key, encryption: setup.encryption, terms: setup.terms, settings: setup.settings },
            store: setup.store,
            limits: setup.limits,
            verify_replicated: setup.verify_replicated,
            frame_bytes_max: setup.frame_bytes_max,
            queue_bytes_max: setup.queue_bytes_max,
            classes: setup.classes,
            counters: setup.counters,
            shard_counters: setup.shard_counters,
            to_cluster: RefCell::new(None),
            links: RefCell::default(),
            next_link: Cell::new(0),
            handshakes: Cell::new(0),
            stopping: Cell::new(false),
            stop: Notify::default(),
        });
        (links, setup.to_cluster, setup.from_cluster)
    }

    /// Runs the shard's links: connects the channels with the cluster executor, then accepts
    /// links and carries out the executor's requests until `stop`.
    pub async fn run(
        self: Rc<Self>,
        listener: TcpListener,
        to_cluster: SharedSender<FromLinks>,
        from_cluster: SharedReceiver<ToLinks>,
    ) {
        let sender = futures_lite::future::or(async { Some(with_pulse(to_cluster.connect()).await) }, async {
            self.stop.notified().await;
            None
        })
        .await;
        let Some(sender) = sender else { return };
        self.to_cluster.replace(Some(Rc::new(sender)));
        let requests = glommio::spawn_local(self.clone().requests(from_cluster));
        self.accept(listener).await;
        // Stopping: close every link and give them a moment to tell the cluster executor.
        let links: Vec<Rc<Local>> = self.links.borrow().values().cloned().collect();
        for link in links {
            link.close(CloseCause::Shutdown);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.links.borrow().is_empty() && Instant::now() < deadline {
            glommio::timer::sleep(Duration::from_millis(10)).await;
        }
        self.to_cluster.borrow_mut().take();
        drop(requests);
    }

    /// Ends `run` (its links are closed).
    pub fn stop(&self) {
        self.stopping.set(true);
        self.stop.notify_all();
    }

    async fn accept(self: &Rc<Self>, listener: TcpListener) {
        while !self.stopping.get() {
            let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
                self.stop.notified().await;
                None
            })
            .await;
            match accepted {
                None => return,
                Some(Ok(stream)) => {
                    let links = self.clone();
                    glommio::spawn_local(async move {
                        let address = stream.peer_addr().map(|address| address.to_string()).unwrap_or_default();
                        if let Err(end) = links.run_link(stream, Role::Acceptor).await {
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

    /// The cluster executor's requests: dials, and wakes for links whose queues it filled.
    async fn requests(self: Rc<Self>, from_cluster: SharedReceiver<ToLinks>) {
        let from_cluster = with_pulse(from_cluster.connect()).await;
        while let Some(request) = from_cluster.recv().await {
            match request {
                ToLinks::Dial { dial, address } => {
                    glommio::spawn_local(self.clone().dial(dial, address)).detach();
                }
                ToLinks::Wake(id) => {
                    let link = self.links.borrow().get(&id).cloned();
                    if let Some(link) = link {
                        link.wake.notify_all();
                    }
                }
            }
        }
    }

    /// One dial: connect (within the handshake timeout), run the link, answer.
    async fn dial(self: Rc<Self>, dial: u64, address: String) {
        // Name resolution may block (getaddrinfo); seeds are few and dials rare.
        let connected = futures_lite::future::or(async { Some(TcpStream::connect(address.as_str()).await) }, async {
            glommio::timer::sleep(HANDSHAKE_TIMEOUT).await;
            None
        })
        .await;
        let (mut peer, mut own_key) = (None, false);
        match connected {
            Some(Ok(stream)) => match self.run_link(stream, Role::Dialer).await {
                Ok(linked) => peer = Some(linked),
                Err(LinkEnd::Handshake(HandshakeError::OwnKey)) => own_key = true,
                Err(end) => tracing::info!(%address, reason = %end, "link to seed failed"),
            },
            Some(Err(error)) => tracing::debug!(%address, %error, "dialling failed"),
            None => tracing::debug!(%address, "dialling timed out"),
        }
        self.tell(FromLinks::DialEnded { dial, peer, own_key }).await;
    }

    /// Sends to the cluster executor (waiting for room: frames are never dropped here).
    async fn tell(&self, message: FromLinks) -> bool {
        let sender = self.to_cluster.borrow().clone();
        match sender {
            Some(sender) => sender.send(message).await.is_ok(),
            None => false,
        }
    }

    /// Runs a link from handshake to close. Returns the peer once an authenticated link ends.
    async fn run_link(self: &Rc<Self>, stream: TcpStream, role: Role) -> Result<NodeId, LinkEnd> {
        let _ = stream.set_nodelay(true);
        if self.handshakes.get() >= self.handshakes_max {
            self.counters.failure("too_many_handshakes");
            return Err(LinkEnd::Timeout("too many handshakes at once"));
        }
        let (reader, writer) = futures_lite::io::split(stream);
        self.handshakes.set(self.handshakes.get() + 1);
        let handshake = self.party.handshake(reader, writer, role, self.store.epoch());
        let shaken = with_timeout("no handshake within 5 s", handshake).await;
        self.handshakes.set(self.handshakes.get() - 1);
        let Linked { mut reader, writer, hello, own_nonce } = match shaken {
            Ok(linked) => linked,
            Err(end) => {
                self.counters.failure(end.reason());
                if !matches!(end, LinkEnd::Handshake(HandshakeError::OwnKey)) {
                    tracing::warn!(reason = %end, ?role, "link handshake failed");
                }
                return Err(end);
            }
        };
        let peer = hello.public_key;
        if self.stopping.get() {
            return Err(LinkEnd::Closed(CloseCause::Shutdown as u8));
        }
        self.next_link.set(self.next_link.get() + 1);
        let shared = Arc::new(LinkShared {
            id: (self.shard as u64) << 48 | self.next_link.get(),
            peer,
            shard: self.shard,
            outbox: Mutex::new(Outbox {
                queues: LinkQueues::new(self.queue_bytes_max, self.classes.clone()),
                idle: false,
            }),
            closed: AtomicU8::new(CloseCause::Open as u8),
            round_trip_us: AtomicU64::new(0),
        });
        let link = Rc::new(Local {
            shared: shared.clone(),
            wake: Notify::default(),
            last_heard: Cell::new(Instant::now()),
            ping_sent: Cell::new(None),
        });
        let dialer = if role == Role::Dialer { (self.party.key.public(), own_nonce) } else { (peer, hello.nonce) };
        self.links.borrow_mut().insert(shared.id, link.clone());
        self.shard_counters.cluster_links_owned.set(self.links.borrow().len() as i64);
        let end = if self.tell(FromLinks::Up { link: shared.clone(), hello, dialer, role }).await {
            let sender = glommio::spawn_local(write_loop(link.clone(), writer));
            let pinger = glommio::spawn_local(ping_loop(self.clone(), link.clone()));
            let end = self.read_loop(&link, &mut reader).await;
            link.close(CloseCause::Closed);
            // Told before waiting for the writer: a write to a peer that stopped reading may
            // only end when its socket is dropped, and the replicator must not wait on it.
            self.tell(FromLinks::Down { link: shared.id }).await;
            let _ = sender.await;
            let _ = pinger.await;
            end
        } else {
            LinkEnd::Closed(CloseCause::Closed as u8)
        };
        self.links.borrow_mut().remove(&shared.id);
        self.shard_counters.cluster_links_owned.set(self.links.borrow().len() as i64);
        // One count per link that ends, by why (a duplicate that lost, or a stop, is no failure).
        let expected = matches!(&end, LinkEnd::Closed(cause)
            if *cause == CloseCause::Duplicate as u8 || *cause == CloseCause::Shutdown as u8);
        if !self.stopping.get() && !expected {
            self.counters.failure(end.reason());
        }
        tracing::info!(peer = %identity_hex(&peer), reason = %end, "link down");
        Ok(peer)
    }

    /// Reads, decodes and checks frames; answers pings; passes the rest to the executor.
    async fn read_loop(&self, link: &Local, reader: &mut LinkReader<impl AsyncRead + Unpin>) -> LinkEnd {
        loop {
            let heard = || link.last_heard.set(Instant::now());
            let read = reader.read_body(self.frame_bytes_max, heard);
            let body = futures_lite::future::or(read, async {
                link.closed().await;
                Err(LinkEnd::Closed(link.shared.close_cause()))
            })
            .await;
            let body = match body {
                Ok(body) => body,
                Err(end) => return end,
            };
            if link.shared.is_closed() {
                return LinkEnd::Closed(link.shared.close_cause()); // replaced or cut off meanwhile
            }
            link.last_heard.set(Instant::now());
            self.counters.link_bytes_received.add(4 + body.len() as u64);
            self.shard_counters.cluster_link_frames_received.inc();
            let message = match Message::decode(&body) {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(peer = %identity_hex(&link.shared.peer), %error, "closing link: bad frame");
                    return LinkEnd::Frame(error);
                }
            };
            drop(body);
            match message {
                Message::Ping(nonce) => link.send(Message::Pong(nonce).encode(), &self.counters),
                Message::Pong(nonce) => {
                    if let Some((sent_nonce, sent_at)) = link.ping_sent.get()
                        && sent_nonce == nonce
                    {
                        let micros = (sent_at.elapsed().as_micros() as u64).max(1);
                        link.shared.round_trip_us.store(micros, Ordering::Relaxed);
                    }
                }
                message => {
                    let checked = match self.check(&message).await {
                        Ok(checked) => checked,
                        Err(end) => {
                            tracing::warn!(peer = %identity_hex(&link.shared.peer), reason = %end, "closing link");
                            return end;
                        }
                    };
                    let frame = FromLinks::Frame { link: link.shared.id, message, checked };
                    // Waiting for room at the cluster executor is not the peer's silence, and
                    // a close meanwhile ends the wait.
                    let told = futures_lite::future::or(self.tell(frame), async {
                        link.closed().await;
                        false
                    })
                    .await;
                    if !told {
                        let cause = link.shared.close_cause();
                        return LinkEnd::Closed(if cause == 0 { CloseCause::Closed as u8 } else { cause });
                    }
                    link.last_heard.set(Instant::now());
                }
            }
            glommio::yield_if_needed().await;
        }
    }

    /// The events of a frame that hold; those past this node's limits are left to the executor
    /// to report. An invalid one fails the whole frame (the link closes).
    async fn check(&self, message: &Message) -> Result<Vec<Event>, LinkEnd> {
        let events: &[WireEvent] = match message {
            Message::Batch(batch) => &batch.events,
            Message::Fetched(fetched) => &fetched.events,
            Message::SyncEvents(answer) => &answer.events,
            Message::Ephemeral(event) => std::slice::from_ref(event),
            _ => &[],
        };
        let mut checked = Vec::with_capacity(events.len());
        for (index, wire) in events.iter().enumerate() {
            if index % CHECKS_PER_YIELD == CHECKS_PER_YIELD - 1 {
                glommio::yield_if_needed().await;
            }
            match check_event(wire, &self.limits, self.verify_replicated) {
                Ok(event) => checked.push(event),
                Err(EventCheck::Refused(_)) => {}
                Err(EventCheck::Invalid(reason)) => {
                    let id = parrhesia_engine::hex::encode(&wire.id);
                    return Err(LinkEnd::InvalidEvent(format!("{id}: {reason}")));
                }
            }
        }
        Ok(checked)
    }
}

async fn write_loop(link: Rc<Local>, mut writer: LinkWriter<impl AsyncWrite + Unpin>) -> std::io::Result<()> {
    loop {
        let Some(frame) = link.shared.pop() else {
            // Nothing queued: flush what was written, then wait for a push (or the close).
            if let Err(error) = writer.flush().await {
                link.close(CloseCause::Closed);
                return Err(error);
            }
            if link.shared.is_closed() {
                return writer.close().await;
            }
            // Parked and awaited with no await between: a push after `park` wakes this wait.
            if link.shared.park() {
                link.wake.notified().await;
            }
            continue;
        };
        // A closed link stops writing at once, even to a peer that stopped reading.
        let written = futures_lite::future::or(async { Some(writer.write_frame(&frame).await) }, async {
            link.closed().await;
            None
        })
        .await;
        match written {
            Some(Ok(())) => {}
            Some(Err(error)) => {
                link.close(CloseCause::Closed);
                return Err(error);
            }
            None => return Ok(()),
        }
    }
}

async fn ping_loop(links: Rc<Links>, link: Rc<Local>) {
    let mut nonce = 0;
    while !link.shared.is_closed() {
        futures_lite::future::or(glommio::timer::sleep(PING_INTERVAL), link.closed()).await;
        if link.last_heard.get().elapsed() >= SILENCE_TIMEOUT {
            tracing::warn!(peer = %identity_hex(&link.shared.peer), "closing link: silent for 5 s");
            link.close(CloseCause::Silent);
            return;
        }
        nonce += 1;
        link.ping_sent.set(Some((nonce, Instant::now())));
        link.send(Message::Ping(nonce).encode(), &links.counters);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> LinkShared {
        let class = ClassConfig { name: "live".into(), weight: 1, bytes_max: 10, drop_oldest: true };
        LinkShared {
            id: 1,
            peer: [7; 32],
            shard: 0,
            outbox: Mutex::new(Outbox { queues: LinkQueues::new(100, vec![class]), idle: false }),
            closed: AtomicU8::new(CloseCause::Open as u8),
            round_trip_us: AtomicU64::new(0),
        }
    }

    #[test]
    fn a_push_wakes_the_writer_once_per_park() {
        let link = shared();
        // The writer has not parked yet: it will look at the queues anyway.
        assert!(!link.push(CONTROL, vec![1]).wake);
        assert!(!link.park(), "a frame is queued: the writer must not wait");
        assert_eq!(link.pop(), Some(vec![1]));
        assert!(link.park());
        assert!(link.push(CONTROL, vec![2]).wake, "the first push after parking wakes it");
        assert!(!link.push(CONTROL, vec![3]).wake, "one wake per park");
        assert_eq!((link.pop(), link.pop(), link.pop()), (Some(vec![2]), Some(vec![3]), None));
    }

    #[test]
    fn a_full_best_effort_class_drops_and_an_overflow_never_wakes() {
        let link = shared();
        assert!(link.park());
        let push = link.push(0, vec![0; 8]);
        assert!(matches!(push.pushed, Pushed::Queued) && push.wake);
        assert!(matches!(link.push(0, vec![1; 8]).pushed, Pushed::Dropped { frames: 1, bytes: 8 }));
        assert_eq!(link.pop(), Some(vec![1; 8]), "the oldest was dropped");
        assert!(link.park());
        let overflow = link.push(CONTROL, vec![0; 101]);
        assert!(matches!(overflow.pushed, Pushed::Overflow) && !overflow.wake);
    }

    #[test]
    fn the_first_close_cause_stays() {
        let link = shared();
        assert!(!link.is_closed());
        link.close(CloseCause::Duplicate);
        link.close(CloseCause::Closed);
        assert!(link.is_closed());
        assert_eq!(LinkEnd::Closed(link.close_cause()).reason(), "duplicate");
    }
}
