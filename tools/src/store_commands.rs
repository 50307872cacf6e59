//! `stats`, `compact`, `verify` and `delete`: whole-store commands.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use parrhesia_engine::{Filter, KindClass};
use parrhesia_storage::{DirectoryLock, Store, StoreOptions};

use crate::Done;

/// How many kinds `stats` lists by count.
const TOP_KINDS: usize = 10;
/// Events removed per write transaction by `delete`.
const DELETE_BATCH_EVENTS_MAX: usize = 10_000;

pub fn open(data_dir: &Path) -> Result<Store> {
    Store::open_existing(data_dir, &StoreOptions { as_stored_node: true, ..StoreOptions::default() })
        .with_context(|| format!("opening the store in {}", data_dir.display()))
}

fn lock(data_dir: &Path, command: &str) -> Result<DirectoryLock> {
    DirectoryLock::acquire(data_dir, &format!("parrhesia-tools {command}, pid {}", std::process::id()))
        .with_context(|| format!("{command} writes the store"))
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub fn stats(data_dir: &Path) -> Result<Done> {
    let store = open(data_dir)?;
    let kinds = store.kind_counts().context("counting kinds")?;
    let events: u64 = kinds.iter().map(|(_, count)| count).sum();
    let mut classes = [0u64; 4];
    for (kind, count) in &kinds {
        let class = match KindClass::of(*kind) {
            KindClass::Regular => 0,
            KindClass::Replaceable => 1,
            KindClass::Ephemeral => 2,
            KindClass::Addressable => 3,
        };
        classes[class] += count;
    }
    println!("stored events {events}: regular {}, replaceable {}, addressable {}", classes[0], classes[1], classes[3]);
    let mut top = kinds.clone();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let listed: Vec<String> = top.iter().take(TOP_KINDS).map(|(kind, count)| format!("{kind}: {count}")).collect();
    println!("top kinds: {}", listed.join(", "));
    println!();
    let tables = store.table_stats().context("reading table statistics")?;
    let total: u64 = tables.iter().map(|table| table.bytes).sum();
    let per_event = |bytes: u64| if events == 0 { 0.0 } else { bytes as f64 / events as f64 };
    println!("{:<18} {:>12} {:>14} {:>12}", "table", "entries", "bytes", "bytes/event");
    for table in &tables {
        let (name, bytes) = (table.name, table.bytes);
        let note = if table.main_tree_only { "  (main tree only: its sub-databases are not counted)" } else { "" };
        println!("{name:<18} {:>12} {bytes:>14} {:>12.1}{note}", table.entries, per_event(bytes));
    }
    println!("{:<18} {:>12} {:>14} {:>12.1}", "total", events, total, per_event(total));
    let space = store.space().context("reading page counts")?;
    let file_bytes = std::fs::metadata(data_dir.join("data.mdb")).map(|metadata| metadata.len()).unwrap_or(0);
    println!();
    println!(
        "file {:.1} MiB; {} pages of {} bytes in use up to the last, {} in no table's count ({:.1} MiB: free \
         pages, which `compact` gives back, and the sub-databases of the tables marked above; `compact --out DIR` \
         measures the store exactly)",
        mebibytes(file_bytes),
        space.pages,
        space.page_bytes,
        space.free_pages,
        mebibytes(space.free_pages * space.page_bytes)
    );
    Ok(Done::Ok)
}

pub fn compact(data_dir: &Path, out: Option<&Path>, replace: bool) -> Result<Done> {
    let before = std::fs::metadata(data_dir.join("data.mdb")).map(|metadata| metadata.len()).unwrap_or(0);
    let started = Instant::now();
    if let Some(out) = out {
        let store = open(data_dir)?;
        let after = store.compact_to(out).with_context(|| format!("writing the copy in {}", out.display()))?;
        eprintln!(
            "compacted {} into {}: {:.1} MiB -> {:.1} MiB in {:.1} s",
            data_dir.display(),
            out.display(),
            mebibytes(before),
            mebibytes(after),
            started.elapsed().as_secs_f64()
        );
        return Ok(Done::Ok);
    }
    assert!(replace, "clap requires --out or --replace");
    let _lock = lock(data_dir, "compact --replace")?;
    let store = open(data_dir)?;
    let staging = data_dir.join("compact.partial");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    }
    let after = store.compact_to(&staging).context("writing the compacted copy")?;
    store.close();
    // The rename is atomic: the store is either the old file or the whole compacted copy.
    std::fs::rename(staging.join("data.mdb"), data_dir.join("data.mdb")).context("swapping in the compacted copy")?;
    let _ = std::fs::remove_dir_all(&staging);
    // Check the swapped-in store opens before saying it worked.
    drop(open(data_dir)?);
    eprintln!(
        "compacted {} in place: {:.1} MiB -> {:.1} MiB in {:.1} s",
        data_dir.display(),
        mebibytes(before),
        mebibytes(after),
        started.elapsed().as_secs_f64()
    );
    Ok(Done::Ok)
}

pub fn verify(data_dir: &Path) -> Result<Done> {
    let store = open(data_dir)?;
    let bar = crate::progress::counter("events checked");
    let started = Instant::now();
    let report = store.verify(|checked| bar.set_position(checked)).context("reading the store")?;
    bar.finish_and_clear();
    for problem in &report.shown {
        println!("{problem}");
    }
    if report.problems as usize > report.shown.len() {
        println!("... and {} more", report.problems as usize - report.shown.len());
    }
    eprintln!(
        "verified {}: {} events, {} index entries, {} problems; {:.1} s",
        data_dir.display(),
        report.events,
        report.index_entries,
        report.problems,
        started.elapsed().as_secs_f64()
    );
    Ok(if report.problems == 0 { Done::Ok } else { Done::ProblemsFound })
}

