//! The packed record each stored event is kept in, read in place: a fixed header (id, pubkey,
//! created_at, kind, expiration, origin log and position, sig), the event's indexed tags (single-letter name and
//! encoded value), then the middle of its canonical JSON. A filter is checked against the
//! header and the tag section without touching the JSON; only NIP-50 search reads the content.
//!
//! The canonical JSON always reads `{"id":"<hex>","pubkey":"<hex>",` + middle +
//! `,"sig":"<hex>"}`; the record keeps id, pubkey and sig once, as bytes, and the middle as
//! it is. A reader writes the JSON back by hex-encoding the three around the stored middle:
//! no parse, 223 bytes less per event than storing the JSON whole.

use parrhesia_engine::{Event, Filter, Id, KindClass, Pubkey, ReadAccess};

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
    /// The node that first accepted the event, the epoch of that node's store when it did
    /// (together: the origin log), and the event's sequence number in that log.
    pub origin: [u8; 32],
    pub origin_epoch: u64,
    pub origin_seq: u64,
    pub sig: [u8; 64],
}

const RECORD_VERSION: u8 = 4;
/// Schema version 3 records: the version 4 header without the origin epoch.
const RECORD_VERSION_3: u8 = 3;
const HEADER_BYTES_VERSION_3: usize = HEADER_BYTES - 8;
/// Schema version 2 records: the version 1 header, the tag section length and section, then the
/// whole JSON.
const RECORD_VERSION_2: u8 = 2;
const HEADER_BYTES_VERSION_2: usize = HEADER_BYTES_VERSION_1 + 4;
/// Schema version 1 records: the header above without the tag section length, then the JSON.
const RECORD_VERSION_1: u8 = 1;
const HEADER_BYTES_VERSION_1: usize = 1 + 32 + 32 + 8 + 2 + 8 + 32 + 8;
/// version, id, pubkey, created_at, kind, expiration, origin, origin epoch, origin seq, sig,
/// tag section length.
pub const HEADER_BYTES: usize = 1 + 32 + 32 + 8 + 2 + 8 + 32 + 8 + 8 + 64 + 4;

/// `{"id":"` + 64 hex + `","pubkey":"` + 64 hex + `",`
const JSON_HEAD_BYTES: usize = 7 + 64 + 12 + 64 + 2;
/// `,"sig":"` + 128 hex + `"}`
const JSON_TAIL_BYTES: usize = 8 + 128 + 2;

/// The canonical JSON of an event with this header and middle, into `out` (which must be
/// exactly `JSON_HEAD_BYTES + middle.len() + JSON_TAIL_BYTES` long).
fn write_json(header: &Header, middle: &[u8], out: &mut [u8]) {
    write_json_parts(&header.id, &header.pubkey, &header.sig, middle, out);
}

fn write_json_parts(id: &Id, pubkey: &Pubkey, sig: &[u8; 64], middle: &[u8], out: &mut [u8]) {
    let (head, rest) = out.split_at_mut(JSON_HEAD_BYTES);
    let (body, tail) = rest.split_at_mut(middle.len());
    head[..7].copy_from_slice(b"{\"id\":\"");
    parrhesia_engine::hex::encode_to_slice(id, &mut head[7..71]);
    head[71..83].copy_from_slice(b"\",\"pubkey\":\"");
    parrhesia_engine::hex::encode_to_slice(pubkey, &mut head[83..147]);
    head[147..].copy_from_slice(b"\",");
    body.copy_from_slice(middle);
    tail[..8].copy_from_slice(b",\"sig\":\"");
    parrhesia_engine::hex::encode_to_slice(sig, &mut tail[8..136]);
    tail[136..].copy_from_slice(b"\"}");
}

/// The middle of an event's canonical JSON (`Event::json`): what replication carries besides
/// id, pubkey and sig.
pub fn json_middle(json: &str) -> &[u8] {
    json.as_bytes()
        .get(JSON_HEAD_BYTES..json.len().saturating_sub(JSON_TAIL_BYTES))
        .expect("canonical JSON has its id, pubkey and sig around the rest")
}

/// The canonical JSON rebuilt from id, pubkey and sig as bytes and the JSON's middle (the form
/// replication carries events in). Not validated: the caller parses it.
pub fn json_from_parts(id: &Id, pubkey: &Pubkey, sig: &[u8; 64], middle: &[u8]) -> Vec<u8> {
    let mut json = vec![0; JSON_HEAD_BYTES + middle.len() + JSON_TAIL_BYTES];
    write_json_parts(id, pubkey, sig, middle, &mut json);
    json
}

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

