//! Starting and stopping the node: open the store, build every channel, start the writer
//! executor and one executor per shard, wait for the listeners, and on SIGINT/SIGTERM let the
//! shards stop accepting, the writer commit what it holds, and the sockets close with 1001.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, bail};
use glommio::channels::shared_channel;
use glommio::{CpuSet, LocalExecutorBuilder, Placement};
use parrhesia_storage::{DirectoryLock, Durability, Store, StoreOptions};

use crate::cluster::ClusterMetrics;
use crate::config::{Config, DurabilitySetting};
use crate::metrics::{Metrics, ShardMetrics, WriterMetrics};
use crate::serve::ShardSetup;
use crate::startup::StartupSteps;
use crate::writer::WriterSetup;

/// Memory each executor registers with io_uring. The relay does no file I/O through glommio
/// (LMDB is memory-mapped), so a small area keeps every executor inside an 8 MiB memlock limit.
const IO_MEMORY_BYTES: usize = 256 * 1024;
/// glommio's default preempt timer (100 ms) lets a busy task starve socket I/O.
const PREEMPT_TIMER: Duration = Duration::from_millis(2);

/// How long startup may take, from starting the executors to every shard listening. It
/// takes milliseconds; past this the relay names the channel ends still unconnected and exits.
const STARTUP_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Pulled batches waiting for the writer (one per log in flight at most, so few).
const CLUSTER_APPLY_QUEUE_BATCHES: usize = 64;

/// An executor as every one of the node's is built: named, small io_uring memory, 2 ms preempt.
fn executor(placement: Placement, name: &str) -> LocalExecutorBuilder {
    LocalExecutorBuilder::new(placement).name(name).io_memory(IO_MEMORY_BYTES).preempt_timer(PREEMPT_TIMER)
}

/// Runs the relay until a signal stops it. Returns after a clean shutdown.
/// `reload` loads the configuration again from its layers (on SIGHUP; only `[cluster]`'s
/// `allowed_peers`, `seeds` and `advertise` take effect while running).
/// What signs this node's policy entries: the relay key when there is one (NIP-11 `self`),
/// else a key made for this run. Nothing trusts that signature (each entry carries the admin's).
fn policy_signing_keys(config: &Config) -> anyhow::Result<parrhesia_engine::Keys> {
    if let Some(keys) = config.relay_key()? {
        return Ok(keys);
    }
    loop {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).context("reading the system's random source")?;
        // One secret in about 2^128 is not a valid key: draw again.
        if let Some(keys) = parrhesia_engine::Keys::from_secret_bytes(secret) {
            return Ok(keys);
        }
    }
}

