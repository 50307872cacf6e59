//! A shard executor's tasks: connect its channel ends, bind its listeners (clients, cluster
//! links, metrics), build its state (`crate::shard`), then accept connections, take commits and
//! peers' events, tick once a second, and on shutdown stop in order.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use glommio::channels::shared_channel::{SharedReceiver, SharedSender};
use glommio::net::TcpListener;
use parrhesia_engine::policy::Policy;
use parrhesia_storage::Store;

use crate::client::connection::Connection;
use crate::config::Config;
use crate::executor::with_pulse;
use crate::messages::{Commit, Ephemeral, ToCluster, WriterRequest};
use crate::metrics::{Metrics, ShardMetrics};
use crate::shard::{Parts, Shard};
use crate::startup::{StartupSteps, Step};

/// Everything a shard is started with.
pub struct ShardSetup {
    pub index: usize,
    pub config: Config,
    pub store: Store,
    /// The NIP-11 document as configured, and the operator's policy as stored at start.
    pub relay_info: parrhesia_net::RelayInfo,
    pub policy: Arc<Policy>,
    /// The policy generation each shard has taken (each shard writes its own).
    pub policy_generations: Arc<[std::sync::atomic::AtomicU64]>,
    pub to_writer: SharedSender<WriterRequest>,
    pub from_writer: SharedReceiver<Commit>,
    /// To every other shard, and from every other shard.
    pub to_peers: Vec<SharedSender<Ephemeral>>,
    pub from_peers: Vec<SharedReceiver<Ephemeral>>,
    pub connections_max: usize,
    /// How many shards the node runs (node-wide rate limits are split among them).
    pub shards: usize,
    pub shutdown: Arc<AtomicBool>,
    /// Told once the listener is bound (or failed to bind).
    pub bound: std::sync::mpsc::Sender<Result<(), String>>,
    pub startup: Arc<StartupSteps>,
    /// With a cluster: ephemeral events to the cluster executor (for peers) and from it,
    /// and this shard's subscription interest changes (the node's summary).
    pub cluster: Option<(SharedSender<ToCluster>, SharedReceiver<Ephemeral>)>,
    /// With a cluster: what this shard needs to accept, dial and run links to peers.
    pub links: Option<crate::cluster::link::LinksSetup>,
    /// This shard's metrics, and the node's for rendering `/metrics`.
    pub metrics: Arc<ShardMetrics>,
    pub metrics_page: Arc<Metrics>,
    /// The mirror streams this shard runs (`crate::mirror::shard_for`).
    pub mirrors: Vec<crate::mirror::StreamSetup>,
}

