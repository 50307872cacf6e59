//! The on-disk layout: table names and key encodings (big-endian so byte order is time order).
//! The packed record is in `record.rs`. Pure byte manipulation, no LMDB calls.

use parrhesia_engine::{Event, KindClass, Pubkey};

use crate::record::Record;
use sha2::{Digest, Sha256};

/// Bumped whenever a key or record layout changes; a store of another version is refused.
/// Version 2: records carry their indexed tags. Version 3: records keep id, pubkey and sig
/// once, as bytes, and only the rest of the JSON (`record.rs`). Version 4: records carry their
/// origin's store epoch; the `origin_log` and `cursors` tables (replication). Version 5: the
/// `policy` and `audit` tables (NIP-86), banned event ids refused by `apply`, and the
/// `tag_counts` table (NIP-45 counts and registers kept at write time). Version 6: the NIP-50
/// word index (`search_postings`, `search_words`, meta `search_*`; `words.rs`). Version 7: the
/// time indexes keep `created_at ++ seq` as 16-byte duplicates under their field
/// (`DUP_SORT | DUP_FIXED`) instead of repeating the field in one key per event, and
/// `origin_log` keeps `position ++ seq` under its log's key the same way. Version 8: records
/// pack the 64-char hex strings of their JSON (`record.rs`), `ids` keys are the id's first
/// 8 bytes and the seq (`id_key`), word index postings are 5 bytes (`words::posting`), and
/// records name their origin log by the number the `logs` table gives it.
pub const SCHEMA_VERSION: u32 = 8;

pub const TABLE_EVENTS: &str = "events";
/// `id_key`: the id's first 8 bytes ++ seq -> nothing.
pub const TABLE_IDS: &str = "ids";
pub const TABLE_REPLACEABLE: &str = "replaceable";
pub const TABLE_DELETED: &str = "deleted";
pub const TABLE_EXPIRATION: &str = "expiration";
pub const TABLE_META: &str = "meta";
/// `origin ++ origin epoch` -> `origin seq ++ local seq`, one duplicate per position
/// (`DUP_SORT | DUP_FIXED`): every origin log this node holds.
pub const TABLE_ORIGIN_LOG: &str = "origin_log";
/// `origin ++ origin epoch` -> the next origin seq this node has not pulled (replication cursor).
pub const TABLE_CURSORS: &str = "cursors";
/// The store's numbers for the origin logs it holds, both ways: `log_number_key(number)` ->
/// `origin ++ origin epoch`, and `log_key(origin ++ origin epoch)` -> `number` (4 bytes). A
/// record keeps its log's number (4 bytes) instead of the log (40).
pub const TABLE_LOGS: &str = "logs";
/// `class ++ key` -> reason: the operator's policy (`policy.rs`).
pub const TABLE_POLICY: &str = "policy";
/// `unix ms ++ NIP-98 event id` -> caller, method, params: every management call.
pub const TABLE_AUDIT: &str = "audit";
/// `kind ++ letter ++ encoded value` -> count ++ 256 HyperLogLog registers (`counts.rs`).
pub const TABLE_TAG_COUNTS: &str = "tag_counts";
/// `word` -> seq (5 bytes big-endian, `words::posting`) for each event whose content holds it (`DUP_SORT | DUP_FIXED`; `words.rs`).
pub const TABLE_SEARCH_POSTINGS: &str = "search_postings";
/// `word` -> how many indexed events hold it.
pub const TABLE_SEARCH_WORDS: &str = "search_words";
pub const TABLE_COUNT: u32 = 19;

pub const META_SCHEMA_VERSION: &[u8] = b"schema_version";
pub const META_NODE_ID: &[u8] = b"node_id";
pub const META_EPOCH: &[u8] = b"epoch";
pub const META_LAST_SEQ: &[u8] = b"last_seq";
/// The kinds whose content the word index holds (`u16` big-endian each).
pub const META_SEARCH_KINDS: &[u8] = b"search_kinds";
/// Indexed events, and their total length in words (BM25's average document length).
pub const META_SEARCH_DOCUMENTS: &[u8] = b"search_documents";
pub const META_SEARCH_LENGTH: &[u8] = b"search_length";
/// Present while `reindex` rebuilds the word index; a store holding it is refused.
pub const META_SEARCH_REBUILDING: &[u8] = b"search_rebuilding";

/// The time-ordered indexes (`DUP_SORT | DUP_FIXED`): the key is the field, and each event
/// under it is one 16-byte duplicate `created_at ++ seq` (big-endian: LMDB keeps a key's
/// duplicates in time order and packs them, so a field is stored once, not once per event).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeIndex {
    /// `TIME_KEY` (one key holds every event)
    Time,
    /// `pubkey`
    Pubkey,
    /// `kind`
    Kind,
    /// `pubkey ++ kind`
    PubkeyKind,
    /// `letter ++ encoded value`
    Tag,
}

