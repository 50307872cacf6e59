//! The per-connection outbound queue, bounded in bytes, and the task that drains it into the
//! socket. Replies and stored results always queue (readers and scans pause above the
//! high-water mark instead); live events beyond the bound follow the overflow policy.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use futures_lite::{AsyncRead, AsyncWrite};
use parrhesia_net::websocket::{BufferPool, SharedSocket, write_header};

use crate::config::OverflowPolicy;
use crate::metrics::{DEFLATE_OUT_COMPRESSED, DEFLATE_OUT_PLAIN, RELAY_VERB_EVENT, ShardMetrics, relay_verb};
use crate::notify::Notify;
use parrhesia_net::deflate::Deflater;

/// Stored events are copied out of LMDB into chunks of at least this many bytes, shared by the
/// frames cut from them (one allocation per chunk, not per event).
const STAGING_CHUNK_BYTES: usize = 64 * 1024;

/// Queue slots an idle connection keeps (a burst's are freed).
const IDLE_QUEUE_SLOTS: usize = 8;

/// Frames are gathered in a buffer lent by the shard and written once it holds this many bytes
/// (or the queue is empty): a write per turn, not per frame.
pub const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// The first byte of a final frame: FIN and the opcode; RSV1 marks a compressed message.
const FINAL_TEXT: u8 = 0x81;
const FINAL_COMPRESSED_TEXT: u8 = 0xc1;
const CLOSE: u8 = 0x88;
const PING: u8 = 0x89;
const PONG: u8 = 0x8a;

/// One queued WebSocket message.
#[derive(Debug)]
pub enum Frame {
    /// A complete text message: a reply (OK, EOSE, NOTICE, CLOSED, COUNT, ...). Never
    /// re-validated as UTF-8: it is our own JSON.
    Text(Bytes),
    /// A stored event (scan or catch-up) already written as `["EVENT","<sub>",<json>]`, JSON the
    /// store checked when it wrote it.
    Stored(Bytes),
    /// A live event: the subscription's `["EVENT","<sub>",` and the event's shared JSON,
    /// joined only when the frame is written.
    Event {
        prefix: Bytes,
        json: Arc<str>,
    },
    /// A live event for a permessage-deflate connection: the subscription's prefix and the
    /// event's JSON (with its closing `]`), each compressed once and ending in a sync flush;
    /// `plain_bytes` is the message's size uncompressed.
    DeflatedEvent {
        prefix: Bytes,
        json: Bytes,
        plain_bytes: usize,
    },
    Ping,
    /// The answer to a client's Ping, with its payload (at most 125 bytes).
    Pong(Bytes),
    Close {
        code: u16,
        reason: &'static str,
    },
}

impl Frame {
    fn is_live_event(&self) -> bool {
        matches!(self, Frame::Event { .. } | Frame::DeflatedEvent { .. })
    }

    fn bytes(&self) -> usize {
        match self {
            Frame::Text(text) | Frame::Stored(text) => text.len(),
            Frame::Event { prefix, json } => prefix.len() + json.len() + 1,
            Frame::DeflatedEvent { prefix, json, .. } => prefix.len() + json.len() - 4,
            Frame::Pong(payload) => payload.len() + 16,
            Frame::Ping | Frame::Close { .. } => 16,
        }
    }

    /// Appends the frame, header and payload, to `out`: a live event is joined there, from
    /// its prefix and shared JSON, with no copy between. With `deflate`, text of at least its
    /// threshold is compressed here.
    fn encode(self, out: &mut Vec<u8>, deflate: Option<&Deflate>, metrics: &ShardMetrics) {
        let is_reply = matches!(self, Frame::Text(_));
        match self {
            Frame::Text(text) | Frame::Stored(text) => match deflate {
                Some(deflate) if text.len() >= deflate.threshold_bytes && (is_reply || deflate.stored_events) => {
                    let mut payload = Vec::new();
                    deflate.deflater.borrow_mut().compress_message(&text, &mut payload);
                    metrics.deflate_bytes[DEFLATE_OUT_PLAIN].add(text.len() as u64);
                    metrics.deflate_bytes[DEFLATE_OUT_COMPRESSED].add(payload.len() as u64);
                    write_frame(out, FINAL_COMPRESSED_TEXT, &[&payload])
                }
                _ => write_frame(out, FINAL_TEXT, &[&text]),
            },
            Frame::Event { prefix, json } => write_frame(out, FINAL_TEXT, &[&prefix, json.as_bytes(), b"]"]),
            Frame::DeflatedEvent { prefix, json, plain_bytes } => {
                // The two parts, without the final sync trailer (RFC 7692 section 7.2.1).
                let json = &json[..json.len() - 4];
                metrics.deflate_bytes[DEFLATE_OUT_PLAIN].add(plain_bytes as u64);
                metrics.deflate_bytes[DEFLATE_OUT_COMPRESSED].add((prefix.len() + json.len()) as u64);
                write_frame(out, FINAL_COMPRESSED_TEXT, &[&prefix, json])
            }
            Frame::Ping => write_frame(out, PING, &[]),
            Frame::Pong(payload) => write_frame(out, PONG, &[&payload]),
            Frame::Close { code, reason } => write_frame(out, CLOSE, &[&code.to_be_bytes(), reason.as_bytes()]),
        }
    }
}

