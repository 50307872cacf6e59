//! Phase A membership: SWIM with `foca` (sans-I/O), every datagram in a signed envelope.
//! Time goes in as milliseconds and datagrams come out as bytes for an address: the glommio
//! task that owns the UDP socket and the clock lives in `shard`. Timers foca asks for are kept
//! in one ordered map and fed back in due order.
//!
//! Envelope: `"PRM2" | cluster id length (u8) | cluster id | sender key (32) | unix ms (u64) |
//! number (u64) | foca payload | ed25519 signature (64) over everything before it`. A datagram
//! from another cluster, from a key not allowed, older or newer than `ENVELOPE_AGE_MS_MAX`,
//! badly signed, seen before (its sender, time and number: every datagram a node seals has a
//! number of its own), or whose foca header names another sender, never reaches foca.
//! Datagrams are signed, not encrypted: an observer reads member keys, addresses, states and
//! incarnations.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::time::Duration;

use bytes::Buf;
use foca::{
    AccumulatingRuntime, Codec, Config, Foca, Identity, NoCustomBroadcast, OwnedNotification, PostcardCodec, State,
    Timer,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};

use super::NodeId;
use crate::identity::{NodeKey, verify};

const MAGIC: &[u8; 4] = b"PRM2";
const SIGNATURE_BYTES: usize = 64;
/// How far an envelope's clock may be from ours (replayed datagrams older than this are dropped).
pub const ENVELOPE_AGE_MS_MAX: u64 = 60_000;
/// Datagrams remembered to refuse their replays (at most; the oldest are forgotten first,
/// and anything older than `ENVELOPE_AGE_MS_MAX` is refused by its time anyway).
const SEEN_MAX: usize = 65_536;
/// The largest datagram sent or accepted.
pub const DATAGRAM_BYTES_MAX: usize = 1400;

/// A member: its key (its name), where it listens, and a number that grows each time it
/// starts or rejoins (so its new self wins over its old self in everyone's table).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Member {
    pub key: NodeId,
    pub address: String,
    pub bump: u64,
}

impl Identity for Member {
    type Addr = NodeId;

    fn renew(&self) -> Option<Member> {
        Some(Member { bump: self.bump + 1, ..self.clone() })
    }

    fn addr(&self) -> NodeId {
        self.key
    }

    fn win_addr_conflict(&self, adversary: &Member) -> bool {
        self.bump > adversary.bump
    }
}

/// What happened to the membership, for the caller to act on (links) and count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberEvent {
    Up(Member),
    /// Some member suspects this one is down (it is still treated as up).
    Suspected(Member),
    Down(Member),
    /// This node was declared down and rejoined with a renewed identity.
    Rejoined,
    /// This node knows no active member (keep announcing to the seeds).
    Isolated,
    /// This node knows active members again.
    Active,
}

/// Datagrams to send and events to act on.
#[derive(Debug, Default)]
pub struct Output {
    pub datagrams: Vec<(String, Vec<u8>)>,
    pub events: Vec<MemberEvent>,
}

/// Why a datagram was dropped before foca saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not an envelope")]
    Malformed,
    #[error("another cluster")]
    OtherCluster,
    #[error("sender not allowed")]
    NotAllowed,
    #[error("envelope too old or from the future")]
    Stale,
    #[error("a datagram seen before")]
    Replayed,
    #[error("bad signature")]
    BadSignature,
    #[error("the payload names another sender")]
    Impersonation,
    #[error("foca refused the payload")]
    Protocol,
}

/// Counters (they become metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MembershipStats {
    pub joins: u64,
    pub suspicions: u64,
    pub downs: u64,
    pub rejoins: u64,
    /// Calls foca refused (an announce to itself, a timer for a member gone).
    pub foca_errors: u64,
    pub datagrams_refused: BTreeMap<&'static str, u64>,
}

