//! Phase C's interest summaries between nodes, without I/O: the node's own summary as it is
//! published (`InterestPublisher`: full summaries and numbered bit-flip deltas) and a peer's
//! summary as this node holds it (`PeerInterest`: applies them, detects gaps, and says when the
//! summary is too old to trust). A summary only ever decides how soon an event is sent, never
//! whether: every stored event still reaches every peer through the durable pull.

use parrhesia_engine::summary::{BLOOM_CLASSES, Bloom, CountingSummary, InterestKey, Summary};

use super::frame::{BloomWords, SummaryDelta, SummaryFull};

/// What an interest change asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Publish {
    /// Nothing at once (removals wait for the next periodic delta).
    Later,
    /// Interest was added: send a delta now, so peers push matching events without delay.
    DeltaNow,
    /// A bloom changed size: a new generation, a full summary to every peer.
    FullNow,
}

/// This node's summary: the keys its shards hold, and the summary as of the last delta sent.
pub struct InterestPublisher {
    counting: CountingSummary,
    /// The summary at (`generation`, `sequence`): what a peer holds after the last delta.
    sent: Summary,
    generation: u64,
    sequence: u64,
    /// A kind was added or removed since the last delta (most deltas carry no kinds: the
    /// 65,536-bit comparison is skipped).
    kinds_changed: bool,
}

impl Default for InterestPublisher {
    fn default() -> Self {
        let counting = CountingSummary::new();
        let sent = counting.summary().clone();
        InterestPublisher { counting, sent, generation: 1, sequence: 0, kinds_changed: false }
    }
}

impl InterestPublisher {
    /// Applies shards' changes: `(key, true)` a shard now holds the key, `(key, false)` it no
    /// longer does.
    pub fn apply(&mut self, changes: &[(InterestKey, bool)]) -> Publish {
        let mut publish = Publish::Later;
        for &(key, held) in changes {
            self.kinds_changed |= matches!(key, InterestKey::Kind(_));
            if held {
                if self.counting.add(key) {
                    publish = Publish::FullNow;
                } else if publish == Publish::Later {
                    publish = Publish::DeltaNow;
                }
            } else {
                self.counting.remove(key);
            }
        }
        if publish == Publish::FullNow {
            self.next_generation();
        }
        publish
    }

    /// Halves blooms grown too big for their keys; `true`: a new generation (send full).
    pub fn shrink(&mut self) -> bool {
        let shrunk = self.counting.shrink();
        if shrunk {
            self.next_generation();
        }
        shrunk
    }

    fn next_generation(&mut self) {
        self.generation += 1;
        self.sequence = 0;
        self.sent = self.counting.summary().clone();
    }

    /// Distinct keys per bloom (ids, authors, tags).
    pub fn distinct_keys(&self) -> [usize; BLOOM_CLASSES] {
        self.counting.distinct_keys()
    }

    /// The current summary (what the shards hold now).
    pub fn summary(&self) -> &Summary {
        self.counting.summary()
    }

    /// The summary as of the last delta, for a peer that needs all of it.
    pub fn full(&self) -> SummaryFull {
        SummaryFull {
            generation: self.generation,
            sequence: self.sequence,
            match_all: self.sent.match_all,
            kinds: self.sent.kinds(),
            blooms: self
                .sent
                .blooms
                .iter()
                .map(|bloom| BloomWords { log2_bits: bloom.log2_bits(), words: bloom.words().to_vec() })
                .collect(),
        }
    }

    /// What changed since the last delta, as the next numbered delta (possibly empty: it still
    /// confirms the summary to peers).
    pub fn delta(&mut self) -> SummaryDelta {
        let current = self.counting.summary();
        let flips =
            (0..BLOOM_CLASSES).map(|class| current.blooms[class].flips_from(&self.sent.blooms[class])).collect();
        let kinds = if self.kinds_changed { current.kind_flips_from(&self.sent) } else { Vec::new() };
        self.kinds_changed = false;
        self.sent.clone_from(current);
        self.sequence += 1;
        SummaryDelta {
            generation: self.generation,
            sequence: self.sequence,
            match_all: current.match_all,
            kinds,
            flips,
        }
    }
}

/// A peer's summary as this node holds it.
#[derive(Default)]
pub struct PeerInterest {
    view: Option<(u64, u64, Summary)>,
    confirmed_ms: Option<u64>,
    /// When this node last asked for a full summary and has had none since.
    requested_ms: Option<u64>,
}

/// What a delta asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaOutcome {
    Applied,
    /// The delta does not follow what this node holds: ask the peer for a full summary
    /// (`SummaryRequest`); until it comes, the peer is treated as wanting everything.
    RequestFull,
    /// A gap was seen and a full summary has been asked for recently: wait for it.
    Waiting,
}

