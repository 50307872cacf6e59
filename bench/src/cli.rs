//! The command line: one clap struct per subcommand, defaults, units and validation, and the
//! conversion into each workload's typed options.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::connect::{ConnectOptions, parse_source_addresses};
use crate::fanout::FanoutOptions;
use crate::generate::GenerateOptions;
use crate::ingest::IngestOptions;
use crate::mixed::MixedOptions;
use crate::query::QueryOptions;

const EXIT_CODES: &str = "\
Exit codes:
  0  the run finished and measured something
  1  an error (reading or writing a file, a bench bug)
  2  the relay could not be reached (refused, timed out, unresolvable, upgrade refused), or the
     command line is wrong
  3  the run produced no data: nothing accepted (the reasons are printed), no query answered,
     no event delivered, no connection established
  4  slo: the run finished and at least one SLO was missed (each is printed with PASS/FAIL)

Output: a summary for people on stderr (with a progress line during the run), and one JSON
object per metric on stdout: {\"name\", \"value\", \"unit\", \"workload\", \"url\", \"parameters\",
\"unix_seconds\"}. --json-out FILE writes the same lines to FILE.";

/// Load generator for Nostr relays: standard NIP-01 over WebSocket, so it measures any relay.
#[derive(Debug, Parser)]
#[command(name = "parrhesia-bench", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pre-sign a realistic event mix into a JSONL file (deterministic for a seed).
    Gen(GenArgs),
    /// Open many connections at a set rate, hold them, report connect latency and failures.
    Connect(ConnectArgs),
    /// Publish a gen file, pipelined; report accepted events/s, OK latency, rejections.
    Ingest(IngestArgs),
    /// Run a mix of REQ shapes against a preloaded relay; report REQ->EOSE latency per shape.
    Query(QueryArgs),
    /// Publish fresh events to many subscribers; report deliveries/s and publish->deliver latency.
    Fanout(FanoutArgs),
    /// Ingest, query and fanout at the same time.
    Mixed(MixedArgs),
    /// Wait until a relay holds N events matching a filter (NIP-45 COUNT); report how long it
    /// took and how fast the count grew (a cluster node's replication or catch-up).
    Converge(ConvergeArgs),
    /// Run a workload across --shards settings, starting the relay from a command template for
    /// each run; print the JSON lines of every run, a table of medians per setting and where
    /// adding shards stopped paying; --plot draws it. The workload's options follow `--` (its
    /// URL and --server-pid are set by the sweep).
    Sweep(SweepArgs),
    /// Draw the medians of metrics against a parameter from saved JSON lines, as SVG.
    Plot(PlotArgs),
    /// A cluster's service levels: publish on one node, subscribe on the others (stored, then
    /// ephemeral events), read every node's /metrics; print each SLO with its value and
    /// PASS/FAIL against the thresholds given (exit 4 if one fails). With --stop-cmd and
    /// --start-cmd, also how long a restarted node takes to catch up.
    Slo(SloArgs),
}

