//! The relay process's cost, read from `/proc` (`--server-pid`): CPU seconds (utime + stime)
//! and resident memory (VmRSS, VmHWM) before and after a run, sampled peaks during it, and the
//! efficiency figures derived from them (work per server CPU-second).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::report::Report;

/// Clock ticks per second in `/proc/<pid>/stat` (Linux's USER_HZ, 100 on every mainstream
/// architecture; the kernel scales to it whatever its internal HZ).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// One reading of a process's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessSample {
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub rss_kib: u64,
    /// The process's peak resident set since it started.
    pub rss_peak_kib: u64,
}

/// `(utime, stime)` in clock ticks from the text of `/proc/<pid>/stat`. The command name (field
/// 2) is in parentheses and may itself hold spaces and parentheses, so fields are counted from
/// the last `)`.
pub fn parse_stat(text: &str) -> anyhow::Result<(u64, u64)> {
    let after_name = text.rfind(')').map(|position| &text[position + 1..]).context("no ')' after the command name")?;
    // After the name: state(3) ppid(4) ... utime(14) stime(15): indexes 11 and 12 from here.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |index: usize, name: &str| -> anyhow::Result<u64> {
        fields.get(index).with_context(|| format!("no {name} field"))?.parse().with_context(|| format!("bad {name}"))
    };
    Ok((field(11, "utime")?, field(12, "stime")?))
}

