//! The server's reading side of RFC 6455 (with RFC 7692's compressed messages), sans-I/O.
//!
//! The caller reads the socket into a buffer it borrows (the shard's pool lends one while data
//! arrives) and asks for messages one by one. A frame wholly inside the buffer is unmasked in
//! place and handed back as a range of it: no copy. Only what is incomplete when the buffer
//! ends (a header, a frame's payload, a fragmented message) is kept here, so an idle
//! connection holds no buffer at all. Every length is the peer's and is checked before it is
//! added to anything.

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use crate::deflate::{InflateError, Inflater};

const OPCODE_CONTINUATION: u8 = 0;
const OPCODE_TEXT: u8 = 1;
const OPCODE_BINARY: u8 = 2;
const OPCODE_CLOSE: u8 = 8;
const OPCODE_PING: u8 = 9;
const OPCODE_PONG: u8 = 10;

/// Control frames carry at most this many payload bytes (RFC 6455 section 5.5).
const CONTROL_PAYLOAD_MAX: u64 = 125;

/// Why a client's frames were refused; the connection must be closed with `close_code`.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    /// A message (its frames added up) is larger than the message limit: 1009.
    #[error("a message is larger than {limit} bytes")]
    TooBig { limit: usize },
    /// A compressed message was refused while inflating (too big: 1009, not deflate: 1007).
    #[error(transparent)]
    Inflate(InflateError),
    /// The frames break RFC 6455 (unmasked, a reserved bit or opcode, a control frame that is
    /// fragmented or long, a continuation with no message, ...): 1002.
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// Text that is not UTF-8 (a Close frame's reason): 1007.
    #[error("text that is not UTF-8")]
    InvalidUtf8,
}

impl ReadError {
    /// The close code that answers it.
    pub fn close_code(&self) -> u16 {
        match self {
            ReadError::TooBig { .. } | ReadError::Inflate(InflateError::TooBig { .. }) => 1009,
            ReadError::Inflate(InflateError::Corrupt) | ReadError::InvalidUtf8 => 1007,
            ReadError::Inflate(InflateError::Protocol(_)) | ReadError::Protocol(_) => 1002,
        }
    }
}

/// A message's payload: a range of the buffer the caller passed, or bytes gathered here.
#[derive(Debug, PartialEq, Eq)]
pub enum Payload {
    Within(Range<usize>),
    Owned(Vec<u8>),
}

impl Payload {
    /// The payload's bytes; `buffer` is the one the message was read from.
    pub fn bytes<'a>(&'a self, buffer: &'a [u8]) -> &'a [u8] {
        match self {
            Payload::Within(range) => &buffer[range.clone()],
            Payload::Owned(bytes) => bytes,
        }
    }
}

/// One message from the client. Text is not yet checked as UTF-8 (the caller checks it once,
/// where it makes its `&str`).
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(Payload),
    Binary,
    Ping(Payload),
    Pong,
    /// The client's Close (its code, if it sent one): answer with a Close and stop reading.
    Close(Option<u16>),
}

impl Incoming {
    /// The message with its payload copied out of `buffer`, so the buffer can be given back
    /// while the message is handled.
    pub fn into_owned(self, buffer: &[u8]) -> Incoming {
        let own = |payload: Payload| match payload {
            Payload::Within(range) => Payload::Owned(buffer[range].to_vec()),
            owned => owned,
        };
        match self {
            Incoming::Text(payload) => Incoming::Text(own(payload)),
            Incoming::Ping(payload) => Incoming::Ping(own(payload)),
            other => other,
        }
    }
}

/// A frame whose payload continues past the buffer read so far.
#[derive(Clone, Copy, Debug)]
struct Partial {
    opcode: u8,
    fin: bool,
    remaining: u64,
    mask: [u8; 4],
    /// Payload bytes of this frame already taken (the mask's phase).
    taken: usize,
    rsv1: bool,
}

/// What is held between reads; boxed so an idle connection's reader is a few words.
#[derive(Debug, Default)]
struct Held {
    /// A frame header split between reads: its first `have` bytes.
    header: [u8; 14],
    have: usize,
    frame: Option<Partial>,
    /// The opcode of the data message being assembled, and whether it is compressed.
    message: Option<(u8, bool)>,
    /// Its payload so far (unmasked; still compressed if it is).
    gathered: Vec<u8>,
    /// A control frame's payload split between reads.
    control: Vec<u8>,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.have == 0
            && self.frame.is_none()
            && self.message.is_none()
            && self.gathered.capacity() == 0
            && self.control.capacity() == 0
    }
}

