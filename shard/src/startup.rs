//! Startup progress. Every channel end the node connects at startup is one step; the runtime
//! waits for the listeners only so long, and if startup stalls it names the steps still
//! pending and exits, instead of leaving a relay that never listens (glommio's channel
//! `connect` re-polls on every reactor turn, so a connect whose peer never comes spins a core).

use std::sync::atomic::{AtomicBool, Ordering};

/// One step of connecting the node's channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The writer's end of shard `0`'s request channel.
    WriterRequests(usize),
    /// The writer's end of the commit channel to shard `0`.
    WriterCommits(usize),
    /// Shard `0`'s end of its request channel to the writer.
    ShardToWriter(usize),
    /// Shard `0`'s end of its commit channel from the writer.
    ShardFromWriter(usize),
    /// Shard `from`'s end of its ephemeral channel to shard `to`.
    ShardToPeer { from: usize, to: usize },
    /// Shard `to`'s end of its ephemeral channel from shard `from`.
    ShardFromPeer { from: usize, to: usize },
}

/// Which steps are done; shared by the runtime, the writer and the shards at startup only.
pub struct StartupSteps {
    shards: usize,
    done: Vec<AtomicBool>,
}

impl StartupSteps {
    pub fn new(shards: usize) -> StartupSteps {
        let steps = StartupSteps {
            shards,
            done: (0..4 * shards + 2 * shards * shards).map(|_| AtomicBool::new(false)).collect(),
        };
        for shard in 0..shards {
            // A shard has no channel to itself.
            steps.mark(Step::ShardToPeer { from: shard, to: shard });
            steps.mark(Step::ShardFromPeer { from: shard, to: shard });
        }
        steps
    }

    fn index(&self, step: Step) -> usize {
        let shards = self.shards;
        match step {
            Step::WriterRequests(shard) => shard,
            Step::WriterCommits(shard) => shards + shard,
            Step::ShardToWriter(shard) => 2 * shards + shard,
            Step::ShardFromWriter(shard) => 3 * shards + shard,
            Step::ShardToPeer { from, to } => 4 * shards + from * shards + to,
            Step::ShardFromPeer { from, to } => 4 * shards + shards * shards + from * shards + to,
        }
    }

    pub fn mark(&self, step: Step) {
        self.done[self.index(step)].store(true, Ordering::Release);
    }

    /// The steps not done yet, in a fixed order.
    pub fn pending(&self) -> Vec<Step> {
        let shards = self.shards;
        let per_shard = [Step::WriterRequests, Step::WriterCommits, Step::ShardToWriter, Step::ShardFromWriter];
        let mut all: Vec<Step> = per_shard.iter().flat_map(|&step| (0..shards).map(step)).collect();
        for from in 0..shards {
            for to in 0..shards {
                all.push(Step::ShardToPeer { from, to });
                all.push(Step::ShardFromPeer { from, to });
            }
        }
        all.into_iter().filter(|&step| !self.done[self.index(step)].load(Ordering::Acquire)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_its_own_flag_and_pending_lists_the_rest() {
        let steps = StartupSteps::new(3);
        let all = steps.pending();
        assert_eq!(all.len(), 4 * 3 + 2 * 3 * 2, "self-channels are not steps");
        let mut seen = std::collections::HashSet::new();
        for &step in &all {
            assert!(seen.insert(steps.index(step)), "{step:?} shares a flag");
        }
        steps.mark(Step::WriterCommits(1));
        steps.mark(Step::ShardFromPeer { from: 2, to: 0 });
        let pending = steps.pending();
        assert_eq!(pending.len(), all.len() - 2);
        assert!(!pending.contains(&Step::WriterCommits(1)));
        assert!(pending.contains(&Step::ShardFromPeer { from: 0, to: 2 }));
        for step in all {
            steps.mark(step);
        }
        assert!(steps.pending().is_empty());
    }
}
