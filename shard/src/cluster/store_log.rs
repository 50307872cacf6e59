//! The node's LMDB store as the replicator reads it.

use parrhesia_net::cluster::NodeId;
use parrhesia_net::cluster::frame::{LogHead, PositionId, WireEvent};
use parrhesia_net::cluster::replication::{LogStore, ReadIds, ReadLog};
use parrhesia_storage::Record;
use parrhesia_storage::Store;

pub struct StoreLog(pub Store);

impl StoreLog {
    pub fn store(&self) -> &Store {
        &self.0
    }
}

impl LogStore for StoreLog {
    fn own_log(&self) -> LogHead {
        let (origin, epoch) = (*self.0.node_id(), self.0.epoch());
        // Its cursor: the position after this node's last own event (as `heads` says), not
        // `last_seq + 1`, which replicated events move too.
        let next_seq = self.0.cursor(&origin, epoch).unwrap_or_else(|error| {
            tracing::warn!(%error, "reading the own log's cursor failed");
            1
        });
        LogHead { origin, epoch, next_seq }
    }

    fn heads(&self) -> Vec<LogHead> {
        match self.0.log_heads() {
            Ok(heads) => heads
                .into_iter()
                .map(|head| LogHead { origin: head.origin, epoch: head.epoch, next_seq: head.next_seq })
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "reading the log heads failed");
                vec![self.own_log()]
            }
        }
    }

    fn read(&self, origin: &NodeId, epoch: u64, from: u64, events_max: usize, bytes_max: usize) -> Option<ReadLog> {
        let mut events = Vec::new();
        let read = self.0.read_log(origin, epoch, from, events_max, bytes_max, |position, record| {
            events.push(wire_event(position, &record));
        });
        match read {
            Ok(Some(next_seq)) => Some(ReadLog { events, next_seq }),
            Ok(None) => Some(ReadLog { events, next_seq: from }),
            Err(error) => {
                tracing::warn!(%error, "reading a log for a peer failed");
                None
            }
        }
    }

    fn read_ids(&self, origin: &NodeId, epoch: u64, from: u64, ids_max: usize) -> Option<ReadIds> {
        let mut ids = Vec::new();
        let read = self.0.read_log(origin, epoch, from, ids_max, usize::MAX, |position, record| {
            ids.push(PositionId { position, id: record.header.id });
        });
        match read {
            Ok(Some(next_seq)) => Some(ReadIds { ids, next_seq }),
            Ok(None) => Some(ReadIds { ids, next_seq: from }),
            Err(error) => {
                tracing::warn!(%error, "reading a log's positions for a peer failed");
                None
            }
        }
    }

    fn read_at(
        &self,
        origin: &NodeId,
        epoch: u64,
        positions: &[u64],
        events_max: usize,
        bytes_max: usize,
    ) -> Option<ReadLog> {
        let mut events = Vec::new();
        let read = self.0.read_log_at(origin, epoch, positions, events_max, bytes_max, |position, record| {
            events.push(wire_event(position, &record));
        });
        match read {
            Ok(next_seq) => Some(ReadLog { events, next_seq }),
            Err(error) => {
                tracing::warn!(%error, "reading events a peer fetched failed");
                None
            }
        }
    }

    fn holds(&self, ids: &[[u8; 32]]) -> Option<Vec<bool>> {
        self.0.holds(ids).inspect_err(|error| tracing::warn!(%error, "looking up pulled ids failed")).ok()
    }
}

/// A stored event as replication carries it.
fn wire_event(position: u64, record: &Record) -> WireEvent {
    let header = &record.header;
    WireEvent {
        origin_seq: position,
        id: header.id,
        pubkey: header.pubkey,
        sig: header.sig,
        middle: record.json_middle(),
    }
}

/// The node's LMDB store, in a temporary directory, held to the contract the simulator's
/// in-memory store keeps (`parrhesia_net::cluster::store_contract`).
#[cfg(test)]
mod tests {
    use super::*;
    use parrhesia_engine::{Event, Keys, Limits};
    use parrhesia_net::cluster::replication::ApplyBatch;
    use parrhesia_net::cluster::store_contract::{self, ContractStore};
    use parrhesia_storage::{Durability, Outcome, StoreOptions};

    /// Kind 7 has a log of its own (class 1), as `cluster.traffic_classes` would give it.
    fn classes() -> std::collections::HashMap<u16, u8> {
        std::collections::HashMap::from([(7, 1)])
    }

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
    }

    /// A replicated event as the link checks it into an `Event`.
    fn parsed(wire: &WireEvent) -> Event {
        let json = parrhesia_storage::record::json_from_parts(&wire.id, &wire.pubkey, &wire.sig, &wire.middle);
        Event::parse(std::str::from_utf8(&json).expect("UTF-8"), &Limits::default()).expect("an event")
    }

    impl ContractStore for StoreLog {
        fn event(&mut self, number: u32, class: u8) -> WireEvent {
            let keys = Keys::from_secret_bytes([3; 32]).expect("a key");
            let kind = if class == 1 { 7 } else { 1 };
            let event = keys.sign(now(), kind, Vec::new(), format!("contract event {number}"));
            let middle = parrhesia_storage::record::json_middle(event.json()).to_vec();
            WireEvent { origin_seq: 0, id: *event.id(), pubkey: *event.pubkey(), sig: *event.sig(), middle }
        }

        fn publish(&mut self, event: &WireEvent) -> bool {
            match self.0.apply(&[parsed(event)], now()).expect("a local commit").as_slice() {
                [Outcome::Stored { .. }] => true,
                [Outcome::Duplicate] => false,
                other => panic!("refused: {other:?}"),
            }
        }

        fn apply(&mut self, batch: &ApplyBatch) -> bool {
            let events: Vec<(u64, Event)> = batch.events.iter().map(|wire| (wire.origin_seq, parsed(wire))).collect();
            let held: Vec<(u64, [u8; 32])> = batch.positions.iter().map(|held| (held.position, held.id)).collect();
            let positions = batch.from_seq..batch.next_seq;
            let applied = self.0.apply_replicated(&batch.origin, batch.epoch, positions, &events, &held, now());
            applied.expect("a replicated commit").is_some()
        }

        fn restart(&mut self) {
            self.0.begin_epoch_with_classes(classes()).expect("a new epoch");
        }

        fn counted_bytes(&self, event: &WireEvent) -> usize {
            parsed(event).json().len()
        }
    }

    #[test]
    fn the_lmdb_store_keeps_the_store_contract() {
        let mut directories = Vec::new();
        store_contract::check_all(|| {
            let directory = tempfile::tempdir().expect("a temporary directory");
            let options = StoreOptions {
                node_id: [0x42; 32],
                durability: Durability::NoSync,
                map_bytes_max: 1 << 30,
                ..StoreOptions::default()
            };
            let mut store = Store::open(&directory.path().join("data"), &options).expect("a new store");
            store.begin_epoch_with_classes(classes()).expect("this run's epoch");
            directories.push(directory);
            StoreLog(store)
        });
    }
}