/// Encodes a whole record. `json` is the event's canonical JSON (`Event::json`), whose id,
/// pubkey and sig are those of `header`.
pub fn encode(header: &Header, tags: &[u8], json: &str) -> Vec<u8> {
    let middle = json_middle(json);
    let mut out = Vec::with_capacity(HEADER_BYTES + tags.len() + middle.len());
    out.push(RECORD_VERSION);
    out.extend_from_slice(&header.id);
    out.extend_from_slice(&header.pubkey);
    out.extend_from_slice(&header.created_at.to_be_bytes());
    out.extend_from_slice(&header.kind.to_be_bytes());
    out.extend_from_slice(&header.expiration.to_be_bytes());
    out.extend_from_slice(&header.origin);
    out.extend_from_slice(&header.origin_epoch.to_be_bytes());
    out.extend_from_slice(&header.origin_seq.to_be_bytes());
    out.extend_from_slice(&header.sig);
    let tags_bytes = u32::try_from(tags.len()).expect("a tag section fits the event size limit");
    out.extend_from_slice(&tags_bytes.to_be_bytes());
    out.extend_from_slice(tags);
    out.extend_from_slice(middle);
    out
}

/// A stored record, borrowed from the page it lives on (valid for its read transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub seq: u64,
    pub header: Header,
    tags: &'a [u8],
    /// The JSON between `"pubkey":"...",` and `,"sig":"..."`.
    middle: &'a [u8],
}

