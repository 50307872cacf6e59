//! The bodies of the net crate's fuzz targets (`net/fuzz/`), as plain functions: libFuzzer runs
//! them under cargo-fuzz, and `net/tests/fuzz_corpus.rs` replays the kept corpus through them
//! on every test run. Each parses what a peer could send, takes any bytes, and panics only on
//! a broken property; none of this is used by the relay.

use futures_lite::future::block_on;
use futures_lite::io::Cursor;

use crate::cluster::frame::{Hello, Message, PROTOCOL_VERSION, SummaryDelta, SummaryFull, split_frames};
use crate::cluster::handshake::{self, Admission, Exchanged, Role};
use crate::cluster::interest::{InterestPublisher, PeerInterest};
use crate::cluster::membership::{Member, Membership};
use crate::deflate::{FrameInflater, InflateError, Inflater};
use crate::http::{Route, read_body, read_request, route};
use crate::identity::NodeKey;
use crate::websocket::ReadError;

/// Reads the fuzzer's bytes as numbers, then yields zeros once they run out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }

    fn rest(&mut self) -> &[u8] {
        std::mem::take(&mut self.0)
    }
}

/// Link frames: splitting a byte stream into frames and decoding each never panics or
/// allocates past the frame limit; whatever decodes encodes and decodes back to itself.
pub fn frame_decode(data: &[u8]) {
    if let Ok(message) = Message::decode(data) {
        let frame = message.encode();
        assert_eq!(Message::decode(&frame[4..]).as_ref(), Ok(&message));
    }
    if let Ok((ranges, consumed)) = split_frames(data, 1 << 16) {
        assert!(consumed <= data.len());
        for range in ranges {
            let _ = Message::decode(&data[range]);
        }
    }
}

/// A link's protection. The first byte picks what the rest is: (0) a peer's preamble, read by
/// a node of either mode; (1) a peer's Noise handshake message, read by an acceptor (as the
/// first) and by a dialer (as the second); (2) a peer's plaintext, sealed, opened and split
/// into frames that are decoded (the frame decoder behind the decryption layer), then sealed
/// again with one byte flipped where the input says, which must open to nothing.
pub fn secure_records(data: &[u8]) {
    use crate::cluster::secure::{self, Encryption, NoiseHandshake, PREAMBLE_BYTES, Preamble, SecureError};
    let mut bytes = Bytes(data);
    let mode = bytes.u8() % 3;
    let (dialer_key, acceptor_key) = ([1; 32], [2; 32]);
    match mode {
        0 => {
            let mut preamble = [0; PREAMBLE_BYTES];
            let rest = bytes.rest();
            let length = rest.len().min(PREAMBLE_BYTES);
            preamble[..length].copy_from_slice(&rest[..length]);
            for encryption in [Encryption::Required, Encryption::Off] {
                if let Ok(peer) = Preamble::new(encryption, dialer_key).decode_peer(&preamble) {
                    assert_eq!(peer.encode(), preamble, "a preamble that decodes is the bytes it came from");
                    assert_eq!(peer.encryption, encryption);
                }
            }
        }
        1 => {
            let message = bytes.rest();
            let dialer_preamble = Preamble::new(Encryption::Required, dialer_key).encode();
            let acceptor_preamble = Preamble::new(Encryption::Required, acceptor_key).encode();
            let mut acceptor = NoiseHandshake::acceptor(&dialer_preamble, &acceptor_preamble).expect("parameters");
            if acceptor.read(message).is_ok() {
                assert!(acceptor.write().is_ok(), "an acceptor that read a first message answers it");
            }
            let mut dialer = NoiseHandshake::dialer(&dialer_preamble, &acceptor_preamble).expect("parameters");
            let _ = dialer.write().expect("first message");
            // Only the acceptor's own answer authenticates (its tag); the fuzzer cannot forge one.
            assert!(dialer.read(message).is_err(), "a forged second message of {} bytes", message.len());
        }
        _ => {
            let flip_at = bytes.u32() as usize;
            let plain = bytes.rest();
            let ((mut sealer, _, _), (_, mut opener, _)) = secure::linked_pair(dialer_key, acceptor_key);
            let mut sealed = Vec::new();
            sealer.seal(plain, &mut sealed).expect("seal");
            let mut opened = Vec::new();
            for record in secure::split_records(&sealed).expect("records it sealed") {
                opener.open(record, &mut opened).expect("records it sealed open");
            }
            assert_eq!(opened, plain);
            frame_decode(&opened);
            let mut damaged = Vec::new();
            sealer.seal(plain, &mut damaged).expect("seal");
            if damaged.is_empty() {
                return; // nothing to send, nothing sealed
            }
            let at = flip_at % damaged.len();
            damaged[at] ^= 1 << (flip_at >> 29);
            let mut out = Vec::new();
            let result = secure::split_records(&damaged).and_then(|records| {
                let complete: usize = records.iter().map(|record| 2 + record.len()).sum();
                if complete < damaged.len() {
                    return Err(SecureError::RecordLength(damaged.len() - complete)); // a length now too long
                }
                records.iter().try_for_each(|record| opener.open(record, &mut out))
            });
            assert!(result.is_err(), "a flipped bit at {at} of {} went unnoticed", damaged.len());
            // Only records wholly before the damage opened.
            assert!(out.len() <= at, "plaintext from past the damage");
        }
    }
}

