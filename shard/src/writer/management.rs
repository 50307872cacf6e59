//! NIP-86 calls in the writer: a reused authorization is refused, every call recorded in the
//! audit log, and a change stored as a policy entry (`policy_log`) through the same commit as
//! clients' events, so it replicates with this node's log. Whenever a commit stored a policy
//! entry (this node's or a peer's), the policy is read again and handed to every shard.

use std::collections::HashMap;
use std::sync::Arc;

use glommio::channels::shared_channel::ConnectedSender;
use parrhesia_engine::management::Call;
use parrhesia_engine::policy::Policy;
use parrhesia_engine::{Event, Keys, policy_log};
use parrhesia_storage::{AuditEntry, Store};

use super::{Notices, SpaceWatch, commit, notify_cluster};
use crate::messages::{Commit, ManageAnswer, ManageRequest, StoreRequest, WriterNotice};
use crate::metrics::WriterMetrics;
use crate::system::{unix_now, unix_now_ms};

/// The policy as stored, and the NIP-98 authorizations already taken (node-wide: every call
/// passes here), each kept until it could no longer be valid.
pub(super) struct Management {
    pub(super) policy: Policy,
    /// auth event id -> the Unix time after which it is refused by its age anyway
    taken: HashMap<parrhesia_engine::Id, u64>,
    window_seconds: u64,
    /// Counts the policies handed out since start (the policy every shard started with is 0).
    generation: u64,
    /// Signs this node's policy entries (the relay key, or a key made at start: the entry's
    /// signature proves nothing, the admin's inside it does).
    keys: Keys,
    /// This node's key in the cluster (zeros without one): an entry says where it was made.
    node: [u8; 32],
}

/// Where a commit's results go.
pub(super) struct Outlets<'a> {
    pub(super) shards: &'a [ConnectedSender<Commit>],
    pub(super) notices: &'a Notices,
    pub(super) metrics: &'a WriterMetrics,
    pub(super) space: &'a SpaceWatch,
}

