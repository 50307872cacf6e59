//! The packed record each stored event is kept in, read in place: a fixed header (id, pubkey,
//! created_at, kind, expiration, origin log and position, sig), the event's indexed tags (single-letter name and
//! encoded value), then the middle of its canonical JSON. A filter is checked against the
//! header and the tag section without touching the JSON; only NIP-50 search reads the content.
//!
//! The canonical JSON always reads `{"id":"<hex>","pubkey":"<hex>",` + middle +
//! `,"sig":"<hex>"}`; the record keeps id, pubkey and sig once, as bytes, and the middle
//! packed: every JSON string that is 64 lowercase hex characters (the `e`, `p` and `q` tag
//! values that fill reactions, replies and contact lists) is kept as a marker byte and a
//! 3-byte reference to the same value in the tag section, or, if the tag section lacks it, the
//! marker and its 32 bytes. A reader writes the JSON back by hex-encoding id, pubkey, sig and
//! each packed string: no parse, 223 bytes less per event than storing the JSON whole and 62
//! less per tag value.
//!
//! Over 700 lines only by its tests (about 310: round trips of every record version, packing,
//! damage, filtering against the engine), which stay beside the format they pin down.

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
    /// The origin log: the node that first accepted the event and the epoch of that node's
    /// store when it did, as this store numbers the logs it holds (`Store::log_origin`; 0 in a record
    /// of schema 7 or before, which keeps them whole), and the event's sequence number there.
    pub log: u32,
    pub origin_seq: u64,
    pub sig: [u8; 64],
}

const RECORD_VERSION: u8 = 5;
/// Schema version 4 to 7 records: the origin node and epoch (32 + 8 bytes) where version 5 has
/// the log number, no middle length, and the middle as it is.
const RECORD_VERSION_4: u8 = 4;
const HEADER_BYTES_VERSION_4: usize = HEADER_BYTES - 4 - 4 + 32 + 8;
/// Schema version 3 records: the version 4 header without the origin epoch.
const RECORD_VERSION_3: u8 = 3;
const HEADER_BYTES_VERSION_3: usize = HEADER_BYTES_VERSION_4 - 8;
/// Schema version 2 records: the version 1 header, the tag section length and section, then the
/// whole JSON.
const RECORD_VERSION_2: u8 = 2;
const HEADER_BYTES_VERSION_2: usize = HEADER_BYTES_VERSION_1 + 4;
/// Schema version 1 records: the header above without the tag section length, then the JSON.
const RECORD_VERSION_1: u8 = 1;
const HEADER_BYTES_VERSION_1: usize = 1 + 32 + 32 + 8 + 2 + 8 + 32 + 8;
/// version, id, pubkey, created_at, kind, expiration, log number, origin seq, sig, tag
/// section length, the middle's length as JSON (unpacked).
pub const HEADER_BYTES: usize = 1 + 32 + 32 + 8 + 2 + 8 + 4 + 8 + 64 + 4 + 4;

/// A 64-char lowercase hex JSON string (`"` + 64 hex + `"`, 66 bytes) in a stored middle is
/// kept as a marker byte: `PACKED_TAG` and the 3-byte offset of the same 32 bytes in the
/// record's tag section (every `e`/`p`/`q` value of a tag is there once), else
/// `PACKED_STRING` and the 32 bytes. Canonical JSON never holds either byte (it escapes every
/// control character), so a reader walking from marker to marker cannot mistake JSON text for
/// one; a marker's bytes may hold any byte, so readers step over them.
const PACKED_STRING: u8 = 0x01;
const PACKED_TAG: u8 = 0x02;
const PACKED_STRING_BYTES: usize = 1 + 32;
const PACKED_TAG_BYTES: usize = 1 + 3;
const PACKED_TAG_OFFSET_MAX: usize = 1 << 24;
const HEX_STRING_BYTES: usize = 1 + 64 + 1;

/// The 32 bytes of the hex string at `start` of `middle`, if one starts there.
fn hex_string_at(middle: &[u8], start: usize) -> Option<[u8; 32]> {
    let string = middle.get(start..start + HEX_STRING_BYTES)?;
    if string[65] != b'"' {
        return None;
    }
    // Lowercase only: `decode_array` takes uppercase too, which would not read back.
    let digits = &string[1..65];
    if !digits.iter().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    parrhesia_engine::hex::decode_array::<32>(std::str::from_utf8(digits).ok()?)
}

