//! Write-policy plugins, strfry's protocol exactly: a program that reads one JSON request per
//! line on its standard input (`{"type":"new","event":{...},"receivedAt":..,"sourceType":..,
//! "sourceInfo":..,"authed":..}`) and answers one line per request on its standard output
//! (`{"id":..,"action":"accept"|"reject"|"shadowReject","msg":..}`). Each shard runs its own
//! plugin process and keeps several requests in flight, answers matched by event id. Two
//! blocking threads per process move the lines (glommio has no pipes); the shard's tasks only
//! await channels, so a slow plugin holds up the connections waiting on it and nothing else.
//!
//! A plugin that times out, answers garbage or an id nobody asked about, or exits, is killed
//! and every request it held is refused with `error:`; the next event starts it again, at once
//! if it had run for `HEALTHY_RUN`, else after a pause that doubles with each short run in a row
//! (`restart_pause`: 100 ms up to 10 s), so a plugin that fails on every event is not spawned
//! per event however slowly it starts. A plugin given as a file path is restarted when the file
//! changes.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use parrhesia_engine::write_policy::{self, Source};
use parrhesia_engine::{Event, Id};

use crate::metrics::ShardMetrics;

/// A plugin that ran this long before it failed is started again for the next event; one that
/// failed sooner waits `restart_pause` (events meanwhile get `error:`).
const HEALTHY_RUN: Duration = Duration::from_secs(1);
const RESTART_PAUSE: Duration = Duration::from_millis(100);
const RESTART_PAUSE_MAX: Duration = Duration::from_secs(10);

/// The pause before starting a plugin again after `failures` short runs (or failed starts) in
/// a row: 100 ms, doubling, at most 10 s.
fn restart_pause(failures: u32) -> Duration {
    RESTART_PAUSE.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(RESTART_PAUSE_MAX)
}

/// The longest answer line read; a longer one is no verdict (the plugin is killed).
const ANSWER_BYTES_MAX: usize = 64 * 1024;

/// How often a plugin's file is checked for a change.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// A plugin's verdict on one event, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// `OK false` with this message (prefixed `blocked:` when it carries no NIP-01 prefix).
    Reject(String),
    /// `OK true`, but neither stored nor fanned out.
    ShadowReject,
    /// No verdict: the event is refused with this reason (`error:` or `rate-limited:`).
    Failed(Failure),
}

impl From<write_policy::Verdict> for Verdict {
    fn from(verdict: write_policy::Verdict) -> Verdict {
        match verdict {
            write_policy::Verdict::Accept => Verdict::Accept,
            write_policy::Verdict::Reject(message) => Verdict::Reject(message),
            write_policy::Verdict::ShadowReject => Verdict::ShadowReject,
        }
    }
}

/// Why a plugin gave no verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    /// It exited (or its pipes broke) before answering.
    Exited,
    /// It answered something that is not a verdict on a pending event.
    BadAnswer,
    /// `write_policy_queue_max` requests were in flight already.
    Busy,
    /// It could not be started, or waits to be started again (`restart_pause`).
    Unavailable,
}

impl Failure {
    fn index(self) -> usize {
        self as usize
    }

    /// The answer to the client.
    pub fn reason(self) -> String {
        match self {
            Failure::Busy => "rate-limited: the write policy plugin is busy; try again".into(),
            failure => format!(
                "error: the write policy plugin failed ({})",
                crate::metrics::PLUGIN_FAILURES[failure.index()].replace('_', " ")
            ),
        }
    }
}

/// A shard's plugin: its command, and the process answering now.
pub struct WritePolicy {
    command: String,
    /// The command as a file, watched for changes (`None`: a shell command).
    file: Option<PathBuf>,
    timeout: Duration,
    queue_max: usize,
    metrics: Arc<ShardMetrics>,
    current: RefCell<Option<Rc<Process>>>,
    /// The file's modification time when the current process started, and the last check.
    watched: Cell<(Option<SystemTime>, Instant)>,
    /// Short runs and failed starts in a row, and when it may be started again.
    failures: Cell<u32>,
    retry_at: Cell<Option<Instant>>,
}

/// One plugin process: where requests go, and who waits for which answer.
struct Process {
    /// Shared with the thread reading its output, which reaps it when it exits.
    child: Arc<Mutex<Child>>,
    requests: flume::Sender<String>,
    waiting: RefCell<HashMap<Id, VecDeque<flume::Sender<Verdict>>>>,
    in_flight: Cell<usize>,
    started: Instant,
    /// When it failed (killed, or found exited); `None` while it serves.
    died: Cell<Option<Instant>>,
}

impl Process {
    fn dead(&self) -> bool {
        self.died.get().is_some()
    }

    /// Kills it and answers everything it held with `failure`.
    fn fail(&self, failure: Failure) {
        if self.dead() {
            return;
        }
        self.died.set(Some(Instant::now()));
        kill_group(&self.child);
        for (_, waiters) in self.waiting.borrow_mut().drain() {
            for waiter in waiters {
                let _ = waiter.try_send(Verdict::Failed(failure));
            }
        }
    }
}