#[derive(Debug, Args)]
pub struct SloArgs {
    #[arg(long = "publish-url", default_value = "ws://127.0.0.1:7777")]
    pub publish_url: String,
    /// The other nodes, where subscribers connect (comma-separated or repeated).
    #[arg(long = "subscribe-url", value_delimiter = ',', required = true)]
    pub subscribe_urls: Vec<String>,
    /// Every node's metrics page, http://host:port/metrics (comma-separated or repeated).
    #[arg(long = "metrics-url", value_delimiter = ',', required = true)]
    pub metrics_urls: Vec<String>,
    /// Published events per second, all publishers together (the nominal load).
    #[arg(long, default_value_t = 100.0, value_parser = positive_f64)]
    pub rate: f64,
    /// Length of each of the two runs (stored, ephemeral).
    #[arg(long = "duration", value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    pub duration: Duration,
    #[command(flatten)]
    pub knobs: FanoutKnobs,
    /// SLO: p95 of origin commit to remote fanout enqueue, in milliseconds.
    #[arg(long = "remote-enqueue-p95-ms", default_value_t = 50.0)]
    pub remote_enqueue_p95_ms: f64,
    /// SLO: ephemeral events lost between nodes, as a fraction of those expected.
    #[arg(long = "ephemeral-loss-max", default_value_t = 0.001, value_parser = fraction)]
    pub ephemeral_loss_max: f64,
    /// Stops the node to restart (run with `sh -c`; returns once it is down).
    #[arg(long = "stop-cmd", requires_all = ["start_command", "restart_url"])]
    pub stop_command: Option<String>,
    /// Starts it again (returns at once or once it runs).
    #[arg(long = "start-cmd")]
    pub start_command: Option<String>,
    /// The restarted node's WebSocket URL.
    #[arg(long = "restart-url")]
    pub restart_url: Option<String>,
    /// Stored events published elsewhere while it is down.
    #[arg(long = "catch-up-events", default_value_t = 1000)]
    pub catch_up_events: u64,
    /// SLO: seconds from its start until it holds them all.
    #[arg(long = "catch-up-seconds-max", default_value_t = 30.0)]
    pub catch_up_seconds_max: f64,
    /// Also write the JSON lines to this file.
    #[arg(long = "json-out", value_name = "FILE")]
    pub json_out: Option<PathBuf>,
}

impl SloArgs {
    pub fn options(&self) -> crate::slo::SloOptions {
        let catch_up = match (&self.stop_command, &self.start_command, &self.restart_url) {
            (Some(stop), Some(start), Some(url)) => Some(crate::slo::CatchUp {
                stop_command: stop.clone(),
                start_command: start.clone(),
                url: url.clone(),
                events: self.catch_up_events,
                seconds_max: self.catch_up_seconds_max,
                timeout: Duration::from_secs_f64(self.catch_up_seconds_max * 4.0 + 10.0),
            }),
            _ => None,
        };
        crate::slo::SloOptions {
            publish_url: self.publish_url.clone(),
            subscribe_urls: self.subscribe_urls.clone(),
            metrics_urls: self.metrics_urls.clone(),
            fanout: FanoutOptions { kind: 1, ..self.knobs.options(self.rate, self.duration) },
            ephemeral_kind: 20001,
            remote_enqueue_p95_ms: self.remote_enqueue_p95_ms,
            ephemeral_loss_max: self.ephemeral_loss_max,
            catch_up,
        }
    }
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The relay's command line; {listen}, {data} and {shards} are filled in for each run
    /// (run with `sh -c`), e.g. "parrhesia --listen {listen} --data-dir {data} --shards {shards}".
    #[arg(long = "relay-cmd", value_name = "TEMPLATE")]
    pub relay_command: String,
    /// The settings, comma-separated.
    #[arg(long, value_delimiter = ',', required = true, value_parser = positive_usize)]
    pub shards: Vec<usize>,
    /// Runs per setting (the table shows medians).
    #[arg(long, default_value_t = 3, value_parser = positive_usize)]
    pub runs: usize,
    /// A store directory copied afresh for every run (query and mixed need a preloaded one);
    /// without it every run starts on an empty store.
    #[arg(long, value_name = "DIRECTORY")]
    pub prepared: Option<PathBuf>,
    /// Draw throughput and p99 latency against the setting into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// A setting whose throughput gain over the previous one is below this fraction stopped
    /// paying.
    #[arg(long = "gain-threshold", default_value_t = 0.1, value_parser = fraction)]
    pub gain_threshold: f64,
    /// How long a relay may take to answer after it was started.
    #[arg(long = "startup-timeout", value_name = "SECONDS", default_value = "30", value_parser = seconds)]
    pub startup_timeout: Duration,
    /// Also write every run's JSON lines to this file.
    #[arg(long = "json-out", value_name = "FILE")]
    pub json_out: Option<PathBuf>,
    /// The workload to run at each setting.
    #[arg(long, value_parser = ["ingest", "query", "fanout", "mixed"])]
    pub workload: String,
    /// The workload's own options, after `--`: `-- --file events.jsonl --connections 8`.
    #[arg(last = true, value_name = "WORKLOAD OPTIONS")]
    pub workload_options: Vec<String>,
}