/// Appends one frame whose payload is `parts` joined.
fn write_frame(out: &mut Vec<u8>, first: u8, parts: &[&[u8]]) {
    let length = parts.iter().map(|part| part.len()).sum();
    out.reserve(length + 10);
    write_header(out, first, length);
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// A connection's permessage-deflate: the shard's compressor, the size from which messages are
/// compressed, and whether stored events (each compressed on its own as it is written) are.
pub struct Deflate<'a> {
    pub deflater: &'a RefCell<Deflater>,
    pub threshold_bytes: usize,
    pub stored_events: bool,
}

/// Writes `prefix ++ json ++ "]"` into `buffer` (`write_json` fills exactly `json_bytes`) and
/// cuts it off as one `Bytes`.
fn join_event(buffer: &mut BytesMut, prefix: &[u8], json_bytes: usize, write_json: impl FnOnce(&mut [u8])) -> Bytes {
    let length = prefix.len() + json_bytes + 1;
    if buffer.capacity() < length {
        buffer.reserve(length.max(STAGING_CHUNK_BYTES));
    }
    buffer.extend_from_slice(prefix);
    let json_start = buffer.len();
    buffer.resize(json_start + json_bytes, 0);
    write_json(&mut buffer[json_start..]);
    buffer.put_u8(b']');
    buffer.split().freeze()
}

/// `["EVENT","<sub>",`: what precedes the event JSON in every EVENT message of a subscription,
/// built once per subscription.
pub fn event_prefix(subscription_id: &str) -> Bytes {
    Bytes::from(parrhesia_engine::event_message_prefix(subscription_id))
}

/// What happened to a live event offered to a full queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveOutcome {
    Queued,
    /// An event was dropped (the new one, or the oldest queued one) and counted.
    Dropped,
    /// The policy is `close`: the connection must be closed.
    Overflow,
}

pub struct Outbound {
    queue: RefCell<VecDeque<Frame>>,
    /// The answer to the latest Ping not yet answered: one at most, whatever a client sends
    /// (RFC 6455 section 5.5.3 lets an endpoint answer only the latest), written first.
    pong: RefCell<Option<Bytes>>,
    /// Where stored events are written; released when the queue empties, so an idle
    /// connection holds no chunk.
    staging: RefCell<BytesMut>,
    bytes: Cell<usize>,
    bytes_max: usize,
    /// A Close frame is queued; nothing more is accepted.
    closing: Cell<bool>,
    /// Wakes the socket writer.
    pub queued: Notify,
    /// Wakes readers and scans waiting for the queue to drain below the high-water mark.
    pub drained: Notify,
}

impl Outbound {
    pub fn new(bytes_max: usize) -> Outbound {
        Outbound {
            queue: RefCell::default(),
            pong: RefCell::default(),
            staging: RefCell::default(),
            bytes: Cell::new(0),
            bytes_max,
            closing: Cell::new(false),
            queued: Notify::default(),
            drained: Notify::default(),
        }
    }

    fn high_water_bytes(&self) -> usize {
        self.bytes_max / 2
    }

    pub fn above_high_water(&self) -> bool {
        self.bytes.get() > self.high_water_bytes()
    }

    #[cfg(test)]
    fn is_closing(&self) -> bool {
        self.closing.get()
    }

    fn push(&self, frame: Frame) {
        if self.closing.get() {
            return;
        }
        self.bytes.set(self.bytes.get() + frame.bytes());
        self.queue.borrow_mut().push_back(frame);
        self.queued.notify_all();
    }

