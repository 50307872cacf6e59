//! permessage-deflate (RFC 7692), which tungstenite does not have, sans-I/O.
//!
//! Negotiated as `server_no_context_takeover; client_no_context_takeover`: every message is
//! compressed on its own, so one compressor and one decompressor per shard serve all of its
//! connections and a connection keeps no 32 KiB window. Outbound, the relay compresses
//! messages itself and sends them as frames with RSV1 set; inbound, the relay's own frame
//! reader (`websocket::reader`) inflates compressed messages with an `Inflater` (bounded: the
//! decompressed size is checked while inflating). `FrameInflater` does the same beneath
//! tungstenite for a client (the bench): it parses the peer's frames and hands tungstenite
//! plain ones.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::websocket::reader::{extend_within, header_length};

/// The extension response this relay sends when it accepts an offer.
pub const EXTENSION_RESPONSE: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// What every compressed message ends with before RFC 7692 strips it (an empty stored block).
const SYNC_TRAILER: [u8; 4] = [0, 0, 0xff, 0xff];

/// Whether the client's `Sec-WebSocket-Extensions` values hold a permessage-deflate offer this
/// relay accepts: known parameters only, each at most once, with valid values; an offer that
/// limits the server's window below 15 bits is declined (this compressor always uses 15).
pub fn accepts_offer<'a>(header_values: impl IntoIterator<Item = &'a str>) -> bool {
    header_values.into_iter().flat_map(|value| value.split(',')).any(|offer| acceptable(offer.trim()))
}

fn acceptable(offer: &str) -> bool {
    let mut parts = offer.split(';').map(str::trim);
    if !parts.next().is_some_and(|name| name.eq_ignore_ascii_case("permessage-deflate")) {
        return false;
    }
    let mut seen: Vec<String> = Vec::new();
    for parameter in parts {
        let (name, value) = match parameter.split_once('=') {
            Some((name, value)) => (name.trim().to_ascii_lowercase(), Some(value.trim().trim_matches('"'))),
            None => (parameter.to_ascii_lowercase(), None),
        };
        if seen.contains(&name) {
            return false;
        }
        let bits =
            |value: Option<&str>| value.and_then(|text| text.parse::<u8>().ok()).filter(|bits| (8..=15).contains(bits));
        let valid = match name.as_str() {
            "server_no_context_takeover" | "client_no_context_takeover" => value.is_none(),
            "client_max_window_bits" => value.is_none() || bits(value).is_some(),
            "server_max_window_bits" => bits(value) == Some(15),
            _ => false,
        };
        if !valid {
            return false;
        }
        seen.push(name);
    }
    true
}

/// A shard's compressor. Each call compresses independently (the window is reset).
pub struct Deflater {
    compress: Compress,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Deflater")
    }
}

impl Deflater {
    /// `level` 0-9. With the zlib-rs backend level 1 uses fixed Huffman codes only; on the
    /// bench's event mix, one message at a time: level 1 0.82 of the size at ~10 us per
    /// message, level 2 0.56 at ~25 us, level 6 0.55 at ~35 us.
    pub fn new(level: u32) -> Deflater {
        Deflater { compress: Compress::new(Compression::new(level.min(9)), false) }
    }

    /// Raw deflate of `data`, ending in a sync flush (byte-aligned, `00 00 ff ff`), appended to
    /// `out`. Parts compressed this way concatenate into one message (see `finish_message`):
    /// each part refers only to itself, which no-context-takeover allows.
    pub fn compress_part(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.compress_pieces(&[data], out);
    }

