//! The cluster executor's side of the links: which link it keeps per peer, their frames into
//! the replicator, its frames into their queues, and the dial loops (seeds and members) that
//! ask the shards to connect. The sockets themselves are the shards' (`link.rs`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use glommio::channels::shared_channel::{SharedReceiver, SharedSender};
use parrhesia_net::cluster::NodeId;
use parrhesia_net::cluster::frame::Message;
use parrhesia_net::cluster::queues::Pushed;
use parrhesia_net::identity_hex;

use super::Node;
use super::link::{CloseCause, FromLinks, LinkShared, ToLinks};
use crate::executor::with_pulse;
use crate::notify::Notify;

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// How often seed names are resolved again.
const SEED_RESOLVE_INTERVAL: Duration = Duration::from_secs(30);

/// A live, authenticated link the node keeps.
pub struct Link {
    pub peer: NodeId,
    /// Which node dialled it and the nonce of its hello (of two links between a pair, both
    /// ends keep the one with the smaller (dialer, nonce)).
    pub dialer: (NodeId, [u8; 32]),
    pub shared: Arc<LinkShared>,
}

impl Link {
    pub fn id(&self) -> u64 {
        self.shared.id
    }
}

/// Requests for one shard's links, sent in order by `pump`.
#[derive(Default)]
pub struct ToShard {
    queue: RefCell<VecDeque<ToLinks>>,
    pub wake: Notify,
}

impl Node {
    /// Queues a frame on a link in its class and wakes the link's writer if it waits. A
    /// best-effort class drops its oldest frames when full (returned, for counting); a peer
    /// that lets control or replication frames pile up past their bound is too slow and is cut
    /// off (it reconnects and resumes from its cursors).
    pub fn send_on(&self, link: &Link, class: usize, frame: Vec<u8>) -> Option<(usize, usize)> {
        if link.shared.is_closed() {
            return None;
        }
        let push = link.shared.send(class, frame, &self.counters);
        let dropped = match push.pushed {
            Pushed::Queued => None,
            Pushed::Dropped { frames, bytes } => Some((frames, bytes)),
            Pushed::Overflow => {
                self.to_shard(link.shared.shard, ToLinks::Wake(link.id()));
                return None;
            }
        };
        if push.wake {
            self.to_shard(link.shared.shard, ToLinks::Wake(link.id()));
        }
        dropped
    }

    /// Closes a link (its shard ends it and answers `Down`).
    pub fn close_link(&self, link: &Link, cause: CloseCause) {
        link.shared.close(cause);
        self.to_shard(link.shared.shard, ToLinks::Wake(link.id()));
    }

    fn to_shard(&self, shard: usize, request: ToLinks) {
        let to = &self.to_links[shard];
        to.queue.borrow_mut().push_back(request);
        to.wake.notify_all();
    }

    /// The shard that dials `key` (a peer's key, or a seed's address).
    fn dialling_shard(&self, key: &[u8]) -> usize {
        (xxhash_rust::xxh3::xxh3_64(key) % self.to_links.len() as u64) as usize
    }
}

/// Sends one shard its requests, in order (waiting for room: none is dropped; wakes are at
/// most one per idle period of a link, dials one per dial loop).
pub async fn pump(node: Rc<Node>, shard: usize, sender: SharedSender<ToLinks>) {
    let sender = with_pulse(sender.connect()).await;
    loop {
        let next = node.to_links[shard].queue.borrow_mut().pop_front();
        match next {
            Some(request) => {
                if sender.send(request).await.is_err() {
                    return; // the shard has stopped
                }
            }
            None if node.stopping.get() => return,
            None => node.to_links[shard].wake.notified().await,
        }
    }
}

/// What one shard's links report, in the order it happened there.
pub async fn receive(node: Rc<Node>, shard: usize, receiver: SharedReceiver<FromLinks>) {
    let receiver = with_pulse(receiver.connect()).await;
    while let Some(report) = receiver.recv().await {
        match report {
            FromLinks::Up { link, hello, dialer, role } => {
                let link = Rc::new(Link { peer: hello.public_key, dialer, shared: link });
                if node.stopping.get() {
                    node.close_link(&link, CloseCause::Shutdown);
                    continue;
                }
                if link.shared.is_closed() {
                    continue; // ended on its shard already (its `Down` follows)
                }
                // A handshake that began before a reload removed the peer ends here.
                if !node.allows(&link.peer) {
                    node.close_link(&link, CloseCause::NotAllowed);
                    continue;
                }
                if !register(&node, &link) {
                    node.close_link(&link, CloseCause::Duplicate);
                    continue;
                }
                let peer = link.peer;
                node.counters.links_opened.inc();
                *node.links_up_by_peer.borrow_mut().entry(peer).or_default() += 1;
                tracing::info!(peer = %identity_hex(&peer), ?role, shard, "link up");
                let differing = parrhesia_net::cluster::frame::differing_settings(&node.settings, &hello.settings);
                for (setting, own, theirs) in &differing {
                    tracing::warn!(
                        peer = %identity_hex(&peer),
                        setting = %setting,
                        here = %own,
                        there = %theirs,
                        "a setting nodes should agree on differs"
                    );
                }
                let differing = differing.into_iter().map(|(setting, _, _)| setting).collect();
                node.config_mismatches.borrow_mut().insert(peer, differing);
                node.drive(|replicator, now, store| replicator.link_up(now, peer, hello.epoch, &hello.heads, store));
                // Its own task: announcing may resolve names, and frames must not wait on that.
                let (announcing, advertise) = (node.clone(), hello.advertise);
                glommio::spawn_local(async move { super::membership::link_up(&announcing, peer, &advertise).await })
                    .detach();
            }
            FromLinks::Frame { link, message, checked } => {
                // Frames still in the channel from a link this node closed are not taken.
                let Some(link) = registered(&node, link).filter(|link| !link.shared.is_closed()) else { continue };
                let peer = link.peer;
                node.checked.borrow_mut().extend(checked.into_iter().map(|event| (*event.id(), event)));
                match message {
                    message @ (Message::SyncOpen(_)
                    | Message::SyncMsg(_)
                    | Message::SyncFetch(_)
                    | Message::SyncEvents(_)
                    | Message::SyncErr(_)) => super::anti_entropy::on_frame(&node, peer, message),
                    message => node.drive(|replicator, now, store| replicator.on_message(now, peer, message, store)),
                }
                // Events the frame's actions did not take were not wanted (stale, duplicate).
                node.checked.borrow_mut().clear();
            }
            FromLinks::Down { link } => link_down(&node, link),
            FromLinks::DialEnded { dial, peer, own_key } => {
                node.dials_ended.borrow_mut().insert(dial, (peer, own_key));
                node.dial_wake.notify_all();
            }
        }
    }
    // The shard has stopped: its links are gone.
    let gone: Vec<u64> =
        node.links.borrow().values().filter(|link| link.shared.shard == shard).map(|link| link.id()).collect();
    for link in gone {
        link_down(&node, link);
    }
}

