//! `connect`: open N WebSocket connections at R per second (TCP connect plus handshake, from
//! source addresses taken round-robin so that one address's ephemeral ports are not the
//! limit), hold them open while answering pings, and report connect latency, failures by
//! reason and connections lost while held. `--processes K` re-executes this binary K times
//! (each process may hold at most its open-file limit) and merges their reports.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::client::{Connection, Incoming, Target, req_message};
use crate::failure::{Failure, Outcome};
use crate::ingest::add_counts;
use crate::latency::Latency;
use crate::progress::{self, Progress};
use crate::report::Report;
use crate::server_stats::ServerWatch;
use crate::worker::{self, Stop};

/// Threads that hold established connections, sweeping them for pings and closes.
const HOLDER_THREADS: usize = 2;
/// How often a holder reads every connection it holds.
const HOLD_SWEEP_INTERVAL: Duration = Duration::from_millis(250);
/// The most source addresses a range may name.
const SOURCE_ADDRESSES_MAX: u32 = 65_536;
/// File descriptors a process keeps for itself (stdio, the binary, pipes, the progress line).
const DESCRIPTORS_RESERVED: u64 = 64;

#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub connections: usize,
    /// New connections per second.
    pub rate: f64,
    /// How long to hold them once all were attempted.
    pub hold: Duration,
    /// Client sockets bind to these, round-robin; empty: the kernel chooses.
    pub source_addresses: Vec<IpAddr>,
    /// Per connection, for TCP connect and again for the handshake.
    pub timeout: Duration,
    /// Threads doing blocking connects (the most attempts in flight at once).
    pub threads: usize,
    /// Each connection also opens a subscription (as idle clients of a real relay do).
    pub subscribe: bool,
    pub processes: usize,
}

/// `127.0.0.1-127.0.0.8`, `127.0.0.1,127.0.0.5` or a mix: IPv4 ranges are inclusive.
pub fn parse_source_addresses(text: &str) -> anyhow::Result<Vec<IpAddr>> {
    let mut addresses = Vec::new();
    for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        match part.split_once('-') {
            Some((first, last)) => {
                let first: Ipv4Addr = first.trim().parse().with_context(|| format!("bad address {first:?}"))?;
                let last: Ipv4Addr = last.trim().parse().with_context(|| format!("bad address {last:?}"))?;
                let (first, last) = (u32::from(first), u32::from(last));
                if last < first || last - first >= SOURCE_ADDRESSES_MAX {
                    bail!(
                        "bad range {part:?}: the end must follow the start, at most {SOURCE_ADDRESSES_MAX} addresses"
                    );
                }
                addresses.extend((first..=last).map(|address| IpAddr::V4(Ipv4Addr::from(address))));
            }
            None => addresses.push(part.parse().with_context(|| format!("bad address {part:?}"))?),
        }
    }
    if addresses.is_empty() {
        bail!("no source address in {text:?}");
    }
    Ok(addresses)
}

