//! Link frames between cluster nodes: `[length u32 BE][type u8][rkyv payload]`, where length
//! counts the type byte and the payload. Every payload is validated (rkyv's checked access)
//! before it is used: frames come from the network. Limits are checked before anything is
//! allocated.

use rkyv::rancor::Error as RkyvError;
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};

/// Bytes before the payload: length (4) and type (1).
pub const FRAME_HEADER_BYTES: usize = 5;

/// The link protocol version a hello carries (that of the preamble, `secure::LINK_VERSION`); a
/// peer of another version is refused. 3: links encrypted, hellos signed with the channel.
pub const PROTOCOL_VERSION: u32 = super::secure::LINK_VERSION as u32;

/// How much of one origin log a node holds (see `parrhesia_storage::LogHead`).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogHead {
    pub origin: [u8; 32],
    pub epoch: u64,
    pub next_seq: u64,
}

/// The first frame each side sends.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub version: u32,
    pub cluster_id: String,
    pub public_key: [u8; 32],
    /// Fresh per connection: the transcript each side signs covers both nonces.
    pub nonce: [u8; 32],
    /// The sender's store epoch (its own log is `(public_key, epoch)`).
    pub epoch: u64,
    /// host:port where the sender takes links and membership datagrams.
    pub advertise: String,
    /// The sender's logs and how far it holds each.
    pub heads: Vec<LogHead>,
    /// The sender's settings that change what a node stores or serves (see `Setting`).
    pub settings: Vec<Setting>,
}

/// A setting nodes of a cluster should agree on, by its configuration key, its value as text:
/// a difference is reported on both sides when they link.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub value: String,
}

/// The settings of `peer` that differ from `own` (missing there counts): (name, own value,
/// the peer's value or "(not sent)"), in `own`'s order.
pub fn differing_settings(own: &[Setting], peer: &[Setting]) -> Vec<(String, String, String)> {
    own.iter()
        .filter_map(|mine| {
            let theirs = peer.iter().find(|setting| setting.name == mine.name).map(|setting| setting.value.clone());
            (theirs.as_ref() != Some(&mine.value))
                .then(|| (mine.name.clone(), mine.value.clone(), theirs.unwrap_or_else(|| "(not sent)".to_string())))
        })
        .collect()
}

/// An event as replication carries it: id, pubkey and sig as bytes and the middle of its
/// canonical JSON (see `parrhesia_storage::record`), with its position in its origin log.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WireEvent {
    pub origin_seq: u64,
    pub id: [u8; 32],
    pub pubkey: [u8; 32],
    pub sig: [u8; 64],
    pub middle: Vec<u8>,
}

impl WireEvent {
    /// Bytes this event takes in a batch (payload estimate used for byte bounds).
    pub fn wire_bytes(&self) -> usize {
        8 + 32 + 32 + 64 + 8 + self.middle.len()
    }

    /// The event's kind, read from the middle of its canonical JSON
    /// (`"created_at":N,"kind":K,...`); `None` if it does not read so.
    pub fn kind(&self) -> Option<u16> {
        let text = self.middle.strip_prefix(b"\"created_at\":")?;
        let after = text.iter().position(|byte| !byte.is_ascii_digit())?;
        let rest = text[after..].strip_prefix(b",\"kind\":")?;
        let digits = rest.iter().position(|byte| !byte.is_ascii_digit()).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
    }
}

/// A long-poll request for a log: answered by a `Batch` as soon as the log holds events from
/// `from_seq` on, or an empty `Batch` after `wait_ms`. With `ids_only`, answered by
/// `Positions` instead (the puller holds most of the log's events already, without their
/// positions: it learns them, then `Fetch`es only what it lacks); `events_max` then bounds
/// positions.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pull {
    pub origin: [u8; 32],
    pub epoch: u64,
    pub from_seq: u64,
    pub events_max: u32,
    pub bytes_max: u32,
    pub wait_ms: u32,
    pub ids_only: bool,
}

/// An event's position in a log and its id.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositionId {
    pub position: u64,
    pub id: [u8; 32],
}

