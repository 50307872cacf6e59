//! NIP-43 membership on a shard: the member set (folded from the relay's own 8000/8001
//! events: those in the store when first asked, then each one that fans out here, local or
//! replicated — a replicated batch fans out before its commit, so the store alone could miss
//! it), invite claims, and the relay-signed events a join or leave publishes.
//! `client::session` answers join (28934) and leave (28936) requests and enforces
//! `write_access = members`; `client::req` answers invite (28935) requests.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use parrhesia_engine::nip43::{self, Claims, Fold};
use parrhesia_engine::{Event, Keys, Pubkey};
use parrhesia_storage::Store;

pub struct Members {
    pub keys: Keys,
    claims: Claims,
    invite_ttl_seconds: u64,
    /// `write_access = members`: only members (and the relay itself) may publish.
    pub members_only: bool,
    /// The fold of the store's membership events (once loaded) and of every such event that
    /// fanned out here since.
    fold: RefCell<Option<Fold>>,
    /// Membership events that fanned out before the fold was loaded (folded in on load).
    early: RefCell<Vec<Event>>,
    /// The created_at of the last member list this shard signed: the next is later, so two
    /// changes within a second do not leave the older list standing (a replaceable event's
    /// tie goes to the lower id).
    last_list: Cell<u64>,
}

impl Members {
    pub fn new(keys: Keys, invite_ttl_seconds: u64, members_only: bool) -> Members {
        let claims = Claims::new(&keys);
        Members {
            keys,
            claims,
            invite_ttl_seconds,
            members_only,
            fold: RefCell::new(None),
            early: RefCell::default(),
            last_list: Cell::new(0),
        }
    }

    pub fn relay(&self) -> &Pubkey {
        self.keys.public_key()
    }

    /// The members now.
    pub fn current(&self, store: &Store) -> BTreeSet<Pubkey> {
        self.with_fold(store, Fold::members)
    }

    pub fn is_member(&self, store: &Store, pubkey: &Pubkey) -> bool {
        pubkey == self.relay() || self.with_fold(store, |fold| fold.is_member(pubkey))
    }

    /// Whether a join already used `claim` (an addition recorded it).
    pub fn spent(&self, store: &Store, claim: &str) -> bool {
        self.with_fold(store, |fold| fold.spent(claim))
    }

    /// An event fanned out here: one of the relay's membership changes is folded in.
    pub fn seen(&self, event: &Event) {
        let kind = event.kind();
        if (kind != nip43::MEMBER_ADDED && kind != nip43::MEMBER_REMOVED) || event.pubkey() != self.relay() {
            return;
        }
        match self.fold.borrow_mut().as_mut() {
            Some(fold) => fold.apply(self.relay(), event),
            None => self.early.borrow_mut().push(event.clone()),
        }
    }

    fn with_fold<T>(&self, store: &Store, read: impl FnOnce(&Fold) -> T) -> T {
        if self.fold.borrow().is_none() {
            let mut fold = self.load(store);
            for event in self.early.take() {
                fold.apply(self.relay(), &event);
            }
            *self.fold.borrow_mut() = Some(fold);
        }
        read(self.fold.borrow().as_ref().expect("loaded"))
    }

    /// The created_at of the member list the store holds, 0 if none.
    fn stored_list_at(&self, store: &Store) -> u64 {
        let filter = parrhesia_engine::Filter {
            authors: Some(vec![*self.relay()]),
            kinds: Some(vec![nip43::MEMBER_LIST]),
            ..parrhesia_engine::Filter::default()
        };
        let mut at = 0;
        let _ = store.export_ordered(&[filter], 0, u64::MAX, |json| {
            if let Some(list) = std::str::from_utf8(json).ok().and_then(Event::parse_trusted) {
                at = at.max(list.created_at());
            }
            Ok(())
        });
        at
    }

    fn load(&self, store: &Store) -> Fold {
        let filter = parrhesia_engine::Filter {
            authors: Some(vec![*self.relay()]),
            kinds: Some(vec![nip43::MEMBER_ADDED, nip43::MEMBER_REMOVED]),
            ..parrhesia_engine::Filter::default()
        };
        let mut fold = Fold::default();
        let read = store.export_ordered(&[filter], 0, u64::MAX, |json| {
            if let Some(event) = std::str::from_utf8(json).ok().and_then(Event::parse_trusted) {
                fold.apply(self.relay(), &event);
            }
            Ok(())
        });
        if let Err(error) = read {
            tracing::warn!(%error, "reading the relay's membership events failed; those that fan out from now on count");
        }
        fold
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
    /// removal, then the new member list. This shard folds the change in at once (the others
    /// when its events fan out to them).
    pub fn change(&self, store: &Store, member: &Pubkey, added: bool, claim: Option<&str>, now: u64) -> [Event; 2] {
        // Later than any list signed before, here or on another node (replicated): a
        // replaceable event's tie goes to the lower id, which could be the older list.
        let at = now.max(self.last_list.get().saturating_add(1)).max(self.stored_list_at(store).saturating_add(1));
        self.last_list.set(at);
        let change = nip43::member_change(&self.keys, member, added, claim, at);
        // The list from what this shard folded and what the store holds now: an addition
        // committed on another shard whose fan-out has not reached this one yet still counts.
        let mut fold = self.load(store);
        self.with_fold(store, |folded| fold.merge(folded));
        fold.apply(self.relay(), &change);
        let members = fold.members();
        self.seen(&change);
        let list = nip43::member_list(&self.keys, &members, at);
        [change, list]
    }
}