pub fn run(config: Config, reload: crate::cluster::reload::Load) -> anyhow::Result<()> {
    let open_files_max = match crate::system::raise_open_file_limit() {
        Ok((before, now, hard)) => {
            tracing::info!(before, now, hard, "open file limit (soft raised to hard)");
            usize::try_from(now).unwrap_or(usize::MAX)
        }
        Err(error) => {
            tracing::warn!(%error, "could not raise the open file limit");
            1024
        }
    };
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let shards = if config.shards == 0 { cores } else { config.shards };
    // Every connection is a file; keep some for LMDB, listeners, channels and HTTP requests.
    const RESERVED_FILES: usize = 1024;
    let connections_max = match config.connections_max {
        0 => open_files_max.saturating_sub(RESERVED_FILES).max(1),
        configured => configured,
    };
    let connections_per_shard_max = connections_max.div_ceil(shards);
    let durability = match config.durability {
        DurabilitySetting::Fsync => Durability::Fsync,
        DurabilitySetting::Nosync => Durability::NoSync,
    };
    let node_key = match &config.cluster {
        Some(cluster) => Some(
            parrhesia_net::NodeKey::load(&cluster.node_key_file)
                .with_context(|| format!("loading the node key {}", cluster.node_key_file.display()))?,
        ),
        None => None,
    };
    let options = StoreOptions {
        map_bytes_max: config.map_bytes_max,
        durability,
        // NIP-62 requests naming this relay, or (in a cluster) any URL the cluster serves under.
        relay_urls: config
            .relay_url
            .iter()
            .chain(config.cluster.iter().flat_map(|cluster| &cluster.relay_urls))
            .cloned()
            .collect(),
        node_id: node_key.as_ref().map_or([0; 32], |key| key.public()),
        // Policy entries (NIP-86 changes, this node's and its peers') apply only if signed by one.
        admin_pubkeys: config.admin_keys(),
        search_kinds: Some(config.search_kinds.clone()),
        search_candidates_max: config.search_candidates_max,
        ..StoreOptions::default()
    };
    // Held until this function returns: no tool writes under this relay, no second relay shares
    // the directory.
    let holder = format!("parrhesia relay, pid {}, listening on {}", std::process::id(), config.listen);
    let _lock = DirectoryLock::acquire(&config.data_dir, &holder)?;
    let mut store = Store::open(&config.data_dir, &options)
        .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
    // The policy is what this node's admins decided: entries by keys it trusts now count, those
    // by keys it no longer trusts stop counting (`admin_pubkeys` may have changed).
    store.refold_policy_log(crate::system::unix_now()).context("applying the policy log")?;
    if let Some(cluster) = &config.cluster {
        // Each run of a cluster node numbers its own events in a log of its own, one per class
        // of kinds (see `Store::begin_epoch_with_classes`): a restored store never reuses a
        // position.
        store.begin_epoch_with_classes(cluster.log_classes()?).context("starting this run's epoch")?;
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, shutdown.clone()).context("installing signal handlers")?;
    }
    // SIGHUP asks the cluster executor to reload; without a cluster nothing reloads (and the
    // signal no longer ends the process, as its default would).
    let reload_requested = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, reload_requested.clone())
        .context("installing the SIGHUP handler")?;
    // Who may link and the address advertised: shared by every shard's links and the cluster
    // executor, which replaces them on a reload.
    let terms = match (&config.cluster, &node_key) {
        (Some(cluster), Some(key)) => Some(Arc::new(std::sync::RwLock::new(crate::cluster::transport::Terms {
            admission: crate::cluster::admission(cluster, key.public()),
            advertise: cluster.advertise.clone().unwrap_or_else(|| cluster.listen.clone()),
        }))),
        _ => None,
    };

    let mut to_writer = Vec::new();
    let mut writer_requests = Vec::new();
    let mut writer_commits = Vec::new();
    let mut from_writer = Vec::new();
    for _ in 0..shards {
        let (sender, receiver) = shared_channel::new_bounded(config.writer_queue_events_max);
        to_writer.push(Some(sender));
        writer_requests.push(receiver);
        let (sender, receiver) = shared_channel::new_bounded(config.shard_channel_messages_max);
        writer_commits.push(sender);
        from_writer.push(Some(receiver));
    }
    // peers[from][to]: the ephemeral channel from shard `from` to shard `to`.
    let mut to_peers: Vec<Vec<_>> = (0..shards).map(|_| Vec::new()).collect();
    let mut from_peers: Vec<Vec<_>> = (0..shards).map(|_| Vec::new()).collect();
    for (from, senders) in to_peers.iter_mut().enumerate() {
        for to in (0..shards).filter(|&to| to != from) {
            let (sender, receiver) = shared_channel::new_bounded(config.shard_channel_messages_max);
            senders.push(sender);
            from_peers[to].push(receiver);
        }
    }

    // The cluster executor's channels: replicated batches to the writer and its notices back,
    // and ephemeral events both ways with every shard.
    let mut cluster_writer = None;
    let mut writer_cluster = None;
    let mut cluster_shards = Vec::new();
    let mut shard_clusters: Vec<Option<_>> = Vec::new();
    // And per shard, requests to the links it owns and what they report.
    let mut cluster_links = (Vec::new(), Vec::new());
    let mut shard_links: Vec<Option<_>> = Vec::new();
    if config.cluster.is_some() {
        let (batches_sender, batches_receiver) = shared_channel::new_bounded(CLUSTER_APPLY_QUEUE_BATCHES);
        let (notices_sender, notices_receiver) = shared_channel::new_bounded(config.shard_channel_messages_max);
        cluster_writer = Some((batches_sender, notices_receiver));
        writer_cluster = Some((batches_receiver, notices_sender));
        for _ in 0..shards {
            let (to_cluster, from_shard) = shared_channel::new_bounded(config.shard_channel_messages_max);
            let (to_shard, from_cluster) = shared_channel::new_bounded(config.shard_channel_messages_max);
            cluster_shards.push((to_shard, from_shard));
            shard_clusters.push(Some((to_cluster, from_cluster)));
            let (to_links, from_cluster) = shared_channel::new_bounded(config.shard_channel_messages_max);
            let (to_cluster, from_links) = shared_channel::new_bounded(config.shard_channel_messages_max);
            cluster_links.0.push(to_links);
            cluster_links.1.push(from_links);
            shard_links.push(Some((to_cluster, from_cluster)));
        }
    } else {
        shard_clusters.resize_with(shards, || None);
        shard_links.resize_with(shards, || None);
    }

    let shard_metrics: Vec<Arc<ShardMetrics>> = (0..shards).map(|_| Arc::default()).collect();
    let writer_metrics = Arc::new(WriterMetrics::default());
    let cluster_metrics = config.cluster.as_ref().map(|_| Arc::new(ClusterMetrics::default()));
    let mut mirrors: Vec<Vec<crate::mirror::StreamSetup>> = (0..shards).map(|_| Vec::new()).collect();
    let streams = crate::mirror::streams(&config)?;
    let mirror_metrics = streams.iter().map(|stream| stream.metrics.clone()).collect();
    for (index, stream) in streams.into_iter().enumerate() {
        mirrors[crate::mirror::shard_for(index, shards)].push(stream);
    }
    let metrics_page = Arc::new(Metrics::new(
        shard_metrics.clone(),
        writer_metrics.clone(),
        cluster_metrics.clone(),
        mirror_metrics,
        store.clone(),
    ));

    let startup = Arc::new(StartupSteps::new(shards));
    let policy = Arc::new(store.policy().context("reading the operator's policy (NIP-86)")?);
    let writer_setup = WriterSetup {
        startup: startup.clone(),
        store: store.clone(),
        requests: writer_requests,
        commits: writer_commits,
        batch_events_max: config.writer_batch_events_max,
        flush_interval: (durability == Durability::NoSync).then(|| Duration::from_millis(config.flush_interval_ms)),
        sweep_interval: Duration::from_secs(config.expiration_sweep_interval_seconds.max(1)),
        retention: config.retention().expect("validated when the configuration loaded"),
        retention_interval: Duration::from_secs(config.retention_interval_seconds),
        store_budget: (config.store_bytes_max > 0)
            .then(|| (config.store_bytes_max, config.store_bytes_max / 100 * config.store_bytes_low_water_percent)),
        cluster: writer_cluster,
        metrics: writer_metrics,
        management_auth_window_seconds: config.management_auth_window_seconds,
        policy: (*policy).clone(),
        policy_keys: policy_signing_keys(&config)?,
        node: node_key.as_ref().map_or([0; 32], |key| key.public()),
    };
    let writer = executor(Placement::Unbound, "writer")
        .spawn(move || crate::writer::run(writer_setup))
        .map_err(|error| anyhow::anyhow!("starting the writer executor: {error}"))?;

    let cpus: Vec<usize> =
        CpuSet::online().map(|set| set.into_iter().map(|location| location.cpu).collect()).unwrap_or_default();
    let relay_info = crate::relay_info::relay_info(&config);
    let policy_generations: Arc<[std::sync::atomic::AtomicU64]> =
        (0..shards).map(|_| std::sync::atomic::AtomicU64::new(0)).collect();
    let (bound_sender, bound_receiver) = std::sync::mpsc::channel();
    let mut handles = Vec::new();
    for (index, (peers_out, peers_in)) in to_peers.into_iter().zip(from_peers).enumerate() {
        let setup = ShardSetup {
            index,
            config: config.clone(),
            store: store.clone(),
            relay_info: relay_info.clone(),
            policy: policy.clone(),
            policy_generations: policy_generations.clone(),
            to_writer: to_writer[index].take().expect("one sender per shard"),
            from_writer: from_writer[index].take().expect("one receiver per shard"),
            to_peers: peers_out,
            from_peers: peers_in,
            connections_max: connections_per_shard_max,
            shards,
            shutdown: shutdown.clone(),
            bound: bound_sender.clone(),
            startup: startup.clone(),
            cluster: shard_clusters[index].take(),
            links: match (shard_links[index].take(), &config.cluster, &node_key, &cluster_metrics, &terms) {
                (Some((to_cluster, from_cluster)), Some(cluster), Some(key), Some(counters), Some(terms)) => {
                    Some(crate::cluster::link::LinksSetup {
                        shard: index,
                        shards,
                        key: key.clone(),
                        terms: terms.clone(),
                        settings: crate::cluster::shared_settings(&config),
                        encryption: match cluster.link_encryption {
                            crate::config::LinkEncryption::Required => {
                                parrhesia_net::cluster::secure::Encryption::Required
                            }
                            crate::config::LinkEncryption::Off => parrhesia_net::cluster::secure::Encryption::Off,
                        },
                        listen: cluster.listen.clone(),
                        store: store.clone(),
                        limits: config.limits(),
                        verify_replicated: cluster.verify_replicated,
                        frame_bytes_max: cluster.link_frame_bytes_max,
                        queue_bytes_max: cluster.link_queue_bytes_max,
                        classes: crate::cluster::link_classes(cluster).classes,
                        counters: counters.clone(),
                        shard_counters: shard_metrics[index].clone(),
                        to_cluster,
                        from_cluster,
                    })
                }
                _ => None,
            },
            metrics: shard_metrics[index].clone(),
            metrics_page: metrics_page.clone(),
            mirrors: std::mem::take(&mut mirrors[index]),
        };
        // One shard per core, pinned, when they fit; otherwise let the kernel place them.
        let placement = if shards <= cpus.len() { Placement::Fixed(cpus[index]) } else { Placement::Unbound };
        let handle = executor(placement, &format!("shard-{index}"))
            .spawn(move || crate::serve::run(setup))
            .map_err(|error| anyhow::anyhow!("starting shard {index}: {error}"))?;
        handles.push(handle);
    }
    let mut listeners = shards;
    let cluster = match (cluster_writer, node_key, &config.cluster, cluster_metrics, terms) {
        (Some((to_writer, from_writer)), Some(key), Some(cluster_config), Some(metrics), Some(terms)) => {
            let (to_shards, from_shards) = cluster_shards.into_iter().unzip();
            let setup = crate::cluster::ClusterSetup {
                config: anti_entropy_within_retention(cluster_config, &config),
                key,
                store: store.clone(),
                limits: config.limits(),
                to_writer,
                from_writer,
                to_shards,
                from_shards,
                to_links: std::mem::take(&mut cluster_links.0),
                from_links: std::mem::take(&mut cluster_links.1),
                shutdown: shutdown.clone(),
                bound: bound_sender.clone(),
                metrics,
                terms,
                reload: crate::cluster::reload::Reload { requested: reload_requested.clone(), load: reload },
                settings: crate::cluster::shared_settings(&config),
            };
            listeners += 1;
            let handle = executor(Placement::Unbound, "cluster")
                .spawn(move || crate::cluster::run(setup))
                .map_err(|error| anyhow::anyhow!("starting the cluster executor: {error}"))?;
            Some(handle)
        }
        _ => None,
    };
    drop(bound_sender);
    let deadline = std::time::Instant::now() + STARTUP_STALL_TIMEOUT;
    for _ in 0..listeners {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match bound_receiver.recv_timeout(left) {
            Ok(Ok(())) => {}
            Ok(Err(message)) => bail!(message),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => bail!(
                "startup stalled: after {} s not every shard listens; channel ends not connected: {:?}",
                STARTUP_STALL_TIMEOUT.as_secs(),
                startup.pending()
            ),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                bail!("a shard exited before binding its listener")
            }
        }
    }
    eprintln!(
        "parrhesia {} listening on {} shards={} connections_max={} data_dir={} durability={:?}{}",
        env!("CARGO_PKG_VERSION"),
        config.listen,
        shards,
        connections_max,
        config.data_dir.display(),
        config.durability,
        config.cluster.as_ref().map_or(String::new(), |cluster| format!(
            " cluster={} node={} links={} link_encryption={}",
            cluster.cluster_id,
            parrhesia_net::identity_hex(store.node_id()),
            cluster.listen,
            match cluster.link_encryption {
                crate::config::LinkEncryption::Required => "required",
                crate::config::LinkEncryption::Off => "OFF (frames in the clear: for measuring only)",
            }
        ))
    );
    for handle in handles {
        handle.join().map_err(|error| anyhow::anyhow!("a shard failed: {error}"))?;
    }
    let report = writer.join().map_err(|error| anyhow::anyhow!("the writer failed: {error}"))?;
    if let Some(cluster) = cluster {
        cluster.join().map_err(|error| anyhow::anyhow!("the cluster executor failed: {error}"))?;
    }
    eprintln!(
        "parrhesia stopped: {} events written in {} group commits this run (versions replaced since included); store flushed",
        report.events_stored, report.commits
    );
    Ok(())
}

