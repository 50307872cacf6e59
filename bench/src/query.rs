//! `query`: against a relay preloaded with a `gen` file, C connections each run one REQ at a
//! time (REQ, events, EOSE, CLOSE) drawn from a mix of shapes built from the file's values;
//! per shape: REQ->EOSE latency, queries per second, events per query.
//!
//! Without a rate each connection sends its next REQ as soon as the last one's EOSE is in (a
//! closed loop: it measures how many queries the relay answers, and its latency is the queue
//! that C waiting connections make, C / throughput by Little's law). With `--rate R` the
//! connections send R queries per second between them on a fixed schedule (an open loop: the
//! latency of a relay at a stated load); a REQ's latency then counts from its scheduled time,
//! so a relay or client that falls behind shows up in it (no coordinated omission).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parrhesia_engine::{Filter, RelayMessage, TagFilter};

use crate::client::{Connection, Target, close_message, reason_prefix, req_message};
use crate::event_file::{Corpus, read_lines};
use crate::failure::{Failure, Outcome};
use crate::ingest::{CONNECT_TIMEOUT, add_counts};
use crate::latency::Latency;
use crate::progress::{Progress, RateMeter};
use crate::random::{Random, Zipf};
use crate::report::Report;
use crate::server_stats::ServerWatch;
use crate::worker::{self, Stop};

/// A read waits at most this long before the worker looks at its clock.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Seed of the query mix (per connection: this plus the connection's number).
const QUERY_SEED: u64 = 0x0e4e_5eed;

/// The REQ shapes of the mix, each what a client typically asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shape {
    /// A home feed: notes and reposts of 1-10 followed authors, newest 50.
    AuthorsKinds,
    /// A thread: everything referring to one event (`#e`), newest 100.
    TagE,
    /// Notifications: everything mentioning one pubkey (`#p`), newest 50.
    TagP,
    /// A global feed of one kind, newest 100.
    Kinds,
    /// Fetching 1-10 events by id.
    Ids,
    /// A client opening: one REQ with its home feed, its notifications and the profiles of
    /// the authors it follows (three filters).
    Multi,
    /// Catching up after an hour away: notes, reposts and reactions since an hour before the
    /// newest stored event, no limit (the relay's own cap applies).
    CatchUp,
    /// NIP-50 search: one or two words of the notes (the last, half the time, cut to its first
    /// three characters: a prefix), best 20. Not in the default mix (not every relay serves it).
    Search,
}

/// The default mix.
pub const SHAPES: [Shape; 7] =
    [Shape::AuthorsKinds, Shape::TagE, Shape::TagP, Shape::Kinds, Shape::Ids, Shape::Multi, Shape::CatchUp];
/// Every shape `--shapes` may name.
pub const ALL_SHAPES: [Shape; 8] = [
    Shape::AuthorsKinds,
    Shape::TagE,
    Shape::TagP,
    Shape::Kinds,
    Shape::Ids,
    Shape::Multi,
    Shape::CatchUp,
    Shape::Search,
];

/// How far back the catch-up shape asks.
const CATCH_UP_SECONDS: u64 = 3600;

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::AuthorsKinds => "authors_kinds",
            Shape::TagE => "tag_e",
            Shape::TagP => "tag_p",
            Shape::Kinds => "kinds",
            Shape::Ids => "ids",
            Shape::Multi => "multi",
            Shape::CatchUp => "catch_up",
            Shape::Search => "search",
        }
    }

    pub fn from_name(name: &str) -> Option<Shape> {
        ALL_SHAPES.into_iter().find(|shape| shape.name() == name)
    }

    /// Whether the corpus has the values this shape needs.
    pub fn available(self, corpus: &Corpus) -> bool {
        match self {
            Shape::AuthorsKinds => !corpus.authors_by_frequency.is_empty(),
            Shape::TagE => !corpus.referenced_ids.is_empty(),
            Shape::TagP => !corpus.mentioned_pubkeys.is_empty(),
            Shape::Kinds => !corpus.kinds_by_frequency.is_empty(),
            Shape::Ids => !corpus.stored_ids.is_empty(),
            Shape::Multi => !corpus.authors_by_frequency.is_empty() && !corpus.mentioned_pubkeys.is_empty(),
            Shape::CatchUp => corpus.newest_created_at > 0,
            Shape::Search => !corpus.note_words.is_empty(),
        }
    }
}