/// Tables of fixed-size duplicates (`DUP_SORT | DUP_FIXED`): a word's postings (5 bytes each),
/// a time index's events under one field and a log's positions (16 bytes each).
pub fn is_dup_sort(table: &str) -> bool {
    table == TABLE_SEARCH_POSTINGS
        || table == TABLE_ORIGIN_LOG
        || TimeIndex::ALL.iter().any(|index| index.table_name() == table)
}

/// The bytes of an id that `ids` keys hold: enough to tell events apart (a reader confirms the
/// whole id from the record), half the bytes of an entry keyed by the whole id.
pub const ID_PREFIX_BYTES: usize = 8;

/// The `ids` key of the event `seq` with this id.
pub fn id_key(id: &parrhesia_engine::Id, seq: u64) -> [u8; ID_PREFIX_BYTES + 8] {
    let mut key = [0; ID_PREFIX_BYTES + 8];
    key[..ID_PREFIX_BYTES].copy_from_slice(&id[..ID_PREFIX_BYTES]);
    key[ID_PREFIX_BYTES..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The one key of the `time` index (LMDB keys cannot be empty).
pub const TIME_KEY: &[u8] = &[0];

/// The duplicate of an event in a time index.
pub fn time_dup(created_at: u64, seq: u64) -> [u8; 16] {
    let mut dup = [0; 16];
    dup[..8].copy_from_slice(&created_at.to_be_bytes());
    dup[8..].copy_from_slice(&seq.to_be_bytes());
    dup
}

impl TimeIndex {
    pub const ALL: [TimeIndex; 5] =
        [TimeIndex::Time, TimeIndex::Pubkey, TimeIndex::Kind, TimeIndex::PubkeyKind, TimeIndex::Tag];

    pub const fn table_name(self) -> &'static str {
        match self {
            TimeIndex::Time => "time",
            TimeIndex::Pubkey => "pubkey_time",
            TimeIndex::Kind => "kind_time",
            TimeIndex::PubkeyKind => "pubkey_kind_time",
            TimeIndex::Tag => "tag_time",
        }
    }
}

/// `deleted` key prefixes.
pub const DELETED_ID: u8 = b'i';
pub const DELETED_COORDINATE: u8 = b'a';
pub const DELETED_VANISH: u8 = b'v';

/// `policy` key classes: one byte, then the key.
pub(crate) const BANNED_PUBKEY: u8 = b'p';
pub(crate) const ALLOWED_PUBKEY: u8 = b'a';
pub(crate) const BANNED_EVENT: u8 = b'e';
pub(crate) const ALLOWED_KIND: u8 = b'k';
pub(crate) const BLOCKED_IP: u8 = b'i';
pub(crate) const RELAY_NAME: u8 = b'n';
pub(crate) const RELAY_DESCRIPTION: u8 = b'd';
pub(crate) const RELAY_ICON: u8 = b'c';

/// Tag values and `d` identifiers are encoded self-delimiting so a key prefix never matches a
/// longer value: 64-char lowercase hex as its 32 bytes, short text with its length, long text by
/// its sha256 (queries re-check the real value, so a hashed key only narrows the scan).
pub(crate) const VALUE_HEX: u8 = 0;
const VALUE_SHORT: u8 = 1;
const VALUE_HASHED: u8 = 2;
const VALUE_SHORT_BYTES_MAX: usize = 60;

pub fn encode_value(value: &str, out: &mut Vec<u8>) {
    if let Some(bytes) = parrhesia_engine::hex::decode_array::<32>(value) {
        out.push(VALUE_HEX);
        out.extend_from_slice(&bytes);
    } else if value.len() <= VALUE_SHORT_BYTES_MAX {
        out.push(VALUE_SHORT);
        out.push(value.len() as u8);
        out.extend_from_slice(value.as_bytes());
    } else {
        out.push(VALUE_HASHED);
        out.extend_from_slice(&sha256(value.as_bytes()));
    }
}

/// The 32 bytes of a tag section entry `letter ++ encoded value` whose value is 64-char hex.
pub fn hex_tag_value(entry: &[u8], letter: u8) -> Option<&[u8; 32]> {
    match entry {
        [first, VALUE_HEX, value @ ..] if *first == letter => value.try_into().ok(),
        _ => None,
    }
}

/// The length of the encoded value at the start of `bytes`, if it is one.
pub fn encoded_value_bytes(bytes: &[u8]) -> Option<usize> {
    match *bytes.first()? {
        VALUE_HEX | VALUE_HASHED => Some(33),
        VALUE_SHORT => Some(2 + usize::from(*bytes.get(1)?)),
        _ => None,
    }
}

/// `letter ++ value`: the prefix of every `tag_time` key for that tag value.
pub fn tag_prefix(letter: u8, value: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + 34 + 16);
    key.push(letter);
    encode_value(value, &mut key);
    key
}

/// `pubkey ++ kind ++ d`: the key of a replaceable or addressable coordinate (`d` is empty
/// for replaceable kinds).
pub fn coordinate_key(pubkey: &Pubkey, kind: u16, d: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(32 + 2 + 34);
    key.extend_from_slice(pubkey);
    key.extend_from_slice(&kind.to_be_bytes());
    if KindClass::of(kind) == KindClass::Addressable {
        encode_value(d, &mut key);
    }
    key
}

