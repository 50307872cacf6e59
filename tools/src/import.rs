//! `import`: JSON lines into a store (checked on every core, stored in large batches), or
//! published through a running relay with `--url`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use parrhesia_engine::{Event, Limits, RelayMessage};
use parrhesia_storage::{DirectoryLock, Durability, Outcome, Store, StoreOptions};

use crate::Done;

pub struct Options {
    pub verify: bool,
    pub batch_events_max: usize,
    /// The relay's `search_kinds` (from its --config): a new store is indexed for them, and a
    /// store indexed for others is refused (as the relay would refuse it).
    pub search_kinds: Option<Vec<u16>>,
    /// A write-policy plugin to put every event to first, and its answer timeout.
    pub write_policy: Option<(String, std::time::Duration)>,
}

/// What an import did, by outcome; refusals by their reason.
#[derive(Default)]
struct Tally {
    stored: u64,
    duplicate: u64,
    refused: BTreeMap<String, u64>,
    /// Accepted as far as the plugin's answer goes, but not stored (`shadowReject`).
    shadow_rejected: u64,
    bad_lines: u64,
    lines: u64,
}

impl Tally {
    fn summary(&self, seconds: f64) -> String {
        let refused: u64 = self.refused.values().sum();
        let mut text = format!(
            "{} lines: {} stored, {} duplicates, {} refused, {} bad lines; {:.1} s ({:.0} lines/s)",
            self.lines,
            self.stored,
            self.duplicate,
            refused,
            self.bad_lines,
            seconds,
            self.lines as f64 / seconds.max(1e-9)
        );
        if self.shadow_rejected > 0 {
            text.push_str(&format!(
                "\n  shadow-rejected by the write policy plugin (not stored): {}",
                self.shadow_rejected
            ));
        }
        for (reason, count) in &self.refused {
            text.push_str(&format!("\n  refused {count}: {reason}"));
        }
        text
    }
}

/// Batches in flight between the reading thread and the writer.
const BATCHES_QUEUED_MAX: usize = 2;

/// Checked events of one batch, and the bad lines met while reading them (number, reason).
pub struct CheckedBatch {
    pub events: Vec<Event>,
    pub bad_lines: Vec<(u64, String)>,
    lines: u64,
    bytes: u64,
}

/// The input and its size (for the progress bar) when known.
fn open_input(file: Option<&Path>) -> Result<(Box<dyn BufRead + Send>, Option<u64>)> {
    Ok(match file {
        Some(path) => {
            let opened = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let size = opened.metadata().ok().map(|metadata| metadata.len());
            (Box::new(BufReader::with_capacity(1 << 20, opened)), size)
        }
        None => (Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())), None),
    })
}

pub fn run(data_dir: &Path, file: Option<&Path>, options: &Options) -> Result<Done> {
    let _lock = DirectoryLock::acquire(data_dir, &format!("parrhesia-tools import, pid {}", std::process::id()))
        .context("import writes the store; with a relay running, use --url to publish through it")?;
    // No fsync per batch: an import that stops half-way is simply run again (it is idempotent);
    // the store is flushed once at the end. Imported events become the store's own node's (a
    // cluster node serves them to its peers).
    let store_options = StoreOptions {
        durability: Durability::NoSync,
        as_stored_node: true,
        search_kinds: options.search_kinds.clone(),
        ..StoreOptions::default()
    };
    let store = Store::open(data_dir, &store_options)
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let (input, size) = open_input(file)?;
    let bar = crate::progress::bytes(size, "importing");
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut plugin = match &options.write_policy {
        Some((command, timeout)) => Some(crate::policy::Plugin::start(command, *timeout)?),
        None => None,
    };
    let source = file.map_or("stdin".to_string(), |path| path.display().to_string());
    // One thread reads and checks (on every core) while this one writes the batch before.
    std::thread::scope(|scope| -> Result<()> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(BATCHES_QUEUED_MAX);
        let reader = scope.spawn(move || read_batches(input, options, &sender));
        for batch in receiver {
            for (line, reason) in &batch.bad_lines {
                bar.suspend(|| eprintln!("line {line}: {reason}"));
            }
            tally.bad_lines += batch.bad_lines.len() as u64;
            tally.lines += batch.lines;
            let events = match &mut plugin {
                Some(plugin) => judged(plugin, batch.events, &source, &mut tally)?,
                None => batch.events,
            };
            store_batch(&store, &events, &mut tally)?;
            bar.inc(batch.bytes);
        }
        reader.join().expect("the reading thread does not panic")
    })?;
    store.flush().context("flushing the store")?;
    bar.finish_and_clear();
    eprintln!("imported into {}: {}", data_dir.display(), tally.summary(started.elapsed().as_secs_f64()));
    Ok(Done::Ok)
}

/// Events this node's relay accepted under any configuration: the size bounds are the frame's,
/// not a client's defaults. Timestamps are not checked against the clock.
pub fn import_limits() -> Limits {
    Limits { event_bytes_max: Limits::default().frame_bytes_max, ..Limits::default() }
}

/// One line as an event: parsed (id and limits checked) and, if asked, its signature verified.
pub fn check_line(line: &str, limits: &Limits, verify: bool) -> Result<Event, parrhesia_engine::Reason> {
    let event = Event::parse(line.trim_end(), limits)?;
    if verify {
        event.verify_signature()?;
    }
    Ok(event)
}

