//! The packed record each stored event is kept in, read in place: a fixed header (id, pubkey,
//! created_at, kind, expiration, origin), the event's indexed tags (single-letter name and
//! encoded value), then its canonical JSON. A filter is checked against the header and the tag
//! section without touching the JSON; only NIP-50 search reads the content.

use parrhesia_engine::{Event, Filter, Id, KindClass, Pubkey};

use crate::schema;

/// The fixed part of a stored record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

const RECORD_VERSION: u8 = 2;
/// Schema version 1 records: the header above without the tag section length, then the JSON.
const RECORD_VERSION_1: u8 = 1;
const HEADER_BYTES_VERSION_1: usize = 1 + 32 + 32 + 8 + 2 + 8 + 32 + 8;
/// version, id, pubkey, created_at, kind, expiration, origin, origin seq, tag section length.
pub const HEADER_BYTES: usize = 1 + 32 + 32 + 8 + 2 + 8 + 32 + 8 + 4;

impl Header {
    /// Whether the event has expired at `now` (NIP-40: at or after its expiration).
    pub fn expired(&self, now: u64) -> bool {
        self.expiration != 0 && self.expiration <= now
    }
}

/// The tag section of an event: for every tag with a single-letter name (`a-z`, `A-Z`) and a
/// value, `letter ++ encoded value`, first occurrence only, in tag order. These are exactly the
/// tags a filter's `#x` condition can match and exactly the `tag_time` key prefixes.
pub fn tag_section(event: &Event) -> Vec<u8> {
    let mut section = Vec::new();
    let mut entry = Vec::with_capacity(1 + 62);
    for tag in event.tags() {
        if tag.len() >= 2 && tag[0].len() == 1 && tag[0].as_bytes()[0].is_ascii_alphabetic() {
            entry.clear();
            entry.push(tag[0].as_bytes()[0]);
            schema::encode_value(&tag[1], &mut entry);
            if !TagEntries(&section).any(|existing| existing == entry) {
                section.extend_from_slice(&entry);
            }
        }
    }
    section
}

/// Encodes a whole record.
pub fn encode(header: &Header, tags: &[u8], json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + tags.len() + json.len());
    out.push(RECORD_VERSION);
    out.extend_from_slice(&header.id);
    out.extend_from_slice(&header.pubkey);
    out.extend_from_slice(&header.created_at.to_be_bytes());
    out.extend_from_slice(&header.kind.to_be_bytes());
    out.extend_from_slice(&header.expiration.to_be_bytes());
    out.extend_from_slice(&header.origin);
    out.extend_from_slice(&header.origin_seq.to_be_bytes());
    let tags_bytes = u32::try_from(tags.len()).expect("a tag section fits the event size limit");
    out.extend_from_slice(&tags_bytes.to_be_bytes());
    out.extend_from_slice(tags);
    out.extend_from_slice(json.as_bytes());
    out
}

/// A stored record, borrowed from the page it lives on (valid for its read transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub seq: u64,
    pub header: Header,
    tags: &'a [u8],
    json: &'a [u8],
}

impl<'a> Record<'a> {
    /// Splits a record into its parts; `None` if it is not a record this version writes. The
    /// JSON is not re-validated: the writer checked every record before storing it.
    pub fn decode(seq: u64, bytes: &'a [u8]) -> Option<Record<'a>> {
        if bytes.len() < HEADER_BYTES || bytes[0] != RECORD_VERSION {
            return None;
        }
        let field = |start: usize, len: usize| &bytes[start..start + len];
        let header = Header {
            id: field(1, 32).try_into().ok()?,
            pubkey: field(33, 32).try_into().ok()?,
            created_at: u64::from_be_bytes(field(65, 8).try_into().ok()?),
            kind: u16::from_be_bytes(field(73, 2).try_into().ok()?),
            expiration: u64::from_be_bytes(field(75, 8).try_into().ok()?),
            origin: field(83, 32).try_into().ok()?,
            origin_seq: u64::from_be_bytes(field(115, 8).try_into().ok()?),
        };
        let tags_bytes = u32::from_be_bytes(field(123, 4).try_into().ok()?) as usize;
        let tags = bytes.get(HEADER_BYTES..HEADER_BYTES.checked_add(tags_bytes)?)?;
        Some(Record { seq, header, tags, json: &bytes[HEADER_BYTES + tags_bytes..] })
    }

    /// The event's canonical JSON, as stored.
    pub fn json(&self) -> &'a [u8] {
        self.json
    }

    /// The JSON as text, checked (for the few readers that parse it).
    pub fn json_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.json).ok()
    }

    /// The tag section: `letter ++ encoded value` entries (see `tag_section`).
    pub fn tag_entries(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        TagEntries(self.tags)
    }

    /// The raw tag section.
    pub fn tag_section(&self) -> &'a [u8] {
        self.tags
    }

    /// `pubkey ++ kind ++ d` for replaceable and addressable kinds, as `schema::coordinate_key`.
    pub fn coordinate(&self) -> Option<Vec<u8>> {
        let class = KindClass::of(self.header.kind);
        if !matches!(class, KindClass::Replaceable | KindClass::Addressable) {
            return None;
        }
        let mut key = Vec::with_capacity(32 + 2 + 34);
        key.extend_from_slice(&self.header.pubkey);
        key.extend_from_slice(&self.header.kind.to_be_bytes());
        if class == KindClass::Addressable {
            match self.tag_entries().find(|entry| entry[0] == b'd') {
                Some(entry) => key.extend_from_slice(&entry[1..]),
                None => schema::encode_value("", &mut key),
            }
        }
        Some(key)
    }
}