impl PeerInterest {
    /// Takes a full summary; an error (malformed sizes) is a protocol error.
    pub fn on_full(&mut self, now_ms: u64, full: &SummaryFull) -> Result<(), String> {
        if full.blooms.len() != BLOOM_CLASSES {
            return Err(format!("summary with {} blooms", full.blooms.len()));
        }
        let mut blooms = Vec::with_capacity(BLOOM_CLASSES);
        for bloom in &full.blooms {
            blooms.push(Bloom::from_words(bloom.log2_bits, &bloom.words)?);
        }
        let sizes: [u8; BLOOM_CLASSES] = std::array::from_fn(|class| blooms[class].log2_bits());
        let mut summary = Summary::empty(sizes);
        for (mine, bloom) in summary.blooms.iter_mut().zip(blooms) {
            *mine = bloom;
        }
        for &kind in &full.kinds {
            summary.set_kind(kind, true);
        }
        summary.match_all = full.match_all;
        self.view = Some((full.generation, full.sequence, summary));
        self.confirmed_ms = Some(now_ms);
        self.requested_ms = None;
        Ok(())
    }

    /// Takes a delta: applied if it follows the summary held, else a full one is needed. An
    /// error (a flip outside a bloom) is a protocol error.
    pub fn on_delta(&mut self, now_ms: u64, delta: &SummaryDelta, stale_ms: u64) -> Result<DeltaOutcome, String> {
        let follows = self.view.as_ref().is_some_and(|(generation, sequence, _)| {
            // The peer's numbers: a held `u64::MAX` is followed by nothing, not by zero.
            delta.generation == *generation && sequence.checked_add(1) == Some(delta.sequence)
        });
        if !follows {
            self.view = None;
            self.confirmed_ms = None;
            if self.requested_ms.is_some_and(|asked| now_ms < asked + stale_ms) {
                return Ok(DeltaOutcome::Waiting);
            }
            self.requested_ms = Some(now_ms);
            return Ok(DeltaOutcome::RequestFull);
        }
        if delta.flips.len() != BLOOM_CLASSES {
            return Err(format!("summary delta with {} bloom flip lists", delta.flips.len()));
        }
        let (_, sequence, summary) = self.view.as_mut().expect("follows a held summary");
        // Check every list before changing anything: a bad delta leaves the summary as it was.
        for (bloom, flips) in summary.blooms.iter().zip(&delta.flips) {
            let mut probe = Bloom::new(bloom.log2_bits());
            probe.flip(flips)?;
        }
        for (bloom, flips) in summary.blooms.iter_mut().zip(&delta.flips) {
            bloom.flip(flips).expect("checked above");
        }
        for &kind in &delta.kinds {
            let held = summary.has_kind(kind);
            summary.set_kind(kind, !held);
        }
        summary.match_all = delta.match_all;
        *sequence = delta.sequence;
        self.confirmed_ms = Some(now_ms);
        Ok(DeltaOutcome::Applied)
    }

    /// The peer's summary if it was confirmed within `stale_ms`; `None`: treat the peer as
    /// wanting everything (fail open).
    pub fn current(&self, now_ms: u64, stale_ms: u64) -> Option<&Summary> {
        let fresh = self.confirmed_ms.is_some_and(|confirmed| now_ms <= confirmed + stale_ms);
        self.view.as_ref().filter(|_| fresh).map(|(_, _, summary)| summary)
    }

    /// How long ago the summary was last confirmed.
    pub fn age_ms(&self, now_ms: u64) -> Option<u64> {
        self.confirmed_ms.map(|confirmed| now_ms.saturating_sub(confirmed))
    }

