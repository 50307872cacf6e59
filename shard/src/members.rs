//! NIP-43 membership on a shard: the member set (folded from the relay's own 8000/8001
//! events in the store, cached, reloaded after any such event fans out here, local or
//! replicated), invite claims, and the relay-signed events a join or leave publishes.
//! `client::session` answers join (28934) and leave (28936) requests and enforces
//! `write_access = members`; `client::req` answers invite (28935) requests.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use parrhesia_engine::nip43::{self, Claims};
use parrhesia_engine::{Event, Keys, Pubkey};
use parrhesia_storage::Store;

pub struct Members {
    pub keys: Keys,
    claims: Claims,
    invite_ttl_seconds: u64,
    /// `write_access = members`: only members (and the relay itself) may publish.
    pub members_only: bool,
    /// The members and the spent claims; `None` until loaded, and again after a change fans
    /// out.
    set: RefCell<Option<(BTreeSet<Pubkey>, BTreeSet<String>)>>,
    /// The created_at of the last member list this shard signed: the next is later, so two
    /// changes within a second do not leave the older list standing (a replaceable event's
    /// tie goes to the lower id).
    last_list: Cell<u64>,
}

impl Members {
    pub fn new(keys: Keys, invite_ttl_seconds: u64, members_only: bool) -> Members {
        let claims = Claims::new(&keys);
        Members { keys, claims, invite_ttl_seconds, members_only, set: RefCell::new(None), last_list: Cell::new(0) }
    }

    pub fn relay(&self) -> &Pubkey {
        self.keys.public_key()
    }

    /// The members now (loaded from the store if the cache was dropped).
    pub fn current(&self, store: &Store) -> BTreeSet<Pubkey> {
        self.loaded(store).0
    }

    /// Whether a join already used `claim` (an addition recorded it).
    pub fn spent(&self, store: &Store, claim: &str) -> bool {
        self.loaded(store).1.contains(claim)
    }

    fn loaded(&self, store: &Store) -> (BTreeSet<Pubkey>, BTreeSet<String>) {
        if let Some(loaded) = self.set.borrow().as_ref() {
            return loaded.clone();
        }
        let loaded = self.load(store);
        *self.set.borrow_mut() = Some(loaded.clone());
        loaded
    }

    pub fn is_member(&self, store: &Store, pubkey: &Pubkey) -> bool {
        pubkey == self.relay() || self.current(store).contains(pubkey)
    }

    /// An event fanned out here: one of the relay's membership changes drops the cache.
    pub fn seen(&self, event: &Event) {
        let kind = event.kind();
        if (kind == nip43::MEMBER_ADDED || kind == nip43::MEMBER_REMOVED) && event.pubkey() == self.relay() {
            self.set.replace(None);
        }
    }

    fn load(&self, store: &Store) -> (BTreeSet<Pubkey>, BTreeSet<String>) {
        let filter = parrhesia_engine::Filter {
            authors: Some(vec![*self.relay()]),
            kinds: Some(vec![nip43::MEMBER_ADDED, nip43::MEMBER_REMOVED]),
            ..parrhesia_engine::Filter::default()
        };
        let mut events = Vec::new();
        let read = store.export_ordered(&[filter], 0, u64::MAX, |json| {
            if let Some(event) = std::str::from_utf8(json).ok().and_then(Event::parse_trusted) {
                events.push(event);
            }
            Ok(())
        });
        if let Err(error) = read {
            tracing::warn!(%error, "reading the relay's membership events failed; no members until the next change");
        }
        (nip43::members(self.relay(), &events), nip43::spent_claims(self.relay(), &events))
    }

    /// A fresh invite (kind 28935) with a claim good for `invite_ttl_seconds`.
    pub fn invite(&self, now: u64) -> Event {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).expect("the system's random source works");
        nip43::invite(&self.keys, &self.claims.issue(now + self.invite_ttl_seconds, nonce), now)
    }

    pub fn check_claim(&self, claim: &str, now: u64) -> Result<(), &'static str> {
        self.claims.check(claim, now)
    }

    /// The events a change publishes: the addition (with the claim it spends, if any) or
    /// removal, then the new member list. This shard takes the change at once (the others when
    /// its events fan out to them).
    pub fn change(&self, store: &Store, member: &Pubkey, added: bool, claim: Option<&str>, now: u64) -> [Event; 2] {
        let (mut set, mut spent) = self.loaded(store);
        if added {
            set.insert(*member);
        } else {
            set.remove(member);
        }
        spent.extend(claim.map(str::to_string));
        let at = now.max(self.last_list.get() + 1);
        self.last_list.set(at);
        let change = nip43::member_change(&self.keys, member, added, claim, at);
        let events = [change, nip43::member_list(&self.keys, &set, at)];
        *self.set.borrow_mut() = Some((set, spent));
        events
    }
}