/// The offset in `tags` of a hex tag value equal to `bytes`. Looks from `*next` on first (the
/// middle's tags come in the tag section's order), then from the start; leaves `*next` after
/// the entry found.
fn tag_value_offset(tags: &[u8], bytes: &[u8; 32], next: &mut usize) -> Option<usize> {
    let search = |from: usize| {
        let mut offset = from;
        for entry in TagEntries(tags.get(from..)?) {
            let start = offset;
            offset += entry.len();
            if entry.get(1) == Some(&schema::VALUE_HEX) && entry[2..] == bytes[..] {
                return Some((start + 2, offset));
            }
        }
        None
    };
    let (found, after) = search(*next).or_else(|| search(0))?;
    *next = after;
    Some(found)
}

/// Appends `middle` to `out` packed (see `PACKED_STRING`), `tags` being the record's tag section.
fn pack_middle(middle: &[u8], tags: &[u8], out: &mut Vec<u8>) {
    debug_assert!(memchr::memchr2(PACKED_STRING, PACKED_TAG, middle).is_none(), "canonical JSON holds no control byte");
    let mut copied = 0;
    let mut search = 0;
    let mut next_tag = 0;
    while let Some(found) = memchr::memchr(b'"', &middle[search..]) {
        let start = search + found;
        let Some(bytes) = hex_string_at(middle, start) else {
            search = start + 1;
            continue;
        };
        out.extend_from_slice(&middle[copied..start]);
        match tag_value_offset(tags, &bytes, &mut next_tag).filter(|offset| *offset < PACKED_TAG_OFFSET_MAX) {
            Some(offset) => {
                out.push(PACKED_TAG);
                out.extend_from_slice(&(offset as u32).to_be_bytes()[1..]);
            }
            None => {
                out.push(PACKED_STRING);
                out.extend_from_slice(&bytes);
            }
        }
        copied = start + HEX_STRING_BYTES;
        search = copied;
    }
    out.extend_from_slice(&middle[copied..]);
}

/// Writes a packed middle back as JSON into `out`, which must be exactly its unpacked length;
/// `false` (never a panic) if they disagree, which only a damaged record can make happen. A
/// middle as long as its JSON holds no marker and is copied whole.
fn unpack_middle(mut packed: &[u8], tags: &[u8], mut out: &mut [u8]) -> bool {
    while out.len() != packed.len() {
        let Some(marker) = memchr::memchr2(PACKED_STRING, PACKED_TAG, packed) else { return false };
        let (bytes, marker_bytes) = match packed[marker] {
            PACKED_STRING => (packed.get(marker + 1..marker + PACKED_STRING_BYTES), PACKED_STRING_BYTES),
            _ => {
                let offset = packed
                    .get(marker + 1..marker + PACKED_TAG_BYTES)
                    .map(|offset| usize::from(offset[0]) << 16 | usize::from(offset[1]) << 8 | usize::from(offset[2]));
                (offset.and_then(|offset| tags.get(offset..offset + 32)), PACKED_TAG_BYTES)
            }
        };
        let (Some(bytes), true) = (bytes, out.len() >= marker + HEX_STRING_BYTES) else { return false };
        let (text, rest) = out.split_at_mut(marker);
        text.copy_from_slice(&packed[..marker]);
        rest[0] = b'"';
        parrhesia_engine::hex::encode_to_slice(bytes, &mut rest[1..65]);
        rest[65] = b'"';
        out = &mut rest[HEX_STRING_BYTES..];
        packed = &packed[marker + marker_bytes..];
    }
    out.copy_from_slice(packed);
    true
}

/// `{"id":"` + 64 hex + `","pubkey":"` + 64 hex + `",`
const JSON_HEAD_BYTES: usize = 7 + 64 + 12 + 64 + 2;
/// `,"sig":"` + 128 hex + `"}`
const JSON_TAIL_BYTES: usize = 8 + 128 + 2;

