//! `sweep`: one workload across `--shards` settings. For each setting and run: start the relay
//! from a command template (a fresh store, or a fresh copy of a prepared one), wait until it
//! answers, run the workload with its pid, stop it with SIGTERM. Every run's report is the
//! usual JSON lines with `shards` and `run` among the parameters; then a table of medians per
//! setting, where adding shards stopped paying, and `--plot`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::failure::{Failure, Outcome};

/// How long a stopped relay may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct SweepOptions {
    /// The relay's command line with `{listen}`, `{data}` and `{shards}` in it (run by `sh -c`).
    pub relay_command: String,
    pub shards: Vec<usize>,
    pub runs: usize,
    /// A store to copy for every run (query and mixed need one); none: an empty directory.
    pub prepared: Option<PathBuf>,
    /// The workload's own command line: `ingest --file ... --connections 8`.
    pub workload: Vec<String>,
    pub plot: Option<PathBuf>,
    /// A setting whose throughput gain over the previous one is below this stopped paying.
    pub gain_threshold: f64,
    pub startup_timeout: Duration,
    pub json_out: Option<PathBuf>,
}

/// The metrics the table and the plot show, by workload: (throughput, per CPU-second, latency).
pub fn key_metrics(workload: &str) -> anyhow::Result<(&'static str, &'static str, &'static str)> {
    Ok(match workload {
        "ingest" => ("ingest.accepted_per_second", "ingest.accepted_per_server_cpu_second", "ingest.ok_latency"),
        "query" => ("query.per_second", "query.completed_per_server_cpu_second", "query.latency"),
        "fanout" => ("fanout.deliveries_per_second", "fanout.deliveries_per_server_cpu_second", "fanout.latency"),
        "mixed" => ("query.per_second", "query.completed_per_server_cpu_second", "query.latency"),
        other => bail!("sweep runs ingest, query, fanout or mixed, not {other:?}"),
    })
}

/// A relay started for one run.
struct Started {
    child: Child,
    url: String,
    log: PathBuf,
    _data: tempfile::TempDir,
}

/// Runs the sweep; returns the first failure a run reported (its report was printed), if any.
pub fn run(
    options: &SweepOptions,
    execute: impl Fn(&[String]) -> anyhow::Result<Outcome>,
) -> anyhow::Result<Option<Failure>> {
    let workload = options.workload.first().context("sweep needs a workload after `--`")?.clone();
    if let Some(path) = &options.json_out {
        std::fs::write(path, "").with_context(|| format!("creating {}", path.display()))?;
    }
    let (throughput, _, latency) = key_metrics(&workload)?;
    let mut lines: Vec<Value> = Vec::new();
    let mut first_failure = None;
    for &shards in &options.shards {
        for run in 1..=options.runs {
            eprintln!("== shards {shards}, run {run}/{}", options.runs);
            let mut relay = start_relay(options, shards)?;
            let url_flag = if workload == "fanout" { "--publish-url" } else { "--url" };
            let mut arguments = options.workload.clone();
            arguments.extend([url_flag.to_string(), relay.url.clone()]);
            arguments.extend(["--server-pid".to_string(), relay.child.id().to_string()]);
            let result = execute(&arguments);
            stop(&mut relay)?;
            let mut outcome = result.with_context(|| format!("the {workload} run at shards={shards}"))?;
            outcome.report.parameter("shards", shards);
            outcome.report.parameter("run", run);
            outcome.report.emit(None)?;
            if let Some(path) = &options.json_out {
                append_lines(path, &outcome.report.json_lines())?;
            }
            for line in outcome.report.json_lines() {
                lines.push(serde_json::from_str(&line).expect("report lines are JSON"));
            }
            if let Some(failure) = outcome.failure {
                eprintln!("shards {shards}, run {run}: {failure}");
                first_failure.get_or_insert(failure);
            }
        }
    }
    eprint!("{}", table(&lines, &workload, options.gain_threshold)?);
    if let Some(path) = &options.plot {
        let metrics = vec![throughput.to_string(), format!("{latency}.p99")];
        crate::plot::draw(&lines, "shards", &metrics, path)?;
        eprintln!("plot: {}", path.display());
    }
    Ok(first_failure)
}