    /// `compress_part` of the pieces joined, without joining them first.
    pub fn compress_pieces(&mut self, pieces: &[&[u8]], out: &mut Vec<u8>) {
        self.compress.reset();
        let total: usize = pieces.iter().map(|piece| piece.len()).sum();
        out.reserve(total / 2 + 64);
        for (index, piece) in pieces.iter().enumerate() {
            let last = index + 1 == pieces.len();
            let flush = if last { FlushCompress::Sync } else { FlushCompress::None };
            let start = self.compress.total_in();
            loop {
                let consumed = (self.compress.total_in() - start) as usize;
                if out.capacity() - out.len() < 64 {
                    out.reserve(out.capacity().max(256));
                }
                let status = self
                    .compress
                    .compress_vec(&piece[consumed..], out, flush)
                    .expect("compressing from memory into memory cannot fail");
                let all_in = (self.compress.total_in() - start) as usize == piece.len();
                if all_in && (!last || out.ends_with(&SYNC_TRAILER)) {
                    break;
                }
                if matches!(status, Status::BufError) {
                    out.reserve(out.capacity().max(256));
                }
            }
        }
    }

    /// The payload of one compressed message holding `data`.
    pub fn compress_message(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.compress_part(data, out);
        finish_message(out);
    }
}

/// Strips the final sync trailer of a message built from parts (RFC 7692 section 7.2.1).
pub fn finish_message(payload: &mut Vec<u8>) {
    assert!(payload.ends_with(&SYNC_TRAILER), "a compressed part ends with a sync flush");
    payload.truncate(payload.len() - SYNC_TRAILER.len());
}

/// Why an inbound compressed message was refused. Nothing of it was delivered.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum InflateError {
    /// It inflates (or its compressed frames add up) to more than the message limit: close
    /// with 1009.
    #[error("a compressed message inflates to more than {limit} bytes")]
    TooBig { limit: usize },
    /// It is not valid deflate data: close with 1007.
    #[error("a compressed message is not valid deflate data")]
    Corrupt,
    /// A frame breaks RFC 6455 in a way only this layer sees (a 64-bit length with its most
    /// significant bit set, a new data frame or RSV1 inside a compressed message): close with
    /// 1002.
    #[error("protocol error: {0}")]
    Protocol(&'static str),
}

/// A shard's decompressor. Each message is inflated on its own (client_no_context_takeover).
pub struct Inflater {
    decompress: Decompress,
    /// Where each step inflates to before the output is checked against the limit.
    chunk: Box<[u8]>,
    pub stats: InflateStats,
}

/// What an `Inflater` has done (all its connections together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InflateStats {
    pub messages: u64,
    pub compressed_bytes: u64,
    pub inflated_bytes: u64,
    /// Messages refused: too big or not deflate data.
    pub refused: u64,
}

/// Bytes one inflate step writes at most.
const INFLATE_CHUNK_BYTES: usize = 16 * 1024;

impl std::fmt::Debug for Inflater {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Inflater")
    }
}

impl Default for Inflater {
    fn default() -> Inflater {
        Inflater {
            decompress: Decompress::new(false),
            chunk: vec![0; INFLATE_CHUNK_BYTES].into_boxed_slice(),
            stats: InflateStats::default(),
        }
    }
}

impl Inflater {
    /// Inflates one message's payload into `out`, refusing it as soon as the output would pass
    /// `limit` bytes: a zip bomb costs at most `limit` bytes of memory.
    pub fn inflate_message(&mut self, payload: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
        let start = out.len();
        let result = self.inflate(payload, limit, out);
        match result {
            Ok(()) => {
                self.stats.messages += 1;
                self.stats.compressed_bytes += payload.len() as u64;
                self.stats.inflated_bytes += (out.len() - start) as u64;
            }
            Err(_) => self.stats.refused += 1,
        }
        result
    }

    fn inflate(&mut self, payload: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
        self.decompress.reset(false);
        let start = out.len();
        for input in [payload, &SYNC_TRAILER[..]] {
            let mut consumed = 0;
            loop {
                let (before_in, before_out) = (self.decompress.total_in(), self.decompress.total_out());
                let status = self
                    .decompress
                    .decompress(&input[consumed..], &mut self.chunk, FlushDecompress::Sync)
                    .map_err(|_| InflateError::Corrupt)?;
                let read = (self.decompress.total_in() - before_in) as usize;
                let written = (self.decompress.total_out() - before_out) as usize;
                consumed += read;
                if out.len() - start + written > limit {
                    return Err(InflateError::TooBig { limit });
                }
                extend_within(out, &self.chunk[..written], start + limit);
                if matches!(status, Status::StreamEnd) {
                    // A block with BFINAL set ends the message (RFC 7692 section 7.2.3.4).
                    return Ok(());
                }
                if written == self.chunk.len() {
                    continue; // more output may be waiting
                }
                if consumed == input.len() {
                    break;
                }
                if read == 0 {
                    return Err(InflateError::Corrupt);
                }
            }
        }
        Ok(())
    }
}