/// Writes the canonical JSON of an event around its middle into `out` (which must be exactly
/// `JSON_HEAD_BYTES + middle_bytes + JSON_TAIL_BYTES` long); `write_middle` fills the middle.
fn write_json_parts(
    id: &Id,
    pubkey: &Pubkey,
    sig: &[u8; 64],
    middle_bytes: usize,
    write_middle: impl FnOnce(&mut [u8]),
    out: &mut [u8],
) {
    let (head, rest) = out.split_at_mut(JSON_HEAD_BYTES);
    let (body, tail) = rest.split_at_mut(middle_bytes);
    head[..7].copy_from_slice(b"{\"id\":\"");
    parrhesia_engine::hex::encode_to_slice(id, &mut head[7..71]);
    head[71..83].copy_from_slice(b"\",\"pubkey\":\"");
    parrhesia_engine::hex::encode_to_slice(pubkey, &mut head[83..147]);
    head[147..].copy_from_slice(b"\",");
    write_middle(body);
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
    write_json_parts(id, pubkey, sig, middle.len(), |body| body.copy_from_slice(middle), &mut json);
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
    out.extend_from_slice(&header.log.to_be_bytes());
    out.extend_from_slice(&header.origin_seq.to_be_bytes());
    out.extend_from_slice(&header.sig);
    let tags_bytes = u32::try_from(tags.len()).expect("a tag section fits the event size limit");
    out.extend_from_slice(&tags_bytes.to_be_bytes());
    let middle_bytes = u32::try_from(middle.len()).expect("an event fits the event size limit");
    out.extend_from_slice(&middle_bytes.to_be_bytes());
    out.extend_from_slice(tags);
    pack_middle(middle, tags, &mut out);
    out
}

/// A stored record, borrowed from the page it lives on (valid for its read transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub seq: u64,
    pub header: Header,
    tags: &'a [u8],
    /// The JSON between `"pubkey":"...",` and `,"sig":"..."`, packed (`PACKED_STRING`; a
    /// version 3 or 4 record's is the JSON as it is), and its length as JSON.
    middle: &'a [u8],
    middle_bytes: usize,
}

