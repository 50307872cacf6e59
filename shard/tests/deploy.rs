//! The files in `deploy/` against the real relay: every metric, label and label value the
//! Prometheus alert rules and the Grafana dashboard use exists in a real three-node cluster's
//! scrape, so a renamed metric fails here instead of silently never firing or emptying a
//! panel. (`promtool check rules` and `promtool test rules` run in `deploy/check.sh`.) And the
//! compose and Kubernetes nodes' environments, read from those files, through the image's
//! entrypoint: keys, peers and one relay formed, on loopback.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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

// ---- The container's environments, run through its entrypoint on loopback ----

fn deploy_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../deploy/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The lines below the first line reading `header` (trimmed) that are indented deeper than it.
fn yaml_block<'a>(text: &'a str, header: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|line| line.trim() != header);
    let first = lines.next().unwrap_or_else(|| panic!("no {header:?}"));
    let indent = |line: &str| line.len() - line.trim_start().len();
    let depth = indent(first);
    lines.take_while(|line| line.trim().is_empty() || indent(line) > depth).collect()
}

fn unquote(value: &str) -> String {
    value.trim().trim_matches('"').to_string()
}

/// The environment compose.yaml gives `service`: the shared `x-node` entries, then its own.
fn compose_environment(compose: &str, service: &str) -> Vec<(String, String)> {
    let own = &compose[compose.find(&format!("\n  {service}:\n")).unwrap_or_else(|| panic!("no service {service}"))..];
    let entries =
        yaml_block(compose, "environment: &node-environment").into_iter().chain(yaml_block(own, "environment:"));
    entries
        .filter_map(|line| line.trim().split_once(": "))
        .filter(|(key, _)| *key != "<<")
        .map(|(key, value)| (key.to_string(), unquote(value)))
        .collect()
}

/// The environment statefulset.yaml gives pod `pod` (its `env` list, `$(VAR)` expanded).
fn kubernetes_environment(manifest: &str, pod: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut name = None;
    for line in yaml_block(manifest, "env:") {
        let item = line.trim().trim_start_matches("- ");
        if let Some(inner) = item.strip_prefix('{').and_then(|inner| inner.strip_suffix('}')) {
            let fields: BTreeMap<&str, &str> = inner.split(", ").filter_map(|field| field.split_once(": ")).collect();
            env.push((fields["name"].to_string(), unquote(fields["value"])));
        } else if let Some(found) = item.strip_prefix("name: ") {
            name = Some(found.to_string());
        } else if let Some(value) = item.strip_prefix("value: ") {
            env.push((name.take().expect("a name before its value"), unquote(value)));
        } else if item == "fieldRef: {fieldPath: metadata.name}" {
            env.push((name.take().expect("a name before its valueFrom"), pod.to_string()));
        }
    }
    let known = env.clone();
    for (_, value) in env.iter_mut() {
        for (key, replacement) in &known {
            *value = value.replace(&format!("$({key})"), replacement);
        }
    }
    env
}

/// Rewrites a container's value for nodes sharing loopback: `host:7778` of node `i` (per
/// `hosts`) and this node's `0.0.0.0:7778` become its loopback cluster address; paths under a
/// container directory (`mounts`: container path -> host path) move to the host's.
fn on_loopback(value: &str, own: usize, hosts: &[String], ports: &[u16], mounts: &[(&str, &Path)]) -> String {
    let mut value = value.replace("0.0.0.0:7778", &format!("127.0.0.1:{}", ports[own]));
    for (host, port) in hosts.iter().zip(ports) {
        value = value.replace(&format!("{host}:7778"), &format!("127.0.0.1:{port}"));
    }
    for (inside, outside) in mounts {
        if value == *inside || value.starts_with(&format!("{inside}/")) {
            value = format!("{}{}", outside.display(), &value[inside.len()..]);
        }
    }
    value
}

