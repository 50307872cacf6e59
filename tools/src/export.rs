//! `export`: stored events as JSON lines, oldest first, streamed from one read transaction.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use parrhesia_storage::{Store, StoreOptions};

use crate::Done;

pub fn run(
    data_dir: &Path,
    out: Option<&Path>,
    filter: Option<&str>,
    since: Option<u64>,
    until: Option<u64>,
) -> Result<Done> {
    let filters = filter.map(crate::parse_filters).transpose()?.unwrap_or_default();
    let mut writer: Box<dyn Write> = match out {
        Some(path) => Box::new(File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = BufWriter::with_capacity(1 << 20, &mut writer);
    let bar = crate::progress::counter("events");
    let mut write = |json: &[u8]| {
        bar.inc(1);
        writer.write_all(json)?;
        writer.write_all(b"\n")
    };
    let options = StoreOptions { as_stored_node: true, ..StoreOptions::default() };
    let count = match Store::open_existing(data_dir, &options) {
        Ok(store) => store
            .export_ordered(&filters, since.unwrap_or(0), until.unwrap_or(u64::MAX), &mut write)
            .with_context(|| format!("exporting {}", data_dir.display()))?,
        // A store of another schema version: every event, in its sequence order.
        Err(parrhesia_storage::StorageError::SchemaVersion { found, .. }) => {
            if !filters.is_empty() || since.is_some() || until.is_some() {
                anyhow::bail!("the store has schema version {found}: export it whole (no --filter, --since, --until)");
            }
            parrhesia_storage::export_any_version(data_dir, &mut write)
                .with_context(|| format!("exporting {}", data_dir.display()))?
        }
        Err(error) => return Err(error).with_context(|| format!("opening the store in {}", data_dir.display())),
    };
    writer.flush().context("writing the export")?;
    bar.finish_and_clear();
    eprintln!("exported {count} events from {}", data_dir.display());
    Ok(Done::Ok)
}
