//! `ingest`: publish a `gen` file over C connections, at most W unanswered EVENTs per connection
//! (pipelined), and measure accepted events per second, EVENT->OK latency and the relay's
//! answers grouped by their machine-readable prefix.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parrhesia_engine::{Id, RelayMessage};

use crate::client::{Connection, Incoming, Target, event_message, reason_prefix};
use crate::event_file::{event_id, read_lines};
use crate::failure::{Failure, Outcome};
use crate::latency::Latency;
use crate::progress::{Progress, RateMeter};
use crate::report::Report;
use crate::server_stats::ServerWatch;
use crate::worker::{self, Stop};

/// How long opening one connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A read waits at most this long before the worker looks at its clock and the stop flag.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Rejection messages kept per prefix, to quote in the summary.
const SAMPLES_PER_PREFIX_MAX: usize = 1;

#[derive(Clone, Debug)]
pub struct IngestOptions {
    pub file: PathBuf,
    pub connections: usize,
    /// Unanswered EVENTs allowed per connection.
    pub window: usize,
    /// Stop sending after this long (else when the file or `events` is exhausted).
    pub duration: Option<Duration>,
    /// Send at most the first N events of the file.
    pub events: Option<usize>,
    /// A connection whose oldest unanswered EVENT waits this long gives up (counted).
    pub answer_timeout: Duration,
    /// The relay holds these events already: answers without an acceptance are no failure.
    pub resend: bool,
}

/// Live totals, for the progress line.
#[derive(Debug, Default)]
pub struct IngestCounters {
    pub sent: AtomicU64,
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    pub rejected: AtomicU64,
}

/// One connection's account of the run.
#[derive(Debug, Default)]
struct Tally {
    latency: Latency,
    sent: u64,
    accepted: u64,
    duplicates: u64,
    rejected: BTreeMap<String, u64>,
    samples: BTreeMap<String, Vec<String>>,
    unanswered: u64,
    notices: u64,
    undecodable: u64,
    connect_failures: BTreeMap<String, u64>,
    link_ends: BTreeMap<String, u64>,
    first_send: Option<Instant>,
    last_answer: Option<Instant>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latency.merge(&other.latency);
        self.sent += other.sent;
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        add_counts(&mut self.rejected, other.rejected);
        for (prefix, messages) in other.samples {
            let kept = self.samples.entry(prefix).or_default();
            kept.extend(messages);
            kept.truncate(SAMPLES_PER_PREFIX_MAX);
        }
        self.unanswered += other.unanswered;
        self.notices += other.notices;
        self.undecodable += other.undecodable;
        add_counts(&mut self.connect_failures, other.connect_failures);
        add_counts(&mut self.link_ends, other.link_ends);
        self.first_send = earliest(self.first_send, other.first_send);
        self.last_answer = self.last_answer.max(other.last_answer);
    }
}

pub fn add_counts(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (key, count) in from {
        *into.entry(key).or_default() += count;
    }
}

fn earliest(left: Option<Instant>, right: Option<Instant>) -> Option<Instant> {
    match (left, right) {
        (Some(left), Some(right)) => Some(left.min(right)),
        (left, right) => left.or(right),
    }
}

/// The lines being published and the next one to take (shared by every connection, so the file
/// goes out roughly in order).
struct Feed {
    lines: Vec<String>,
    next: AtomicUsize,
}

/// The result of an ingest run.
#[derive(Debug)]
pub struct IngestResult {
    tally: Tally,
    file_events: usize,
}

/// Loads the events to publish.
pub fn load(options: &IngestOptions) -> anyhow::Result<Vec<String>> {
    read_lines(&options.file, options.events)
}

/// Publishes until the lines run out, `deadline` passes or `stop` is set; blocks.
pub fn execute(
    target: &Target,
    options: &IngestOptions,
    lines: Vec<String>,
    deadline: Option<Instant>,
    stop: &Stop,
    counters: &Arc<IngestCounters>,
) -> anyhow::Result<IngestResult> {
    let file_events = lines.len();
    let feed = Arc::new(Feed { lines, next: AtomicUsize::new(0) });
    let mut handles = Vec::with_capacity(options.connections);
    for number in 0..options.connections {
        let (target, feed, stop, counters) = (target.clone(), feed.clone(), stop.clone(), counters.clone());
        let (window, answer_timeout) = (options.window.max(1), options.answer_timeout);
        handles.push(worker::spawn(format!("ingest-{number}"), move || {
            publish(&target, &feed, window, answer_timeout, deadline, &stop, &counters)
        })?);
    }
    let mut tally = Tally::default();
    for part in worker::join_all(handles)? {
        tally.merge(part);
    }
    Ok(IngestResult { tally, file_events })
}

