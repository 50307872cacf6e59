//! A stream's catch-up, before its live subscription: NIP-77 negentropy over the filter from
//! `since` (this relay's items against the remote's), then the events only the remote holds
//! fetched by id; a remote that does not speak NIP-77 (or refuses the reconciliation: too many
//! items, AUTH) is walked back by REQ pages instead (`parrhesia_engine::mirror::PageWalk`).

use std::collections::{BTreeMap, HashSet};

use negentropy::{Id, Negentropy};
use parrhesia_engine::RelayMessage;
use parrhesia_engine::mirror::{self as plan, IDS_PER_REQ, PageWalk};

use super::up::RemoteSet;
use super::{Ended, Socket, Stream, refused_by_remote, send};
use crate::client::reconciliation::{Refusal, items};

/// The largest negentropy message the stream sends (before hex); the remote splits the rest
/// over more rounds.
const MESSAGE_BYTES_MAX: u64 = 256 * 1024;
/// Rounds of one reconciliation, at most (a million items take a few dozen).
const RECONCILE_ROUNDS_MAX: u64 = 10_000;
/// REQs by id in flight at once while fetching (under a relay's usual subscriptions bound).
const FETCHES_IN_FLIGHT: usize = 4;

/// Ids of a page walk kept for the up direction, at most (32 MiB); past it, what the remote
/// holds is not known and the up direction offers everything (the remote answers duplicates).
const HOLDS_MAX: usize = 1 << 20;

/// Catches up from `since`; returns, when the stream also publishes up, what the remote
/// holds or lacks of that window.
pub(super) async fn run(stream: &Stream, socket: &mut Socket, since: u64) -> Result<Option<RemoteSet>, Ended> {
    let metrics = &stream.setup.metrics;
    let up = stream.setup.direction.up();
    match reconcile(stream, socket, since).await? {
        Some((have, need)) => {
            metrics.catch_ups_negentropy.inc();
            metrics.catch_up_ids_left.set(i64::try_from(need.len()).unwrap_or(i64::MAX));
            fetch(stream, socket, &need).await?;
            Ok(up.then(|| RemoteSet::Lacks(have.into_iter().collect())))
        }
        None => {
            metrics.catch_ups_pages.inc();
            let holds = pages(stream, socket, since).await?;
            Ok(holds.filter(|_| up).map(RemoteSet::Holds))
        }
    }
}

