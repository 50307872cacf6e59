//! `sync`: reconciles the local store (the relay stopped) with a remote relay by NIP-77
//! negentropy, then transfers what is missing: `down` fetches what only the remote holds (by
//! id, checked as an import checks), `up` publishes what only the local store holds. Works
//! against any relay that speaks NIP-77 (ours, strfry).

use std::collections::BTreeMap;
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

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

#[derive(Default)]
struct Tally {
    have: usize,
    need: usize,
    downloaded: u64,
    uploaded: u64,
    duplicates: u64,
    failed: BTreeMap<String, u64>,
}

/// `plugin`: a write-policy plugin that judges what is downloaded (`sourceType` "Sync").
pub fn run(
    data_dir: &Path,
    url: &str,
    filter: &Filter,
    direction: Direction,
    window: usize,
    mut plugin: Option<crate::policy::Plugin>,
) -> Result<Done> {
    let writes = direction != Direction::Up;
    let _lock = writes
        .then(|| DirectoryLock::acquire(data_dir, &format!("parrhesia-tools sync, pid {}", std::process::id())))
        .transpose()
        .context("sync down writes the store: stop the relay first (or sync from the relay's side)")?;
    let options = StoreOptions { durability: Durability::NoSync, as_stored_node: true, ..StoreOptions::default() };
    let store = if writes { Store::open(data_dir, &options) } else { Store::open_existing(data_dir, &options) }
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let started = Instant::now();
    let items = local_items(&store, filter)?;
    let local = items.size().unwrap_or(0);
    let (mut socket, _) = tungstenite::connect(url).with_context(|| format!("connecting to {url}"))?;
    let bar = crate::progress::counter("negentropy rounds");
    let reconciling = Instant::now();
    let Differences { have, need, rounds, bytes_sent, bytes_received } = reconcile(&mut socket, filter, items, &bar)?;
    bar.finish_and_clear();
    eprintln!(
        "reconciled in {:.2} s: {rounds} rounds, {bytes_sent} bytes sent, {bytes_received} received (before hex)",
        reconciling.elapsed().as_secs_f64()
    );
    let mut tally = Tally { have: have.len(), need: need.len(), ..Tally::default() };
    if direction != Direction::Up {
        download(&mut socket, &store, &need, &mut tally, (plugin.as_mut(), url))?;
        store.flush().context("flushing the store")?;
    }
    if direction != Direction::Down {
        upload(&mut socket, &store, &have, window.max(1), &mut tally)?;
    }
    let _ = socket.close(None);
    let failed: u64 = tally.failed.values().sum();
    eprintln!(
        "synced {} with {url} in {:.1} s: {local} local events matched; have {} (here only), need {} (there only); \
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

/// Runs the negentropy exchange.
fn reconcile(
    socket: &mut Socket,
    filter: &Filter,
    items: NegentropyStorageVector,
    bar: &indicatif::ProgressBar,
) -> Result<Differences> {
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
    Ok(Differences { have: bytes(have), need: bytes(need), rounds, bytes_sent, bytes_received })
}

/// Fetches `need` by id (`REQS_IN_FLIGHT` REQs of `IDS_PER_REQ` at once), checks each event as
/// an import does, stores them in batches.
fn download(
    socket: &mut Socket,
    store: &Store,
    need: &[[u8; 32]],
    tally: &mut Tally,
    (mut plugin, url): (Option<&mut crate::policy::Plugin>, &str),
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
            let checked = crate::import::check(std::mem::take(&mut received), 0, 0, true);
            for (_, reason) in checked.bad_lines {
                *tally.failed.entry(format!("invalid from the relay: {reason}")).or_default() += 1;
            }
            bar.inc(checked.events.len() as u64);
            let events = match plugin.as_deref_mut() {
                Some(plugin) => {
                    let source = (parrhesia_engine::write_policy::SourceType::Sync, url);
                    plugin.accepted(checked.events, source, |refusal| {
                        let reason = refusal.unwrap_or_else(|| "shadow-rejected by the write policy plugin".into());
                        *tally.failed.entry(format!("refused here: {reason}")).or_default() += 1;
                    })?
                }
                None => checked.events,
            };
            store_events(store, &events, tally)?;
        }
    }
    bar.finish_and_clear();
    Ok(())
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
