//! The `[cluster]` table: this node's identity, its peers, and the bounds of its links and
//! replication; absent, the relay runs single-node. Layered with every other key by `Config::load`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use documented::DocumentedFields;
use parrhesia_engine::policy_log::POLICY_ENTRY_KIND;
use serde::{Deserialize, Serialize};

use super::values::LinkEncryption;

/// `[cluster]`: this node's identity, where it meets its peers, and who they may be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, DocumentedFields)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// The node's ed25519 secret key (`parrhesia-tools keygen --out FILE`); its public key
    /// names the node and is the origin of the events it accepts. Required.
    pub node_key_file: PathBuf,
    /// host:port for links (TCP) and membership (UDP, same port). Required.
    pub listen: String,
    /// host:port other nodes should use to reach this one; default `listen`.
    pub advertise: Option<String>,
    /// host:port (or dnsname:port) of nodes to join through.
    pub seeds: Vec<String>,
    /// Public keys (64 hex) of the nodes allowed in; anyone else is refused.
    pub allowed_peers: Vec<String>,
    /// Name of the cluster; another cluster's links are refused. Required.
    pub cluster_id: String,
    /// "required": every link frame is encrypted and authenticated (Noise, keys signed by the
    /// node keys) and a plaintext peer is refused. "off" sends frames in the clear after the
    /// handshake, for measuring the cost of encryption only: anyone on the path can read and
    /// alter replicated events.
    pub link_encryption: LinkEncryption,
    /// Every URL the cluster serves clients under (each node's `relay_url`, a shared name):
    /// a NIP-62 request naming any of them removes its author's events on every node, as one
    /// naming ALL_RELAYS does. List the same URLs on every node.
    pub relay_urls: Vec<String>,
    /// Check the signature of every replicated event again (the origin checked it already).
    pub verify_replicated: bool,
    /// Largest link frame accepted, in bytes.
    pub link_frame_bytes_max: usize,
    /// Bytes queued to one peer before its link is closed as too slow.
    pub link_queue_bytes_max: usize,
    /// Events one replication pull asks for (and one served batch holds at most).
    pub pull_events_max: u32,
    /// Bytes one replication pull asks for (and one served batch holds at most).
    pub pull_bytes_max: u32,
    /// A log this node mostly holds already without its positions (a store imported from an
    /// export, or restored without its cursors) is pulled as positions and ids only, the events
    /// fetched where this node lacks them, once a pulled batch was at least 90% held here and
    /// its source holds at least this many positions more; 0 always pulls whole events.
    pub pull_ids_behind: u64,
    /// Positions (40 bytes each, within `pull_bytes_max`) one such pull asks for.
    pub pull_ids_max: u32,
    /// How long an origin may be unreachable before its log is pulled from other peers.
    pub origin_timeout_seconds: u64,
    /// How long this node's new events may wait for more before a peer's pull is answered,
    /// when none of them matches the peer's interest summary (fewer, larger follower commits);
    /// 0 answers every pull at once. Events a peer's subscriptions may want never wait.
    pub replication_linger_ms: u64,
    /// Tag keys of one event tested against a peer's summary; an event with more single-letter
    /// tags is sent as if it matched.
    pub summary_tag_probes_max: usize,
    /// Bytes of best-effort live frames (ephemeral events) queued to one peer, per class; past
    /// it the oldest are dropped (counted). Replication is never dropped: a peer that lets
    /// `link_queue_bytes_max` pile up is cut off and resumes from its cursors.
    pub link_live_queue_bytes_max: usize,
    /// A link's bandwidth is shared by weight between pulled batches, live frames and each
    /// class of `traffic_classes` (control frames always go first): this is the weight of
    /// pulled batches.
    pub link_replication_weight: u32,
    /// The weight of live frames (ephemeral events of kinds in no `traffic_classes` entry).
    pub link_live_weight: u32,
    /// Classes of kinds, each with its own queues and weight, as "name:weight:kind,kind,...",
    /// e.g. "mls:1:443,444,445,1059": ephemeral events of those kinds have a live queue of their
    /// own, and stored events of those kinds a log of their own per node (pulled on its own,
    /// in a queue of its own), so a heavy stream of one class cannot starve the others. Every
    /// node of a cluster should list the same classes in the same order (a class's log is
    /// numbered by its place in this list).
    pub traffic_classes: Vec<String>,
    /// Anti-entropy: this often, in seconds, reconcile the recent events with each linked peer
    /// (negentropy over the link) and fetch what replication missed; 0 turns it off.
    pub anti_entropy_interval_seconds: u64,
    /// ...over the events of this many seconds before now.
    pub anti_entropy_window_seconds: u64,
    /// Events one anti-entropy session may cover (either side); past it the session is
    /// refused and counted.
    pub anti_entropy_items_max: usize,
}