impl<'a> Record<'a> {
    /// Splits a record into its parts; `None` if it is not a record this version writes. The
    /// JSON is not re-validated: the writer checked every record (the JSON rebuilt from it
    /// against the event's) before storing it.
    pub fn decode(seq: u64, bytes: &'a [u8]) -> Option<Record<'a>> {
        if bytes.first() != Some(&RECORD_VERSION) {
            return None;
        }
        Record::decode_header(seq, bytes, RECORD_VERSION)
    }

    /// Decodes a record of version 5, or for export one of version 4 (the origin log whole,
    /// no packed strings) or 3 (as 4, without the epoch); those have log number 0.
    fn decode_header(seq: u64, bytes: &'a [u8], version: u8) -> Option<Record<'a>> {
        // What the version keeps between expiration and origin seq, and the header's length.
        let (log_bytes, header_bytes) = match version {
            RECORD_VERSION => (4, HEADER_BYTES),
            RECORD_VERSION_4 => (32 + 8, HEADER_BYTES_VERSION_4),
            _ => (32, HEADER_BYTES_VERSION_3),
        };
        if bytes.len() < header_bytes {
            return None;
        }
        let field = |start: usize, len: usize| &bytes[start..start + len];
        let origin_seq_at = 83 + log_bytes;
        let header = Header {
            id: field(1, 32).try_into().ok()?,
            pubkey: field(33, 32).try_into().ok()?,
            created_at: u64::from_be_bytes(field(65, 8).try_into().ok()?),
            kind: u16::from_be_bytes(field(73, 2).try_into().ok()?),
            expiration: u64::from_be_bytes(field(75, 8).try_into().ok()?),
            log: if version == RECORD_VERSION { u32::from_be_bytes(field(83, 4).try_into().ok()?) } else { 0 },
            origin_seq: u64::from_be_bytes(field(origin_seq_at, 8).try_into().ok()?),
            sig: field(origin_seq_at + 8, 64).try_into().ok()?,
        };
        let tags_bytes = u32::from_be_bytes(field(origin_seq_at + 72, 4).try_into().ok()?) as usize;
        let tags = bytes.get(header_bytes..header_bytes.checked_add(tags_bytes)?)?;
        let middle = &bytes[header_bytes + tags_bytes..];
        let middle_bytes = match version {
            RECORD_VERSION => u32::from_be_bytes(field(origin_seq_at + 76, 4).try_into().ok()?) as usize,
            _ => middle.len(),
        };
        // A marker stands for at most 66 bytes of JSON.
        if middle_bytes < middle.len() || middle_bytes > middle.len().checked_mul(HEX_STRING_BYTES)? {
            return None;
        }
        Some(Record { seq, header, tags, middle, middle_bytes })
    }

    /// The JSON between `"pubkey":"...",` and `,"sig":"..."` (what replication sends with the
    /// id, pubkey and sig as bytes).
    pub fn json_middle(&self) -> Vec<u8> {
        let mut middle = vec![0; self.middle_bytes];
        let whole = unpack_middle(self.middle, self.tags, &mut middle);
        debug_assert!(whole, "the writer checked every record");
        middle
    }

    /// The length of the event's canonical JSON.
    pub fn json_len(&self) -> usize {
        JSON_HEAD_BYTES + self.middle_bytes + JSON_TAIL_BYTES
    }

    /// Writes the event's canonical JSON into `out`, which must be `json_len()` bytes long.
    pub fn write_json(&self, out: &mut [u8]) {
        let whole = self.write_json_checked(out);
        debug_assert!(whole, "the writer checked every record");
    }

    /// `write_json`, telling whether the packed middle filled the JSON exactly (a damaged
    /// record may not; the writer checked every record it wrote).
    fn write_json_checked(&self, out: &mut [u8]) -> bool {
        let header = &self.header;
        let mut whole = false;
        let unpack = |body: &mut [u8]| whole = unpack_middle(self.middle, self.tags, body);
        write_json_parts(&header.id, &header.pubkey, &header.sig, self.middle_bytes, unpack, out);
        whole
    }

    /// The JSON as text, checked (for the few readers that parse it or keep it).
    pub fn json_string(&self) -> Option<String> {
        let mut json = vec![0; self.json_len()];
        if !self.write_json_checked(&mut json) {
            return None;
        }
        String::from_utf8(json).ok()
    }

    /// The event's content, unescaped, read from the end of the JSON without parsing the rest
    /// (canonical JSON ends its middle with `"content":"..."`; neither a tag nor the content
    /// can hold the bytes `,"content":"` outside an escape). `None` if it cannot be read.
    pub fn content(&self) -> Option<String> {
        const FIELD: &[u8] = b",\"content\":";
        // Unpacked first: a packed string's 32 bytes may hold anything, `FIELD` too.
        let middle = self.json_middle();
        let start = memchr::memmem::find(&middle, FIELD)? + FIELD.len();
        serde_json::from_slice(&middle[start..]).ok()
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
        version @ (RECORD_VERSION_3 | RECORD_VERSION_4 | RECORD_VERSION) => {
            Some(Record::decode_header(0, bytes, version)?.json_string()?.into_bytes().into())
        }
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
            log: 6,
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
        assert_eq!((record.header.log, record.header.origin_seq), (6, 1));
        let middle = record.json_middle();
        let rebuilt = json_from_parts(event.id(), event.pubkey(), event.sig(), &middle);
        assert_eq!(rebuilt, event.json().as_bytes(), "id, pubkey and sig as bytes plus the middle give the JSON");
        assert_eq!(record.tag_section(), tag_section(&event));
        assert_eq!(record.json_len(), event.json().len());
        assert_eq!(json_of(&record), &**event.json(), "the JSON is rebuilt byte for byte");
        let middle_bytes = event.json().len() - JSON_HEAD_BYTES - JSON_TAIL_BYTES;
        assert_eq!(bytes.len(), HEADER_BYTES + record.tag_section().len() + middle_bytes, "id, pubkey, sig once");
        assert_eq!(record.middle.len(), middle_bytes, "no hex string to pack");
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
        assert_eq!(json_of_any_version(&current).as_deref(), Some(json), "version 5");
        // Version 4: the origin node and epoch where version 5 has the log number, no middle length.
        let mut version_4 = current.clone();
        version_4[0] = RECORD_VERSION_4;
        version_4.drain(HEADER_BYTES - 4..HEADER_BYTES);
        version_4.splice(83..87, [[6; 32].as_slice(), &5u64.to_be_bytes()].concat());
        assert_eq!(json_of_any_version(&version_4).as_deref(), Some(json), "version 4 (the middle unpacked)");
        assert_eq!(Record::decode(0, &version_4), None, "version 4 is not read on hot paths");
        let mut version_3 = version_4.clone();
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

    /// The markers of a packed middle: (strings kept whole, references into the tag section).
    fn markers(record: &Record) -> (usize, usize) {
        let (mut strings, mut references, mut rest) = (0, 0, record.middle);
        while let Some(marker) = memchr::memchr2(PACKED_STRING, PACKED_TAG, rest) {
            let skip = if rest[marker] == PACKED_STRING {
                strings += 1;
                PACKED_STRING_BYTES
            } else {
                references += 1;
                PACKED_TAG_BYTES
            };
            rest = &rest[marker + skip..];
        }
        (strings, references)
    }

    #[test]
    fn hex_strings_are_packed_and_read_back() {
        let hex = "0f".repeat(32);
        let other = "a1".repeat(32);
        let upper = "AB".repeat(32);
        let longer = format!("{hex}0");
        // Each case: tags, content, and (strings kept whole, references to the tag section).
        type Case<'a> = (Vec<Vec<&'a str>>, String, (usize, usize));
        let cases: Vec<Case> = vec![
            (vec![vec!["e", &hex], vec!["p", &other, "wss://r"]], "plain".into(), (0, 2)),
            // The second value of a tag is not in the tag section; the content equals a tag value.
            (vec![vec!["e", &hex, &other]], hex.clone(), (1, 2)),
            // Out of the tag section's order, and a value under two letters.
            (vec![vec!["p", &other], vec!["e", &hex], vec!["q", &other], vec!["alt", &hex]], other.clone(), (0, 5)),
            (vec![vec!["x", &upper]], "A".into(), (0, 0)),
            (vec![vec!["x", &hex[..63]], vec!["y", &longer]], String::new(), (0, 0)),
            // A quote inside the content is escaped: `\"<hex>\"` is not a string of its own...
            (vec![], format!("say \"{hex}\" twice"), (0, 0)),
            // ...but `\"<hex>` ending the content is `"<hex>"`, and packs and reads back the same.
            (vec![], format!("say \"{hex}"), (1, 0)),
            (vec![], format!("\u{1}{hex}\u{2}"), (0, 0)),
            // The tag section holds the value once; every tag refers to it.
            (vec![vec!["p", &hex]; 300], "list".into(), (0, 300)),
        ];
        for (tags, content, expected) in cases {
            let tags: Vec<&[&str]> = tags.iter().map(Vec::as_slice).collect();
            let event = signed(3, &tags, &content);
            let bytes = record_of(&event);
            let record = Record::decode(1, &bytes).expect("decodes");
            assert_eq!(markers(&record), expected, "tags {tags:?}, content {content:?}");
            assert_eq!(json_of(&record), &**event.json(), "the JSON is rebuilt byte for byte");
            assert_eq!(record.json_len(), event.json().len());
            assert_eq!(record.json_middle(), json_middle(event.json()));
            assert_eq!(record.content().as_deref(), Some(content.as_str()));
            let (strings, references) = expected;
            let packed_away =
                strings * (HEX_STRING_BYTES - PACKED_STRING_BYTES) + references * (HEX_STRING_BYTES - PACKED_TAG_BYTES);
            assert_eq!(
                bytes.len() + packed_away,
                HEADER_BYTES + record.tag_section().len() + json_middle(event.json()).len()
            );
        }
    }

    #[test]
    fn a_damaged_packed_middle_is_refused_without_a_panic() {
        let hex = "0f".repeat(32);
        let other = "a1".repeat(32);
        let event = signed(1, &[&["e", &hex, &other]], "x");
        let bytes = record_of(&event);
        // The middle ends `[["e",<tag reference>,<string>]],"content":"x"`.
        let string = bytes.iter().rposition(|byte| *byte == PACKED_STRING).expect("a string kept whole");
        let reference = string - 1 - PACKED_TAG_BYTES;
        assert_eq!(bytes[reference], PACKED_TAG);
        let with =
            |at: usize, replacement: &[u8]| [&bytes[..at], replacement, &bytes[at + replacement.len()..]].concat();
        let cases = [
            bytes[..string + 10].to_vec(),
            bytes[..reference + 2].to_vec(),
            with(HEADER_BYTES - 4, &(json_middle(event.json()).len() as u32 + 1).to_be_bytes()),
            with(HEADER_BYTES - 4, &(json_middle(event.json()).len() as u32 - 1).to_be_bytes()),
            with(string, b"x"),
            with(reference, b"x"),
            with(reference + 1, &[0xff, 0xff, 0xff]),
            with(reference + 1, &[0, 0, 1]),
        ];
        for (number, damaged) in cases.iter().enumerate() {
            assert_eq!(
                Record::decode(1, &bytes).expect("the undamaged record").json_string().as_deref(),
                Some(&**event.json())
            );
            if let Some(record) = Record::decode(1, damaged) {
                let json = record.json_string();
                assert!(json.as_deref() != Some(&**event.json()), "case {number} reads back as the event");
                if number < 7 {
                    assert_eq!(json, None, "case {number}");
                    assert_eq!(json_of_any_version(damaged), None, "case {number}");
                }
            }
        }
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