/// The answer to an `ids_only` pull: the positions the sender holds of a log from `from_seq`
/// on, with their events' ids; it holds nothing else of the log before `next_seq`.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Positions {
    pub origin: [u8; 32],
    pub epoch: u64,
    pub from_seq: u64,
    pub next_seq: u64,
    pub ids: Vec<PositionId>,
}

/// The events at some positions of a `Positions` answer (from `from_seq` to `next_seq`), which
/// the puller lacks; the answer is bounded as a pull's is.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Fetch {
    pub origin: [u8; 32],
    pub epoch: u64,
    pub from_seq: u64,
    pub next_seq: u64,
    pub positions: Vec<u64>,
    pub events_max: u32,
    pub bytes_max: u32,
}

/// The answer to a `Fetch`: the events the sender still holds at the positions asked for
/// before `through` (bounded by the sender's pull bounds: at least the first position asked
/// for is answered; `through` is the fetch's `next_seq` when every position is).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub origin: [u8; 32],
    pub epoch: u64,
    pub from_seq: u64,
    pub through: u64,
    pub events: Vec<WireEvent>,
}

/// Events of a log from `from_seq` on; the sender holds nothing of the log between the last
/// event and `next_seq` (positions of removed events are skipped).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub origin: [u8; 32],
    pub epoch: u64,
    pub from_seq: u64,
    pub next_seq: u64,
    pub events: Vec<WireEvent>,
    /// When the sender committed the newest event, in Unix milliseconds by the sender's clock
    /// (0: not known, e.g. a backlog read). Receivers measure cross-node delivery lag with it.
    pub origin_commit_unix_ms: u64,
}

/// The answer to a pull of a log the peer cannot serve from there: another epoch of its own
/// log (it was wiped or restored), or a position past what it holds. `head` is the peer's
/// current own log.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reset {
    pub origin: [u8; 32],
    pub epoch: u64,
    pub head: LogHead,
}

/// One bloom of an interest summary (see `parrhesia_engine::summary`).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BloomWords {
    pub log2_bits: u8,
    pub words: Vec<u64>,
}

/// The sender's whole interest summary, as of `(generation, sequence)`: sent when a link
/// comes up, periodically, and when the peer asks for it (it saw a gap in the deltas).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SummaryFull {
    /// Changes whenever bloom sizes change (and at each start): deltas of another generation
    /// do not apply.
    pub generation: u64,
    pub sequence: u64,
    pub match_all: bool,
    /// The kinds set (an exact set).
    pub kinds: Vec<u16>,
    /// Ids, authors, tags.
    pub blooms: Vec<BloomWords>,
}

/// What changed since `sequence - 1` of the same generation: bits to toggle, per bloom, and
/// kinds to toggle. Sent every 200 ms (empty ones confirm the summary is current) and at once
/// when a subscription adds interest.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SummaryDelta {
    pub generation: u64,
    pub sequence: u64,
    pub match_all: bool,
    pub kinds: Vec<u16>,
    pub flips: Vec<Vec<u32>>,
}

/// Anti-entropy: a negentropy (NIP-77 protocol v1) reconciliation of the events with
/// `created_at >= since`, initiated by the sender, who then fetches what it lacks by id.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SyncOpen {
    pub session: u64,
    pub since: u64,
    pub message: Vec<u8>,
}

/// A negentropy message of a session, either way (`from_initiator` says which: both nodes
/// number their own sessions).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SyncMsg {
    pub session: u64,
    pub from_initiator: bool,
    pub message: Vec<u8>,
}

/// The initiator asks for events by id (bounded by the server's pull bounds).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SyncFetch {
    pub session: u64,
    pub ids: Vec<[u8; 32]>,
}

/// Events a `SyncFetch` asked for that the server still holds (`origin_seq` unused), in
/// frames bounded by the server's pull bytes; `last` ends the answer to one fetch.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SyncEvents {
    pub session: u64,
    pub events: Vec<WireEvent>,
    pub last: bool,
}

