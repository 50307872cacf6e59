//! The registry behind `/metrics`: `Metrics` holds every executor's metrics and the store,
//! and at each scrape its collector (`Sources`) reads them and writes the Prometheus text
//! format with `prometheus-client`, plus the process's own figures. The cluster's families
//! are in `cluster.rs`.

mod cluster;
mod mirror;

use std::fmt;
use std::sync::Arc;

use parrhesia_storage::Store;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::cluster::ClusterMetrics;
use super::mirror::MirrorMetrics;
use super::shard::{
    CLIENT_VERBS, CLOSE_REASONS, DEFLATE_FORMS, EVENT_OUTCOMES, KIND_CLASSES, NIP43_OUTCOMES, PLUGIN_FAILURES,
    PLUGIN_VERDICTS, RELAY_VERBS, ShardMetrics,
};
use super::writer::{WRITE_SOURCES, WriterMetrics};
use super::{Count, Histogram};

/// Everything a scrape reads, and the registry that renders it.
pub struct Metrics {
    registry: Registry,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Metrics")
    }
}

/// What the collector reads at each scrape.
#[derive(Debug)]
struct Sources {
    shards: Vec<Arc<ShardMetrics>>,
    writer: Arc<WriterMetrics>,
    cluster: Option<Arc<ClusterMetrics>>,
    mirrors: Vec<Arc<MirrorMetrics>>,
    store: StoreHandle,
}

/// The store, for its gauges (`Store` is not `Debug`).
struct StoreHandle(Store);

impl fmt::Debug for StoreHandle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Store")
    }
}

impl Metrics {
    pub fn new(
        shards: Vec<Arc<ShardMetrics>>,
        writer: Arc<WriterMetrics>,
        cluster: Option<Arc<ClusterMetrics>>,
        mirrors: Vec<Arc<MirrorMetrics>>,
        store: Store,
    ) -> Metrics {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Sources { shards, writer, cluster, mirrors, store: StoreHandle(store) }));
        Metrics { registry }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(64 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing into a String cannot fail");
        text
    }
}

pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// One rendered value.
enum Sample<'a> {
    Counter(u64),
    CounterF64(f64),
    Gauge(i64),
    GaugeF64(f64),
    Histogram(&'a Histogram),
}

/// Writes one metric family: its descriptor, then every labelled sample.
fn family<'a, S: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (S, Sample<'a>)>,
) -> fmt::Result {
    let mut samples = samples.into_iter().peekable();
    let Some((_, first)) = samples.peek() else { return Ok(()) };
    let kind = match first {
        Sample::Counter(_) | Sample::CounterF64(_) => MetricType::Counter,
        Sample::Gauge(_) | Sample::GaugeF64(_) => MetricType::Gauge,
        Sample::Histogram(_) => MetricType::Histogram,
    };
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, sample) in samples {
        let mut encoder = metric.encode_family(&labels)?;
        match sample {
            Sample::Counter(value) => encoder.encode_counter::<NoLabelSet, _, u64>(&value, None)?,
            Sample::CounterF64(value) => encoder.encode_counter::<NoLabelSet, _, f64>(&value, None)?,
            Sample::Gauge(value) => encoder.encode_gauge(&value)?,
            Sample::GaugeF64(value) => encoder.encode_gauge(&value)?,
            Sample::Histogram(histogram) => {
                let (sum, count, buckets) = histogram.snapshot();
                encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?
            }
        }
    }
    Ok(())
}

