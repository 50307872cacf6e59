//! The files in `deploy/` against the real relay: every metric, label and label value the
//! Prometheus alert rules use exists in a real three-node cluster's scrape, so a renamed metric
//! fails here instead of silently never firing. (`promtool check rules` and `promtool test
//! rules` run in `.ci/run`.)

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::cluster::*;
use common::metrics::scrape_until;
use common::{hex, keys, note};

/// A selector in a rule's expression: the metric, and its label matchers (name, value or
/// `|`-separated alternatives).
#[derive(Debug)]
struct Selector {
    metric: String,
    matchers: Vec<(String, Vec<String>)>,
}

/// Each rule's name, its selectors of `parrhesia_*` metrics, and the label names it groups by
/// or prints (`by (...)`, `$labels.x`).
fn rules(text: &str) -> Vec<(String, Vec<Selector>, BTreeSet<String>)> {
    let mut rules = Vec::new();
    for block in text.split("- alert: ").skip(1) {
        let name = block.lines().next().unwrap().trim().to_string();
        let mut selectors = Vec::new();
        let mut rest = block;
        while let Some(start) = rest.find("parrhesia_") {
            rest = &rest[start..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            let metric = rest[..end].to_string();
            rest = &rest[end..];
            let mut matchers = Vec::new();
            if let Some(inside) = rest.strip_prefix('{') {
                let close = inside.find('}').unwrap();
                for matcher in inside[..close].split(',').filter(|matcher| !matcher.trim().is_empty()) {
                    let (label, value) = matcher.split_once('=').unwrap();
                    let value = value.trim_start_matches('~').trim().trim_matches('"');
                    matchers.push((label.trim().to_string(), value.split('|').map(str::to_string).collect()));
                }
            }
            selectors.push(Selector { metric, matchers });
        }
        let mut labels = BTreeSet::new();
        for group in block.split("by (").skip(1) {
            labels.extend(group[..group.find(')').unwrap()].split(',').map(|label| label.trim().to_string()));
        }
        for printed in block.split("$labels.").skip(1) {
            let end = printed.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap();
            labels.insert(printed[..end].to_string());
        }
        // Prometheus adds these to every series it scrapes.
        labels.retain(|label| label != "instance" && label != "job");
        rules.push((name, selectors, labels));
    }
    rules
}

#[test]
fn every_metric_and_label_the_alert_rules_use_exists() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/prometheus/alerts.yml")).unwrap();
    let rules = rules(&text);
    assert!(rules.len() >= 10, "{} rules read", rules.len());
    // Three nodes, one with a setting the others lack (so the mismatch family has samples),
    // and an event replicated (so the per-origin families do).
    let mesh = Mesh::new(3);
    let nodes = [mesh.start(0), mesh.start(1), mesh.start_with(2, &["event_bytes_max=200000"])];
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    let event = note(&keys(70), "for the scrape");
    assert!(nodes[0].connect().publish(&event).0);
    for node in &nodes[1..] {
        wait_for_events(node, &format!(r#"{{"ids":["{}"]}}"#, hex(event.id())), 1);
    }
    for node in &nodes {
        // metric -> label -> values seen.
        let mut seen: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        // Per-peer and per-origin figures are published on the cluster's tick: wait for one
        // of each (a round trip measured, an origin pulled), then look.
        let scrape = scrape_until(node, "per-peer and per-origin figures", |scrape| {
            ["parrhesia_cluster_peer_rtt_seconds", "parrhesia_cluster_origin_held_positions"]
                .iter()
                .all(|metric| scrape.samples.iter().any(|sample| sample.metric == *metric))
        });
        for sample in scrape.samples {
            let labels = seen.entry(sample.metric.clone()).or_default();
            for (label, value) in sample.labels.iter() {
                labels.entry(label.clone()).or_default().insert(value.clone());
            }
        }
        for (rule, selectors, labels) in &rules {
            for selector in selectors {
                let Some(found) = seen.get(&selector.metric) else {
                    panic!("{rule}: no {} in {}'s scrape", selector.metric, node.url());
                };
                for (label, values) in &selector.matchers {
                    let have = found.get(label).unwrap_or_else(|| panic!("{rule}: {} has no label {label}", selector.metric));
                    for value in values {
                        assert!(have.contains(value), "{rule}: {}{{{label}={value:?}}} never exported", selector.metric);
                    }
                }
            }
            for label in labels {
                assert!(
                    selectors.iter().any(|selector| seen[&selector.metric].contains_key(label)),
                    "{rule}: label {label} is on none of its metrics"
                );
            }
        }
    }
}
