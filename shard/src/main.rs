//! The `parrhesia` relay binary: command line, configuration, logging, then the runtime.

mod client;
mod cluster;
mod config;
mod executor;
mod members;
mod messages;
mod metrics;
mod mirror;
mod monitor;
mod notify;
mod plugin;
mod rate;
mod relay_info;
mod runtime;
mod serve;
mod shard;
mod startup;
mod system;
mod undurable;
mod writer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// A Nostr relay: one shard per core, one LMDB store, one group-committing writer.
///
/// Configuration layers, later ones winning: built-in defaults, the TOML file given with
/// --config, PARRHESIA_<KEY> environment variables (e.g. PARRHESIA_LISTEN), then flags.
/// Every configuration key can be set with --set KEY=VALUE; see README.md for the keys.
///
/// Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 1 on a startup or runtime error,
/// 2 on bad command-line usage.
#[derive(Parser, Debug)]
#[command(name = "parrhesia", version)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7777].
    #[arg(long, value_name = "ADDRESS")]
    listen: Option<String>,
    /// Directory of the LMDB store [default: ./parrhesia-data].
    #[arg(long, value_name = "DIRECTORY")]
    data_dir: Option<PathBuf>,
    /// Number of shards (executors); 0 means one per core [default: 0].
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
    /// `fsync` (every group commit is durable) or `nosync` (flushed on a timer) [default: fsync].
    #[arg(long, value_name = "MODE")]
    durability: Option<String>,
    /// Log filter, e.g. `info`, `debug`, `parrhesia=debug` [default: info].
    #[arg(long, value_name = "FILTER")]
    log: Option<String>,
    /// Print every configuration key with its default and meaning (a complete sample
    /// parrhesia.toml), then exit.
    #[arg(long)]
    print_config: bool,
    /// Load and check the configuration (every layer), print the result as TOML, and exit:
    /// 0 if it is valid, 1 naming the key that is not.
    #[arg(long)]
    check_config: bool,
    /// Any configuration key, e.g. --set outbound_bytes_max=1048576 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_assignment)]
    assignments: Vec<(String, String)>,
}

fn parse_assignment(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))?;
    Ok((key.trim().to_string(), value.to_string()))
}

/// glibc gives the free memory at the top of a thread's heap back to the kernel once it passes
/// 128 KiB (`madvise`, which costs a TLB shootdown on every core the relay runs on), and the
/// next allocation faults the same pages in again, zeroed. A shard's outbound staging chunks
/// (64 KiB, freed when a connection goes idle) and query buffers churn across that line
/// constantly: a profile at 2,000 queries/s had 7.4% of the relay's CPU in page faults from
/// `push_stored`'s first write into a fresh chunk plus 1.8% in `madvise` (about 320 calls a
/// second). Keeping up to 8 MiB per heap ends both (no `madvise`, `mmap` or `munmap` left in
/// that workload) for 1.07-1.11x queries per CPU-second at the same peak RSS. An operator's own
/// `GLIBC_TUNABLES` setting of the threshold wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_heap_memory() {
    const TRIM_THRESHOLD_BYTES: libc::c_int = 8 << 20;
    if std::env::var("GLIBC_TUNABLES").is_ok_and(|tunables| tunables.contains("trim_threshold")) {
        return;
    }
    // SAFETY: mallopt only sets a parameter of glibc's allocator; called before any thread
    // starts.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_heap_memory() {}

fn main() -> ExitCode {
    keep_freed_heap_memory();
    let cli = Cli::parse();
    if cli.print_config {
        print!("{}", config::print_config());
        return ExitCode::SUCCESS;
    }
    let mut flags = cli.assignments.clone();
    let named = [
        ("listen", cli.listen.clone()),
        ("data_dir", cli.data_dir.as_ref().map(|path| path.display().to_string())),
        ("shards", cli.shards.map(|shards| shards.to_string())),
        ("durability", cli.durability.clone()),
        ("log", cli.log.clone()),
    ];
    flags.extend(named.into_iter().filter_map(|(key, value)| value.map(|value| (key.to_string(), value))));
    let config = match config::Config::load(cli.config.as_deref(), std::env::vars(), &flags) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("parrhesia: {error:#}");
            return ExitCode::from(1);
        }
    };
    if cli.check_config {
        match toml::to_string(&config) {
            Ok(text) => print!("{text}"),
            Err(error) => eprintln!("parrhesia: the configuration is valid but does not print: {error}"),
        }
        return ExitCode::SUCCESS;
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a person at a terminal, not in a file or a journal.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    match config.log_format {
        config::LogFormat::Text => logs.init(),
        config::LogFormat::Json => logs.json().init(),
    }
    let reload: cluster::reload::Load = {
        let file = cli.config.clone();
        Box::new(move || config::Config::load(file.as_deref(), std::env::vars(), &flags))
    };
    match runtime::run(config, reload) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("parrhesia: {error:#}");
            ExitCode::from(1)
        }
    }
}