impl SweepArgs {
    pub fn options(&self) -> anyhow::Result<crate::sweep::SweepOptions> {
        let mut workload = vec![self.workload.clone()];
        workload.extend(self.workload_options.iter().cloned());
        Ok(crate::sweep::SweepOptions {
            relay_command: self.relay_command.clone(),
            shards: self.shards.clone(),
            runs: self.runs,
            prepared: self.prepared.clone(),
            workload,
            plot: self.plot.clone(),
            gain_threshold: self.gain_threshold,
            startup_timeout: self.startup_timeout,
            json_out: self.json_out.clone(),
        })
    }
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// JSON-lines files written by any workload or sweep.
    #[arg(required = true, value_name = "FILE.jsonl")]
    pub files: Vec<PathBuf>,
    /// The numeric parameter on the x axis.
    #[arg(long, default_value = "shards")]
    pub x: String,
    /// A metric to draw (its median per x value); repeat for more panels.
    #[arg(long, required = true)]
    pub y: Vec<String>,
    /// The SVG file to write.
    #[arg(long, value_name = "FILE.svg")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ConvergeArgs {
    #[arg(long, default_value = "ws://127.0.0.1:7777")]
    pub url: String,
    /// The filter to count, as JSON.
    #[arg(long, default_value = "{}")]
    pub filter: String,
    /// The count to wait for.
    #[arg(long)]
    pub count: u64,
    #[arg(long = "timeout", value_name = "SECONDS", default_value = "120", value_parser = seconds)]
    pub timeout: Duration,
    /// Time between two COUNTs.
    #[arg(long = "interval-ms", value_name = "MILLISECONDS", default_value_t = 20)]
    pub interval_milliseconds: u64,
    /// Write the JSON metrics here instead of stdout.
    #[arg(long = "json-out", value_name = "FILE")]
    pub json_out: Option<PathBuf>,
}

