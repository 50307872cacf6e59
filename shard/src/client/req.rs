//! REQ and COUNT: register the subscription, scan storage in budgeted slices (pausing while the
//! connection's queue is above its high-water mark), send EOSE, catch up from the log on what
//! was committed during the scan, then go live. The scan's snapshot sequence and the shard's
//! last fanned-out sequence make the hand-over exact: nothing missed, nothing sent twice.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use parrhesia_engine::{Filter, ReadAccess, RelayMessage};
use parrhesia_storage::{RecordFilter, ScanBudget};

use crate::client::connection::{Connection, Phase, SubscriptionState};
use crate::shard::Shard;

/// Log entries read per catch-up slice.
const CATCH_UP_EVENTS_MAX: usize = 256;
const CATCH_UP_BYTES_MAX: usize = 1 << 20;

pub fn budget(shard: &Shard) -> ScanBudget {
    ScanBudget {
        candidates_max: shard.config.scan_budget_candidates_max,
        time_max: Some(Duration::from_micros(shard.config.scan_budget_us)),
    }
}

/// Handles `["REQ", id, filters...]`.
pub fn open(shard: &Rc<Shard>, connection: &Rc<Connection>, subscription_id: String, mut filters: Vec<Filter>) {
    // A search finds only the kinds the store indexes; live events are held to the same rule.
    for filter in &mut filters {
        parrhesia_engine::search::confine_to_kinds(filter, shard.store.search_kinds());
    }
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
    let prefix = crate::client::outbound::event_prefix(&subscription_id);
    let state = Rc::new(SubscriptionState {
        generation,
        phase: Cell::new(Phase::Scanning),
        prefix: prefix.clone(),
        prefix_deflated: Default::default(),
    });
    subscriptions.insert(subscription_id.clone(), state.clone());
    drop(subscriptions);
    let delivery = (connection.clone(), state);
    shard.subscriptions.borrow_mut().insert_target(connection.id, &subscription_id, filters.to_vec(), delivery);
    shard.subscriptions_changed();
    let (shard, connection) = (shard.clone(), connection.clone());
    glommio::spawn_local(async move {
        if let Err(message) = serve(&shard, &connection, &subscription_id, generation, &filters, &prefix).await
            && connection.is_current(&subscription_id, generation)
        {
            connection.subscriptions.borrow_mut().remove(&subscription_id);
            shard.subscriptions.borrow_mut().remove(connection.id, &subscription_id);
            shard.subscriptions_changed();
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
    prefix: &[u8],
) -> Result<(), String> {
    let storage_error = |error: parrhesia_storage::StorageError| {
        tracing::warn!(%error, "subscription scan failed");
        "error: the relay could not read its store".to_string()
    };
    let started = std::time::Instant::now();
    let now = crate::system::unix_now();
    let access = connection.read_access(&shard.read_restricted);
    let mut scan =
        shard.store.scan(filters, shard.limits.filter_limit_max, now).map_err(storage_error)?.with_access(&access);
    while !scan.is_done() {
        connection.outbound.wait_below_high_water().await;
        if !connection.is_current(id, generation) {
            return Ok(());
        }
        // Each stored event goes from its LMDB page into the connection's queue, its JSON
        // written from the record (no parse, no allocation per event).
        scan.step(&shard.store, budget(shard), |record| {
            connection.outbound.push_stored(prefix, record.json_len(), |out| record.write_json(out))
        })
        .map_err(storage_error)?;
        shard.metrics.scan_slices.inc();
        glommio::yield_if_needed().await;
    }
    if !connection.is_current(id, generation) {
        return Ok(());
    }
    shard.metrics.req_to_eose.observe_duration(started.elapsed());
    connection.outbound.push_reply(RelayMessage::Eose { subscription_id: id.into() }.encode());
    let filters = filters.iter().map(|filter| RecordFilter::new(filter.clone()).with_access(access.clone())).collect();
    catch_up(shard, connection, id, generation, filters, scan.snapshot_seq(), prefix).await.map_err(storage_error)
}

/// Delivers what was committed between the scan's snapshot and what this shard has fanned out,
/// reading the log (and, for events fanned out before their commit, the shard's copies), then
/// flips the subscription live at exactly that point.
async fn catch_up(
    shard: &Shard,
    connection: &Connection,
    id: &str,
    generation: u64,
    filters: Vec<RecordFilter>,
    snapshot_seq: u64,
    prefix: &[u8],
) -> Result<(), parrhesia_storage::StorageError> {
    let mut after = snapshot_seq;
    loop {
        let target = shard.last_seq_seen.get();
        if after >= target {
            // No await between reading `target` and going live: fanout delivers everything above.
            if let Some(state) = connection.subscriptions.borrow().get(id)
                && state.generation == generation
            {
                let since = shard.undurable.borrow().clock();
                state.phase.set(Phase::Live { after_seq: after, since, snapshot_seq });
            }
            return Ok(());
        }
        let now = crate::system::unix_now();
        let durable = shard.undurable.borrow().durable_seq();
        if after >= durable {
            // The rest was fanned out before its commit: not readable from the store yet.
            for (_, event) in shard.undurable.borrow().between(after, target) {
                let live = event.expiration().is_none_or(|expiration| expiration > now);
                if live && filters.iter().any(|filter| filter.matches_event(event)) {
                    let json = event.json().as_bytes();
                    connection.outbound.push_stored(prefix, json.len(), |out| out.copy_from_slice(json));
                }
            }
            after = target;
            continue;
        }
        let limit = target.min(durable);
        let mut advanced_to = after;
        let last = shard.store.log_since(after, CATCH_UP_EVENTS_MAX, CATCH_UP_BYTES_MAX, |record| {
            if record.seq > limit {
                return;
            }
            advanced_to = record.seq;
            // A record that cannot be read (a damaged store) matches nothing.
            if !record.header.expired(now) && filters.iter().any(|filter| filter.matches(&record) == Some(true)) {
                connection.outbound.push_stored(prefix, record.json_len(), |out| record.write_json(out));
            }
        })?;
        // Nothing left in the log up to `limit` (removed events leave holes): go to it.
        after = if last == after || last > limit { limit } else { advanced_to };
        connection.outbound.wait_below_high_water().await;
        if !connection.is_current(id, generation) {
            return Ok(());
        }
    }
}

/// Handles `["COUNT", id, filters...]` (NIP-45): an exact count, scanned in slices, with the
/// HyperLogLog registers of the counted events' authors when the one filter qualifies; a
/// filter of one kind and one `e`/`p`/`a`/`q` value is answered from the counts and registers
/// the store keeps at write time. Only events the connection may read are counted.
pub fn count(shard: &Rc<Shard>, connection: &Rc<Connection>, subscription_id: String, filters: Vec<Filter>) {
    let (shard, connection) = (shard.clone(), connection.clone());
    glommio::spawn_local(async move {
        let access = connection.read_access(&shard.read_restricted);
        let result = async {
            if filters.iter().any(Filter::matches_everything) {
                return Ok((count_everything(&shard, &connection, &access).await?, None));
            }
            // One kind and one e/p/a/q value (follower and reaction counts): the store keeps
            // the count and the registers, no scan. (Restricted kinds are scanned, so the
            // reader's access applies.)
            if let [filter] = filters.as_slice()
                && let Some((kind, letter, value)) = parrhesia_engine::hll::kept(filter)
                && !access.is_restricted(kind)
            {
                let kept = shard.store.kept_count(kind, letter, value)?;
                let hll = parrhesia_engine::hll::offset_of(letter, value)
                    .map(|offset| parrhesia_engine::hll::Hll::from_registers(offset, kept.registers));
                return Ok((kept.count, hll));
            }
            let mut hll = match filters.as_slice() {
                [filter] => parrhesia_engine::hll::offset_for(filter).map(parrhesia_engine::hll::Hll::new),
                _ => None,
            };
            // Registers need the events' authors; a bare count may read only the index.
            let read_events = hll.is_some();
            let count = count_sliced(&shard, &connection, &filters, &access, read_events, |record| {
                if let Some(hll) = &mut hll {
                    hll.add(&record.header.pubkey);
                }
            })
            .await?;
            Ok::<_, parrhesia_storage::StorageError>((count, hll))
        }
        .await;
        let reply = match result {
            Ok((count, hll)) => RelayMessage::Count {
                subscription_id: subscription_id.into(),
                count,
                approximate: false,
                hll: hll.map(|hll| hll.to_hex().into()),
            },
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

/// Counts the events matching `filters` that `access` may read, in budgeted slices.
async fn count_sliced(
    shard: &Shard,
    connection: &Connection,
    filters: &[Filter],
    access: &ReadAccess,
    read_events: bool,
    mut each: impl FnMut(parrhesia_storage::Record),
) -> Result<u64, parrhesia_storage::StorageError> {
    let now = crate::system::unix_now();
    let scan =
        if read_events { shard.store.count_scan(filters, now)? } else { shard.store.tally_scan(filters, now)? };
    let mut scan = scan.with_access(access);
    let mut count = 0u64;
    while !scan.is_done() && !connection.is_closed() {
        count += scan.step(&shard.store, budget(shard), &mut each)? as u64;
        shard.metrics.scan_slices.inc();
        glommio::yield_if_needed().await;
    }
    Ok(count)
}

/// `COUNT {}`: every stored event from LMDB's own count, less the restricted ones, plus those
/// of them the reader may read (so only restricted events are walked).
async fn count_everything(
    shard: &Shard,
    connection: &Connection,
    access: &ReadAccess,
) -> Result<u64, parrhesia_storage::StorageError> {
    let everything = shard.store.count_everything(crate::system::unix_now())?;
    if access.is_open() {
        return Ok(everything);
    }
    let open = ReadAccess::default();
    let restricted = count_sliced(shard, connection, &[access.restricted_filter()], &open, false, |_| {}).await?;
    let readable = match access.readable_restricted_filters() {
        filters if filters.is_empty() => 0,
        filters => count_sliced(shard, connection, &filters, access, false, |_| {}).await?,
    };
    Ok(everything.saturating_sub(restricted) + readable)
}