impl Default for ClusterConfig {
    fn default() -> ClusterConfig {
        ClusterConfig {
            node_key_file: PathBuf::new(),
            listen: String::new(),
            advertise: None,
            seeds: Vec::new(),
            allowed_peers: Vec::new(),
            cluster_id: String::new(),
            link_encryption: LinkEncryption::Required,
            relay_urls: Vec::new(),
            verify_replicated: false,
            link_frame_bytes_max: 8 * 1024 * 1024,
            link_queue_bytes_max: 32 * 1024 * 1024,
            pull_events_max: 4096,
            pull_bytes_max: 2 * 1024 * 1024,
            pull_ids_behind: 4096,
            pull_ids_max: 32_768,
            origin_timeout_seconds: 30,
            replication_linger_ms: 50,
            summary_tag_probes_max: 32,
            link_live_queue_bytes_max: 4 * 1024 * 1024,
            link_replication_weight: 1,
            link_live_weight: 1,
            traffic_classes: Vec::new(),
            anti_entropy_interval_seconds: 3600,
            anti_entropy_window_seconds: 86_400,
            anti_entropy_items_max: 1_000_000,
        }
    }
}

/// The policy log's class (`policy_log`): NIP-86 changes travel in a log and a queue of their
/// own, so a backlog of other events never holds a ban back. Never dropped, like every log.
pub const POLICY_CLASS: &str = "policy";