/// The event JSON of a record written by this or any earlier schema version (for `export`,
/// which must read stores this build refuses to open); `None` for anything else.
pub fn json_of_any_version(bytes: &[u8]) -> Option<&[u8]> {
    match *bytes.first()? {
        RECORD_VERSION_1 => bytes.get(HEADER_BYTES_VERSION_1..),
        RECORD_VERSION => Some(Record::decode(0, bytes)?.json()),
        _ => None,
    }
}

/// Walks a tag section entry by entry; stops at the first entry it cannot read.
struct TagEntries<'a>(&'a [u8]);

impl<'a> Iterator for TagEntries<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let value_bytes = schema::encoded_value_bytes(self.0.get(1..)?)?;
        let (entry, rest) = self.0.split_at_checked(1 + value_bytes)?;
        self.0 = rest;
        Some(entry)
    }
}

/// A filter prepared for stored records: its tag values encoded as the tag section stores them,
/// once, so that a record is checked by comparing bytes.
#[derive(Clone, Debug)]
pub struct RecordFilter {
    pub filter: Filter,
    /// Per tag condition: `letter ++ encoded value` for each of its values.
    tags: Vec<Vec<Vec<u8>>>,
}

impl RecordFilter {
    pub fn new(filter: Filter) -> RecordFilter {
        let tags = filter
            .tags
            .iter()
            .map(|condition| condition.values.iter().map(|value| schema::tag_prefix(condition.letter, value)).collect())
            .collect();
        RecordFilter { filter, tags }
    }

