//! `parrhesia-tools`: operator commands on a node's store. `export` writes every stored event
//! as JSON lines, from a store of any schema version (it is how a store is moved across a
//! format change); `import` verifies events from JSON lines and stores them in batches;
//! `stats` shows each table's entries and bytes; `keygen` and `pubkey` make and show a node's
//! ed25519 identity.
//!
//! Exit codes: 0 done; 1 an error (named on stderr); 2 a wrong command line.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use parrhesia_engine::{Event, Limits};
use parrhesia_net::NodeKey;
use parrhesia_storage::{Durability, Outcome, Store, StoreOptions};

#[derive(Parser)]
#[command(
    name = "parrhesia-tools",
    version,
    about = "Operator commands for a Parrhesia store",
    after_help = "Exit codes: 0 done; 1 an error (named on stderr); 2 a wrong command line."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write every stored event as one JSON line, in the store's sequence order. Reads stores of
    /// any schema version, read-only (the relay may keep running on a current one).
    Export {
        /// The store's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Where to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify events from a JSON-lines file (id, signature, limits) and store them in batches,
    /// with every storage rule (duplicates, replaceable, deletions, expiration). Creates the
    /// store if it does not exist. Stop the relay on that directory first. Batches are not
    /// fsynced one by one (the store is flushed at the end): if an import is interrupted, run
    /// it again; events already stored count as duplicates.
    Import {
        /// The store's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The JSON-lines file (one event per line; blank lines are skipped).
        file: PathBuf,
        /// Events per write transaction. Large batches write each touched index page once
        /// per batch (LMDB copies pages on write): 20,000 imported 1M events about twice as
        /// fast as 1,000 here.
        #[arg(long, default_value_t = 10_000)]
        batch_events_max: usize,
    },
    /// Write a new node key (ed25519) to FILE with mode 0600 and print its public key (64
    /// lowercase hex). Refuses to overwrite an existing file.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of the node key in FILE.
    Pubkey { file: PathBuf },
    /// Each table's entries and bytes, and the bytes per stored event (read-only).
    Stats {
        /// The store's data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Export { data_dir, out } => export(&data_dir, out.as_deref()),
        Command::Import { data_dir, file, batch_events_max } => import(&data_dir, &file, batch_events_max.max(1)),
        Command::Stats { data_dir } => stats(&data_dir),
        Command::Keygen { out } => keygen(&out),
        Command::Pubkey { file } => {
            NodeKey::load(&file).map(|key| println!("{}", key.public_hex())).map_err(Into::into)
        }
    };
    if let Err(error) = result {
        eprintln!("parrhesia-tools: {error:#}");
        std::process::exit(1);
    }
}