/// `deploy/entrypoint.sh health` against a node's client port.
fn entrypoint_health(port: u16) -> std::process::Output {
    std::process::Command::new("sh")
        .arg(common::entrypoint_script())
        .arg("health")
        .env("PATH", common::entrypoint_path())
        .env("PARRHESIA_LISTEN", format!("0.0.0.0:{port}"))
        .output()
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_compose_nodes_make_their_keys_at_first_start_and_form_one_relay() {
    let compose = deploy_file("compose.yaml");
    let root = tempfile::tempdir().unwrap();
    let peers = root.path().join("peers");
    let hosts: Vec<String> = (1..=3).map(|number| format!("node-{number}")).collect();
    let cluster_ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
    let client_ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
    let data: Vec<std::path::PathBuf> = hosts.iter().map(|host| root.path().join(host)).collect();
    let environment = |index: usize| -> Vec<(String, String)> {
        let mounts = [("/data", data[index].as_path()), ("/peers", peers.as_path())];
        compose_environment(&compose, &hosts[index])
            .into_iter()
            .map(|(key, value)| (key, on_loopback(&value, index, &hosts, &cluster_ports, &mounts)))
            .collect()
    };
    // Each waits for the others' keys (PEERS_EXPECTED), as compose starts them: together.
    let mut nodes: Vec<common::Relay> = std::thread::scope(|scope| {
        let starting: Vec<_> = (0..3)
            .map(|index| {
                let (data, port, env) = (&data[index], client_ports[index], environment(index));
                scope.spawn(move || common::Relay::start_by_entrypoint(data, port, &env))
            })
            .collect();
        starting.into_iter().map(|node| node.join().unwrap()).collect()
    });
    for (node, dir) in nodes.iter().zip(&data) {
        assert!(node.log_text().contains("first start: made node key"), "{}", node.log_text());
        assert_eq!(mode(&dir.join("node.key")), 0o600);
        wait_for_log(node, "link up", 2);
    }
    let published: Vec<String> =
        hosts.iter().map(|host| std::fs::read_to_string(peers.join(format!("{host}.pub"))).unwrap()).collect();
    assert_eq!(published.iter().collect::<BTreeSet<_>>().len(), 3, "three distinct keys: {published:?}");

    // One relay: what one node accepts, every node serves.
    let first = note(&keys(71), "published through node-1");
    assert!(nodes[0].connect().publish(&first).0);
    for node in &nodes[1..] {
        wait_for_events(node, &format!(r#"{{"ids":["{}"]}}"#, hex(first.id())), 1);
    }
    let health = entrypoint_health(client_ports[1]);
    assert!(health.status.success() && String::from_utf8_lossy(&health.stdout).starts_with("ok: "), "{health:?}");

    // node-2 goes down (its health check fails), misses an event, comes back with the same
    // key (no new one made) and catches up.
    nodes[1].stop();
    let health = entrypoint_health(client_ports[1]);
    assert!(!health.status.success(), "a stopped node is unhealthy: {health:?}");
    let second = note(&keys(71), "published while node-2 was down");
    assert!(nodes[0].connect().publish(&second).0);
    let node = nodes.remove(1).restart();
    assert!(!node.log_text().contains("made node key"), "{}", node.log_text());
    assert_eq!(std::fs::read_to_string(peers.join("node-2.pub")).unwrap(), published[1]);
    wait_for_events(&node, &format!(r#"{{"ids":["{}"]}}"#, hex(second.id())), 1);
}

#[test]
fn the_kubernetes_pods_take_their_keys_and_peers_from_the_secret_and_form_one_relay() {
    let manifest = deploy_file("kubernetes/statefulset.yaml");
    let root = tempfile::tempdir().unwrap();
    // The Secret as Kubernetes mounts it: a node key and its public key per pod, group-readable.
    let secret = root.path().join("keys");
    std::fs::create_dir(&secret).unwrap();
    let pods: Vec<String> = (0..3).map(|number| format!("parrhesia-{number}")).collect();
    for pod in &pods {
        let key = secret.join(format!("{pod}.key"));
        let public = keygen(&key);
        std::fs::write(secret.join(format!("{pod}.pub")), format!("{public}\n")).unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o440)).unwrap();
    }
    let hosts: Vec<String> = pods.iter().map(|pod| format!("{pod}.parrhesia")).collect();
    let cluster_ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
    let mut nodes = Vec::new();
    for (index, pod) in pods.iter().enumerate() {
        let data = root.path().join(pod);
        std::fs::create_dir(&data).unwrap();
        let mounts = [("/data", data.as_path()), ("/keys", secret.as_path())];
        let env: Vec<(String, String)> = kubernetes_environment(&manifest, pod)
            .into_iter()
            .map(|(key, value)| (key, on_loopback(&value, index, &hosts, &cluster_ports, &mounts)))
            .collect();
        nodes.push(common::Relay::start_by_entrypoint(&data, common::free_port(), &env));
        // The pod's own key, copied where the relay accepts it (0600), from the Secret's file.
        assert_eq!(mode(&data.join("node.key")), 0o600);
        assert_eq!(
            std::fs::read_to_string(data.join("node.key")).unwrap(),
            std::fs::read_to_string(secret.join(format!("{pod}.key"))).unwrap()
        );
    }
    for node in &nodes {
        wait_for_log(node, "link up", 2);
    }
    let event = note(&keys(72), "published through parrhesia-2");
    assert!(nodes[2].connect().publish(&event).0);
    for node in &nodes[..2] {
        wait_for_events(node, &format!(r#"{{"ids":["{}"]}}"#, hex(event.id())), 1);
    }
}

#[test]
fn the_entrypoint_refuses_a_peers_directory_it_cannot_read_keys_from() {
    let peers = tempfile::tempdir().unwrap();
    let run = || {
        std::process::Command::new("sh")
            .arg(common::entrypoint_script())
            .arg("relay")
            .env("PATH", common::entrypoint_path())
            .env("PEERS_DIR", peers.path())
            .output()
            .unwrap()
    };
    let output = run();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("holds no *.pub file"), "{output:?}");
    std::fs::write(peers.path().join("node-1.pub"), "not a key\n").unwrap();
    let output = run();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("node-1.pub does not hold a public key"), "{output:?}");
}
