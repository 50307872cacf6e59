//! The cluster's `/metrics` families: links, members, replication, interest summaries, and
//! per peer and per origin figures (written by `Sources::encode_cluster`).

use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;

use super::{NO_LABELS, Sample, Sources, family};
use crate::metrics::cluster::{
    ClusterMetrics, LINK_FAILURES, MEMBER_STATES, MEMBERSHIP_STATS, PeerFigures, REFUSALS, REPLICATION_STATS,
    SUMMARY_CLASSES,
};

/// A per-peer counter family: name, help, and where its value is.
type PeerCounter = (&'static str, &'static str, fn(&PeerFigures) -> u64);

impl Sources {
    pub(super) fn encode_cluster(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let Some(cluster) = &self.cluster else { return Ok(()) };
        let one = |sample: Sample<'static>| [(NO_LABELS, sample)];
        family(
            encoder,
            "parrhesia_cluster_links_open",
            "Authenticated links to peers",
            one(Sample::Gauge(cluster.links_open.get())),
        )?;
        family(
            encoder,
            "parrhesia_cluster_links_opened",
            "Links authenticated",
            one(Sample::Counter(cluster.links_opened.get())),
        )?;
        family(
            encoder,
            "parrhesia_cluster_links_closed",
            "Links closed",
            one(Sample::Counter(cluster.links_closed.get())),
        )?;
        let failures = LINK_FAILURES
            .iter()
            .zip(&cluster.link_failures)
            .map(|(reason, count)| ([("reason", *reason)], Sample::Counter(count.get())));
        family(encoder, "parrhesia_cluster_link_failures", "Links refused or closed, by reason", failures)?;
        family(
            encoder,
            "parrhesia_cluster_reloads",
            "SIGHUP reloads of the cluster's peers applied",
            one(Sample::Counter(cluster.reloads.get())),
        )?;
        family(
            encoder,
            "parrhesia_cluster_reloads_failed",
            "SIGHUP reloads refused (the running configuration kept)",
            one(Sample::Counter(cluster.reloads_failed.get())),
        )?;
        let refused = REFUSALS
            .iter()
            .zip(&cluster.membership_refused)
            .map(|(reason, count)| ([("reason", *reason)], Sample::Counter(count.get())));
        family(
            encoder,
            "parrhesia_cluster_membership_datagrams_refused",
            "Membership datagrams refused before foca saw them, by reason",
            refused,
        )?;
        family(
            encoder,
            "parrhesia_cluster_link_sent_bytes",
            "Frame bytes queued to peers",
            one(Sample::Counter(cluster.link_bytes_sent.get())),
        )?;
        family(
            encoder,
            "parrhesia_cluster_link_received_bytes",
            "Frame bytes read from peers",
            one(Sample::Counter(cluster.link_bytes_received.get())),
        )?;
        family(
            encoder,
            "parrhesia_cluster_replicated_events_invalid",
            "Replicated events refused by the checks a client's event gets",
            one(Sample::Counter(cluster.replicated_events_invalid.get())),
        )?;
        family(
            encoder,
            "parrhesia_cluster_partitions_detected",
            "A link down to a member that is up, or a member down while linked",
            one(Sample::Counter(cluster.partitions_detected.get())),
        )?;
        let anti_entropy = [
            ("started", "Anti-entropy sessions this node started", &cluster.anti_entropy_started),
            (
                "completed",
                "Anti-entropy sessions this node finished (every fetch answered)",
                &cluster.anti_entropy_completed,
            ),
            ("served", "Anti-entropy sessions this node served for peers", &cluster.anti_entropy_served),
            ("refused", "Anti-entropy windows over anti_entropy_items_max (here)", &cluster.anti_entropy_refused),
            ("missing", "Event ids anti-entropy found this node lacking", &cluster.anti_entropy_missing),
            ("repaired", "Events anti-entropy fetched for the writer", &cluster.anti_entropy_repaired),
        ];
        for (name, help, count) in anti_entropy {
            family(
                encoder,
                &format!("parrhesia_cluster_anti_entropy_{name}"),
                help,
                one(Sample::Counter(count.get())),
            )?;
        }
        family(
            encoder,
            "parrhesia_cluster_members_up",
            "Members this node sees up",
            one(Sample::Gauge(cluster.members_up.get())),
        )?;
        let states = MEMBER_STATES.iter().zip(&cluster.members_by_state);
        let states = states.map(|(state, gauge)| ([("state", *state)], Sample::Gauge(gauge.get())));
        family(encoder, "parrhesia_cluster_members", "Members the SWIM layer knows, by state", states)?;
        self.encode_links_and_origins(encoder, cluster)?;
        for (prefix, names, counts) in [
            ("parrhesia_cluster_replication_", &REPLICATION_STATS[..], &cluster.replication[..]),
            ("parrhesia_cluster_membership_", &MEMBERSHIP_STATS[..], &cluster.membership[..]),
        ] {
            for ((name, help), count) in names.iter().zip(counts) {
                family(encoder, &format!("{prefix}{name}"), help, one(Sample::Counter(count.get())))?;
            }
        }
        Ok(())
    }

