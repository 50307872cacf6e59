//! Peers changed while the node runs: on SIGHUP the cluster executor loads the configuration
//! again from its layers (the file, the environment, the flags) and applies `[cluster]`'s
//! `allowed_peers`, `seeds` and `advertise`. Links to keys no longer allowed close at once and
//! are refused from then on (handshakes, membership datagrams, their origins' logs); new seeds
//! are dialled at once. Any other key takes effect at the next restart (said in the log).

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Node;
use super::link::CloseCause;
use crate::config::{ClusterConfig, Config};

/// Loads the configuration again, from the layers the node started with.
pub type Load = Box<dyn Fn() -> anyhow::Result<Config> + Send>;

/// A reload asked for by SIGHUP, and how to load.
pub struct Reload {
    pub requested: Arc<AtomicBool>,
    pub load: Load,
}

impl Reload {
    /// Carries out a reload if one was asked for since the last look.
    pub fn check(&self, node: &Rc<Node>) {
        if self.requested.swap(false, Ordering::Relaxed) {
            match (self.load)() {
                Ok(config) => apply(node, config),
                Err(error) => {
                    node.counters.reloads_failed.inc();
                    tracing::warn!("reload failed, the running configuration is kept: {error:#}");
                }
            }
        }
    }
}

/// The keys a reload applies, as they are now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloadable {
    pub allowed_peers: Vec<String>,
    pub seeds: Vec<String>,
    pub advertise: Option<String>,
}

impl Reloadable {
    pub fn of(config: &ClusterConfig) -> Reloadable {
        Reloadable {
            allowed_peers: config.allowed_peers.clone(),
            seeds: config.seeds.clone(),
            advertise: config.advertise.clone(),
        }
    }
}

fn apply(node: &Rc<Node>, config: Config) {
    let Some(new) = config.cluster else {
        node.counters.reloads_failed.inc();
        tracing::warn!("reload: the configuration has no [cluster] now; the running one is kept");
        return;
    };
    let mut others = new.clone();
    let now = node.reloadable.borrow().clone();
    (others.allowed_peers, others.seeds, others.advertise) = (now.allowed_peers, now.seeds, now.advertise);
    if others != node.config {
        tracing::warn!(
            "reload: [cluster] keys other than allowed_peers, seeds and advertise change at the next restart"
        );
    }
    let allowed = new.allowed_peer_keys();
    let advertise = new.advertise.clone().unwrap_or_else(|| new.listen.clone());
    let before: Vec<[u8; 32]> = {
        let mut terms = node.terms.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = std::mem::replace(&mut terms.admission.allowed_peers, allowed.clone());
        terms.advertise = advertise.clone();
        before
    };
    node.membership.borrow_mut().set_allowed(allowed.clone());
    let mut origins = allowed.clone();
    origins.extend([node.me, [0; 32]]);
    node.replicator.borrow_mut().set_origins(origins);
    let refused: Vec<Rc<super::Link>> =
        node.links.borrow().iter().filter(|(peer, _)| !allowed.contains(peer)).map(|(_, link)| link.clone()).collect();
    for link in &refused {
        node.close_link(link, CloseCause::NotAllowed);
    }
    let added = allowed.iter().filter(|key| !before.contains(key)).count();
    let removed = before.iter().filter(|key| !allowed.contains(key)).count();
    node.reloadable.replace(Reloadable::of(&new));
    node.seed_wake.notify_all();
    node.counters.reloads.inc();
    tracing::info!(
        allowed_peers = allowed.len(),
        added,
        removed,
        links_closed = refused.len(),
        seeds = new.seeds.len(),
        %advertise,
        "cluster configuration reloaded"
    );
    super::membership::readvertise(node, advertise);
}
