//! `sync` and `mirror`: reconcile the local store (the relay stopped) with a remote relay by
//! NIP-77 negentropy, then transfer what is missing: `down` fetches what only the remote holds
//! (by id, checked as an import checks), `up` publishes what only the local store holds.
//! `sync` needs a relay that speaks NIP-77 (ours, strfry); `mirror` catches up with any relay,
//! from a point in time: when the remote does not reconcile, by REQ pages walking back
//! (`parrhesia_engine::mirror::PageWalk`, as the relay's `[[mirror]]` streams do), publishing
//! up what the pages did not bring.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use negentropy::{Id, Negentropy, NegentropyStorageBase, NegentropyStorageVector};
use parrhesia_engine::{Event, Filter, RelayMessage};
use parrhesia_storage::{DirectoryLock, Durability, Outcome, ScanBudget, Store, StoreOptions};

use crate::Done;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    /// Fetch what only the remote relay holds.
    Down,
    /// Publish what only the local store holds.
    Up,
    Both,
}

/// Ids per REQ when fetching (a relay's usual bound on values per filter field), REQs in
/// flight at once (under a relay's usual subscriptions per connection), and events per store
/// transaction.
const IDS_PER_REQ: usize = 100;
const REQS_IN_FLIGHT: usize = 8;
const STORE_BATCH_EVENTS: usize = 5_000;
/// The largest negentropy message this side sends (before hex).
const MESSAGE_BYTES_MAX: u64 = 256 * 1024;

use crate::relay_socket::Socket;

#[derive(Default)]
struct Tally {
    pages: u64,
    have: usize,
    need: usize,
    downloaded: u64,
    uploaded: u64,
    duplicates: u64,
    failed: BTreeMap<String, u64>,
}

/// How a `sync` or `mirror` runs.
pub struct Options {
    pub direction: Direction,
    /// EVENTs in flight at once when publishing.
    pub window: usize,
    /// A write-policy plugin that judges what is downloaded, and the `sourceType` it is told.
    pub plugin: Option<(crate::policy::Plugin, parrhesia_engine::write_policy::SourceType)>,
    /// Only events dated from this (unix seconds); 0: every age.
    pub since: u64,
    /// When the remote does not reconcile: catch up by REQ pages (`mirror`) rather than fail.
    pub pages_when_refused: bool,
    /// PEM certificates trusted for a `wss://` URL instead of the built-in roots.
    pub ca_file: Option<String>,
}

pub fn run(data_dir: &Path, url: &str, filter: &Filter, mut options: Options) -> Result<Done> {
    let direction = options.direction;
    let writes = direction != Direction::Up;
    let _lock = writes
        .then(|| DirectoryLock::acquire(data_dir, &format!("parrhesia-tools sync, pid {}", std::process::id())))
        .transpose()
        .context("sync down writes the store: stop the relay first (or sync from the relay's side)")?;
    let store_options =
        StoreOptions { durability: Durability::NoSync, as_stored_node: true, ..StoreOptions::default() };
    let store =
        if writes { Store::open(data_dir, &store_options) } else { Store::open_existing(data_dir, &store_options) }
            .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let started = Instant::now();
    let filter = &parrhesia_engine::mirror::narrowed(filter, options.since, None, filter.limit);
    let items = local_items(&store, filter)?;
    let local = items.size().unwrap_or(0);
    let mut socket = crate::relay_socket::connect(url, options.ca_file.as_deref())?;
    let bar = crate::progress::counter("negentropy rounds");
    let reconciling = Instant::now();
    let reconciled = reconcile(&mut socket, filter, items, &bar)?;
    bar.finish_and_clear();
    let plugin = options.plugin.as_mut().map(|(plugin, source)| (plugin, *source, url));
    let mut tally = Tally::default();
    match reconciled {
        Ok(Differences { have, need, rounds, bytes_sent, bytes_received }) => {
            eprintln!(
                "reconciled in {:.2} s: {rounds} rounds, {bytes_sent} bytes sent, {bytes_received} received (before hex)",
                reconciling.elapsed().as_secs_f64()
            );
            tally.have = have.len();
            tally.need = need.len();
            if direction != Direction::Up {
                download(&mut socket, &store, &need, &mut tally, plugin)?;
                store.flush().context("flushing the store")?;
            }
            if direction != Direction::Down {
                upload(&mut socket, &store, &have, options.window.max(1), &mut tally)?;
            }
        }
        Err(refusal) if options.pages_when_refused => {
            eprintln!("the relay does not reconcile ({refusal}): catching up by REQ pages");
            let held_there = if direction != Direction::Up {
                let held_there = pages_down(&mut socket, &store, filter, options.since, &mut tally, plugin)?;
                store.flush().context("flushing the store")?;
                held_there
            } else {
                HashSet::new()
            };
            if direction != Direction::Down {
                let have: Vec<[u8; 32]> =
                    local_ids(&store, filter)?.into_iter().filter(|id| !held_there.contains(id)).collect();
                upload(&mut socket, &store, &have, options.window.max(1), &mut tally)?;
            }
        }
        Err(refusal) => bail!("the relay refused the reconciliation: {refusal}"),
    }
    let _ = socket.close(None);
    let failed: u64 = tally.failed.values().sum();
    let pages = if tally.pages > 0 { format!("{} REQ pages; ", tally.pages) } else { String::new() };
    eprintln!(
        "synced {} with {url} in {:.1} s: {local} local events matched; {pages}have {} (here only), need {} (there only); \
         downloaded {}, uploaded {}, already present {}, failed {failed}",
        data_dir.display(),
        started.elapsed().as_secs_f64(),
        tally.have,
        tally.need,
        tally.downloaded,
        tally.uploaded,
        tally.duplicates,
    );
    for (reason, count) in &tally.failed {
        eprintln!("  failed {count}: {reason}");
    }
    Ok(Done::Ok)
}

