//! Test support, not used by the relay: the contract every `LogStore` keeps, as test functions
//! generic over the store, so the simulator's in-memory store and the node's LMDB store are
//! held to the same promises (`cluster_simulation.rs` and `shard`'s `store_log.rs` run them).
//!
//! What the contract covers: a fresh store's own log; own events numbered in increasing
//! positions of the own log (or of their class's log), idempotent by id; bounded reads that
//! page through a log skipping and repeating nothing, by events and by bytes; batches stored
//! with their cursor, refused when they would leave a gap, never moving a cursor back; an
//! event held already recorded at its position in another log, an unknown one left a hole;
//! reads at positions; a restart's new epoch, with the old logs still served. Reads are only
//! of logs the store holds, from at most their head: that is all the replicator asks (see
//! `Replicator::serve`).
//!
//! Left out, because the two stores disagree (reported, not settled here): a read of a log the
//! store does not hold (the simulator answers `None`, as if the store failed; LMDB an empty
//! read ending at `from_seq`, and for this run's class logs before their first event an empty
//! read); a read from past a log's head (the simulator's `next_seq` is the head, behind
//! `from_seq`; LMDB's is `from_seq`); `events_max` 0 (the simulator panics); and the unit of
//! `bytes_max` (the simulator counts `WireEvent::wire_bytes`, LMDB the event's JSON: hence
//! `ContractStore::counted_bytes`). Holes left by removed events are not covered either: the
//! simulator never removes one.

use super::NodeId;
use super::frame::{LogHead, PositionId, WireEvent};
use super::replication::{ApplyBatch, LOG_CLASS_MASK, LogStore};

/// A `LogStore` with the writes the node makes, for the contract to set up what it reads.
pub trait ContractStore: LogStore {
    /// A new event, distinct for each `number`, of the class of kinds `class` (0: every kind
    /// without a log of its own; 1: a class with a log of its own), as replication carries it
    /// (`origin_seq` 0). Not stored.
    fn event(&mut self, number: u32, class: u8) -> WireEvent;
    /// Stores `event` as a client's on this node; whether it was new (idempotent by id).
    fn publish(&mut self, event: &WireEvent) -> bool;
    /// What the node's writer does with `batch`: its events, their positions and the log's
    /// cursor in one transaction; `false`, changing nothing, if it would leave a gap.
    fn apply(&mut self, batch: &ApplyBatch) -> bool;
    /// A process restart: this node's own logs continue under a new epoch.
    fn restart(&mut self);
    /// The bytes of `event` a read counts against its `bytes_max`.
    fn counted_bytes(&self, event: &WireEvent) -> usize;
}

