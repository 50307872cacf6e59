//! REQ and COUNT: register the subscription, scan storage in budgeted slices (pausing while the
//! connection's queue is above its high-water mark), send EOSE, catch up from the log on what
//! was committed during the scan, then go live. The scan's snapshot sequence and the shard's
//! last fanned-out sequence make the hand-over exact: nothing missed, nothing sent twice.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use parrhesia_engine::{Event, Filter, RelayMessage};
use parrhesia_storage::{QueryScan, ScanBudget};

use crate::connection::{Connection, Phase, SubscriptionState};
use crate::shard::Shard;

/// Log entries read per catch-up slice.
const CATCH_UP_EVENTS_MAX: usize = 256;
const CATCH_UP_BYTES_MAX: usize = 1 << 20;

fn budget(shard: &Shard) -> ScanBudget {
    ScanBudget {
        candidates_max: shard.config.scan_budget_candidates_max,
        time_max: Some(Duration::from_micros(shard.config.scan_budget_us)),
    }
}

/// Handles `["REQ", id, filters...]`.
pub fn open(shard: &Rc<Shard>, connection: &Rc<Connection>, subscription_id: String, filters: Vec<Filter>) {
    let mut subscriptions = connection.subscriptions.borrow_mut();
    let limit = shard.limits.subscriptions_per_connection_max;
    if !subscriptions.contains_key(&subscription_id) && subscriptions.len() >= limit {
        drop(subscriptions);
        let message = format!("error: too many subscriptions on this connection (the limit is {limit})");
        connection.outbound.push_reply(closed(&subscription_id, message));
        return;
    }
    let generation = shard.next_generation();
    let filters = Rc::new(filters);
    subscriptions.insert(subscription_id.clone(), SubscriptionState { generation, phase: Phase::Scanning });
    drop(subscriptions);
    shard.subscriptions.borrow_mut().insert(connection.id, &subscription_id, filters.to_vec());
    let (shard, connection) = (shard.clone(), connection.clone());
    glommio::spawn_local(async move {
        if let Err(message) = serve(&shard, &connection, &subscription_id, generation, &filters).await
            && connection.is_current(&subscription_id, generation)
        {
            connection.subscriptions.borrow_mut().remove(&subscription_id);
            shard.subscriptions.borrow_mut().remove(connection.id, &subscription_id);
            connection.outbound.push_reply(closed(&subscription_id, message));
        }
    })
    .detach();
}

fn closed(subscription_id: &str, message: String) -> String {
    RelayMessage::Closed { subscription_id: subscription_id.into(), message: message.into() }.encode()
}

/// Scan, EOSE, catch-up, live. `Err` carries the CLOSED reason.
async fn serve(
    shard: &Shard,
    connection: &Connection,
    id: &str,
    generation: u64,
    filters: &[Filter],
) -> Result<(), String> {
    let storage_error = |error: parrhesia_storage::StorageError| {
        tracing::warn!(%error, "subscription scan failed");
        "error: the relay could not read its store".to_string()
    };
    let now = crate::unix_now();
    let mut scan = shard.store.scan(filters, shard.limits.filter_limit_max, now).map_err(storage_error)?;
    let subscription: Arc<str> = Arc::from(id);
    while !scan.is_done() {
        connection.outbound.wait_below_high_water().await;
        if !connection.is_current(id, generation) {
            return Ok(());
        }
        for stored in step(shard, &mut scan).map_err(storage_error)? {
            connection.outbound.push_stored(subscription.clone(), Arc::from(stored.json));
        }
        glommio::yield_if_needed().await;
    }
    if !connection.is_current(id, generation) {
        return Ok(());
    }
    connection.outbound.push_reply(RelayMessage::Eose { subscription_id: id.into() }.encode());
    catch_up(shard, connection, id, generation, filters, scan.snapshot_seq(), &subscription)
        .await
        .map_err(storage_error)
}

fn step(
    shard: &Shard,
    scan: &mut QueryScan,
) -> Result<Vec<parrhesia_storage::StoredEvent>, parrhesia_storage::StorageError> {
    scan.step(&shard.store, budget(shard))
}

/// Delivers what was committed between the scan's snapshot and what this shard has fanned out,
/// reading the log, then flips the subscription live at exactly that point.
async fn catch_up(
    shard: &Shard,
    connection: &Connection,
    id: &str,
    generation: u64,
    filters: &[Filter],
    snapshot_seq: u64,
    subscription: &Arc<str>,
) -> Result<(), parrhesia_storage::StorageError> {
    let mut after = snapshot_seq;
    loop {
        let target = shard.last_seq_seen.get();
        if after >= target {
            // No await between reading `target` and going live: fanout delivers everything above.
            if let Some(state) = connection.subscriptions.borrow_mut().get_mut(id)
                && state.generation == generation
            {
                state.phase = Phase::Live { after_seq: after };
            }
            return Ok(());
        }
        let now = crate::unix_now();
        let entries = shard.store.events_since(after, CATCH_UP_EVENTS_MAX, CATCH_UP_BYTES_MAX)?;
        let mut advanced_to = target;
        for stored in entries {
            if stored.seq > target {
                break;
            }
            advanced_to = stored.seq;
            if stored.header.expired(now) {
                continue;
            }
            let Some(event) = Event::parse_trusted(&stored.json) else { continue };
            if filters.iter().any(|filter| filter.matches(&event)) {
                connection.outbound.push_stored(subscription.clone(), event.json().clone());
            }
        }
        after = advanced_to;
        connection.outbound.wait_below_high_water().await;
        if !connection.is_current(id, generation) {
            return Ok(());
        }
    }
}

/// Handles `["COUNT", id, filters...]` (NIP-45): an exact count, scanned in slices.
pub fn count(shard: &Rc<Shard>, connection: &Rc<Connection>, subscription_id: String, filters: Vec<Filter>) {
    let (shard, connection) = (shard.clone(), connection.clone());
    glommio::spawn_local(async move {
        let result = async {
            let mut scan = shard.store.count_scan(&filters, crate::unix_now())?;
            let mut count = 0u64;
            while !scan.is_done() && !connection.is_closed() {
                count += step(&shard, &mut scan)?.len() as u64;
                glommio::yield_if_needed().await;
            }
            Ok::<u64, parrhesia_storage::StorageError>(count)
        }
        .await;
        let reply = match result {
            Ok(count) => {
                RelayMessage::Count { subscription_id: subscription_id.into(), count, approximate: false, hll: None }
            }
            Err(error) => {
                tracing::warn!(%error, "count failed");
                RelayMessage::Closed {
                    subscription_id: subscription_id.into(),
                    message: "error: the relay could not read its store".into(),
                }
            }
        };
        connection.outbound.push_reply(reply.encode());
    })
    .detach();
}
