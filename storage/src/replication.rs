//! The replication reads: the node's log in sequence order (`events_since`, `log_since`),
//! the origin logs this node holds and how far (`log_heads`, `cursor`), and bounded stretches
//! of one origin log (`read_log`, `read_log_at`). Reads only; what a pulled batch writes is
//! `write.rs`'s, and how peers are asked is the relay's.

use crate::error::StorageError;
use crate::reads::StoredEvent;
use crate::record::Record;
use crate::schema;
use crate::store::Store;
use crate::tables::{decode_record, decode_seq, log_of, read_record};

impl Store {
    /// Events in sequence order after `after_seq`: the node's log, as replication reads it.
    /// Stops after `events_max` events or once `bytes_max` bytes of JSON are collected (at
    /// least one event is returned if any exists).
    pub fn events_since(
        &self,
        after_seq: u64,
        events_max: usize,
        bytes_max: usize,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let mut out = Vec::new();
        let mut failure = None;
        self.log_since(after_seq, events_max, bytes_max, |record| match StoredEvent::from_record(&record) {
            Ok(stored) => out.push(stored),
            Err(error) => failure = Some(error),
        })?;
        failure.map_or(Ok(out), Err)
    }

    /// Hands each record after `after_seq` to `visit`, in sequence order, in place (one read
    /// transaction): the same bounds as `events_since`. Returns the last seq visited, or
    /// `after_seq` when there was none.
    pub fn log_since(
        &self,
        after_seq: u64,
        events_max: usize,
        bytes_max: usize,
        mut visit: impl FnMut(Record),
    ) -> Result<u64, StorageError> {
        let txn = self.env.read_txn()?;
        let start = (after_seq.saturating_add(1)).to_be_bytes();
        let range = (std::ops::Bound::Included(&start[..]), std::ops::Bound::Unbounded);
        let (mut events, mut bytes, mut last) = (0, 0, after_seq);
        for entry in self.tables.events.range(&txn, &range)? {
            if events >= events_max || (bytes >= bytes_max && events > 0) {
                break;
            }
            let (key, bytes_stored) = entry?;
            let record = decode_record(decode_seq(key)?, bytes_stored)?;
            bytes += record.json_len();
            events += 1;
            last = record.seq;
            visit(record);
        }
        Ok(last)
    }
}

/// How much of one origin log a node holds: every event of the log below `next_seq` that
/// has not since been removed (replaced, deleted, expired).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogHead {
    pub origin: [u8; 32],
    pub epoch: u64,
    pub next_seq: u64,
}

impl Store {
    /// Every origin log this node holds, with how far: its own current one first (its cursor
    /// is written with each local commit: the position after its last own event; deletions
    /// never move it back) and one per other log.
    pub fn log_heads(&self) -> Result<Vec<LogHead>, StorageError> {
        let txn = self.env.read_txn()?;
        let own_key = schema::cursor_key(&self.node_id, self.epoch);
        let own_next = self.tables.cursors.get(&txn, &own_key)?.map(decode_seq).transpose()?.unwrap_or(1);
        let mut heads = vec![LogHead { origin: self.node_id, epoch: self.epoch, next_seq: own_next }];
        for entry in self.tables.cursors.iter(&txn)? {
            let (key, value) = entry?;
            if key == own_key {
                continue;
            }
            let corrupt = || StorageError::Corrupt("replication cursor".into());
            let (origin, epoch) = key.split_at_checked(32).ok_or_else(corrupt)?;
            heads.push(LogHead {
                origin: origin.try_into().map_err(|_| corrupt())?,
                epoch: decode_seq(epoch)?,
                next_seq: decode_seq(value)?,
            });
        }
        Ok(heads)
    }

    /// The replication cursor of one log: the next origin seq not yet pulled (1 if none).
    pub fn cursor(&self, origin: &[u8; 32], epoch: u64) -> Result<u64, StorageError> {
        let txn = self.env.read_txn()?;
        let value = self.tables.cursors.get(&txn, &schema::cursor_key(origin, epoch))?;
        Ok(value.map(decode_seq).transpose()?.unwrap_or(1))
    }