/// Reads a client's frames into messages. With `inflater`, permessage-deflate was negotiated
/// and compressed messages (RSV1 on their first frame) are inflated with it.
#[derive(Debug)]
pub struct MessageReader {
    message_bytes_max: usize,
    inflater: Option<Rc<RefCell<Inflater>>>,
    held: Option<Box<Held>>,
}

/// The header length for the first two header bytes (the mask key included when set).
pub(crate) fn header_length(first_two: [u8; 2]) -> usize {
    2 + match first_two[1] & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    } + if first_two[1] & 0x80 != 0 { 4 } else { 0 }
}

/// XORs `data` with `mask`, `phase` bytes into the mask's cycle (eight bytes at a time).
pub fn unmask(data: &mut [u8], mask: [u8; 4], phase: usize) {
    let mask: [u8; 4] = std::array::from_fn(|index| mask[(phase + index) % 4]);
    let word = u64::from_ne_bytes([mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let value = u64::from_ne_bytes(chunk.try_into().expect("eight bytes")) ^ word;
        chunk.copy_from_slice(&value.to_ne_bytes());
    }
    for (index, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[index % 4];
    }
}

/// A parsed frame header.
struct Header {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    length: u64,
    mask: [u8; 4],
}

impl MessageReader {
    pub fn new(message_bytes_max: usize, inflater: Option<Rc<RefCell<Inflater>>>) -> MessageReader {
        MessageReader { message_bytes_max, inflater, held: None }
    }

    /// Bytes held between reads (a partial header, frame or message).
    pub fn held_bytes(&self) -> usize {
        self.held.as_ref().map_or(0, |held| held.have + held.gathered.len() + held.control.len())
    }

    /// The next complete message in `buffer[*at..]`, unmasking in place; `*at` moves past what
    /// was taken. `None`: the buffer is used up (anything incomplete is kept for the next one).
    /// After an error the connection is closed; nothing more may be read.
    pub fn next(&mut self, buffer: &mut [u8], at: &mut usize) -> Result<Option<Incoming>, ReadError> {
        let result = self.next_message(buffer, at);
        if self.held.as_ref().is_some_and(|held| held.is_empty()) {
            self.held = None;
        }
        result
    }

    fn next_message(&mut self, buffer: &mut [u8], at: &mut usize) -> Result<Option<Incoming>, ReadError> {
        loop {
            let partial = match self.held.as_ref().and_then(|held| held.frame) {
                Some(partial) => partial,
                None => {
                    let Some(header) = self.read_header(buffer, at)? else { return Ok(None) };
                    let partial = self.start_frame(&header)?;
                    if (buffer.len() - *at) as u64 >= header.length {
                        match self.whole_frame(buffer, at, &header)? {
                            Some(message) => return Ok(Some(message)),
                            None => continue,
                        }
                    }
                    partial
                }
            };
            if let Some(message) = self.continue_frame(buffer, at, partial)? {
                return Ok(Some(message));
            }
            if self.held.as_ref().is_some_and(|held| held.frame.is_some()) {
                return Ok(None); // the buffer ended inside the frame
            }
        }
    }

    /// Reads a frame header (from what is held and the buffer); `None` if it is incomplete.
    fn read_header(&mut self, buffer: &[u8], at: &mut usize) -> Result<Option<Header>, ReadError> {
        let available = &buffer[*at..];
        let held_have = self.held.as_ref().map_or(0, |held| held.have);
        if held_have == 0 && available.len() >= 2 {
            let length = header_length([available[0], available[1]]);
            if available.len() >= length {
                *at += length;
                return parse_header(&available[..length]).map(Some);
            }
        }
        if available.is_empty() {
            return Ok(None);
        }
        let held = self.held.get_or_insert_with(Box::default);
        let mut taken = 0;
        loop {
            let needed = if held.have < 2 { 2 } else { header_length([held.header[0], held.header[1]]) };
            if held.have == needed {
                break;
            }
            if taken == available.len() {
                *at += taken;
                return Ok(None);
            }
            let take = (needed - held.have).min(available.len() - taken);
            held.header[held.have..held.have + take].copy_from_slice(&available[taken..taken + take]);
            held.have += take;
            taken += take;
        }
        *at += taken;
        let header = parse_header(&held.header[..held.have]);
        held.have = 0;
        header.map(Some)
    }

    /// Checks a frame header against the connection's state and records the frame as begun.
    fn start_frame(&mut self, header: &Header) -> Result<Partial, ReadError> {
        let control = header.opcode >= OPCODE_CLOSE;
        let message = self.held.as_ref().and_then(|held| held.message);
        if control {
            if !header.fin {
                return Err(ReadError::Protocol("a fragmented control frame"));
            }
            if header.length > CONTROL_PAYLOAD_MAX {
                return Err(ReadError::Protocol("a control frame longer than 125 bytes"));
            }
            if header.rsv1 {
                return Err(ReadError::Protocol("RSV1 on a control frame"));
            }
        } else {
            match (header.opcode, message) {
                (OPCODE_CONTINUATION, None) => return Err(ReadError::Protocol("a continuation with no message")),
                (OPCODE_CONTINUATION, Some(_)) if header.rsv1 => {
                    return Err(ReadError::Protocol("RSV1 on a continuation frame"));
                }
                (OPCODE_TEXT | OPCODE_BINARY, Some(_)) => {
                    return Err(ReadError::Protocol("a data frame inside a fragmented message"));
                }
                _ => {}
            }
            if header.rsv1 && self.inflater.is_none() {
                return Err(ReadError::Protocol("RSV1 without permessage-deflate"));
            }
            let gathered = self.held.as_ref().map_or(0, |held| held.gathered.len());
            if header.length > (self.message_bytes_max - gathered) as u64 {
                return Err(ReadError::TooBig { limit: self.message_bytes_max });
            }
        }
        let (opcode, fin, rsv1) = (header.opcode, header.fin, header.rsv1);
        Ok(Partial { opcode, fin, remaining: header.length, mask: header.mask, taken: 0, rsv1 })
    }

    /// A frame whose payload is all in the buffer: a whole message or a control frame is
    /// handed back from the buffer itself; a fragment joins the message being assembled.
    fn whole_frame(
        &mut self,
        buffer: &mut [u8],
        at: &mut usize,
        header: &Header,
    ) -> Result<Option<Incoming>, ReadError> {
        let range = *at..*at + header.length as usize;
        *at = range.end;
        unmask(&mut buffer[range.clone()], header.mask, 0);
        let control = header.opcode >= OPCODE_CLOSE;
        let assembling = self.held.as_ref().is_some_and(|held| held.message.is_some());
        if control || (header.fin && !assembling) {
            let payload = Payload::Within(range.clone());
            return match header.opcode {
                OPCODE_TEXT if header.rsv1 => Ok(Some(Incoming::Text(Payload::Owned(self.inflate(&buffer[range])?)))),
                OPCODE_BINARY => Ok(Some(Incoming::Binary)),
                OPCODE_TEXT => Ok(Some(Incoming::Text(payload))),
                _ => control_message(header.opcode, payload, buffer).map(Some),
            };
        }
        let held = self.held.get_or_insert_with(Box::default);
        if held.message.is_none() {
            held.message = Some((header.opcode, header.rsv1));
        }
        extend_within(&mut held.gathered, &buffer[range], self.message_bytes_max);
        if header.fin { self.finish_message().map(Some) } else { Ok(None) }
    }

    /// Takes what the buffer holds of a frame begun earlier (or too long for the buffer).
    fn continue_frame(
        &mut self,
        buffer: &mut [u8],
        at: &mut usize,
        mut partial: Partial,
    ) -> Result<Option<Incoming>, ReadError> {
        let take = partial.remaining.min((buffer.len() - *at) as u64) as usize;
        let piece = *at..*at + take;
        *at = piece.end;
        unmask(&mut buffer[piece.clone()], partial.mask, partial.taken);
        partial.taken += take;
        partial.remaining -= take as u64;
        let held = self.held.get_or_insert_with(Box::default);
        let control = partial.opcode >= OPCODE_CLOSE;
        if control {
            held.control.extend_from_slice(&buffer[piece]);
        } else {
            if held.message.is_none() {
                held.message = Some((partial.opcode, partial.rsv1));
            }
            extend_within(&mut held.gathered, &buffer[piece], self.message_bytes_max);
        }
        held.frame = (partial.remaining > 0).then_some(partial);
        if partial.remaining > 0 {
            return Ok(None);
        }
        if control {
            let payload = std::mem::take(&mut held.control);
            return control_message(partial.opcode, Payload::Owned(payload), buffer).map(Some);
        }
        if partial.fin { self.finish_message().map(Some) } else { Ok(None) }
    }

    /// The last frame of an assembled message is in.
    fn finish_message(&mut self) -> Result<Incoming, ReadError> {
        let held = self.held.as_mut().expect("a message is being assembled");
        let (opcode, compressed) = held.message.take().expect("a message is being assembled");
        let gathered = std::mem::take(&mut held.gathered);
        let payload = if compressed { self.inflate(&gathered)? } else { gathered };
        Ok(match opcode {
            OPCODE_TEXT => Incoming::Text(Payload::Owned(payload)),
            _ => Incoming::Binary,
        })
    }

    fn inflate(&self, compressed: &[u8]) -> Result<Vec<u8>, ReadError> {
        let inflater = self.inflater.as_ref().expect("RSV1 is refused without an inflater");
        let limit = self.message_bytes_max;
        let mut plain = Vec::with_capacity(compressed.len().saturating_mul(3).min(limit));
        inflater.borrow_mut().inflate_message(compressed, limit, &mut plain).map_err(ReadError::Inflate)?;
        Ok(plain)
    }
}

/// Appends `bytes`, growing `vector` as `Vec` does (doubling) but never past `limit` (the
/// caller checked that what it gathers fits): a message near the limit costs the limit, not
/// twice it.
pub(crate) fn extend_within(vector: &mut Vec<u8>, bytes: &[u8], limit: usize) {
    let needed = vector.len() + bytes.len();
    if needed > vector.capacity() {
        let target = vector.capacity().saturating_mul(2).min(limit).max(needed);
        vector.reserve_exact(target - vector.len());
    }
    vector.extend_from_slice(bytes);
}

/// A control frame's message; a Close's code is read from its payload.
fn control_message(opcode: u8, payload: Payload, buffer: &[u8]) -> Result<Incoming, ReadError> {
    match opcode {
        OPCODE_PING => Ok(Incoming::Ping(payload)),
        OPCODE_PONG => Ok(Incoming::Pong),
        _ => match payload.bytes(buffer) {
            [] => Ok(Incoming::Close(None)),
            [first, second, reason @ ..] => {
                let code = u16::from_be_bytes([*first, *second]);
                if !sendable_close_code(code) {
                    return Err(ReadError::Protocol("a Close frame with a code no endpoint may send"));
                }
                if std::str::from_utf8(reason).is_err() {
                    return Err(ReadError::InvalidUtf8);
                }
                Ok(Incoming::Close(Some(code)))
            }
            [_] => Err(ReadError::Protocol("a Close frame with a one-byte payload")),
        },
    }
}

/// Whether a peer may put `code` in a Close frame (RFC 6455 section 7.4 and IANA's registry:
/// 1004-1006 and 1015 are reserved or only reported locally; 1016-2999 are unassigned).
fn sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Parses a complete header (2 to 14 bytes) of a client's frame.
fn parse_header(bytes: &[u8]) -> Result<Header, ReadError> {
    let (first, second) = (bytes[0], bytes[1]);
    if first & 0x30 != 0 {
        return Err(ReadError::Protocol("RSV2 or RSV3 set"));
    }
    let opcode = first & 0x0f;
    if !matches!(opcode, OPCODE_CONTINUATION | OPCODE_TEXT | OPCODE_BINARY | OPCODE_CLOSE | OPCODE_PING | OPCODE_PONG) {
        return Err(ReadError::Protocol("a reserved opcode"));
    }
    if second & 0x80 == 0 {
        return Err(ReadError::Protocol("an unmasked frame from a client"));
    }
    let (length, mask_at) = match second & 0x7f {
        126 => (u64::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
        127 => (u64::from_be_bytes(bytes[2..10].try_into().expect("eight bytes")), 10),
        short => (u64::from(short), 2),
    };
    if length > i64::MAX as u64 {
        return Err(ReadError::Protocol("a 64-bit frame length with its most significant bit set"));
    }
    let mask = bytes[mask_at..mask_at + 4].try_into().expect("four bytes");
    Ok(Header { fin: first & 0x80 != 0, rsv1: first & 0x40 != 0, opcode, length, mask })
}

/// Appends a server frame's header (never masked) for `length` payload bytes; `first` is the
/// first byte (FIN, RSV1, opcode).
pub fn write_header(out: &mut Vec<u8>, first: u8, length: usize) {
    out.push(first);
    match length {
        0..=125 => out.push(length as u8),
        126..=65535 => {
            out.push(126);
            out.extend_from_slice(&(length as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(length as u64).to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// A client frame: `first` byte, masked with `MASK`.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, first, payload.len());
        out[1] |= 0x80;
        out.extend_from_slice(&MASK);
        let mut masked = payload.to_vec();
        unmask(&mut masked, MASK, 0);
        out.extend_from_slice(&masked);
        out
    }

    /// Every message of `wire` fed in reads of `step` bytes, as (text or kind, payload).
    fn read_all(wire: &[u8], step: usize, reader: &mut MessageReader) -> Result<Vec<(String, Vec<u8>)>, ReadError> {
        let mut out = Vec::new();
        for piece in wire.chunks(step.max(1)) {
            let mut buffer = piece.to_vec();
            let mut at = 0;
            while let Some(message) = reader.next(&mut buffer, &mut at)? {
                out.push(match message {
                    Incoming::Text(payload) => ("text".into(), payload.bytes(&buffer).to_vec()),
                    Incoming::Binary => ("binary".into(), Vec::new()),
                    Incoming::Ping(payload) => ("ping".into(), payload.bytes(&buffer).to_vec()),
                    Incoming::Pong => ("pong".into(), Vec::new()),
                    Incoming::Close(code) => (format!("close {code:?}"), Vec::new()),
                });
            }
            assert_eq!(at, buffer.len(), "a read is used up");
        }
        Ok(out)
    }

    #[test]
    fn unmask_matches_the_bytewise_definition() {
        for length in 0..40 {
            for phase in 0..4 {
                let data: Vec<u8> = (0..length as u8).collect();
                let mut fast = data.clone();
                unmask(&mut fast, MASK, phase);
                let slow: Vec<u8> = data.iter().enumerate().map(|(i, b)| b ^ MASK[(phase + i) % 4]).collect();
                assert_eq!(fast, slow, "length {length}, phase {phase}");
            }
        }
    }

    /// The same frames give the same messages however the reads split them.
    #[test]
    fn messages_survive_any_split() {
        let long = "x".repeat(70_000);
        let wire = [
            frame(0x81, br#"["REQ","a",{}]"#),
            frame(0x01, b"[\"frag"),
            frame(0x89, b"ping in between"),
            frame(0x00, b"mented\",1"),
            frame(0x80, b"]"),
            frame(0x81, long.as_bytes()),
            frame(0x81, b""),
            frame(0x82, b"\x00\x01"),
            frame(0x8a, b""),
            frame(0x88, &1000u16.to_be_bytes()),
        ]
        .concat();
        let expected: Vec<(String, Vec<u8>)> = vec![
            ("text".into(), br#"["REQ","a",{}]"#.to_vec()),
            ("ping".into(), b"ping in between".to_vec()),
            ("text".into(), b"[\"fragmented\",1]".to_vec()),
            ("text".into(), long.as_bytes().to_vec()),
            ("text".into(), Vec::new()),
            ("binary".into(), Vec::new()),
            ("pong".into(), Vec::new()),
            ("close Some(1000)".into(), Vec::new()),
        ];
        for step in [1, 2, 3, 7, 13, 64, 1000, 65_536, wire.len()] {
            let mut reader = MessageReader::new(1 << 20, None);
            assert_eq!(read_all(&wire, step, &mut reader).unwrap(), expected, "reads of {step}");
            assert_eq!(reader.held_bytes(), 0, "nothing held after whole messages (reads of {step})");
            assert!(reader.held.is_none(), "an idle reader holds no box (reads of {step})");
        }
    }

    #[test]
    fn gathering_grows_to_the_limit_not_past_it() {
        let mut gathered = Vec::new();
        for _ in 0..100 {
            extend_within(&mut gathered, &[0; 30], 1000);
        }
        assert_eq!((gathered.len(), gathered.capacity()), (3000, 3000), "past the limit only as much as needed");
        let mut gathered = Vec::new();
        for _ in 0..33 {
            extend_within(&mut gathered, &[0; 30], 1000);
        }
        assert!(gathered.capacity() <= 1000, "capacity {} for 990 bytes", gathered.capacity());
        let closes = [frame(0x88, &[0x0f, 0xa0, b'b', b'y', b'e']), frame(0x88, &[0x03, 0xe9])].concat();
        let messages = read_all(&closes, 3, &mut MessageReader::new(100, None)).unwrap();
        assert_eq!(messages[0].0, "close Some(4000)");
        assert_eq!(messages[1].0, "close Some(1001)");
    }

    #[test]
    fn a_whole_frame_is_returned_in_place() {
        let mut buffer = frame(0x81, b"hello");
        let mut reader = MessageReader::new(100, None);
        let mut at = 0;
        let message = reader.next(&mut buffer, &mut at).unwrap().expect("a message");
        assert_eq!(message, Incoming::Text(Payload::Within(6..11)));
        assert_eq!(&buffer[6..11], b"hello");
        assert!(reader.held.is_none());
        assert_eq!(message.into_owned(&buffer), Incoming::Text(Payload::Owned(b"hello".to_vec())));
    }

    #[test]
    fn refusals() {
        let unmasked = {
            let mut out = Vec::new();
            write_header(&mut out, 0x81, 2);
            out.extend_from_slice(b"hi");
            out
        };
        let mut huge = vec![0x81, 0xff];
        huge.extend_from_slice(&(1u64 << 63).to_be_bytes());
        huge.extend_from_slice(&MASK);
        let cases: Vec<(&str, Vec<u8>, u16)> = vec![
            ("unmasked", unmasked, 1002),
            ("RSV2", frame(0xa1, b"x"), 1002),
            ("RSV1 without deflate", frame(0xc1, b"x"), 1002),
            ("reserved opcode", frame(0x83, b"x"), 1002),
            ("fragmented ping", frame(0x09, b"x"), 1002),
            ("long ping", frame(0x89, &[0; 126]), 1002),
            ("continuation alone", frame(0x80, b"x"), 1002),
            ("text inside a message", [frame(0x01, b"a"), frame(0x81, b"b")].concat(), 1002),
            ("one-byte close", frame(0x88, b"x"), 1002),
            ("close code 1005 (never sent)", frame(0x88, &1005u16.to_be_bytes()), 1002),
            ("close code 2000 (unassigned)", frame(0x88, &2000u16.to_be_bytes()), 1002),
            ("close reason not UTF-8", frame(0x88, &[0x03, 0xe8, 0xff]), 1007),
            ("top bit of the length", huge, 1002),
            ("one frame over the limit", frame(0x81, &[b' '; 101]), 1009),
            ("fragments over the limit", [frame(0x01, &[b' '; 60]), frame(0x80, &[b' '; 41])].concat(), 1009),
        ];
        for (name, wire, code) in cases {
            for step in [1, wire.len()] {
                let error = read_all(&wire, step, &mut MessageReader::new(100, None)).expect_err(name);
                assert_eq!(error.close_code(), code, "{name} (reads of {step}): {error}");
            }
        }
        let at_limit = read_all(&[frame(0x01, &[b' '; 60]), frame(0x80, &[b' '; 40])].concat(), 7, &mut {
            MessageReader::new(100, None)
        });
        assert_eq!(at_limit.unwrap()[0].1.len(), 100, "a message of exactly the limit is read");
    }

    #[test]
    fn compressed_messages_are_inflated() {
        let inflater = Rc::new(RefCell::new(Inflater::default()));
        let mut deflater = crate::deflate::Deflater::new(6);
        let text = r#"["EVENT",{"content":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]"#;
        let mut compressed = Vec::new();
        deflater.compress_message(text.as_bytes(), &mut compressed);
        let (head, tail) = compressed.split_at(compressed.len() / 2);
        let wire =
            [frame(0xc1, &compressed), frame(0x41, head), frame(0x89, b""), frame(0x80, tail), frame(0x81, b"plain")]
                .concat();
        for step in [1, 5, wire.len()] {
            let mut reader = MessageReader::new(1000, Some(inflater.clone()));
            let messages = read_all(&wire, step, &mut reader).unwrap();
            let texts: Vec<&[u8]> = messages.iter().map(|(_, payload)| payload.as_slice()).collect();
            assert_eq!(
                texts,
                [text.as_bytes(), b"", text.as_bytes(), b"plain"],
                "reads of {step} (the ping is the empty one)"
            );
        }
        let bomb = {
            let mut out = Vec::new();
            deflater.compress_message(&[b'a'; 5000], &mut out);
            out
        };
        let error = read_all(&frame(0xc1, &bomb), 64, &mut MessageReader::new(1000, Some(inflater.clone())));
        assert_eq!(error.unwrap_err().close_code(), 1009);
        let error = read_all(&frame(0xc1, &[0xff; 20]), 64, &mut MessageReader::new(1000, Some(inflater)));
        assert_eq!(error.unwrap_err().close_code(), 1007);
        let rsv1_continuation = [frame(0x41, head), frame(0xc0, tail)].concat();
        let mut reader = MessageReader::new(1000, Some(Rc::new(RefCell::new(Inflater::default()))));
        assert_eq!(read_all(&rsv1_continuation, 100, &mut reader).unwrap_err().close_code(), 1002);
    }
}