pub fn reindex(data_dir: &Path, kinds: Option<&[u16]>) -> Result<Done> {
    let _lock = lock(data_dir, "reindex")?;
    let bar = crate::progress::counter("events read");
    let started = Instant::now();
    let report = parrhesia_storage::reindex_search(data_dir, kinds, |read| bar.set_position(read))
        .with_context(|| format!("re-indexing {}", data_dir.display()))?;
    bar.finish_and_clear();
    eprintln!(
        "re-indexed {}: {} events read, {} of kinds {:?} in the search index; {:.1} s",
        data_dir.display(),
        report.events,
        report.indexed,
        report.kinds,
        started.elapsed().as_secs_f64()
    );
    Ok(Done::Ok)
}

/// How `delete` removes: from this store only, or as an admin's `banevent` per event.
pub struct Deletion<'a> {
    pub filters: &'a [Filter],
    pub dry_run: bool,
    /// The admin's key file: each event is removed by a policy entry banning its id, which
    /// replicates to every node of a cluster and keeps the event out everywhere.
    pub admin_key: Option<&'a Path>,
    pub reason: &'a str,
    /// How long the bans last (their NIP-40 expiration); 0: until lifted.
    pub keep_out_seconds: u64,
}

pub fn delete(data_dir: &Path, deletion: &Deletion) -> Result<Done> {
    if deletion.filters.iter().any(Filter::matches_everything) {
        bail!("the filter matches every event; to empty the store, remove its directory");
    }
    let admin = deletion.admin_key.map(crate::admin::load_secret).transpose()?;
    let _lock = if deletion.dry_run { None } else { Some(lock(data_dir, "delete")?) };
    let options = StoreOptions {
        as_stored_node: true,
        admin_pubkeys: admin.iter().map(|keys| *keys.public_key()).collect(),
        ..StoreOptions::default()
    };
    let store = Store::open_existing(data_dir, &options)
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let seqs = store.matching(deletion.filters, crate::unix_now()).context("finding the matching events")?;
    if deletion.dry_run {
        eprintln!("would delete {} events from {} (dry run)", seqs.len(), data_dir.display());
        return Ok(Done::Ok);
    }
    let bar = crate::progress::counter("events deleted");
    let mut removed = 0;
    for batch in seqs.chunks(DELETE_BATCH_EVENTS_MAX) {
        removed += match &admin {
            Some(admin) => ban_events(&store, admin, batch, deletion)?,
            None => store.remove_events(batch, DELETE_BATCH_EVENTS_MAX).context("deleting")?,
        };
        bar.set_position(removed);
    }
    store.flush().context("flushing the store")?;
    bar.finish_and_clear();
    eprintln!("deleted {removed} events from {}", data_dir.display());
    if admin.is_none() && store.node_id() != &[0; 32] {
        eprintln!(
            "from this store only: its peers still hold them and will send them back; pass --admin-key \
             (a key in admin_pubkeys) to delete them on every node and keep them out"
        );
    }
    Ok(Done::Ok)
}

/// Removes the events `seqs` by storing, for each, a policy entry banning its id (NIP-86
/// `banevent`, signed by `admin` as the relay would have recorded the call, expiring after
/// `keep_out_seconds` if not 0). Returns how many events went.
fn ban_events(store: &Store, admin: &parrhesia_engine::Keys, seqs: &[u64], deletion: &Deletion) -> Result<u64> {
    use parrhesia_engine::policy::Change;
    let (now, now_ms) = (crate::unix_now(), crate::unix_now_ms());
    let entries: Vec<parrhesia_engine::Event> = store
        .ids_of(seqs)?
        .into_iter()
        .map(|id| {
            let change = Change::BanEvent(id, deletion.reason.to_string());
            let body = parrhesia_engine::management::body(&change);
            let request = parrhesia_engine::nip98::HttpRequest {
                url: "parrhesia-tools:delete",
                method: "POST",
                body: body.as_bytes(),
            };
            let expiration = (deletion.keep_out_seconds > 0).then(|| now.saturating_add(deletion.keep_out_seconds));
            let auth = parrhesia_engine::nip98::sign_until(admin, &request, now, expiration);
            parrhesia_engine::policy_log::entry_event(admin, &auth, &body, &change, store.node_id(), now_ms)
        })
        .collect();
    let outcomes = store.apply(&entries, now).context("storing the bans")?;
    if let Some(refused) = outcomes.iter().find_map(|outcome| match outcome {
        parrhesia_storage::Outcome::Rejected(reason) => Some(reason),
        _ => None,
    }) {
        bail!("the store refused a ban: {refused}");
    }
    Ok(entries.len() as u64)
}

/// Gives the store to the node key in `key_file` (a rotated key; the relay must be stopped).
pub fn rekey(data_dir: &Path, key_file: &Path) -> Result<Done> {
    let key = parrhesia_net::NodeKey::load(key_file).with_context(|| format!("loading {}", key_file.display()))?;
    let _lock = lock(data_dir, "rekey")?;
    let mut store = open(data_dir)?;
    let previous = store.rekey(key.public()).context("writing the store's node id")?;
    let (previous, now) = (parrhesia_engine::hex::encode(&previous), parrhesia_engine::hex::encode(&key.public()));
    if previous == now {
        println!("the store already belongs to {now}");
    } else {
        println!("the store belonged to {previous} and now belongs to {now}; the logs of {previous} stay as held logs");
    }
    Ok(Done::Ok)
}
