//! Replicated events are fanned out before this node's commit makes them durable (their
//! origin made them durable already): a shard keeps them until a later commit says they are,
//! because a REQ whose scan started before that commit cannot read them from the store yet,
//! and it remembers events whose commit failed after they were fanned out (they are pulled
//! again, and subscriptions that were live then must not get them twice).

use std::collections::{HashMap, VecDeque};

use parrhesia_engine::{Event, Id};

/// Events taken back remembered at most (oldest forgotten first).
const TAKEN_BACK_MAX: usize = 65_536;

/// An event fanned out before its commit, which then failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TakenBack {
    /// The shard's clock when it learned of the failure.
    pub clock: u64,
    /// The sequence number the event was fanned out under.
    pub seq: u64,
}

impl TakenBack {
    /// Whether a subscription that went live at `since` after a scan up to `snapshot_seq` was
    /// sent the event: it was live (or caught up from the shard's copies) before the failure,
    /// and its scan did not reach past the event's number (a scan that did went live above it
    /// and skipped it, as a stored event it then was not).
    pub fn reached(&self, since: u64, snapshot_seq: u64) -> bool {
        since < self.clock && snapshot_seq < self.seq
    }
}

#[derive(Debug, Default)]
pub struct Undurable {
    /// Every fanned-out event with a sequence number above `durable_seq`, in order.
    events: VecDeque<(u64, Event)>,
    durable_seq: u64,
    /// Counts the writer's messages this shard has handled; a subscription records it when
    /// it goes live.
    clock: u64,
    /// Fanned-out events whose commit failed: the clock when the shard learned it, and the
    /// sequence number they were fanned out under.
    taken_back: HashMap<Id, TakenBack>,
    taken_back_order: VecDeque<Id>,
}

impl Undurable {
    pub fn new(durable_seq: u64) -> Undurable {
        Undurable { durable_seq, ..Undurable::default() }
    }

    /// A message from the writer arrives: the clock moves.
    pub fn tick(&mut self) {
        self.clock += 1;
    }

    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Every event with a sequence number up to here is durable in the store.
    pub fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    /// `events` were fanned out; everything up to `durable_through` is durable.
    pub fn fanned_out(&mut self, events: &[(u64, Event)], durable_through: u64) {
        self.durable_seq = self.durable_seq.max(durable_through);
        let durable = self.durable_seq;
        self.events.extend(events.iter().filter(|(seq, _)| *seq > durable).cloned());
        while self.events.front().is_some_and(|(seq, _)| *seq <= durable) {
            self.events.pop_front();
        }
    }

    /// The commit of these fanned-out events failed: they are not in the store.
    pub fn take_back(&mut self, ids: &[Id]) {
        let clock = self.clock;
        let mut taken = Vec::new();
        self.events.retain(|(seq, event)| {
            let back = ids.contains(event.id());
            if back {
                taken.push((*event.id(), TakenBack { clock, seq: *seq }));
            }
            !back
        });
        for (id, taken_back) in taken {
            if self.taken_back.insert(id, taken_back).is_none() {
                self.taken_back_order.push_back(id);
            }
        }
        while self.taken_back_order.len() > TAKEN_BACK_MAX {
            let oldest = self.taken_back_order.pop_front().expect("longer than the bound");
            self.taken_back.remove(&oldest);
        }
    }

    /// If `id` was taken back: when, and under which number it had been fanned out (see
    /// `TakenBack::reached`); forgotten from now on (it is being fanned out again).
    pub fn fanned_out_before(&mut self, id: &Id) -> Option<TakenBack> {
        let taken_back = self.taken_back.remove(id)?;
        self.taken_back_order.retain(|taken| taken != id);
        Some(taken_back)
    }

    /// The events not yet durable with a sequence number in `(after, through]`, in order.
    pub fn between(&self, after: u64, through: u64) -> impl Iterator<Item = &(u64, Event)> {
        self.events.iter().filter(move |(seq, _)| *seq > after && *seq <= through)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(seqs: &[u64]) -> Vec<(u64, Event)> {
        let keys = parrhesia_engine::Keys::from_secret_bytes([7; 32]).unwrap();
        seqs.iter().map(|&seq| (seq, keys.sign(1_700_000_000, 1, vec![], format!("event {seq}")))).collect()
    }

    #[test]
    fn keeps_what_is_not_durable_and_remembers_what_was_taken_back() {
        let mut undurable = Undurable::new(2);
        // A replicated batch fanned out before its commit (durable through 2 so far).
        let batch = events(&[3, 4]);
        undurable.tick();
        undurable.fanned_out(&batch, 2);
        let seqs = |undurable: &Undurable, after, through| {
            undurable.between(after, through).map(|(seq, _)| *seq).collect::<Vec<_>>()
        };
        assert_eq!(seqs(&undurable, 2, 9), vec![3, 4]);
        assert_eq!(seqs(&undurable, 3, 3), Vec::<u64>::new());
        // The next commit carries its durability: the batch is in the store now.
        undurable.tick();
        undurable.fanned_out(&events(&[5]), 5);
        assert_eq!((seqs(&undurable, 0, 9), undurable.durable_seq()), (vec![], 5));
        // A batch whose commit fails: taken back, and remembered with the clock of then.
        let failed = events(&[6, 7]);
        undurable.tick();
        undurable.fanned_out(&failed, 5);
        undurable.tick();
        undurable.take_back(&[*failed[0].1.id(), *failed[1].1.id()]);
        assert!(seqs(&undurable, 0, 9).is_empty());
        let taken_back = undurable.fanned_out_before(failed[0].1.id()).unwrap();
        assert_eq!(taken_back, TakenBack { clock: 4, seq: 6 });
        // Live before the failure after a scan below it: sent. Live after it, or live above it
        // after a scan that went past its number (and so skipped it): not.
        assert!(taken_back.reached(3, 5));
        assert!(!taken_back.reached(4, 5) && !taken_back.reached(3, 6));
        assert_eq!(undurable.fanned_out_before(failed[0].1.id()), None, "once");
        assert_eq!(undurable.fanned_out_before(batch[0].1.id()), None, "never taken back");
    }
}