impl<'a> Record<'a> {
    /// Splits a record into its parts; `None` if it is not a record this version writes. The
    /// JSON is not re-validated: the writer checked every record (the JSON rebuilt from it
    /// against the event's) before storing it.
    pub fn decode(seq: u64, bytes: &'a [u8]) -> Option<Record<'a>> {
        if bytes.first() != Some(&RECORD_VERSION) {
            return None;
        }
        Record::decode_header(seq, bytes, true)
    }

    /// Decodes a version 4 record, or with `has_epoch == false` a version 3 one (epoch 0).
    fn decode_header(seq: u64, bytes: &'a [u8], has_epoch: bool) -> Option<Record<'a>> {
        let header_bytes = if has_epoch { HEADER_BYTES } else { HEADER_BYTES_VERSION_3 };
        if bytes.len() < header_bytes {
            return None;
        }
        let field = |start: usize, len: usize| &bytes[start..start + len];
        let after_epoch = if has_epoch { 123 } else { 115 };
        let header = Header {
            id: field(1, 32).try_into().ok()?,
            pubkey: field(33, 32).try_into().ok()?,
            created_at: u64::from_be_bytes(field(65, 8).try_into().ok()?),
            kind: u16::from_be_bytes(field(73, 2).try_into().ok()?),
            expiration: u64::from_be_bytes(field(75, 8).try_into().ok()?),
            origin: field(83, 32).try_into().ok()?,
            origin_epoch: if has_epoch { u64::from_be_bytes(field(115, 8).try_into().ok()?) } else { 0 },
            origin_seq: u64::from_be_bytes(field(after_epoch, 8).try_into().ok()?),
            sig: field(after_epoch + 8, 64).try_into().ok()?,
        };
        let tags_bytes = u32::from_be_bytes(field(after_epoch + 72, 4).try_into().ok()?) as usize;
        let tags = bytes.get(header_bytes..header_bytes.checked_add(tags_bytes)?)?;
        Some(Record { seq, header, tags, middle: &bytes[header_bytes + tags_bytes..] })
    }

    /// The JSON between `"pubkey":"...",` and `,"sig":"..."` (what replication sends with the
    /// id, pubkey and sig as bytes).
    pub fn json_middle(&self) -> &'a [u8] {
        self.middle
    }

    /// The length of the event's canonical JSON.
    pub fn json_len(&self) -> usize {
        JSON_HEAD_BYTES + self.middle.len() + JSON_TAIL_BYTES
    }

    /// Writes the event's canonical JSON into `out`, which must be `json_len()` bytes long.
    pub fn write_json(&self, out: &mut [u8]) {
        write_json(&self.header, self.middle, out);
    }

    /// The JSON as text, checked (for the few readers that parse it or keep it).
    pub fn json_string(&self) -> Option<String> {
        let mut json = vec![0; self.json_len()];
        self.write_json(&mut json);
        String::from_utf8(json).ok()
    }

    /// The event's content, unescaped, read from the end of the JSON without parsing the rest
    /// (canonical JSON ends its middle with `"content":"..."`; neither a tag nor the content
    /// can hold the bytes `,"content":"` outside an escape). `None` if it cannot be read.
    pub fn content(&self) -> Option<String> {
        const FIELD: &[u8] = b",\"content\":";
        let start = self.middle.windows(FIELD.len()).position(|window| window == FIELD)? + FIELD.len();
        serde_json::from_slice(&self.middle[start..]).ok()
    }

    /// The tag section: `letter ++ encoded value` entries (see `tag_section`).
    pub fn tag_entries(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        TagEntries(self.tags)
    }

    /// The raw tag section.
    /// Whether `access` lets its reader see this event (its author or a `p`-tagged recipient).
    pub fn readable_by(&self, access: &ReadAccess) -> bool {
        let recipients = self.tag_entries().filter_map(|entry| schema::hex_tag_value(entry, b'p'));
        access.may_read(self.header.kind, &self.header.pubkey, recipients)
    }

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
pub fn json_of_any_version(bytes: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    match *bytes.first()? {
        RECORD_VERSION_1 => bytes.get(HEADER_BYTES_VERSION_1..).map(Into::into),
        RECORD_VERSION_2 => {
            let length = bytes.get(HEADER_BYTES_VERSION_1..HEADER_BYTES_VERSION_2)?;
            let tags_bytes = u32::from_be_bytes(length.try_into().ok()?) as usize;
            bytes.get(HEADER_BYTES_VERSION_2.checked_add(tags_bytes)?..).map(Into::into)
        }
        RECORD_VERSION_3 => Some(Record::decode_header(0, bytes, false)?.json_string()?.into_bytes().into()),
        RECORD_VERSION => Some(Record::decode(0, bytes)?.json_string()?.into_bytes().into()),
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
    /// Restricted kinds and who reads (NIP-17/59 gating); the default restricts nothing.
    access: ReadAccess,
}

impl RecordFilter {
    pub fn new(filter: Filter) -> RecordFilter {
        let tags = filter
            .tags
            .iter()
            .map(|condition| condition.values.iter().map(|value| schema::tag_prefix(condition.letter, value)).collect())
            .collect();
        RecordFilter { filter, tags, access: ReadAccess::default() }
    }

    /// The same filter, matching only events `access` may read.
    pub fn with_access(self, access: ReadAccess) -> RecordFilter {
        RecordFilter { access, ..self }
    }

    /// Whether an event in memory passes every condition, as `matches` decides for a stored one.
    pub fn matches_event(&self, event: &Event) -> bool {
        self.filter.matches(event) && self.access.may_read_event(event)
    }

    /// Whether the stored event passes every condition (`limit` is not a condition). Reads the
    /// JSON only for a NIP-50 search; `None` if that JSON cannot be read (a damaged store).
    pub fn matches(&self, record: &Record) -> Option<bool> {
        let header = &record.header;
        if !self.filter.matches_header(&header.id, &header.pubkey, header.kind, header.created_at) {
            return Some(false);
        }
        if !self.access.is_open() && !record.readable_by(&self.access) {
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
            Some(query) => Some(parrhesia_engine::filter::search_matches(query, &record.content()?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use parrhesia_engine::{Keys, Limits};

    use super::*;

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
            origin: [6; 32],
            origin_epoch: 5,
            origin_seq: 1,
            sig: *event.sig(),
        };
        encode(&header, &tag_section(event), event.json())
    }

    fn json_of(record: &Record) -> String {
        record.json_string().expect("UTF-8")
    }

    #[test]
    fn record_round_trips() {
        let event = signed(1, &[&["t", "x"]], "Hello \"world\"\n ü");
        let bytes = record_of(&event);
        let record = Record::decode(9, &bytes).expect("decodes");
        assert_eq!((record.seq, record.header.id, record.header.sig), (9, *event.id(), *event.sig()));
        assert_eq!((record.header.origin, record.header.origin_epoch, record.header.origin_seq), ([6; 32], 5, 1));
        let middle = record.json_middle();
        let rebuilt = json_from_parts(event.id(), event.pubkey(), event.sig(), middle);
        assert_eq!(rebuilt, event.json().as_bytes(), "id, pubkey and sig as bytes plus the middle give the JSON");
        assert_eq!(record.tag_section(), tag_section(&event));
        assert_eq!(record.json_len(), event.json().len());
        assert_eq!(json_of(&record), &**event.json(), "the JSON is rebuilt byte for byte");
        let middle_bytes = event.json().len() - JSON_HEAD_BYTES - JSON_TAIL_BYTES;
        assert_eq!(bytes.len(), HEADER_BYTES + record.tag_section().len() + middle_bytes, "id, pubkey, sig once");
        assert_eq!(Record::decode(9, &bytes[..10]), None, "truncated header");
        assert_eq!(Record::decode(9, &bytes[..HEADER_BYTES + 1]), None, "truncated tag section");
        let mut other_version = bytes.clone();
        other_version[0] = RECORD_VERSION_2;
        assert_eq!(Record::decode(9, &other_version), None);
    }

    #[test]
    fn every_record_version_gives_its_json() {
        let event = signed(1, &[&["t", "x"]], "note");
        let json = event.json().as_bytes();
        let current = record_of(&event);
        assert_eq!(json_of_any_version(&current).as_deref(), Some(json), "version 4");
        let mut version_3 = current.clone();
        version_3[0] = RECORD_VERSION_3;
        version_3.drain(115..123);
        assert_eq!(json_of_any_version(&version_3).as_deref(), Some(json), "version 3 (no origin epoch)");
        assert_eq!(Record::decode(0, &version_3), None, "version 3 is not read on hot paths");
        let tags = tag_section(&event);
        let mut version_2 = vec![RECORD_VERSION_2];
        version_2.extend_from_slice(&[0; HEADER_BYTES_VERSION_1 - 1]);
        version_2.extend_from_slice(&(tags.len() as u32).to_be_bytes());
        version_2.extend_from_slice(&tags);
        version_2.extend_from_slice(json);
        assert_eq!(json_of_any_version(&version_2).as_deref(), Some(json), "version 2");
        let version_1 = [&[RECORD_VERSION_1][..], &[0; HEADER_BYTES_VERSION_1 - 1], json].concat();
        assert_eq!(json_of_any_version(&version_1).as_deref(), Some(json), "version 1");
        assert_eq!(json_of_any_version(&[9, 0, 0]), None, "an unknown version");
        assert_eq!(json_of_any_version(&version_2[..HEADER_BYTES_VERSION_2 - 1]), None, "a truncated record");
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
        assert_eq!(json_of(&record), &**event.json());
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
    fn restricted_kinds_read_from_the_record_as_from_the_event() {
        let viewer = Keys::from_secret_bytes([9; 32]).expect("valid secret");
        let viewer_hex = parrhesia_engine::hex::encode(viewer.public_key());
        let other = "ab".repeat(32);
        let access =
            ReadAccess::new(parrhesia_engine::access::DEFAULT_RESTRICTED_KINDS.into(), vec![*viewer.public_key()]);
        let nobody = ReadAccess::new(parrhesia_engine::access::DEFAULT_RESTRICTED_KINDS.into(), Vec::new());
        let cases: Vec<(u16, Vec<Vec<&str>>, bool)> = vec![
            (1059, vec![vec!["p", &viewer_hex]], true),
            (1059, vec![vec!["p", &other], vec!["p", &viewer_hex]], true),
            (1059, vec![vec!["p", &other]], false),
            (1059, vec![vec!["P", &viewer_hex]], false),
            (1059, vec![vec!["e", &viewer_hex]], false),
            (4, vec![], false),
            (1, vec![vec!["p", &other]], true),
        ];
        for (kind, tags, expected) in cases {
            let tags: Vec<&[&str]> = tags.iter().map(Vec::as_slice).collect();
            let event = signed(kind, &tags, "sealed");
            let bytes = record_of(&event);
            let record = Record::decode(1, &bytes).expect("decodes");
            assert_eq!(access.may_read_event(&event), expected, "engine: kind {kind} {tags:?}");
            assert_eq!(record.readable_by(&access), expected, "record: kind {kind} {tags:?}");
            let filter = RecordFilter::new(Filter::default()).with_access(access.clone());
            assert_eq!(filter.matches(&record), Some(expected), "filter: kind {kind} {tags:?}");
            assert_eq!(record.readable_by(&nobody), kind == 1, "nobody: kind {kind} {tags:?}");
        }
        // The author reads its own restricted events.
        let own = ReadAccess::new(
            parrhesia_engine::access::DEFAULT_RESTRICTED_KINDS.into(),
            vec![*signed(4, &[], "").pubkey()],
        );
        let bytes = record_of(&signed(4, &[], "x"));
        assert!(Record::decode(1, &bytes).expect("decodes").readable_by(&own));
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
