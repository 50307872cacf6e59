//! The membership task: the UDP socket on the cluster port, the clock and the timer loop
//! around `parrhesia_net::cluster::membership::Membership` (foca). Members that come up are
//! dialled by whichever of the two has the smaller key; a member declared down while its link
//! is up, or a link down to a member that is up, is a partition (counted and logged).

use std::rc::Rc;
use std::time::Duration;

use glommio::net::UdpSocket;
use parrhesia_net::cluster::NodeId;
use parrhesia_net::cluster::membership::{DATAGRAM_BYTES_MAX, Member, MemberEvent, Output};
use parrhesia_net::identity_hex;

use super::Node;

/// How often an isolated node announces itself again to the peers it has links to.
const REANNOUNCE_INTERVAL: Duration = Duration::from_secs(2);
/// The longest the timer loop sleeps (foca's timers are rarely sooner).
const TICK_MAX: Duration = Duration::from_millis(50);
/// How long a member's resolved address is used before it is resolved again.
const RESOLVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a link may stay down to a member the membership still sees up before that counts
/// as a partition (a killed process is declared down well within this).
const PARTITION_AFTER: Duration = Duration::from_secs(10);

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

/// Receives datagrams until shutdown.
pub async fn receive_loop(node: Rc<Node>, socket: Rc<UdpSocket>) {
    let mut buffer = vec![0; DATAGRAM_BYTES_MAX + 256];
    loop {
        let received = futures_lite::future::or(async { Some(socket.recv_from(&mut buffer).await) }, async {
            node.stop.notified().await;
            None
        })
        .await;
        let Some(received) = received else { return };
        let Ok((length, from)) = received else { continue };
        let outcome = node.membership.borrow_mut().on_datagram(node.now_ms(), unix_ms(), &buffer[..length]);
        match outcome {
            Ok(output) => carry_out(&node, &socket, output).await,
            Err(refusal) => tracing::debug!(%from, %refusal, "membership datagram refused"),
        }
    }
}

/// Feeds due timers to foca, and announces again to linked peers while isolated.
pub async fn timer_loop(node: Rc<Node>, socket: Rc<UdpSocket>) {
    let mut last_announce = 0;
    while !node.stopping.get() {
        let wait = node
            .membership
            .borrow()
            .next_due_ms()
            .map_or(TICK_MAX, |due| Duration::from_millis(due.saturating_sub(node.now_ms())).min(TICK_MAX));
        futures_lite::future::or(glommio::timer::sleep(wait), node.stop.notified()).await;
        let output = node.membership.borrow_mut().tick(node.now_ms(), unix_ms());
        carry_out(&node, &socket, output).await;
        check_partitions(&node);
        let isolated = node.membership.borrow().is_isolated();
        if isolated && node.now_ms() >= last_announce + REANNOUNCE_INTERVAL.as_millis() as u64 {
            last_announce = node.now_ms();
            let peers: Vec<(NodeId, String)> =
                node.link_addresses.borrow().iter().map(|(k, a)| (*k, a.clone())).collect();
            for (key, address) in peers {
                announce(&node, &socket, key, address).await;
            }
        }
    }
}

/// Counts links that stayed down to members still up.
fn check_partitions(node: &Node) {
    let now = node.now_ms();
    let mut lost = node.links_lost.borrow_mut();
    lost.retain(|peer, since| {
        if node.links.borrow().contains_key(peer) || !node.members.borrow().contains_key(peer) {
            return false;
        }
        if now < *since + PARTITION_AFTER.as_millis() as u64 {
            return true;
        }
        node.counters.partitions_detected.inc();
        tracing::warn!(peer = %identity_hex(peer), "partition: no link to a member that is up");
        false
    });
}

/// A link came up: tell the membership about the peer (it may be a seed known only by address).
pub async fn link_up(node: &Rc<Node>, peer: NodeId, advertise: &str) {
    node.link_addresses.borrow_mut().insert(peer, advertise.to_string());
    let socket = node.membership_socket.borrow().clone();
    if let Some(socket) = socket {
        announce(node, &socket, peer, advertise.to_string()).await;
    }
}

/// The node advertises another address now (a reload): the membership takes it as a new
/// identity and tells the members.
pub fn readvertise(node: &Rc<Node>, address: String) {
    let socket = node.membership_socket.borrow().clone();
    if let Some(socket) = socket {
        let node = node.clone();
        glommio::spawn_local(async move {
            let output = node.membership.borrow_mut().change_address(node.now_ms(), unix_ms(), address);
            carry_out(&node, &socket, output).await;
        })
        .detach();
    }
}

async fn announce(node: &Rc<Node>, socket: &UdpSocket, key: NodeId, address: String) {
    let output = node.membership.borrow_mut().announce(node.now_ms(), unix_ms(), Member { key, address, bump: 0 });
    carry_out(node, socket, output).await;
}

async fn carry_out(node: &Rc<Node>, socket: &UdpSocket, output: Output) {
    for (address, datagram) in output.datagrams {
        let Some(target) = resolve(node, &address) else { continue };
        // Best effort, as SWIM expects: a lost datagram is a missed probe.
        if let Err(error) = socket.send_to(&datagram, target).await {
            tracing::debug!(%address, %error, "membership datagram not sent");
        }
    }
    for event in output.events {
        match event {
            MemberEvent::Up(member) => member_up(node, member),
            MemberEvent::Suspected(member) => tracing::info!(peer = %identity_hex(&member.key), "member suspected"),
            MemberEvent::Down(member) => {
                tracing::info!(peer = %identity_hex(&member.key), "member down");
                node.members.borrow_mut().remove(&member.key);
                if node.links.borrow().contains_key(&member.key) {
                    node.counters.partitions_detected.inc();
                    tracing::warn!(peer = %identity_hex(&member.key), "partition: member declared down while linked");
                }
            }
            MemberEvent::Rejoined => tracing::warn!("this node was declared down; rejoined with a renewed identity"),
            MemberEvent::Isolated => tracing::info!("no live members; announcing to the seeds"),
            MemberEvent::Active => tracing::info!("members in sight"),
        }
    }
}

/// A member's address as a socket address: parsed, or resolved once per `RESOLVE_INTERVAL`
/// (getaddrinfo blocks; a datagram is sent on every probe).
fn resolve(node: &Node, address: &str) -> Option<std::net::SocketAddr> {
    if let Ok(parsed) = address.parse() {
        return Some(parsed);
    }
    let now = node.now_ms();
    if let Some((resolved, at)) = node.resolved.borrow().get(address)
        && now < at + RESOLVE_INTERVAL.as_millis() as u64
    {
        return *resolved;
    }
    let resolved = std::net::ToSocketAddrs::to_socket_addrs(address).ok().and_then(|mut addresses| addresses.next());
    if resolved.is_none() {
        tracing::warn!(%address, "cannot resolve a member's address");
    }
    node.resolved.borrow_mut().insert(address.to_string(), (resolved, now));
    resolved
}

fn member_up(node: &Rc<Node>, member: Member) {
    tracing::info!(peer = %identity_hex(&member.key), address = %member.address, "member up");
    let key = member.key;
    node.members.borrow_mut().insert(key, member.clone());
    // Of two members, the one with the smaller key dials.
    let must_dial = node.me < key && !node.links.borrow().contains_key(&key);
    if must_dial && node.member_dials.borrow_mut().insert(key) {
        glommio::spawn_local(super::links::dial_member(node.clone(), key, member.address)).detach();
    }
}