/// Options every relay workload has.
#[derive(Debug, Args)]
pub struct Common {
    /// The relay's process id on this host: report its CPU seconds, work per CPU-second and
    /// peak RSS (read from /proc).
    #[arg(long = "server-pid", value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Also write the JSON metric lines to this file.
    #[arg(long = "json-out", value_name = "FILE")]
    pub json_out: Option<PathBuf>,
    /// Offer permessage-deflate on every connection (the relay then compresses what it
    /// sends); `client.wire_bytes_received` shows the bytes read off the sockets either way.
    #[arg(long)]
    pub deflate: bool,
    /// Authenticate every connection (NIP-42) as the key of 32 bytes of this seed; the relay
    /// must send its challenge on connect (`auth_challenge_on_connect = true`).
    #[arg(long = "auth-seed", value_name = "BYTE", value_parser = clap::value_parser!(u8).range(1..))]
    pub auth_seed: Option<u8>,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Events to generate.
    #[arg(long, value_parser = positive_u64)]
    pub events: u64,
    /// Output file (JSONL, one event per line).
    #[arg(long)]
    pub out: PathBuf,
    /// Distinct authors [default: events / 20, between 10 and 100,000].
    #[arg(long, value_parser = positive_usize)]
    pub authors: Option<usize>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// created_at of the first event (fixed by default, so a seed always gives the same file).
    #[arg(long = "start-unix", value_name = "SECONDS", default_value_t = 1_700_000_000)]
    pub start_unix_seconds: u64,
    /// The events' created_at spread over this many seconds, in file order.
    #[arg(long = "span", value_name = "SECONDS", default_value_t = 30 * 86_400)]
    pub span_seconds: u64,
    /// Signing threads [default: the number of cores].
    #[arg(long, value_parser = positive_usize)]
    pub threads: Option<usize>,
    /// Also write the JSON metric lines to this file.
    #[arg(long = "json-out", value_name = "FILE")]
    pub json_out: Option<PathBuf>,
    /// Offer permessage-deflate on every connection (the relay then compresses what it
    /// sends); `client.wire_bytes_received` shows the bytes read off the sockets either way.
    #[arg(long)]
    pub deflate: bool,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    #[arg(long, default_value = "ws://127.0.0.1:7777")]
    pub url: String,
    /// Connections to open.
    #[arg(long, default_value_t = 1000, value_parser = positive_usize)]
    pub connections: usize,
    /// New connections per second.
    #[arg(long, default_value_t = 1000.0, value_parser = positive_f64)]
    pub rate: f64,
    /// Seconds to hold the connections once all were attempted.
    #[arg(long = "hold", value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    pub hold: Duration,
    /// Bind client sockets to these source addresses, round-robin (each has its own ~28k
    /// ephemeral ports): "127.0.0.1-127.0.0.8" or "127.0.0.1,127.0.0.2".
    #[arg(long = "source-addresses", value_name = "LIST", value_parser = source_addresses)]
    pub source_addresses: Option<SourceAddresses>,
    /// Per connection: TCP connect and, again, the WebSocket handshake.
    #[arg(long = "timeout-ms", value_name = "MILLISECONDS", default_value_t = 10_000)]
    pub timeout_milliseconds: u64,
    /// Connect attempts in flight at most (threads doing blocking connects).
    #[arg(long, default_value_t = 64, value_parser = positive_usize)]
    pub threads: usize,
    /// Each connection also opens one subscription, as idle clients of a real relay do.
    #[arg(long)]
    pub subscribe: bool,
    /// Split the connections over this many processes (one process may hold at most its
    /// open-file limit, 20,000 here: above ~19,900 connections use 2 or more).
    #[arg(long, default_value_t = 1, value_parser = positive_usize)]
    pub processes: usize,
    /// Internal: run as one of `--processes` children and write the result to FILE.
    #[arg(long = "child-report", hide = true)]
    pub child_report: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[arg(long, default_value = "ws://127.0.0.1:7777")]
    pub url: String,
    /// Events to publish (made by `gen`).
    #[arg(long)]
    pub file: PathBuf,
    #[arg(long, default_value_t = 4, value_parser = positive_usize)]
    pub connections: usize,
    /// Unanswered EVENTs allowed per connection.
    #[arg(long, default_value_t = 100, value_parser = positive_usize)]
    pub window: usize,
    /// Stop sending after this many seconds [default: when the events run out].
    #[arg(long = "duration", value_name = "SECONDS", value_parser = seconds)]
    pub duration: Option<Duration>,
    /// Publish only the file's first N events.
    #[arg(long, value_parser = positive_usize)]
    pub events: Option<usize>,
    /// A connection gives up when no OK came for this long while EVENTs wait.
    #[arg(long = "answer-timeout-ms", value_name = "MILLISECONDS", default_value_t = 30_000)]
    pub answer_timeout_milliseconds: u64,
    /// The relay has these events already (the same file again, to measure duplicates): a run
    /// answered without any event accepted is data, not a failure. Compare
    /// `ingest.answered_per_second` and `ingest.answered_per_server_cpu_second`.
    #[arg(long)]
    pub resend: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[arg(long, default_value = "ws://127.0.0.1:7777")]
    pub url: String,
    /// The gen file the relay was preloaded with (queries use its authors, ids and tags).
    #[arg(long)]
    pub file: PathBuf,
    #[arg(long, default_value_t = 4, value_parser = positive_usize)]
    pub connections: usize,
    #[arg(long = "duration", value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    pub duration: Duration,
    /// A REQ without EOSE after this long counts as timed out.
    #[arg(long = "query-timeout-ms", value_name = "MILLISECONDS", default_value_t = 10_000)]
    pub query_timeout_milliseconds: u64,
    /// The REQ shapes, comma-separated: authors_kinds, tag_e, tag_p, kinds, ids, multi,
    /// catch_up, search [default: all but search].
    #[arg(long, value_delimiter = ',', value_parser = shape)]
    pub shapes: Vec<crate::query::Shape>,
    /// Queries per second, all connections together, on a fixed schedule (an open loop: the
    /// latency at a stated load, counted from each REQ's slot). Without it each connection
    /// sends its next REQ when the last one is answered (a closed loop: the relay's capacity).
    #[arg(long, value_parser = positive_f64)]
    pub rate: Option<f64>,
    #[command(flatten)]
    pub common: Common,
}

