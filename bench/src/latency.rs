//! Latency accounting: an HDR histogram in microseconds per worker thread, merged at the end,
//! and the percentiles every workload reports (p50, p90, p99, p99.9, max, mean).

use std::time::Duration;

use hdrhistogram::Histogram;

/// The largest latency a histogram holds; longer ones are recorded as this (and counted in
/// `saturated`), so a stuck request shows up as a huge max instead of vanishing.
pub const LATENCY_MICROS_MAX: u64 = 120_000_000;

/// Latencies of one kind of operation, in microseconds.
#[derive(Clone, Debug)]
pub struct Latency {
    histogram: Histogram<u64>,
    saturated: u64,
}

/// The figures reported for one histogram, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50_micros: u64,
    pub p90_micros: u64,
    pub p99_micros: u64,
    pub p999_micros: u64,
    pub max_micros: u64,
    pub mean_micros: f64,
}

impl Latency {
    /// Three significant digits (0.1% resolution): for workloads with a few worker threads.
    pub fn new() -> Latency {
        Latency::with_digits(3)
    }

    /// Two significant digits (1% resolution) in about an eighth of the memory (~17 KiB): for
    /// one histogram per subscriber when there are thousands of them.
    pub fn compact() -> Latency {
        Latency::with_digits(2)
    }

    fn with_digits(significant_digits: u8) -> Latency {
        let histogram =
            Histogram::new_with_bounds(1, LATENCY_MICROS_MAX, significant_digits).expect("static bounds are valid");
        Latency { histogram, saturated: 0 }
    }

    pub fn record(&mut self, elapsed: Duration) {
        self.record_micros(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records one latency; 0 is recorded as 1 us (the floor), anything above the bound as the
    /// bound.
    pub fn record_micros(&mut self, micros: u64) {
        if micros > LATENCY_MICROS_MAX {
            self.saturated += 1;
        }
        let value = micros.clamp(1, LATENCY_MICROS_MAX);
        self.histogram.record(value).expect("value clamped into the histogram's bounds");
    }

    pub fn merge(&mut self, other: &Latency) {
        self.histogram.add(&other.histogram).expect("same bounds");
        self.saturated += other.saturated;
    }

    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Latencies longer than `LATENCY_MICROS_MAX`.
    pub fn saturated(&self) -> u64 {
        self.saturated
    }

    /// `None` when nothing was recorded.
    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.histogram.is_empty() {
            return None;
        }
        let at = |quantile: f64| self.histogram.value_at_quantile(quantile);
        Some(Percentiles {
            count: self.histogram.len(),
            p50_micros: at(0.50),
            p90_micros: at(0.90),
            p99_micros: at(0.99),
            p999_micros: at(0.999),
            max_micros: self.histogram.max(),
            mean_micros: self.histogram.mean(),
        })
    }
}

impl Default for Latency {
    fn default() -> Latency {
        Latency::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within_resolution(value: u64, expected: u64, digits: u32) -> bool {
        let tolerance = expected / 10u64.pow(digits - 1) + 1;
        value.abs_diff(expected) <= tolerance
    }

    #[test]
    fn percentiles_of_a_uniform_run() {
        let mut latency = Latency::new();
        for millisecond in 1..=1000u64 {
            latency.record(Duration::from_millis(millisecond));
        }
        let figures = latency.percentiles().expect("recorded");
        assert_eq!(figures.count, 1000);
        for (value, expected) in [
            (figures.p50_micros, 500_000),
            (figures.p90_micros, 900_000),
            (figures.p99_micros, 990_000),
            (figures.p999_micros, 999_000),
            (figures.max_micros, 1_000_000),
        ] {
            assert!(within_resolution(value, expected, 3), "{value} vs {expected}");
        }
        assert!((figures.mean_micros - 500_500.0).abs() < 1_000.0, "mean {}", figures.mean_micros);
    }

    #[test]
    fn empty_has_no_percentiles() {
        assert_eq!(Latency::new().percentiles(), None);
        assert_eq!(Latency::compact().count(), 0);
    }

    #[test]
    fn merging_adds_counts_and_keeps_the_tail() {
        let mut total = Latency::new();
        let mut fast = Latency::compact();
        let mut slow = Latency::new();
        for _ in 0..999 {
            fast.record_micros(100);
        }
        slow.record_micros(50_000);
        total.merge(&fast);
        total.merge(&slow);
        let figures = total.percentiles().expect("recorded");
        assert_eq!(figures.count, 1000);
        assert!(within_resolution(figures.p50_micros, 100, 2));
        assert!(within_resolution(figures.p99_micros, 100, 2));
        assert!(within_resolution(figures.max_micros, 50_000, 3));
    }

    #[test]
    fn out_of_bounds_values_are_clamped_and_counted() {
        let mut latency = Latency::new();
        latency.record_micros(0);
        latency.record(Duration::from_secs(3600));
        let figures = latency.percentiles().expect("recorded");
        assert_eq!(figures.count, 2);
        assert!(within_resolution(figures.max_micros, LATENCY_MICROS_MAX, 3));
        assert_eq!(latency.saturated(), 1);
    }
}
