//! The pulling side of replication: learning the logs peers hold and how far, choosing each
//! log's source, sending pulls, and taking their answers (batches and resets).

use super::{
    APPLYING_MAX, Action, ApplyBatch, Asked, InFlight, LOG_CLASS_MASK, LOGS_PER_ORIGIN_MAX, LogId, LogStore, PullState,
    Replicator, is_current, same_run,
};
use crate::cluster::NodeId;
use crate::cluster::frame::{Batch, LogHead, Message, Pull, Reset};

impl Replicator {
    /// Records how far `peer` holds each log, and starts pulling logs this node did not know.
    pub(super) fn learn(&mut self, peer: NodeId, heads: &[LogHead], store: &impl LogStore) {
        let own = store.own_log();
        for head in heads {
            let log = (head.origin, head.epoch);
            let known_origin = self.config.origins.is_empty() || self.config.origins.contains(&head.origin);
            if is_current(&own, head.origin, head.epoch) || !known_origin {
                continue;
            }
            if !self.logs.contains_key(&log) {
                // Runs of the origin, not logs: a run has a log per class of kinds.
                let mut runs: Vec<u64> = self
                    .logs
                    .range((head.origin, 0)..=(head.origin, u64::MAX))
                    .map(|((_, epoch), _)| epoch & !LOG_CLASS_MASK)
                    .collect();
                runs.dedup();
                let new_run = !runs.contains(&(head.epoch & !LOG_CLASS_MASK));
                let logs = self.logs.range((head.origin, 0)..=(head.origin, u64::MAX)).count();
                if (new_run && runs.len() >= LOGS_PER_ORIGIN_MAX) || logs >= 4 * LOGS_PER_ORIGIN_MAX {
                    self.stats.logs_refused += 1;
                    continue;
                }
                self.logs.insert(log, PullState::at(1));
            }
            if let Some(known) = self.peers.get_mut(&peer) {
                let held = known.heads.entry(log).or_insert(0);
                *held = (*held).max(head.next_seq);
            }
        }
    }

    /// Where to pull `log` from now, and how long the pull may wait: its origin while the origin
    /// serves it; otherwise, once the origin has moved on or been gone long enough, whichever
    /// linked peer holds the most of it beyond `next_seq`.
    fn source(&self, now_ms: u64, log: LogId, next_seq: u64) -> Option<(NodeId, u32)> {
        let (origin, epoch) = log;
        let origin_link = self.peers.get(&origin);
        if origin_link.is_some_and(|peer| same_run(peer.epoch, epoch)) {
            return Some((origin, self.config.pull_wait_ms));
        }
        let origin_moved_on = origin == self.me || origin_link.is_some();
        let down_since = self.down_since_ms.get(&origin).copied().unwrap_or(self.started_ms);
        if !origin_moved_on && now_ms < down_since + self.config.origin_timeout_ms {
            return None;
        }
        self.peers
            .iter()
            .filter_map(|(id, peer)| peer.heads.get(&log).filter(|&&held| held > next_seq).map(|&held| (held, *id)))
            .max()
            .map(|(_, id)| (id, 0))
    }

    /// Sends a pull for every log that has none in flight and a source.
    pub(super) fn plan(&mut self, now_ms: u64, store: &impl LogStore, actions: &mut Vec<Action>) {
        let own = store.own_log();
        let logs: Vec<(LogId, u64, bool)> = self
            .logs
            .iter()
            .filter(|(log, state)| {
                state.in_flight.is_none() && state.applying < APPLYING_MAX && !is_current(&own, log.0, log.1)
            })
            .map(|(log, state)| (*log, state.requested_seq, state.ids_only))
            .collect();
        for (log, next_seq, ids_only) in logs {
            if self.logs[&log].fetching.is_some() {
                // A `Positions` answer waits for the writer before its next fetch.
                self.send_fetch(now_ms, log, actions);
                continue;
            }
            let Some((peer, wait_ms)) = self.source(now_ms, log, next_seq) else { continue };
            // An ids-only pull is a catch-up: it never waits at the head.
            let wait_ms = if ids_only { 0 } else { wait_ms };
            let pull = Pull {
                origin: log.0,
                epoch: log.1,
                from_seq: next_seq,
                events_max: if ids_only { self.config.ids_pull_max } else { self.config.pull_events_max },
                bytes_max: self.config.pull_bytes_max,
                wait_ms,
                ids_only,
            };
            self.stats.ids_pulls_sent += u64::from(ids_only);
            let deadline_ms = now_ms + u64::from(wait_ms) + self.config.pull_timeout_ms;
            let state = self.logs.get_mut(&log).expect("listed above");
            let asked = if ids_only { Asked::Positions } else { Asked::Batch };
            state.in_flight = Some(InFlight { peer, from_seq: next_seq, deadline_ms, asked });
            self.stats.pulls_sent += 1;
            if peer != log.0 {
                self.stats.fallback_pulls += 1;
            }
            actions.push(Action::Send { peer, message: Message::Pull(pull) });
        }
    }

