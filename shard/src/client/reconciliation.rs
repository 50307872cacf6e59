//! NIP-77 state below the shard: a connection's negentropy sessions, their idle expiry, and
//! the budgeted scan that builds a reconciliation's items (NIP-77 sessions and the cluster's
//! anti-entropy both build their side with it).

use std::time::{Duration, Instant};

use negentropy::{Id, Negentropy, NegentropyStorageVector};
use parrhesia_engine::{Filter, RelayMessage};
use parrhesia_storage::{ScanBudget, Store};

use super::connection::Connection;

/// One reconciliation in progress: the relay's side, over a sealed snapshot of the items.
pub struct Session {
    pub(super) negentropy: Negentropy<'static, NegentropyStorageVector>,
    pub(super) last_used: Instant,
}

/// Why the items for a reconciliation could not be built.
pub enum Refusal {
    TooMany(usize),
    Store(parrhesia_storage::StorageError),
}

/// Ends sessions idle for `timeout` (the connection's once-a-second check), telling the client.
pub fn expire(connection: &Connection, now: Instant, timeout: Duration) {
    let idle: Vec<String> = connection
        .negentropy
        .borrow()
        .iter()
        .filter(|(_, session)| now.duration_since(session.last_used) >= timeout)
        .map(|(id, _)| id.clone())
        .collect();
    for id in idle {
        connection.negentropy.borrow_mut().remove(&id);
        error(connection, id, "closed: negentropy session idle for too long".into());
    }
}

/// The (created_at, id) items of the events matching `filter` (its limit ignored) that `access`
/// may read, sealed:
/// scanned in `budget` slices with a yield between, while `keep_going` holds. Refused past
/// `max` items. Also returns how many slices it took. (NIP-77 sessions and the cluster's
/// anti-entropy both build their side this way.)
pub async fn items(
    store: &Store,
    filter: &Filter,
    access: &parrhesia_engine::ReadAccess,
    max: usize,
    budget: ScanBudget,
    keep_going: impl Fn() -> bool,
) -> Result<(NegentropyStorageVector, u64), Refusal> {
    let mut storage = NegentropyStorageVector::new();
    let mut scan = store
        .count_scan(std::slice::from_ref(filter), crate::system::unix_now())
        .map_err(Refusal::Store)?
        .with_access(access);
    let (mut items, mut slices) = (0, 0);
    while !scan.is_done() && keep_going() {
        scan.step(store, budget, |record| {
            items += 1;
            if items <= max {
                // Inserting into unsealed storage cannot fail.
                let _ = storage.insert(record.header.created_at, Id::from_byte_array(record.header.id));
            }
        })
        .map_err(Refusal::Store)?;
        slices += 1;
        if items > max {
            return Err(Refusal::TooMany(max));
        }
        glommio::yield_if_needed().await;
    }
    storage.seal().expect("sealed once");
    Ok((storage, slices))
}

pub(super) fn error(connection: &Connection, subscription_id: String, message: String) {
    connection.reply(RelayMessage::NegErr { subscription_id: subscription_id.into(), message: message.into() });
}
