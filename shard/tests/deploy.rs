//! The files in `deploy/` against the real relay: every metric, label and label value the
//! Prometheus alert rules and the Grafana dashboard use exists in a real three-node cluster's
//! scrape, so a renamed metric fails here instead of silently never firing or emptying a
//! panel. (`promtool check rules` and `promtool test rules` run in `deploy/check.sh`.)

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::cluster::*;
use common::metrics::scrape_until;
use common::{hex, keys, note};

/// A selector of a `parrhesia_*` metric: its name, and its label matchers (name, the value or
/// its `|`-separated alternatives).
#[derive(Debug)]
struct Selector {
    metric: String,
    matchers: Vec<(String, Vec<String>)>,
}

/// What a rule or a panel uses: its selectors, and the label names it groups by or prints
/// (`by (...)`, `$labels.x`, `{{x}}`), less those Prometheus adds (`instance`, `job`) and
/// histogram buckets' `le`.
struct Uses {
    name: String,
    selectors: Vec<Selector>,
    labels: BTreeSet<String>,
}

fn word_end(text: &str) -> usize {
    text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len())
}

fn uses(name: String, text: &str) -> Uses {
    let mut selectors = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("parrhesia_") {
        rest = &rest[start..];
        let end = word_end(rest);
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
    for group in text.split("by (").skip(1) {
        labels.extend(group[..group.find(')').unwrap()].split(',').map(|label| label.trim().to_string()));
    }
    for printed in text.split("$labels.").skip(1).chain(text.split("{{").skip(1)) {
        labels.insert(printed[..word_end(printed)].to_string());
    }
    labels.retain(|label| !["instance", "job", "le", ""].contains(&label.as_str()));
    Uses { name, selectors, labels }
}

/// Each alert rule of `deploy/prometheus/alerts.yml`.
fn alert_rules() -> Vec<Uses> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/prometheus/alerts.yml")).unwrap();
    text.split("- alert: ").skip(1).map(|block| uses(block.lines().next().unwrap().trim().to_string(), block)).collect()
}

/// Each panel of `deploy/grafana/parrhesia.json`, and the dashboard's variables.
fn dashboard_panels() -> Vec<Uses> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/grafana/parrhesia.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let Some(targets) = panel["targets"].as_array() else { continue };
        let text: Vec<String> = targets
            .iter()
            .flat_map(|target| [target["expr"].as_str().unwrap(), target["legendFormat"].as_str().unwrap_or("")])
            .map(str::to_string)
            .collect();
        all.push(uses(format!("panel {:?}", panel["title"].as_str().unwrap()), &text.join("\n")));
    }
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(definition) = variable["definition"].as_str() {
            all.push(uses(format!("variable {}", variable["name"]), definition));
        }
    }
    all
}

/// The metric a selector reads in a scrape (a histogram's `_bucket`, `_sum` and `_count` are
/// its own name there).
fn family<'a>(
    seen: &'a BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    metric: &str,
) -> Option<&'a BTreeMap<String, BTreeSet<String>>> {
    seen.get(metric).or_else(|| {
        ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| metric.strip_suffix(suffix).and_then(|base| seen.get(base)))
    })
}

#[test]
fn every_metric_and_label_the_alert_rules_and_the_dashboard_use_exists() {
    let rules = alert_rules();
    let panels = dashboard_panels();
    assert!(rules.len() >= 10 && panels.len() >= 20, "{} rules, {} panels read", rules.len(), panels.len());
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
        // Per-peer and per-origin figures are published on the cluster's tick: wait for one
        // of each (a round trip measured, an origin pulled), then look.
        let scrape = scrape_until(node, "per-peer and per-origin figures", |scrape| {
            ["parrhesia_cluster_peer_rtt_seconds", "parrhesia_cluster_origin_held_positions"]
                .iter()
                .all(|metric| scrape.samples.iter().any(|sample| sample.metric == *metric))
        });
        // metric -> label -> values seen.
        let mut seen: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for sample in scrape.samples {
            let labels = seen.entry(sample.metric.clone()).or_default();
            for (label, value) in sample.labels.iter() {
                labels.entry(label.clone()).or_default().insert(value.clone());
            }
        }
        for used in rules.iter().chain(&panels) {
            for selector in &used.selectors {
                let Some(found) = family(&seen, &selector.metric) else {
                    panic!("{}: no {} in {}'s scrape", used.name, selector.metric, node.url());
                };
                for (label, values) in selector.matchers.iter().filter(|(label, _)| label != "instance") {
                    let have = found
                        .get(label)
                        .unwrap_or_else(|| panic!("{}: {} has no label {label}", used.name, selector.metric));
                    for value in values {
                        assert!(
                            have.contains(value),
                            "{}: {}{{{label}={value:?}}} never exported",
                            used.name,
                            selector.metric
                        );
                    }
                }
            }
            for label in &used.labels {
                assert!(
                    used.selectors.iter().any(|selector| family(&seen, &selector.metric).unwrap().contains_key(label)),
                    "{}: label {label} is on none of its metrics",
                    used.name
                );
            }
        }
    }
}