/// A link the node keeps, by id (links are few: one per peer).
fn registered(node: &Node, id: u64) -> Option<Rc<Link>> {
    node.links.borrow().values().find(|link| link.id() == id).cloned()
}

/// A link ended; if it was the one kept for its peer, the peer is unlinked.
fn link_down(node: &Node, id: u64) {
    let Some(peer) = registered(node, id).map(|link| link.peer) else { return };
    unlink(node, peer);
    // If the membership still sees the peer up once it had time to notice a dead process,
    // this node cannot reach a live member: a partition (see `membership::check_partitions`).
    node.links_lost.borrow_mut().insert(peer, node.now_ms());
    tracing::info!(peer = %identity_hex(&peer), "link unregistered");
}

/// Forgets the link kept for `peer`: counted closed, and replication and anti-entropy told the
/// peer is down (until a link registers again).
fn unlink(node: &Node, peer: NodeId) {
    node.links.borrow_mut().remove(&peer);
    node.counters.links_closed.inc();
    node.drive(|replicator, now, store| replicator.link_down(now, peer, store));
    super::anti_entropy::link_down(node, peer);
}

/// Registers a new link; of two links between the same pair, both ends keep the one dialled
/// by the smaller key, and of two dialled by the same node the one with the smaller hello
/// nonce: the same choice at both ends, whatever order their handshakes finished in. (A
/// half-open link that wins is declared dead within 5 s of silence; the dialler then links
/// again.)
fn register(node: &Node, link: &Rc<Link>) -> bool {
    let existing = node.links.borrow().get(&link.peer).cloned();
    if let Some(existing) = existing {
        // A link that ended on its shard (its `Down` not yet here) never wins.
        if link.dialer > existing.dialer && !existing.shared.is_closed() {
            return false;
        }
        unlink(node, link.peer);
        node.close_link(&existing, CloseCause::Duplicate);
    }
    node.links.borrow_mut().insert(link.peer, link.clone());
    true
}

/// Keeps a link to the node at `seed` (re-resolving the name on every attempt), backing off
/// from 100 ms to 10 s with jitter. Stops for a seed that turns out to be this node.
/// Resolves the seeds now and every `SEED_RESOLVE_INTERVAL`, and keeps one dial loop per
/// address they resolve to; a loop whose address no longer resolves ends (after its link, if
/// it has one, ends).
pub async fn seed_loop(node: Rc<Node>) {
    while !node.stopping.get() {
        // The seeds and the own address as they are now (a reload changes them).
        let own = [node.config.listen.clone(), node.advertise()];
        let seeds = node.reloadable.borrow().seeds.clone();
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
        // A reload wakes it early.
        futures_lite::future::or(sleep_or_stop(&node, SEED_RESOLVE_INTERVAL), node.seed_wake.notified()).await;
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
/// the membership lists it. Each attempt runs on the shard the peer's key (or the seed's
/// address) hashes to, and ends when its link does.
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
        let shard = match known_peer {
            Some(peer) => node.dialling_shard(&peer),
            None => node.dialling_shard(seed.as_bytes()),
        };
        let dial = node.next_dial.get() + 1;
        node.next_dial.set(dial);
        node.to_shard(shard, ToLinks::Dial { dial, address });
        let ended = loop {
            if let Some(ended) = node.dials_ended.borrow_mut().remove(&dial) {
                break Some(ended);
            }
            if node.stopping.get() {
                break None;
            }
            futures_lite::future::or(node.dial_wake.notified(), node.stop.notified()).await;
        };
        match ended {
            None => return,
            Some((Some(peer), _)) => {
                known_peer = Some(peer);
                backoff = BACKOFF_MIN;
            }
            Some((None, true)) => {
                tracing::info!(%seed, "seed is this node; not dialling it");
                return;
            }
            Some((None, false)) => {}
        }
        let jitter = Duration::from_millis(node.now_ms() % (backoff.as_millis() as u64 / 2 + 1));
        sleep_or_stop(&node, backoff + jitter).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn sleep_or_stop(node: &Node, duration: Duration) {
    futures_lite::future::or(glommio::timer::sleep(duration), node.stop.notified()).await;
}