/// A contract: its name and its check, run on a fresh store.
pub type Contract<S> = (&'static str, fn(&mut S));

/// Every contract, by name.
pub fn contracts<S: ContractStore>() -> [Contract<S>; 9] {
    [
        ("a fresh store holds its own empty log", a_fresh_store_holds_its_own_empty_log),
        ("own events are numbered in the own log, once each", own_events_are_numbered_once_each),
        ("a class of kinds has a log of its own", a_class_of_kinds_has_a_log_of_its_own),
        ("reads are bounded by events and skip nothing", reads_are_bounded_by_events_and_skip_nothing),
        ("reads are bounded by bytes, at least one event", reads_are_bounded_by_bytes),
        ("a batch is stored with its cursor, never a gap", a_batch_is_stored_with_its_cursor),
        ("an event held already is recorded in another log", a_held_event_is_recorded_in_another_log),
        ("reads at positions are bounded and say where they stopped", reads_at_positions),
        ("a restart begins a new epoch and keeps the old logs", a_restart_begins_a_new_epoch),
    ]
}

/// Runs every contract, each on a fresh store from `new_store`, naming it on stderr first.
pub fn check_all<S: ContractStore>(mut new_store: impl FnMut() -> S) {
    for (name, contract) in contracts::<S>() {
        eprintln!("store contract: {name}");
        contract(&mut new_store());
    }
}

/// A peer's node id and epoch, for batches of a log this node pulls.
const PEER: NodeId = [0xEE; 32];
const PEER_EPOCH: u64 = 0x5EED_0000_0000_0100;

fn at(event: &WireEvent, position: u64) -> WireEvent {
    WireEvent { origin_seq: position, ..event.clone() }
}

/// The whole of a log from `from_seq`, in one read.
fn read_all(store: &impl LogStore, origin: &NodeId, epoch: u64, from_seq: u64) -> (Vec<WireEvent>, u64) {
    let read = store.read(origin, epoch, from_seq, usize::MAX, usize::MAX).expect("read");
    (read.events, read.next_seq)
}

fn head(store: &impl LogStore, origin: &NodeId, epoch: u64) -> Option<LogHead> {
    store.heads().into_iter().find(|head| (head.origin, head.epoch) == (*origin, epoch))
}

/// Publishes `events`, each new.
fn publish_all<S: ContractStore>(store: &mut S, events: &[WireEvent]) {
    for event in events {
        assert!(store.publish(event), "a new event is stored");
    }
}

fn batch(from_seq: u64, next_seq: u64, events: Vec<WireEvent>, positions: Vec<PositionId>) -> ApplyBatch {
    ApplyBatch { origin: PEER, epoch: PEER_EPOCH, from_seq, next_seq, events, positions, origin_commit_unix_ms: 0 }
}

pub fn a_fresh_store_holds_its_own_empty_log<S: ContractStore>(store: &mut S) {
    let own = store.own_log();
    assert_eq!(own.next_seq, 1, "nothing of the own log yet");
    assert_eq!(own.epoch & LOG_CLASS_MASK, 0, "a run's epoch leaves the class byte 0");
    assert_eq!(store.heads(), vec![own], "the own log, and nothing else");
    assert_eq!(read_all(store, &own.origin, own.epoch, 1), (Vec::new(), 1));
    let unknown = store.event(1, 0);
    assert_eq!(store.holds(&[unknown.id]), Some(vec![false]));
}

pub fn own_events_are_numbered_once_each<S: ContractStore>(store: &mut S) {
    let events: Vec<WireEvent> = (1..=3).map(|number| store.event(number, 0)).collect();
    publish_all(store, &events);
    let own = store.own_log();
    let (read, next_seq) = read_all(store, &own.origin, own.epoch, 1);
    let ids: Vec<[u8; 32]> = read.iter().map(|event| event.id).collect();
    assert_eq!(ids, events.iter().map(|event| event.id).collect::<Vec<_>>(), "in the order published");
    assert!(read.windows(2).all(|pair| pair[0].origin_seq < pair[1].origin_seq), "increasing positions");
    assert!(read[0].origin_seq >= 1);
    for (stored, event) in read.iter().zip(&events) {
        assert_eq!(*stored, at(event, stored.origin_seq), "read back as published");
    }
    let last = read.last().expect("three events").origin_seq;
    assert_eq!((own.next_seq, next_seq), (last + 1, last + 1), "the own log's head follows its last event");
    assert_eq!(store.heads()[0], own, "the own current log comes first");
    // Published again: not stored again, nothing moves.
    assert!(!store.publish(&events[1]), "idempotent by id");
    assert_eq!(store.own_log(), own);
    assert_eq!(read_all(store, &own.origin, own.epoch, 1), (read, next_seq));
    let ids: Vec<[u8; 32]> = events.iter().map(|event| event.id).collect();
    assert_eq!(store.holds(&ids), Some(vec![true; 3]));
}

pub fn a_class_of_kinds_has_a_log_of_its_own<S: ContractStore>(store: &mut S) {
    let (plain, classed) = (store.event(1, 0), store.event(2, 1));
    publish_all(store, &[classed.clone(), plain.clone()]);
    let own = store.own_log();
    let class_epoch = own.epoch | 1;
    let (in_default, _) = read_all(store, &own.origin, own.epoch, 1);
    let (in_class, class_next) = read_all(store, &own.origin, class_epoch, 1);
    assert_eq!(in_default.iter().map(|event| event.id).collect::<Vec<_>>(), [plain.id]);
    assert_eq!(in_class.iter().map(|event| event.id).collect::<Vec<_>>(), [classed.id]);
    assert!(in_class[0].origin_seq < in_default[0].origin_seq, "one numbering, in the order stored");
    assert_eq!(class_next, in_class[0].origin_seq + 1);
    let class_head = head(store, &own.origin, class_epoch).expect("the class log is a log this node holds");
    assert_eq!(class_head.next_seq, class_next);
    assert_eq!(own.next_seq, in_default[0].origin_seq + 1, "the default log's head skips the class's events");
}

/// Own events with a hole between them (a pulled event took a position of the local
/// numbering), then paged through two at a time and one at a time.
pub fn reads_are_bounded_by_events_and_skip_nothing<S: ContractStore>(store: &mut S) {
    let events: Vec<WireEvent> = (1..=5).map(|number| store.event(number, 0)).collect();
    publish_all(store, &events[..2]);
    let pulled = store.event(100, 0);
    assert!(store.apply(&batch(1, 2, vec![at(&pulled, 1)], Vec::new())));
    publish_all(store, &events[2..]);
    let own = store.own_log();
    let (whole, head_seq) = read_all(store, &own.origin, own.epoch, 1);
    assert_eq!(
        whole.iter().map(|event| event.id).collect::<Vec<_>>(),
        events.iter().map(|event| event.id).collect::<Vec<_>>()
    );
    assert_eq!(head_seq, own.next_seq);
    for events_max in [1, 2, 3] {
        let (mut paged, mut from_seq) = (Vec::new(), 1);
        while from_seq < own.next_seq {
            let read = store.read(&own.origin, own.epoch, from_seq, events_max, usize::MAX).expect("read");
            assert!(!read.events.is_empty() && read.events.len() <= events_max, "{events_max} at most, one at least");
            assert!(read.next_seq > read.events.last().expect("one").origin_seq, "past what it returned");
            from_seq = read.next_seq;
            paged.extend(read.events);
        }
        assert_eq!(paged, whole, "pages of {events_max}: every event once, in order");
        assert_eq!(from_seq, own.next_seq, "the last page ends at the head");
        let ids = store.read_ids(&own.origin, own.epoch, 1, events_max).expect("read ids");
        let first: Vec<PositionId> = whole
            .iter()
            .take(events_max)
            .map(|event| PositionId { position: event.origin_seq, id: event.id })
            .collect();
        assert_eq!(ids.ids, first, "ids as the events are read");
        let read = store.read(&own.origin, own.epoch, 1, events_max, usize::MAX).expect("read");
        assert_eq!(ids.next_seq, read.next_seq, "and stop where they stop");
    }
}

pub fn reads_are_bounded_by_bytes<S: ContractStore>(store: &mut S) {
    let events: Vec<WireEvent> = (1..=3).map(|number| store.event(number, 0)).collect();
    publish_all(store, &events);
    let own = store.own_log();
    let bytes: Vec<usize> = events.iter().map(|event| store.counted_bytes(event)).collect();
    // Events are taken while the bytes taken are below `bytes_max`, and at least one.
    for (bytes_max, count) in [(1, 1), (bytes[0], 1), (bytes[0] + 1, 2), (bytes[0] + bytes[1], 2), (usize::MAX, 3)] {
        let read = store.read(&own.origin, own.epoch, 1, usize::MAX, bytes_max).expect("read");
        assert_eq!(read.events.len(), count, "bytes_max {bytes_max}, events of {bytes:?} bytes");
        let (rest, _) = read_all(store, &own.origin, own.epoch, read.next_seq);
        assert_eq!(read.events.len() + rest.len(), events.len(), "read on from next_seq, nothing is skipped");
    }
}

pub fn a_batch_is_stored_with_its_cursor<S: ContractStore>(store: &mut S) {
    let events: Vec<WireEvent> = (1..=4).map(|number| store.event(number, 0)).collect();
    // Positions 1 and 3 (2 is a hole: removed at its origin), held up to 4.
    assert!(store.apply(&batch(1, 4, vec![at(&events[0], 1), at(&events[1], 3)], Vec::new())));
    assert_eq!(head(store, &PEER, PEER_EPOCH).map(|head| head.next_seq), Some(4), "the cursor moved with it");
    assert_eq!(read_all(store, &PEER, PEER_EPOCH, 1), (vec![at(&events[0], 1), at(&events[1], 3)], 4));
    assert_eq!(read_all(store, &PEER, PEER_EPOCH, 2), (vec![at(&events[1], 3)], 4));
    // From 5, past the cursor: a gap, refused, nothing changed.
    assert!(!store.apply(&batch(5, 6, vec![at(&events[2], 5)], Vec::new())), "a gap is refused");
    assert_eq!(store.holds(&[events[2].id]), Some(vec![false]));
    assert_eq!(head(store, &PEER, PEER_EPOCH).map(|head| head.next_seq), Some(4));
    assert!(store.apply(&batch(4, 6, vec![at(&events[2], 5)], Vec::new())));
    // A batch behind the cursor (sent again): stored again changes nothing, the cursor stays.
    assert!(store.apply(&batch(1, 4, vec![at(&events[0], 1), at(&events[1], 3)], Vec::new())));
    let expected = vec![at(&events[0], 1), at(&events[1], 3), at(&events[2], 5)];
    assert_eq!(read_all(store, &PEER, PEER_EPOCH, 1), (expected, 6), "each once, the cursor never back");
    let ids: Vec<[u8; 32]> = events.iter().map(|event| event.id).collect();
    assert_eq!(store.holds(&ids), Some(vec![true, true, true, false]), "in the order asked");
    assert_eq!(store.own_log().next_seq, 1, "pulled events are not the node's own");
}

pub fn a_held_event_is_recorded_in_another_log<S: ContractStore>(store: &mut S) {
    let (own_event, unknown) = (store.event(1, 0), store.event(2, 0));
    assert!(store.publish(&own_event));
    let own = store.own_log();
    let (own_read, _) = read_all(store, &own.origin, own.epoch, 1);
    // Pulled whole from a peer's log: stored once, at both positions.
    assert!(store.apply(&batch(1, 3, vec![at(&own_event, 2)], Vec::new())));
    assert_eq!(read_all(store, &PEER, PEER_EPOCH, 1), (vec![at(&own_event, 2)], 3));
    assert_eq!(read_all(store, &own.origin, own.epoch, 1).0, own_read, "still in the own log, once");
    assert_eq!(store.own_log(), own);
    // Named by position only: recorded if held, a hole if not.
    let positions = vec![PositionId { position: 3, id: own_event.id }, PositionId { position: 4, id: unknown.id }];
    assert!(store.apply(&batch(3, 5, Vec::new(), positions)));
    assert_eq!(read_all(store, &PEER, PEER_EPOCH, 1), (vec![at(&own_event, 2), at(&own_event, 3)], 5));
    assert_eq!(store.holds(&[own_event.id, unknown.id]), Some(vec![true, false]));
}

pub fn reads_at_positions<S: ContractStore>(store: &mut S) {
    let events: Vec<WireEvent> = (1..=3).map(|number| store.event(number, 0)).collect();
    let stored = vec![at(&events[0], 1), at(&events[1], 3), at(&events[2], 4)];
    assert!(store.apply(&batch(1, 5, stored.clone(), Vec::new())));
    let read_at = |positions: &[u64], events_max, bytes_max| {
        let read = store.read_at(&PEER, PEER_EPOCH, positions, events_max, bytes_max).expect("read at");
        (read.events, read.next_seq)
    };
    assert_eq!(read_at(&[1, 2, 3, 4], 10, usize::MAX), (stored.clone(), 5), "a hole is looked at and skipped");
    assert_eq!(read_at(&[1, 2, 3, 4], 2, usize::MAX), (stored[..2].to_vec(), 4), "stopped at 4, not looked at");
    assert_eq!(read_at(&[3, 4], 10, 1), (stored[1..2].to_vec(), 4), "bytes: at least one");
    assert_eq!(read_at(&[2], 10, usize::MAX), (Vec::new(), 3));
}

pub fn a_restart_begins_a_new_epoch<S: ContractStore>(store: &mut S) {
    let (plain, classed, later) = (store.event(1, 0), store.event(2, 1), store.event(3, 0));
    publish_all(store, &[plain.clone(), classed.clone()]);
    let before = store.own_log();
    let (old_default, old_class) =
        (read_all(store, &before.origin, before.epoch, 1), read_all(store, &before.origin, before.epoch | 1, 1));
    store.restart();
    let own = store.own_log();
    assert_ne!(own.epoch, before.epoch, "a new epoch");
    assert_eq!((own.origin, own.next_seq, own.epoch & LOG_CLASS_MASK), (before.origin, 1, 0));
    assert_eq!(store.heads()[0], own, "the new own log comes first");
    assert_eq!(head(store, &before.origin, before.epoch), Some(before), "the old log is still held, as far");
    assert_eq!(head(store, &before.origin, before.epoch | 1).map(|head| head.next_seq), Some(old_class.1));
    assert!(store.publish(&later));
    assert_eq!(
        read_all(store, &own.origin, own.epoch, 1).0.iter().map(|event| event.id).collect::<Vec<_>>(),
        [later.id]
    );
    assert_eq!(read_all(store, &before.origin, before.epoch, 1), old_default, "the old logs are served as they were");
    assert_eq!(read_all(store, &before.origin, before.epoch | 1, 1), old_class);
    assert!(!store.publish(&plain), "what an earlier run stored is held");
}
