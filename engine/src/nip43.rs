//! NIP-43 relay membership, without I/O: the member set as the relay's own add (8000) and
//! remove (8001) events fold it, the events the relay signs (13534 member list, 8000, 8001,
//! 28935 invite), invite claims, and the checks on a user's join (28934) and leave (28936)
//! requests. The shard drives it (`shard/src/client/members.rs`).

use std::collections::{BTreeMap, BTreeSet};

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::event::{Event, Keys, Pubkey};

pub const MEMBER_LIST: u16 = 13534;
pub const MEMBER_ADDED: u16 = 8000;
pub const MEMBER_REMOVED: u16 = 8001;
pub const JOIN_REQUEST: u16 = 28934;
pub const INVITE: u16 = 28935;
pub const LEAVE_REQUEST: u16 = 28936;

/// How far a join or leave request's created_at may be from now, in seconds.
pub const REQUEST_AGE_MAX: u64 = 300;

/// The members as the relay's 8000/8001 events say: for each pubkey, its latest event wins
/// (by created_at; a removal wins a tie), whatever order the events come in. And the invite
/// claims the additions spent. Events by other authors are ignored.
#[derive(Clone, Debug, Default)]
pub struct Fold {
    latest: BTreeMap<Pubkey, (u64, bool)>,
    spent: BTreeSet<String>,
}

impl Fold {
    pub fn apply(&mut self, relay: &Pubkey, event: &Event) {
        if event.pubkey() != relay {
            return;
        }
        let added = match event.kind() {
            MEMBER_ADDED => true,
            MEMBER_REMOVED => false,
            _ => return,
        };
        if added {
            self.spent.extend(event.tag_values("claim").map(str::to_string));
        }
        for member in event.tag_values("p").filter_map(crate::hex::decode_array::<32>) {
            let entry = self.latest.entry(member).or_insert((event.created_at(), added));
            if (event.created_at(), !added) > (entry.0, !entry.1) {
                *entry = (event.created_at(), added);
            }
        }
    }

    /// Takes in what another fold saw (as if its events had been applied here).
    pub fn merge(&mut self, other: &Fold) {
        self.spent.extend(other.spent.iter().cloned());
        for (member, &(created_at, added)) in &other.latest {
            let entry = self.latest.entry(*member).or_insert((created_at, added));
            if (created_at, !added) > (entry.0, !entry.1) {
                *entry = (created_at, added);
            }
        }
    }

    pub fn members(&self) -> BTreeSet<Pubkey> {
        self.latest.iter().filter(|(_, (_, added))| *added).map(|(member, _)| *member).collect()
    }

    pub fn is_member(&self, pubkey: &Pubkey) -> bool {
        self.latest.get(pubkey).is_some_and(|(_, added)| *added)
    }

    /// Whether an addition recorded `claim` as used.
    pub fn spent(&self, claim: &str) -> bool {
        self.spent.contains(claim)
    }
}

/// The members `events` fold to (see `Fold`).
pub fn members<'a>(relay: &Pubkey, events: impl IntoIterator<Item = &'a Event>) -> BTreeSet<Pubkey> {
    let mut fold = Fold::default();
    for event in events {
        fold.apply(relay, event);
    }
    fold.members()
}

/// Signs the relay's events: the list, an addition, a removal, an invite.
pub fn member_list(relay: &Keys, members: &BTreeSet<Pubkey>, now: u64) -> Event {
    let mut tags = vec![vec!["-".to_string()]];
    tags.extend(members.iter().map(|member| vec!["member".to_string(), crate::hex::encode(member)]));
    relay.sign(now, MEMBER_LIST, tags, String::new())
}

/// An addition (with the invite `claim` it used, which marks the claim spent on every node
/// that holds the event) or a removal.
pub fn member_change(relay: &Keys, member: &Pubkey, added: bool, claim: Option<&str>, now: u64) -> Event {
    let kind = if added { MEMBER_ADDED } else { MEMBER_REMOVED };
    let mut tags = vec![vec!["-".to_string()], vec!["p".to_string(), crate::hex::encode(member)]];
    if let Some(claim) = claim {
        tags.push(vec!["claim".to_string(), claim.to_string()]);
    }
    relay.sign(now, kind, tags, String::new())
}

pub fn invite(relay: &Keys, claim: &str, now: u64) -> Event {
    relay.sign(now, INVITE, vec![vec!["claim".to_string(), claim.to_string()]], String::new())
}

/// Invite claims: `hex(expires_at (8 bytes) || nonce (8) || HMAC-SHA-256(key, both)[..16])`,
/// the key derived from the relay key. Any node holding the relay key checks any node's
/// claims; a claim is good until it expires, once (`spent_claims`).
pub struct Claims {
    key: [u8; 32],
}

