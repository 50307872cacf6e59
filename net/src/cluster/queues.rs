//! A link's send queues by traffic class, and the order they are written in, without I/O.
//!
//! Control frames (pings, pongs, heads, pulls, resets, summaries) go first, always. The other
//! classes share the link by weight (deficit round robin over bytes): replication (pulled
//! batches: bounded by the pulls in flight, never dropped: a peer that lets it fill is cut off
//! and resumes from its cursors), live (ephemeral events: best effort, the oldest dropped when
//! full, counted) and any extra classes configured for kinds (live too), so a heavy stream of
//! one class cannot starve the others.

use std::collections::VecDeque;

/// Bytes a class may send per round for each unit of weight.
const QUANTUM_BYTES: usize = 16 * 1024;

/// One class besides control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassConfig {
    pub name: String,
    pub weight: u32,
    pub bytes_max: usize,
    /// Best effort: past `bytes_max` the oldest frames are dropped; otherwise the link is
    /// over its bound and must be closed.
    pub drop_oldest: bool,
}

/// What `push` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// A best-effort class was full: its oldest frames were dropped to make room (or the
    /// frame itself, if it is larger than the class's bound).
    Dropped {
        frames: usize,
        bytes: usize,
    },
    /// Not queued: a class that never drops is over its bound (close the link).
    Overflow,
}

#[derive(Debug)]
struct ClassQueue {
    config: ClassConfig,
    frames: VecDeque<Vec<u8>>,
    bytes: usize,
    deficit: usize,
}

/// Per class, for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassFigures {
    pub name: String,
    pub queued_frames: usize,
    pub queued_bytes: usize,
}

/// The queues of one link.
#[derive(Debug)]
pub struct LinkQueues {
    control: VecDeque<Vec<u8>>,
    control_bytes: usize,
    control_bytes_max: usize,
    classes: Vec<ClassQueue>,
    /// The class whose turn it is, and whether it has had its credit for this turn.
    turn: usize,
    credited: bool,
}

/// A class index: `CONTROL`, or an index into the configured classes.
pub const CONTROL: usize = usize::MAX;

impl LinkQueues {
    pub fn new(control_bytes_max: usize, classes: Vec<ClassConfig>) -> LinkQueues {
        let classes = classes
            .into_iter()
            .map(|config| ClassQueue { config, frames: VecDeque::new(), bytes: 0, deficit: 0 })
            .collect();
        LinkQueues { control: VecDeque::new(), control_bytes: 0, control_bytes_max, classes, turn: 0, credited: false }
    }

    /// Bytes queued in every class.
    pub fn bytes(&self) -> usize {
        self.control_bytes + self.classes.iter().map(|class| class.bytes).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.control.is_empty() && self.classes.iter().all(|class| class.frames.is_empty())
    }

    pub fn push(&mut self, class: usize, frame: Vec<u8>) -> Pushed {
        if class == CONTROL {
            if self.control_bytes + frame.len() > self.control_bytes_max {
                return Pushed::Overflow;
            }
            self.control_bytes += frame.len();
            self.control.push_back(frame);
            return Pushed::Queued;
        }
        let queue = &mut self.classes[class];
        if queue.bytes + frame.len() <= queue.config.bytes_max {
            queue.bytes += frame.len();
            queue.frames.push_back(frame);
            return Pushed::Queued;
        }
        if !queue.config.drop_oldest {
            return Pushed::Overflow;
        }
        if frame.len() > queue.config.bytes_max {
            return Pushed::Dropped { frames: 1, bytes: frame.len() };
        }
        let (mut frames, mut bytes) = (0, 0);
        while queue.bytes + frame.len() > queue.config.bytes_max {
            let oldest = queue.frames.pop_front().expect("over the bound means not empty");
            queue.bytes -= oldest.len();
            frames += 1;
            bytes += oldest.len();
        }
        queue.bytes += frame.len();
        queue.frames.push_back(frame);
        Pushed::Dropped { frames, bytes }
    }