    /// Hands each event this node holds of the log (`origin`, `epoch`) from `from_seq` on (in
    /// position order, in place, one read transaction) to `visit` with its position in that
    /// log (an event that reached this node through several logs is stored once, with the
    /// position it came with first in its header), up to `events_max` events or once
    /// `bytes_max` bytes of JSON are visited (at least one if any exists). Returns the
    /// position before which this node holds nothing more that was not visited (read in the
    /// same transaction, so a concurrent commit is never skipped), or `None` if it holds
    /// nothing of this log.
    pub fn read_log(
        &self,
        origin: &[u8; 32],
        epoch: u64,
        from_seq: u64,
        events_max: usize,
        bytes_max: usize,
        mut visit: impl FnMut(u64, Record),
    ) -> Result<Option<u64>, StorageError> {
        let txn = self.env.read_txn()?;
        let held = match self.tables.cursors.get(&txn, &schema::cursor_key(origin, epoch))? {
            Some(next) => decode_seq(next)?,
            // This node's current log, before its first event.
            None if self.is_own_current_log(origin, epoch) => 1,
            None => return Ok(None),
        };
        let log = schema::cursor_key(origin, epoch);
        let start = schema::origin_log_dup(from_seq.max(1), 0);
        let (mut events, mut bytes, mut last) = (0, 0, None);
        for entry in self.tables.origin_log.duplicates_from(&txn, &log, &start)? {
            let (position, seq) = schema::split_time_suffix(entry?);
            if events >= events_max || (bytes >= bytes_max && events > 0) {
                return Ok(Some(position));
            }
            // An extra position of a since removed event (see `add_position`): skipped.
            let Some(record) = read_record(&txn, &self.tables, seq)? else { continue };
            bytes += record.json_len();
            events += 1;
            last = Some(position);
            visit(position, record);
        }
        // Positions come from peers (net's replication keeps them below u64::MAX, but this
        // store takes any it is given): the one after the last saturates, never wraps to 0.
        Ok(Some(held.max(last.map_or(from_seq, |last: u64| last.saturating_add(1)))))
    }

    /// Hands the events this node holds at `positions` (increasing) of the log (`origin`,
    /// `epoch`) to `visit`, as `read_log` does, up to `events_max` events or once `bytes_max`
    /// bytes of JSON are visited (at least one if any is held). Returns the first position
    /// not looked at, or one past the last position when every one was (positions of events
    /// not held are looked at and skipped).
    pub fn read_log_at(
        &self,
        origin: &[u8; 32],
        epoch: u64,
        positions: &[u64],
        events_max: usize,
        bytes_max: usize,
        mut visit: impl FnMut(u64, Record),
    ) -> Result<u64, StorageError> {
        let txn = self.env.read_txn()?;
        let log = schema::cursor_key(origin, epoch);
        let (mut events, mut bytes) = (0, 0);
        for &position in positions {
            if events >= events_max || (bytes >= bytes_max && events > 0) {
                return Ok(position);
            }
            let start = schema::origin_log_dup(position, 0);
            let Some(entry) = self.tables.origin_log.duplicates_from(&txn, &log, &start)?.next().transpose()? else {
                continue;
            };
            let (at, seq) = schema::split_time_suffix(entry);
            if at != position {
                continue;
            }
            let Some(record) = read_record(&txn, &self.tables, seq)? else { continue };
            bytes += record.json_len();
            events += 1;
            visit(position, record);
        }
        // `positions` are a peer's fetch: past the last one saturates, never wraps to 0.
        Ok(positions.last().map_or(0, |last| last.saturating_add(1)))
    }

    /// The origin node and epoch of the log this store numbers `number` (a record's
    /// `Header::log`).
    pub fn log_origin(&self, number: u32) -> Result<Option<([u8; 32], u64)>, StorageError> {
        let txn = self.env.read_txn()?;
        Ok(log_of(&txn, &self.tables, number)?.map(|log| {
            let (origin, epoch) = log.split_at(32);
            (origin.try_into().expect("32 bytes"), u64::from_be_bytes(epoch.try_into().expect("8 bytes")))
        }))
    }
}
