//! Seeded randomness for workloads: a splitmix64 generator (same seed, same sequence on every
//! machine) and the distributions the generator draws from (Zipf ranks, log-normal sizes).

use parrhesia_engine::SeededRandom;

/// The workload generator: the engine's seeded splitmix64 (`SeededRandom`, the same sequence
/// on every machine) plus the distributions workloads draw from. Not for secrets: workload
/// secrets derived from it are as predictable as the seed, which is the point (a run replays).
#[derive(Clone, Debug)]
pub struct Random(SeededRandom);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(SeededRandom::new(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0.below(bound)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "empty range {low}..={high}");
        low + self.below(high - low + 1)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `probability`.
    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// A standard normal sample (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let first = 1.0 - self.unit(); // (0, 1]: ln is finite
        let second = self.unit();
        (-2.0 * first.ln()).sqrt() * (std::f64::consts::TAU * second).cos()
    }

    /// A log-normal sample with the given median and shape (sigma of the underlying normal),
    /// rounded and clamped to `low..=high`.
    pub fn log_normal(&mut self, median: f64, sigma: f64, low: u64, high: u64) -> u64 {
        let value = median * (sigma * self.normal()).exp();
        (value.round() as u64).clamp(low, high)
    }

    pub fn bytes32(&mut self) -> [u8; 32] {
        self.0.bytes32()
    }

    /// One item of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        self.0.pick(items)
    }
}

/// Ranks `0..count` drawn with probability proportional to `1 / (rank + 1)^exponent`: rank 0
/// is the most frequent. Sampling is a binary search over the cumulative weights.
#[derive(Clone, Debug)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(count: usize, exponent: f64) -> Zipf {
        assert!(count > 0, "a Zipf distribution needs at least one rank");
        let mut total = 0.0;
        let cumulative = (0..count)
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(exponent);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    pub fn sample(&self, random: &mut Random) -> usize {
        let total = *self.cumulative.last().expect("non-empty");
        let target = random.unit() * total;
        self.cumulative.partition_point(|&weight| weight <= target).min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_other_seed_other_sequence() {
        let take = |seed| {
            let mut random = Random::new(seed);
            (0..8).map(|_| random.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(take(42), take(42));
        assert_ne!(take(42), take(43));
    }

    #[test]
    fn bounded_draws_stay_in_bounds() {
        let mut random = Random::new(1);
        for _ in 0..10_000 {
            assert!(random.below(7) < 7);
            let value = random.between(3, 5);
            assert!((3..=5).contains(&value));
            let unit = random.unit();
            assert!((0.0..1.0).contains(&unit));
            let size = random.log_normal(100.0, 1.0, 1, 1000);
            assert!((1..=1000).contains(&size));
        }
    }

    #[test]
    fn log_normal_median_is_near_the_asked_median() {
        let mut random = Random::new(9);
        let mut sizes: Vec<u64> = (0..20_001).map(|_| random.log_normal(200.0, 0.8, 1, 1_000_000)).collect();
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!((180..=220).contains(&median), "median {median}");
    }

    #[test]
    fn zipf_favours_low_ranks() {
        let zipf = Zipf::new(1000, 1.0);
        let mut random = Random::new(5);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            counts[zipf.sample(&mut random)] += 1;
        }
        // Rank 0 carries 1/H(1000) ~ 13% of the mass; rank 999 about 0.013%.
        assert!((11_000..15_000).contains(&counts[0]), "rank 0 drawn {} times", counts[0]);
        assert!(counts[0] > 5 * counts[9], "rank 0 {} vs rank 9 {}", counts[0], counts[9]);
        assert!(counts[999] < 100);
    }
}