/// The compressed-message limit the deflate target runs with (small finds the same bugs).
const DEFLATE_MESSAGE_BYTES_MAX: usize = 1 << 16;

/// A client's frames on a permessage-deflate connection (the first byte picks how the rest is
/// split into reads), through the bench's `FrameInflater` and the relay's `MessageReader`. Fed
/// whole and in those splits, each gives the same output and the same error; what either
/// gathers never passes the message limit.
pub fn deflate_frames(data: &[u8]) {
    let mut bytes = Bytes(data);
    let seed = bytes.u8();
    let wire = bytes.rest();
    let step = |at: usize| 1 + (at * 31 + usize::from(seed)) % (usize::from(seed) + 1);
    let whole = feed_in_reads(wire, |_| wire.len().max(1));
    let split = feed_in_reads(wire, step);
    assert_eq!(whole, split, "the same bytes in other reads");
    // The relay's own reader: the same messages and the same refusal however reads split them.
    let whole = read_messages(wire, |_| wire.len().max(1));
    let split = read_messages(wire, step);
    assert_eq!(whole, split, "the relay's reader: the same bytes in other reads");
}

/// What the relay's frame reader makes of `wire` fed in reads of `step(at)` bytes (a kind and
/// payload per message, then the first error), checking that it never holds more than a
/// message, a header and a control frame.
fn read_messages(wire: &[u8], step: impl Fn(usize) -> usize) -> (Vec<(u8, Vec<u8>)>, Option<ReadError>) {
    use crate::websocket::{Incoming, MessageReader};
    let inflater = std::rc::Rc::new(std::cell::RefCell::new(Inflater::default()));
    let mut reader = MessageReader::new(DEFLATE_MESSAGE_BYTES_MAX, Some(inflater));
    let (mut messages, mut at) = (Vec::new(), 0);
    while at < wire.len() {
        let end = wire.len().min(at + step(at));
        let mut buffer = wire[at..end].to_vec();
        let mut position = 0;
        loop {
            match reader.next(&mut buffer, &mut position) {
                Ok(Some(message)) => messages.push(match message {
                    Incoming::Text(payload) => (1, payload.bytes(&buffer).to_vec()),
                    Incoming::Binary => (2, Vec::new()),
                    Incoming::Ping(payload) => (9, payload.bytes(&buffer).to_vec()),
                    Incoming::Pong => (10, Vec::new()),
                    Incoming::Close(code) => (8, code.map(|code| code.to_be_bytes().to_vec()).unwrap_or_default()),
                }),
                Ok(None) => break,
                Err(error) => return (messages, Some(error)),
            }
            assert!(reader.held_bytes() <= DEFLATE_MESSAGE_BYTES_MAX + 14 + 125, "held past the limit");
        }
        assert_eq!(position, buffer.len(), "a read is used up");
        at = end;
    }
    (messages, None)
}

