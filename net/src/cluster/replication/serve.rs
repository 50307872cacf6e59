//! The serving side of replication: the heads this node tells its peers, and its answers to
//! their pulls (at once, or parked until the log grows or the wait is over), `ids_only` pulls
//! and fetches.

use super::{Action, LogStore, Parked, Replicator, is_current};
use crate::cluster::NodeId;
use crate::cluster::frame::{Batch, Fetch, Fetched, Message, Positions, Pull, Reset};

impl Replicator {
    /// Tells every linked peer how far this node holds each log, if that changed.
    pub(super) fn send_heads(&mut self, now_ms: u64, store: &impl LogStore, actions: &mut Vec<Action>) {
        if self.peers.is_empty() {
            return;
        }
        let heads = store.heads();
        if heads != self.heads_sent {
            for &peer in self.peers.keys() {
                actions.push(Action::Send { peer, message: Message::Heads(heads.clone()) });
            }
            self.heads_sent = heads;
        }
        self.heads_sent_ms = Some(now_ms);
    }

    /// Answers a peer's pull now, or parks it until the log grows or its wait is over.
    pub(super) fn serve(
        &mut self,
        now_ms: u64,
        peer: NodeId,
        pull: Pull,
        store: &impl LogStore,
        actions: &mut Vec<Action>,
    ) {
        self.parked
            .retain(|parked| (parked.peer, parked.pull.origin, parked.pull.epoch) != (peer, pull.origin, pull.epoch));
        let held = store.heads().into_iter().find(|head| (head.origin, head.epoch) == (pull.origin, pull.epoch));
        let own = store.own_log();
        let lingering = |replicator: &Replicator| {
            let own_log = is_current(&own, pull.origin, pull.epoch) && replicator.may_linger(pull.epoch);
            own_log.then(|| replicator.linger_until(now_ms, &peer, pull.from_seq)).flatten()
        };
        match held {
            Some(head) if pull.from_seq < head.next_seq => match lingering(self) {
                None => self.answer(peer, &pull, store, actions),
                Some(ready_ms) => {
                    let wait_ms = u64::from(pull.wait_ms.min(self.config.pull_wait_ms));
                    self.parked.push(Parked { peer, pull, deadline_ms: now_ms + wait_ms, ready_ms: Some(ready_ms) });
                    self.stats.pulls_parked += 1;
                }
            },
            Some(head) if pull.from_seq == head.next_seq => {
                if pull.wait_ms == 0 {
                    actions.push(empty_batch(peer, &pull));
                } else {
                    let wait_ms = u64::from(pull.wait_ms.min(self.config.pull_wait_ms));
                    self.parked.push(Parked { peer, pull, deadline_ms: now_ms + wait_ms, ready_ms: None });
                    self.stats.pulls_parked += 1;
                }
            }
            _ => {
                self.stats.resets_sent += 1;
                let reset = Reset { origin: pull.origin, epoch: pull.epoch, head: store.own_log() };
                actions.push(Action::Send { peer, message: Message::Reset(reset) });
            }
        }
    }

    /// Reads and sends a batch, bounded by this node's limits whatever the peer asked.
    fn answer(&mut self, peer: NodeId, pull: &Pull, store: &impl LogStore, actions: &mut Vec<Action>) {
        if pull.ids_only {
            return self.answer_ids(peer, pull, store, actions);
        }
        let events_max = pull.events_max.clamp(1, self.config.pull_events_max) as usize;
        let bytes_max = pull.bytes_max.clamp(1, self.config.pull_bytes_max) as usize;
        // A failed read is not answered: the puller's timeout sends the pull again.
        let Some(read) = store.read(&pull.origin, pull.epoch, pull.from_seq, events_max, bytes_max) else { return };
        self.stats.pulls_served += 1;
        self.stats.events_served += read.events.len() as u64;
        // The commit time of the newest event, when it is recent enough to be known here.
        let newest = read.events.last().map(|event| event.origin_seq);
        let origin_commit_unix_ms = newest
            .filter(|_| pull.origin == self.me)
            .and_then(|position| {
                let at = self.recent.partition_point(|recent| recent.position < position);
                self.recent.get(at).filter(|recent| recent.position == position)
            })
            .map_or(0, |recent| recent.committed_ms + self.config.unix_offset_ms);
        let batch = Batch {
            origin: pull.origin,
            epoch: pull.epoch,
            from_seq: pull.from_seq,
            next_seq: read.next_seq,
            events: read.events,
            origin_commit_unix_ms,
        };
        actions.push(Action::Send { peer, message: Message::Batch(batch) });
    }