/// One connection: keep up to `window` EVENTs unanswered, read answers, stop when told.
fn publish(
    target: &Target,
    feed: &Feed,
    window: usize,
    answer_timeout: Duration,
    deadline: Option<Instant>,
    stop: &Stop,
    counters: &IngestCounters,
) -> Tally {
    let mut tally = Tally::default();
    let mut connection = match Connection::open(target, None, CONNECT_TIMEOUT) {
        Ok(connection) => connection,
        Err(failure) => {
            *tally.connect_failures.entry(failure.label()).or_default() += 1;
            return tally;
        }
    };
    let mut waiting: HashMap<Id, Instant> = HashMap::with_capacity(window);
    let mut sending = true;
    let mut last_answer = Instant::now();
    if let Err(ended) = connection.set_read_timeout(Some(POLL_INTERVAL)) {
        *tally.link_ends.entry(ended.0).or_default() += 1;
        return tally;
    }
    loop {
        if sending && (stop.is_stopped() || deadline.is_some_and(|deadline| Instant::now() >= deadline)) {
            sending = false;
        }
        if sending {
            match fill_window(&mut connection, feed, window, &mut waiting, &mut tally, counters) {
                Ok(more) => sending = more,
                Err(ended) => {
                    *tally.link_ends.entry(ended.0).or_default() += 1;
                    tally.unanswered += waiting.len() as u64;
                    return tally;
                }
            }
        }
        if !sending && waiting.is_empty() {
            break;
        }
        match connection.read() {
            Ok(Incoming::Message(message)) => {
                if handle_answer(message, &mut waiting, &mut tally, counters) {
                    last_answer = Instant::now();
                }
            }
            Ok(Incoming::Undecodable) => tally.undecodable += 1,
            Ok(Incoming::Quiet) => {
                if !waiting.is_empty() && last_answer.elapsed() >= answer_timeout {
                    *tally.link_ends.entry("answer_timeout".into()).or_default() += 1;
                    tally.unanswered += waiting.len() as u64;
                    break;
                }
            }
            Err(ended) => {
                *tally.link_ends.entry(ended.0).or_default() += 1;
                tally.unanswered += waiting.len() as u64;
                return tally;
            }
        }
    }
    connection.close();
    tally
}

/// Queues EVENTs until the window is full, then flushes. Returns whether lines remain.
fn fill_window(
    connection: &mut Connection,
    feed: &Feed,
    window: usize,
    waiting: &mut HashMap<Id, Instant>,
    tally: &mut Tally,
    counters: &IngestCounters,
) -> Result<bool, crate::client::LinkEnded> {
    let mut more = true;
    let mut queued = false;
    while waiting.len() < window {
        let index = feed.next.fetch_add(1, Ordering::Relaxed);
        let Some(line) = feed.lines.get(index) else {
            more = false;
            break;
        };
        let Some(id) = event_id(line) else {
            tally.undecodable += 1;
            continue;
        };
        connection.queue_text(event_message(line))?;
        let now = Instant::now();
        tally.first_send.get_or_insert(now);
        waiting.insert(id, now);
        tally.sent += 1;
        counters.sent.fetch_add(1, Ordering::Relaxed);
        queued = true;
    }
    if queued {
        connection.flush()?;
    }
    Ok(more)
}

