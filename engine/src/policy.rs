//! An operator's standing decisions (NIP-86): banned pubkeys and events, an allow-list of
//! pubkeys and of kinds (when non-empty, only those may write), blocked IPs, and the relay's
//! name, description and icon. `Policy` is the state and its checks; `Change` is one decision,
//! what storage persists and the writer hands to every shard.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::event::{Event, Id, Pubkey};
use crate::reason::{Prefix, Reason};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// pubkey -> reason
    pub banned_pubkeys: BTreeMap<Pubkey, String>,
    /// When non-empty, only these pubkeys may publish (a personal or community relay).
    pub allowed_pubkeys: BTreeMap<Pubkey, String>,
    pub banned_events: BTreeMap<Id, String>,
    /// When non-empty, only events of these kinds are accepted.
    pub allowed_kinds: BTreeSet<u16>,
    pub blocked_ips: BTreeMap<IpAddr, String>,
    /// Set through NIP-86; they override the configured NIP-11 fields.
    pub relay_name: Option<String>,
    pub relay_description: Option<String>,
    pub relay_icon: Option<String>,
}

/// One decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    BanPubkey(Pubkey, String),
    UnbanPubkey(Pubkey),
    AllowPubkey(Pubkey, String),
    UnallowPubkey(Pubkey),
    /// The event is refused from now on (and removed from the store).
    BanEvent(Id, String),
    /// Lifts a ban.
    AllowEvent(Id),
    AllowKind(u16),
    DisallowKind(u16),
    BlockIp(IpAddr, String),
    UnblockIp(IpAddr),
    RelayName(String),
    RelayDescription(String),
    RelayIcon(String),
}

impl Policy {
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::BanPubkey(pubkey, reason) => {
                self.banned_pubkeys.insert(*pubkey, reason.clone());
            }
            Change::UnbanPubkey(pubkey) => {
                self.banned_pubkeys.remove(pubkey);
            }
            Change::AllowPubkey(pubkey, reason) => {
                self.allowed_pubkeys.insert(*pubkey, reason.clone());
            }
            Change::UnallowPubkey(pubkey) => {
                self.allowed_pubkeys.remove(pubkey);
            }
            Change::BanEvent(id, reason) => {
                self.banned_events.insert(*id, reason.clone());
            }
            Change::AllowEvent(id) => {
                self.banned_events.remove(id);
            }
            Change::AllowKind(kind) => {
                self.allowed_kinds.insert(*kind);
            }
            Change::DisallowKind(kind) => {
                self.allowed_kinds.remove(kind);
            }
            Change::BlockIp(ip, reason) => {
                self.blocked_ips.insert(ip_key(*ip), reason.clone());
            }
            Change::UnblockIp(ip) => {
                self.blocked_ips.remove(&ip_key(*ip));
            }
            Change::RelayName(name) => self.relay_name = Some(name.clone()),
            Change::RelayDescription(description) => self.relay_description = Some(description.clone()),
            Change::RelayIcon(icon) => self.relay_icon = Some(icon.clone()),
        }
    }

    /// Whether `event` may be published here: `blocked:` with the reason if not.
    pub fn check_event(&self, event: &Event) -> Result<(), Reason> {
        let with_reason = |what: &str, reason: &str| {
            let detail = if reason.is_empty() { what.to_string() } else { format!("{what}: {reason}") };
            Err(Reason::new(Prefix::Blocked, detail))
        };
        if let Some(reason) = self.banned_pubkeys.get(event.pubkey()) {
            return with_reason("this pubkey is banned here", reason);
        }
        if !self.allowed_pubkeys.is_empty() && !self.allowed_pubkeys.contains_key(event.pubkey()) {
            return with_reason("only allowed pubkeys may publish here", "");
        }
        if let Some(reason) = self.banned_events.get(event.id()) {
            return with_reason("this event is banned here", reason);
        }
        if !self.allowed_kinds.is_empty() && !self.allowed_kinds.contains(&event.kind()) {
            return with_reason(&format!("kind {} is not accepted here", event.kind()), "");
        }
        Ok(())
    }

    /// The reason an address is blocked, if it is. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn ip_blocked(&self, ip: IpAddr) -> Option<&str> {
        self.blocked_ips.get(&ip_key(ip)).map(String::as_str)
    }
}

/// An address as the policy keys it: an IPv4-mapped IPv6 address is its IPv4 address.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Keys;

    #[test]
    fn each_decision_refuses_with_blocked_and_can_be_lifted() {
        let (alice, bob) =
            (Keys::from_secret_bytes([1; 32]).expect("secret"), Keys::from_secret_bytes([2; 32]).expect("secret"));
        let note = alice.sign(1, 1, vec![], "hi".into());
        let bobs = bob.sign(1, 7, vec![], "+".into());
        let mut policy = Policy::default();
        assert_eq!(policy.check_event(&note), Ok(()));
        let cases: Vec<(Change, &Event, Option<&str>, Change)> = vec![
            (
                Change::BanPubkey(*alice.public_key(), "spam".into()),
                &note,
                Some("blocked: this pubkey is banned here: spam"),
                Change::UnbanPubkey(*alice.public_key()),
            ),
            (
                Change::AllowPubkey(*bob.public_key(), String::new()),
                &note,
                Some("blocked: only allowed pubkeys may publish here"),
                Change::UnallowPubkey(*bob.public_key()),
            ),
            (
                Change::BanEvent(*note.id(), "illegal".into()),
                &note,
                Some("blocked: this event is banned here: illegal"),
                Change::AllowEvent(*note.id()),
            ),
            (Change::AllowKind(7), &note, Some("blocked: kind 1 is not accepted here"), Change::DisallowKind(7)),
            (Change::AllowKind(7), &bobs, None, Change::DisallowKind(7)),
            (
                Change::AllowPubkey(*bob.public_key(), String::new()),
                &bobs,
                None,
                Change::UnallowPubkey(*bob.public_key()),
            ),
        ];
        for (change, event, refusal, lift) in cases {
            policy.apply(&change);
            let got = policy.check_event(event).err().map(|reason| reason.to_string());
            assert_eq!(got.as_deref(), refusal, "{change:?}");
            policy.apply(&lift);
            assert_eq!(policy, Policy::default(), "{lift:?} lifts {change:?}");
        }
    }

    #[test]
    fn blocked_ips_match_mapped_addresses() {
        let mut policy = Policy::default();
        policy.apply(&Change::BlockIp("192.0.2.7".parse().unwrap(), "abuse".into()));
        assert_eq!(policy.ip_blocked("192.0.2.7".parse().unwrap()), Some("abuse"));
        assert_eq!(policy.ip_blocked("::ffff:192.0.2.7".parse().unwrap()), Some("abuse"));
        assert_eq!(policy.ip_blocked("192.0.2.8".parse().unwrap()), None);
        policy.apply(&Change::UnblockIp("::ffff:192.0.2.7".parse().unwrap()));
        assert_eq!(policy.ip_blocked("192.0.2.7".parse().unwrap()), None);
    }
}