/// The coordinate of a replaceable or addressable event; `None` for other kinds.
pub fn event_coordinate(event: &Event) -> Option<Vec<u8>> {
    match event.kind_class() {
        KindClass::Replaceable | KindClass::Addressable => {
            Some(coordinate_key(event.pubkey(), event.kind(), event.d_tag()))
        }
        KindClass::Regular | KindClass::Ephemeral => None,
    }
}

/// The `origin_log` duplicate of an event at a position of a log (under the log's
/// `cursor_key`): positions in order, one event each.
pub fn origin_log_dup(position: u64, seq: u64) -> [u8; 16] {
    time_dup(position, seq)
}

/// The low byte of an epoch: the class of kinds its log holds (0: every kind without a class of
/// its own). Epochs are drawn with it 0 (see `Store::begin_epoch_with_classes`).
pub const LOG_CLASS_MASK: u64 = 0xFF;

/// The `cursors` key of a log, and its `origin_log` key.
pub fn cursor_key(origin: &[u8; 32], epoch: u64) -> [u8; 40] {
    let mut key = [0; 40];
    key[..32].copy_from_slice(origin);
    key[32..].copy_from_slice(&epoch.to_be_bytes());
    key
}

/// The first byte of every `logs` key that holds a number (`log_number_key`), and of every key
/// that holds a log (`log_key`).
pub const LOG_NUMBER_PREFIX: u8 = b'n';
const LOG_PREFIX: u8 = b'l';

/// The `logs` key under which the log numbered `number` is kept.
pub fn log_number_key(number: u32) -> [u8; 5] {
    let mut key = [LOG_NUMBER_PREFIX; 5];
    key[1..].copy_from_slice(&number.to_be_bytes());
    key
}

/// The number a `log_number_key` holds; `None` for anything else.
pub fn number_of_log_number_key(key: &[u8]) -> Option<u32> {
    match key {
        [LOG_NUMBER_PREFIX, number @ ..] => Some(u32::from_be_bytes(number.try_into().ok()?)),
        _ => None,
    }
}

/// The `logs` key under which the number of the log (`cursor_key`) is kept.
pub fn log_key(log: &[u8; 40]) -> [u8; 41] {
    let mut key = [LOG_PREFIX; 41];
    key[1..].copy_from_slice(log);
    key
}

/// Appends `time ++ seq` (the `expiration` keys).
pub fn time_suffix(key: &mut Vec<u8>, created_at: u64, seq: u64) {
    key.extend_from_slice(&created_at.to_be_bytes());
    key.extend_from_slice(&seq.to_be_bytes());
}

/// Splits the `created_at ++ seq` suffix off an index key.
pub fn split_time_suffix(key: &[u8]) -> (u64, u64) {
    assert!(key.len() >= 16, "index key shorter than its time suffix");
    let tail = &key[key.len() - 16..];
    (
        u64::from_be_bytes(tail[..8].try_into().expect("8 bytes")),
        u64::from_be_bytes(tail[8..].try_into().expect("8 bytes")),
    )
}

/// Every time index key of a stored event, with the table it belongs in (`ids` excluded); the
/// event's duplicate under each is `time_dup(created_at, seq)`. Built from the record alone,
/// so removing an event needs no JSON parse.
pub fn index_keys(record: &Record) -> Vec<(TimeIndex, Vec<u8>)> {
    let header = &record.header;
    let kind = header.kind.to_be_bytes();
    let mut keys = vec![
        (TimeIndex::Time, TIME_KEY.to_vec()),
        (TimeIndex::Pubkey, header.pubkey.to_vec()),
        (TimeIndex::Kind, kind.to_vec()),
        (TimeIndex::PubkeyKind, [&header.pubkey[..], &kind[..]].concat()),
    ];
    // The tag section holds each (letter, value) once: one key each.
    keys.extend(record.tag_entries().map(|entry| (TimeIndex::Tag, entry.to_vec())));
    keys
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_encoding_is_self_delimiting() {
        let hex = "ab".repeat(32);
        let long = "x".repeat(61);
        let cases: Vec<(&str, usize)> = vec![
            (&hex, 33),
            ("", 2),
            ("ab", 4),
            (&long, 33),
            ("AB".repeat(16).leak(), 2 + 32), // uppercase hex is text, not bytes
        ];
        for (value, length) in cases {
            let mut out = Vec::new();
            encode_value(value, &mut out);
            assert_eq!(out.len(), length, "value {value:?}");
        }
        // "ab" is not a prefix of "abc" once encoded.
        assert!(!tag_prefix(b't', "abc").starts_with(&tag_prefix(b't', "ab")));
    }

    #[test]
    fn time_suffix_round_trips() {
        let mut key = vec![9, 9];
        time_suffix(&mut key, 1_700_000_000, 42);
        assert_eq!(split_time_suffix(&key), (1_700_000_000, 42));
    }
}