/// Where the frame parser is.
#[derive(Debug)]
enum Parse {
    /// Reading a frame header; `have` bytes of it are in `header`.
    Header { have: usize },
    /// Forwarding `remaining` payload bytes of a frame that is not compressed.
    Pass { remaining: u64 },
    /// Gathering `remaining` payload bytes of a compressed message's frame, unmasking with
    /// `mask` from payload offset `offset`.
    Collect { remaining: u64, mask: [u8; 4], offset: usize, fin: bool },
}

/// The inbound side, sans-I/O: fed the bytes a peer sent, it yields the same frames except
/// that each compressed message comes out as one plain frame. `masked` is the role: a server
/// reads masked frames (and re-masks what it emits with a zero key, as tungstenite requires of
/// clients), a client unmasked ones.
#[derive(Debug)]
pub struct FrameInflater {
    masked: bool,
    message_bytes_max: usize,
    parse: Parse,
    header: [u8; 14],
    /// The opcode of the compressed message being gathered, if one is.
    compressed_opcode: Option<u8>,
    compressed: Vec<u8>,
    /// Frames ready for the WebSocket layer, from `output_start`.
    output: Vec<u8>,
    output_start: usize,
}

impl FrameInflater {
    pub fn new(masked: bool, message_bytes_max: usize) -> FrameInflater {
        FrameInflater {
            masked,
            message_bytes_max,
            parse: Parse::Header { have: 0 },
            header: [0; 14],
            compressed_opcode: None,
            compressed: Vec::new(),
            output: Vec::new(),
            output_start: 0,
        }
    }

    /// Bytes of the compressed message gathered so far (never more than the message limit).
    pub fn gathered_bytes(&self) -> usize {
        self.compressed.len()
    }

    /// Frames ready to be read.
    pub fn output(&self) -> &[u8] {
        &self.output[self.output_start..]
    }

    /// Copies as much ready output as fits into `buffer`; returns how much (0: none ready).
    pub fn take_output(&mut self, buffer: &mut [u8]) -> usize {
        let ready = self.output();
        let count = ready.len().min(buffer.len());
        buffer[..count].copy_from_slice(&ready[..count]);
        self.consume_output(count);
        count
    }

    /// Marks `count` output bytes as read; frees the buffer once it is drained, so an idle
    /// connection holds none.
    pub fn consume_output(&mut self, count: usize) {
        self.output_start += count;
        if self.output_start >= self.output.len() {
            self.output = Vec::new();
            self.output_start = 0;
        }
    }