fn append_lines(path: &Path, lines: &[String]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file =
        std::fs::OpenOptions::new().append(true).open(path).with_context(|| format!("opening {}", path.display()))?;
    for line in lines {
        writeln!(file, "{line}").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn start_relay(options: &SweepOptions, shards: usize) -> anyhow::Result<Started> {
    let data = tempfile::tempdir().context("creating a data directory")?;
    let data_dir = data.path().join("data");
    match &options.prepared {
        Some(prepared) => copy_store(prepared, &data_dir)?,
        None => std::fs::create_dir_all(&data_dir).context("creating the data directory")?,
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let listen = format!("127.0.0.1:{port}");
    let command = options
        .relay_command
        .replace("{listen}", &listen)
        .replace("{data}", &data_dir.display().to_string())
        .replace("{shards}", &shards.to_string());
    let log = data.path().join("relay.log");
    let output = std::fs::File::create(&log).context("creating the relay's log")?;
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {command}"))
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output)
        .spawn()
        .with_context(|| format!("starting `{command}`"))?;
    let mut started = Started { child, url: format!("ws://{listen}"), log, _data: data };
    wait_until_it_answers(&mut started, &command, options.startup_timeout)?;
    Ok(started)
}

/// Copies the prepared store's files (LMDB's data and lock files; the relay's lock file too).
fn copy_store(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Polls until a WebSocket handshake succeeds; if the process exits first, fails with its
/// output and exit code (exit code 2 of the bench).
fn wait_until_it_answers(relay: &mut Started, command: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let target = crate::client::Target::resolve(&relay.url)?;
    loop {
        if let Some(status) = relay.child.try_wait()? {
            let output = std::fs::read_to_string(&relay.log).unwrap_or_default();
            let reason = format!("`{command}` exited with {status} before answering; its output:\n{output}");
            return Err(Failure::Unreachable { url: relay.url.clone(), reason }.into());
        }
        if crate::client::Connection::open(&target, None, Duration::from_millis(500)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let _ = relay.child.kill();
            let reason = format!("`{command}` did not answer within {} s", timeout.as_secs());
            return Err(Failure::Unreachable { url: relay.url.clone(), reason }.into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then up to `STOP_TIMEOUT` for a clean exit, then SIGKILL.
fn stop(relay: &mut Started) -> anyhow::Result<()> {
    let _ = Command::new("kill").arg("-TERM").arg(relay.child.id().to_string()).status();
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if relay.child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("the relay did not stop within {} s of SIGTERM: killed", STOP_TIMEOUT.as_secs());
    relay.child.kill()?;
    relay.child.wait()?;
    Ok(())
}

/// One row of the summary: a setting's medians.
#[derive(Debug, PartialEq)]
pub struct Row {
    pub shards: f64,
    pub throughput: f64,
    pub per_cpu_second: f64,
    pub p50: f64,
    pub p99: f64,
    pub rss_peak_mib: f64,
}

pub fn rows(lines: &[Value], workload: &str) -> anyhow::Result<Vec<Row>> {
    let (throughput, per_cpu, latency) = key_metrics(workload)?;
    let by = |metric: &str| crate::plot::medians_by(lines, "shards", metric);
    let find = |points: &[(f64, f64)], shards: f64| {
        points.iter().find(|(setting, _)| *setting == shards).map_or(f64::NAN, |(_, value)| *value)
    };
    let (per_cpu, p50, p99) = (by(per_cpu), by(&format!("{latency}.p50")), by(&format!("{latency}.p99")));
    let rss = by("server.rss_peak_bytes");
    Ok(by(throughput)
        .into_iter()
        .map(|(shards, value)| Row {
            shards,
            throughput: value,
            per_cpu_second: find(&per_cpu, shards),
            p50: find(&p50, shards),
            p99: find(&p99, shards),
            rss_peak_mib: find(&rss, shards) / (1024.0 * 1024.0),
        })
        .collect())
}

/// The first setting whose throughput gain over the previous one is below `threshold` (a
/// fraction: 0.1 = 10%), with that gain; `None` if every step paid.
pub fn stopped_paying(rows: &[Row], threshold: f64) -> Option<(f64, f64)> {
    rows.windows(2).find_map(|pair| {
        let gain = pair[1].throughput / pair[0].throughput - 1.0;
        (gain < threshold).then_some((pair[1].shards, gain))
    })
}

/// The table of medians, where it stopped paying, and whether there were more shards than
/// cores.
pub fn table(lines: &[Value], workload: &str, threshold: f64) -> anyhow::Result<String> {
    let rows = rows(lines, workload)?;
    let (throughput, per_cpu, latency) = key_metrics(workload)?;
    let mut text = String::new();
    let _ = writeln!(text, "\nmedians per setting ({workload}; {throughput}, {per_cpu}, {latency}.p50/p99 in ms)");
    let _ = writeln!(
        text,
        "{:>6} {:>14} {:>14} {:>9} {:>9} {:>10}",
        "shards", "throughput", "per CPU-s", "p50", "p99", "RSS MiB"
    );
    for row in &rows {
        let _ = writeln!(
            text,
            "{:>6} {:>14.1} {:>14.1} {:>9.2} {:>9.2} {:>10.1}",
            row.shards, row.throughput, row.per_cpu_second, row.p50, row.p99, row.rss_peak_mib
        );
    }
    match stopped_paying(&rows, threshold) {
        Some((shards, gain)) => {
            let _ = writeln!(
                text,
                "adding shards stopped paying at {shards}: throughput {:+.1}% over the previous setting (threshold {:.0}%)",
                gain * 100.0,
                threshold * 100.0
            );
        }
        None => {
            let _ = writeln!(text, "every step paid (each gained at least {:.0}%)", threshold * 100.0);
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if let Some(most) = rows.iter().map(|row| row.shards).reduce(f64::max)
        && most > cores as f64
    {
        let _ = writeln!(text, "this machine has {cores} cores: settings above {cores} run more shards than cores");
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, shards: u64, value: f64) -> Value {
        serde_json::json!({"name": name, "value": value, "unit": "x", "parameters": {"shards": shards}})
    }

    #[test]
    fn the_table_holds_medians_per_setting() {
        let mut lines = Vec::new();
        for (shards, rates) in [(1, [100.0, 120.0, 110.0]), (2, [190.0, 210.0, 200.0])] {
            for rate in rates {
                lines.push(line("ingest.accepted_per_second", shards, rate));
                lines.push(line("ingest.accepted_per_server_cpu_second", shards, rate / 2.0));
                lines.push(line("ingest.ok_latency.p50", shards, 1.0));
                lines.push(line("ingest.ok_latency.p99", shards, rate / 10.0));
                lines.push(line("server.rss_peak_bytes", shards, 2.0 * 1024.0 * 1024.0));
            }
        }
        let rows = rows(&lines, "ingest").unwrap();
        assert_eq!(
            rows,
            vec![
                Row { shards: 1.0, throughput: 110.0, per_cpu_second: 55.0, p50: 1.0, p99: 11.0, rss_peak_mib: 2.0 },
                Row { shards: 2.0, throughput: 200.0, per_cpu_second: 100.0, p50: 1.0, p99: 20.0, rss_peak_mib: 2.0 },
            ]
        );
        let table = table(&lines, "ingest", 0.1).unwrap();
        assert!(table.contains("every step paid"), "{table}");
    }

    #[test]
    fn it_stopped_paying_at_the_first_small_gain() {
        let row = |shards: f64, throughput: f64| Row {
            shards,
            throughput,
            per_cpu_second: 0.0,
            p50: 0.0,
            p99: 0.0,
            rss_peak_mib: 0.0,
        };
        let cases = [
            (vec![row(1.0, 100.0), row(2.0, 190.0), row(3.0, 200.0), row(4.0, 150.0)], Some(3.0)),
            (vec![row(1.0, 100.0), row(2.0, 105.0)], Some(2.0)),
            (vec![row(1.0, 100.0), row(2.0, 80.0)], Some(2.0)),
            (vec![row(1.0, 100.0), row(2.0, 200.0), row(4.0, 400.0)], None),
            (vec![row(1.0, 100.0)], None),
        ];
        for (rows, expected) in cases {
            assert_eq!(stopped_paying(&rows, 0.1).map(|(shards, _)| shards), expected, "{rows:?}");
        }
        assert!((stopped_paying(&[row(1.0, 100.0), row(2.0, 105.0)], 0.1).unwrap().1 - 0.05).abs() < 1e-9);
    }
}