impl ClusterConfig {
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        let required = [
            ("node_key_file", self.node_key_file.as_os_str().is_empty()),
            ("listen", self.listen.is_empty()),
            ("cluster_id", self.cluster_id.is_empty()),
        ];
        for (key, missing) in required {
            if missing {
                bail!("configuration key `cluster.{key}` is required when [cluster] is set");
            }
        }
        if self.cluster_id.len() > 255 {
            bail!("configuration key `cluster.cluster_id` must be at most 255 bytes");
        }
        for peer in &self.allowed_peers {
            if parrhesia_engine::hex::decode_array::<32>(peer).is_none() {
                bail!("configuration key `cluster.allowed_peers`: {peer:?} is not 64 lowercase hex characters");
            }
        }
        if self.pull_events_max == 0 || self.pull_bytes_max == 0 || self.pull_ids_max == 0 {
            bail!(
                "configuration keys `cluster.pull_events_max`, `cluster.pull_bytes_max` and `cluster.pull_ids_max` \
                 must be greater than 0"
            );
        }
        if (self.pull_bytes_max as usize) * 2 > self.link_frame_bytes_max {
            bail!("configuration key `cluster.link_frame_bytes_max` must be at least twice `cluster.pull_bytes_max`");
        }
        self.kind_classes()?;
        Ok(())
    }

    /// `traffic_classes` parsed: (name, weight, kinds).
    pub fn kind_classes(&self) -> anyhow::Result<Vec<(String, u32, Vec<u16>)>> {
        let mut classes = Vec::new();
        for entry in &self.traffic_classes {
            let bad =
                || format!("configuration key `cluster.traffic_classes`: {entry:?} is not name:weight:kind,kind,...");
            let mut parts = entry.splitn(3, ':');
            let (Some(name), Some(weight), Some(kinds)) = (parts.next(), parts.next(), parts.next()) else {
                bail!(bad());
            };
            let weight: u32 = weight.trim().parse().ok().filter(|weight| *weight > 0).with_context(bad)?;
            let kinds: Vec<u16> =
                kinds.split(',').map(|kind| kind.trim().parse()).collect::<Result<_, _>>().ok().with_context(bad)?;
            // (`<name>_stored` is the queue of the class's stored events.)
            let reserved =
                ["control", "replication", "live", "sync", POLICY_CLASS].contains(&name) || name.ends_with("_stored");
            if name.is_empty() || reserved || classes.iter().any(|(known, _, _)| known == name) {
                bail!(
                    "configuration key `cluster.traffic_classes`: the class name {name:?} is empty, reserved or repeated"
                );
            }
            if kinds.contains(&POLICY_ENTRY_KIND) {
                bail!(
                    "configuration key `cluster.traffic_classes`: kind {POLICY_ENTRY_KIND} (the policy log) has a \
                     class of its own"
                );
            }
            classes.push((name.to_string(), weight, kinds));
        }
        if classes.len() > 254 {
            bail!("configuration key `cluster.traffic_classes`: at most 254 classes (one more is the policy log's)");
        }
        Ok(classes)
    }

    /// The kinds of `traffic_classes` and their class numbers (1, 2, ... in list order), then
    /// the policy log's kind in the class after them: the store numbers a node's own events of
    /// those kinds in a log per class.
    pub fn log_classes(&self) -> anyhow::Result<std::collections::HashMap<u16, u8>> {
        let classes = self.kind_classes()?;
        let policy_class = classes.len() as u8 + 1;
        let numbered = classes
            .into_iter()
            .enumerate()
            .flat_map(|(index, (_, _, kinds))| kinds.into_iter().map(move |kind| (kind, index as u8 + 1)));
        Ok(numbered.chain([(POLICY_ENTRY_KIND, policy_class)]).collect())
    }

    /// The allowed peers as keys (validated at load).
    pub fn allowed_peer_keys(&self) -> Vec<[u8; 32]> {
        self.allowed_peers.iter().filter_map(|peer| parrhesia_engine::hex::decode_array::<32>(peer)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::tests::pairs;

    #[test]
    fn the_cluster_table_layers_like_every_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        let peer = "ab".repeat(32);
        let text = format!(
            "[cluster]\nnode_key_file = \"node.key\"\nlisten = \"127.0.0.1:7001\"\ncluster_id = \"file\"\n\
             seeds = [\"127.0.0.1:7002\"]\nallowed_peers = [\"{peer}\"]\n"
        );
        std::fs::write(&path, text).unwrap();
        let environment = pairs(&[("PARRHESIA_CLUSTER_CLUSTER_ID", "env"), ("PARRHESIA_CLUSTER_SEEDS", "a:1, b:2")]);
        let flags = pairs(&[("cluster.verify_replicated", "true")]);
        let config = Config::load(Some(&path), environment, &flags).unwrap();
        let cluster = config.cluster.expect("[cluster] is set");
        assert_eq!(cluster.node_key_file, PathBuf::from("node.key"));
        assert_eq!(cluster.cluster_id, "env", "environment over file");
        assert_eq!(cluster.seeds, vec!["a:1".to_string(), "b:2".to_string()], "a list from text");
        assert_eq!(cluster.allowed_peer_keys(), vec![[0xab; 32]]);
        assert!(cluster.verify_replicated, "flag");
        assert_eq!(cluster.advertise, None);
        assert_eq!(cluster.origin_timeout_seconds, 30, "default kept");
        assert_eq!(Config::load(None, vec![], &[]).unwrap().cluster, None, "no [cluster]: single node");

        let complete = [("cluster.node_key_file", "k"), ("cluster.listen", "x:1"), ("cluster.cluster_id", "c")];
        let cases = [
            (pairs(&[("cluster.nope", "1")]), "unknown configuration key `cluster.nope`"),
            (pairs(&[("cluster.listen", "127.0.0.1:1")]), "`cluster.node_key_file` is required"),
            (pairs(&[complete.as_slice(), &[("cluster.allowed_peers", "zz")]].concat()), "cluster.allowed_peers"),
            (pairs(&[("cluster", "x")]), "unknown configuration key `cluster`"),
        ];
        for (flags, expected) in cases {
            let error = format!("{:#}", Config::load(None, vec![], &flags).unwrap_err());
            assert!(error.contains(expected), "{error} should mention {expected}");
        }
    }
}
