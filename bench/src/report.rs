//! A run's results: named metrics with units plus the workload's parameters and target URL,
//! printed as a summary for people (stderr) and as one JSON object per metric (stdout and
//! `--json-out`), so that scripts can compare runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde_json::{Map, Value};

use crate::latency::Latency;

/// One measured figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// Everything a run reports.
#[derive(Clone, Debug)]
pub struct Report {
    workload: String,
    url: String,
    parameters: Map<String, Value>,
    metrics: Vec<Metric>,
    notes: Vec<String>,
    unix_seconds: u64,
}

impl Report {
    /// `url` is the relay the workload targets ("" for `gen`, which talks to none).
    pub fn new(workload: &str, url: &str) -> Report {
        let unix_seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
        Report {
            workload: workload.to_string(),
            url: url.to_string(),
            parameters: Map::new(),
            metrics: Vec::new(),
            notes: Vec::new(),
            unix_seconds,
        }
    }

    /// A workload parameter, repeated on every JSON line.
    pub fn parameter(&mut self, name: &str, value: impl Into<Value>) {
        self.parameters.insert(name.to_string(), value.into());
    }

    /// A metric. A value that is not finite (a rate over zero seconds) is left out with a note
    /// rather than written as JSON `null`.
    pub fn metric(&mut self, name: impl Into<String>, value: f64, unit: &str) {
        let name = name.into();
        if !value.is_finite() {
            self.notes.push(format!("{name} could not be computed (no time elapsed or nothing measured)"));
            return;
        }
        self.metrics.push(Metric { name, value, unit: unit.to_string() });
    }

    pub fn count(&mut self, name: impl Into<String>, value: u64, unit: &str) {
        self.metric(name, value as f64, unit);
    }

    /// `count` per `seconds`, as `name` in `unit`.
    pub fn rate(&mut self, name: impl Into<String>, count: u64, seconds: f64, unit: &str) {
        self.metric(name, count as f64 / seconds, unit);
    }

    /// `<prefix>.p50`, `.p90`, `.p99`, `.p99.9`, `.max`, `.mean` in milliseconds, when anything
    /// was recorded.
    pub fn latency(&mut self, prefix: &str, latency: &Latency) {
        let Some(figures) = latency.percentiles() else {
            self.notes.push(format!("{prefix}: no latency was recorded"));
            return;
        };
        let milliseconds = |micros: u64| micros as f64 / 1000.0;
        self.metric(format!("{prefix}.p50"), milliseconds(figures.p50_micros), "ms");
        self.metric(format!("{prefix}.p90"), milliseconds(figures.p90_micros), "ms");
        self.metric(format!("{prefix}.p99"), milliseconds(figures.p99_micros), "ms");
        self.metric(format!("{prefix}.p99.9"), milliseconds(figures.p999_micros), "ms");
        self.metric(format!("{prefix}.max"), milliseconds(figures.max_micros), "ms");
        self.metric(format!("{prefix}.mean"), figures.mean_micros / 1000.0, "ms");
        if latency.saturated() > 0 {
            self.count(format!("{prefix}.saturated"), latency.saturated(), "operations");
        }
    }

    /// One metric per key: `<prefix>.<key>`.
    pub fn counts(&mut self, prefix: &str, counts: &BTreeMap<String, u64>, unit: &str) {
        for (key, value) in counts {
            self.count(format!("{prefix}.{key}"), *value, unit);
        }
    }