    /// Reads and sends the positions and ids of an `ids_only` pull, bounded by this node's
    /// limits whatever the peer asked.
    fn answer_ids(&mut self, peer: NodeId, pull: &Pull, store: &impl LogStore, actions: &mut Vec<Action>) {
        let by_bytes = pull.bytes_max.clamp(1, self.config.pull_bytes_max) as usize / POSITION_ID_BYTES;
        let ids_max = (pull.events_max.clamp(1, self.config.ids_pull_max) as usize).min(by_bytes.max(1));
        // A failed read is not answered: the puller's timeout sends the pull again.
        let Some(read) = store.read_ids(&pull.origin, pull.epoch, pull.from_seq, ids_max) else { return };
        self.stats.pulls_served += 1;
        let positions = Positions {
            origin: pull.origin,
            epoch: pull.epoch,
            from_seq: pull.from_seq,
            next_seq: read.next_seq,
            ids: read.ids,
        };
        actions.push(Action::Send { peer, message: Message::Positions(positions) });
    }

    /// Answers a fetch of events at positions a `Positions` answer named.
    pub(super) fn serve_fetch(
        &mut self,
        peer: NodeId,
        fetch: &Fetch,
        store: &impl LogStore,
        actions: &mut Vec<Action>,
    ) {
        let in_range = |position: &u64| (fetch.from_seq..fetch.next_seq).contains(position);
        let valid = !fetch.positions.is_empty()
            && fetch.positions.len() <= self.config.ids_pull_max as usize
            && fetch.positions.iter().all(in_range)
            && fetch.positions.is_sorted_by(|a, b| a < b);
        if !valid {
            self.stats.protocol_errors += 1;
            let reason = format!("a fetch of {} positions out of order, range or bounds", fetch.positions.len());
            actions.push(Action::Close { peer, reason });
            return;
        }
        let events_max = fetch.events_max.clamp(1, self.config.pull_events_max) as usize;
        let bytes_max = fetch.bytes_max.clamp(1, self.config.pull_bytes_max) as usize;
        // A failed read is not answered: the puller's timeout sends the pull again.
        let Some(read) = store.read_at(&fetch.origin, fetch.epoch, &fetch.positions, events_max, bytes_max) else {
            return;
        };
        self.stats.events_served += read.events.len() as u64;
        let last = *fetch.positions.last().expect("not empty");
        let through = if read.next_seq > last { fetch.next_seq } else { read.next_seq };
        let fetched = Fetched {
            origin: fetch.origin,
            epoch: fetch.epoch,
            from_seq: fetch.from_seq,
            through,
            events: read.events,
        };
        actions.push(Action::Send { peer, message: Message::Fetched(fetched) });
    }

    /// Answers parked pulls whose log has grown, and (with `expire`) those whose wait is over.
    pub(super) fn answer_parked(
        &mut self,
        now_ms: u64,
        store: &impl LogStore,
        expire: bool,
        actions: &mut Vec<Action>,
    ) {
        if self.parked.is_empty() {
            return;
        }
        let heads = store.heads();
        let own = store.own_log();
        let held = |pull: &Pull| {
            heads
                .iter()
                .find(|head| (head.origin, head.epoch) == (pull.origin, pull.epoch))
                .map_or(0, |head| head.next_seq)
        };
        let parked = std::mem::take(&mut self.parked);
        for mut entry in parked {
            if held(&entry.pull) > entry.pull.from_seq {
                let own_log =
                    is_current(&own, entry.pull.origin, entry.pull.epoch) && self.may_linger(entry.pull.epoch);
                entry.ready_ms = own_log.then(|| self.linger_until(now_ms, &entry.peer, entry.pull.from_seq)).flatten();
                match entry.ready_ms {
                    None => self.answer(entry.peer, &entry.pull, store, actions),
                    Some(_) => self.parked.push(entry),
                }
            } else if expire && now_ms >= entry.deadline_ms {
                actions.push(empty_batch(entry.peer, &entry.pull));
            } else {
                self.parked.push(entry);
            }
        }
    }
}

/// Bytes a position and its id take in a `Positions` answer.
const POSITION_ID_BYTES: usize = 40;

fn empty_batch(peer: NodeId, pull: &Pull) -> Action {
    if pull.ids_only {
        let positions = Positions {
            origin: pull.origin,
            epoch: pull.epoch,
            from_seq: pull.from_seq,
            next_seq: pull.from_seq,
            ids: Vec::new(),
        };
        return Action::Send { peer, message: Message::Positions(positions) };
    }
    let batch = Batch {
        origin: pull.origin,
        epoch: pull.epoch,
        from_seq: pull.from_seq,
        next_seq: pull.from_seq,
        events: Vec::new(),
        origin_commit_unix_ms: 0,
    };
    Action::Send { peer, message: Message::Batch(batch) }
}
