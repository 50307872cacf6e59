//! Completing an `ids_only` pull: the positions of events held here are recorded as they are,
//! the missing events fetched from the peer that answered, the writer fed in order.

use super::pull::check_range;
use super::{APPLYING_MAX, Action, ApplyBatch, Asked, Fetching, InFlight, LogId, LogStore, Replicator};
use crate::cluster::NodeId;
use crate::cluster::frame::{Fetch, Fetched, Message, PositionId, Positions, WireEvent};

impl Replicator {
    /// Positions of a log (an `ids_only` pull): those of events held here are recorded as
    /// they are, the others fetched first. Pulls go on `ids_only` while most are held and
    /// the source holds more than this answer reached.
    pub(super) fn on_positions(
        &mut self,
        now_ms: u64,
        peer: NodeId,
        positions: Positions,
        store: &impl LogStore,
        actions: &mut Vec<Action>,
    ) {
        let log = (positions.origin, positions.epoch);
        let ids_max = self.config.ids_pull_max as usize;
        if let Err(reason) =
            check_range(positions.from_seq, positions.next_seq, &positions.ids, ids_max, |entry| entry.position)
        {
            self.stats.protocol_errors += 1;
            actions.push(Action::Close { peer, reason });
            return;
        }
        let Some(state) = self.logs.get_mut(&log) else { return };
        if !state.awaits(peer, positions.from_seq, Asked::Positions) || state.fetching.is_some() {
            return; // a late answer to a pull already given up
        }
        state.in_flight = None;
        let source_head = match self.peers.get_mut(&peer) {
            Some(known) => {
                let held = known.heads.entry(log).or_insert(0);
                *held = (*held).max(positions.next_seq);
                *held
            }
            None => 0,
        };
        if positions.next_seq == positions.from_seq {
            state.ids_only = false;
            return;
        }
        let ids: Vec<[u8; 32]> = positions.ids.iter().map(|entry| entry.id).collect();
        let Some(held) = store.holds(&ids) else {
            state.ids_only = false; // pulled again, whole
            return;
        };
        let (mut kept, mut missing) = (Vec::new(), Vec::new());
        for (entry, held) in positions.ids.into_iter().zip(held) {
            if held {
                kept.push(entry);
            } else {
                missing.push(entry.position);
            }
        }
        state.ids_only = kept.len() >= missing.len() && positions.next_seq < source_head;
        // Everything before the first missing event is complete already.
        let complete = missing.first().copied().unwrap_or(positions.next_seq);
        state.fetching = Some(Fetching { peer, next_seq: positions.next_seq, held: kept, missing });
        self.advance_fetching(now_ms, log, Vec::new(), complete, actions);
    }

    /// Events fetched for a `Positions` answer.
    pub(super) fn on_fetched(&mut self, now_ms: u64, peer: NodeId, fetched: Fetched, actions: &mut Vec<Action>) {
        let log = (fetched.origin, fetched.epoch);
        let events_max = self.config.pull_events_max as usize;
        if let Err(reason) =
            check_range(fetched.from_seq, fetched.through, &fetched.events, events_max, |event| event.origin_seq)
        {
            self.stats.protocol_errors += 1;
            actions.push(Action::Close { peer, reason });
            return;
        }
        let Some(state) = self.logs.get_mut(&log) else { return };
        let expected = state.awaits(peer, fetched.from_seq, Asked::Fetched);
        let Some(fetching) = state.fetching.as_ref().filter(|_| expected) else {
            return; // a late answer to a fetch already given up
        };
        let asked = fetched.events.iter().all(|event| fetching.missing.binary_search(&event.origin_seq).is_ok());
        let progress = fetching.missing.first().is_some_and(|&first| fetched.through > first);
        if !asked || !progress || fetched.through > fetching.next_seq {
            self.stats.protocol_errors += 1;
            let reason = format!("a fetch answer through {} not matching its fetch", fetched.through);
            actions.push(Action::Close { peer, reason });
            return;
        }
        self.stats.events_fetched += fetched.events.len() as u64;
        state.in_flight = None;
        self.advance_fetching(now_ms, log, fetched.events, fetched.through, actions);
    }

    /// Hands the writer the part of a `Positions` answer complete before `through` (with
    /// `events` fetched for it): everything, once nothing is missing past it; then fetches
    /// what is still missing, unless the writer has enough of this log already (`plan` sends
    /// that fetch once it has stored some).
    fn advance_fetching(
        &mut self,
        now_ms: u64,
        log: LogId,
        events: Vec<WireEvent>,
        through: u64,
        actions: &mut Vec<Action>,
    ) {
        let state = self.logs.get_mut(&log).expect("the caller found it");
        let fetching = state.fetching.as_mut().expect("the caller set it");
        fetching.missing.retain(|&position| position >= through);
        let end = if fetching.missing.is_empty() { fetching.next_seq } else { through };
        let split = fetching.held.partition_point(|entry| entry.position < end);
        let positions: Vec<PositionId> = fetching.held.drain(..split).collect();
        if end > state.requested_seq {
            self.stats.positions_held += positions.len() as u64;
            self.stats.events_received += events.len() as u64;
            state.applying += 1;
            actions.push(Action::Apply(ApplyBatch {
                origin: log.0,
                epoch: log.1,
                from_seq: state.requested_seq,
                next_seq: end,
                events,
                positions,
                origin_commit_unix_ms: 0,
            }));
            state.requested_seq = end;
        }
        if state.fetching.as_ref().is_some_and(|fetching| fetching.missing.is_empty()) {
            state.fetching = None;
        } else if state.applying < APPLYING_MAX {
            self.send_fetch(now_ms, log, actions);
        }
    }

    /// Asks the peer that answered a `Positions` for the events still missing of it.
    pub(super) fn send_fetch(&mut self, now_ms: u64, log: LogId, actions: &mut Vec<Action>) {
        let state = self.logs.get_mut(&log).expect("the caller found it");
        let fetching = state.fetching.as_ref().expect("the caller checked");
        let peer = fetching.peer;
        let fetch = Fetch {
            origin: log.0,
            epoch: log.1,
            from_seq: state.requested_seq,
            next_seq: fetching.next_seq,
            positions: fetching.missing.clone(),
            events_max: self.config.pull_events_max,
            bytes_max: self.config.pull_bytes_max,
        };
        let deadline_ms = now_ms + self.config.pull_timeout_ms;
        state.in_flight = Some(InFlight { peer, from_seq: state.requested_seq, deadline_ms, asked: Asked::Fetched });
        self.stats.fetches_sent += 1;
        actions.push(Action::Send { peer, message: Message::Fetch(fetch) });
    }
}