/// Feeds `wire` in reads of `step(at)` bytes: (what came out, the first error).
fn feed_in_reads(wire: &[u8], step: impl Fn(usize) -> usize) -> (Vec<u8>, Option<InflateError>) {
    let mut frames = FrameInflater::new(true, DEFLATE_MESSAGE_BYTES_MAX);
    let mut inflater = Inflater::default();
    let (mut out, mut at) = (Vec::new(), 0);
    while at < wire.len() {
        let end = wire.len().min(at + step(at));
        let result = frames.feed(&wire[at..end], &mut inflater);
        assert!(frames.gathered_bytes() <= DEFLATE_MESSAGE_BYTES_MAX, "gathered past the limit");
        out.extend_from_slice(frames.output());
        let count = frames.output().len();
        frames.consume_output(count);
        if let Err(error) = result {
            // What a read produced before its error depends on where the read ended.
            return (Vec::new(), Some(error));
        }
        at = end;
    }
    (out, None)
}

const HEAD_BYTES_MAX: usize = 8 * 1024;
const BODY_BYTES_MAX: usize = 4 * 1024;

/// The first bytes on a client socket: the request head (read as the relay reads it), its
/// route, and a management call's body. A head is refused past its bound; a body is read to
/// exactly its `Content-Length` and never past the bound.
pub fn http_request(data: &[u8]) {
    let mut stream = Cursor::new(data);
    let Ok(request) = block_on(read_request(&mut stream, HEAD_BYTES_MAX)) else { return };
    let consumed = stream.position() as usize;
    assert!(consumed - request.leftover.len() < HEAD_BYTES_MAX + 2048, "a head past its bound was taken");
    assert!(data[..consumed].ends_with(&request.leftover), "leftover is what followed the head");
    match route(&request) {
        Route::WebSocket { key } => assert!(!key.is_empty() && key.trim() == key),
        Route::Management => {
            if let Ok(body) = block_on(read_body(&mut stream, &request, BODY_BYTES_MAX)) {
                let length: usize =
                    request.header("content-length").and_then(|value| value.trim().parse().ok()).unwrap();
                assert!(body.len() == length && length <= BODY_BYTES_MAX);
            }
        }
        _ => {}
    }
}

/// The frames a peer sends during a link handshake, as the accepting node reads them: a hello,
/// checked against the allowed peers, then a signature over both hellos. The first byte picks
/// whether the harness signs for the peer (the fuzzer cannot forge ed25519), so the checks
/// after the signature's are reached too. A handshake passes only with the allowed key's
/// signature over this very transcript.
pub fn link_handshake(data: &[u8]) {
    let (own_key, peer_key) = (NodeKey::from_secret([1; 32]), NodeKey::from_secret([2; 32]));
    let admission =
        Admission { cluster_id: "c".into(), own_key: own_key.public(), allowed_peers: vec![peer_key.public()] };
    let own = Hello {
        version: PROTOCOL_VERSION,
        cluster_id: "c".into(),
        public_key: own_key.public(),
        nonce: [9; 32],
        epoch: 1,
        advertise: String::new(),
        heads: Vec::new(),
        settings: Vec::new(),
    };
    let own_frame = Message::Hello(own.clone()).encode();
    let mut bytes = Bytes(data);
    let sign_for_peer = bytes.u8() & 1 == 1;
    let Ok((ranges, _)) = split_frames(bytes.0, 16 * 1024) else { return };
    let bodies: Vec<&[u8]> = ranges.into_iter().map(|range| &bytes.0[range]).collect();
    let Some(Ok(Message::Hello(peer))) = bodies.first().map(|body| Message::decode(body)) else { return };
    if admission.check_hello(&own, &peer).is_err() {
        return;
    }
    let exchanged = Exchanged { channel: &[5; 32], dialer_hello: bodies[0], acceptor_hello: &own_frame[4..] };
    let signature = match (sign_for_peer, bodies.get(1).map(|body| Message::decode(body))) {
        (true, _) => handshake::sign(&peer_key, Role::Dialer, exchanged),
        (false, Some(Ok(Message::Auth(signature)))) => signature,
        _ => return,
    };
    let verified = handshake::verify_peer(&peer.public_key, Role::Acceptor, exchanged, &signature);
    assert_eq!(verified.is_ok(), sign_for_peer, "only the allowed peer's own signature verifies");
}

/// The clock of the membership target (unix milliseconds).
const UNIX_MS: u64 = 1_700_000_000_000;