impl Management {
    /// `policy` as the runtime read it at start (the shards started with the same).
    pub(super) fn new(store: &Store, policy: Policy, window_seconds: u64, keys: Keys, node: [u8; 32]) -> Management {
        // Authorizations recorded before a restart stay taken for as long as they are valid:
        // only calls of the last two windows can hold one.
        let now = unix_now();
        let since_ms = now.saturating_sub(2 * window_seconds).saturating_mul(1000);
        let taken = store
            .audit_log(since_ms)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "reading the audit log failed; recent authorizations are not known taken");
                Vec::new()
            })
            .into_iter()
            .map(|entry| (entry.auth_id, entry.unix_ms / 1000 + 2 * window_seconds))
            .filter(|(_, until)| *until >= now)
            .collect();
        Management { policy, taken, window_seconds, generation: 0, keys, node }
    }

    /// Records and answers each call; gives every shard the new policy if one changed it.
    pub(super) async fn serve(&mut self, store: &Store, calls: Vec<(usize, ManageRequest)>, outlets: &Outlets<'_>) {
        let now = unix_now();
        self.taken.retain(|_, until| *until >= now);
        let mut answers: Vec<Vec<(u64, ManageAnswer)>> = vec![Vec::new(); outlets.shards.len()];
        let mut changed = false;
        for (shard, call) in calls {
            let answer = match self.record(store, &call) {
                Err(refused) => refused,
                Ok(()) => match &call.request.call {
                    Call::Change(change) => {
                        let entry = policy_log::entry_event(
                            &self.keys,
                            &call.auth,
                            &call.body,
                            change,
                            &self.node,
                            unix_now_ms(),
                        );
                        let stored = self.store_entry(store, entry, outlets).await;
                        changed |= stored;
                        if stored { ManageAnswer::Done(serde_json::Value::Bool(true), 0) } else { ManageAnswer::Failed }
                    }
                    asked => ManageAnswer::Done(parrhesia_engine::management::result(asked, &self.policy), 0),
                },
            };
            if let Some(answers) = answers.get_mut(shard) {
                answers.push((call.ticket, answer));
            }
        }
        let policy = if changed { self.reload(store) } else { None };
        for (sender, mut answers) in outlets.shards.iter().zip(answers) {
            if policy.is_none() && answers.is_empty() {
                continue;
            }
            // Each caller is answered once every shard holds the policy its call left.
            for (_, answer) in &mut answers {
                if let ManageAnswer::Done(_, generation) = answer {
                    *generation = self.generation;
                }
            }
            let commit = Commit { policy: policy.clone(), answers, ..Commit::stored(Vec::new(), Arc::new([])) };
            let _ = sender.send(commit).await;
        }
    }

    /// After a commit stored policy entries from elsewhere (a peer's log, a repair): the policy
    /// as stored now, to every shard.
    pub(super) async fn refresh(&mut self, store: &Store, shards: &[ConnectedSender<Commit>]) {
        let Some(policy) = self.reload(store) else { return };
        for sender in shards {
            let commit = Commit { policy: Some(policy.clone()), ..Commit::stored(Vec::new(), Arc::new([])) };
            let _ = sender.send(commit).await;
        }
    }

    fn reload(&mut self, store: &Store) -> Option<(u64, Arc<Policy>)> {
        match store.policy() {
            Ok(policy) => {
                self.policy = policy;
                self.generation += 1;
                Some((self.generation, Arc::new(self.policy.clone())))
            }
            Err(error) => {
                tracing::warn!(%error, "reading the policy failed; the shards keep the one they hold");
                None
            }
        }
    }

    /// Refuses a reused authorization; records the call in the audit log and takes its
    /// authorization.
    fn record(&mut self, store: &Store, call: &ManageRequest) -> Result<(), ManageAnswer> {
        let auth_id = *call.auth.id();
        if self.taken.contains_key(&auth_id) {
            return Err(ManageAnswer::Replayed);
        }
        // Taken on another node (its entry replicated here), or before this node's audit window.
        if let Call::Change(change) = &call.request.call {
            match store.holds_authorization(&policy_log::key(change), &auth_id) {
                Ok(false) => {}
                Ok(true) => return Err(ManageAnswer::Replayed),
                Err(error) => {
                    tracing::warn!(%error, "reading the policy entries failed");
                    return Err(ManageAnswer::Failed);
                }
            }
        }
        let audit = AuditEntry {
            unix_ms: unix_now_ms(),
            caller: *call.auth.pubkey(),
            auth_id,
            method: call.request.method.clone(),
            params: serde_json::Value::Array(call.request.params.clone()).to_string(),
        };
        if let Err(error) = store.record_call(&audit) {
            tracing::warn!(%error, method = %call.request.method, "recording a management call failed");
            return Err(ManageAnswer::Failed);
        }
        self.taken.insert(auth_id, call.auth.created_at() + self.window_seconds);
        tracing::info!(method = %call.request.method, caller = %parrhesia_engine::hex::encode(call.auth.pubkey()), "management call");
        Ok(())
    }

    /// Commits one policy entry as a client's event is (numbered in this node's log, fanned
    /// out, the cluster told). Returns whether it was stored.
    async fn store_entry(&self, store: &Store, entry: Event, outlets: &Outlets<'_>) -> bool {
        let request = StoreRequest { ticket: 0, event: entry };
        let stored =
            commit(store, vec![(usize::MAX, request)], outlets.shards, outlets.metrics, &self.policy, outlets.space)
                .await;
        if stored.is_empty() {
            tracing::warn!("storing a policy entry failed (see the writer's log above); the change is not made");
            return false;
        }
        notify_cluster(outlets.notices, WriterNotice::Committed(stored)).await;
        true
    }
}

/// Whether a commit stored a policy entry.
pub(super) fn holds_entry(stored: &[(u64, Event)]) -> bool {
    stored.iter().any(|(_, event)| event.kind() == policy_log::POLICY_ENTRY_KIND)
}
