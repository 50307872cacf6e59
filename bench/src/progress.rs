//! The progress line on stderr during a run: redrawn in place every second on a terminal, a
//! plain line every few seconds otherwise (logs, CI). Its thread also samples the server's RSS.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::server_stats::ServerWatch;

/// Redraw interval on a terminal.
const TERMINAL_INTERVAL: Duration = Duration::from_secs(1);
/// Line interval when stderr is a file or a pipe.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

static QUIET: AtomicBool = AtomicBool::new(false);

/// No progress lines from now on (child processes of `connect --processes`).
pub fn set_quiet() {
    QUIET.store(true, Ordering::Relaxed);
}

pub fn is_quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A running progress line; `finish` stops it.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Calls `line(elapsed)` once per interval and prints what it returns; polls `server`.
    pub fn start(
        server: Option<Arc<ServerWatch>>,
        mut line: impl FnMut(Duration) -> String + Send + 'static,
    ) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let terminal = std::io::stderr().is_terminal();
        let interval = if terminal { TERMINAL_INTERVAL } else { PLAIN_INTERVAL };
        let started = Instant::now();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let mut next = started + interval;
                while !stopping.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    if let Some(server) = &server {
                        server.poll();
                    }
                    if Instant::now() < next {
                        continue;
                    }
                    next += interval;
                    let text = line(started.elapsed());
                    if is_quiet() {
                        continue;
                    }
                    let mut stderr = std::io::stderr().lock();
                    let _ = if terminal { write!(stderr, "\r{text}\x1b[K") } else { writeln!(stderr, "{text}") };
                    let _ = stderr.flush();
                }
                if terminal && !is_quiet() {
                    let _ = write!(std::io::stderr(), "\r\x1b[K");
                }
            })
            .expect("spawn the progress thread");
        Progress { stop, thread: Some(thread) }
    }

    pub fn finish(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// `count` over the interval since the previous call, per second (for progress lines).
#[derive(Debug, Default)]
pub struct RateMeter {
    last_count: u64,
    last_elapsed: Duration,
}

impl RateMeter {
    pub fn per_second(&mut self, count: u64, elapsed: Duration) -> f64 {
        let seconds = (elapsed - self.last_elapsed.min(elapsed)).as_secs_f64();
        let rate = if seconds > 0.0 { count.saturating_sub(self.last_count) as f64 / seconds } else { 0.0 };
        self.last_count = count;
        self.last_elapsed = elapsed;
        rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_meter_measures_each_interval() {
        let mut meter = RateMeter::default();
        assert_eq!(meter.per_second(100, Duration::from_secs(1)), 100.0);
        assert_eq!(meter.per_second(400, Duration::from_secs(3)), 150.0);
        assert_eq!(meter.per_second(400, Duration::from_secs(3)), 0.0);
    }
}