/// The ids only this relay holds and those only the remote holds, or `None` if it does not
/// reconcile (then pages are used).
async fn reconcile(stream: &Stream, socket: &mut Socket, since: u64) -> Result<Option<IdSets>, Ended> {
    let shard = &stream.shard;
    let filter = plan::narrowed(&stream.setup.filter, since, None, None);
    // The relay's side as an unauthenticated reader sees it: what the remote would show us.
    let access = parrhesia_engine::ReadAccess::new(shard.read_restricted.clone(), Vec::new());
    let budget = crate::client::req::budget(shard);
    let local = match items(&shard.store, &filter, &access, shard.config.negentropy_items_max, budget, || {
        !shard.stopping.get()
    })
    .await
    {
        Ok((local, _)) => local,
        Err(Refusal::TooMany(max)) => {
            tracing::info!(mirror = %stream.setup.mirror, max, "more local events than negentropy_items_max: catching up by pages");
            return Ok(None);
        }
        Err(Refusal::Store(error)) => {
            return Err(Ended::Failed(anyhow::Error::new(error).context("reading the store")));
        }
    };
    let mut negentropy = Negentropy::owned(local, MESSAGE_BYTES_MAX).map_err(negentropy_error)?;
    let initial = negentropy.initiate().map_err(negentropy_error)?;
    let hex = parrhesia_engine::hex::encode;
    send(socket, format!(r#"["NEG-OPEN","mirror-neg",{},"{}"]"#, filter.to_json(), hex(&initial))).await?;
    let (mut have, mut need): (Vec<Id>, Vec<Id>) = (Vec::new(), Vec::new());
    let mut first = true;
    // What a remote may make this side hold: ids at most as many as a session may cover, and
    // rounds (a remote can keep an exchange going by answering with ranges that never match).
    let ids_max = shard.config.negentropy_items_max;
    let mut rounds = 0u64;
    loop {
        let message = match stream.answer(socket).await? {
            RelayMessage::NegMsg { subscription_id, message } if subscription_id == "mirror-neg" => message,
            // A remote without NIP-77 says so with a NOTICE (most relays) or a NEG-ERR.
            RelayMessage::NegErr { message, .. } | RelayMessage::Notice { message } if first => {
                tracing::info!(mirror = %stream.setup.mirror, url = %stream.setup.url, %message,
                    "the remote does not reconcile (NIP-77): catching up by pages");
                send(socket, r#"["NEG-CLOSE","mirror-neg"]"#.to_string()).await?;
                return Ok(None);
            }
            RelayMessage::NegErr { message, .. } => return Err(refused_by_remote("the reconciliation", &message)),
            _ => continue,
        };
        first = false;
        rounds += 1;
        let next = negentropy.reconcile_with_ids(&message, &mut have, &mut need).map_err(negentropy_error)?;
        if have.len() + need.len() > ids_max || rounds > RECONCILE_ROUNDS_MAX {
            let why = format!("more than {ids_max} ids or {RECONCILE_ROUNDS_MAX} rounds");
            return Err(refused_by_remote("a bounded reconciliation", &why));
        }
        match next {
            Some(next) => send(socket, format!(r#"["NEG-MSG","mirror-neg","{}"]"#, hex(&next))).await?,
            None => break,
        }
    }
    send(socket, r#"["NEG-CLOSE","mirror-neg"]"#.to_string()).await?;
    // A remote may list an id twice: each is fetched (and published) once.
    let bytes = |ids: Vec<Id>| {
        let unique: std::collections::BTreeSet<[u8; 32]> = ids.into_iter().map(|id| id.to_bytes()).collect();
        unique.into_iter().collect()
    };
    Ok(Some((bytes(have), bytes(need))))
}

/// (have, need): ids only here, ids only there.
type IdSets = (Vec<[u8; 32]>, Vec<[u8; 32]>);

fn negentropy_error(error: negentropy::Error) -> Ended {
    Ended::Failed(anyhow::anyhow!("negentropy: {error}"))
}

/// Fetches `need` by id, `FETCHES_IN_FLIGHT` REQs of `IDS_PER_REQ` at once.
async fn fetch(stream: &Stream, socket: &mut Socket, need: &[[u8; 32]]) -> Result<(), Ended> {
    let chunks: Vec<&[[u8; 32]]> = need.chunks(IDS_PER_REQ).collect();
    // Subscription id -> ids it asked for.
    let mut in_flight: BTreeMap<String, usize> = BTreeMap::new();
    let (mut next, mut answered) = (0, 0);
    let ids_left = &stream.setup.metrics.catch_up_ids_left;
    while next < chunks.len() || !in_flight.is_empty() {
        while next < chunks.len() && in_flight.len() < FETCHES_IN_FLIGHT {
            let filter =
                parrhesia_engine::Filter { ids: Some(chunks[next].to_vec()), ..parrhesia_engine::Filter::default() };
            let subscription = format!("mirror-fetch-{next}");
            send(socket, plan::request("REQ", &subscription, &[filter])).await?;
            in_flight.insert(subscription, chunks[next].len());
            next += 1;
        }
        match stream.answer(socket).await? {
            RelayMessage::Event { subscription_id, event } if in_flight.contains_key(subscription_id.as_ref()) => {
                stream.setup.metrics.catch_up_events.inc();
                stream.take(&event).await?;
            }
            RelayMessage::Eose { subscription_id } => {
                if let Some(asked) = in_flight.remove(subscription_id.as_ref()) {
                    answered += asked;
                    ids_left.set(i64::try_from(need.len() - answered).unwrap_or(i64::MAX));
                    send(socket, plan::close(&subscription_id)).await?;
                }
            }
            RelayMessage::Closed { subscription_id, message } if in_flight.contains_key(subscription_id.as_ref()) => {
                return Err(refused_by_remote("a fetch by id", &message));
            }
            _ => {}
        }
    }
    ids_left.set(0);
    Ok(())
}

/// Walks the filter back from now to `since` by REQ pages; returns the ids the remote sent
/// (`None` past `HOLDS_MAX`).
async fn pages(stream: &Stream, socket: &mut Socket, since: u64) -> Result<Option<HashSet<[u8; 32]>>, Ended> {
    let mut walk = PageWalk::new(&stream.setup.filter, since);
    let mut holds = Some(HashSet::new());
    while let Some(page) = walk.next_page() {
        tracing::debug!(mirror = %stream.setup.mirror, page = walk.pages(), until = ?page.until, "catch-up page");
        send(socket, plan::request("REQ", "mirror-page", &[page])).await?;
        loop {
            match stream.answer(socket).await? {
                RelayMessage::Event { subscription_id, event } if subscription_id == "mirror-page" => {
                    stream.setup.metrics.catch_up_events.inc();
                    if let Some((id, created_at)) = stream.take(&event).await? {
                        walk.on_event(created_at);
                        if let Some(ids) = &mut holds {
                            ids.insert(id);
                        }
                        holds = holds.filter(|ids| ids.len() <= HOLDS_MAX);
                    }
                }
                RelayMessage::Eose { subscription_id } if subscription_id == "mirror-page" => break,
                RelayMessage::Closed { subscription_id, message } if subscription_id == "mirror-page" => {
                    return Err(refused_by_remote("a catch-up page", &message));
                }
                _ => {}
            }
        }
        send(socket, plan::close("mirror-page")).await?;
        walk.on_end_of_page();
        let left = walk.seconds_left().unwrap_or(0);
        stream.setup.metrics.catch_up_seconds_left.set(i64::try_from(left).unwrap_or(i64::MAX));
    }
    stream.setup.metrics.catch_up_seconds_left.set(0);
    Ok(holds)
}