/// The ids of the local events matching `filter`.
fn local_ids(store: &Store, filter: &Filter) -> Result<Vec<[u8; 32]>> {
    let items = local_items(store, filter)?;
    let count = items.size().unwrap_or(0);
    let mut ids = Vec::with_capacity(count);
    for index in 0..count {
        if let Ok(Some(item)) = items.get_item(index) {
            ids.push(item.id.to_bytes());
        }
    }
    Ok(ids)
}

/// Walks the remote's events matching `filter` back from now to `since` by REQ pages, checks
/// and stores them (as `download` does); returns the ids it sent.
fn pages_down(
    socket: &mut Socket,
    store: &Store,
    filter: &Filter,
    since: u64,
    tally: &mut Tally,
    mut plugin: Option<PluginAndSource<'_>>,
) -> Result<HashSet<[u8; 32]>> {
    let bar = crate::progress::counter("events downloaded by pages");
    let mut walk = parrhesia_engine::mirror::PageWalk::new(filter, since);
    let mut sent = HashSet::new();
    let mut received: Vec<(u64, String)> = Vec::new();
    while let Some(page) = walk.next_page() {
        send(socket, parrhesia_engine::mirror::request("REQ", "page", &[page]))?;
        loop {
            match read(socket)? {
                RelayMessage::Event { subscription_id, event } if subscription_id == "page" => {
                    // Read for the walk only; `store_checked` checks it as an import does.
                    let Ok(parsed) = Event::parse(&event, &parrhesia_engine::Limits::default()) else {
                        *tally.failed.entry("invalid from the relay".into()).or_default() += 1;
                        continue;
                    };
                    if walk.on_event(parsed.created_at()) && sent.insert(*parsed.id()) {
                        received.push((received.len() as u64, event.into_owned()));
                    }
                }
                RelayMessage::Eose { subscription_id } if subscription_id == "page" => break,
                RelayMessage::Closed { subscription_id, message } if subscription_id == "page" => {
                    bail!("the relay closed a page: {message}")
                }
                _ => {}
            }
        }
        send(socket, parrhesia_engine::mirror::close("page"))?;
        walk.on_end_of_page();
        tally.pages += 1;
        if received.len() >= STORE_BATCH_EVENTS {
            bar.inc(received.len() as u64);
            store_checked(store, std::mem::take(&mut received), tally, plugin.as_mut())?;
        }
    }
    bar.inc(received.len() as u64);
    store_checked(store, received, tally, plugin.as_mut())?;
    bar.finish_and_clear();
    tally.need = sent.len();
    Ok(sent)
}

/// A plugin, the `sourceType` it is told, and the URL (`sourceInfo`).
type PluginAndSource<'a> = (&'a mut crate::policy::Plugin, parrhesia_engine::write_policy::SourceType, &'a str);

