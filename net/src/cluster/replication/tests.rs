//! Unit tests of the replication state machine, against a store holding one log.

use super::*;
use crate::cluster::frame::{Batch, Fetch, Fetched, Positions, Reset};

/// A store holding its own log (node 1, epoch 7) up to position 4, events at 2 and 3.
struct OneLog;

impl LogStore for OneLog {
    fn own_log(&self) -> LogHead {
        LogHead { origin: [1; 32], epoch: 7, next_seq: 4 }
    }

    fn heads(&self) -> Vec<LogHead> {
        vec![self.own_log()]
    }

    fn read(&self, _: &NodeId, _: u64, from_seq: u64, events_max: usize, _: usize) -> Option<ReadLog> {
        let event = |origin_seq| WireEvent {
            origin_seq,
            id: [origin_seq as u8; 32],
            pubkey: [0; 32],
            sig: [0; 64],
            middle: Vec::new(),
        };
        let events: Vec<WireEvent> =
            [2, 3].into_iter().filter(|&seq| seq >= from_seq).take(events_max).map(event).collect();
        Some(ReadLog {
            next_seq: if events.len() == events_max { events[events.len() - 1].origin_seq + 1 } else { 4 },
            events,
        })
    }

    fn read_ids(&self, origin: &NodeId, epoch: u64, from_seq: u64, ids_max: usize) -> Option<ReadIds> {
        let read = self.read(origin, epoch, from_seq, ids_max, usize::MAX)?;
        let ids = read.events.iter().map(|event| PositionId { position: event.origin_seq, id: event.id }).collect();
        Some(ReadIds { ids, next_seq: read.next_seq })
    }

    fn read_at(&self, origin: &NodeId, epoch: u64, positions: &[u64], _: usize, _: usize) -> Option<ReadLog> {
        let all = self.read(origin, epoch, 1, usize::MAX, usize::MAX)?;
        let events = all.events.into_iter().filter(|event| positions.contains(&event.origin_seq)).collect();
        Some(ReadLog { events, next_seq: positions.last().map_or(0, |last| last + 1) })
    }

    fn holds(&self, ids: &[[u8; 32]]) -> Option<Vec<bool>> {
        Some(ids.iter().map(|id| *id == [2; 32] || *id == [3; 32]).collect())
    }
}

fn pull(epoch: u64, from_seq: u64, wait_ms: u32) -> Message {
    Message::Pull(Pull {
        origin: [1; 32],
        epoch,
        from_seq,
        events_max: 10,
        bytes_max: 1 << 20,
        wait_ms,
        ids_only: false,
    })
}

fn sent(actions: &[Action]) -> Vec<&Message> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Send { message, .. } => Some(message),
            _ => None,
        })
        .collect()
}

#[test]
fn pulls_are_answered_parked_or_reset() {
    let peer = [2; 32];
    let mut replicator = Replicator::new([1; 32], ReplicationConfig::default(), 0, &OneLog);
    replicator.link_up(0, peer, 9, &[], &OneLog);
    // From the start: both events, and where to go on from.
    let actions = replicator.on_message(0, peer, pull(7, 1, 1000), &OneLog);
    let Message::Batch(batch) = sent(&actions).into_iter().find(|m| matches!(m, Message::Batch(_))).unwrap().clone()
    else {
        unreachable!()
    };
    assert_eq!((batch.from_seq, batch.next_seq, batch.events.len()), (1, 4, 2));
    // At the head: parked, answered empty when its wait is over.
    let actions = replicator.on_message(0, peer, pull(7, 4, 1000), &OneLog);
    assert!(!sent(&actions).iter().any(|m| matches!(m, Message::Batch(_))), "parked");
    let actions = replicator.tick(999, &OneLog);
    assert!(!sent(&actions).iter().any(|m| matches!(m, Message::Batch(_))), "still waiting");
    let actions = replicator.tick(1000, &OneLog);
    let empty = sent(&actions).into_iter().find_map(|m| match m {
        Message::Batch(batch) => Some(batch.clone()),
        _ => None,
    });
    assert_eq!(empty.map(|batch| (batch.from_seq, batch.next_seq, batch.events.len())), Some((4, 4, 0)));
    // Past the head, or another epoch: a reset naming the current log.
    for message in [pull(7, 9, 0), pull(6, 1, 0)] {
        let actions = replicator.on_message(0, peer, message, &OneLog);
        let reset = sent(&actions).into_iter().find_map(|m| match m {
            Message::Reset(reset) => Some(*reset),
            _ => None,
        });
        assert_eq!(reset.map(|reset| reset.head), Some(OneLog.own_log()));
    }
    assert_eq!(replicator.stats.resets_sent, 2);
    // A peer naming endless epochs of an origin gets no more state than the bound.
    let many: Vec<LogHead> = (0..LOGS_PER_ORIGIN_MAX as u64 + 10)
        .map(|epoch| LogHead { origin: peer, epoch: (100 + epoch) << 8, next_seq: 2 })
        .collect();
    replicator.on_message(0, peer, Message::Heads(many), &OneLog);
    assert_eq!(replicator.cursors().filter(|((origin, _), _)| *origin == peer).count(), LOGS_PER_ORIGIN_MAX);
    assert!(replicator.stats.logs_refused >= 10);
    // A batch outside its range closes the link.
    let bad =
        Batch { origin: [2; 32], epoch: 9, from_seq: 5, next_seq: 3, events: Vec::new(), origin_commit_unix_ms: 0 };
    let actions = replicator.on_message(0, peer, Message::Batch(bad), &OneLog);
    assert!(actions.iter().any(|action| matches!(action, Action::Close { .. })));
}