/// Runs a shard until shutdown completes.
pub async fn run(setup: ShardSetup) {
    // A shared channel's `connect` waits for the other end: connect every receiving end in its
    // own task first, so shards connecting to each other cannot wait on each other in a cycle.
    let (index, startup) = (setup.index, setup.startup.clone());
    let from_writer = glommio::spawn_local({
        let startup = startup.clone();
        async move {
            let receiver = with_pulse(setup.from_writer.connect()).await;
            startup.mark(Step::ShardFromWriter(index));
            receiver
        }
    });
    // Peer channels are listed in shard order, skipping this shard.
    let peers = (0..setup.to_peers.len() + 1).filter(|&other| other != index);
    let from_peers: Vec<_> = setup
        .from_peers
        .into_iter()
        .zip(peers.clone())
        .map(|(receiver, from)| {
            let startup = startup.clone();
            glommio::spawn_local(async move {
                let receiver = with_pulse(receiver.connect()).await;
                startup.mark(Step::ShardFromPeer { from, to: index });
                receiver
            })
        })
        .collect();
    let to_writer = Rc::new(with_pulse(setup.to_writer.connect()).await);
    startup.mark(Step::ShardToWriter(index));
    let mut to_peers = Vec::new();
    for (peer, to) in setup.to_peers.into_iter().zip(peers) {
        to_peers.push(Rc::new(with_pulse(peer.connect()).await));
        startup.mark(Step::ShardToPeer { from: index, to });
    }
    let from_writer = from_writer.await;
    let listener = match TcpListener::bind(setup.config.listen.as_str()) {
        Ok(listener) => listener,
        Err(error) => {
            let _ =
                setup.bound.send(Err(format!("shard {} cannot bind {}: {error}", setup.index, setup.config.listen)));
            return;
        }
    };
    // With a cluster, every shard accepts links on its port, as clients on theirs.
    let links_listener = match setup.links.as_ref().map(|links| (TcpListener::bind(links.listen.as_str()), links)) {
        Some((Ok(listener), _)) => Some(listener),
        Some((Err(error), links)) => {
            let _ = setup.bound.send(Err(format!(
                "shard {} cannot bind the cluster's link address {}: {error}",
                setup.index, links.listen
            )));
            return;
        }
        None => None,
    };
    // The metrics listener, if any, is shard 0's (a scrape is rare and cheap).
    let metrics_listener = match setup.config.metrics_listen.as_deref().filter(|_| setup.index == 0) {
        Some(address) => match TcpListener::bind(address) {
            Ok(listener) => Some(listener),
            Err(error) => {
                let _ = setup.bound.send(Err(format!("cannot bind the metrics listener {address}: {error}")));
                return;
            }
        },
        None => None,
    };
    let _ = setup.bound.send(Ok(()));
    let parts = Parts {
        index: setup.index,
        connections_max: setup.connections_max,
        config: setup.config,
        store: setup.store,
        relay_info: setup.relay_info,
        policy: setup.policy,
        policy_generations: setup.policy_generations,
        shards: setup.shards,
        to_writer,
        to_peers,
        metrics: setup.metrics,
        metrics_page: setup.metrics_page,
    };
    let shard = Rc::new(Shard::new(parts));
    // Events committed before this shard started are in the store: scans find them.
    shard.last_seq_seen.set(shard.store.last_seq().unwrap_or(0));
    shard.undurable.replace(crate::undurable::Undurable::new(shard.last_seq_seen.get()));
    let commits = glommio::spawn_local({
        let shard = shard.clone();
        async move {
            while let Some(commit) = from_writer.recv().await {
                shard.on_commit(commit);
            }
        }
    });
    let mut peer_tasks = Vec::new();
    for receiver in from_peers {
        let shard = shard.clone();
        peer_tasks.push(glommio::spawn_local(async move {
            let receiver = receiver.await;
            while let Some(message) = receiver.recv().await {
                shard.fan_out(&message.event, None);
            }
        }));
    }
    // The cluster's ends connect in the background (the cluster executor may start after this
    // shard). Its receiving task is dropped at shutdown, not awaited: the cluster executor
    // stops after the shards.
    let cluster_task = setup.cluster.map(|(to_cluster, from_cluster)| {
        shard.subscriptions.borrow_mut().track_interest();
        let shard_for_sender = shard.clone();
        glommio::spawn_local(async move {
            let sender = Rc::new(with_pulse(to_cluster.connect()).await);
            shard_for_sender.connect_cluster(sender.clone());
            shard_for_sender.forward_interest(&sender).await;
        })
        .detach();
        let shard = shard.clone();
        glommio::spawn_local(async move {
            let receiver = with_pulse(from_cluster.connect()).await;
            while let Some(message) = receiver.recv().await {
                shard.fan_out(&message.event, None);
            }
        })
    });
    let links = setup.links.zip(links_listener).map(|(links, listener)| {
        let (links, to_cluster, from_cluster) = crate::cluster::link::Links::new(links);
        let task = glommio::spawn_local(links.clone().run(listener, to_cluster, from_cluster));
        (links, task)
    });
    let ticker = glommio::spawn_local(tick(shard.clone(), setup.shutdown));
    // Detached, not awaited at shutdown: a probe in flight ends with its timeout.
    monitor_task(&shard, &listener);
    // Detached too: each stream ends when the shard stops.
    crate::mirror::start(&shard, setup.mirrors);
    let metrics_task = metrics_listener.map(|listener| glommio::spawn_local(metrics_loop(shard.clone(), listener)));
    accept_loop(&shard, &listener).await;
    if let Some(task) = metrics_task {
        task.await;
    }
    drop(listener);
    if let Some((links, task)) = links {
        links.stop();
        task.await;
    }
    ticker.await;
    // Stop taking events; the writer commits what it holds and answers before it closes.
    shard.stop_sending();
    commits.await;
    for task in peer_tasks {
        task.await;
    }
    drop(cluster_task);
    let connections: Vec<Rc<Connection>> = shard.connections.borrow().values().cloned().collect();
    for connection in &connections {
        connection.close(1001, "relay shutting down", crate::metrics::CloseReason::Shutdown);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while !shard.connections.borrow().is_empty() && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
}

/// NIP-66 self-monitoring, on shard 0 when configured (the configuration checked that the
/// relay key and URL are set).
fn monitor_task(shard: &Rc<Shard>, listener: &TcpListener) {
    let interval = shard.config.monitor_interval_seconds;
    if shard.index != 0 || interval == 0 {
        return;
    }
    let (Some(keys), Some(url), Ok(mut local)) =
        (shard.config.relay_key().ok().flatten(), shard.config.relay_url.clone(), listener.local_addr())
    else {
        return;
    };
    if local.ip().is_unspecified() {
        local.set_ip(if local.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let run = crate::monitor::run(shard.clone(), keys, url, local, std::time::Duration::from_secs(interval));
    glommio::spawn_local(run).detach();
}

async fn accept_loop(shard: &Rc<Shard>, listener: &TcpListener) {
    let mut last_warning: Option<Instant> = None;
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            shard.stop.notified().await;
            None
        })
        .await;
        let Some(accepted) = accepted else { break };
        match accepted {
            Ok(stream) if shard.connections.borrow().len() >= shard.connections_max => {
                // At this shard's share of the connection limit: a clean, counted refusal.
                shard.metrics.connections_refused.inc();
                glommio::spawn_local(crate::client::front::refuse(stream)).detach();
            }
            Ok(stream) => {
                let shard = shard.clone();
                glommio::spawn_local(async move { crate::client::front::serve(shard, stream).await }).detach();
            }
            Err(error) => {
                // Out of file descriptors, mostly. Count it, say so at most once a second, and
                // back off so a storm of waiting clients does not spin this shard.
                shard.metrics.accept_failures.inc();
                let failures = shard.metrics.accept_failures.get();
                if last_warning.is_none_or(|at: Instant| at.elapsed() >= Duration::from_secs(1)) {
                    tracing::warn!(shard = shard.index, %error, failures, "accept failed");
                    last_warning = Some(Instant::now());
                }
                glommio::timer::sleep(Duration::from_millis(50)).await;
            }
        }
        if shard.stopping.get() {
            break;
        }
    }
}

/// Accepts scrapes on the metrics listener until the shard stops.
async fn metrics_loop(shard: Rc<Shard>, listener: TcpListener) {
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            shard.stop.notified().await;
            None
        })
        .await;
        match accepted {
            None => return,
            Some(Ok(stream)) => {
                glommio::spawn_local(crate::client::front::serve_metrics(shard.clone(), stream)).detach();
            }
            // Out of descriptors: the relay's own accept loop reports it; wait and go on.
            Some(Err(_)) => glommio::timer::sleep(Duration::from_millis(50)).await,
        }
        if shard.stopping.get() {
            return;
        }
    }
}

/// Once a second: connection liveness; and the shutdown flag set by the signal handler.
async fn tick(shard: Rc<Shard>, shutdown: Arc<AtomicBool>) {
    let mut last_check = Instant::now();
    loop {
        glommio::timer::sleep(Duration::from_millis(50)).await;
        if shutdown.load(Ordering::Relaxed) {
            shard.stopping.set(true);
            shard.stop.notify_all();
            return;
        }
        if last_check.elapsed() >= Duration::from_secs(1) {
            shard.check_connections();
            last_check = Instant::now();
        }
    }
}