/// The soft "Max open files" limit from the text of `/proc/self/limits`.
pub fn parse_open_files_limit(text: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

fn open_files_limit() -> Option<u64> {
    parse_open_files_limit(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

/// Live totals, for the progress line.
#[derive(Debug, Default)]
pub struct ConnectCounters {
    pub attempted: AtomicU64,
    pub established: AtomicU64,
    pub failed: AtomicU64,
    pub open: AtomicU64,
}

/// What one process measured (also the report a child process writes for its parent).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ConnectResult {
    pub attempted: u64,
    pub established: u64,
    pub failures: BTreeMap<String, u64>,
    /// Handshake completed, microseconds after the attempt started.
    pub latencies_micros: Vec<u64>,
    pub connect_seconds: f64,
    pub hold_seconds: f64,
    pub open_after_hold: u64,
    pub dropped: BTreeMap<String, u64>,
    /// Failure messages that had no specific label, a few of them.
    pub other_failures: Vec<String>,
}

impl ConnectResult {
    fn merge(&mut self, other: ConnectResult) {
        self.attempted += other.attempted;
        self.established += other.established;
        add_counts(&mut self.failures, other.failures);
        self.latencies_micros.extend(other.latencies_micros);
        self.connect_seconds = self.connect_seconds.max(other.connect_seconds);
        self.hold_seconds = self.hold_seconds.max(other.hold_seconds);
        self.open_after_hold += other.open_after_hold;
        add_counts(&mut self.dropped, other.dropped);
        self.other_failures.extend(other.other_failures);
        self.other_failures.truncate(5);
    }
}

/// One connect attempt.
struct Job {
    source: Option<IpAddr>,
}

/// Opens, holds and closes the connections; blocks for the whole run.
pub fn execute(
    target: &Target,
    options: &ConnectOptions,
    counters: &Arc<ConnectCounters>,
) -> anyhow::Result<ConnectResult> {
    let stop_holding = Stop::new();
    let mut holder_senders: Vec<Sender<Connection>> = Vec::new();
    let mut holders = Vec::new();
    for number in 0..HOLDER_THREADS {
        let (sender, receiver) = std::sync::mpsc::channel();
        holder_senders.push(sender);
        let (stop, counters) = (stop_holding.clone(), counters.clone());
        holders.push(worker::spawn(format!("holder-{number}"), move || hold(receiver, &stop, &counters))?);
    }

    let (job_sender, job_receiver) = std::sync::mpsc::sync_channel::<Job>(options.threads.max(1));
    let job_receiver = Arc::new(Mutex::new(job_receiver));
    let mut connectors = Vec::new();
    for number in 0..options.threads.max(1) {
        let (target, jobs, counters) = (target.clone(), job_receiver.clone(), counters.clone());
        let holder = holder_senders[number % HOLDER_THREADS].clone();
        let (timeout, subscribe) = (options.timeout, options.subscribe);
        connectors.push(worker::spawn(format!("connector-{number}"), move || {
            connect_jobs(&target, &jobs, &holder, timeout, subscribe, &counters)
        })?);
    }
    drop(holder_senders);
    let started = Instant::now();
    pace(options, &job_sender);
    drop(job_sender);
    let mut result = ConnectResult::default();
    for part in worker::join_all(connectors)? {
        result.merge(part);
    }
    result.connect_seconds = started.elapsed().as_secs_f64();

    let hold_started = Instant::now();
    std::thread::sleep(options.hold);
    stop_holding.stop();
    for (open, dropped) in worker::join_all(holders)? {
        result.open_after_hold += open;
        add_counts(&mut result.dropped, dropped);
    }
    result.hold_seconds = hold_started.elapsed().as_secs_f64();
    Ok(result)
}

/// Hands out one job per connection at `options.rate` per second.
fn pace(options: &ConnectOptions, jobs: &SyncSender<Job>) {
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / options.rate.max(0.001));
    for number in 0..options.connections {
        let due = started + interval.mul_f64(number as f64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let source = if options.source_addresses.is_empty() {
            None
        } else {
            Some(options.source_addresses[number % options.source_addresses.len()])
        };
        if jobs.send(Job { source }).is_err() {
            return;
        }
    }
}

fn connect_jobs(
    target: &Target,
    jobs: &Mutex<Receiver<Job>>,
    holder: &Sender<Connection>,
    timeout: Duration,
    subscribe: bool,
    counters: &ConnectCounters,
) -> ConnectResult {
    let mut result = ConnectResult::default();
    loop {
        let job = match jobs.lock().expect("job queue lock").recv() {
            Ok(job) => job,
            Err(_) => return result,
        };
        result.attempted += 1;
        counters.attempted.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let opened = Connection::open(target, job.source, timeout).and_then(|mut connection| {
            if subscribe {
                let filter = "{\"#t\":[\"parrhesia-bench-hold\"],\"limit\":1}".to_string();
                connection
                    .send_text(req_message("hold", &[filter]))
                    .map_err(|ended| crate::client::ConnectFailure::Other(format!("REQ failed: {}", ended.0)))?;
            }
            Ok(connection)
        });
        match opened {
            Ok(connection) => {
                result.latencies_micros.push(started.elapsed().as_micros() as u64);
                result.established += 1;
                counters.established.fetch_add(1, Ordering::Relaxed);
                counters.open.fetch_add(1, Ordering::Relaxed);
                let _ = holder.send(connection);
            }
            Err(failure) => {
                *result.failures.entry(failure.label()).or_default() += 1;
                counters.failed.fetch_add(1, Ordering::Relaxed);
                if let crate::client::ConnectFailure::Other(detail) = failure
                    && result.other_failures.len() < 5
                {
                    result.other_failures.push(detail);
                }
            }
        }
    }
}

/// Holds connections: reads each one every sweep (answering pings, noticing closes) until
/// `stop`. Returns how many were still open and why the others ended.
fn hold(receiver: Receiver<Connection>, stop: &Stop, counters: &ConnectCounters) -> (u64, BTreeMap<String, u64>) {
    let mut held: Vec<Connection> = Vec::new();
    let mut dropped: BTreeMap<String, u64> = BTreeMap::new();
    while !stop.is_stopped() {
        while let Ok(mut connection) = receiver.try_recv() {
            match connection.set_nonblocking() {
                Ok(()) => held.push(connection),
                Err(ended) => {
                    *dropped.entry(ended.0).or_default() += 1;
                    counters.open.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
        held.retain_mut(|connection| {
            loop {
                match connection.read() {
                    Ok(Incoming::Quiet) => return true,
                    Ok(_) => continue,
                    Err(ended) => {
                        *dropped.entry(ended.0).or_default() += 1;
                        counters.open.fetch_sub(1, Ordering::Relaxed);
                        return false;
                    }
                }
            }
        });
        std::thread::sleep(HOLD_SWEEP_INTERVAL);
    }
    let open = held.len() as u64;
    counters.open.fetch_sub(open, Ordering::Relaxed);
    (open, dropped)
}

impl ConnectResult {
    /// Adds `connect.*` metrics to `report`.
    pub fn report_into(&self, report: &mut Report) {
        let mut latency = Latency::new();
        for &micros in &self.latencies_micros {
            latency.record_micros(micros);
        }
        report.count("connect.attempted", self.attempted, "connections");
        report.count("connect.established", self.established, "connections");
        report.count("connect.failed", self.failures.values().sum(), "connections");
        report.counts("connect.failures", &self.failures, "connections");
        report.metric("connect.seconds", self.connect_seconds, "s");
        report.rate("connect.attempted_per_second", self.attempted, self.connect_seconds, "connections/s");
        report.latency("connect.latency", &latency);
        report.metric("connect.hold_seconds", self.hold_seconds, "s");
        report.count("connect.open_after_hold", self.open_after_hold, "connections");
        report.count("connect.dropped_during_hold", self.dropped.values().sum(), "connections");
        report.counts("connect.dropped", &self.dropped, "connections");
        for detail in &self.other_failures {
            report.note(format!("connect failure: {detail}"));
        }
    }

    pub fn failure(&self) -> Option<Failure> {
        if self.established > 0 {
            return None;
        }
        Some(Failure::NoData(format!("no connection was established: {:?}", self.failures)))
    }
}

/// The `connect` subcommand. With `child_report`, this process is one of a parent's K: it
/// writes its result there instead of reporting.
pub fn run(
    url: &str,
    options: &ConnectOptions,
    server_pid: Option<u32>,
    child_report: Option<&Path>,
) -> anyhow::Result<Outcome> {
    let target = Target::probe(url)?;
    if let Some(path) = child_report {
        progress::set_quiet();
        let result = execute(&target, options, &Arc::new(ConnectCounters::default()))?;
        let text = serde_json::to_string(&result).context("encoding the child report")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        return Ok(Outcome { report: Report::new("connect", url), failure: None });
    }
    warn_about_descriptors(options);
    let server = server_pid.map(ServerWatch::start).transpose()?.map(Arc::new);
    let counters = Arc::new(ConnectCounters::default());
    let progress_counters = counters.clone();
    let processes = options.processes;
    let progress = Progress::start(server.clone(), move |elapsed| {
        if processes > 1 {
            return format!("connect: {processes} processes running, {:.0} s", elapsed.as_secs_f64());
        }
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        format!(
            "connect: attempted {} established {} failed {} open {}",
            load(&progress_counters.attempted),
            load(&progress_counters.established),
            load(&progress_counters.failed),
            load(&progress_counters.open)
        )
    });
    let result = if options.processes > 1 { run_processes(url, options) } else { execute(&target, options, &counters) };
    progress.finish();
    let result = result?;

    let mut report = Report::new("connect", url);
    describe(&mut report, options);
    result.report_into(&mut report);
    if let Some(server) = &server {
        if result.established > 0 {
            let growth = server.rss_growth_kib() as f64 * 1024.0 / result.established as f64;
            report.metric("server.rss_growth_per_connection_bytes", growth, "bytes");
        }
        server.finish(&mut report, &[("connect.established", result.established, "connections/cpu-s")]);
    }
    Ok(Outcome { failure: result.failure(), report })
}

fn warn_about_descriptors(options: &ConnectOptions) {
    let Some(limit) = open_files_limit() else { return };
    let per_process = options.connections.div_ceil(options.processes.max(1)) as u64;
    if per_process + DESCRIPTORS_RESERVED > limit {
        eprintln!(
            "warning: {per_process} connections per process but this process may open {limit} files; expect \
             too_many_open_files failures (use --processes {})",
            (options.connections as u64).div_ceil(limit.saturating_sub(DESCRIPTORS_RESERVED).max(1))
        );
    }
}

/// Runs `processes` copies of this binary, each with its share, and merges their results.
fn run_processes(url: &str, options: &ConnectOptions) -> anyhow::Result<ConnectResult> {
    let executable = std::env::current_exe().context("locating this executable")?;
    let directory = std::env::temp_dir().join(format!("parrhesia-bench-connect-{}", std::process::id()));
    std::fs::create_dir_all(&directory).with_context(|| format!("creating {}", directory.display()))?;
    let mut children = Vec::new();
    for number in 0..options.processes {
        let share =
            options.connections / options.processes + usize::from(number < options.connections % options.processes);
        let report_path = directory.join(format!("child-{number}.json"));
        let mut command = Command::new(&executable);
        command
            .arg("connect")
            .args(["--url", url])
            .args(["--connections", &share.to_string()])
            .args(["--rate", &(options.rate / options.processes as f64).to_string()])
            .args(["--hold", &options.hold.as_secs_f64().to_string()])
            .args(["--timeout-ms", &options.timeout.as_millis().to_string()])
            .args(["--threads", &options.threads.to_string()])
            .arg("--child-report")
            .arg(&report_path)
            .stdout(Stdio::null());
        if !options.source_addresses.is_empty() {
            let list: Vec<String> = options.source_addresses.iter().map(IpAddr::to_string).collect();
            command.args(["--source-addresses", &list.join(",")]);
        }
        if options.subscribe {
            command.arg("--subscribe");
        }
        let child = command.spawn().with_context(|| format!("starting {}", executable.display()))?;
        children.push((child, report_path));
    }
    let mut result = ConnectResult::default();
    let mut errors = Vec::new();
    for (mut child, report_path) in children {
        let status = child.wait().context("waiting for a connect process")?;
        match read_child_report(&report_path) {
            Ok(part) if status.success() => result.merge(part),
            Ok(_) | Err(_) => errors.push(format!("{} exited with {status}", report_path.display())),
        }
    }
    let _ = std::fs::remove_dir_all(&directory);
    if !errors.is_empty() {
        bail!("connect processes failed: {}", errors.join("; "));
    }
    Ok(result)
}

fn read_child_report(path: &PathBuf) -> anyhow::Result<ConnectResult> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

pub fn describe(report: &mut Report, options: &ConnectOptions) {
    report.parameter("connections", options.connections);
    report.parameter("rate", options.rate);
    report.parameter("hold_seconds", options.hold.as_secs_f64());
    report.parameter("source_addresses", options.source_addresses.len());
    report.parameter("timeout_ms", options.timeout.as_millis() as u64);
    report.parameter("threads", options.threads);
    report.parameter("subscribe", options.subscribe);
    report.parameter("processes", options.processes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_address_lists_and_ranges() {
        let v4 = |last: u8| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
        let cases: [(&str, Vec<IpAddr>); 4] = [
            ("127.0.0.1-127.0.0.3", vec![v4(1), v4(2), v4(3)]),
            ("127.0.0.1", vec![v4(1)]),
            ("127.0.0.1, 127.0.0.9,127.0.0.4-127.0.0.5", vec![v4(1), v4(9), v4(4), v4(5)]),
            ("::1", vec!["::1".parse().expect("IPv6")]),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_source_addresses(text).expect(text), expected, "{text}");
        }
        let crossing = parse_source_addresses("127.0.0.255-127.0.1.0").expect("crosses an octet");
        assert_eq!(crossing, [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 255)), IpAddr::V4(Ipv4Addr::new(127, 0, 1, 0))]);
        for text in ["", "127.0.0.5-127.0.0.1", "127.0.0.x", "10.0.0.0-10.255.255.255", "127.0.0.1-"] {
            assert!(parse_source_addresses(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn open_files_limit_is_the_soft_one() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max processes             95000                95000                processes \n\
                    Max open files            20000                40000                files     \n";
        assert_eq!(parse_open_files_limit(text), Some(20_000));
        assert_eq!(parse_open_files_limit("Max open files   unlimited unlimited files"), None);
        assert_eq!(parse_open_files_limit(""), None);
        assert!(open_files_limit().is_some(), "this machine has /proc/self/limits");
    }

    #[test]
    fn results_merge_and_report() {
        let mut total = ConnectResult::default();
        for latencies in [vec![1_000, 2_000], vec![3_000]] {
            let part = ConnectResult {
                attempted: latencies.len() as u64 + 1,
                established: latencies.len() as u64,
                failures: BTreeMap::from([("timeout".to_string(), 1)]),
                latencies_micros: latencies,
                open_after_hold: 1,
                connect_seconds: 2.0,
                ..ConnectResult::default()
            };
            let text = serde_json::to_string(&part).expect("encodes");
            total.merge(serde_json::from_str(&text).expect("decodes"));
        }
        assert_eq!((total.attempted, total.established, total.open_after_hold), (5, 3, 2));
        let mut report = Report::new("connect", "ws://x");
        total.report_into(&mut report);
        assert_eq!(report.value("connect.failures.timeout"), Some(2.0));
        assert_eq!(report.value("connect.attempted_per_second"), Some(2.5));
        let max = report.value("connect.latency.max").expect("latency");
        assert!((max - 3.0).abs() < 0.01, "{max}");
        assert!(total.failure().is_none());
        assert_eq!(ConnectResult::default().failure().expect("nothing").exit_code(), 3);
    }
}