/// The fanout knobs, shared by `fanout` and `mixed`.
#[derive(Debug, Args)]
pub struct FanoutKnobs {
    /// Subscribers (one connection and one subscription each).
    #[arg(long, default_value_t = 100)]
    pub subscribers: usize,
    /// Publishing connections.
    #[arg(long, default_value_t = 1, value_parser = positive_usize)]
    pub publishers: usize,
    /// Share of published events that match every subscriber's filter (0 to 1).
    #[arg(long = "match-fraction", default_value_t = 0.1, value_parser = fraction)]
    pub match_fraction: f64,
    /// Publish an ephemeral kind (20001, never stored) instead of kind 1.
    #[arg(long)]
    pub ephemeral: bool,
}

#[derive(Debug, Args)]
pub struct FanoutArgs {
    #[arg(long = "publish-url", default_value = "ws://127.0.0.1:7777")]
    pub publish_url: String,
    /// Where subscribers connect [default: the publish URL] (another node of a cluster).
    #[arg(long = "subscribe-url")]
    pub subscribe_url: Option<String>,
    /// Published events per second, all publishers together.
    #[arg(long, default_value_t = 100.0, value_parser = positive_f64)]
    pub rate: f64,
    #[arg(long = "duration", value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    pub duration: Duration,
    #[command(flatten)]
    pub knobs: FanoutKnobs,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct MixedArgs {
    #[arg(long, default_value = "ws://127.0.0.1:7777")]
    pub url: String,
    /// The gen file queries draw from (and ingest publishes, unless --ingest-file is given).
    #[arg(long)]
    pub file: PathBuf,
    /// Publish this file instead (e.g. another seed than the one the relay was preloaded with).
    #[arg(long = "ingest-file")]
    pub ingest_file: Option<PathBuf>,
    #[arg(long = "duration", value_name = "SECONDS", default_value = "30", value_parser = seconds)]
    pub duration: Duration,
    /// Ingest connections (0: no ingest).
    #[arg(long = "ingest-connections", default_value_t = 2)]
    pub ingest_connections: usize,
    /// Unanswered EVENTs allowed per ingest connection.
    #[arg(long, default_value_t = 50, value_parser = positive_usize)]
    pub window: usize,
    /// Query connections (0: no queries).
    #[arg(long = "query-connections", default_value_t = 2)]
    pub query_connections: usize,
    /// Fanout events published per second (0: no fanout).
    #[arg(long = "fanout-rate", default_value_t = 50.0)]
    pub fanout_rate: f64,
    #[command(flatten)]
    pub knobs: FanoutKnobs,
    #[command(flatten)]
    pub common: Common,
}

/// A parsed `--source-addresses` list (a newtype so clap keeps it as one value).
#[derive(Clone, Debug)]
pub struct SourceAddresses(pub Vec<IpAddr>);

fn source_addresses(text: &str) -> Result<SourceAddresses, String> {
    parse_source_addresses(text).map(SourceAddresses).map_err(|error| format!("{error:#}"))
}

fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text.parse().map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(value).map_err(|_| format!("{text:?} is not a non-negative number of seconds"))
}

fn positive_f64(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("{text:?} is not a positive number")),
    }
}

fn fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!("{text:?} is not a fraction between 0 and 1")),
    }
}

fn positive_u64(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(value) if value > 0 => Ok(value),
        _ => Err(format!("{text:?} is not a positive whole number")),
    }
}

fn shape(text: &str) -> Result<crate::query::Shape, String> {
    crate::query::Shape::from_name(text).ok_or_else(|| format!("{text:?} is not a query shape"))
}

fn positive_usize(text: &str) -> Result<usize, String> {
    positive_u64(text).map(|value| value as usize)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl GenArgs {
    pub fn options(&self) -> GenerateOptions {
        let default_authors = (self.events / 20).clamp(10, 100_000) as usize;
        GenerateOptions {
            events: self.events,
            authors: self.authors.unwrap_or(default_authors),
            seed: self.seed,
            start_unix_seconds: self.start_unix_seconds,
            span_seconds: self.span_seconds,
            threads: self.threads.unwrap_or_else(cores),
            out: self.out.clone(),
        }
    }
}

impl ConnectArgs {
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions {
            connections: self.connections,
            rate: self.rate,
            hold: self.hold,
            source_addresses: self.source_addresses.clone().map(|list| list.0).unwrap_or_default(),
            timeout: Duration::from_millis(self.timeout_milliseconds),
            threads: self.threads,
            subscribe: self.subscribe,
            processes: self.processes,
        }
    }
}