fn applies(actions: &[Action]) -> Vec<(u64, u64, Vec<u64>, Vec<u64>)> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Apply(batch) => Some((
                batch.from_seq,
                batch.next_seq,
                batch.events.iter().map(|event| event.origin_seq).collect(),
                batch.positions.iter().map(|held| held.position).collect(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn positions_and_ids_are_served_and_fetched_exactly() {
    let peer = [2; 32];
    let mut server = Replicator::new([1; 32], ReplicationConfig::default(), 0, &OneLog);
    server.link_up(0, peer, 9, &[], &OneLog);
    let ids_pull =
        Pull { origin: [1; 32], epoch: 7, from_seq: 1, events_max: 10, bytes_max: 1 << 20, wait_ms: 0, ids_only: true };
    let actions = server.on_message(0, peer, Message::Pull(ids_pull), &OneLog);
    let expected = Positions {
        origin: [1; 32],
        epoch: 7,
        from_seq: 1,
        next_seq: 4,
        ids: vec![PositionId { position: 2, id: [2; 32] }, PositionId { position: 3, id: [3; 32] }],
    };
    assert!(sent(&actions).contains(&&Message::Positions(expected)));
    let fetch = |positions: Vec<u64>| {
        Message::Fetch(Fetch {
            origin: [1; 32],
            epoch: 7,
            from_seq: 1,
            next_seq: 4,
            positions,
            events_max: 10,
            bytes_max: 1 << 20,
        })
    };
    let actions = server.on_message(0, peer, fetch(vec![3]), &OneLog);
    let Some(Message::Fetched(fetched)) = sent(&actions).into_iter().find(|m| matches!(m, Message::Fetched(_))) else {
        panic!("a fetch is answered: {actions:?}")
    };
    assert_eq!((fetched.through, fetched.events.iter().map(|e| e.origin_seq).collect::<Vec<_>>()), (4, vec![3]));
    for bad in [vec![3, 2], vec![4], vec![]] {
        let actions = server.on_message(0, peer, fetch(bad.clone()), &OneLog);
        assert!(actions.iter().any(|action| matches!(action, Action::Close { .. })), "{bad:?}");
    }

    // The puller: a log of an unlinked origin held far ahead by the peer.
    let config = ReplicationConfig { origin_timeout_ms: 0, ids_pull_behind: 100, ..ReplicationConfig::default() };
    let mut puller = Replicator::new([1; 32], config, 0, &OneLog);
    let log = LogHead { origin: [5; 32], epoch: 1, next_seq: 10_000 };
    let actions = puller.link_up(0, peer, 9, &[log], &OneLog);
    assert!(
        sent(&actions).iter().any(|m| matches!(m, Message::Pull(pull) if pull.origin == [5; 32] && !pull.ids_only))
    );
    let wire = |origin_seq, id| WireEvent { origin_seq, id, pubkey: [0; 32], sig: [0; 64], middle: Vec::new() };
    // A first batch held here already: the next pull asks for positions and ids.
    let batch = Batch {
        origin: [5; 32],
        epoch: 1,
        from_seq: 1,
        next_seq: 3,
        events: vec![wire(1, [2; 32]), wire(2, [3; 32])],
        origin_commit_unix_ms: 0,
    };
    let actions = puller.on_message(0, peer, Message::Batch(batch), &OneLog);
    assert_eq!(applies(&actions), vec![(1, 3, vec![1, 2], vec![])]);
    assert!(sent(&actions).iter().any(|m| matches!(m, Message::Pull(pull) if pull.ids_only && pull.from_seq == 3)));
    // Held positions before the first missing one are stored at once; the missing one is
    // fetched once the writer has stored a batch (two of this log are with it).
    let ids = [(4, [2; 32]), (5, [9; 32]), (6, [3; 32])].map(|(position, id)| PositionId { position, id }).to_vec();
    let positions = Positions { origin: [5; 32], epoch: 1, from_seq: 3, next_seq: 8, ids };
    let actions = puller.on_message(0, peer, Message::Positions(positions), &OneLog);
    assert_eq!(applies(&actions), vec![(3, 5, vec![], vec![4])]);
    assert!(!sent(&actions).iter().any(|m| matches!(m, Message::Fetch(_))), "the writer has two batches");
    let applied = |from_seq, next_seq| AppliedBatch { origin: [5; 32], epoch: 1, from_seq, next_seq, stored: true };
    let actions = puller.applied(0, applied(1, 3), &OneLog);
    assert!(
        sent(&actions)
            .iter()
            .any(|m| matches!(m, Message::Fetch(fetch) if fetch.positions == vec![5] && fetch.from_seq == 5))
    );
    // An answer with an event not asked for breaks the protocol.
    let wrong = Fetched { origin: [5; 32], epoch: 1, from_seq: 5, through: 8, events: vec![wire(6, [3; 32])] };
    let actions = puller.on_message(0, peer, Message::Fetched(wrong.clone()), &OneLog);
    assert!(actions.iter().any(|action| matches!(action, Action::Close { .. })));
    let fetched = Fetched { events: vec![wire(5, [9; 32])], ..wrong.clone() };
    let actions = puller.on_message(0, peer, Message::Fetched(fetched), &OneLog);
    assert_eq!(applies(&actions), vec![(5, 8, vec![5], vec![6])]);
    assert_eq!((puller.stats.positions_held, puller.stats.events_fetched, puller.stats.fetches_sent), (2, 1, 1));
    // Once the writer has stored the batches, the next pull goes on with positions and ids.
    let mut actions = Vec::new();
    for (from_seq, next_seq) in [(3, 5), (5, 8)] {
        actions.extend(puller.applied(0, applied(from_seq, next_seq), &OneLog));
    }
    assert!(sent(&actions).iter().any(|m| matches!(m, Message::Pull(pull) if pull.ids_only && pull.from_seq == 8)));
    let actions = puller.on_message(0, peer, Message::Fetched(wrong), &OneLog);
    assert!(applies(&actions).is_empty(), "a late answer is ignored");
}

/// A store whose heads are whatever the test says.
struct Heads(Vec<LogHead>);

impl LogStore for Heads {
    fn own_log(&self) -> LogHead {
        self.0[0]
    }

    fn heads(&self) -> Vec<LogHead> {
        self.0.clone()
    }

    fn read(&self, _: &NodeId, _: u64, from_seq: u64, _: usize, _: usize) -> Option<ReadLog> {
        Some(ReadLog { events: Vec::new(), next_seq: from_seq })
    }

    fn read_ids(&self, _: &NodeId, _: u64, from_seq: u64, _: usize) -> Option<ReadIds> {
        Some(ReadIds { ids: Vec::new(), next_seq: from_seq })
    }

    fn read_at(&self, _: &NodeId, _: u64, _: &[u64], _: usize, _: usize) -> Option<ReadLog> {
        None
    }

    fn holds(&self, ids: &[[u8; 32]]) -> Option<Vec<bool>> {
        Some(vec![false; ids.len()])
    }
}

#[test]
fn a_new_own_log_is_announced_at_once_and_only_when_heads_changed() {
    let own = LogHead { origin: [1; 32], epoch: 0x700, next_seq: 3 };
    let class_log = LogHead { origin: [1; 32], epoch: 0x701, next_seq: 3 };
    let mut replicator = Replicator::new([1; 32], ReplicationConfig::default(), 0, &Heads(vec![own]));
    replicator.link_up(0, [2; 32], 9, &[], &Heads(vec![own]));
    replicator.tick(0, &Heads(vec![own]));
    let heads_sent = |actions: &[Action]| {
        sent(actions)
            .into_iter()
            .filter_map(|m| if let Message::Heads(heads) = m { Some(heads.clone()) } else { None })
            .collect::<Vec<_>>()
    };
    assert!(heads_sent(&replicator.own_log_started(10, &Heads(vec![own]))).is_empty(), "nothing new");
    let announced = heads_sent(&replicator.own_log_started(10, &Heads(vec![own, class_log])));
    assert_eq!(announced, vec![vec![own, class_log]], "at once, not at the next periodic heads");
    // The peer's current logs include its class logs: pulled from it with a long poll.
    let peer_class_log = LogHead { origin: [2; 32], epoch: 9 << 8 | 1, next_seq: 5 };
    let mut puller = Replicator::new([1; 32], ReplicationConfig::default(), 0, &Heads(vec![own]));
    let actions = puller.link_up(0, [2; 32], 9 << 8, &[peer_class_log], &Heads(vec![own]));
    let pulls: Vec<Pull> = sent(&actions)
        .into_iter()
        .filter_map(|m| if let Message::Pull(pull) = m { Some(*pull) } else { None })
        .collect();
    assert!(pulls.iter().any(|pull| pull.epoch == 9 << 8 | 1 && pull.wait_ms > 0), "{pulls:?}");
}

#[test]
fn the_backlog_is_what_linked_peers_hold_beyond_the_cursors() {
    let (peer, other) = ([2; 32], [3; 32]);
    let mut replicator = Replicator::new([1; 32], ReplicationConfig::default(), 0, &OneLog);
    replicator.link_up(0, peer, 9, &[], &OneLog);
    assert_eq!(replicator.backlog()[&peer], OriginBacklog::default());
    // The peer holds its own log up to 6 and another origin's up to 3: five and two behind.
    let heads = vec![LogHead { origin: peer, epoch: 9, next_seq: 6 }, LogHead { origin: other, epoch: 1, next_seq: 3 }];
    replicator.on_message(0, peer, Message::Heads(heads), &OneLog);
    let backlog = replicator.backlog();
    assert_eq!(backlog[&peer].behind_positions, 5);
    assert_eq!(backlog[&other].behind_positions, 2);
    assert!(!backlog.contains_key(&[1; 32]), "not its own log");
    // Resets are counted per origin, only for origins with a log here.
    let head = LogHead { origin: peer, epoch: 10, next_seq: 1 };
    replicator.on_message(0, peer, Message::Reset(Reset { origin: peer, epoch: 9, head }), &OneLog);
    let stranger = LogHead { origin: [9; 32], epoch: 1, next_seq: 1 };
    replicator.on_message(0, peer, Message::Reset(Reset { origin: [9; 32], epoch: 1, head: stranger }), &OneLog);
    let backlog = replicator.backlog();
    assert_eq!(backlog[&peer].resets_received, 1);
    // (The reset's head is learned as any head is; its reset is not counted: no log then.)
    assert_eq!(backlog.get(&[9; 32]).map_or(0, |origin| origin.resets_received), 0);
    // The peer gone, nobody claims more: nothing is counted behind.
    replicator.link_down(0, peer, &OneLog);
    assert_eq!(replicator.backlog()[&peer].behind_positions, 0);
}

#[test]
fn a_peers_huge_heads_saturate_the_backlog() {
    // Two class logs of the peer's run, each claiming 2^63 + 1 positions: the sum of what is
    // behind would wrap (a debug build panicked in the metrics tick).
    let peer = [2; 32];
    let mut replicator = Replicator::new([1; 32], ReplicationConfig::default(), 0, &OneLog);
    replicator.link_up(0, peer, 9 << 8, &[], &OneLog);
    let huge = (1 << 63) + 1;
    let heads = vec![
        LogHead { origin: peer, epoch: 9 << 8 | 1, next_seq: huge },
        LogHead { origin: peer, epoch: 9 << 8 | 2, next_seq: huge },
    ];
    replicator.on_message(0, peer, Message::Heads(heads), &OneLog);
    assert_eq!(replicator.backlog()[&peer].behind_positions, u64::MAX);
}