impl Claims {
    pub fn new(relay: &Keys) -> Claims {
        let mut hasher = Sha256::new();
        hasher.update(b"parrhesia nip-43 invite claims\0");
        hasher.update(relay.secret_bytes());
        Claims { key: hasher.finalize().into() }
    }

    fn mac(&self, body: &[u8; 16]) -> hmac::Hmac<Sha256> {
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(body);
        mac
    }

    pub fn issue(&self, expires_at: u64, nonce: [u8; 8]) -> String {
        let mut body = [0u8; 16];
        body[..8].copy_from_slice(&expires_at.to_be_bytes());
        body[8..].copy_from_slice(&nonce);
        let tag = self.mac(&body).finalize().into_bytes();
        let mut claim = body.to_vec();
        claim.extend_from_slice(&tag[..16]);
        crate::hex::encode(&claim)
    }

    /// Whether `claim` is one of ours and unexpired at `now`; the reason (for `restricted:`)
    /// if not.
    pub fn check(&self, claim: &str, now: u64) -> Result<(), &'static str> {
        let bytes = crate::hex::decode_array::<32>(claim).ok_or("That is an invalid invite code.")?;
        let body: [u8; 16] = bytes[..16].try_into().expect("16 bytes");
        self.mac(&body).verify_truncated_left(&bytes[16..]).map_err(|_| "That is an invalid invite code.")?;
        let expires_at = u64::from_be_bytes(body[..8].try_into().expect("8 bytes"));
        if now > expires_at {
            return Err("That invite code is expired.");
        }
        Ok(())
    }
}

/// A join or leave request's created_at is within `REQUEST_AGE_MAX` of now.
pub fn recent(request: &Event, now: u64) -> bool {
    request.created_at().abs_diff(now) <= REQUEST_AGE_MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(seed: u8) -> Keys {
        Keys::from_secret_bytes([seed; 32]).unwrap()
    }

    #[test]
    fn the_latest_add_or_remove_of_each_member_decides_and_only_the_relays_count() {
        let relay = keys(1);
        let (alice, bob) = (*keys(2).public_key(), *keys(3).public_key());
        let events = [
            member_change(&relay, &alice, true, None, 10),
            member_change(&relay, &bob, true, None, 10),
            member_change(&relay, &alice, false, None, 20),
            member_change(&relay, &alice, true, None, 15), // older than the removal: the removal wins
            member_change(&relay, &bob, false, None, 10),  // a tie: the removal wins
            member_change(&keys(9), &alice, true, Some("x"), 30), // not the relay's
        ];
        assert!(members(relay.public_key(), &events).is_empty());
        let rejoined = member_change(&relay, &alice, true, Some("abc"), 25);
        assert_eq!(members(relay.public_key(), events.iter().chain([&rejoined])), BTreeSet::from([alice]));
        let mut fold = Fold::default();
        for event in events.iter().chain([&rejoined]) {
            fold.apply(relay.public_key(), event);
        }
        assert!(fold.spent("abc") && !fold.spent("x"), "only the relay's additions spend claims");
        assert!(fold.is_member(&alice) && !fold.is_member(&bob));
    }

    #[test]
    fn claims_check_their_mac_and_their_expiry() {
        let claims = Claims::new(&keys(1));
        let claim = claims.issue(1000, [7; 8]);
        assert_eq!(claim.len(), 64);
        assert_eq!(claims.check(&claim, 999), Ok(()));
        assert_eq!(claims.check(&claim, 1000), Ok(()));
        assert_eq!(claims.check(&claim, 1001), Err("That invite code is expired."));
        assert_eq!(Claims::new(&keys(2)).check(&claim, 999), Err("That is an invalid invite code."), "another relay's");
        let mut forged = claim.clone().into_bytes();
        forged[1] = if forged[1] == b'0' { b'1' } else { b'0' }; // a later expiry, same mac
        assert_eq!(claims.check(std::str::from_utf8(&forged).unwrap(), 999), Err("That is an invalid invite code."));
        assert_eq!(claims.check("zz", 0), Err("That is an invalid invite code."));
    }

    #[test]
    fn the_relays_events_carry_the_nip70_tag_and_their_members() {
        let relay = keys(1);
        let alice = *keys(2).public_key();
        let list = member_list(&relay, &BTreeSet::from([alice]), 5);
        assert_eq!((list.kind(), list.pubkey()), (MEMBER_LIST, relay.public_key()));
        assert_eq!(list.tags()[0], vec!["-".to_string()]);
        assert_eq!(list.tag_values("member").collect::<Vec<_>>(), vec![crate::hex::encode(&alice)]);
        assert!(list.verify_signature().is_ok());
        let invite = invite(&relay, "abc", 5);
        assert_eq!(invite.tag_values("claim").collect::<Vec<_>>(), vec!["abc"]);
    }
}