    /// A reply or a stored event: always queued (the producer respects flow control).
    pub fn push_reply(&self, text: String) {
        self.push(Frame::Text(Bytes::from(text)));
    }

    /// A stored event, written now (it is read from a page of a read transaction about to end)
    /// into this connection's staging chunk: `write_json` fills exactly `json_bytes`.
    pub fn push_stored(&self, prefix: &[u8], json_bytes: usize, write_json: impl FnOnce(&mut [u8])) {
        if self.closing.get() {
            return;
        }
        let message = join_event(&mut self.staging.borrow_mut(), prefix, json_bytes, write_json);
        self.push(Frame::Stored(message));
    }

    /// A live event (`Frame::Event` or `Frame::DeflatedEvent`): queued if it fits, else the
    /// overflow policy decides.
    pub fn push_live(&self, frame: Frame, policy: OverflowPolicy) -> LiveOutcome {
        if self.bytes.get() + frame.bytes() <= self.bytes_max {
            self.push(frame);
            return LiveOutcome::Queued;
        }
        match policy {
            OverflowPolicy::Close => LiveOutcome::Overflow,
            OverflowPolicy::DropNewest => LiveOutcome::Dropped,
            OverflowPolicy::DropOldest => {
                let mut queue = self.queue.borrow_mut();
                while self.bytes.get() + frame.bytes() > self.bytes_max {
                    let Some(position) = queue.iter().position(Frame::is_live_event) else {
                        return LiveOutcome::Dropped; // only replies queued: drop the new event
                    };
                    let removed = queue.remove(position).expect("position is in range");
                    self.bytes.set(self.bytes.get() - removed.bytes());
                }
                drop(queue);
                self.push(frame);
                LiveOutcome::Dropped
            }
        }
    }

    /// Drops every queued event (replies stay), e.g. before closing a connection that will
    /// never read them; frees their memory at once.
    pub fn discard_events(&self) {
        let mut queue = self.queue.borrow_mut();
        queue.retain(|frame| !frame.is_live_event());
        self.bytes.set(queue.iter().map(Frame::bytes).sum());
    }

    pub fn push_ping(&self) {
        self.push(Frame::Ping);
    }

    /// Answers a client's Ping (RFC 6455 section 5.5.3), replacing an answer not yet written.
    pub fn push_pong(&self, payload: &[u8]) {
        if !self.closing.get() {
            *self.pong.borrow_mut() = Some(Bytes::copy_from_slice(payload));
            self.queued.notify_all();
        }
    }

    /// Queues a Close frame after what is queued; later pushes are ignored. Wakes a reader
    /// waiting for the queue to drain: it stops waiting once the connection is closing.
    pub fn close(&self, code: u16, reason: &'static str) {
        if !self.closing.get() {
            self.push(Frame::Close { code, reason });
            self.closing.set(true);
            self.drained.notify_all();
        }
    }

    fn pop(&self) -> Option<Frame> {
        if let Some(payload) = self.pong.borrow_mut().take() {
            return Some(Frame::Pong(payload));
        }
        let frame = self.queue.borrow_mut().pop_front()?;
        self.bytes.set(self.bytes.get() - frame.bytes());
        Some(frame)
    }

    /// Nothing queued: no Pong and no frame.
    fn is_empty(&self) -> bool {
        self.pong.borrow().is_none() && self.queue.borrow().is_empty()
    }

    /// Frees what an idle connection need not hold: the staging chunk (frames cut from it keep
    /// their part) and the queue's slots past a few (a burst of results grew it).
    fn release_idle(&self) {
        let mut staging = self.staging.borrow_mut();
        if staging.capacity() > 0 {
            *staging = BytesMut::new();
        }
        let mut queue = self.queue.borrow_mut();
        if queue.is_empty() && queue.capacity() > IDLE_QUEUE_SLOTS {
            *queue = VecDeque::new();
        }
    }

    /// Waits until the queue is at or below the high-water mark, or closing.
    pub async fn wait_below_high_water(&self) {
        while self.above_high_water() && !self.closing.get() {
            self.drained.notified().await;
        }
    }

    /// Bytes queued now.
    pub fn queued_bytes(&self) -> usize {
        self.bytes.get()
    }
}

