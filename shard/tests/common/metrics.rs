//! Scraping `/metrics` in tests: parsed with a Prometheus text parser (`prometheus-parse`),
//! plus the structural checks that parser does not make.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};

use super::{Relay, WAIT};

/// Parses a scrape, checking what the lax parser does not: each family is declared once, and
/// every sample belongs to a declared family.
pub fn parse(text: &str) -> Scrape {
    let mut declared = HashSet::new();
    for line in text.lines().filter(|line| line.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).expect("a TYPE line names its metric");
        assert!(declared.insert(name.to_string()), "{name} is declared twice");
    }
    for line in text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()) {
        let name = line.split(['{', ' ']).next().unwrap();
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|suffix| name.strip_suffix(suffix));
        assert!(
            declared.contains(name) || family.is_some_and(|family| declared.contains(family)),
            "sample {name} has no TYPE line"
        );
    }
    Scrape::parse(text.lines().map(|line| Ok(line.to_string()))).expect("the scrape parses")
}

/// The sum over every sample of `metric` whose labels include `labels` (shards added up);
/// a histogram contributes its count.
pub fn total(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == metric)
        .filter(|sample| labels.iter().all(|(name, value)| sample.labels.get(name) == Some(*value)))
        .map(|sample| match &sample.value {
            Value::Counter(value) | Value::Gauge(value) | Value::Untyped(value) => *value,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |bucket| bucket.count),
            Value::Summary(_) => panic!("{metric} is a summary"),
        })
        .sum()
}

pub fn scrape(relay: &Relay) -> Scrape {
    let (status, body) = relay.http_get("/metrics", &[]);
    assert_eq!(status, 200, "{body}");
    parse(&body)
}

/// Scrapes until `done` holds (gauges sampled each second, closes counted after the drain).
pub fn scrape_until(relay: &Relay, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + WAIT;
    loop {
        let scrape = scrape(relay);
        if done(&scrape) {
            return scrape;
        }
        assert!(Instant::now() < deadline, "{what} never held: {:?}", scrape.samples);
        std::thread::sleep(Duration::from_millis(100));
    }
}