/// The session ended on the server's side (bounds, a malformed message).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SyncErr {
    pub session: u64,
    pub reason: String,
}

/// Every frame a link carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Hello(Hello),
    /// The sender's ed25519 signature over the handshake transcript.
    Auth([u8; 64]),
    Ping(u64),
    Pong(u64),
    /// The sender's logs and how far it holds each (sent on change, at most every second).
    Heads(Vec<LogHead>),
    Pull(Pull),
    Batch(Batch),
    Reset(Reset),
    /// An ephemeral event (never stored); best effort.
    Ephemeral(WireEvent),
    SummaryFull(SummaryFull),
    SummaryDelta(SummaryDelta),
    /// "Send me your whole summary": the deltas had a gap.
    SummaryRequest,
    SyncOpen(SyncOpen),
    SyncMsg(SyncMsg),
    SyncFetch(SyncFetch),
    SyncEvents(SyncEvents),
    SyncErr(SyncErr),
    Positions(Positions),
    Fetch(Fetch),
    Fetched(Fetched),
}

/// Why a frame was refused. Nothing was allocated from the frame's claims.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {length} bytes exceeds the limit of {limit}")]
    TooLarge { length: usize, limit: usize },
    #[error("empty frame")]
    Empty,
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    #[error("malformed {kind} frame: {reason}")]
    Malformed { kind: &'static str, reason: String },
}

const TYPE_HELLO: u8 = 1;
const TYPE_AUTH: u8 = 2;
const TYPE_PING: u8 = 3;
const TYPE_PONG: u8 = 4;
const TYPE_HEADS: u8 = 5;
const TYPE_PULL: u8 = 6;
const TYPE_BATCH: u8 = 7;
const TYPE_RESET: u8 = 8;
const TYPE_EPHEMERAL: u8 = 9;
const TYPE_SUMMARY_FULL: u8 = 10;
const TYPE_SUMMARY_DELTA: u8 = 11;
const TYPE_SUMMARY_REQUEST: u8 = 12;
const TYPE_SYNC_OPEN: u8 = 13;
const TYPE_SYNC_MSG: u8 = 14;
const TYPE_SYNC_FETCH: u8 = 15;
const TYPE_SYNC_EVENTS: u8 = 16;
const TYPE_SYNC_ERR: u8 = 17;
const TYPE_POSITIONS: u8 = 18;
const TYPE_FETCH: u8 = 19;
const TYPE_FETCHED: u8 = 20;