/// Accounts one relay message; true if it answered one of our EVENTs.
fn handle_answer(
    message: RelayMessage<'static>,
    waiting: &mut HashMap<Id, Instant>,
    tally: &mut Tally,
    counters: &IngestCounters,
) -> bool {
    match message {
        RelayMessage::Ok { event_id, accepted, message } => {
            let Some(sent_at) = waiting.remove(&event_id) else { return false };
            let now = Instant::now();
            tally.latency.record(now - sent_at);
            tally.last_answer = Some(now);
            let prefix = reason_prefix(&message);
            if accepted && prefix == "duplicate" {
                tally.duplicates += 1;
                counters.duplicates.fetch_add(1, Ordering::Relaxed);
            } else if accepted {
                tally.accepted += 1;
                counters.accepted.fetch_add(1, Ordering::Relaxed);
            } else {
                *tally.rejected.entry(prefix.clone()).or_default() += 1;
                let samples = tally.samples.entry(prefix).or_default();
                if samples.len() < SAMPLES_PER_PREFIX_MAX {
                    samples.push(message.to_string());
                }
                counters.rejected.fetch_add(1, Ordering::Relaxed);
            }
            true
        }
        RelayMessage::Notice { .. } => {
            tally.notices += 1;
            false
        }
        _ => false,
    }
}

impl IngestResult {
    pub fn accepted(&self) -> u64 {
        self.tally.accepted
    }

    /// EVENTs the relay answered (accepted, duplicate or refused).
    pub fn answered(&self) -> u64 {
        self.tally.sent - self.tally.unanswered
    }

    /// Adds `ingest.*` metrics to `report`.
    pub fn report_into(&self, report: &mut Report) {
        let tally = &self.tally;
        let seconds = match (tally.first_send, tally.last_answer) {
            (Some(first), Some(last)) if last > first => (last - first).as_secs_f64(),
            _ => 0.0,
        };
        report.count("ingest.sent", tally.sent, "events");
        report.count("ingest.accepted", tally.accepted, "events");
        report.count("ingest.duplicates", tally.duplicates, "events");
        report.count("ingest.rejected", tally.rejected.values().sum(), "events");
        report.counts("ingest.rejected", &tally.rejected, "events");
        report.count("ingest.unanswered", tally.unanswered, "events");
        report.metric("ingest.seconds", seconds, "s");
        report.rate("ingest.accepted_per_second", tally.accepted, seconds, "events/s");
        report.rate("ingest.answered_per_second", tally.sent - tally.unanswered, seconds, "events/s");
        report.latency("ingest.ok_latency", &tally.latency);
        report.counts("ingest.connect_failures", &tally.connect_failures, "connections");
        report.counts("ingest.connection_ends", &tally.link_ends, "connections");
        if tally.notices > 0 {
            report.count("ingest.notices", tally.notices, "messages");
        }
        if tally.undecodable > 0 {
            report.count("ingest.undecodable", tally.undecodable, "messages");
        }
        for (prefix, messages) in &tally.samples {
            for message in messages {
                report.note(format!("rejected ({prefix}), e.g.: {message}"));
            }
        }
        if tally.sent < self.file_events as u64 && tally.unanswered == 0 && tally.link_ends.is_empty() {
            report.note(format!("sent {} of the file's {} events before the run ended", tally.sent, self.file_events));
        }
    }

    /// A run that got nothing accepted is a failure (exit 3), with the relay's reasons.
    pub fn failure(&self) -> Option<Failure> {
        let tally = &self.tally;
        if tally.accepted > 0 {
            return None;
        }
        let mut reasons: Vec<String> =
            tally.rejected.iter().map(|(prefix, count)| format!("{count} {prefix}")).collect();
        if tally.duplicates > 0 {
            reasons.push(format!(
                "{} duplicate (the relay already had them: use a fresh relay or `gen --seed` another seed)",
                tally.duplicates
            ));
        }
        if tally.unanswered > 0 {
            reasons.push(format!("{} unanswered", tally.unanswered));
        }
        let failures: u64 = tally.connect_failures.values().sum();
        if failures > 0 {
            reasons.push(format!("{failures} connections failed to open: {:?}", tally.connect_failures));
        }
        if reasons.is_empty() {
            reasons.push("nothing was sent".into());
        }
        Some(Failure::NoData(format!("no event was accepted: {}", reasons.join(", "))))
    }
}

/// The progress line of an ingest run.
pub fn progress_text(counters: &IngestCounters, meter: &mut RateMeter, elapsed: Duration) -> String {
    let accepted = counters.accepted.load(Ordering::Relaxed);
    format!(
        "ingest: sent {} accepted {accepted} ({:.0}/s) duplicate {} rejected {}",
        counters.sent.load(Ordering::Relaxed),
        meter.per_second(accepted, elapsed),
        counters.duplicates.load(Ordering::Relaxed),
        counters.rejected.load(Ordering::Relaxed),
    )
}