/// `(VmRSS, VmHWM)` in KiB from the text of `/proc/<pid>/status`.
pub fn parse_status(text: &str) -> anyhow::Result<(u64, u64)> {
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = text.lines().find(|line| line.starts_with(name)).with_context(|| format!("no {name} line"))?;
        let value = line[name.len()..].trim().trim_end_matches("kB").trim();
        value.parse().with_context(|| format!("bad {name} value {value:?}"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

pub fn sample(pid: u32) -> anyhow::Result<ProcessSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat (is --server-pid {pid} running on this host?)"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let (user_ticks, system_ticks) = parse_stat(&stat).with_context(|| format!("parsing /proc/{pid}/stat"))?;
    let (rss_kib, rss_peak_kib) = parse_status(&status).with_context(|| format!("parsing /proc/{pid}/status"))?;
    if rss_kib == 0 {
        bail!("process {pid} has no resident memory (a kernel thread or a zombie?)");
    }
    Ok(ProcessSample { cpu_ticks: user_ticks + system_ticks, rss_kib, rss_peak_kib })
}

/// Watches the relay during a run: a sample at the start, the largest RSS seen by `poll`
/// (called from the progress thread), a sample at the end.
#[derive(Debug)]
pub struct ServerWatch {
    pid: u32,
    before: ProcessSample,
    started: Instant,
    rss_seen_max_kib: AtomicU64,
}

/// Work a run did, to divide by the server's CPU seconds: (metric name, amount, unit).
pub type Work<'a> = (&'a str, u64, &'a str);

impl ServerWatch {
    pub fn start(pid: u32) -> anyhow::Result<ServerWatch> {
        let before = sample(pid)?;
        Ok(ServerWatch { pid, before, started: Instant::now(), rss_seen_max_kib: AtomicU64::new(before.rss_kib) })
    }

    /// Takes an RSS sample for the peak during the run; a vanished process is ignored here and
    /// reported by `finish`.
    pub fn poll(&self) {
        if let Ok(now) = sample(self.pid) {
            self.rss_seen_max_kib.fetch_max(now.rss_kib, Ordering::Relaxed);
        }
    }

    /// The largest RSS seen so far, in KiB.
    pub fn rss_seen_max_kib(&self) -> u64 {
        self.rss_seen_max_kib.load(Ordering::Relaxed)
    }

    /// How much the RSS grew from the start to the largest sample, in KiB.
    pub fn rss_growth_kib(&self) -> u64 {
        self.rss_seen_max_kib().saturating_sub(self.before.rss_kib)
    }

    /// Adds `server.*` metrics and, for each piece of work, `<name>_per_server_cpu_second`.
    pub fn finish(&self, report: &mut Report, work: &[Work]) {
        let after = match sample(self.pid) {
            Ok(after) => after,
            Err(error) => {
                eprintln!("warning: the server (pid {}) could not be read after the run: {error:#}", self.pid);
                report.note(format!("server pid {} vanished during the run: no server figures", self.pid));
                return;
            }
        };
        self.rss_seen_max_kib.fetch_max(after.rss_kib, Ordering::Relaxed);
        let elapsed_seconds = self.started.elapsed().as_secs_f64();
        let cpu_seconds = after.cpu_ticks.saturating_sub(self.before.cpu_ticks) as f64 / CLOCK_TICKS_PER_SECOND;
        report.parameter("server_pid", self.pid);
        report.metric("server.cpu_seconds", cpu_seconds, "s");
        report.metric("server.cpu_cores_busy", cpu_seconds / elapsed_seconds, "cores");
        report.count("server.rss_before_bytes", self.before.rss_kib * 1024, "bytes");
        report.count("server.rss_after_bytes", after.rss_kib * 1024, "bytes");
        report.count("server.rss_seen_max_bytes", self.rss_seen_max_kib() * 1024, "bytes");
        report.count("server.rss_peak_bytes", after.rss_peak_kib * 1024, "bytes");
        if cpu_seconds <= 0.0 {
            report.note("the server used no measurable CPU (resolution 10 ms): per-CPU-second figures left out");
            return;
        }
        for (name, amount, unit) in work {
            report.metric(format!("{name}_per_server_cpu_second"), *amount as f64 / cpu_seconds, unit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let cases = [
            ("1234 (parrhesia) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 100 1000 200", (250, 75)),
            ("77 (weird ) name) R 1 77 77 0 -1 0 0 0 0 0 9 1 0 0 20 0 1 0 5 10 2", (9, 1)),
            ("5 (a) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0", (0, 0)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_stat(text).expect(text), expected, "{text}");
        }
    }

    #[test]
    fn malformed_stat_is_an_error() {
        for text in ["", "1234 parrhesia S 1", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 ab 3"] {
            assert!(parse_stat(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn status_gives_rss_and_peak() {
        let text = "Name:\tparrhesia\nVmPeak:\t  900000 kB\nVmHWM:\t   52000 kB\nVmRSS:\t   41000 kB\nThreads:\t3\n";
        assert_eq!(parse_status(text).expect("parses"), (41_000, 52_000));
        assert!(parse_status("Name:\tx\nVmRSS:\t 1 kB\n").is_err(), "no VmHWM");
        assert!(parse_status("VmRSS:\t lots kB\nVmHWM:\t 1 kB\n").is_err());
    }

    #[test]
    fn this_process_can_be_sampled() {
        let sample = sample(std::process::id()).expect("own /proc entry");
        assert!(sample.rss_kib > 0);
        assert!(sample.rss_peak_kib >= sample.rss_kib);
    }

    #[test]
    fn finish_reports_server_figures_and_work_per_cpu_second() {
        let watch = ServerWatch::start(std::process::id()).expect("own /proc entry");
        // Spin until the kernel has charged this process a few ticks (bounded in time).
        let give_up = Instant::now() + std::time::Duration::from_secs(10);
        let mut spins = 0u64;
        while sample(std::process::id()).expect("sample").cpu_ticks < watch.before.cpu_ticks + 3 {
            assert!(Instant::now() < give_up, "no CPU time was charged in 10 s");
            for _ in 0..100_000 {
                spins = std::hint::black_box(spins + 1);
            }
        }
        let mut report = Report::new("test", "");
        watch.finish(&mut report, &[("test.spins", spins, "spins/cpu-s")]);
        assert!(report.value("server.cpu_seconds").expect("cpu") > 0.0);
        assert!(report.value("server.rss_peak_bytes").expect("peak") > 0.0);
        assert!(report.value("test.spins_per_server_cpu_second").expect("efficiency") > 0.0);
    }
}