impl Sources {
    /// A per-shard family: `value` picks the sample from each shard.
    fn per_shard<'a>(
        &'a self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        value: impl Fn(&'a ShardMetrics) -> Sample<'a>,
    ) -> fmt::Result {
        let samples =
            self.shards.iter().enumerate().map(|(index, shard)| ([("shard", index.to_string())], value(shard)));
        family(encoder, name, help, samples)
    }

    /// A per-shard family with one more label over `labels`.
    fn per_shard_labelled<'a>(
        &'a self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        (label, labels): (&'static str, &'static [&'static str]),
        value: impl Fn(&'a ShardMetrics, usize) -> Sample<'a>,
    ) -> fmt::Result {
        let samples = self.shards.iter().enumerate().flat_map(|(index, shard)| {
            let value = &value;
            labels.iter().enumerate().map(move |(position, name)| {
                ([("shard", index.to_string()), (label, (*name).to_string())], value(shard, position))
            })
        });
        family(encoder, name, help, samples)
    }

    fn encode_shards(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        use Sample::{Counter, Gauge, Histogram};
        let count = |count: &Count| Counter(count.get());
        self.per_shard(encoder, "parrhesia_connections_open", "Client connections open", |shard| {
            Gauge(shard.connections_open.get())
        })?;
        self.per_shard(encoder, "parrhesia_connections_opened", "Client connections upgraded to WebSocket", |shard| {
            count(&shard.connections_opened)
        })?;
        self.per_shard_labelled(
            encoder,
            "parrhesia_connections_closed",
            "Client connections closed, by reason",
            ("reason", &CLOSE_REASONS),
            |shard, reason| count(&shard.connections_closed[reason]),
        )?;
        self.per_shard_labelled(
            encoder,
            "parrhesia_rate_limited",
            "Requests refused by a rate limit, by verb",
            ("verb", &crate::rate::VERBS),
            |shard, verb| count(&shard.rate_limited[verb]),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_connections_refused",
            "Connections refused with 503 at the connection limit",
            |shard| count(&shard.connections_refused),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_accept_failures",
            "Failed accepts (mostly out of file descriptors)",
            |shard| count(&shard.accept_failures),
        )?;
        self.per_shard_labelled(
            encoder,
            "parrhesia_client_messages",
            "Messages received from clients, by verb",
            ("verb", &CLIENT_VERBS),
            |shard, verb| count(&shard.client_messages[verb]),
        )?;
        self.per_shard_labelled(
            encoder,
            "parrhesia_relay_messages",
            "Messages sent to clients, by verb",
            ("verb", &RELAY_VERBS),
            |shard, verb| count(&shard.relay_messages[verb]),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_outbound_flushes",
            "Flushes of a connection's queued messages to its socket (messages per flush: see delivery_linger_ms)",
            |shard| count(&shard.outbound_flushes),
        )?;
        let samples = self.shards.iter().enumerate().flat_map(|(index, shard)| {
            EVENT_OUTCOMES.iter().enumerate().flat_map(move |(outcome, outcome_name)| {
                KIND_CLASSES.iter().enumerate().map(move |(class, class_name)| {
                    let labels = [
                        ("shard", index.to_string()),
                        ("outcome", (*outcome_name).to_string()),
                        ("kind_class", (*class_name).to_string()),
                    ];
                    (labels, Counter(shard.events[outcome][class].get()))
                })
            })
        });
        family(encoder, "parrhesia_events", "Events received from clients, by outcome and kind class", samples)?;
        self.per_shard(
            encoder,
            "parrhesia_ingest_check_duration_seconds",
            "Time to decode and check one EVENT (duplicate, signature, policy) up to handing it on",
            |shard| Histogram(&shard.ingest_check),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_fanout_queue_seconds",
            "Time a commit waited between the writer and the shard's fanout (enqueue to dequeue)",
            |shard| Histogram(&shard.commit_queue),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_fanout_duration_seconds",
            "Time to match one event against a shard's subscriptions and queue its deliveries",
            |shard| Histogram(&shard.fanout),
        )?;
        self.per_shard(encoder, "parrhesia_fanout_deliveries", "Live events queued to subscriptions", |shard| {
            count(&shard.deliveries)
        })?;
        self.per_shard(
            encoder,
            "parrhesia_live_events_dropped",
            "Live events dropped by the overflow policy",
            |shard| count(&shard.live_dropped),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_outbound_overflow_closes",
            "Connections closed because their outbound queue was full",
            |shard| count(&shard.overflow_closes),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_blocked_ip_refusals",
            "Connections closed at accept because their address is blocked (NIP-86 blockip)",
            |shard| count(&shard.blocked_ip_refusals),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_rate_limit_keys",
            "Addresses and pubkeys with rate-limit buckets held (sampled each second)",
            |shard| Gauge(shard.rate_limit_keys.get()),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_rate_limited_connections",
            "New connections closed at accept over the connection rate per address",
            |shard| count(&shard.rate_limited_connections),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_outbound_queued_bytes",
            "Bytes queued to this shard's connections (sampled each second)",
            |shard| Gauge(shard.outbound_queued_bytes.get()),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_outbound_queue_pressure_ratio",
            "The fullest outbound queue as a fraction of outbound_bytes_max (sampled each second)",
            |shard| Sample::GaugeF64(shard.outbound_pressure_per_mille.get() as f64 / 1000.0),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_outbound_queue_depth_bytes",
            "Each connection's outbound queue depth, sampled each second",
            |shard| Histogram(&shard.outbound_depth),
        )?;
        self.per_shard(encoder, "parrhesia_subscriptions_open", "Open REQ subscriptions", |shard| {
            Gauge(shard.subscriptions_open.get())
        })?;
        self.per_shard(
            encoder,
            "parrhesia_req_eose_duration_seconds",
            "Time from a REQ to its EOSE (the stored-events scan)",
            |shard| Histogram(&shard.req_to_eose),
        )?;
        self.per_shard(encoder, "parrhesia_scan_slices", "Budgeted slices of REQ and COUNT scans", |shard| {
            count(&shard.scan_slices)
        })?;
        let samples = self.shards.iter().enumerate().flat_map(|(index, shard)| {
            DEFLATE_FORMS.iter().zip(&shard.deflate_bytes).map(move |((direction, form), count)| {
                let labels = [
                    ("shard", index.to_string()),
                    ("direction", (*direction).to_string()),
                    ("form", (*form).to_string()),
                ];
                (labels, Counter(count.get()))
            })
        });
        family(
            encoder,
            "parrhesia_deflate_bytes",
            "permessage-deflate message bytes: out before/after compressing, in before/after inflating",
            samples,
        )?;
        self.per_shard(
            encoder,
            "parrhesia_deflate_connections",
            "Connections that negotiated permessage-deflate",
            |shard| count(&shard.deflate_connections),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_inflate_refused",
            "Compressed client messages refused (too big once inflated, or not deflate data)",
            |shard| count(&shard.inflate_refused),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_cluster_ephemeral_dropped",
            "Ephemeral events not handed to the cluster (its queue was full)",
            |shard| count(&shard.cluster_ephemeral_dropped),
        )?;
        self.per_shard_labelled(
            encoder,
            "parrhesia_write_policy_verdicts",
            "Write-policy plugin verdicts (failed: no verdict, the event refused; see the failures)",
            ("verdict", &PLUGIN_VERDICTS),
            |shard, verdict| count(&shard.plugin_verdicts[verdict]),
        )?;
        self.per_shard_labelled(
            encoder,
            "parrhesia_write_policy_failures",
            "Events the write-policy plugin gave no verdict on, by why (the plugin is killed and started again for timeout, exited, bad_answer)",
            ("reason", &PLUGIN_FAILURES),
            |shard, reason| count(&shard.plugin_failures[reason]),
        )?;
        self.per_shard(encoder, "parrhesia_write_policy_starts", "Write-policy plugin processes started", |shard| {
            count(&shard.plugin_starts)
        })?;
        self.per_shard_labelled(
            encoder,
            "parrhesia_nip43_requests",
            "NIP-43 requests by outcome: invites given or refused, joins accepted, ignored (a member already) or refused, leaves, and writes refused to non-members",
            ("outcome", &NIP43_OUTCOMES),
            |shard, outcome| count(&shard.nip43[outcome]),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_cluster_links_owned",
            "Cluster links whose socket this shard owns (it reads, decodes and checks their frames)",
            |shard| Gauge(shard.cluster_links_owned.get()),
        )?;
        self.per_shard(
            encoder,
            "parrhesia_cluster_link_frames_received",
            "Frames received on the cluster links this shard owns",
            |shard| count(&shard.cluster_link_frames_received),
        )
    }

    fn encode_writer(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let writer = &self.writer;
        let by_source = |pick: fn(&WriterMetrics, usize) -> Sample<'_>| {
            WRITE_SOURCES.iter().enumerate().map(move |(index, source)| ([("source", *source)], pick(writer, index)))
        };
        family(
            encoder,
            "parrhesia_writer_batch_events",
            "Events per group commit",
            by_source(|writer, source| Sample::Histogram(&writer.batch_events[source])),
        )?;
        family(
            encoder,
            "parrhesia_writer_commit_duration_seconds",
            "Duration of one group commit, flush included",
            by_source(|writer, source| Sample::Histogram(&writer.commit_duration[source])),
        )?;
        family(
            encoder,
            "parrhesia_writer_events_stored",
            "Events the writer stored",
            by_source(|writer, source| Sample::Counter(writer.events_stored[source].get())),
        )?;
        family(
            encoder,
            "parrhesia_writer_queue_events",
            "Client events waiting for the writer",
            [(NO_LABELS, Sample::Gauge(writer.queue_events.get()))],
        )?;
        family(
            encoder,
            "parrhesia_writer_store_full_events",
            "Events the writer could not store for lack of space (map or disk full): refused with `error: store full` (clients) or pulled again later (replication)",
            by_source(|writer, source| Sample::Counter(writer.store_full_events[source].get())),
        )?;
        family(
            encoder,
            "parrhesia_store_full",
            "1 while the store is full (a write failed for lack of space within the last minute), else 0",
            [(NO_LABELS, Sample::Gauge(writer.store_full.get()))],
        )?;
        let counter = |value: u64| [(NO_LABELS, Sample::Counter(value))];
        family(
            encoder,
            "parrhesia_retention_examined_events",
            "Old events retention passes examined",
            counter(writer.retention_examined.get()),
        )?;
        let removed = super::writer::REMOVED_BY
            .iter()
            .zip(&writer.retention_removed)
            .map(|(rule, count)| ([("rule", *rule)], Sample::Counter(count.get())));
        family(
            encoder,
            "parrhesia_retention_removed_events",
            "Events retention removed: past their age (rule=age) or, oldest first, to bring the store under store_bytes_max (rule=size)",
            removed,
        )?;
        family(
            encoder,
            "parrhesia_retention_passes",
            "Retention passes completed",
            counter(writer.retention_passes.get()),
        )?;
        family(
            encoder,
            "parrhesia_retention_pass_running",
            "1 while a retention pass is under way",
            [(NO_LABELS, Sample::Gauge(writer.retention_running.get()))],
        )?;
        family(
            encoder,
            "parrhesia_retention_evicting",
            "1 while the store is over store_bytes_max and its oldest events are being removed",
            [(NO_LABELS, Sample::Gauge(writer.retention_evicting.get()))],
        )?;
        let applied = writer.applied_by_origin.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let origin = |key: &[u8; 32]| [("origin", parrhesia_net::identity_hex(key))];
        let events = applied.iter().map(|(key, (events, _))| (origin(key), Sample::Counter(*events)));
        family(encoder, "parrhesia_cluster_applied_events", "Replicated events stored, per origin", events)?;
        let bytes = applied.iter().map(|(key, (_, bytes))| (origin(key), Sample::Counter(*bytes)));
        family(
            encoder,
            "parrhesia_cluster_applied_bytes",
            "JSON bytes of replicated events stored, per origin",
            bytes,
        )?;
        family(
            encoder,
            "parrhesia_cluster_delivery_lag_seconds",
            "Cross-node delivery lag: the origin's commit to this node's fanout enqueue, for batches sent from recent commits. The origin's clock against this node's: skew between them adds to it (a negative difference counts as 0)",
            [(NO_LABELS, Sample::Histogram(&writer.delivery_lag))],
        )
    }

    fn encode_store(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let Ok(gauges) = self.store.0.gauges() else {
            // An unreadable store shows as missing gauges; the relay logs its read errors.
            return Ok(());
        };
        let gauge = |value: u64| [(NO_LABELS, Sample::Gauge(i64::try_from(value).unwrap_or(i64::MAX)))];
        family(encoder, "parrhesia_store_events", "Events stored", gauge(gauges.events))?;
        family(
            encoder,
            "parrhesia_store_last_sequence",
            "Sequence number of the last stored event",
            gauge(gauges.last_seq),
        )?;
        family(encoder, "parrhesia_store_disk_bytes", "Size of the LMDB data file", gauge(gauges.disk_bytes))?;
        family(
            encoder,
            "parrhesia_store_map_bytes",
            "The LMDB map: the most the data file may grow to (map_bytes_max)",
            gauge(gauges.map_bytes),
        )?;
        family(
            encoder,
            "parrhesia_store_map_used_bytes",
            "Bytes of the map taken, up to the highest page ever written (freed pages below it are reused first); writes fail with the map full when it reaches parrhesia_store_map_bytes",
            gauge(gauges.map_used_bytes),
        )?;
        // The filesystem the store lives on; a failed statvfs leaves the two out.
        let Ok((total, available)) = crate::system::filesystem_space(self.store.0.directory()) else { return Ok(()) };
        family(encoder, "parrhesia_store_filesystem_bytes", "Size of the filesystem holding the store", gauge(total))?;
        family(
            encoder,
            "parrhesia_store_filesystem_available_bytes",
            "Bytes the relay may still write on the filesystem holding the store",
            gauge(available),
        )
    }

    fn encode_process(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let one = |value: u64| [(NO_LABELS, Sample::Gauge(i64::try_from(value).unwrap_or(i64::MAX)))];
        family(encoder, "parrhesia_shards", "Shards (executors serving connections)", one(self.shards.len() as u64))?;
        let info = [([("version", env!("CARGO_PKG_VERSION"))], Sample::Gauge(1))];
        family(encoder, "parrhesia_build_info", "The running build", info)?;
        if let Ok(limit) = crate::system::open_file_limit() {
            family(encoder, "process_max_fds", "The open-file limit (soft)", one(limit.rlim_cur))?;
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            family(encoder, "process_open_fds", "File descriptors open", one(entries.count() as u64))?;
        }
        if let Some((cpu_seconds, resident_bytes)) = process_stat() {
            let cpu = [(NO_LABELS, Sample::CounterF64(cpu_seconds))];
            family(encoder, "process_cpu_seconds", "User and system CPU time", cpu)?;
            family(encoder, "process_resident_memory_bytes", "Resident memory", one(resident_bytes))?;
        }
        Ok(())
    }
}

const NO_LABELS: [(&str, &str); 0] = [];

impl prometheus_client::collector::Collector for Sources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        self.encode_shards(&mut encoder)?;
        self.encode_writer(&mut encoder)?;
        self.encode_store(&mut encoder)?;
        self.encode_cluster(&mut encoder)?;
        self.encode_mirrors(&mut encoder)?;
        self.encode_process(&mut encoder)
    }
}

/// (CPU seconds, resident bytes) from /proc/self/stat.
fn process_stat() -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3, "state".
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    let cpu = (field(14)? + field(15)?) as f64 / ticks;
    Some((cpu, field(24)? * page))
}