pub struct Membership {
    foca: Foca<Member, PostcardCodec, SmallRng, NoCustomBroadcast>,
    runtime: AccumulatingRuntime<Member>,
    timers: BTreeMap<(u64, u64), Timer<Member>>,
    next_timer: u64,
    key: NodeKey,
    cluster_id: String,
    allowed: Vec<NodeId>,
    /// Members suspect at the last look (a suspicion is counted once, when it starts).
    suspects: BTreeSet<NodeId>,
    /// Authentic datagrams of the last `ENVELOPE_AGE_MS_MAX` (and a little more): (sent ms,
    /// sender, number), oldest first.
    seen: BTreeSet<(u64, NodeId, u64)>,
    /// The number the next sealed datagram carries.
    next_number: u64,
    pub stats: MembershipStats,
}

impl Membership {
    /// `cluster_size` tunes foca's timings (LAN profile); `seed` its random choices.
    pub fn new(me: Member, key: NodeKey, cluster_id: String, allowed: Vec<NodeId>, seed: u64) -> Membership {
        assert_eq!(me.key, key.public(), "a member is named by its own key");
        let size = NonZeroU32::new(allowed.len() as u32 + 1).expect("at least this node");
        let mut config = Config::new_lan(size);
        config.max_packet_size = std::num::NonZeroUsize::new(DATAGRAM_BYTES_MAX - 200).expect("positive");
        let foca = Foca::new(me, config, SmallRng::seed_from_u64(seed), PostcardCodec);
        Membership {
            foca,
            runtime: AccumulatingRuntime::new(),
            timers: BTreeMap::new(),
            next_timer: 0,
            key,
            cluster_id,
            allowed,
            suspects: BTreeSet::new(),
            seen: BTreeSet::new(),
            next_number: seed,
            stats: MembershipStats::default(),
        }
    }