    /// Parses all of `input`, appending what the WebSocket layer should read to the output.
    /// An error means the connection must be closed (its answer is in the error).
    pub fn feed(&mut self, mut input: &[u8], inflater: &mut Inflater) -> Result<(), InflateError> {
        while !input.is_empty() {
            match &mut self.parse {
                Parse::Header { have } => {
                    let needed = if *have < 2 { 2 } else { header_length([self.header[0], self.header[1]]) };
                    let take = (needed - *have).min(input.len());
                    self.header[*have..*have + take].copy_from_slice(&input[..take]);
                    *have += take;
                    input = &input[take..];
                    if *have >= 2 && *have == header_length([self.header[0], self.header[1]]) {
                        self.start_frame(inflater)?;
                    }
                }
                Parse::Pass { remaining } => {
                    let take = (*remaining).min(input.len() as u64) as usize;
                    self.output.extend_from_slice(&input[..take]);
                    *remaining -= take as u64;
                    input = &input[take..];
                    if *remaining == 0 {
                        self.parse = Parse::Header { have: 0 };
                    }
                }
                Parse::Collect { remaining, mask, offset, fin } => {
                    let take = (*remaining).min(input.len() as u64) as usize;
                    let from = self.compressed.len();
                    self.compressed.extend_from_slice(&input[..take]);
                    for (index, byte) in self.compressed[from..].iter_mut().enumerate() {
                        *byte ^= mask[(*offset + index) % 4];
                    }
                    *offset += take;
                    *remaining -= take as u64;
                    input = &input[take..];
                    if *remaining == 0 {
                        let fin = *fin;
                        self.parse = Parse::Header { have: 0 };
                        if fin {
                            self.finish_message(inflater)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A frame header is complete: decide what to do with its payload. Every length here is
    /// the peer's: it is checked before it is added to anything.
    fn start_frame(&mut self, inflater: &mut Inflater) -> Result<(), InflateError> {
        let first = self.header[0];
        let (fin, rsv1, opcode) = (first & 0x80 != 0, first & 0x40 != 0, first & 0x0f);
        let second = self.header[1];
        let (length, mask_at) = match second & 0x7f {
            126 => (u64::from(u16::from_be_bytes([self.header[2], self.header[3]])), 4),
            127 => (u64::from_be_bytes(self.header[2..10].try_into().expect("eight bytes")), 10),
            short => (u64::from(short), 2),
        };
        if length > i64::MAX as u64 {
            return Err(InflateError::Protocol("a 64-bit frame length with its most significant bit set"));
        }
        let masked = second & 0x80 != 0;
        let header_bytes = mask_at + if masked { 4 } else { 0 };
        let data = opcode == 1 || opcode == 2;
        let in_compressed = self.compressed_opcode.is_some();
        if in_compressed && (data || (opcode == 0 && rsv1)) {
            // A fragmented message ends before another begins; RSV1 marks only its first frame.
            return Err(InflateError::Protocol("a data frame inside a fragmented compressed message"));
        }
        let starts_compressed = rsv1 && data;
        if !(starts_compressed || (opcode == 0 && in_compressed)) {
            // Not ours to change (control frames between fragments included); tungstenite
            // bounds these frames and messages and refuses anything else malformed.
            self.output.extend_from_slice(&self.header[..header_bytes]);
            self.parse = if length == 0 { Parse::Header { have: 0 } } else { Parse::Pass { remaining: length } };
            return Ok(());
        }
        if masked != self.masked {
            return Err(InflateError::Protocol("a frame masked contrary to its sender's role"));
        }
        // Checked before any payload is read, over all of the message's frames so far: the
        // compressed bytes alone may not pass the limit (`compressed` never holds more).
        let room = self.message_bytes_max - self.compressed.len();
        if length > room as u64 {
            return Err(InflateError::TooBig { limit: self.message_bytes_max });
        }
        if starts_compressed {
            self.compressed_opcode = Some(opcode);
        }
        let mask = if masked { self.header[mask_at..mask_at + 4].try_into().expect("four bytes") } else { [0; 4] };
        if length == 0 {
            self.parse = Parse::Header { have: 0 };
            return if fin { self.finish_message(inflater) } else { Ok(()) };
        }
        self.parse = Parse::Collect { remaining: length, mask, offset: 0, fin };
        Ok(())
    }

    /// The last frame of a compressed message is in: inflate it and emit one plain frame.
    fn finish_message(&mut self, inflater: &mut Inflater) -> Result<(), InflateError> {
        let opcode = self.compressed_opcode.take().expect("a compressed message is being gathered");
        assert!(self.compressed.len() <= self.message_bytes_max, "the length check bounds what is gathered");
        let mut plain = Vec::with_capacity(self.compressed.len().saturating_mul(3).min(self.message_bytes_max));
        inflater.inflate_message(&self.compressed, self.message_bytes_max, &mut plain)?;
        self.compressed = Vec::new();
        write_frame_header(&mut self.output, opcode, plain.len(), self.masked);
        self.output.extend_from_slice(&plain);
        Ok(())
    }
}

/// A final frame's header for `length` payload bytes; masked with a zero key (which leaves
/// the payload as it is) when `masked`.
fn write_frame_header(out: &mut Vec<u8>, opcode: u8, length: usize, masked: bool) {
    let at = out.len();
    crate::websocket::write_header(out, 0x80 | opcode, length);
    if masked {
        out[at + 1] |= 0x80;
        out.extend_from_slice(&[0; 4]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_accepted_and_declined() {
        let cases = [
            ("permessage-deflate", true),
            ("permessage-deflate; client_max_window_bits", true),
            ("permessage-deflate; client_max_window_bits=10; server_no_context_takeover", true),
            ("Permessage-Deflate; Client_No_Context_Takeover", true),
            ("permessage-deflate; server_max_window_bits=15", true),
            ("permessage-deflate; server_max_window_bits=10", false),
            ("permessage-deflate; server_max_window_bits", false),
            ("permessage-deflate; client_max_window_bits=16", false),
            ("permessage-deflate; server_no_context_takeover=1", false),
            ("permessage-deflate; unknown_parameter", false),
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", false),
            ("x-webkit-deflate-frame", false),
            ("", false),
            // A second offer is taken when the first is declined.
            ("permessage-deflate; server_max_window_bits=9, permessage-deflate", true),
        ];
        for (offer, accepted) in cases {
            assert_eq!(accepts_offer([offer]), accepted, "{offer:?}");
        }
        assert!(accepts_offer(["x-other", "permessage-deflate"]), "offers spread over two headers");
    }

    fn event_json(number: usize) -> String {
        format!(
            r#"{{"id":"{:064x}","pubkey":"{}","created_at":1700000000,"kind":1,"tags":[["t","nostr"]],"content":"note {number} about nostr relays","sig":"{}"}}"#,
            number,
            "ab".repeat(32),
            "cd".repeat(64)
        )
    }

    #[test]
    fn messages_and_concatenated_parts_round_trip() {
        let mut deflater = Deflater::new(1);
        let mut inflater = Inflater::default();
        for text in [String::new(), "x".into(), event_json(1), "é".repeat(40_000)] {
            let mut compressed = Vec::new();
            deflater.compress_message(text.as_bytes(), &mut compressed);
            let mut plain = Vec::new();
            inflater.inflate_message(&compressed, 1 << 20, &mut plain).unwrap();
            assert_eq!(plain, text.as_bytes());
        }
        // A subscription's prefix and an event's JSON compressed apart make one message.
        let (prefix, json) = ("[\"EVENT\",\"sub\",", format!("{}]", event_json(2)));
        let mut payload = Vec::new();
        deflater.compress_part(prefix.as_bytes(), &mut payload);
        deflater.compress_part(json.as_bytes(), &mut payload);
        finish_message(&mut payload);
        let mut plain = Vec::new();
        inflater.inflate_message(&payload, 1 << 20, &mut plain).unwrap();
        assert_eq!(plain, format!("{prefix}{json}").as_bytes());
        assert!(payload.len() < prefix.len() + json.len(), "{} bytes", payload.len());
    }

    #[test]
    fn inflating_is_bounded_and_refuses_garbage() {
        let mut deflater = Deflater::new(6);
        let mut inflater = Inflater::default();
        let mut bomb = Vec::new();
        deflater.compress_message(&vec![b'0'; 10 << 20], &mut bomb);
        assert!(bomb.len() < 20_000, "{} bytes", bomb.len());
        let mut out = Vec::new();
        assert_eq!(inflater.inflate_message(&bomb, 1 << 20, &mut out), Err(InflateError::TooBig { limit: 1 << 20 }));
        assert!(out.len() <= 1 << 20);
        let mut exactly = Vec::new();
        deflater.compress_message(&vec![b'1'; 1000], &mut exactly);
        let mut out = Vec::new();
        inflater.inflate_message(&exactly, 1000, &mut out).expect("exactly the limit is allowed");
        assert_eq!(inflater.inflate_message(&exactly, 999, &mut Vec::new()), Err(InflateError::TooBig { limit: 999 }));
        assert_eq!(inflater.inflate_message(&[0xff; 64], 1 << 20, &mut Vec::new()), Err(InflateError::Corrupt));
        // The inflater is usable after each refusal.
        let mut out = Vec::new();
        inflater.inflate_message(&exactly, 1000, &mut out).unwrap();
        assert_eq!(out.len(), 1000);
    }

    /// A client frame: masked with `mask`, RSV1 as given.
    fn client_frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut frame = Vec::new();
        write_frame_header(&mut frame, opcode, payload.len(), true);
        if !fin {
            frame[0] &= 0x7f;
        }
        if rsv1 {
            frame[0] |= 0x40;
        }
        let at = frame.len() - 4;
        frame[at..].copy_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(index, byte)| byte ^ mask[index % 4]));
        frame
    }

    /// Parses emitted frames: (fin, rsv1, opcode, unmasked payload).
    fn frames_of(mut bytes: &[u8]) -> Vec<(bool, bool, u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let length = header_length([bytes[0], bytes[1]]);
            let (payload_length, mask_at) = match bytes[1] & 0x7f {
                126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
                127 => (u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize, 10),
                short => (short as usize, 2),
            };
            let mask: [u8; 4] =
                if bytes[1] & 0x80 != 0 { bytes[mask_at..mask_at + 4].try_into().unwrap() } else { [0; 4] };
            let payload =
                bytes[length..length + payload_length].iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
            frames.push((bytes[0] & 0x80 != 0, bytes[0] & 0x40 != 0, bytes[0] & 0x0f, payload));
            bytes = &bytes[length + payload_length..];
        }
        frames
    }

    #[test]
    fn frames_come_out_plain_whatever_the_fragmentation_and_the_read_sizes() {
        let mut deflater = Deflater::new(1);
        let text = format!("[\"EVENT\",{}]", event_json(3));
        let mut compressed = Vec::new();
        deflater.compress_message(text.as_bytes(), &mut compressed);
        let (a, rest) = compressed.split_at(10);
        let (b, c) = rest.split_at(rest.len() / 2);
        let mut wire = Vec::new();
        wire.extend(client_frame(true, false, 1, b"plain", [1, 2, 3, 4]));
        wire.extend(client_frame(true, true, 1, &compressed, [9, 8, 7, 6]));
        wire.extend(client_frame(false, true, 1, a, [5, 5, 5, 5]));
        wire.extend(client_frame(true, false, 9, b"ping", [0, 1, 0, 1])); // a ping between fragments
        wire.extend(client_frame(false, false, 0, b, [7, 7, 7, 7]));
        wire.extend(client_frame(true, false, 0, c, [3, 1, 4, 1]));
        wire.extend(client_frame(true, false, 8, &[3, 232], [2, 2, 2, 2])); // close 1000
        let expected = vec![
            (true, false, 1, b"plain".to_vec()),
            (true, false, 1, text.as_bytes().to_vec()),
            (true, false, 9, b"ping".to_vec()),
            (true, false, 1, text.as_bytes().to_vec()),
            (true, false, 8, vec![3, 232]),
        ];
        for step in [1, 2, 3, 7, 64, wire.len()] {
            let mut frames = FrameInflater::new(true, 1 << 20);
            let mut inflater = Inflater::default();
            let mut out = Vec::new();
            for piece in wire.chunks(step) {
                frames.feed(piece, &mut inflater).unwrap();
                out.extend_from_slice(frames.output());
                let count = frames.output().len();
                frames.consume_output(count);
            }
            assert_eq!(frames_of(&out), expected, "read {step} bytes at a time");
            assert_eq!(inflater.stats.messages, 2);
        }
    }

    /// A client frame header claiming `length` payload bytes (the 64-bit form), masked.
    fn header_claiming(fin: bool, rsv1: bool, opcode: u8, length: u64) -> Vec<u8> {
        let mut header = vec![u8::from(fin) << 7 | u8::from(rsv1) << 6 | opcode, 0x80 | 127];
        header.extend_from_slice(&length.to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        header
    }

    /// Feeds `wire` in pieces of `step` bytes; the first error, if any.
    fn feed_in_steps(wire: &[u8], step: usize, limit: usize) -> Result<(), InflateError> {
        let mut frames = FrameInflater::new(true, limit);
        let mut inflater = Inflater::default();
        for piece in wire.chunks(step) {
            frames.feed(piece, &mut inflater)?;
            let count = frames.output().len();
            frames.consume_output(count);
            assert!(frames.compressed.len() <= limit, "gathered {} bytes past the limit", frames.compressed.len());
        }
        Ok(())
    }

    /// The attack that made one client grow a relay without bound: a compressed message's
    /// first frame, then a continuation whose 64-bit length made `gathered + length` wrap past
    /// the limit, then whatever the client streams.
    #[test]
    fn peer_lengths_cannot_wrap_past_the_message_limit() {
        let limit = 2 << 20;
        let first = client_frame(false, true, 1, &[0x4b; 10], [9, 9, 9, 9]);
        let protocol = Err(InflateError::Protocol("a 64-bit frame length with its most significant bit set"));
        let too_big = Err(InflateError::TooBig { limit });
        let streamed = vec![0x55; 64 * 1024];
        type Case = (&'static str, Vec<Vec<u8>>, Result<(), InflateError>);
        let cases: Vec<Case> = vec![
            (
                "2^64 - 5 after ten bytes",
                vec![first.clone(), header_claiming(true, false, 0, u64::MAX - 4)],
                protocol.clone(),
            ),
            (
                "2^64 - 10 exactly wraps to zero",
                vec![first.clone(), header_claiming(false, false, 0, 0u64.wrapping_sub(10))],
                protocol.clone(),
            ),
            ("the top bit on a first frame", vec![header_claiming(true, true, 1, 1 << 63)], protocol.clone()),
            ("the top bit on a plain frame", vec![header_claiming(true, false, 1, u64::MAX)], protocol.clone()),
            (
                "2^63 - 1, top bit clear",
                vec![first.clone(), header_claiming(true, false, 0, i64::MAX as u64)],
                too_big.clone(),
            ),
            (
                "continuations adding up past the limit",
                vec![
                    first.clone(),
                    client_frame(false, false, 0, &vec![0; limit / 2], [1, 1, 1, 1]),
                    client_frame(false, false, 0, &vec![0; limit / 2 - 10], [1, 1, 1, 1]),
                    header_claiming(true, false, 0, 1),
                ],
                too_big.clone(),
            ),
            (
                "a new compressed message inside one",
                vec![first.clone(), client_frame(true, true, 1, &[0; 4], [1, 1, 1, 1])],
                Err(InflateError::Protocol("a data frame inside a fragmented compressed message")),
            ),
            (
                "RSV1 on a continuation",
                vec![first.clone(), client_frame(true, true, 0, &[0; 4], [1, 1, 1, 1])],
                Err(InflateError::Protocol("a data frame inside a fragmented compressed message")),
            ),
            (
                "an unmasked compressed frame from a client",
                vec![{
                    let mut frame = vec![0xc1, 4];
                    frame.extend_from_slice(&[0; 4]);
                    frame
                }],
                Err(InflateError::Protocol("a frame masked contrary to its sender's role")),
            ),
        ];
        for (name, frames, expected) in cases {
            let mut wire: Vec<u8> = frames.concat();
            wire.extend_from_slice(&streamed);
            for step in [1, 3, 10, 4096, wire.len()] {
                assert_eq!(feed_in_steps(&wire, step, limit), expected, "{name}, {step} bytes at a time");
            }
        }
    }

    #[test]
    fn oversized_compressed_frames_are_refused_before_their_payload() {
        let mut frames = FrameInflater::new(true, 1000);
        let mut inflater = Inflater::default();
        let header = client_frame(true, true, 1, &[0; 2000], [0; 4]);
        assert_eq!(frames.feed(&header[..8], &mut inflater), Err(InflateError::TooBig { limit: 1000 }));
        // Plain frames are tungstenite's to bound: they pass through.
        let mut frames = FrameInflater::new(true, 1000);
        let plain = client_frame(true, false, 1, &[b'a'; 2000], [0; 4]);
        frames.feed(&plain, &mut inflater).unwrap();
        assert_eq!(frames.output(), &plain[..]);
    }
}