impl Message {
    /// A short name for logs and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Hello(_) => "hello",
            Message::Auth(_) => "auth",
            Message::Ping(_) => "ping",
            Message::Pong(_) => "pong",
            Message::Heads(_) => "heads",
            Message::Pull(_) => "pull",
            Message::Batch(_) => "batch",
            Message::Reset(_) => "reset",
            Message::Ephemeral(_) => "ephemeral",
            Message::SummaryFull(_) => "summary_full",
            Message::SummaryDelta(_) => "summary_delta",
            Message::SummaryRequest => "summary_request",
            Message::SyncOpen(_) => "sync_open",
            Message::SyncMsg(_) => "sync_msg",
            Message::SyncFetch(_) => "sync_fetch",
            Message::SyncEvents(_) => "sync_events",
            Message::SyncErr(_) => "sync_err",
            Message::Positions(_) => "positions",
            Message::Fetch(_) => "fetch",
            Message::Fetched(_) => "fetched",
        }
    }

    /// The whole frame: header and payload.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, payload) = self.payload();
        let length = u32::try_from(payload.len() + 1).expect("a frame fits u32");
        let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len());
        frame.extend_from_slice(&length.to_be_bytes());
        frame.push(kind);
        frame.extend_from_slice(&payload);
        frame
    }

    fn payload(&self) -> (u8, AlignedVec) {
        let archived = match self {
            Message::Hello(hello) => (TYPE_HELLO, rkyv::to_bytes::<RkyvError>(hello)),
            Message::Auth(signature) => (TYPE_AUTH, rkyv::to_bytes::<RkyvError>(signature)),
            Message::Ping(nonce) => (TYPE_PING, rkyv::to_bytes::<RkyvError>(nonce)),
            Message::Pong(nonce) => (TYPE_PONG, rkyv::to_bytes::<RkyvError>(nonce)),
            Message::Heads(heads) => (TYPE_HEADS, rkyv::to_bytes::<RkyvError>(heads)),
            Message::Pull(pull) => (TYPE_PULL, rkyv::to_bytes::<RkyvError>(pull)),
            Message::Batch(batch) => (TYPE_BATCH, rkyv::to_bytes::<RkyvError>(batch)),
            Message::Reset(reset) => (TYPE_RESET, rkyv::to_bytes::<RkyvError>(reset)),
            Message::Ephemeral(event) => (TYPE_EPHEMERAL, rkyv::to_bytes::<RkyvError>(event)),
            Message::SummaryFull(full) => (TYPE_SUMMARY_FULL, rkyv::to_bytes::<RkyvError>(full)),
            Message::SummaryDelta(delta) => (TYPE_SUMMARY_DELTA, rkyv::to_bytes::<RkyvError>(delta)),
            Message::SummaryRequest => (TYPE_SUMMARY_REQUEST, rkyv::to_bytes::<RkyvError>(&())),
            Message::SyncOpen(open) => (TYPE_SYNC_OPEN, rkyv::to_bytes::<RkyvError>(open)),
            Message::SyncMsg(message) => (TYPE_SYNC_MSG, rkyv::to_bytes::<RkyvError>(message)),
            Message::SyncFetch(fetch) => (TYPE_SYNC_FETCH, rkyv::to_bytes::<RkyvError>(fetch)),
            Message::SyncEvents(events) => (TYPE_SYNC_EVENTS, rkyv::to_bytes::<RkyvError>(events)),
            Message::SyncErr(error) => (TYPE_SYNC_ERR, rkyv::to_bytes::<RkyvError>(error)),
            Message::Positions(positions) => (TYPE_POSITIONS, rkyv::to_bytes::<RkyvError>(positions)),
            Message::Fetch(fetch) => (TYPE_FETCH, rkyv::to_bytes::<RkyvError>(fetch)),
            Message::Fetched(fetched) => (TYPE_FETCHED, rkyv::to_bytes::<RkyvError>(fetched)),
        };
        let (kind, bytes) = archived;
        (kind, bytes.expect("serializing into memory cannot fail"))
    }

    /// Decodes the part of a frame after its length: type byte and payload (validated).
    pub fn decode(body: &[u8]) -> Result<Message, FrameError> {
        let (&kind, payload) = body.split_first().ok_or(FrameError::Empty)?;
        // rkyv reads archives in place and needs them aligned; a copy into aligned memory
        // costs less than the validation that follows.
        let mut aligned = AlignedVec::<16>::with_capacity(payload.len());
        aligned.extend_from_slice(payload);
        let bytes = &aligned[..];
        Ok(match kind {
            TYPE_HELLO => Message::Hello(checked(bytes, "hello")?),
            TYPE_AUTH => Message::Auth(checked(bytes, "auth")?),
            TYPE_PING => Message::Ping(checked(bytes, "ping")?),
            TYPE_PONG => Message::Pong(checked(bytes, "pong")?),
            TYPE_HEADS => Message::Heads(checked(bytes, "heads")?),
            TYPE_PULL => Message::Pull(checked(bytes, "pull")?),
            TYPE_BATCH => Message::Batch(checked(bytes, "batch")?),
            TYPE_RESET => Message::Reset(checked(bytes, "reset")?),
            TYPE_EPHEMERAL => Message::Ephemeral(checked(bytes, "ephemeral")?),
            TYPE_SUMMARY_FULL => Message::SummaryFull(checked(bytes, "summary_full")?),
            TYPE_SUMMARY_DELTA => Message::SummaryDelta(checked(bytes, "summary_delta")?),
            TYPE_SUMMARY_REQUEST => {
                checked::<()>(bytes, "summary_request")?;
                Message::SummaryRequest
            }
            TYPE_SYNC_OPEN => Message::SyncOpen(checked(bytes, "sync_open")?),
            TYPE_SYNC_MSG => Message::SyncMsg(checked(bytes, "sync_msg")?),
            TYPE_SYNC_FETCH => Message::SyncFetch(checked(bytes, "sync_fetch")?),
            TYPE_SYNC_EVENTS => Message::SyncEvents(checked(bytes, "sync_events")?),
            TYPE_SYNC_ERR => Message::SyncErr(checked(bytes, "sync_err")?),
            TYPE_POSITIONS => Message::Positions(checked(bytes, "positions")?),
            TYPE_FETCH => Message::Fetch(checked(bytes, "fetch")?),
            TYPE_FETCHED => Message::Fetched(checked(bytes, "fetched")?),
            other => return Err(FrameError::UnknownType(other)),
        })
    }
}

