//! The on-disk layout: table names, key encodings (big-endian so byte order is time order) and
//! the packed record each stored event is kept in. Pure byte manipulation, no LMDB calls.

use parrhesia_engine::{Event, Id, KindClass, Pubkey};
use sha2::{Digest, Sha256};

/// Bumped whenever a key or record layout changes; a store of another version is refused.
pub const SCHEMA_VERSION: u32 = 1;

pub const TABLE_EVENTS: &str = "events";
pub const TABLE_IDS: &str = "ids";
pub const TABLE_REPLACEABLE: &str = "replaceable";
pub const TABLE_DELETED: &str = "deleted";
pub const TABLE_EXPIRATION: &str = "expiration";
pub const TABLE_META: &str = "meta";
pub const TABLE_COUNT: u32 = 11;

pub const META_SCHEMA_VERSION: &[u8] = b"schema_version";
pub const META_NODE_ID: &[u8] = b"node_id";
pub const META_EPOCH: &[u8] = b"epoch";
pub const META_LAST_SEQ: &[u8] = b"last_seq";

/// The time-ordered indexes: every key is `field ++ created_at ++ seq`, value empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeIndex {
    /// `created_at ++ seq`
    Time,
    /// `pubkey ++ created_at ++ seq`
    Pubkey,
    /// `kind ++ created_at ++ seq`
    Kind,
    /// `pubkey ++ kind ++ created_at ++ seq`
    PubkeyKind,
    /// `letter ++ encoded value ++ created_at ++ seq`
    Tag,
}

impl TimeIndex {
    pub const ALL: [TimeIndex; 5] =
        [TimeIndex::Time, TimeIndex::Pubkey, TimeIndex::Kind, TimeIndex::PubkeyKind, TimeIndex::Tag];

    pub fn table_name(self) -> &'static str {
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

/// Tag values and `d` identifiers are encoded self-delimiting so a key prefix never matches a
/// longer value: 64-char lowercase hex as its 32 bytes, short text with its length, long text by
/// its sha256 (queries re-check the real value, so a hashed key only narrows the scan).
const VALUE_HEX: u8 = 0;
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

/// Appends `created_at ++ seq`, the suffix of every time-ordered index key.
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

/// Every index key of an event, with the table it belongs in (`ids` excluded).
pub fn index_keys(event: &Event, seq: u64) -> Vec<(TimeIndex, Vec<u8>)> {
    let created_at = event.created_at();
    let kind = event.kind().to_be_bytes();
    let with_suffix = |prefix: &[u8]| {
        let mut key = Vec::with_capacity(prefix.len() + 16);
        key.extend_from_slice(prefix);
        time_suffix(&mut key, created_at, seq);
        key
    };
    let mut keys = vec![
        (TimeIndex::Time, with_suffix(&[])),
        (TimeIndex::Pubkey, with_suffix(event.pubkey())),
        (TimeIndex::Kind, with_suffix(&kind)),
        (TimeIndex::PubkeyKind, with_suffix(&[&event.pubkey()[..], &kind[..]].concat())),
    ];
    for tag in event.tags() {
        if tag.len() >= 2 && tag[0].len() == 1 && tag[0].as_bytes()[0].is_ascii_alphabetic() {
            let key = with_suffix(&tag_prefix(tag[0].as_bytes()[0], &tag[1]));
            if !keys.iter().any(|(index, existing)| *index == TimeIndex::Tag && *existing == key) {
                keys.push((TimeIndex::Tag, key));
            }
        }
    }
    keys
}

/// The fixed part of a stored record, before the event JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: Id,
    pub pubkey: Pubkey,
    pub created_at: u64,
    pub kind: u16,
    /// NIP-40 expiration; 0 when the event does not expire.
    pub expiration: u64,
    /// The node that first accepted the event, and its sequence number there.
    pub origin: [u8; 32],
    pub origin_seq: u64,
}

const RECORD_VERSION: u8 = 1;
pub const HEADER_BYTES: usize = 1 + 32 + 32 + 8 + 2 + 8 + 32 + 8;

impl Header {
    pub fn encode(&self, json: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES + json.len());
        out.push(RECORD_VERSION);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.pubkey);
        out.extend_from_slice(&self.created_at.to_be_bytes());
        out.extend_from_slice(&self.kind.to_be_bytes());
        out.extend_from_slice(&self.expiration.to_be_bytes());
        out.extend_from_slice(&self.origin);
        out.extend_from_slice(&self.origin_seq.to_be_bytes());
        out.extend_from_slice(json.as_bytes());
        out
    }

    /// Splits a record into its header and JSON; `None` if the record is not one we wrote.
    pub fn decode(record: &[u8]) -> Option<(Header, &str)> {
        if record.len() < HEADER_BYTES || record[0] != RECORD_VERSION {
            return None;
        }
        let field = |start: usize, len: usize| &record[start..start + len];
        let header = Header {
            id: field(1, 32).try_into().ok()?,
            pubkey: field(33, 32).try_into().ok()?,
            created_at: u64::from_be_bytes(field(65, 8).try_into().ok()?),
            kind: u16::from_be_bytes(field(73, 2).try_into().ok()?),
            expiration: u64::from_be_bytes(field(75, 8).try_into().ok()?),
            origin: field(83, 32).try_into().ok()?,
            origin_seq: u64::from_be_bytes(field(115, 8).try_into().ok()?),
        };
        let json = std::str::from_utf8(&record[HEADER_BYTES..]).ok()?;
        Some((header, json))
    }

    /// Whether the event has expired at `now` (NIP-40: at or after its expiration).
    pub fn expired(&self, now: u64) -> bool {
        self.expiration != 0 && self.expiration <= now
    }
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
    fn header_round_trips() {
        let header = Header {
            id: [1; 32],
            pubkey: [2; 32],
            created_at: 3,
            kind: 4,
            expiration: 5,
            origin: [6; 32],
            origin_seq: 7,
        };
        let record = header.encode("{}");
        assert_eq!(Header::decode(&record), Some((header, "{}")));
        assert_eq!(Header::decode(&record[..10]), None);
    }

    #[test]
    fn time_suffix_round_trips() {
        let mut key = vec![9, 9];
        time_suffix(&mut key, 1_700_000_000, 42);
        assert_eq!(split_time_suffix(&key), (1_700_000_000, 42));
    }
}
