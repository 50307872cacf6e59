//! Interest summaries at work: this node's summary sent to its peers, the linger of own events
//! no peer summary matches, and ephemeral events sent where they may match, delivered once.

use parrhesia_engine::summary::EventProbe;

use super::{Action, Replicator};
use crate::cluster::NodeId;
use crate::cluster::frame::{Message, WireEvent};

impl Replicator {
    pub(super) fn send_delta(&mut self, now_ms: u64, actions: &mut Vec<Action>) {
        self.delta_sent_ms = now_ms;
        self.stats.summary_deltas_sent += self.peers.len() as u64;
        let delta = Message::SummaryDelta(self.interest.delta());
        self.broadcast(delta, actions);
    }

    pub(super) fn send_full(&mut self, now_ms: u64, actions: &mut Vec<Action>) {
        self.full_sent_ms = now_ms;
        self.stats.summaries_sent += self.peers.len() as u64;
        self.broadcast(Message::SummaryFull(self.interest.full()), actions);
    }

    /// `message` to every linked peer.
    fn broadcast(&self, message: Message, actions: &mut Vec<Action>) {
        actions.extend(self.peers.keys().map(|&peer| Action::Send { peer, message: message.clone() }));
    }

    /// Forgets own events too old to matter for the linger (or past the bound).
    pub(super) fn trim_recent(&mut self, now_ms: u64) {
        let keep_ms = self.config.linger_ms + 1000;
        while let Some(oldest) = self.recent.front() {
            if self.recent.len() <= self.config.recent_events_max && oldest.committed_ms + keep_ms >= now_ms {
                break;
            }
            self.recent_from = oldest.position + 1;
            self.recent.pop_front();
        }
    }

    /// Whether pulls of the log of `epoch` may linger (not an eager class).
    pub(super) fn may_linger(&self, epoch: u64) -> bool {
        !self.config.eager_classes.contains(&super::log_class(epoch))
    }

    /// When a pull of this node's own log from `from_seq` by `peer` may be answered: `None`
    /// now, `Some(ms)` once the events waiting have lingered enough. Now whenever an event
    /// waiting matches the peer's summary, the summary is not current, what waits is not all
    /// known here, or a whole batch waits.
    pub(super) fn linger_until(&self, now_ms: u64, peer: &NodeId, from_seq: u64) -> Option<u64> {
        if self.config.linger_ms == 0 || from_seq < self.recent_from {
            return None;
        }
        let summary = self.peers.get(peer)?.interest.current(now_ms, self.config.summary_stale_ms)?;
        let start = self.recent.partition_point(|recent| recent.position < from_seq);
        let first = self.recent.get(start)?;
        let waiting = self.recent.len() - start;
        if waiting >= self.config.pull_events_max as usize
            || self.recent.range(start..).any(|recent| summary.matches(&recent.probe))
        {
            return None;
        }
        let ready_ms = first.committed_ms + self.config.linger_ms;
        (now_ms < ready_ms).then_some(ready_ms)
    }

    /// An ephemeral event accepted here: to every linked peer whose summary may match it (or
    /// is not current), once.
    pub fn local_ephemeral(&mut self, now_ms: u64, event: WireEvent, probe: &EventProbe) -> Vec<Action> {
        self.remember_ephemeral(event.id);
        let mut actions = Vec::new();
        for (&peer, state) in &self.peers {
            let live = self.live.entry(peer).or_default();
            let summary = state.interest.current(now_ms, self.config.summary_stale_ms);
            match summary {
                Some(summary) if !summary.matches(probe) => {
                    live.ephemeral_avoided += 1;
                    continue;
                }
                Some(_) => {}
                None => live.fallbacks += 1,
            }
            live.ephemeral_sent += 1;
            self.stats.ephemeral_sent += 1;
            actions.push(Action::Send { peer, message: Message::Ephemeral(event.clone()) });
        }
        actions
    }

    pub(super) fn on_ephemeral(&mut self, event: WireEvent, actions: &mut Vec<Action>) {
        if self.ephemeral_seen.contains(&event.id) {
            self.stats.ephemeral_duplicates += 1;
            return;
        }
        self.remember_ephemeral(event.id);
        self.stats.ephemeral_delivered += 1;
        actions.push(Action::Deliver(event));
    }

    fn remember_ephemeral(&mut self, id: [u8; 32]) {
        if self.ephemeral_seen.insert(id) {
            self.ephemeral_order.push_back(id);
        }
        while self.ephemeral_order.len() > self.config.ephemeral_ids_max {
            let oldest = self.ephemeral_order.pop_front().expect("longer than the bound");
            self.ephemeral_seen.remove(&oldest);
        }
    }
}
