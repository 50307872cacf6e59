//! The per-connection outbound queue, bounded in bytes, and the task that drains it into the
//! socket. Replies and stored results always queue (readers and scans pause above the
//! high-water mark instead); live events beyond the bound follow the overflow policy.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::SinkExt;
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use crate::config::OverflowPolicy;
use crate::notify::Notify;

/// One queued WebSocket message.
#[derive(Debug)]
pub enum Frame {
    /// A complete relay message (OK, EOSE, NOTICE, CLOSED, COUNT, ...).
    Text(String),
    /// An event for a subscription: the shared event JSON behind `["EVENT","<sub>",`.
    Event {
        subscription_id: Arc<str>,
        json: Arc<str>,
    },
    Ping,
    Close {
        code: u16,
        reason: &'static str,
    },
}

impl Frame {
    fn bytes(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::Event { subscription_id, json } => json.len() + subscription_id.len() + 13,
            Frame::Ping | Frame::Close { .. } => 16,
        }
    }

    fn into_message(self) -> Message {
        match self {
            Frame::Text(text) => Message::Text(text.into()),
            Frame::Event { subscription_id, json } => {
                let mut text = parrhesia_engine::event_message_prefix(&subscription_id);
                text.extend_from_slice(json.as_bytes());
                text.push(b']');
                Message::Text(String::from_utf8(text).expect("JSON pieces are UTF-8").into())
            }
            Frame::Ping => Message::Ping(Vec::new().into()),
            Frame::Close { code, reason } => {
                Message::Close(Some(CloseFrame { code: CloseCode::from(code), reason: reason.into() }))
            }
        }
    }
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
        self.push(Frame::Text(text));
    }

    pub fn push_stored(&self, subscription_id: Arc<str>, json: Arc<str>) {
        self.push(Frame::Event { subscription_id, json });
    }

    /// A live event: queued if it fits, else the overflow policy decides.
    pub fn push_live(&self, subscription_id: Arc<str>, json: Arc<str>, policy: OverflowPolicy) -> LiveOutcome {
        let frame = Frame::Event { subscription_id, json };
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
                    let Some(position) = queue.iter().position(|queued| matches!(queued, Frame::Event { .. })) else {
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
        queue.retain(|frame| !matches!(frame, Frame::Event { .. }));
        self.bytes.set(queue.iter().map(Frame::bytes).sum());
    }

    pub fn push_ping(&self) {
        self.push(Frame::Ping);
    }

    /// Queues a Close frame after what is queued; later pushes are ignored.
    pub fn close(&self, code: u16, reason: &'static str) {
        if !self.closing.get() {
            self.push(Frame::Close { code, reason });
            self.closing.set(true);
        }
    }

    fn pop(&self) -> Option<Frame> {
        let frame = self.queue.borrow_mut().pop_front()?;
        self.bytes.set(self.bytes.get() - frame.bytes());
        Some(frame)
    }

    /// Waits until the queue is at or below the high-water mark, or closing.
    pub async fn wait_below_high_water(&self) {
        while self.above_high_water() && !self.closing.get() {
            self.drained.notified().await;
        }
    }

    /// Bytes queued now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes.get()
    }
}

/// Drains `outbound` into `sink` until a Close frame is sent or the socket fails.
pub async fn write_loop<S>(outbound: &Outbound, mut sink: S)
where
    S: futures_util::Sink<Message> + Unpin,
{
    loop {
        let Some(frame) = outbound.pop() else {
            // The flush can wait long on a slow reader; frames queued meanwhile are taken on
            // the next turn, so only wait for a notification if the queue is still empty.
            if sink.flush().await.is_err() {
                break;
            }
            outbound.drained.notify_all();
            if outbound.queue.borrow().is_empty() {
                outbound.queued.notified().await;
            }
            continue;
        };
        let is_close = matches!(frame, Frame::Close { .. });
        let sent = if is_close { sink.send(frame.into_message()).await } else { sink.feed(frame.into_message()).await };
        if !outbound.above_high_water() {
            outbound.drained.notify_all();
        }
        if sent.is_err() || is_close {
            break;
        }
    }
    // Whatever is still queued will never be sent: release it and anyone waiting on it.
    while outbound.pop().is_some() {}
    outbound.closing.set(true);
    outbound.drained.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(size: usize) -> (Arc<str>, Arc<str>) {
        (Arc::from("s"), Arc::from("x".repeat(size)))
    }

    #[test]
    fn overflow_policies() {
        let (sub, json) = event(100);
        let frame_bytes = 100 + 1 + 13;
        for (policy, expected) in [
            (OverflowPolicy::Close, LiveOutcome::Overflow),
            (OverflowPolicy::DropNewest, LiveOutcome::Dropped),
            (OverflowPolicy::DropOldest, LiveOutcome::Dropped),
        ] {
            let outbound = Outbound::new(frame_bytes * 2);
            assert_eq!(outbound.push_live(sub.clone(), json.clone(), policy), LiveOutcome::Queued);
            assert_eq!(outbound.push_live(sub.clone(), json.clone(), policy), LiveOutcome::Queued);
            assert_eq!(outbound.push_live(sub.clone(), json.clone(), policy), expected, "{policy:?}");
            assert!(outbound.bytes() <= frame_bytes * 2, "{policy:?} keeps the bound");
        }
    }

    #[test]
    fn drop_oldest_keeps_replies() {
        let (sub, json) = event(100);
        let outbound = Outbound::new(300);
        outbound.push_reply("r".repeat(250));
        assert_eq!(outbound.push_live(sub, json, OverflowPolicy::DropOldest), LiveOutcome::Dropped);
        assert_eq!(outbound.queue.borrow().len(), 1, "the reply stays, the event that cannot fit is dropped");
    }

    #[test]
    fn close_stops_accepting() {
        let outbound = Outbound::new(1000);
        outbound.close(1001, "going away");
        outbound.push_reply("late".into());
        assert_eq!(outbound.queue.borrow().len(), 1);
        assert!(outbound.is_closing());
    }
}
