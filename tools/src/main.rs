//! `parrhesia-tools`: operator commands on a node's store. `export` writes every stored event
//! as JSON lines, from a store of any schema version (it is how a store is moved across a
//! format change); `import` verifies events from JSON lines and stores them in batches;
//! `stats` shows each table's entries and bytes.
//!
//! Exit codes: 0 done; 1 an error (named on stderr); 2 a wrong command line.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use parrhesia_engine::{Event, Limits};
use parrhesia_storage::{Outcome, Store, StoreOptions};

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
    /// store if it does not exist. Stop the relay on that directory first.
    Import {
        /// The store's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The JSON-lines file (one event per line; blank lines are skipped).
        file: PathBuf,
        /// Events per write transaction.
        #[arg(long, default_value_t = 1000)]
        batch_events_max: usize,
    },
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

fn stats(data_dir: &Path) -> Result<()> {
    if !data_dir.join("data.mdb").is_file() {
        anyhow::bail!("{} holds no Parrhesia store (no data.mdb)", data_dir.display());
    }
    let store = Store::open(data_dir, &StoreOptions::default())
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

fn import(data_dir: &Path, file: &Path, batch_events_max: usize) -> Result<()> {
    let store = Store::open(data_dir, &StoreOptions::default())
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let input = BufReader::new(File::open(file).with_context(|| format!("opening {}", file.display()))?);
    // Events this node's relay accepted under any configuration: the size bounds are the
    // frame's, not a client's defaults. Timestamps are not checked against the clock.
    let limits = Limits { event_bytes_max: Limits::default().frame_bytes_max, ..Limits::default() };
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut batch = Vec::with_capacity(batch_events_max);
    for (number, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match Event::parse(&line, &limits).and_then(|event| event.verify_signature().map(|()| event)) {
            Ok(event) => batch.push(event),
            Err(reason) => {
                tally.invalid += 1;
                eprintln!("line {}: {reason}", number + 1);
            }
        }
        if batch.len() >= batch_events_max {
            store_batch(&store, &mut batch, &mut tally)?;
            eprint!("\rimported {} events ({} lines read)", tally.stored, number + 1);
        }
    }
    store_batch(&store, &mut batch, &mut tally)?;
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