/// Validates an archive and deserializes it.
fn checked<T>(bytes: &[u8], kind: &'static str) -> Result<T, FrameError>
where
    T: Archive,
    T::Archived: for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, RkyvError>>
        + Deserialize<T, rkyv::api::high::HighDeserializer<RkyvError>>,
{
    rkyv::from_bytes::<T, RkyvError>(bytes).map_err(|error| FrameError::Malformed { kind, reason: error.to_string() })
}

/// The body length a frame header announces, checked against `limit` before anything is
/// read or allocated.
pub fn body_length(header: [u8; 4], limit: usize) -> Result<usize, FrameError> {
    let length = u32::from_be_bytes(header) as usize;
    if length == 0 {
        return Err(FrameError::Empty);
    }
    if length > limit {
        return Err(FrameError::TooLarge { length, limit });
    }
    Ok(length)
}

/// Splits whole frames off the front of a receive buffer. Returns the bodies' ranges and how
/// many bytes were consumed; an error means the stream is unusable (close the link).
pub fn split_frames(buffer: &[u8], limit: usize) -> Result<(Vec<std::ops::Range<usize>>, usize), FrameError> {
    let mut frames = Vec::new();
    let mut at = 0;
    while let Some(header) = buffer.get(at..at + 4) {
        let length = body_length(header.try_into().expect("four bytes"), limit)?;
        let start = at + 4;
        if buffer.len() < start + length {
            break;
        }
        frames.push(start..start + length);
        at = start + length;
    }
    Ok((frames, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Message> {
        let head = LogHead { origin: [3; 32], epoch: 9, next_seq: 12 };
        let event =
            WireEvent { origin_seq: 4, id: [1; 32], pubkey: [2; 32], sig: [5; 64], middle: b"\"x\":1".to_vec() };
        vec![
            Message::Hello(Hello {
                version: PROTOCOL_VERSION,
                cluster_id: "c".into(),
                public_key: [7; 32],
                nonce: [8; 32],
                epoch: 3,
                advertise: "127.0.0.1:1".into(),
                heads: vec![head],
                settings: vec![Setting { name: "event_bytes_max".into(), value: "262144".into() }],
            }),
            Message::Auth([4; 64]),
            Message::Ping(5),
            Message::Pong(6),
            Message::Heads(vec![head, head]),
            Message::Pull(Pull {
                origin: [1; 32],
                epoch: 2,
                from_seq: 3,
                events_max: 4,
                bytes_max: 5,
                wait_ms: 6,
                ids_only: true,
            }),
            Message::Positions(Positions {
                origin: [1; 32],
                epoch: 2,
                from_seq: 3,
                next_seq: 9,
                ids: vec![PositionId { position: 4, id: [6; 32] }],
            }),
            Message::Fetch(Fetch {
                origin: [1; 32],
                epoch: 2,
                from_seq: 3,
                next_seq: 9,
                positions: vec![4, 7],
                events_max: 10,
                bytes_max: 11,
            }),
            Message::Fetched(Fetched {
                origin: [1; 32],
                epoch: 2,
                from_seq: 3,
                through: 9,
                events: vec![event.clone()],
            }),
            Message::Batch(Batch {
                origin: [1; 32],
                epoch: 2,
                from_seq: 3,
                next_seq: 9,
                events: vec![event.clone()],
                origin_commit_unix_ms: 4,
            }),
            Message::Reset(Reset { origin: [1; 32], epoch: 2, head }),
            Message::Ephemeral(event.clone()),
            Message::SummaryFull(SummaryFull {
                generation: 1,
                sequence: 2,
                match_all: false,
                kinds: vec![1, 7],
                blooms: vec![BloomWords { log2_bits: 12, words: vec![3; 64] }],
            }),
            Message::SummaryDelta(SummaryDelta {
                generation: 1,
                sequence: 3,
                match_all: true,
                kinds: vec![7],
                flips: vec![vec![1, 2], vec![], vec![9]],
            }),
            Message::SummaryRequest,
            Message::SyncOpen(SyncOpen { session: 1, since: 2, message: vec![0x61] }),
            Message::SyncMsg(SyncMsg { session: 1, from_initiator: true, message: vec![0x61, 0] }),
            Message::SyncFetch(SyncFetch { session: 1, ids: vec![[3; 32]] }),
            Message::SyncEvents(SyncEvents { session: 1, events: vec![event.clone()], last: true }),
            Message::SyncErr(SyncErr { session: 1, reason: "the session holds too many events".into() }),
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for message in samples() {
            let frame = message.encode();
            let (ranges, consumed) = split_frames(&frame, 1 << 20).unwrap();
            assert_eq!((ranges.len(), consumed), (1, frame.len()));
            assert_eq!(Message::decode(&frame[ranges[0].clone()]).unwrap(), message, "{}", message.kind());
        }
    }

    #[test]
    fn a_wire_event_reads_its_kind_from_the_canonical_middle() {
        let event = |middle: &str| WireEvent {
            origin_seq: 0,
            id: [0; 32],
            pubkey: [0; 32],
            sig: [0; 64],
            middle: middle.into(),
        };
        assert_eq!(event(r#""created_at":17,"kind":20001,"tags":[],"content":"""#).kind(), Some(20001));
        assert_eq!(event(r#""created_at":17,"kind":1"#).kind(), Some(1));
        assert_eq!(event(r#""kind":1,"created_at":17"#).kind(), None);
        assert_eq!(event(r#""created_at":17,"kind":70000,"tags":[]"#).kind(), None);
    }

    #[test]
    fn bad_frames_are_refused() {
        assert_eq!(
            body_length(5_000_000u32.to_be_bytes(), 1 << 20).unwrap_err(),
            FrameError::TooLarge { length: 5_000_000, limit: 1 << 20 }
        );
        assert_eq!(body_length([0; 4], 10).unwrap_err(), FrameError::Empty);
        assert_eq!(Message::decode(&[42]).unwrap_err(), FrameError::UnknownType(42));
        for message in samples() {
            let frame = message.encode();
            let body = &frame[4..];
            // Every truncation and a flipped length inside the payload must fail cleanly.
            for cut in 1..body.len() {
                let _ = Message::decode(&body[..cut]);
            }
            let mut garbage = body.to_vec();
            for byte in garbage.iter_mut().skip(1) {
                *byte = 0xff;
            }
            // Fixed-size payloads (numbers, keys) have no invalid bit patterns; every payload
            // with a length or an offset inside must refuse pointers out of its bounds.
            // (A sync error's all-0xff reason reads as rkyv's empty inline string: valid.)
            let fixed =
                ["auth", "ping", "pong", "pull", "reset", "summary_request", "sync_err"].contains(&message.kind());
            assert!(fixed || Message::decode(&garbage).is_err(), "{}", message.kind());
        }
        let (ranges, consumed) = split_frames(&[0, 0, 0, 3, 1], 100).unwrap();
        assert!(ranges.is_empty() && consumed == 0, "a partial frame waits for more bytes");
    }
}