    /// A line for people, printed under the summary.
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    #[cfg(test)]
    pub fn value(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|metric| metric.name == name).map(|metric| metric.value)
    }

    #[cfg(test)]
    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    /// One JSON object per metric: name, value, unit, workload, url, parameters, unix_seconds.
    pub fn json_lines(&self) -> Vec<String> {
        let workload = Value::from(self.workload.as_str()).to_string();
        let url = Value::from(self.url.as_str()).to_string();
        let parameters = Value::Object(self.parameters.clone()).to_string();
        self.metrics
            .iter()
            .map(|metric| {
                format!(
                    "{{\"name\":{},\"value\":{},\"unit\":{},\"workload\":{workload},\"url\":{url},\"parameters\":\
                     {parameters},\"unix_seconds\":{}}}",
                    Value::from(metric.name.as_str()),
                    Value::from(metric.value),
                    Value::from(metric.unit.as_str()),
                    self.unix_seconds
                )
            })
            .collect()
    }

    /// The summary for people: a header with the parameters, one aligned line per metric, notes.
    pub fn summary(&self) -> String {
        let mut text = String::new();
        let parameters: Vec<String> = self.parameters.iter().map(|(key, value)| format!("{key}={value}")).collect();
        let target = if self.url.is_empty() { String::new() } else { format!(" against {}", self.url) };
        let _ = writeln!(text, "== {}{target}", self.workload);
        if !parameters.is_empty() {
            let _ = writeln!(text, "   {}", parameters.join(" "));
        }
        let width = self.metrics.iter().map(|metric| metric.name.len()).max().unwrap_or(0);
        for metric in &self.metrics {
            let value = if metric.value.fract() == 0.0 && metric.value.abs() < 1e15 {
                format!("{}", metric.value as i64)
            } else {
                format!("{:.3}", metric.value)
            };
            let _ = writeln!(text, "   {:<width$}  {value:>14} {}", metric.name, metric.unit);
        }
        for note in &self.notes {
            let _ = writeln!(text, "   note: {note}");
        }
        text
    }

    /// Prints the summary to stderr and the JSON lines to stdout, and writes them to `json_out`.
    pub fn emit(&self, json_out: Option<&Path>) -> anyhow::Result<()> {
        eprint!("{}", self.summary());
        let mut lines = self.json_lines().join("\n");
        if !lines.is_empty() {
            lines.push('\n');
        }
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(lines.as_bytes()).context("writing metrics to stdout")?;
        stdout.flush().context("flushing stdout")?;
        if let Some(path) = json_out {
            std::fs::write(path, &lines).with_context(|| format!("writing metrics to {}", path.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut report = Report::new("ingest", "ws://127.0.0.1:7777");
        report.parameter("connections", 4);
        report.parameter("file", "events \"a\".jsonl");
        report.count("ingest.accepted", 1200, "events");
        report.rate("ingest.accepted_per_second", 1200, 2.0, "events/s");
        report
    }

    #[test]
    fn every_line_is_one_json_object_with_the_fixed_fields() {
        let lines = sample().json_lines();
        assert_eq!(lines.len(), 2);
        let first: Value = serde_json::from_str(&lines[0]).expect("valid JSON");
        assert_eq!(first["name"], "ingest.accepted");
        assert_eq!(first["value"], 1200.0);
        assert_eq!(first["unit"], "events");
        assert_eq!(first["workload"], "ingest");
        assert_eq!(first["url"], "ws://127.0.0.1:7777");
        assert_eq!(first["parameters"]["connections"], 4);
        assert_eq!(first["parameters"]["file"], "events \"a\".jsonl");
        assert!(first["unix_seconds"].as_u64().expect("a number") > 1_600_000_000);
        let second: Value = serde_json::from_str(&lines[1]).expect("valid JSON");
        assert_eq!(second["value"], 600.0);
        assert!(lines.iter().all(|line| !line.contains('\n')));
    }

    #[test]
    fn non_finite_values_become_notes_not_null() {
        let mut report = Report::new("query", "ws://x");
        report.rate("query.per_second", 5, 0.0, "queries/s");
        report.metric("query.ratio", f64::NAN, "ratio");
        assert!(report.json_lines().is_empty());
        assert!(report.summary().contains("query.per_second could not be computed"));
    }

    #[test]
    fn latency_becomes_six_metrics_in_milliseconds() {
        let mut latency = Latency::new();
        latency.record_micros(1500);
        let mut report = Report::new("query", "ws://x");
        report.latency("query.latency", &latency);
        let names: Vec<&str> = report.metrics().iter().map(|metric| metric.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "query.latency.p50",
                "query.latency.p90",
                "query.latency.p99",
                "query.latency.p99.9",
                "query.latency.max",
                "query.latency.mean"
            ]
        );
        let p50 = report.value("query.latency.p50").expect("present");
        assert!((p50 - 1.5).abs() < 0.01, "{p50}");
        assert!(report.metrics().iter().all(|metric| metric.unit == "ms"));
    }

    #[test]
    fn empty_latency_is_a_note() {
        let mut report = Report::new("query", "ws://x");
        report.latency("query.latency", &Latency::new());
        assert!(report.metrics().is_empty());
        assert!(report.summary().contains("no latency was recorded"));
    }

    #[test]
    fn summary_names_the_target_and_aligns_values() {
        let summary = sample().summary();
        assert!(summary.starts_with("== ingest against ws://127.0.0.1:7777\n"));
        assert!(summary.contains("connections=4"));
        let value_ends: Vec<usize> = summary
            .lines()
            .filter(|line| line.starts_with("   ingest."))
            .map(|line| line.rfind(' ').expect("value then unit"))
            .collect();
        assert_eq!(value_ends.len(), 2, "{summary}");
        assert_eq!(value_ends[0], value_ends[1], "values are right-aligned: {summary}");
        assert!(summary.contains(" 1200 events\n") && summary.contains(" 600 events/s\n"), "{summary}");
    }

    #[test]
    fn counts_expand_under_a_prefix() {
        let mut report = Report::new("ingest", "ws://x");
        let counts = BTreeMap::from([("duplicate".to_string(), 3), ("invalid".to_string(), 1)]);
        report.counts("ingest.rejected", &counts, "events");
        assert_eq!(report.value("ingest.rejected.duplicate"), Some(3.0));
        assert_eq!(report.value("ingest.rejected.invalid"), Some(1.0));
    }
}