    /// The next frame to write: control first, then the classes by weight.
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        if let Some(frame) = self.control.pop_front() {
            self.control_bytes -= frame.len();
            return Some(frame);
        }
        if self.classes.iter().all(|class| class.frames.is_empty()) {
            return None;
        }
        loop {
            let queue = &mut self.classes[self.turn];
            let Some(front) = queue.frames.front() else {
                queue.deficit = 0;
                self.next_turn();
                continue;
            };
            if !self.credited {
                queue.deficit += queue.config.weight.max(1) as usize * QUANTUM_BYTES;
                self.credited = true;
            }
            if queue.deficit >= front.len() {
                let frame = queue.frames.pop_front().expect("has a front");
                queue.deficit -= frame.len();
                queue.bytes -= frame.len();
                if queue.frames.is_empty() {
                    queue.deficit = 0;
                }
                return Some(frame);
            }
            self.next_turn();
        }
    }

    fn next_turn(&mut self) {
        self.turn = (self.turn + 1) % self.classes.len();
        self.credited = false;
    }

    pub fn figures(&self) -> Vec<ClassFigures> {
        let control = ClassFigures {
            name: "control".into(),
            queued_frames: self.control.len(),
            queued_bytes: self.control_bytes,
        };
        let classes = self.classes.iter().map(|class| ClassFigures {
            name: class.config.name.clone(),
            queued_frames: class.frames.len(),
            queued_bytes: class.bytes,
        });
        std::iter::once(control).chain(classes).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, weight: u32, bytes_max: usize, drop_oldest: bool) -> ClassConfig {
        ClassConfig { name: name.into(), weight, bytes_max, drop_oldest }
    }

    #[test]
    fn control_goes_first_and_weights_share_the_rest() {
        let mut queues =
            LinkQueues::new(1 << 20, vec![class("replication", 1, 1 << 30, false), class("live", 3, 1 << 30, true)]);
        for _ in 0..400 {
            queues.push(0, vec![0; 1000]);
            queues.push(1, vec![1; 1000]);
        }
        queues.push(CONTROL, vec![9; 10]);
        assert_eq!(queues.pop(), Some(vec![9; 10]), "control first");
        let mut sent = [0usize; 2];
        for _ in 0..200 {
            let frame = queues.pop().unwrap();
            sent[usize::from(frame[0])] += frame.len();
        }
        let ratio = sent[1] as f64 / sent[0] as f64;
        assert!((2.0..=4.0).contains(&ratio), "live gets ~3x replication: {sent:?}");
        // Alone, a class gets everything.
        let mut alone = LinkQueues::new(1 << 20, vec![class("a", 1, 1 << 20, false), class("b", 1, 1 << 20, false)]);
        for _ in 0..10 {
            alone.push(1, vec![1; 50_000]);
        }
        assert_eq!((0..10).filter_map(|_| alone.pop()).count(), 10);
        assert!(alone.pop().is_none() && alone.is_empty() && alone.bytes() == 0);
    }

    #[test]
    fn a_full_live_class_drops_its_oldest_and_a_full_replication_class_overflows() {
        let mut queues = LinkQueues::new(100, vec![class("replication", 1, 3000, false), class("live", 1, 3000, true)]);
        for n in 0..5u8 {
            let pushed = queues.push(1, vec![n; 1000]);
            assert_eq!(pushed, if n < 3 { Pushed::Queued } else { Pushed::Dropped { frames: 1, bytes: 1000 } });
        }
        assert_eq!(queues.pop().map(|frame| frame[0]), Some(2), "the oldest two were dropped");
        assert_eq!(queues.push(1, vec![0; 4000]), Pushed::Dropped { frames: 1, bytes: 4000 }, "larger than the class");
        let live = &queues.figures()[2];
        assert_eq!((live.queued_frames, live.queued_bytes), (2, 2000));
        for _ in 0..3 {
            assert_eq!(queues.push(0, vec![0; 1000]), Pushed::Queued);
        }
        assert_eq!(queues.push(0, vec![0; 1]), Pushed::Overflow, "replication never drops: the link is over its bound");
        assert_eq!(queues.push(CONTROL, vec![0; 101]), Pushed::Overflow);
    }
}