    /// A full summary was asked for and has not come within `stale_ms`: ask again.
    pub fn request_overdue(&mut self, now_ms: u64, stale_ms: u64) -> bool {
        let overdue = self.requested_ms.is_some_and(|asked| now_ms >= asked + stale_ms);
        if overdue {
            self.requested_ms = Some(now_ms);
        }
        overdue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parrhesia_engine::SeededRandom;

    fn keys(seed: u64, count: usize) -> Vec<InterestKey> {
        let mut random = SeededRandom::new(seed);
        (0..count)
            .map(|i| match i % 5 {
                3 => InterestKey::Kind(random.below(40_000) as u16),
                _ => InterestKey::Hashed((i % 3) as u8, random.next_u64()),
            })
            .collect()
    }

    #[test]
    fn deltas_applied_in_order_equal_the_full_summary() {
        let mut publisher = InterestPublisher::default();
        let mut peer = PeerInterest::default();
        assert!(peer.current(0, 2000).is_none(), "nothing known: fail open");
        peer.on_full(0, &publisher.full()).unwrap();
        let added = keys(1, 200);
        for (step, chunk) in added.chunks(20).enumerate() {
            let changes: Vec<(InterestKey, bool)> = chunk.iter().map(|key| (*key, true)).collect();
            assert_ne!(publisher.apply(&changes), Publish::Later, "additions are sent at once");
            if step % 3 == 0 {
                let removed: Vec<(InterestKey, bool)> = chunk[..5].iter().map(|key| (*key, false)).collect();
                assert_eq!(publisher.apply(&removed), Publish::Later);
            }
            let delta = publisher.delta();
            assert_eq!(peer.on_delta(step as u64, &delta, 2000), Ok(DeltaOutcome::Applied));
            assert_eq!(peer.current(step as u64, 2000), Some(publisher.summary()));
        }
        publisher.apply(&[(InterestKey::MatchAll, true)]);
        peer.on_delta(50, &publisher.delta(), 2000).unwrap();
        assert!(peer.current(50, 2000).unwrap().match_all);
        // Removing everything empties the summary on both sides.
        let mut all: Vec<(InterestKey, bool)> = added.iter().map(|key| (*key, false)).collect();
        all.push((InterestKey::MatchAll, false));
        publisher.apply(&all);
        peer.on_delta(60, &publisher.delta(), 2000).unwrap();
        let empty = Summary::empty(publisher.summary().log2_bits());
        assert_eq!(peer.current(60, 2000), Some(&empty));
    }

    #[test]
    fn a_gap_or_a_new_generation_asks_for_a_full_summary_and_fails_open_meanwhile() {
        let mut publisher = InterestPublisher::default();
        let mut peer = PeerInterest::default();
        peer.on_full(0, &publisher.full()).unwrap();
        publisher.apply(&[(InterestKey::Kind(1), true)]);
        let _lost = publisher.delta();
        publisher.apply(&[(InterestKey::Kind(2), true)]);
        assert_eq!(peer.on_delta(10, &publisher.delta(), 2000), Ok(DeltaOutcome::RequestFull));
        assert!(peer.current(10, 2000).is_none(), "a summary with a gap is not trusted");
        assert_eq!(peer.on_delta(20, &publisher.delta(), 2000), Ok(DeltaOutcome::Waiting));
        assert!(!peer.request_overdue(1000, 2000));
        assert!(peer.request_overdue(2010, 2000), "no full came: ask again");
        peer.on_full(2020, &publisher.full()).unwrap();
        assert_eq!(peer.current(2020, 2000), Some(publisher.summary()));
        // Growing a bloom starts a new generation; old-generation deltas no longer apply.
        let many: Vec<(InterestKey, bool)> = keys(2, 3000).into_iter().map(|key| (key, true)).collect();
        assert_eq!(publisher.apply(&many), Publish::FullNow);
        assert_eq!(peer.on_delta(2030, &publisher.delta(), 2000), Ok(DeltaOutcome::RequestFull));
        peer.on_full(2040, &publisher.full()).unwrap();
        assert_eq!(peer.current(2040, 2000), Some(publisher.summary()));
        // Not confirmed for longer than the staleness bound: treated as wanting everything.
        assert!(peer.current(2040 + 2001, 2000).is_none());
        assert_eq!(peer.age_ms(2040 + 2001), Some(2001));
    }

    #[test]
    fn malformed_summaries_are_refused_and_change_nothing() {
        let publisher = InterestPublisher::default();
        let mut peer = PeerInterest::default();
        let mut full = publisher.full();
        full.blooms.pop();
        assert!(peer.on_full(0, &full).is_err());
        let mut full = publisher.full();
        full.blooms[0].words.push(0);
        assert!(peer.on_full(0, &full).is_err());
        peer.on_full(0, &publisher.full()).unwrap();
        let bad = SummaryDelta {
            generation: 1,
            sequence: 1,
            match_all: false,
            kinds: vec![],
            flips: vec![vec![0], vec![u32::MAX], vec![]],
        };
        assert!(peer.on_delta(1, &bad, 2000).is_err());
        assert_eq!(peer.current(1, 2000), Some(publisher.summary()), "unchanged");
    }

    /// A peer chooses its summary's numbers: a full summary at sequence `u64::MAX` is followed
    /// by no delta (it overflowed computing `sequence + 1` before).
    #[test]
    fn a_peer_sequence_at_the_end_of_u64_asks_for_a_full_summary() {
        let publisher = InterestPublisher::default();
        let mut peer = PeerInterest::default();
        let mut full = publisher.full();
        full.sequence = u64::MAX;
        peer.on_full(0, &full).unwrap();
        let delta = |sequence| SummaryDelta {
            generation: full.generation,
            sequence,
            match_all: true,
            kinds: vec![],
            flips: vec![vec![], vec![], vec![]],
        };
        assert_eq!(peer.on_delta(1, &delta(0), 2000), Ok(DeltaOutcome::RequestFull), "zero does not follow u64::MAX");
        peer.on_full(2, &full).unwrap();
        assert_eq!(peer.on_delta(3, &delta(u64::MAX), 2000), Ok(DeltaOutcome::RequestFull));
        assert!(peer.current(3, 2000).is_none());
    }
}
