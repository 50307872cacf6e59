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