    fn encode_links_and_origins(&self, encoder: &mut DescriptorEncoder, cluster: &ClusterMetrics) -> fmt::Result {
        let figures = cluster.links_and_origins.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let peer = |key: &String| [("peer", key.clone())];
        let rtt = figures
            .peers
            .iter()
            .filter_map(|(key, peer_figures)| peer_figures.rtt_seconds.map(|rtt| (peer(key), Sample::GaugeF64(rtt))));
        family(
            encoder,
            "parrhesia_cluster_peer_rtt_seconds",
            "Round trip of the last answered link ping, per peer",
            rtt,
        )?;
        let links_up = figures.peers.iter().map(|(key, figures)| (peer(key), Sample::Counter(figures.links_up)));
        family(
            encoder,
            "parrhesia_cluster_peer_links_up",
            "Links authenticated with the peer this run (reconnects are this minus one)",
            links_up,
        )?;
        let per_peer: [PeerCounter; 7] = [
            (
                "parrhesia_cluster_live_pushed_events",
                "Own events sent to the peer without lingering: they matched its interest summary, or its summary was not current",
                |figures| figures.live.pushed,
            ),
            (
                "parrhesia_cluster_live_avoided_events",
                "Own events the peer's current summary did not match: they reach it through the lingering pull",
                |figures| figures.live.avoided,
            ),
            (
                "parrhesia_cluster_summary_fallbacks",
                "Own and ephemeral events sent as if the peer wanted everything: its summary was missing or not confirmed within 2 s",
                |figures| figures.live.fallbacks,
            ),
            (
                "parrhesia_cluster_ephemeral_sent_events",
                "Ephemeral events sent to the peer (its summary matched or was not current)",
                |figures| figures.live.ephemeral_sent,
            ),
            (
                "parrhesia_cluster_ephemeral_avoided_events",
                "Ephemeral events not sent to the peer: its current summary did not match",
                |figures| figures.live.ephemeral_avoided,
            ),
            (
                "parrhesia_cluster_summary_requests",
                "Full summaries asked of the peer after a gap in its deltas",
                |figures| figures.live.summary_requests,
            ),
            (
                "parrhesia_cluster_summary_sent_bytes",
                "Bytes of this node's interest summaries (full and deltas) sent to the peer",
                |figures| figures.summary_bytes_sent,
            ),
        ];
        for (name, help, pick) in per_peer {
            let samples = figures.peers.iter().map(|(key, figures)| (peer(key), Sample::Counter(pick(figures))));
            family(encoder, name, help, samples)?;
        }
        let age = figures
            .peers
            .iter()
            .filter_map(|(key, figures)| figures.summary_age_seconds.map(|age| (peer(key), Sample::GaugeF64(age))));
        family(
            encoder,
            "parrhesia_cluster_summary_age_seconds",
            "How long ago the linked peer last confirmed its interest summary",
            age,
        )?;
        let mismatches = figures.peers.iter().flat_map(|(key, figures)| {
            figures
                .config_mismatches
                .iter()
                .map(move |setting| ([("peer", key.clone()), ("setting", setting.clone())], Sample::Gauge(1)))
        });
        family(
            encoder,
            "parrhesia_cluster_config_mismatch",
            "1 for each setting the peer sent at its last link up that differs from this node's",
            mismatches,
        )?;
        let queue = |(peer, class): &(String, String)| [("peer", peer.clone()), ("class", class.clone())];
        let gauge_of = |value: u64| Sample::Gauge(i64::try_from(value).unwrap_or(i64::MAX));
        let queued = figures.queues.iter().map(|(key, figures)| (queue(key), gauge_of(figures.queued_bytes)));
        family(encoder, "parrhesia_cluster_link_queue_bytes", "Bytes queued to the peer, per traffic class", queued)?;
        let queued = figures.queues.iter().map(|(key, figures)| (queue(key), gauge_of(figures.queued_frames)));
        family(encoder, "parrhesia_cluster_link_queue_frames", "Frames queued to the peer, per traffic class", queued)?;
        let dropped = figures.queues.iter().map(|(key, figures)| (queue(key), Sample::Counter(figures.dropped_frames)));
        family(
            encoder,
            "parrhesia_cluster_link_dropped_frames",
            "Best-effort frames dropped (oldest first) because the peer's class queue was full",
            dropped,
        )?;
        let dropped = figures.queues.iter().map(|(key, figures)| (queue(key), Sample::Counter(figures.dropped_bytes)));
        family(encoder, "parrhesia_cluster_link_dropped_bytes", "Bytes of the dropped frames", dropped)?;
        let keys = SUMMARY_CLASSES.iter().zip(&cluster.summary_keys);
        let keys = keys.map(|(class, gauge)| ([("class", *class)], Sample::Gauge(gauge.get())));
        family(
            encoder,
            "parrhesia_cluster_summary_keys",
            "Distinct keys in this node's interest summary, per bloom",
            keys,
        )?;
        let origin = |key: &String| [("origin", key.clone())];
        let gauge = |value: u64| Sample::Gauge(i64::try_from(value).unwrap_or(i64::MAX));
        let held = figures.origins.iter().map(|(key, figures)| (origin(key), gauge(figures.held_positions)));
        family(
            encoder,
            "parrhesia_cluster_origin_held_positions",
            "Positions of the origin's logs this node holds",
            held,
        )?;
        let behind = figures.origins.iter().map(|(key, figures)| (origin(key), gauge(figures.behind_positions)));
        family(
            encoder,
            "parrhesia_cluster_replication_backlog_positions",
            "Positions of the origin's logs a linked peer holds and this node has not pulled yet (an upper bound on events: removed events leave holes)",
            behind,
        )?;
        let resets =
            figures.origins.iter().map(|(key, figures)| (origin(key), Sample::Counter(figures.resets_received)));
        family(encoder, "parrhesia_cluster_resets_received", "Resets received for the origin's logs", resets)?;
        let lag = figures.origins.iter().map(|(key, figures)| (origin(key), Sample::GaugeF64(figures.behind_seconds)));
        family(
            encoder,
            "parrhesia_cluster_replication_lag_seconds",
            "How long this node has been behind the origin (0 when caught up)",
            lag,
        )
    }
}
