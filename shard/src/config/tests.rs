//! The configuration's tests: layering, validation, the printed sample and its key docs.

use super::*;

#[test]
fn the_printed_configuration_loads_as_the_defaults_and_documents_every_key() {
    let printed = print_config();
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("printed.toml");
    std::fs::write(&path, &printed).unwrap();
    assert_eq!(Config::load(Some(&path), vec![], &[]).unwrap(), Config::default());
    let names = Config::FIELD_NAMES.iter().chain(ClusterConfig::FIELD_NAMES).chain(MirrorConfig::FIELD_NAMES);
    for name in names.filter(|name| !["cluster", "mirror"].contains(name)) {
        assert!(printed.contains(&format!("\n{name} =")) || printed.contains(&format!("\n# {name} =")), "{name}");
    }
    // Uncommenting the cluster table (and giving it its required keys) turns it on.
    let uncommented: String = printed
        .split("# [cluster]\n")
        .nth(1)
        .unwrap()
        .split("# [[mirror]]")
        .next()
        .unwrap()
        .lines()
        .filter(|line| line.starts_with("# ") && line.contains(" = "))
        .map(|line| format!("{}\n", &line[2..]))
        .collect();
    let cluster = format!(
        "[cluster]\n{}",
        uncommented
            .replace("node_key_file = \"\"", "node_key_file = \"k\"")
            .replace("listen = \"\"", "listen = \"127.0.0.1:1\"")
            .replace("cluster_id = \"\"", "cluster_id = \"c\"")
    );
    std::fs::write(&path, cluster).unwrap();
    let config = Config::load(Some(&path), vec![], &[]).unwrap();
    assert_eq!(config.cluster.unwrap().pull_events_max, ClusterConfig::default().pull_events_max);
    // So does a mirror table, given a name and a URL.
    let mirror: String = printed
        .split("# [[mirror]]\n")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|line| line.starts_with("# ") && line.contains(" = "))
        .map(|line| format!("{}\n", &line[2..]))
        .collect();
    let mirror = format!(
        "[[mirror]]\n{}",
        mirror.replace("name = \"\"", "name = \"m\"").replace("urls = []", "urls = [\"ws://127.0.0.1:1\"]")
    );
    std::fs::write(&path, mirror).unwrap();
    let config = Config::load(Some(&path), vec![], &[]).unwrap();
    assert_eq!(config.mirror.len(), 1);
    assert_eq!(config.mirror[0].catch_up_seconds, MirrorConfig::default().catch_up_seconds);
}

#[test]
fn mirror_tables_are_checked_and_set_in_the_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mirror.toml");
    let table = |name: &str, url: &str, filter: &str| {
        format!("[[mirror]]\nname = \"{name}\"\nurls = [\"{url}\"]\nfilter = '{filter}'\n")
    };
    let cases = [
        (table("a b", "ws://h:1", "{}"), "`mirror.name`"),
        (table("a", "http://h:1", "{}"), "not a ws:// or wss:// URL"),
        (table("a", "ws://", "{}"), "names no host"),
        (table("a", "wss://h", "{}") + "ca_file = \"/nonexistent.pem\"\n", "`mirror.ca_file` of `a`"),
        (table("a", "ws://h:1", r#"{"kinds":"1"}"#), "`mirror.filter` of `a`"),
        (table("a", "ws://h:1", "{}") + &table("a", "ws://h:2", "{}"), "two mirrors are named"),
        ("[[mirror]]\nname = \"a\"\n".to_string(), "at least one URL"),
    ];
    for (text, expected) in cases {
        std::fs::write(&path, &text).unwrap();
        let error = format!("{:#}", Config::load(Some(&path), vec![], &[]).unwrap_err());
        assert!(error.contains(expected), "{error} should mention {expected}");
    }
    std::fs::write(&path, table("a", "ws://h:1", r#"{"kinds":[1],"limit":5}"#)).unwrap();
    let config = Config::load(Some(&path), vec![], &[]).unwrap();
    assert_eq!(config.mirror[0].decoded_filter().unwrap().limit, None, "a mirror's filter has no limit");
    for (environment, flags) in [(pairs(&[("PARRHESIA_MIRROR", "x")]), vec![]), (vec![], pairs(&[("mirror", "x")]))] {
        let error = format!("{:#}", Config::load(None, environment, &flags).unwrap_err());
        assert!(error.contains("configuration file only"), "{error}");
    }
}

pub(super) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
}

#[test]
fn layers_override_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.toml");
    std::fs::write(&path, "shards = 3\nlisten = \"0.0.0.0:1\"\nrelay_name = \"file\"\n").unwrap();
    let environment = pairs(&[("PARRHESIA_LISTEN", "0.0.0.0:2"), ("HOME", "/root"), ("PARRHESIA_RELAY_NAME", "env")]);
    let flags = pairs(&[("relay_name", "flag")]);
    let config = Config::load(Some(&path), environment, &flags).unwrap();
    assert_eq!(config.shards, 3, "file over default");
    assert_eq!(config.listen, "0.0.0.0:2", "environment over file");
    assert_eq!(config.relay_name, "flag", "flag over environment");
    assert_eq!(config.frame_bytes_max, 1024 * 1024, "default kept");
}

type Pairs = Vec<(String, String)>;

#[test]
fn bad_input_names_the_key() {
    let cases: Vec<(Pairs, Pairs, &str)> = vec![
        (pairs(&[("PARRHESIA_SHARDZ", "2")]), vec![], "unknown configuration key `shardz`"),
        (vec![], pairs(&[("nope", "1")]), "unknown configuration key `nope`"),
        (vec![], pairs(&[("shards", "many")]), "shards"),
        (vec![], pairs(&[("outbound_overflow", "explode")]), "outbound_overflow"),
        (vec![], pairs(&[("frame_bytes_max", "0")]), "`frame_bytes_max` must be greater than 0"),
        (vec![], pairs(&[("relay_pubkey", "xyz")]), "relay_pubkey"),
        (vec![], pairs(&[("read_restricted_kinds", "4,dm")]), "read_restricted_kinds"),
        (vec![], pairs(&[("read_restricted_kinds", "70000")]), "read_restricted_kinds"),
        (vec![], pairs(&[("admin_pubkeys", "ab")]), "admin_pubkeys"),
        (vec![], pairs(&[("rate_event_connection", "fast")]), "rate_event_connection"),
        (vec![], pairs(&[("rate_req_address", "10/0")]), "rate_req_address"),
        (vec![], pairs(&[("rate_count_relay", "-1/5")]), "rate_count_relay"),
        (vec![], pairs(&[("trusted_proxies", "10.0.0.1,proxy")]), "trusted_proxies"),
    ];
    for (environment, flags, expected) in cases {
        let error = format!("{:#}", Config::load(None, environment, &flags).unwrap_err());
        assert!(error.contains(expected), "{error} should mention {expected}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "listen = 5\n").unwrap();
    assert!(format!("{:#}", Config::load(Some(&path), vec![], &[]).unwrap_err()).contains("listen"));
}

#[test]
fn integer_lists_come_from_text() {
    let environment = pairs(&[("PARRHESIA_READ_RESTRICTED_KINDS", "4, 1059")]);
    assert_eq!(Config::load(None, environment, &[]).unwrap().read_restricted_kinds, vec![4, 1059]);
    let flags = pairs(&[("read_restricted_kinds", "")]);
    assert!(Config::load(None, vec![], &flags).unwrap().read_restricted_kinds.is_empty(), "empty: all public");
}