/// The cluster's settings with anti-entropy's window no longer than the shortest retention
/// age: a peer that has not swept yet must not hand back, by reconciliation, what this node's
/// retention just removed (replication itself never re-sends a position already pulled).
fn anti_entropy_within_retention(
    cluster: &crate::config::ClusterConfig,
    config: &Config,
) -> crate::config::ClusterConfig {
    let mut cluster = cluster.clone();
    let shortest = config.retention().ok().and_then(|retention| retention.shortest_age());
    if let Some(shortest) = shortest.filter(|shortest| *shortest < cluster.anti_entropy_window_seconds) {
        tracing::warn!(
            window_seconds = shortest,
            configured = cluster.anti_entropy_window_seconds,
            "anti-entropy reconciles no further back than the shortest retention age, for every kind"
        );
        cluster.anti_entropy_window_seconds = shortest;
    }
    cluster
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anti_entropy_reaches_no_further_back_than_the_shortest_retention_age() {
        let set = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
        };
        let cluster = set(&[
            ("cluster.node_key_file", "/k"),
            ("cluster.listen", "127.0.0.1:1"),
            ("cluster.cluster_id", "c"),
            ("cluster.anti_entropy_window_seconds", "86400"),
        ]);
        let load = |extra: &[(&str, &str)]| {
            let flags = [cluster.clone(), set(extra)].concat();
            let config = Config::load(None, Vec::new(), &flags).unwrap();
            anti_entropy_within_retention(config.cluster.as_ref().unwrap(), &config).anti_entropy_window_seconds
        };
        assert_eq!(load(&[]), 86400, "no retention: as configured");
        assert_eq!(load(&[("retention_max_age_seconds", "7200")]), 7200);
        assert_eq!(load(&[("retention_max_age_seconds", "900000"), ("retention_kinds", "7:600")]), 600);
        assert_eq!(load(&[("retention_max_age_seconds", "900000")]), 86400, "a longer age leaves it");
    }
}
