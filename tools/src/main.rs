//! `parrhesia-tools`: operator commands on a node's store and identity. Commands that write to
//! a store (import, delete, compact --replace) take the data directory's lock, which the relay
//! holds while it runs; commands that only read (export, stats, verify, compact --out) work
//! beside a running relay.

mod admin;
mod export;
mod health;
mod http;
mod import;
mod policy;
mod progress;
mod relay_socket;
mod store_commands;
mod sync;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use parrhesia_engine::write_policy::SourceType;
use parrhesia_engine::{Filter, Limits};
use parrhesia_net::NodeKey;

const EXIT_CODES: &str = "Exit codes: 0 done; 1 an error (named on stderr), or `verify` found problems; \
                          2 a wrong command line.";

#[derive(Parser)]
#[command(name = "parrhesia-tools", version, about = "Operator commands for a Parrhesia node", after_help = EXIT_CODES)]
struct Cli {
    /// The store's data directory [default: the relay's: --config's `data_dir`, else
    /// PARRHESIA_DATA_DIR, else ./parrhesia-data].
    #[arg(long, global = true, value_name = "DIRECTORY")]
    data_dir: Option<PathBuf>,
    /// The relay's TOML configuration file, for its `data_dir`.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write stored events as JSON lines (one event per line, the stored canonical JSON, as
    /// `strfry export` writes), oldest first. Read-only: the relay may keep running. A store of
    /// an older schema version (which the relay refuses) is exported in its sequence order;
    /// that is how a store is moved across a format change.
    Export {
        /// Where to write [default: standard output].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Only events matching this NIP-01 filter (a JSON object, or an array of them).
        #[arg(long, value_name = "JSON")]
        filter: Option<String>,
        /// Only events with created_at at or after this (Unix seconds).
        #[arg(long)]
        since: Option<u64>,
        /// Only events with created_at at or before this (Unix seconds).
        #[arg(long)]
        until: Option<u64>,
    },
    /// Store events from JSON lines: signatures checked on every core (unless --no-verify),
    /// written in large batches with every storage rule (duplicates, replaceable, deletions,
    /// expiration). Creates the store if needed and refuses while a relay holds it, unless
    /// --url publishes through that relay instead. Reports stored, duplicates, and each
    /// refusal by reason; bad lines by line number.
    Import {
        /// The JSON-lines file; `-` or nothing reads standard input.
        #[arg(value_name = "FILE|-")]
        file: Option<PathBuf>,
        /// Skip signature checks (only for files this relay exported itself).
        #[arg(long)]
        no_verify: bool,
        /// Publish through a running relay (ws://host:port) instead of writing the store.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// Events in flight at once with --url.
        #[arg(long, default_value_t = 256, value_name = "N")]
        window: usize,
        /// Events per write transaction. Large batches write each touched index page once per
        /// batch (LMDB copies pages on write): 20,000 imported 1M events about twice as fast
        /// as 1,000 here. Batches are not fsynced one by one (the store is flushed at the end):
        /// an interrupted import is simply run again.
        #[arg(long, default_value_t = 10_000, value_name = "N")]
        batch_events_max: usize,
        /// Put every event to this write-policy plugin first (strfry's protocol, sourceType
        /// "Import"; a path or a shell command): rejected and shadow-rejected events are not
        /// stored. Not with --url (the relay asks its own).
        #[arg(long, value_name = "COMMAND", conflicts_with = "url")]
        write_policy: Option<String>,
        /// How long the plugin may take to answer one event.
        #[arg(long, default_value_t = 10_000, value_name = "MS")]
        write_policy_timeout_ms: u64,
    },
    /// Events by kind class and the most common kinds, each table's entries and bytes, the
    /// file's size and its free pages (read-only).
    Stats,
    /// Write a compacted copy of the store (free pages left out) to --out; with --replace,
    /// swap it in for the store itself (the relay must be stopped).
    Compact {
        /// A directory for the copy (it must not hold a store).
        #[arg(long, value_name = "DIRECTORY", required_unless_present = "replace")]
        out: Option<PathBuf>,
        /// Replace the store with its compacted copy.
        #[arg(long, conflicts_with = "out")]
        replace: bool,
    },
    /// Check that every table agrees with every other (each event's JSON, index entries,
    /// `ids`, expirations, replaceable winners, log positions); prints each problem found and
    /// exits 1 if there is any. Read-only.
    Verify,
    /// Rebuild the NIP-50 search index over the stored events (the relay must be stopped):
    /// to index other kinds (then set the relay's `search_kinds` to the same list), or to
    /// finish a rebuild that was interrupted.
    Reindex {
        /// Kinds whose content to index, comma-separated [default: the kinds the store
        /// records, else the relay's default].
        #[arg(long, value_name = "KINDS", value_delimiter = ',')]
        search_kinds: Option<Vec<u16>>,
    },
    /// Remove the events matching --filter, or older than --age; --dry-run only counts them.
    /// The relay must be stopped. Nothing remembers them: a client may publish them again.
    Delete {
        /// A NIP-01 filter (JSON object or array of them); its limit is ignored.
        #[arg(long, value_name = "JSON", required_unless_present = "age")]
        filter: Option<String>,
        /// Events with created_at more than this many seconds ago.
        #[arg(long, value_name = "SECONDS", conflicts_with = "filter")]
        age: Option<u64>,
        #[arg(long)]
        dry_run: bool,
        /// A Nostr key file of one of the relay's `admin_pubkeys`: each event is removed by a
        /// ban of its id (NIP-86 `banevent`), which in a cluster reaches every node, removes it
        /// there and keeps it out of every store (replication, anti-entropy, import, sync).
        /// Without it the events leave this store only.
        #[arg(long, value_name = "FILE")]
        admin_key: Option<PathBuf>,
        /// The ban's reason, with --admin-key.
        #[arg(long, default_value = "deleted by the operator", requires = "admin_key")]
        reason: String,
        /// With --admin-key: days the bans keep the events out (each node then drops the ban,
        /// and an event sent again is taken again); 0 keeps them out until `allowevent`.
        #[arg(long, value_name = "DAYS", default_value_t = 365, requires = "admin_key")]
        keep_out_days: u64,
    },
    /// Write a new node key (ed25519) to FILE with mode 0600 and print its public key (64
    /// lowercase hex). Refuses to overwrite an existing file.
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// A Nostr (secp256k1) key instead: for the relay's `admin_pubkeys` and `admin --key`.
        #[arg(long)]
        nostr: bool,
    },
    /// Call the relay's NIP-86 management API: METHOD with PARAMS (each JSON if it reads as
    /// JSON, like 1 or "text", else the text), authorized by a NIP-98 header signed with the
    /// Nostr key in --key (`keygen --nostr`; its pubkey in the relay's `admin_pubkeys`). Prints
    /// the result; the relay's error exits 1. Methods: `supportedmethods` lists them.
    Admin {
        /// The relay, http:// or ws:// (a TLS relay on its local address).
        url: String,
        method: String,
        params: Vec<String>,
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The URL to sign when the relay knows itself by another (its `relay_url`, e.g.
        /// wss://relay.example.com behind a TLS proxy) [default: URL].
        #[arg(long, value_name = "URL")]
        signed_url: Option<String>,
    },
    /// Check that a relay answers: its NIP-11 document, read over HTTP within --timeout-ms,
    /// names NIP-01 among its supported NIPs. Exits 0 and prints the relay's name and software
    /// if so, else exits 1 saying what failed: a container HEALTHCHECK or a Kubernetes probe.
    Health {
        /// The relay, http:// or ws:// [default: PARRHESIA_LISTEN's address (an unspecified
        /// address read as loopback), else http://127.0.0.1:7777].
        url: Option<String>,
        #[arg(long, default_value_t = 5000, value_name = "MS")]
        timeout_ms: u64,
    },
    /// Print the store's audit log of management calls, oldest first, one JSON object a line.
    /// Read-only: the relay may keep running.
    Audit {
        /// Print instead every policy change the store holds (the policy log: changes made on
        /// any node of the cluster), with the node it was made on and whether it is in force.
        #[arg(long)]
        changes: bool,
    },
    /// Print the public key of the node key in FILE.
    Pubkey { file: PathBuf },
    /// Give the store to another node key (a rotated key; the relay must be stopped): its
    /// next run starts its own log under the new key, and the old key's logs stay as held
    /// logs, served to peers (see the README's key rotation recipe).
    Rekey {
        /// The new node key (`keygen --out FILE`).
        #[arg(long, value_name = "FILE")]
        node_key_file: PathBuf,
    },
    /// Reconcile the local store (the relay stopped) with a relay by NIP-77 negentropy, then
    /// fetch what only it holds (down), publish what only the store holds (up), or both.
    /// Prints a summary: have (here only), need (there only), transferred, failed by reason.
    Sync {
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Catches the local store (the relay stopped) up with any relay, once, as a `[[mirror]]`
    /// stream's catch-up does: by NIP-77 when the relay reconciles, else by REQ pages walking
    /// back (down) and publishing what the pages did not bring (up).
    Mirror {
        #[command(flatten)]
        remote: RemoteArgs,
        /// Only events dated within this many seconds of now; 0: every age.
        #[arg(long, default_value_t = 7 * 86_400, value_name = "SECONDS")]
        since_seconds: u64,
    },
}

/// What `sync` and `mirror` are told of the other relay and the transfer.
#[derive(clap::Args, Debug)]
struct RemoteArgs {
    /// The other relay: ws://host:port or wss://host (`sync`: one that speaks NIP-77).
    url: String,
    /// Only events matching this NIP-01 filter (one JSON object) [default: every event].
    #[arg(long, value_name = "JSON")]
    filter: Option<String>,
    #[arg(long, value_enum, default_value = "down")]
    dir: sync::Direction,
    /// EVENTs in flight at once when publishing (up).
    #[arg(long, default_value_t = 256, value_name = "N")]
    window: usize,
    /// Put every downloaded event to this write-policy plugin first (strfry's protocol,
    /// sourceType "Sync" for `sync`, "Stream" for `mirror`; a path or a shell command):
    /// refused ones are not stored.
    #[arg(long, value_name = "COMMAND")]
    write_policy: Option<String>,
    /// How long the plugin may take to answer one event.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    write_policy_timeout_ms: u64,
    /// PEM certificates trusted for a wss:// URL instead of the built-in roots.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let data_dir = || data_dir(cli.data_dir.as_deref(), cli.config.as_deref());
    let result = match cli.command {
        Command::Export { out, filter, since, until } => {
            data_dir().and_then(|dir| export::run(&dir, out.as_deref(), filter.as_deref(), since, until))
        }
        Command::Import { file, no_verify, url, window, batch_events_max, write_policy, write_policy_timeout_ms } => {
            let file = file.filter(|path| path.as_os_str() != "-");
            configured_search_kinds(cli.config.as_deref()).and_then(|search_kinds| {
                let batch_events_max = batch_events_max.max(1);
                let write_policy =
                    write_policy.map(|command| (command, Duration::from_millis(write_policy_timeout_ms)));
                let options = import::Options { verify: !no_verify, batch_events_max, search_kinds, write_policy };
                match url {
                    Some(url) => import::publish(&url, file.as_deref(), &options, window.max(1)),
                    None => data_dir().and_then(|dir| import::run(&dir, file.as_deref(), &options)),
                }
            })
        }
        Command::Stats => data_dir().and_then(|dir| store_commands::stats(&dir)),
        Command::Compact { out, replace } => {
            data_dir().and_then(|dir| store_commands::compact(&dir, out.as_deref(), replace))
        }
        Command::Verify => data_dir().and_then(|dir| store_commands::verify(&dir)),
        Command::Reindex { search_kinds } => {
            data_dir().and_then(|dir| store_commands::reindex(&dir, search_kinds.as_deref()))
        }
        Command::Delete { filter, age, dry_run, admin_key, reason, keep_out_days } => data_dir().and_then(|dir| {
            let filters = match (filter, age) {
                (Some(filter), _) => parse_filters(&filter)?,
                (None, Some(age)) => {
                    vec![Filter { until: Some(unix_now().saturating_sub(age + 1)), ..Filter::default() }]
                }
                (None, None) => unreachable!("clap requires one"),
            };
            let deletion = store_commands::Deletion {
                filters: &filters,
                dry_run,
                admin_key: admin_key.as_deref(),
                reason: &reason,
                keep_out_seconds: keep_out_days.saturating_mul(86_400),
            };
            store_commands::delete(&dir, &deletion)
        }),
        Command::Sync { remote } => data_dir().and_then(|directory| remote.sync(&directory, 0, false)),
        Command::Mirror { remote, since_seconds } => data_dir().and_then(|directory| {
            let since = if since_seconds == 0 { 0 } else { unix_now().saturating_sub(since_seconds) };
            remote.sync(&directory, since, true)
        }),
        Command::Keygen { out, nostr: false } => keygen(&out),
        Command::Keygen { out, nostr: true } => admin::keygen(&out),
        Command::Admin { url, method, params, key, signed_url } => {
            admin::run(&url, signed_url.as_deref(), &method, &params, &key)
        }
        Command::Health { url, timeout_ms } => health::run(url.as_deref(), Duration::from_millis(timeout_ms)),
        Command::Audit { changes } => data_dir().and_then(|dir| admin::audit(&dir, changes)),
        Command::Rekey { node_key_file } => data_dir().and_then(|dir| store_commands::rekey(&dir, &node_key_file)),
        Command::Pubkey { file } => NodeKey::load(&file)
            .map(|key| {
                println!("{}", key.public_hex());
                Done::Ok
            })
            .map_err(Into::into),
    };
    match result {
        Ok(Done::Ok) => ExitCode::SUCCESS,
        Ok(Done::ProblemsFound) => ExitCode::from(1),
        Err(error) => {
            eprintln!("parrhesia-tools: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// How a command that ran to its end went.
pub enum Done {
    Ok,
    /// `verify` found problems (exit code 1).
    ProblemsFound,
}

/// The data directory: the flag, else the environment, else the relay's configuration file,
/// else the relay's default. (The relay's own order is file < environment < flags.)
fn data_dir(flag: Option<&Path>, config: Option<&Path>) -> Result<PathBuf> {
    if let Some(directory) = flag {
        return Ok(directory.to_path_buf());
    }
    if let Some(directory) = std::env::var_os("PARRHESIA_DATA_DIR") {
        return Ok(directory.into());
    }
    if let Some(path) = config {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let table: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if let Some(directory) = table.get("data_dir") {
            let directory =
                directory.as_str().with_context(|| format!("`data_dir` in {} is not a string", path.display()))?;
            return Ok(directory.into());
        }
    }
    Ok(PathBuf::from("./parrhesia-data"))
}

/// `search_kinds` from the relay's configuration file, if one is given and sets it.
fn configured_search_kinds(config: Option<&Path>) -> Result<Option<Vec<u16>>> {
    let Some(path) = config else { return Ok(None) };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let Some(kinds) = table.get("search_kinds") else { return Ok(None) };
    let invalid = || anyhow::anyhow!("`search_kinds` in {} is not a list of kinds (0-65535)", path.display());
    let kinds = kinds.as_array().ok_or_else(invalid)?;
    let kinds =
        kinds.iter().map(|kind| kind.as_integer().and_then(|kind| u16::try_from(kind).ok()).ok_or_else(invalid));
    kinds.collect::<Result<Vec<u16>>>().map(Some)
}

/// One filter object or an array of them; limits are those of the relay's defaults, except
/// that the tools accept any number of values.
impl RemoteArgs {
    /// Runs `sync` (`pages_when_refused` false) or `mirror` over events dated from `since`.
    fn sync(self, directory: &Path, since: u64, pages_when_refused: bool) -> Result<Done> {
        let filter = one_filter(self.filter.as_deref())?;
        let timeout = Duration::from_millis(self.write_policy_timeout_ms);
        let plugin = self.write_policy.map(|command| policy::Plugin::start(&command, timeout)).transpose()?;
        let source = if pages_when_refused { SourceType::Stream } else { SourceType::Sync };
        let options = sync::Options {
            direction: self.dir,
            window: self.window,
            plugin: plugin.map(|plugin| (plugin, source)),
            since,
            pages_when_refused,
            ca_file: self.ca_file,
        };
        sync::run(directory, &self.url, &filter, options)
    }
}

/// `--filter` as one filter (negentropy reconciles one), every event without it.
fn one_filter(text: Option<&str>) -> Result<Filter> {
    match text {
        Some(text) => match parse_filters(text)?.as_slice() {
            [filter] => Ok(filter.clone()),
            _ => anyhow::bail!("--filter: negentropy reconciles one filter (a JSON object)"),
        },
        None => Ok(Filter::default()),
    }
}

fn parse_filters(text: &str) -> Result<Vec<Filter>> {
    let limits = Limits { values_per_filter_field_max: usize::MAX, ..Limits::default() };
    let value: serde_json::Value = serde_json::from_str(text).context("--filter is not JSON")?;
    let objects = match value {
        serde_json::Value::Array(items) => items,
        object => vec![object],
    };
    objects
        .iter()
        .map(|object| {
            Filter::parse(&object.to_string(), &limits).map_err(|reason| anyhow::anyhow!("--filter: {reason}"))
        })
        .collect()
}

pub fn unix_now() -> u64 {
    unix_now_ms() / 1000
}

pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}

fn keygen(out: &Path) -> Result<Done> {
    let key = NodeKey::generate()?;
    key.write_new(out)?;
    println!("{}", key.public_hex());
    Ok(Done::Ok)
}