impl IngestArgs {
    pub fn options(&self) -> IngestOptions {
        IngestOptions {
            file: self.file.clone(),
            connections: self.connections,
            window: self.window,
            duration: self.duration,
            events: self.events,
            answer_timeout: Duration::from_millis(self.answer_timeout_milliseconds),
            resend: self.resend,
        }
    }
}

impl QueryArgs {
    pub fn options(&self) -> QueryOptions {
        QueryOptions {
            file: self.file.clone(),
            connections: self.connections,
            duration: self.duration,
            query_timeout: Duration::from_millis(self.query_timeout_milliseconds),
            shapes: if self.shapes.is_empty() { crate::query::SHAPES.to_vec() } else { self.shapes.clone() },
            rate: self.rate,
        }
    }
}

impl FanoutKnobs {
    fn options(&self, rate: f64, duration: Duration) -> FanoutOptions {
        FanoutOptions {
            subscribers: self.subscribers,
            publishers: self.publishers,
            rate,
            match_fraction: self.match_fraction,
            duration,
            kind: if self.ephemeral { 20001 } else { 1 },
        }
    }
}

impl FanoutArgs {
    pub fn subscribe_url(&self) -> &str {
        self.subscribe_url.as_deref().unwrap_or(&self.publish_url)
    }

    pub fn options(&self) -> FanoutOptions {
        self.knobs.options(self.rate, self.duration)
    }
}

impl MixedArgs {
    pub fn options(&self) -> MixedOptions {
        MixedOptions {
            ingest: IngestOptions {
                file: self.ingest_file.clone().unwrap_or_else(|| self.file.clone()),
                connections: self.ingest_connections,
                window: self.window,
                duration: Some(self.duration),
                events: None,
                answer_timeout: Duration::from_secs(30),
                resend: false,
            },
            query: QueryOptions {
                file: self.file.clone(),
                connections: self.query_connections,
                duration: self.duration,
                query_timeout: Duration::from_secs(10),
                shapes: crate::query::SHAPES.to_vec(),
                rate: None,
            },
            fanout: self.knobs.options(self.fanout_rate, self.duration),
            duration: self.duration,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_documents_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        for text in ["Exit codes:", "2  the relay could not be reached", "3  the run produced no data"] {
            assert!(help.contains(text), "{text:?} missing from --help");
        }
    }

    #[test]
    fn value_parsers() {
        assert_eq!(seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(seconds("-1").is_err() && seconds("soon").is_err());
        assert_eq!(fraction("0.25"), Ok(0.25));
        assert!(fraction("1.5").is_err());
        assert!(positive_f64("0").is_err() && positive_f64("NaN").is_err());
        assert!(positive_u64("0").is_err());
        assert_eq!(positive_usize("12"), Ok(12));
    }

    #[test]
    fn gen_defaults_scale_authors_with_events() {
        let cli = Cli::try_parse_from(["parrhesia-bench", "gen", "--events", "100000", "--out", "x"]).expect("parses");
        let Command::Gen(args) = cli.command else { panic!("gen") };
        let options = args.options();
        assert_eq!((options.authors, options.seed, options.start_unix_seconds), (5000, 1, 1_700_000_000));
    }

    #[test]
    fn fanout_subscribe_url_defaults_to_the_publish_url() {
        let cli = Cli::try_parse_from(["parrhesia-bench", "fanout", "--publish-url", "ws://a:1", "--ephemeral"])
            .expect("parses");
        let Command::Fanout(args) = cli.command else { panic!("fanout") };
        assert_eq!(args.subscribe_url(), "ws://a:1");
        assert_eq!(args.options().kind, 20001);
    }
}