/// The local events matching `filter`, as negentropy items, sealed.
fn local_items(store: &Store, filter: &Filter) -> Result<NegentropyStorageVector> {
    let mut items = NegentropyStorageVector::new();
    let mut scan = store.count_scan(std::slice::from_ref(filter), crate::unix_now())?;
    let budget = ScanBudget { candidates_max: 65_536, time_max: None };
    let mut inserted = Ok(());
    while !scan.is_done() {
        scan.step(store, budget, |record| {
            if inserted.is_ok() {
                inserted = items.insert(record.header.created_at, Id::from_byte_array(record.header.id));
            }
        })?;
    }
    inserted.map_err(|error| anyhow::anyhow!("negentropy refused an item: {error}"))?;
    items.seal().map_err(|error| anyhow::anyhow!("sealing the negentropy items: {error}"))?;
    Ok(items)
}

/// What a reconciliation found: ids only here (have) and ids only there (need).
struct Differences {
    have: Vec<[u8; 32]>,
    need: Vec<[u8; 32]>,
    rounds: u64,
    /// Negentropy messages' bytes (before hex) sent and received.
    bytes_sent: usize,
    bytes_received: usize,
}

/// Runs the negentropy exchange; `Ok(Err(why))` when the relay refuses it at once (it does not
/// speak NIP-77, or will not for this filter).
fn reconcile(
    socket: &mut Socket,
    filter: &Filter,
    items: NegentropyStorageVector,
    bar: &indicatif::ProgressBar,
) -> Result<Result<Differences, String>> {
    let mut negentropy =
        Negentropy::owned(items, MESSAGE_BYTES_MAX).map_err(|error| anyhow::anyhow!("negentropy: {error}"))?;
    let initial = negentropy.initiate().map_err(|error| anyhow::anyhow!("negentropy: {error}"))?;
    let hex = parrhesia_engine::hex::encode;
    send(socket, format!(r#"["NEG-OPEN","sync",{},"{}"]"#, filter.to_json(), hex(&initial)))?;
    let (mut have, mut need) = (Vec::new(), Vec::new());
    let (mut rounds, mut bytes_sent, mut bytes_received) = (0, initial.len(), 0);
    loop {
        let message = loop {
            match read(socket)? {
                RelayMessage::NegMsg { subscription_id, message } if subscription_id == "sync" => break message,
                RelayMessage::NegErr { message, .. } | RelayMessage::Notice { message } if rounds == 0 => {
                    return Ok(Err(message.into_owned()));
                }
                RelayMessage::NegErr { message, .. } => bail!("the relay refused the reconciliation: {message}"),
                RelayMessage::Notice { message } => bail!("the relay said: {message}"),
                _ => {}
            }
        };
        bar.inc(1);
        rounds += 1;
        bytes_received += message.len();
        let next = negentropy
            .reconcile_with_ids(&message, &mut have, &mut need)
            .map_err(|error| anyhow::anyhow!("the relay's negentropy message: {error}"))?;
        match next {
            Some(next) => {
                bytes_sent += next.len();
                send(socket, format!(r#"["NEG-MSG","sync","{}"]"#, hex(&next)))?
            }
            None => break,
        }
    }
    send(socket, r#"["NEG-CLOSE","sync"]"#.to_string())?;
    let bytes = |ids: Vec<Id>| ids.into_iter().map(|id| id.to_bytes()).collect();
    Ok(Ok(Differences { have: bytes(have), need: bytes(need), rounds, bytes_sent, bytes_received }))
}

/// Fetches `need` by id (`REQS_IN_FLIGHT` REQs of `IDS_PER_REQ` at once), checks each event as
/// an import does, stores them in batches.
fn download(
    socket: &mut Socket,
    store: &Store,
    need: &[[u8; 32]],
    tally: &mut Tally,
    mut plugin: Option<PluginAndSource<'_>>,
) -> Result<()> {
    let bar = crate::progress::counter("events downloaded");
    let chunks: Vec<&[[u8; 32]]> = need.chunks(IDS_PER_REQ).collect();
    // Subscription id -> ids asked for (to count those the relay no longer has).
    let mut in_flight: BTreeMap<String, usize> = BTreeMap::new();
    let mut next = 0;
    // Received JSON, checked (parse, id, signature) on every core when a batch is stored.
    let mut received: Vec<(u64, String)> = Vec::new();
    while next < chunks.len() || !in_flight.is_empty() {
        while next < chunks.len() && in_flight.len() < REQS_IN_FLIGHT {
            let ids: Vec<String> =
                chunks[next].iter().map(|id| format!("\"{}\"", parrhesia_engine::hex::encode(id))).collect();
            let subscription = format!("fetch-{next}");
            send(socket, format!(r#"["REQ","{subscription}",{{"ids":[{}]}}]"#, ids.join(",")))?;
            in_flight.insert(subscription, chunks[next].len());
            next += 1;
        }
        match read(socket)? {
            RelayMessage::Event { subscription_id, event } if in_flight.contains_key(subscription_id.as_ref()) => {
                if let Some(asked) = in_flight.get_mut(subscription_id.as_ref()) {
                    *asked = asked.saturating_sub(1);
                }
                received.push((received.len() as u64, event.into_owned()));
            }
            RelayMessage::Eose { subscription_id } => {
                if let Some(missing) = in_flight.remove(subscription_id.as_ref()) {
                    send(socket, format!(r#"["CLOSE","{subscription_id}"]"#))?;
                    if missing > 0 {
                        *tally.failed.entry("the relay no longer has it".into()).or_default() += missing as u64;
                    }
                }
            }
            RelayMessage::Closed { subscription_id, message } if in_flight.contains_key(subscription_id.as_ref()) => {
                bail!("the relay closed a fetch: {message}")
            }
            _ => {}
        }
        if received.len() >= STORE_BATCH_EVENTS || (in_flight.is_empty() && next == chunks.len()) {
            bar.inc(received.len() as u64);
            store_checked(store, std::mem::take(&mut received), tally, plugin.as_mut())?;
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// Checks received events as an import does (parse, id, signature, on every core), puts them
/// to the plugin if any, and stores them.
fn store_checked(
    store: &Store,
    received: Vec<(u64, String)>,
    tally: &mut Tally,
    plugin: Option<&mut PluginAndSource<'_>>,
) -> Result<()> {
    let checked = crate::import::check(received, 0, 0, true);
    for (_, reason) in checked.bad_lines {
        *tally.failed.entry(format!("invalid from the relay: {reason}")).or_default() += 1;
    }
    let events = match plugin {
        Some((plugin, source, url)) => plugin.accepted(checked.events, (*source, url), |refusal| {
            let reason = refusal.unwrap_or_else(|| "shadow-rejected by the write policy plugin".into());
            *tally.failed.entry(format!("refused here: {reason}")).or_default() += 1;
        })?,
        None => checked.events,
    };
    store_events(store, &events, tally)
}

fn store_events(store: &Store, events: &[Event], tally: &mut Tally) -> Result<()> {
    crate::import::apply_each(store, events, |outcome| match outcome {
        Outcome::Stored { .. } => tally.downloaded += 1,
        Outcome::Duplicate => tally.duplicates += 1,
        Outcome::Rejected(reason) => *tally.failed.entry(format!("refused here: {reason}")).or_default() += 1,
    })
}

/// Publishes `have`, `window` EVENTs in flight.
fn upload(socket: &mut Socket, store: &Store, have: &[[u8; 32]], window: usize, tally: &mut Tally) -> Result<()> {
    let bar = crate::progress::counter("events uploaded");
    let mut in_flight = 0;
    for id in have {
        let Some(stored) = store.get_by_id(id)? else {
            *tally.failed.entry("removed here meanwhile".into()).or_default() += 1;
            continue;
        };
        send(socket, format!(r#"["EVENT",{}]"#, stored.json))?;
        in_flight += 1;
        while in_flight >= window {
            in_flight -= read_ok(socket, tally)?;
            bar.inc(1);
        }
    }
    while in_flight > 0 {
        in_flight -= read_ok(socket, tally)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

fn read_ok(socket: &mut Socket, tally: &mut Tally) -> Result<usize> {
    loop {
        if let RelayMessage::Ok { accepted, message, .. } = read(socket)? {
            if message.starts_with("duplicate:") {
                tally.duplicates += 1;
            } else if accepted {
                tally.uploaded += 1;
            } else {
                *tally.failed.entry(format!("refused there: {message}")).or_default() += 1;
            }
            return Ok(1);
        }
    }
}

fn send(socket: &mut Socket, text: String) -> Result<()> {
    socket.send(tungstenite::Message::text(text)).context("sending to the relay")
}

/// The next relay message (other frames skipped).
fn read(socket: &mut Socket) -> Result<RelayMessage<'static>> {
    loop {
        let tungstenite::Message::Text(text) = socket.read().context("reading from the relay")? else { continue };
        if let Ok(message) = RelayMessage::decode(text.as_str()) {
            return Ok(message);
        }
    }
}