/// Kills the plugin's whole process group: a shell command (`sh -c "a | b"`) or a plugin that
/// forks keeps the pipes open in its children otherwise.
fn kill_group(child: &Mutex<Child>) {
    let child = child.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill only sends a signal; the group was made for this child (process_group(0)).
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
}

impl Drop for Process {
    /// A process nothing refers to any more (replaced after its file changed, or the shard
    /// stopping) goes, with its children.
    fn drop(&mut self) {
        kill_group(&self.child);
    }
}

impl WritePolicy {
    /// A plugin with the relay's `write_policy_timeout_ms` and `write_policy_queue_max`.
    pub fn configured(command: String, config: &crate::config::Config, metrics: Arc<ShardMetrics>) -> WritePolicy {
        let timeout = Duration::from_millis(config.write_policy_timeout_ms);
        WritePolicy::new(command, timeout, config.write_policy_queue_max, metrics)
    }

    pub fn new(command: String, timeout: Duration, queue_max: usize, metrics: Arc<ShardMetrics>) -> WritePolicy {
        let file = parrhesia_net::plugin_process::plugin_file(&command);
        WritePolicy {
            command,
            file,
            timeout,
            queue_max: queue_max.max(1),
            metrics,
            current: RefCell::new(None),
            watched: Cell::new((None, Instant::now())),
            failures: Cell::new(0),
            retry_at: Cell::new(None),
        }
    }

    /// Asks the plugin about `event`.
    pub async fn judge(&self, event: &Event, source: &Source<'_>, received_at: u64) -> Verdict {
        let verdict = self.ask(event, source, received_at).await;
        let index = match &verdict {
            Verdict::Accept => 0,
            Verdict::Reject(_) => 1,
            Verdict::ShadowReject => 2,
            Verdict::Failed(failure) => {
                self.metrics.plugin_failures[failure.index()].inc();
                3
            }
        };
        self.metrics.plugin_verdicts[index].inc();
        verdict
    }

    async fn ask(&self, event: &Event, source: &Source<'_>, received_at: u64) -> Verdict {
        let Some(process) = self.process() else { return Verdict::Failed(Failure::Unavailable) };
        if process.in_flight.get() >= self.queue_max {
            return Verdict::Failed(Failure::Busy);
        }
        // The event's JSON as received, spliced in: no re-encoding.
        let request = write_policy::request_line(event, source, received_at);
        let (answer, verdict) = flume::bounded(1);
        process.waiting.borrow_mut().entry(*event.id()).or_default().push_back(answer);
        let _in_flight = InFlight::new(&process);
        if process.requests.send(request).is_err() {
            process.fail(Failure::Exited);
        }
        let timeout = async {
            glommio::timer::sleep(self.timeout).await;
            Verdict::Failed(Failure::Timeout)
        };
        let answered = async { verdict.recv_async().await.unwrap_or(Verdict::Failed(Failure::Exited)) };
        let verdict = futures_lite::future::or(answered, timeout).await;
        if verdict == Verdict::Failed(Failure::Timeout) && !process.dead() {
            tracing::warn!(command = %self.command, timeout_ms = self.timeout.as_millis() as u64, "write policy plugin timed out; killed");
            process.fail(Failure::Timeout);
        }
        verdict
    }

    /// The process to ask: the current one, or a new one if there is none, it died (see
    /// `restart_pause`), or its file changed. `None` while it may not be started yet.
    fn process(&self) -> Option<Rc<Process>> {
        let changed = self.file_changed();
        let current = self.current.borrow().clone();
        if let Some(process) = current {
            match process.died.get() {
                None if !changed => return Some(process),
                None => {
                    tracing::info!(command = %self.command, "write policy plugin changed; starting it again");
                    // It answers what it holds; once no request refers to it, it is killed.
                    drop(self.current.borrow_mut().take());
                }
                Some(died) => {
                    // Seen dead once: it leaves `current` here.
                    drop(self.current.borrow_mut().take());
                    let failures = if died - process.started >= HEALTHY_RUN { 0 } else { self.failures.get() + 1 };
                    self.failures.set(failures);
                    self.retry_at.set((failures > 0).then(|| died + restart_pause(failures)));
                }
            }
        }
        if self.retry_at.get().is_some_and(|at| Instant::now() < at) {
            return None;
        }
        match self.start() {
            Ok(process) => {
                self.metrics.plugin_starts.inc();
                *self.current.borrow_mut() = Some(process.clone());
                Some(process)
            }
            Err(error) => {
                tracing::warn!(command = %self.command, %error, "write policy plugin could not be started");
                self.failures.set(self.failures.get() + 1);
                self.retry_at.set(Some(Instant::now() + restart_pause(self.failures.get())));
                None
            }
        }
    }