fn export(data_dir: &Path, out: Option<&Path>) -> Result<()> {
    let mut writer: Box<dyn Write> = match out {
        Some(path) => Box::new(File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = BufWriter::new(&mut writer);
    let count = parrhesia_storage::export_any_version(data_dir, |json| {
        writer.write_all(json)?;
        writer.write_all(b"\n")
    })
    .with_context(|| format!("exporting {}", data_dir.display()))?;
    writer.flush().context("writing the export")?;
    eprintln!("exported {count} events from {}", data_dir.display());
    Ok(())
}

fn keygen(out: &Path) -> Result<()> {
    let key = NodeKey::generate()?;
    key.write_new(out)?;
    println!("{}", key.public_hex());
    Ok(())
}

fn stats(data_dir: &Path) -> Result<()> {
    if !data_dir.join("data.mdb").is_file() {
        anyhow::bail!("{} holds no Parrhesia store (no data.mdb)", data_dir.display());
    }
    let store = Store::open(data_dir, &StoreOptions { as_stored_node: true, ..StoreOptions::default() })
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let tables = store.table_stats().context("reading table statistics")?;
    let events = tables.iter().find(|table| table.name == "events").map_or(0, |table| table.entries);
    let total: u64 = tables.iter().map(|table| table.bytes).sum();
    let per_event = |bytes: u64| if events == 0 { 0.0 } else { bytes as f64 / events as f64 };
    println!("{:<18} {:>12} {:>14} {:>12}", "table", "entries", "bytes", "bytes/event");
    for table in &tables {
        println!("{:<18} {:>12} {:>14} {:>12.1}", table.name, table.entries, table.bytes, per_event(table.bytes));
    }
    println!("{:<18} {:>12} {:>14} {:>12.1}", "total", events, total, per_event(total));
    Ok(())
}

/// What an import did, by outcome.
#[derive(Default)]
struct Tally {
    stored: u64,
    duplicate: u64,
    rejected: u64,
    invalid: u64,
}

/// Batches in flight between the verifying thread and the writer.
const IMPORT_BATCHES_QUEUED_MAX: usize = 2;

/// Verified events of one batch, with the number of invalid lines met while reading them.
struct VerifiedBatch {
    events: Vec<Event>,
    invalid: u64,
    lines_read: usize,
}

fn import(data_dir: &Path, file: &Path, batch_events_max: usize) -> Result<()> {
    // No fsync per batch: an import that stops half-way is simply run again (it is idempotent);
    // the store is flushed once at the end.
    // Imported events become the store's own node's (a cluster node serves them to its peers).
    let options = StoreOptions { durability: Durability::NoSync, as_stored_node: true, ..StoreOptions::default() };
    let store =
        Store::open(data_dir, &options).with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let input = BufReader::new(File::open(file).with_context(|| format!("opening {}", file.display()))?);
    let started = Instant::now();
    let mut tally = Tally::default();
    // One thread parses and verifies (the CPU-heavy part) while this one writes the batch before.
    std::thread::scope(|scope| -> Result<()> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(IMPORT_BATCHES_QUEUED_MAX);
        let reader = scope.spawn(move || verify_lines(input, file, batch_events_max, &sender));
        for mut batch in receiver {
            tally.invalid += batch.invalid;
            store_batch(&store, &mut batch.events, &mut tally)?;
            eprint!("\rimported {} events ({} lines read)", tally.stored, batch.lines_read);
        }
        reader.join().expect("the verifying thread does not panic")
    })?;
    store.flush().context("flushing the store")?;
    eprintln!(
        "\rimported into {}: {} stored, {} duplicates, {} refused by storage rules, {} invalid; {:.1} s",
        data_dir.display(),
        tally.stored,
        tally.duplicate,
        tally.rejected,
        tally.invalid,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Reads, parses and verifies every line, sending batches of `batch_events_max` events.
fn verify_lines(
    input: impl BufRead,
    file: &Path,
    batch_events_max: usize,
    sender: &std::sync::mpsc::SyncSender<VerifiedBatch>,
) -> Result<()> {
    // Events this node's relay accepted under any configuration: the size bounds are the
    // frame's, not a client's defaults. Timestamps are not checked against the clock.
    let limits = Limits { event_bytes_max: Limits::default().frame_bytes_max, ..Limits::default() };
    let new_batch = || VerifiedBatch { events: Vec::with_capacity(batch_events_max), invalid: 0, lines_read: 0 };
    let mut batch = new_batch();
    for (number, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        batch.lines_read = number + 1;
        if line.trim().is_empty() {
            continue;
        }
        match Event::parse(&line, &limits).and_then(|event| event.verify_signature().map(|()| event)) {
            Ok(event) => batch.events.push(event),
            Err(reason) => {
                batch.invalid += 1;
                eprintln!("line {}: {reason}", number + 1);
            }
        }
        if batch.events.len() >= batch_events_max {
            let lines_read = batch.lines_read;
            // The writer stopped (it failed and says why): stop reading.
            if sender.send(std::mem::replace(&mut batch, new_batch())).is_err() {
                return Ok(());
            }
            batch.lines_read = lines_read;
        }
    }
    let _ = sender.send(batch);
    Ok(())
}

fn store_batch(store: &Store, batch: &mut Vec<Event>, tally: &mut Tally) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0);
    for outcome in store.apply(batch, now).context("storing a batch")? {
        match outcome {
            Outcome::Stored { .. } => tally.stored += 1,
            Outcome::Duplicate => tally.duplicate += 1,
            Outcome::Rejected(_) => tally.rejected += 1,
        }
    }
    batch.clear();
    Ok(())
}