/// Builds filters of each shape from a corpus.
pub struct QueryMaker {
    corpus: Arc<Corpus>,
    random: Random,
    authors: Zipf,
}

impl QueryMaker {
    pub fn new(corpus: Arc<Corpus>, seed: u64) -> QueryMaker {
        let authors = Zipf::new(corpus.authors_by_frequency.len().max(1), 0.8);
        QueryMaker { corpus, random: Random::new(seed), authors }
    }

    /// The filters of one REQ of `shape` (which must be available in the corpus).
    pub fn filters(&mut self, shape: Shape) -> Vec<Filter> {
        match shape {
            Shape::Multi => {
                let feed = self.filter(Shape::AuthorsKinds);
                let notifications = self.filter(Shape::TagP);
                let profiles = Filter { authors: feed.authors.clone(), kinds: Some(vec![0]), ..Filter::default() };
                vec![feed, notifications, profiles]
            }
            _ => vec![self.filter(shape)],
        }
    }

    /// A filter of a one-filter `shape` (which must be available in the corpus).
    fn filter(&mut self, shape: Shape) -> Filter {
        let corpus = &self.corpus;
        let random = &mut self.random;
        match shape {
            Shape::AuthorsKinds => {
                let count = random.between(1, 10) as usize;
                let mut authors: Vec<_> =
                    (0..count).map(|_| corpus.authors_by_frequency[self.authors.sample(random)]).collect();
                authors.sort_unstable();
                authors.dedup();
                Filter { authors: Some(authors), kinds: Some(vec![1, 6]), limit: Some(50), ..Filter::default() }
            }
            Shape::CatchUp => Filter {
                kinds: Some(vec![1, 6, 7]),
                since: Some(corpus.newest_created_at.saturating_sub(CATCH_UP_SECONDS)),
                ..Filter::default()
            },
            Shape::Multi => unreachable!("a multi-filter shape is built by `filters`"),
            Shape::TagE => Filter {
                tags: vec![TagFilter { letter: b'e', values: vec![random.pick(&corpus.referenced_ids).clone()] }],
                limit: Some(100),
                ..Filter::default()
            },
            Shape::TagP => Filter {
                tags: vec![TagFilter { letter: b'p', values: vec![random.pick(&corpus.mentioned_pubkeys).clone()] }],
                limit: Some(50),
                ..Filter::default()
            },
            Shape::Kinds => {
                let kinds = &corpus.kinds_by_frequency;
                // The common kinds most of the time, the rare ones sometimes.
                let kind = kinds[(kinds.len() as f64 * random.unit().powi(2)) as usize];
                Filter { kinds: Some(vec![kind]), limit: Some(100), ..Filter::default() }
            }
            Shape::Ids => {
                let count = random.between(1, 10) as usize;
                let mut ids: Vec<_> = (0..count).map(|_| *random.pick(&corpus.stored_ids)).collect();
                ids.sort_unstable();
                ids.dedup();
                Filter { ids: Some(ids), ..Filter::default() }
            }
            Shape::Search => {
                let mut words: Vec<String> =
                    (0..random.between(1, 2)).map(|_| random.pick(&corpus.note_words).clone()).collect();
                if random.chance(0.5) {
                    let last = words.last_mut().expect("one word at least");
                    *last = last.chars().take(3).collect();
                } else {
                    // A closing space: the last word is whole, not a prefix.
                    words.push(String::new());
                }
                Filter { search: Some(words.join(" ")), limit: Some(20), ..Filter::default() }
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct QueryOptions {
    pub file: PathBuf,
    pub connections: usize,
    pub duration: Duration,
    /// A REQ without EOSE after this long is counted as timed out.
    pub query_timeout: Duration,
    /// The shapes of the mix (those the corpus has values for are run).
    pub shapes: Vec<Shape>,
    /// Queries per second, all connections together; None: each connection as fast as answers
    /// come.
    pub rate: Option<f64>,
}

/// The open loop's timetable: connection `c` sends its `n`th REQ at
/// `start + (n * connections + c) / rate`, so the connections take turns at the total rate.
#[derive(Clone, Copy, Debug)]
struct Schedule {
    start: Instant,
    /// Between two REQs of the whole run.
    interval: Duration,
    connections: u64,
}

impl Schedule {
    fn new(rate: f64, connections: usize) -> Schedule {
        // A lead so every connection is open before its first slot.
        let lead = Duration::from_millis(200 + connections as u64);
        Schedule {
            start: Instant::now() + lead,
            interval: Duration::from_secs_f64(1.0 / rate.max(0.001)),
            connections: connections.max(1) as u64,
        }
    }

    fn slot(&self, connection: usize, n: u64) -> Instant {
        self.start + self.interval.mul_f64((n * self.connections + connection as u64) as f64)
    }
}

/// Live totals, for the progress line.
#[derive(Debug, Default)]
pub struct QueryCounters {
    pub completed: AtomicU64,
    pub events: AtomicU64,
    pub failed: AtomicU64,
}

/// One shape's account.
#[derive(Debug, Default)]
struct ShapeTally {
    latency: Latency,
    completed: u64,
    events: u64,
    empty: u64,
    timeouts: u64,
    closed: BTreeMap<String, u64>,
}

impl ShapeTally {
    fn merge(&mut self, other: ShapeTally) {
        self.latency.merge(&other.latency);
        self.completed += other.completed;
        self.events += other.events;
        self.empty += other.empty;
        self.timeouts += other.timeouts;
        add_counts(&mut self.closed, other.closed);
    }
}

#[derive(Debug, Default)]
struct Tally {
    shapes: BTreeMap<Shape, ShapeTally>,
    connect_failures: BTreeMap<String, u64>,
    link_ends: BTreeMap<String, u64>,
    /// With a rate: how late after its slot each REQ went out.
    lateness: Latency,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (shape, part) in other.shapes {
            self.shapes.entry(shape).or_default().merge(part);
        }
        self.lateness.merge(&other.lateness);
        add_counts(&mut self.connect_failures, other.connect_failures);
        add_counts(&mut self.link_ends, other.link_ends);
    }
}

#[derive(Debug)]
pub struct QueryResult {
    tally: Tally,
    seconds: f64,
    paced: bool,
}

/// Reads the file and builds the corpus queries draw from.
pub fn load(options: &QueryOptions) -> anyhow::Result<Arc<Corpus>> {
    let lines = read_lines(&options.file, None)?;
    Ok(Arc::new(Corpus::from_lines(&lines)?))
}

/// Runs queries until `deadline` or `stop`; blocks.
pub fn execute(
    target: &Target,
    options: &QueryOptions,
    corpus: Arc<Corpus>,
    deadline: Instant,
    stop: &Stop,
    counters: &Arc<QueryCounters>,
) -> anyhow::Result<QueryResult> {
    let shapes: Vec<Shape> = options.shapes.iter().copied().filter(|shape| shape.available(&corpus)).collect();
    anyhow::ensure!(!shapes.is_empty(), "{} has no values to build queries from", options.file.display());
    let started = Instant::now();
    let schedule = options.rate.map(|rate| Schedule::new(rate, options.connections));
    let mut handles = Vec::with_capacity(options.connections);
    for number in 0..options.connections {
        let (target, stop, counters, shapes) = (target.clone(), stop.clone(), counters.clone(), shapes.clone());
        let maker = QueryMaker::new(corpus.clone(), QUERY_SEED + number as u64);
        let query_timeout = options.query_timeout;
        handles.push(worker::spawn(format!("query-{number}"), move || {
            let worker = Worker { target: &target, shapes: &shapes, query_timeout, deadline, stop: &stop, schedule };
            worker.run(maker, number, &counters)
        })?);
    }
    let mut tally = Tally::default();
    for part in worker::join_all(handles)? {
        tally.merge(part);
    }
    // A paced run's clock starts at the first slot, not during the lead.
    let seconds = match schedule {
        Some(schedule) => Instant::now().saturating_duration_since(schedule.start).as_secs_f64(),
        None => started.elapsed().as_secs_f64(),
    };
    Ok(QueryResult { tally, seconds, paced: schedule.is_some() })
}

struct Worker<'a> {
    target: &'a Target,
    shapes: &'a [Shape],
    query_timeout: Duration,
    deadline: Instant,
    stop: &'a Stop,
    schedule: Option<Schedule>,
}

/// How one query ended.
enum Answer {
    Eose { events: u64 },
    Closed(String),
    TimedOut,
}

impl Worker<'_> {
    fn run(&self, mut maker: QueryMaker, number: usize, counters: &QueryCounters) -> Tally {
        let mut tally = Tally::default();
        let mut connection = match Connection::open(self.target, None, CONNECT_TIMEOUT) {
            Ok(connection) => connection,
            Err(failure) => {
                *tally.connect_failures.entry(failure.label()).or_default() += 1;
                return tally;
            }
        };
        let mut sequence = 0usize;
        while !self.stop.is_stopped() && Instant::now() < self.deadline {
            let shape = self.shapes[(number + sequence) % self.shapes.len()];
            let subscription_id = format!("q{sequence}");
            let filters: Vec<String> = maker.filters(shape).iter().map(Filter::to_json).collect();
            let started = match self.schedule {
                Some(schedule) => {
                    let slot = schedule.slot(number, sequence as u64);
                    if slot >= self.deadline {
                        break;
                    }
                    // Idle between queries (a CLOSE has no answer), so the wait is a sleep.
                    std::thread::sleep(slot.saturating_duration_since(Instant::now()));
                    tally.lateness.record(Instant::now().saturating_duration_since(slot));
                    slot
                }
                None => Instant::now(),
            };
            sequence += 1;
            let answer = connection
                .send_text(req_message(&subscription_id, &filters))
                .and_then(|()| self.await_answer(&mut connection, &subscription_id));
            let shape_tally = tally.shapes.entry(shape).or_default();
            match answer {
                Ok(Answer::Eose { events }) => {
                    shape_tally.latency.record(started.elapsed());
                    shape_tally.completed += 1;
                    shape_tally.events += events;
                    shape_tally.empty += u64::from(events == 0);
                    counters.completed.fetch_add(1, Ordering::Relaxed);
                    counters.events.fetch_add(events, Ordering::Relaxed);
                }
                Ok(Answer::Closed(message)) => {
                    *shape_tally.closed.entry(reason_prefix(&message)).or_default() += 1;
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Ok(Answer::TimedOut) => {
                    shape_tally.timeouts += 1;
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                }
                Err(ended) => {
                    *tally.link_ends.entry(ended.0).or_default() += 1;
                    return tally;
                }
            }
            if let Err(ended) = connection.send_text(close_message(&subscription_id)) {
                *tally.link_ends.entry(ended.0).or_default() += 1;
                return tally;
            }
        }
        connection.close();
        tally
    }

    /// Reads until EOSE or CLOSED for `subscription_id` (messages of earlier ones are skipped).
    fn await_answer(
        &self,
        connection: &mut Connection,
        subscription_id: &str,
    ) -> Result<Answer, crate::client::LinkEnded> {
        let give_up = Instant::now() + self.query_timeout;
        // How this relay frames an event of the subscription; counted without parsing the
        // event (a relay that frames it otherwise is decoded below, only slower).
        let event_prefix = parrhesia_engine::event_message_prefix(subscription_id);
        let mut events = 0;
        loop {
            let now = Instant::now();
            if now >= give_up {
                return Ok(Answer::TimedOut);
            }
            connection.set_read_timeout(Some((give_up - now).min(POLL_INTERVAL)))?;
            let Some(text) = connection.read_text()? else { continue };
            if text.as_bytes().starts_with(&event_prefix) {
                events += 1;
                continue;
            }
            match RelayMessage::decode(text.as_str()) {
                Ok(RelayMessage::Event { subscription_id: id, .. }) if id == subscription_id => events += 1,
                Ok(RelayMessage::Eose { subscription_id: id }) if id == subscription_id => {
                    return Ok(Answer::Eose { events });
                }
                Ok(RelayMessage::Closed { subscription_id: id, message }) if id == subscription_id => {
                    return Ok(Answer::Closed(message.to_string()));
                }
                _ => {}
            }
        }
    }
}

impl QueryResult {
    pub fn completed(&self) -> u64 {
        self.tally.shapes.values().map(|shape| shape.completed).sum()
    }

    /// Adds `query.*` metrics (overall and per shape) to `report`.
    pub fn report_into(&self, report: &mut Report) {
        let mut overall = ShapeTally::default();
        for (shape, tally) in &self.tally.shapes {
            let prefix = format!("query.{}", shape.name());
            report.count(format!("{prefix}.completed"), tally.completed, "queries");
            report.rate(format!("{prefix}.per_second"), tally.completed, self.seconds, "queries/s");
            report.metric(
                format!("{prefix}.events_per_query"),
                tally.events as f64 / tally.completed.max(1) as f64,
                "events",
            );
            report.count(format!("{prefix}.empty"), tally.empty, "queries");
            if tally.timeouts > 0 {
                report.count(format!("{prefix}.timeouts"), tally.timeouts, "queries");
            }
            report.counts(&format!("{prefix}.closed"), &tally.closed, "queries");
            report.latency(&format!("{prefix}.latency"), &tally.latency);
            overall.latency.merge(&tally.latency);
            overall.completed += tally.completed;
            overall.events += tally.events;
            overall.timeouts += tally.timeouts;
            add_counts(&mut overall.closed, tally.closed.clone());
        }
        report.metric("query.seconds", self.seconds, "s");
        report.count("query.completed", overall.completed, "queries");
        report.rate("query.per_second", overall.completed, self.seconds, "queries/s");
        report.count("query.events", overall.events, "events");
        report.rate("query.events_per_second", overall.events, self.seconds, "events/s");
        report.count("query.timeouts", overall.timeouts, "queries");
        report.count("query.closed", overall.closed.values().sum(), "queries");
        report.latency("query.latency", &overall.latency);
        report.counts("query.connect_failures", &self.tally.connect_failures, "connections");
        report.counts("query.connection_ends", &self.tally.link_ends, "connections");
        if self.paced {
            report.latency("query.send_lateness", &self.tally.lateness);
            if let Some(lateness) = self.tally.lateness.percentiles()
                && lateness.p99_micros > 10_000
            {
                report.note(format!(
                    "REQs went out up to {:.1} ms after their slot (p99): the relay does not keep up with \
                     this rate on these connections, or the bench is short of CPU; latency includes it",
                    lateness.p99_micros as f64 / 1000.0
                ));
            }
        }
        if overall.completed > 0 && overall.events == 0 {
            report.note("every query came back empty: preload the relay with `ingest` of the same file first");
        }
    }

    /// No completed query is a failure (exit 3).
    pub fn failure(&self) -> Option<Failure> {
        if self.completed() > 0 {
            return None;
        }
        let closed: u64 = self.tally.shapes.values().map(|shape| shape.closed.values().sum::<u64>()).sum();
        let timeouts: u64 = self.tally.shapes.values().map(|shape| shape.timeouts).sum();
        Some(Failure::NoData(format!(
            "no query reached EOSE ({closed} closed by the relay, {timeouts} timed out, connection failures {:?}, \
             ends {:?})",
            self.tally.connect_failures, self.tally.link_ends
        )))
    }
}

pub fn progress_text(counters: &QueryCounters, meter: &mut RateMeter, elapsed: Duration) -> String {
    let completed = counters.completed.load(Ordering::Relaxed);
    format!(
        "query: completed {completed} ({:.0}/s) events {} failed {}",
        meter.per_second(completed, elapsed),
        counters.events.load(Ordering::Relaxed),
        counters.failed.load(Ordering::Relaxed)
    )
}

/// The `query` subcommand.
pub fn run(url: &str, options: &QueryOptions, server_pid: Option<u32>) -> anyhow::Result<Outcome> {
    let corpus = load(options)?;
    let target = Target::probe(url)?;
    let server = server_pid.map(ServerWatch::start).transpose()?.map(Arc::new);
    let counters = Arc::new(QueryCounters::default());
    let progress_counters = counters.clone();
    let mut meter = RateMeter::default();
    let progress =
        Progress::start(server.clone(), move |elapsed| progress_text(&progress_counters, &mut meter, elapsed));
    let deadline = Instant::now() + options.duration;
    let result = execute(&target, options, corpus, deadline, &Stop::new(), &counters);
    progress.finish();
    let result = result?;

    let mut report = Report::new("query", url);
    describe(&mut report, options);
    result.report_into(&mut report);
    if let Some(server) = &server {
        server.finish(&mut report, &[("query.completed", result.completed(), "queries/cpu-s")]);
    }
    Ok(Outcome { failure: result.failure(), report })
}

fn describe(report: &mut Report, options: &QueryOptions) {
    report.parameter("file", options.file.display().to_string());
    report.parameter("connections", options.connections);
    report.parameter("duration_seconds", options.duration.as_secs_f64());
    report.parameter("shapes", options.shapes.iter().map(|shape| shape.name()).collect::<Vec<_>>().join(","));
    if let Some(rate) = options.rate {
        report.parameter("rate", rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parrhesia_engine::{Limits, Pubkey, hex};

    fn sample_filters(corpus: Arc<Corpus>, shape: Shape) -> Vec<String> {
        QueryMaker::new(corpus, 1).filters(shape).iter().map(Filter::to_json).collect()
    }

    fn corpus() -> Arc<Corpus> {
        let author: Pubkey = [7; 32];
        Arc::new(Corpus {
            authors_by_frequency: vec![author, [8; 32]],
            kinds_by_frequency: vec![1, 7, 30023],
            stored_ids: vec![[1; 32], [2; 32]],
            referenced_ids: vec![hex::encode(&[1; 32])],
            mentioned_pubkeys: vec![hex::encode(&author)],
            newest_created_at: 1_700_010_000,
            note_words: vec!["coffee".into(), "morning".into()],
        })
    }

    #[test]
    fn every_shape_builds_a_filter_the_relay_accepts() {
        let limits = Limits::default();
        let expected_keys = [
            (Shape::AuthorsKinds, "\"authors\""),
            (Shape::TagE, "\"#e\""),
            (Shape::TagP, "\"#p\""),
            (Shape::Kinds, "\"kinds\""),
            (Shape::Ids, "\"ids\""),
            (Shape::Multi, "\"authors\""),
            (Shape::CatchUp, "\"since\":1700006400"),
            (Shape::Search, "\"search\":"),
        ];
        for (shape, key) in expected_keys {
            assert!(shape.available(&corpus()));
            let filters = sample_filters(corpus(), shape);
            assert_eq!(filters.len(), if shape == Shape::Multi { 3 } else { 1 }, "{shape:?}");
            assert!(filters[0].contains(key), "{shape:?}: {filters:?}");
            for text in filters {
                Filter::parse(&text, &limits).unwrap_or_else(|reason| panic!("{shape:?}: {reason}: {text}"));
            }
        }
        let multi = sample_filters(corpus(), Shape::Multi);
        assert!(multi[1].contains("\"#p\"") && multi[2].contains("\"kinds\":[0]"), "{multi:?}");
    }

    #[test]
    fn shapes_without_values_are_left_out() {
        let empty = Corpus::default();
        assert!(ALL_SHAPES.iter().all(|shape| !shape.available(&empty)));
        let names: Vec<&str> = SHAPES.iter().map(|shape| shape.name()).collect();
        assert_eq!(names, ["authors_kinds", "tag_e", "tag_p", "kinds", "ids", "multi", "catch_up"]);
        for shape in ALL_SHAPES {
            assert_eq!(Shape::from_name(shape.name()), Some(shape));
        }
        assert_eq!(Shape::from_name("everything"), None);
    }

    #[test]
    fn a_seed_gives_the_same_queries() {
        let draw = || {
            let mut maker = QueryMaker::new(corpus(), 3);
            (0..21).map(|index| maker.filters(SHAPES[index % SHAPES.len()])).collect::<Vec<_>>()
        };
        assert_eq!(draw(), draw());
    }

    #[test]
    fn the_schedule_takes_turns_at_the_total_rate() {
        let schedule = Schedule::new(1_000.0, 4);
        let slots: Vec<Duration> =
            [(0, 0), (1, 0), (3, 0), (0, 1), (2, 5)].map(|(c, n)| schedule.slot(c, n) - schedule.start).to_vec();
        let millis = |m: u64| Duration::from_millis(m);
        assert_eq!(slots, [millis(0), millis(1), millis(3), millis(4), millis(22)]);
        assert!(schedule.start > Instant::now(), "a lead before the first slot");
    }

    #[test]
    fn report_has_per_shape_and_overall_figures() {
        let mut tally = Tally::default();
        let mut shape = ShapeTally { completed: 10, events: 40, ..ShapeTally::default() };
        shape.latency.record_micros(2_000);
        tally.shapes.insert(Shape::TagE, shape);
        let result = QueryResult { tally, seconds: 2.0, paced: false };
        let mut report = Report::new("query", "ws://x");
        result.report_into(&mut report);
        assert_eq!(report.value("query.tag_e.per_second"), Some(5.0));
        assert_eq!(report.value("query.tag_e.events_per_query"), Some(4.0));
        assert_eq!(report.value("query.per_second"), Some(5.0));
        assert!(report.value("query.tag_e.latency.p99").is_some());
        assert!(result.failure().is_none());
        assert_eq!(report.value("query.send_lateness.p99"), None);
        let nothing = QueryResult { tally: Tally::default(), seconds: 1.0, paced: true };
        assert_eq!(nothing.failure().expect("failed").exit_code(), 3);
    }
}