    /// Whether the stored event passes every condition (`limit` is not a condition). Reads the
    /// JSON only for a NIP-50 search; `None` if that JSON cannot be read (a damaged store).
    pub fn matches(&self, record: &Record) -> Option<bool> {
        let header = &record.header;
        if !self.filter.matches_header(&header.id, &header.pubkey, header.kind, header.created_at) {
            return Some(false);
        }
        let tags_hold = self
            .tags
            .iter()
            .all(|wanted| record.tag_entries().any(|entry| wanted.iter().any(|value| value.as_slice() == entry)));
        if !tags_hold {
            return Some(false);
        }
        match &self.filter.search {
            None => Some(true),
            Some(query) => {
                let event = Event::parse_trusted(record.json_str()?)?;
                Some(parrhesia_engine::filter::search_matches(query, event.content()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use parrhesia_engine::{Keys, Limits};

    use super::*;

    fn header() -> Header {
        Header { id: [1; 32], pubkey: [2; 32], created_at: 3, kind: 4, expiration: 5, origin: [6; 32], origin_seq: 7 }
    }

    fn signed(kind: u16, tags: &[&[&str]], content: &str) -> Event {
        let keys = Keys::from_secret_bytes([7; 32]).expect("valid secret");
        let tags = tags.iter().map(|tag| tag.iter().map(|part| part.to_string()).collect()).collect();
        keys.sign(1_700_000_000, kind, tags, content.into())
    }

    fn record_of(event: &Event) -> Vec<u8> {
        let header = Header {
            id: *event.id(),
            pubkey: *event.pubkey(),
            created_at: event.created_at(),
            kind: event.kind(),
            expiration: 0,
            origin: [0; 32],
            origin_seq: 1,
        };
        encode(&header, &tag_section(event), event.json())
    }

    #[test]
    fn record_round_trips() {
        let tags = [&b"e"[..], &[0], &[b'x'; 32]].concat();
        let bytes = encode(&header(), &tags, "{}");
        let record = Record::decode(9, &bytes).expect("decodes");
        assert_eq!(
            (record.seq, record.header, record.tag_section(), record.json()),
            (9, header(), &tags[..], &b"{}"[..])
        );
        assert_eq!(Record::decode(9, &bytes[..10]), None, "truncated header");
        assert_eq!(Record::decode(9, &bytes[..HEADER_BYTES + 3]), None, "truncated tag section");
        let mut other_version = bytes.clone();
        other_version[0] = 1;
        assert_eq!(Record::decode(9, &other_version), None);
        assert_eq!(json_of_any_version(&bytes), Some(&b"{}"[..]));
        let version_1 = [&[1u8][..], &[0; HEADER_BYTES_VERSION_1 - 1], b"{\"a\":1}"].concat();
        assert_eq!(json_of_any_version(&version_1), Some(&b"{\"a\":1}"[..]), "a version 1 record");
        assert_eq!(json_of_any_version(&[3, 0, 0]), None, "an unknown version");
    }

    #[test]
    fn tag_section_keeps_single_letter_tags_once() {
        let hex = "ab".repeat(32);
        let long = "u".repeat(61);
        let event = signed(
            1,
            &[
                &["e", &hex],
                &["p", &hex, "wss://relay"],
                &["e", &hex],
                &["t", "rust"],
                &["alt", "x"],
                &["t"],
                &["r", &long],
            ],
            "",
        );
        let bytes = record_of(&event);
        let record = Record::decode(1, &bytes).expect("decodes");
        let entries: Vec<&[u8]> = record.tag_entries().collect();
        let expected: Vec<Vec<u8>> = vec![
            schema::tag_prefix(b'e', &hex),
            schema::tag_prefix(b'p', &hex),
            schema::tag_prefix(b't', "rust"),
            schema::tag_prefix(b'r', &long),
        ];
        assert_eq!(entries, expected.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert_eq!(record.json(), event.json().as_bytes());
    }

    /// Each case: the event's tags, a filter, and whether the filter matches. The packed check
    /// must agree with the engine's `Filter::matches` on the parsed event in every case.
    #[test]
    fn packed_tag_filtering_agrees_with_the_engine() {
        let hex = "ab".repeat(32);
        let upper = "AB".repeat(32);
        let long = "u".repeat(100);
        let cases: Vec<(Vec<Vec<&str>>, String, bool)> = vec![
            (vec![vec!["e", &hex]], format!(r##"{{"#e":["{hex}"]}}"##), true),
            (vec![vec!["e", &hex]], format!(r##"{{"#p":["{hex}"]}}"##), false),
            (vec![vec!["t", "rust"]], r##"{"#t":["go","rust"]}"##.into(), true),
            (vec![vec!["t", "rust"]], r##"{"#t":["rus"]}"##.into(), false),
            (vec![vec!["t", "rus"]], r##"{"#t":["rust"]}"##.into(), false),
            (vec![vec!["t", "Rust"]], r##"{"#t":["rust"]}"##.into(), false),
            (vec![vec!["T", "rust"]], r##"{"#t":["rust"]}"##.into(), false),
            (vec![vec!["T", "rust"]], r##"{"#T":["rust"]}"##.into(), true),
            (vec![vec!["r", &long]], format!(r##"{{"#r":["{long}"]}}"##), true),
            (vec![vec!["r", &long]], format!(r##"{{"#r":["{}"]}}"##, "u".repeat(99)), false),
            (vec![vec!["x", &upper]], format!(r##"{{"#x":["{upper}"]}}"##), true),
            (vec![vec!["x", &upper]], format!(r##"{{"#x":["{hex}"]}}"##), false),
            (vec![vec!["t"]], r##"{"#t":[""]}"##.into(), false),
            (vec![vec!["t", ""]], r##"{"#t":[""]}"##.into(), true),
            (vec![vec!["alt", "x"]], r##"{"#a":["x"]}"##.into(), false),
            (vec![vec!["t", "a"], vec!["d", "b"]], r##"{"#t":["a"],"#d":["b"]}"##.into(), true),
            (vec![vec!["t", "a"], vec!["d", "c"]], r##"{"#t":["a"],"#d":["b"]}"##.into(), false),
            (vec![vec!["t", "a", "b"]], r##"{"#t":["b"]}"##.into(), false),
            (vec![vec!["t", "a"]], r##"{"kinds":[1],"#t":["a"]}"##.into(), true),
            (vec![vec!["t", "a"]], r##"{"kinds":[2],"#t":["a"]}"##.into(), false),
            (vec![], r##"{"#t":["a"]}"##.into(), false),
            (vec![vec!["t", "a"]], r##"{"search":"hello"}"##.into(), true),
            (vec![vec!["t", "a"]], r##"{"search":"bye"}"##.into(), false),
        ];
        for (tags, filter_text, expected) in cases {
            let tags: Vec<&[&str]> = tags.iter().map(Vec::as_slice).collect();
            let event = signed(1, &tags, "Hello, world");
            let filter = Filter::parse(&filter_text, &Limits::default()).expect("filter parses");
            assert_eq!(filter.matches(&event), expected, "engine: {filter_text} on {tags:?}");
            let bytes = record_of(&event);
            let record = Record::decode(1, &bytes).expect("decodes");
            assert_eq!(RecordFilter::new(filter).matches(&record), Some(expected), "packed: {filter_text} on {tags:?}");
        }
    }

    #[test]
    fn coordinate_agrees_with_the_event() {
        let hex = "cd".repeat(32);
        let events = [
            signed(0, &[], ""),
            signed(30023, &[&["d", "slug"]], ""),
            signed(30023, &[&["t", "x"], &["d", &hex], &["d", "second"]], ""),
            signed(30023, &[&["d"]], ""),
            signed(30023, &[], ""),
            signed(1, &[&["d", "x"]], ""),
        ];
        for event in events {
            let bytes = record_of(&event);
            let record = Record::decode(1, &bytes).expect("decodes");
            assert_eq!(record.coordinate(), schema::event_coordinate(&event), "{}", event.json());
        }
    }
}
