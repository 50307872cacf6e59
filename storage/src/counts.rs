//! NIP-45 counts kept at write time: for every stored event, each distinct `e`/`p`/`a`/`q`
//! tag value counts under `kind ++ letter ++ encoded value` (the `tag_time` prefix with the
//! kind before it), with the 256 HyperLogLog registers of the authors at that value's offset.
//! A COUNT of one kind and one such value (`hll::kept`) then reads one entry instead of
//! scanning. Removing an event decrements its counts; registers only grow (HyperLogLog cannot
//! forget), so after removals they overestimate a little, as any merged HyperLogLog may.

use std::collections::HashMap;

use heed::RwTxn;
use parrhesia_engine::Event;
use parrhesia_engine::hll::{Hll, OFFSET_LETTERS, REGISTERS, offset_of};

use crate::error::StorageError;
use crate::record::Record;
use crate::schema;
use crate::store::Store;
use crate::tables::Table;

const COUNT_BYTES: usize = 8;
/// Registers set, at most, kept as (register, rank) pairs; beyond, all 256 are kept. Most
/// values are tagged by few events, so most entries stay a few bytes.
const SPARSE_PAIRS_MAX: usize = 127;

fn key(kind: u16, tag_prefix: &[u8]) -> Vec<u8> {
    [&kind.to_be_bytes()[..], tag_prefix].concat()
}

/// A kept count and its registers (zeros when nothing counted, or the value sets no offset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptCount {
    pub count: u64,
    pub registers: [u8; REGISTERS],
}

impl KeptCount {
    /// `count ++ registers`: all 256, or (register, rank) pairs of the set ones (fewer than 128
    /// pairs, so the two never have the same length).
    fn decode(bytes: &[u8]) -> Option<KeptCount> {
        let (count, rest) = bytes.split_first_chunk::<COUNT_BYTES>()?;
        let registers = match rest.len() {
            REGISTERS => rest.try_into().ok()?,
            length if length % 2 == 0 && length / 2 <= SPARSE_PAIRS_MAX => {
                let mut registers = [0; REGISTERS];
                for pair in rest.chunks_exact(2) {
                    registers[usize::from(pair[0])] = pair[1];
                }
                registers
            }
            _ => return None,
        };
        Some(KeptCount { count: u64::from_be_bytes(*count), registers })
    }

    fn encode(&self) -> Vec<u8> {
        let set = self.registers.iter().filter(|&&rank| rank != 0).count();
        let mut bytes = self.count.to_be_bytes().to_vec();
        if set > SPARSE_PAIRS_MAX {
            bytes.extend_from_slice(&self.registers);
        } else {
            for (register, &rank) in self.registers.iter().enumerate().filter(|(_, rank)| **rank != 0) {
                bytes.extend_from_slice(&[register as u8, rank]);
            }
        }
        bytes
    }
}

/// The count changes of one transaction, gathered per key and written once at its end
/// (`flush`): within a group commit, popular values (a followed pubkey, a reacted-to note)
/// are touched by many events, and each key is then read and written once, not once per event.
#[derive(Default)]
pub(crate) struct PendingCounts(HashMap<Vec<u8>, Pending>);

struct Pending {
    delta: i64,
    /// The registers of the authors added in this transaction, if the value sets an offset.
    added: Option<Hll>,
}

impl PendingCounts {
    /// Writes every gathered change: counts moved by their deltas (an entry that reaches 0 is
    /// deleted), registers merged with the added authors'.
    pub(crate) fn flush(&mut self, txn: &mut RwTxn, table: Table) -> Result<(), StorageError> {
        for (entry, pending) in self.0.drain() {
            let mut kept = match table.get(txn, &entry)? {
                Some(bytes) => KeptCount::decode(bytes).ok_or_else(corrupt)?,
                None => KeptCount { count: 0, registers: [0; REGISTERS] },
            };
            kept.count = kept.count.saturating_add_signed(pending.delta);
            if let Some(added) = pending.added {
                for (register, rank) in kept.registers.iter_mut().zip(added.registers()) {
                    *register = (*register).max(*rank);
                }
            }
            if kept.count == 0 {
                table.delete(txn, &entry)?;
            } else {
                table.put(txn, &entry, &kept.encode())?;
            }
        }
        Ok(())
    }
}

fn corrupt() -> StorageError {
    StorageError::Corrupt("a kept count cannot be read".into())
}

impl PendingCounts {
    /// Counts a stored event under each distinct qualifying tag value of it.
    pub(crate) fn count_tags(&mut self, event: &Event) {
        let mut seen: Vec<Vec<u8>> = Vec::new();
        for tag in event.tags() {
            let ([name, value, ..], Some(&letter)) = (tag.as_slice(), tag[0].as_bytes().first()) else { continue };
            if name.len() != 1 || !OFFSET_LETTERS.contains(&letter) {
                continue;
            }
            let entry = key(event.kind(), &schema::tag_prefix(letter, value));
            if seen.contains(&entry) {
                continue;
            }
            let pending = self.0.entry(entry.clone()).or_insert(Pending { delta: 0, added: None });
            pending.delta += 1;
            if let Some(offset) = offset_of(letter, value) {
                pending.added.get_or_insert_with(|| Hll::new(offset)).add(event.pubkey());
            }
            seen.push(entry);
        }
    }

    /// Takes a removed event out of the counts `counted_keys` names.
    pub(crate) fn uncount_tags(&mut self, entries: Vec<Vec<u8>>) {
        for entry in entries {
            self.0.entry(entry).or_insert(Pending { delta: 0, added: None }).delta -= 1;
        }
    }
}

/// The counts a stored event is in, from its record's tag section (which holds each distinct
/// value once, exactly as `count_tags` counted them).
pub(crate) fn counted_keys(record: &Record) -> Vec<Vec<u8>> {
    record
        .tag_entries()
        .filter(|entry| entry.first().is_some_and(|letter| OFFSET_LETTERS.contains(letter)))
        .map(|entry| key(record.header.kind, entry))
        .collect()
}

impl Store {
    /// The kept count of events of `kind` tagging `letter` `value` (events expired but not yet
    /// swept included), with their authors' registers.
    pub fn kept_count(&self, kind: u16, letter: u8, value: &str) -> Result<KeptCount, StorageError> {
        let txn = self.env.read_txn()?;
        let entry = key(kind, &schema::tag_prefix(letter, value));
        match self.tables.tag_counts.get(&txn, &entry)? {
            Some(bytes) => KeptCount::decode(bytes).ok_or_else(corrupt),
            None => Ok(KeptCount { count: 0, registers: [0; REGISTERS] }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_round_trip_sparse_and_dense() {
        for set in [0usize, 1, 5, 127, 128, 200, 256] {
            let mut registers = [0u8; REGISTERS];
            for register in 0..set {
                registers[(register * 7) % REGISTERS] = (register % 50 + 1) as u8;
            }
            let kept = KeptCount { count: 1_000 + set as u64, registers };
            let bytes = kept.encode();
            let expected_length = if set > SPARSE_PAIRS_MAX { 8 + REGISTERS } else { 8 + 2 * set };
            assert_eq!(bytes.len(), expected_length, "{set} registers set");
            assert_eq!(KeptCount::decode(&bytes), Some(kept), "{set} registers set");
        }
        assert_eq!(KeptCount::decode(&[0; 7]), None);
        assert_eq!(KeptCount::decode(&[0; 9]), None, "an odd tail is neither form");
    }
}