/// How a connection's frames are written: `buffers` is the shard's pool the writer borrows
/// its buffer from while it has frames; `metrics` counts what is sent, by verb; `deflate` is
/// set when the connection negotiated permessage-deflate; `linger` is `delivery_linger_ms`.
pub struct Output<'a> {
    pub buffers: &'a BufferPool,
    pub metrics: &'a ShardMetrics,
    pub deflate: Option<Deflate<'a>>,
    pub linger: std::time::Duration,
}

/// Drains `outbound` into `socket` until a Close frame is sent or the socket fails.
/// Frames are gathered in a lent buffer, written when it holds `WRITE_BUFFER_BYTES` and once
/// the queue is empty (a cork per turn, not a write per frame); an idle connection gives the
/// buffer back. With a linger, a live event that finds the connection idle waits that long
/// first, and leaves with whatever arrived meanwhile.
pub async fn write_loop<S>(outbound: &Outbound, socket: SharedSocket<S>, output: Output<'_>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Output { buffers, metrics, deflate, linger } = output;
    let mut out = Vec::new();
    loop {
        let Some(frame) = outbound.pop() else {
            // The write can wait long on a slow reader; frames queued meanwhile are taken on
            // the next turn, so only wait for a notification if the queue is still empty.
            if !out.is_empty() && socket.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
            metrics.outbound_flushes.inc();
            outbound.drained.notify_all();
            if outbound.is_empty() {
                buffers.give(std::mem::take(&mut out));
                outbound.release_idle();
                outbound.queued.notified().await;
                let held = outbound.queue.borrow().front().is_some_and(Frame::is_live_event);
                if held && !linger.is_zero() {
                    glommio::timer::sleep(linger).await;
                }
            }
            continue;
        };
        let is_close = matches!(frame, Frame::Close { .. });
        match &frame {
            Frame::Text(text) => metrics.relay_messages[relay_verb(text)].inc(),
            Frame::Stored(_) => metrics.relay_messages[RELAY_VERB_EVENT].inc(),
            Frame::Event { .. } | Frame::DeflatedEvent { .. } => metrics.relay_messages[RELAY_VERB_EVENT].inc(),
            Frame::Ping | Frame::Pong(_) | Frame::Close { .. } => {}
        }
        if out.capacity() == 0 {
            out = buffers.take_empty();
        }
        frame.encode(&mut out, deflate.as_ref(), metrics);
        if out.len() >= WRITE_BUFFER_BYTES || is_close {
            let written = socket.write_all(&out).await;
            out.clear();
            if written.is_err() || is_close {
                break;
            }
        }
        if !outbound.above_high_water() {
            outbound.drained.notify_all();
        }
    }
    buffers.give(out);
    // Whatever is still queued will never be sent: release it and anyone waiting on it.
    while outbound.pop().is_some() {}
    outbound.closing.set(true);
    outbound.drained.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(size: usize) -> (Bytes, Arc<str>) {
        (event_prefix("s"), Arc::from("x".repeat(size)))
    }

    /// The payload of the final text frame `frame` encodes to (header checked).
    fn text_of(frame: Frame) -> String {
        let mut out = Vec::new();
        frame.encode(&mut out, None, &ShardMetrics::default());
        let (header, length) = match out[1] {
            126 => (4, usize::from(u16::from_be_bytes([out[2], out[3]]))),
            127 => (10, u64::from_be_bytes(out[2..10].try_into().unwrap()) as usize),
            short => (2, usize::from(short)),
        };
        assert_eq!(out[0], FINAL_TEXT, "a final text frame");
        assert_eq!(out.len(), header + length, "the header gives the payload's length");
        String::from_utf8(out[header..].to_vec()).unwrap()
    }

    #[test]
    fn overflow_policies() {
        let (prefix, json) = event(100);
        let frame_bytes = prefix.len() + 100 + 1;
        for (policy, expected) in [
            (OverflowPolicy::Close, LiveOutcome::Overflow),
            (OverflowPolicy::DropNewest, LiveOutcome::Dropped),
            (OverflowPolicy::DropOldest, LiveOutcome::Dropped),
        ] {
            let outbound = Outbound::new(frame_bytes * 2);
            assert_eq!(
                outbound.push_live(Frame::Event { prefix: prefix.clone(), json: json.clone() }, policy),
                LiveOutcome::Queued
            );
            assert_eq!(
                outbound.push_live(Frame::Event { prefix: prefix.clone(), json: json.clone() }, policy),
                LiveOutcome::Queued
            );
            assert_eq!(outbound.queued_bytes(), frame_bytes * 2, "{policy:?} counts what it queued");
            assert_eq!(
                outbound.push_live(Frame::Event { prefix: prefix.clone(), json: json.clone() }, policy),
                expected,
                "{policy:?}"
            );
            assert!(outbound.queued_bytes() <= frame_bytes * 2, "{policy:?} keeps the bound");
        }
    }

    #[test]
    fn drop_oldest_keeps_replies() {
        let (prefix, json) = event(100);
        let outbound = Outbound::new(300);
        outbound.push_reply("r".repeat(250));
        assert_eq!(outbound.push_live(Frame::Event { prefix, json }, OverflowPolicy::DropOldest), LiveOutcome::Dropped);
        assert_eq!(outbound.queue.borrow().len(), 1, "the reply stays, the event that cannot fit is dropped");
    }

    /// A client flooding Pings without reading holds one answer, the latest, written first.
    #[test]
    fn pings_hold_one_pong() {
        let outbound = Outbound::new(1000);
        outbound.push_reply("a reply".into());
        for index in 0..10_000u32 {
            outbound.push_pong(&index.to_be_bytes());
        }
        assert!(matches!(outbound.pop(), Some(Frame::Pong(payload)) if payload[..] == 9_999u32.to_be_bytes()));
        assert!(matches!(outbound.pop(), Some(Frame::Text(_))));
        assert!(outbound.pop().is_none() && outbound.is_empty());
    }

    #[test]
    fn close_stops_accepting() {
        let outbound = Outbound::new(1000);
        outbound.close(1001, "going away");
        outbound.push_reply("late".into());
        outbound.push_stored(b"[\"EVENT\",\"s\",", 2, |out| out.copy_from_slice(b"{}"));
        assert_eq!(outbound.queue.borrow().len(), 1);
        assert!(outbound.is_closing());
    }

    /// Stored and live events become exactly the NIP-01 EVENT message, byte for byte, whatever
    /// the subscription id needs escaped; stored events share staging chunks.
    #[test]
    fn frames_are_exact_event_messages() {
        let outbound = Outbound::new(1 << 20);
        let cases = [("sub", "{\"id\":\"a\"}"), ("q\"uote\\", "{}"), ("é\n", "{\"content\":\"ü\"}")];
        for (subscription, json) in cases {
            let prefix = event_prefix(subscription);
            let expected =
                format!("[\"EVENT\",{},{json}]", serde_json::to_string(subscription).expect("a string serializes"));
            outbound.push_stored(&prefix, json.len(), |out| out.copy_from_slice(json.as_bytes()));
            assert_eq!(
                outbound.push_live(Frame::Event { prefix, json: Arc::from(json) }, OverflowPolicy::Close),
                LiveOutcome::Queued
            );
            let stored = outbound.pop().expect("stored frame queued");
            let live = outbound.pop().expect("live frame queued");
            assert_eq!(stored.bytes(), expected.len(), "accounted size of {subscription:?}");
            assert_eq!(live.bytes(), expected.len(), "accounted size of {subscription:?}");
            assert_eq!(text_of(stored), expected);
            assert_eq!(text_of(live), expected);
        }
        assert_eq!(outbound.queued_bytes(), 0, "popping returns every byte");
    }

    #[test]
    fn stored_events_share_one_chunk_and_idle_releases_it() {
        let outbound = Outbound::new(1 << 20);
        let prefix = event_prefix("s");
        for _ in 0..10 {
            outbound.push_stored(&prefix, 100, |out| out.fill(b'x'));
        }
        let first = outbound.pop().expect("queued");
        let second = outbound.pop().expect("queued");
        let (Frame::Stored(first), Frame::Stored(second)) = (first, second) else { panic!("stored events are text") };
        let gap = second.as_ptr() as usize - first.as_ptr() as usize;
        assert_eq!(gap, first.len(), "consecutive stored events are cut from one chunk");
        assert!(outbound.staging.borrow().capacity() > 0);
        while outbound.pop().is_some() {}
        outbound.release_idle();
        assert_eq!(outbound.staging.borrow().capacity(), 0, "an idle connection holds no chunk");
        assert_eq!(outbound.queue.borrow().capacity(), 0, "nor the slots a burst needed");
        assert_eq!(&second[second.len() - 1..], b"]", "frames cut earlier stay valid");
    }
}