/// Reads lines into batches of `batch_events_max`, checks each batch on every core, and sends
/// it on. Stops early if the receiver has gone (the writer failed and says why).
fn read_batches(
    mut input: Box<dyn BufRead + Send>,
    options: &Options,
    sender: &std::sync::mpsc::SyncSender<CheckedBatch>,
) -> Result<()> {
    let mut line_number = 0u64;
    loop {
        let mut lines = Vec::with_capacity(options.batch_events_max);
        let mut bytes = 0u64;
        while lines.len() < options.batch_events_max {
            let mut line = String::new();
            let read = input.read_line(&mut line).context("reading the input")?;
            if read == 0 {
                break;
            }
            bytes += read as u64;
            line_number += 1;
            lines.push((line_number, line));
        }
        if lines.is_empty() {
            return Ok(());
        }
        let count = lines.len() as u64;
        if sender.send(check(lines, bytes, count, options.verify)).is_err() {
            return Ok(());
        }
    }
}

/// Parses and (if asked) verifies a batch, split over the machine's cores; keeps line order.
pub fn check(lines: Vec<(u64, String)>, bytes: u64, count: u64, verify: bool) -> CheckedBatch {
    let limits = import_limits();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = lines.len().div_ceil(threads).max(1);
    let results: Vec<Vec<(u64, Result<Event, String>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = lines
            .chunks(chunk)
            .map(|part| {
                let limits = &limits;
                scope.spawn(move || {
                    part.iter()
                        .filter(|(_, line)| !line.trim().is_empty())
                        .map(|(number, line)| {
                            (*number, check_line(line, limits, verify).map_err(|reason| reason.to_string()))
                        })
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("a checking thread does not panic")).collect()
    });
    let mut batch =
        CheckedBatch { events: Vec::with_capacity(lines.len()), bad_lines: Vec::new(), lines: count, bytes };
    for (number, result) in results.into_iter().flatten() {
        match result {
            Ok(event) => batch.events.push(event),
            Err(reason) => batch.bad_lines.push((number, reason)),
        }
    }
    batch
}

/// The events of a batch the plugin accepts; the others counted (rejected by their message).
fn judged(
    plugin: &mut crate::policy::Plugin,
    events: Vec<Event>,
    source: &str,
    tally: &mut Tally,
) -> Result<Vec<Event>> {
    let source = (parrhesia_engine::write_policy::SourceType::Import, source);
    plugin.accepted(events, source, |refusal| match refusal {
        Some(message) => *tally.refused.entry(message).or_default() += 1,
        None => tally.shadow_rejected += 1,
    })
}

fn store_batch(store: &Store, events: &[Event], tally: &mut Tally) -> Result<()> {
    apply_each(store, events, |outcome| match outcome {
        Outcome::Stored { .. } => tally.stored += 1,
        Outcome::Duplicate => tally.duplicate += 1,
        Outcome::Rejected(reason) => *tally.refused.entry(reason.to_string()).or_default() += 1,
    })
}

/// Stores a batch in one transaction and hands each event's outcome to `count`.
pub fn apply_each(store: &Store, events: &[Event], mut count: impl FnMut(Outcome)) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    store.apply(events, crate::unix_now()).context("storing a batch")?.into_iter().for_each(&mut count);
    Ok(())
}

/// Publishes every line through a running relay, `window` EVENTs in flight, and tallies the
/// OKs (`duplicate:` answers count as duplicates, other refusals by their message).
pub fn publish(url: &str, file: Option<&Path>, options: &Options, window: usize) -> Result<Done> {
    let (input, size) = open_input(file)?;
    let mut socket = crate::relay_socket::connect(url, None)?;
    let bar = crate::progress::bytes(size, "publishing");
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut in_flight = 0usize;
    let limits = import_limits();
    let mut input = input.take(u64::MAX);
    let mut line = String::new();
    loop {
        line.clear();
        let read = input.read_line(&mut line).context("reading the input")?;
        if read == 0 {
            break;
        }
        tally.lines += 1;
        bar.inc(read as u64);
        if line.trim().is_empty() {
            continue;
        }
        // Checked here too, so a bad line is reported by its number (the relay's OK names only
        // an id); the relay checks the signature again.
        let event = match check_line(&line, &limits, options.verify) {
            Ok(event) => event,
            Err(reason) => {
                tally.bad_lines += 1;
                bar.suspend(|| eprintln!("line {}: {reason}", tally.lines));
                continue;
            }
        };
        let message = format!("[\"EVENT\",{}]", event.json());
        socket.send(tungstenite::Message::text(message)).context("sending to the relay")?;
        in_flight += 1;
        while in_flight >= window {
            in_flight -= read_ok(&mut socket, &mut tally)?;
        }
    }
    while in_flight > 0 {
        in_flight -= read_ok(&mut socket, &mut tally)?;
    }
    let _ = socket.close(None);
    bar.finish_and_clear();
    eprintln!("published to {url}: {}", tally.summary(started.elapsed().as_secs_f64()));
    Ok(Done::Ok)
}

/// Reads relay messages until one OK; returns 1 (the OKs it accounted for).
fn read_ok(
    socket: &mut tungstenite::WebSocket<impl std::io::Read + std::io::Write>,
    tally: &mut Tally,
) -> Result<usize> {
    loop {
        let message = socket.read().context("reading from the relay")?;
        let tungstenite::Message::Text(text) = message else { continue };
        let Ok(RelayMessage::Ok { accepted, message, .. }) = RelayMessage::decode(text.as_str()) else { continue };
        if message.starts_with("duplicate:") {
            tally.duplicate += 1;
        } else if accepted {
            tally.stored += 1;
        } else {
            *tally.refused.entry(message.to_string()).or_default() += 1;
        }
        return Ok(1);
    }
}