    /// Whether the plugin's file changed since the current process started (checked once a
    /// `WATCH_INTERVAL`).
    fn file_changed(&self) -> bool {
        let Some(file) = &self.file else { return false };
        let (started_with, checked) = self.watched.get();
        if checked.elapsed() < WATCH_INTERVAL || self.current.borrow().is_none() {
            return false;
        }
        let now = std::fs::metadata(file).and_then(|metadata| metadata.modified()).ok();
        self.watched.set((started_with, Instant::now()));
        now != started_with
    }

    fn start(&self) -> std::io::Result<Rc<Process>> {
        // Its own process group, so that a kill reaches the children of a shell command too.
        let mut command = parrhesia_net::plugin_process::plugin_command(&self.command);
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
        let (stdin, stdout) = (child.stdin.take().expect("piped"), child.stdout.take().expect("piped"));
        let child = Arc::new(Mutex::new(child));
        let modified = self.file.as_ref().and_then(|file| std::fs::metadata(file).and_then(|m| m.modified()).ok());
        self.watched.set((modified, Instant::now()));
        let mut stdin = stdin;
        let (requests, to_write) = flume::unbounded::<String>();
        let (lines, answers) = flume::unbounded::<Vec<String>>();
        std::thread::Builder::new().name("plugin-stdin".into()).spawn(move || {
            // Whatever has queued up meanwhile goes in the same write.
            let mut batch = String::new();
            while let Ok(line) = to_write.recv() {
                batch.clear();
                batch.push_str(&line);
                batch.extend(to_write.try_iter().take(255));
                if stdin.write_all(batch.as_bytes()).and_then(|()| stdin.flush()).is_err() {
                    break;
                }
            }
        })?;
        let reaped = child.clone();
        std::thread::Builder::new().name("plugin-stdout".into()).spawn(move || {
            // The lines already read in go together: one wake of the shard per burst.
            let mut reader = BufReader::new(stdout);
            'reading: loop {
                let mut burst = Vec::new();
                loop {
                    // A line past `ANSWER_BYTES_MAX` is cut there (and is no verdict); bytes
                    // that are not UTF-8 become U+FFFD (and make no verdict either).
                    let mut line = Vec::new();
                    match Read::by_ref(&mut reader).take(ANSWER_BYTES_MAX as u64).read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => {
                            let _ = lines.send(burst);
                            break 'reading;
                        }
                        Ok(_) => burst.push(String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']).to_string()),
                    }
                    if !reader.buffer().contains(&b'\n') {
                        break;
                    }
                }
                if lines.send(burst).is_err() {
                    break;
                }
            }
            // Its output ended, so it answers nothing more: make sure it is gone, and reap it.
            kill_group(&reaped);
            let _ = reaped.lock().unwrap_or_else(std::sync::PoisonError::into_inner).wait();
        })?;
        let process = Rc::new(Process {
            child,
            requests,
            waiting: RefCell::default(),
            in_flight: Cell::new(0),
            started: Instant::now(),
            died: Cell::new(None),
        });
        glommio::spawn_local(read_answers(Rc::downgrade(&process), answers, self.command.clone())).detach();
        Ok(process)
    }
}

/// Delivers a process's answers to whoever waits for them, until it exits or misbehaves.
async fn read_answers(process: std::rc::Weak<Process>, answers: flume::Receiver<Vec<String>>, command: String) {
    while let Ok(burst) = answers.recv_async().await {
        let Some(process) = process.upgrade() else { return };
        for line in burst {
            if process.dead() {
                return;
            }
            let Some((id, verdict)) = write_policy::parse_answer(&line) else {
                let answer: String = line.chars().take(200).collect();
                tracing::warn!(%command, %answer, "write policy plugin answered something that is not a verdict; killed");
                process.fail(Failure::BadAnswer);
                return;
            };
            let waiter = {
                let mut waiting = process.waiting.borrow_mut();
                let waiter = waiting.get_mut(&id).and_then(VecDeque::pop_front);
                if waiting.get(&id).is_some_and(VecDeque::is_empty) {
                    waiting.remove(&id);
                }
                waiter
            };
            let Some(waiter) = waiter else {
                let answer: String = line.chars().take(200).collect();
                tracing::warn!(%command, %answer, "write policy plugin answered an event nobody asked about; killed");
                process.fail(Failure::BadAnswer);
                return;
            };
            let _ = waiter.try_send(verdict.into());
        }
    }
    if let Some(process) = process.upgrade()
        && !process.dead()
    {
        tracing::warn!(%command, "write policy plugin exited");
        process.fail(Failure::Exited);
    }
}

/// Counts a request in flight on its process for as long as it waits (a connection that goes
/// away mid-wait drops it).
struct InFlight<'a>(&'a Process);

impl<'a> InFlight<'a> {
    fn new(process: &'a Process) -> InFlight<'a> {
        process.in_flight.set(process.in_flight.get() + 1);
        InFlight(process)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.set(self.0.in_flight.get() - 1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_restart_pause_doubles_with_short_runs_up_to_ten_seconds() {
        let pauses: Vec<u64> = (1..=9).map(|failures| super::restart_pause(failures).as_millis() as u64).collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000]);
        assert_eq!(super::restart_pause(u32::MAX), super::RESTART_PAUSE_MAX);
    }
}