/// A gossip datagram. The first byte picks the mode: even, the bytes are the datagram as is
/// (the signed envelope's checks); odd, they are a foca payload sealed with an allowed peer's
/// key (foca's decoding and the impersonation check). Then timers run; nothing panics.
pub fn membership_datagram(data: &[u8]) {
    let (own_key, peer_key) = (NodeKey::from_secret([1; 32]), NodeKey::from_secret([2; 32]));
    let member = |key: &NodeKey, port: u16| Member { key: key.public(), address: format!("127.0.0.1:{port}"), bump: 1 };
    let (own_public, allowed) = (own_key.public(), vec![peer_key.public()]);
    let mut node = Membership::new(member(&own_key, 1), own_key, "c".into(), allowed, 1);
    let mut bytes = Bytes(data);
    let datagram = match bytes.u8() & 1 {
        0 => bytes.rest().to_vec(),
        _ => {
            let mut peer = Membership::new(member(&peer_key, 2), peer_key, "c".into(), vec![own_public], 2);
            peer.seal(UNIX_MS, bytes.rest())
        }
    };
    let _ = node.on_datagram(0, UNIX_MS, &datagram);
    for step in 1..=4 {
        let _ = node.tick(step * 1000, UNIX_MS + step * 1000);
    }
    let (up, suspect, down) = node.counts_by_state();
    assert!(up + suspect + down <= 1, "only the one allowed peer can be a member");
}

/// A peer's interest summaries and deltas, as a sequence of operations read from the bytes.
/// A refused one (a protocol error) leaves the summary held as it was; nothing panics, and a
/// summary is never trusted past its staleness bound.
pub fn interest_summary(data: &[u8]) {
    let stale_ms = 2000;
    let publisher = InterestPublisher::default();
    let mut peer = PeerInterest::default();
    let mut bytes = Bytes(data);
    let mut now_ms = 0u64;
    while !bytes.0.is_empty() {
        now_ms = now_ms.saturating_add(u64::from(bytes.u8()) * 16);
        let before = peer.current(now_ms, stale_ms).cloned();
        let refused = match bytes.u8() % 3 {
            0 => peer.on_full(now_ms, &full_from(&mut bytes, &publisher)).is_err(),
            1 => peer.on_delta(now_ms, &delta_from(&mut bytes), stale_ms).is_err(),
            _ => {
                let _ = peer.request_overdue(now_ms, stale_ms);
                false
            }
        };
        if refused {
            assert_eq!(peer.current(now_ms, stale_ms).cloned(), before, "a refused summary changed nothing");
        }
        if let Some(age) = peer.age_ms(now_ms) {
            assert!(peer.current(now_ms, stale_ms).is_none() || age <= stale_ms);
        }
    }
}

/// A full summary: the publisher's, with fields the bytes choose.
fn full_from(bytes: &mut Bytes, publisher: &InterestPublisher) -> SummaryFull {
    let mut full = publisher.full();
    full.generation = u64::from(bytes.u8() % 4);
    full.sequence = if bytes.u8() == 255 { u64::MAX - u64::from(bytes.u8() % 2) } else { u64::from(bytes.u8()) };
    full.match_all = bytes.u8() & 1 == 1;
    full.kinds = (0..bytes.u8() % 8).map(|_| bytes.u32() as u16).collect();
    match bytes.u8() % 8 {
        0 => {
            full.blooms.pop();
        }
        1 => {
            let class = usize::from(bytes.u8()) % full.blooms.len();
            full.blooms[class].log2_bits = bytes.u8();
        }
        2 => {
            let class = usize::from(bytes.u8()) % full.blooms.len();
            full.blooms[class].words.truncate(usize::from(bytes.u8()));
        }
        3 => {
            let class = usize::from(bytes.u8()) % full.blooms.len();
            let word = bytes.u64();
            if let Some(first) = full.blooms[class].words.first_mut() {
                *first = word;
            }
        }
        _ => {}
    }
    full
}

fn delta_from(bytes: &mut Bytes) -> SummaryDelta {
    let generation = u64::from(bytes.u8() % 4);
    let sequence = match bytes.u8() {
        255 => u64::MAX,
        254 => 0,
        small => u64::from(small),
    };
    let match_all = bytes.u8() & 1 == 1;
    let kinds = (0..bytes.u8() % 8).map(|_| bytes.u32() as u16).collect();
    let lists = bytes.u8() % 5;
    let flips = (0..lists).map(|_| (0..bytes.u8() % 8).map(|_| bytes.u32() >> (bytes.u8() % 32)).collect()).collect();
    SummaryDelta { generation, sequence, match_all, kinds, flips }
}