/// The `ingest` subcommand.
pub fn run(url: &str, options: &IngestOptions, server_pid: Option<u32>) -> anyhow::Result<Outcome> {
    let lines = load(options)?;
    let target = Target::probe(url)?;
    let server = server_pid.map(ServerWatch::start).transpose()?.map(Arc::new);
    let counters = Arc::new(IngestCounters::default());
    let progress_counters = counters.clone();
    let mut meter = RateMeter::default();
    let progress =
        Progress::start(server.clone(), move |elapsed| progress_text(&progress_counters, &mut meter, elapsed));
    let deadline = options.duration.map(|duration| Instant::now() + duration);
    let result = execute(&target, options, lines, deadline, &Stop::new(), &counters);
    progress.finish();
    let result = result?;

    let mut report = Report::new("ingest", url);
    describe(&mut report, options);
    result.report_into(&mut report);
    if let Some(server) = &server {
        let work = [
            ("ingest.accepted", result.accepted(), "events/cpu-s"),
            ("ingest.answered", result.answered(), "events/cpu-s"),
        ];
        server.finish(&mut report, &work);
    }
    let failure = match options.resend && result.answered() > 0 && result.tally.unanswered == 0 {
        true => None,
        false => result.failure(),
    };
    Ok(Outcome { failure, report })
}

/// The ingest parameters, as report parameters.
fn describe(report: &mut Report, options: &IngestOptions) {
    report.parameter("file", options.file.display().to_string());
    report.parameter("connections", options.connections);
    report.parameter("window", options.window);
    if let Some(duration) = options.duration {
        report.parameter("duration_seconds", duration.as_secs_f64());
    }
    if let Some(events) = options.events {
        report.parameter("events", events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parrhesia_engine::Keys;
    use std::borrow::Cow;

    fn ok(id: Id, accepted: bool, message: &str) -> RelayMessage<'static> {
        RelayMessage::Ok { event_id: id, accepted, message: Cow::Owned(message.to_string()) }
    }

    #[test]
    fn answers_are_sorted_into_accepted_duplicate_and_rejected_by_prefix() {
        let keys = Keys::from_secret_bytes([4; 32]).expect("valid");
        let ids: Vec<Id> = (0..5).map(|number| *keys.sign(number, 1, vec![], String::new()).id()).collect();
        let mut waiting: HashMap<Id, Instant> = ids.iter().map(|id| (*id, Instant::now())).collect();
        let mut tally = Tally::default();
        let counters = IngestCounters::default();
        let answers = [
            ok(ids[0], true, ""),
            ok(ids[1], true, "duplicate: already have this event"),
            ok(ids[2], false, "invalid: bad signature"),
            ok(ids[3], false, "invalid: created_at too far"),
            ok(ids[4], false, "no reason"),
        ];
        for answer in answers {
            assert!(handle_answer(answer, &mut waiting, &mut tally, &counters));
        }
        assert!(!handle_answer(ok(ids[0], true, ""), &mut waiting, &mut tally, &counters), "answered twice");
        assert!(!handle_answer(RelayMessage::Notice { message: "hi".into() }, &mut waiting, &mut tally, &counters));
        assert!(waiting.is_empty());
        assert_eq!((tally.accepted, tally.duplicates, tally.notices), (1, 1, 1));
        assert_eq!(tally.rejected, BTreeMap::from([("invalid".to_string(), 2), ("unprefixed".to_string(), 1)]));
        assert_eq!(tally.samples["invalid"], ["invalid: bad signature"]);
        assert_eq!(tally.latency.count(), 5);
        assert_eq!(counters.rejected.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn nothing_accepted_is_a_failure_that_quotes_the_reasons() {
        let mut tally = Tally { duplicates: 4, ..Tally::default() };
        tally.rejected.insert("blocked".into(), 2);
        let result = IngestResult { tally, file_events: 6 };
        let failure = result.failure().expect("nothing accepted");
        assert_eq!(failure.exit_code(), 3);
        let text = failure.to_string();
        assert!(text.contains("2 blocked") && text.contains("4 duplicate"), "{text}");
        let accepted = IngestResult { tally: Tally { accepted: 1, ..Tally::default() }, file_events: 1 };
        assert!(accepted.failure().is_none());
    }
}