    pub(super) fn on_batch(&mut self, peer: NodeId, batch: Batch, store: &impl LogStore, actions: &mut Vec<Action>) {
        let log = (batch.origin, batch.epoch);
        if let Err(reason) = check_batch(&batch, self.config.pull_events_max) {
            self.stats.protocol_errors += 1;
            actions.push(Action::Close { peer, reason });
            return;
        }
        let Some(state) = self.logs.get_mut(&log) else { return };
        if !state.awaits(peer, batch.from_seq, Asked::Batch) {
            return; // a late answer to a pull already given up
        }
        state.in_flight = None;
        if let Some(known) = self.peers.get_mut(&peer) {
            let held = known.heads.entry(log).or_insert(0);
            *held = (*held).max(batch.next_seq);
        }
        let source_head = self.peers.get(&peer).and_then(|known| known.heads.get(&log)).copied().unwrap_or(0);
        let far_behind = self.config.ids_pull_behind > 0
            && source_head.saturating_sub(batch.next_seq) >= self.config.ids_pull_behind
            && !batch.events.is_empty();
        if far_behind {
            let ids: Vec<[u8; 32]> = batch.events.iter().map(|event| event.id).collect();
            let held = store.holds(&ids).map_or(0, |held| held.into_iter().filter(|&held| held).count());
            state.ids_only = held * 10 >= ids.len() * 9;
        }
        if batch.next_seq > state.requested_seq {
            state.applying += 1;
            state.requested_seq = batch.next_seq;
            self.stats.events_received += batch.events.len() as u64;
            actions.push(Action::Apply(ApplyBatch {
                origin: batch.origin,
                epoch: batch.epoch,
                from_seq: batch.from_seq,
                next_seq: batch.next_seq,
                events: batch.events,
                positions: Vec::new(),
                origin_commit_unix_ms: batch.origin_commit_unix_ms,
            }));
        }
    }

    pub(super) fn on_reset(&mut self, peer: NodeId, reset: Reset, store: &impl LogStore) {
        self.stats.resets_received += 1;
        if self.logs.keys().any(|(origin, _)| *origin == reset.origin) {
            *self.resets_by_origin.entry(reset.origin).or_default() += 1;
        }
        let log = (reset.origin, reset.epoch);
        if let Some(state) = self.logs.get_mut(&log)
            && state.in_flight.is_some_and(|flight| flight.peer == peer)
        {
            state.give_up();
        }
        if let Some(known) = self.peers.get_mut(&peer) {
            known.heads.remove(&log);
            if reset.head.origin == peer {
                known.epoch = reset.head.epoch;
            }
        }
        self.learn(peer, &[reset.head], store);
    }
}

/// A batch must stay inside `[from_seq, next_seq)` in increasing positions, within the
/// pull's bound.
fn check_batch(batch: &Batch, events_max: u32) -> Result<(), String> {
    check_range(batch.from_seq, batch.next_seq, &batch.events, events_max as usize, |event| event.origin_seq)
}

/// Entries of an answer must stay inside `[from_seq, next_seq)` in increasing positions,
/// within the bound asked for.
pub(super) fn check_range<T>(
    from_seq: u64,
    next_seq: u64,
    entries: &[T],
    max: usize,
    position: impl Fn(&T) -> u64,
) -> Result<(), String> {
    if next_seq < from_seq {
        return Err(format!("answer ends at {next_seq} before it starts at {from_seq}"));
    }
    if entries.len() > max {
        return Err(format!("answer of {} entries exceeds the {max} asked for", entries.len()));
    }
    let mut previous = None;
    for entry in entries {
        let at = position(entry);
        if !(from_seq..next_seq).contains(&at) || previous.is_some_and(|seq| at <= seq) {
            return Err(format!("answer position {at} out of order or range"));
        }
        previous = Some(at);
    }
    Ok(())
}