    /// The active members (this node excluded).
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.foca.iter_members().map(|member| member.id())
    }

    /// Members foca knows (this node excluded), by state: (alive, suspect, down).
    pub fn counts_by_state(&self) -> (u64, u64, u64) {
        let mut counts = (0, 0, 0);
        for member in self.foca.iter_membership_state() {
            match member.state() {
                State::Alive => counts.0 += 1,
                State::Suspect => counts.1 += 1,
                State::Down => counts.2 += 1,
            }
        }
        counts
    }

    /// Replaces the keys allowed in (a reloaded configuration): datagrams from any other key
    /// are refused from now on.
    pub fn set_allowed(&mut self, allowed: Vec<NodeId>) {
        self.allowed = allowed;
    }

    /// This node now listens at `address` (a reloaded `advertise`): it becomes a new identity
    /// (its number bumped, so it wins over the old one everywhere) and tells the members.
    pub fn change_address(&mut self, now_ms: u64, unix_ms: u64, address: String) -> Output {
        let current = self.foca.identity().clone();
        if current.address != address {
            let renewed = Member { address, bump: current.bump + 1, ..current };
            if self.foca.change_identity(renewed, &mut self.runtime).is_err() {
                self.stats.foca_errors += 1;
            }
        }
        self.drain(now_ms, unix_ms)
    }

    pub fn is_isolated(&self) -> bool {
        self.foca.num_members() == 0
    }

    /// Asks `to` (perhaps known only by its key and address) to let this node in.
    pub fn announce(&mut self, now_ms: u64, unix_ms: u64, to: Member) -> Output {
        if self.foca.announce(to, &mut self.runtime).is_err() {
            self.stats.foca_errors += 1;
        }
        self.drain(now_ms, unix_ms)
    }

    /// A datagram from the network.
    pub fn on_datagram(&mut self, now_ms: u64, unix_ms: u64, datagram: &[u8]) -> Result<Output, Refusal> {
        let refusal = match self.open(unix_ms, datagram) {
            Ok(payload) => match self.foca.handle_data(payload, &mut self.runtime) {
                Ok(()) => return Ok(self.drain(now_ms, unix_ms)),
                Err(_) => Refusal::Protocol,
            },
            Err(refusal) => refusal,
        };
        *self.stats.datagrams_refused.entry(refusal_name(refusal)).or_default() += 1;
        Err(refusal)
    }

    /// Feeds every timer due at `now_ms` to foca, in due order.
    pub fn tick(&mut self, now_ms: u64, unix_ms: u64) -> Output {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            let timer = entry.remove();
            if self.foca.handle_timer(timer, &mut self.runtime).is_err() {
                self.stats.foca_errors += 1;
            }
        }
        self.drain(now_ms, unix_ms)
    }

    /// When the next timer is due.
    pub fn next_due_ms(&self) -> Option<u64> {
        self.timers.first_key_value().map(|((due, _), _)| *due)
    }

    /// Checks an envelope and returns the foca payload inside.
    fn open<'a>(&mut self, unix_ms: u64, datagram: &'a [u8]) -> Result<&'a [u8], Refusal> {
        let signed_len = datagram.len().checked_sub(SIGNATURE_BYTES).ok_or(Refusal::Malformed)?;
        let (signed, signature) = datagram.split_at(signed_len);
        let rest = signed.strip_prefix(MAGIC).ok_or(Refusal::Malformed)?;
        let (&id_len, rest) = rest.split_first().ok_or(Refusal::Malformed)?;
        let (cluster_id, rest) = rest.split_at_checked(id_len as usize).ok_or(Refusal::Malformed)?;
        if cluster_id != self.cluster_id.as_bytes() {
            return Err(Refusal::OtherCluster);
        }
        let (sender, rest) = rest.split_at_checked(32).ok_or(Refusal::Malformed)?;
        let sender: NodeId = sender.try_into().map_err(|_| Refusal::Malformed)?;
        if !self.allowed.contains(&sender) {
            return Err(Refusal::NotAllowed);
        }
        let (sent_ms, rest) = rest.split_at_checked(8).ok_or(Refusal::Malformed)?;
        let sent_ms = u64::from_be_bytes(sent_ms.try_into().map_err(|_| Refusal::Malformed)?);
        if sent_ms.abs_diff(unix_ms) > ENVELOPE_AGE_MS_MAX {
            return Err(Refusal::Stale);
        }
        let (number, payload) = rest.split_at_checked(8).ok_or(Refusal::Malformed)?;
        let number = u64::from_be_bytes(number.try_into().map_err(|_| Refusal::Malformed)?);
        let signature: [u8; 64] = signature.try_into().map_err(|_| Refusal::Malformed)?;
        if !verify(&sender, signed, &signature) {
            return Err(Refusal::BadSignature);
        }
        // Remembered only once authentic, so strangers cannot fill the memory.
        let oldest_kept = unix_ms.saturating_sub(2 * ENVELOPE_AGE_MS_MAX);
        while self.seen.first().is_some_and(|(sent, _, _)| *sent < oldest_kept) || self.seen.len() >= SEEN_MAX {
            self.seen.pop_first();
        }
        if !self.seen.insert((sent_ms, sender, number)) {
            return Err(Refusal::Replayed);
        }
        let header: foca::Header<Member> =
            PostcardCodec.decode_header(payload.chunk()).map_err(|_| Refusal::Malformed)?;
        if header.src.key != sender {
            return Err(Refusal::Impersonation);
        }
        Ok(payload)
    }

    /// Wraps a foca payload in a signed envelope.
    pub(crate) fn seal(&mut self, unix_ms: u64, payload: &[u8]) -> Vec<u8> {
        let mut datagram = Vec::with_capacity(4 + 1 + self.cluster_id.len() + 32 + 16 + payload.len() + 64);
        datagram.extend_from_slice(MAGIC);
        datagram.push(self.cluster_id.len() as u8);
        datagram.extend_from_slice(self.cluster_id.as_bytes());
        datagram.extend_from_slice(&self.key.public());
        datagram.extend_from_slice(&unix_ms.to_be_bytes());
        datagram.extend_from_slice(&self.next_number.to_be_bytes());
        self.next_number = self.next_number.wrapping_add(1);
        datagram.extend_from_slice(payload);
        let signature = self.key.sign(&datagram);
        datagram.extend_from_slice(&signature);
        datagram
    }

    /// Collects what foca asked for: datagrams (sealed), timers (kept), notifications.
    fn drain(&mut self, now_ms: u64, unix_ms: u64) -> Output {
        let mut output = Output::default();
        while let Some((to, payload)) = self.runtime.to_send() {
            output.datagrams.push((to.address.clone(), self.seal(unix_ms, &payload)));
        }
        while let Some((after, timer)) = self.runtime.to_schedule() {
            self.next_timer += 1;
            self.timers.insert((now_ms + duration_ms(after), self.next_timer), timer);
        }
        while let Some(notification) = self.runtime.to_notify() {
            let event = match notification {
                OwnedNotification::MemberUp(member) => {
                    self.stats.joins += 1;
                    MemberEvent::Up(member)
                }
                // A member came back under a newer identity (a restart, perhaps at another
                // address): for the caller, the same as coming up.
                OwnedNotification::Rename(_, member) => MemberEvent::Up(member),
                OwnedNotification::MemberDown(member) => {
                    self.stats.downs += 1;
                    MemberEvent::Down(member)
                }
                OwnedNotification::Rejoin(_) => {
                    self.stats.rejoins += 1;
                    MemberEvent::Rejoined
                }
                OwnedNotification::Idle => MemberEvent::Isolated,
                OwnedNotification::Active => MemberEvent::Active,
                _ => continue,
            };
            output.events.push(event);
        }
        let suspects: BTreeSet<NodeId> = self
            .foca
            .iter_membership_state()
            .filter(|member| member.state() == State::Suspect)
            .map(|member| member.id().key)
            .collect();
        for member in self.foca.iter_membership_state() {
            let key = member.id().key;
            if suspects.contains(&key) && !self.suspects.contains(&key) {
                self.stats.suspicions += 1;
                output.events.push(MemberEvent::Suspected(member.id().clone()));
            }
        }
        self.suspects = suspects;
        output
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Why datagrams were refused, as counted (`MembershipStats::datagrams_refused`).
pub const REFUSALS: [&str; 8] =
    ["malformed", "other_cluster", "not_allowed", "stale", "replayed", "bad_signature", "impersonation", "protocol"];

fn refusal_name(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::Malformed => "malformed",
        Refusal::OtherCluster => "other_cluster",
        Refusal::NotAllowed => "not_allowed",
        Refusal::Stale => "stale",
        Refusal::Replayed => "replayed",
        Refusal::BadSignature => "bad_signature",
        Refusal::Impersonation => "impersonation",
        Refusal::Protocol => "protocol",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Net {
        nodes: Vec<Membership>,
        now_ms: u64,
    }

    const UNIX_MS: u64 = 1_800_000_000_000;

    fn member(index: usize) -> (Member, NodeKey) {
        let key = NodeKey::from_secret([index as u8 + 1; 32]);
        (Member { key: key.public(), address: format!("node{index}"), bump: 1 }, key)
    }

    impl Net {
        fn new(count: usize) -> Net {
            let keys: Vec<NodeId> = (0..count).map(|index| member(index).0.key).collect();
            let nodes = (0..count)
                .map(|index| {
                    let (me, key) = member(index);
                    let allowed = keys.iter().copied().filter(|other| *other != me.key).collect();
                    Membership::new(me, key, "c".into(), allowed, index as u64)
                })
                .collect();
            Net { nodes, now_ms: 0 }
        }

        /// Delivers datagrams (instantly) until none are left; `cut` drops those to or from it.
        fn deliver(&mut self, mut queue: Vec<(String, Vec<u8>)>, cut: Option<usize>) {
            while let Some((to, datagram)) = queue.pop() {
                let index: usize = to.trim_start_matches("node").parse().unwrap();
                if Some(index) == cut {
                    continue;
                }
                if let Ok(output) = self.nodes[index].on_datagram(self.now_ms, UNIX_MS, &datagram) {
                    let sender = datagram[4 + 1 + 1..4 + 1 + 1 + 32].to_vec();
                    if cut.is_some_and(|cut| member(cut).0.key.to_vec() == sender) {
                        continue;
                    }
                    queue.extend(output.datagrams);
                }
            }
        }

        fn run(&mut self, milliseconds: u64, cut: Option<usize>) {
            for _ in 0..milliseconds / 50 {
                self.now_ms += 50;
                for index in 0..self.nodes.len() {
                    let output = self.nodes[index].tick(self.now_ms, UNIX_MS);
                    let datagrams = if Some(index) == cut { Vec::new() } else { output.datagrams };
                    self.deliver(datagrams, cut);
                }
            }
        }
    }

    #[test]
    fn a_new_address_reaches_the_members_as_the_same_key_renewed() {
        let mut net = Net::new(3);
        for index in [1, 2] {
            let output = net.nodes[index].announce(0, UNIX_MS, member(0).0);
            net.deliver(output.datagrams, None);
        }
        net.run(5_000, None);
        // Node 1 now advertises "node01" (routed to it all the same).
        let output = net.nodes[1].change_address(net.now_ms, UNIX_MS, "node01".into());
        net.deliver(output.datagrams, None);
        net.run(5_000, None);
        for index in [0, 2] {
            let seen: Vec<&Member> = net.nodes[index].members().filter(|member| member.key == member_key(1)).collect();
            assert_eq!(seen.len(), 1, "node {index} holds node 1 once");
            assert_eq!(seen[0].address, "node01", "node {index} has its new address");
            assert!(seen[0].bump > 1, "as a renewed identity");
        }
        // The same address again changes nothing.
        let before = net.nodes[1].stats.foca_errors;
        let _ = net.nodes[1].change_address(net.now_ms, UNIX_MS, "node01".into());
        assert_eq!(net.nodes[1].stats.foca_errors, before);
    }

    #[test]
    fn members_join_through_one_seed_and_a_silent_one_goes_down() {
        let mut net = Net::new(3);
        // 1 and 2 know only 0.
        for index in [1, 2] {
            let output = net.nodes[index].announce(0, UNIX_MS, member(0).0);
            net.deliver(output.datagrams, None);
        }
        net.run(5_000, None);
        for index in 0..3 {
            assert_eq!(net.nodes[index].members().count(), 2, "node {index} sees both others");
        }
        net.run(30_000, Some(2));
        assert!(net.nodes[0].members().all(|member| member.key != member_key(2)), "2 is down for 0");
        assert!(net.nodes[0].stats.downs >= 1);
        assert!(net.nodes[0].stats.suspicions >= 1, "suspected before declared down");
    }

    fn member_key(index: usize) -> NodeId {
        member(index).0.key
    }

    #[test]
    fn envelopes_are_checked_before_foca() {
        let mut net = Net::new(2);
        let output = net.nodes[1].announce(0, UNIX_MS, member(0).0);
        let datagram = output.datagrams[0].1.clone();
        assert!(net.nodes[0].on_datagram(0, UNIX_MS, &datagram).is_ok());
        // The same datagram again, at once or a while later within its window: a replay.
        assert_eq!(net.nodes[0].on_datagram(1, UNIX_MS + 1, &datagram).err(), Some(Refusal::Replayed));
        assert_eq!(net.nodes[0].on_datagram(2, UNIX_MS + 50_000, &datagram).err(), Some(Refusal::Replayed));
        assert_eq!(net.nodes[0].stats.datagrams_refused.get("replayed"), Some(&2));
        // The same payload sealed again is another datagram (its own number).
        let again = net.nodes[1].announce(3, UNIX_MS, member(0).0);
        assert!(net.nodes[0].on_datagram(3, UNIX_MS, &again.datagrams[0].1).is_ok());
        let mut tampered = datagram.clone();
        let last = tampered.len() - 70;
        tampered[last] ^= 1;
        assert_eq!(net.nodes[0].on_datagram(0, UNIX_MS, &tampered).err(), Some(Refusal::BadSignature));
        assert_eq!(net.nodes[0].on_datagram(0, UNIX_MS + 120_000, &datagram).err(), Some(Refusal::Stale));
        assert_eq!(net.nodes[0].on_datagram(0, UNIX_MS, &datagram[..20]).err(), Some(Refusal::Malformed));
        // A stranger (not allowed) and another cluster.
        let (stranger, stranger_key) = member(7);
        let mut outsider = Membership::new(stranger, stranger_key, "c".into(), vec![member_key(0)], 9);
        let output = outsider.announce(0, UNIX_MS, member(0).0);
        assert_eq!(net.nodes[0].on_datagram(0, UNIX_MS, &output.datagrams[0].1).err(), Some(Refusal::NotAllowed));
        let (other, other_key) = member(1);
        let mut foreign = Membership::new(other, other_key, "d".into(), vec![member_key(0)], 9);
        let output = foreign.announce(0, UNIX_MS, member(0).0);
        assert_eq!(net.nodes[0].on_datagram(0, UNIX_MS, &output.datagrams[0].1).err(), Some(Refusal::OtherCluster));
    }
}
