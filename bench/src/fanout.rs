//! `fanout`: S subscribers whose filter (a `t` tag unique to the run) matches a fraction F of
//! the events P publishers send at a total rate R. Each event carries its intended send time
//! (unix microseconds) in its content; a subscriber's latency is its receive time minus that,
//! so a publisher that falls behind its schedule shows up in the latency (no coordinated
//! omission). Both clocks are this host's: run publishers and subscribers in one process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parrhesia_engine::{Filter, Id, Keys, RelayMessage, TagFilter};

use crate::client::{Connection, Incoming, LinkEnded, Target, event_message, reason_prefix, req_message};
use crate::failure::{Failure, Outcome};
use crate::ingest::{CONNECT_TIMEOUT, add_counts};
use crate::latency::Latency;
use crate::progress::{Progress, RateMeter};
use crate::random::Random;
use crate::report::Report;
use crate::server_stats::ServerWatch;
use crate::worker::{self, Stop};

/// A read waits at most this long before the worker looks at the stop flag.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long subscribers may take to connect and get EOSE before publishing starts anyway.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(30);
/// After publishing, how long to wait for the last OKs.
const ANSWER_DRAIN: Duration = Duration::from_secs(5);
/// After publishing, deliveries still arriving are waited for this long without progress.
const DELIVERY_QUIET: Duration = Duration::from_secs(2);
/// ... and at most this long in all.
const DELIVERY_DRAIN_MAX: Duration = Duration::from_secs(15);
/// The last stretch before a publish slot is slept, not spent in a socket read (see
/// `wait_for_slot`).
const SLEEP_BEFORE_SLOT: Duration = Duration::from_millis(6);
/// Content prefix of a fanout event; the intended send time in unix microseconds follows.
const CONTENT_PREFIX: &str = "parrhesia-bench fanout ";
/// Every subscriber's subscription id.
const SUBSCRIPTION_ID: &str = "fanout";

#[derive(Clone, Debug)]
pub struct FanoutOptions {
    pub subscribers: usize,
    pub publishers: usize,
    /// Events per second, all publishers together.
    pub rate: f64,
    /// Share of published events that every subscriber's filter matches.
    pub match_fraction: f64,
    pub duration: Duration,
    /// 1 (stored, OK after commit) or an ephemeral kind (20000-29999: never stored).
    pub kind: u16,
}

/// Live totals, for the progress line.
#[derive(Debug, Default)]
pub struct FanoutCounters {
    pub subscribed: AtomicUsize,
    pub published: AtomicU64,
    pub matching_accepted: AtomicU64,
    pub deliveries: AtomicU64,
}

/// Whether the `sequence`th event of the run carries the matching tag: exactly
/// `floor(n * fraction)` of the first n events do, spread evenly.
pub fn is_matching(sequence: u64, fraction: f64) -> bool {
    let fraction = fraction.clamp(0.0, 1.0);
    ((sequence + 1) as f64 * fraction).floor() > (sequence as f64 * fraction).floor()
}

/// The intended send time embedded in a fanout event's JSON, if it is one.
pub fn sent_micros(event_json: &str) -> Option<u64> {
    let marker = format!("\"content\":\"{CONTENT_PREFIX}");
    let start = event_json.find(&marker)? + marker.len();
    let digits = &event_json[start..];
    let end = digits.find(|character: char| !character.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

pub fn unix_micros_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_micros() as u64)
}

/// The tags of this run: every event carries one; subscribers ask for the first.
#[derive(Clone, Debug)]
pub struct RunTags {
    pub matching: String,
    pub other: String,
}

impl RunTags {
    /// Tags no earlier run used, so a relay holding old runs' events returns none of them.
    pub fn fresh() -> RunTags {
        let run = unix_micros_now() ^ (u64::from(std::process::id()) << 40);
        RunTags { matching: format!("pbf-{run:x}-match"), other: format!("pbf-{run:x}-other") }
    }

    pub fn subscription_filter(&self, kind: u16) -> String {
        let filter = Filter {
            kinds: Some(vec![kind]),
            tags: vec![TagFilter { letter: b't', values: vec![self.matching.clone()] }],
            ..Filter::default()
        };
        filter.to_json()
    }
}

#[derive(Debug, Default)]
struct SubscriberTally {
    latency: Latency,
    deliveries: u64,
    /// Events before EOSE (stored matches: there should be none with a fresh tag).
    stored: u64,
    unreadable: u64,
    last_delivery: Option<Instant>,
    connect_failures: BTreeMap<String, u64>,
    link_ends: BTreeMap<String, u64>,
    closed: BTreeMap<String, u64>,
    ready: bool,
}

#[derive(Debug, Default)]
struct PublisherTally {
    published: u64,
    accepted: u64,
    matching_accepted: u64,
    rejected: BTreeMap<String, u64>,
    unanswered: u64,
    ok_latency: Latency,
    /// Actual send time minus intended send time.
    lateness: Latency,
    connect_failures: BTreeMap<String, u64>,
    link_ends: BTreeMap<String, u64>,
}

/// The result of a fanout run.
#[derive(Debug, Default)]
pub struct FanoutResult {
    latency: Latency,
    deliveries: u64,
    stored: u64,
    unreadable: u64,
    subscribers_ready: u64,
    subscriber_connect_failures: BTreeMap<String, u64>,
    subscriber_ends: BTreeMap<String, u64>,
    subscriber_closed: BTreeMap<String, u64>,
    publisher: PublisherTally,
    last_delivery: Option<Instant>,
    publish_seconds: f64,
    delivery_seconds: f64,
}

/// Subscribes (subscriber `n` on `subscribe[n % len]`), publishes for `options.duration` (or
/// until `stop`), waits for the last deliveries; blocks.
pub fn execute(
    publish: &Target,
    subscribe: &[Target],
    options: &FanoutOptions,
    stop: &Stop,
    counters: &Arc<FanoutCounters>,
) -> anyhow::Result<FanoutResult> {
    let tags = RunTags::fresh();
    let filter = tags.subscription_filter(options.kind);
    let stop_subscribers = Stop::new();
    let mut subscriber_handles = Vec::with_capacity(options.subscribers);
    for number in 0..options.subscribers {
        let target = subscribe[number % subscribe.len()].clone();
        let (filter, stop, counters) = (filter.clone(), stop_subscribers.clone(), counters.clone());
        subscriber_handles.push(worker::spawn(format!("subscriber-{number}"), move || {
            subscriber(&target, &filter, &stop, &counters)
        })?);
    }
    let subscribe_deadline = Instant::now() + SUBSCRIBE_TIMEOUT;
    while counters.subscribed.load(Ordering::Relaxed) < options.subscribers
        && subscriber_handles.iter().any(|handle| !handle.is_finished())
        && Instant::now() < subscribe_deadline
        && !stop.is_stopped()
    {
        std::thread::sleep(Duration::from_millis(10));
    }

    let schedule = Schedule::new(options);
    let mut publisher_handles = Vec::with_capacity(options.publishers);
    for number in 0..options.publishers {
        let (target, tags, stop, counters) = (publish.clone(), tags.clone(), stop.clone(), counters.clone());
        let (schedule, options) = (schedule.clone(), options.clone());
        publisher_handles.push(worker::spawn(format!("publisher-{number}"), move || {
            publisher(&target, number, &schedule, &options, &tags, &stop, &counters)
        })?);
    }
    let mut result = FanoutResult::default();
    for part in worker::join_all(publisher_handles)? {
        merge_publisher(&mut result.publisher, part);
    }
    result.publish_seconds = schedule.start.elapsed().as_secs_f64();
    wait_for_deliveries(counters, options.subscribers as u64, stop);
    stop_subscribers.stop();
    for part in worker::join_all(subscriber_handles)? {
        result.absorb_subscriber(part);
    }
    // Deliveries that arrive after the last publish (a backlog draining) count in the window.
    result.delivery_seconds = result
        .last_delivery
        .filter(|last| *last > schedule.start)
        .map_or(result.publish_seconds, |last| (last - schedule.start).as_secs_f64().max(result.publish_seconds));
    Ok(result)
}

/// Waits until every ready subscriber got every matching accepted event, deliveries stop
/// coming for `DELIVERY_QUIET`, or `DELIVERY_DRAIN_MAX` passes.
fn wait_for_deliveries(counters: &FanoutCounters, subscribers: u64, stop: &Stop) {
    let started = Instant::now();
    let mut last_count = counters.deliveries.load(Ordering::Relaxed);
    let mut last_change = Instant::now();
    while started.elapsed() < DELIVERY_DRAIN_MAX && !stop.is_stopped() {
        let ready = (counters.subscribed.load(Ordering::Relaxed) as u64).min(subscribers);
        let expected = counters.matching_accepted.load(Ordering::Relaxed) * ready;
        let count = counters.deliveries.load(Ordering::Relaxed);
        if count >= expected {
            return;
        }
        if count != last_count {
            last_count = count;
            last_change = Instant::now();
        } else if last_change.elapsed() >= DELIVERY_QUIET {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// When each publisher sends its events: publisher `p`'s `n`th event is intended at
/// `start + (n * publishers + p) / rate`, so together they send at `rate`, evenly interleaved.
#[derive(Clone, Debug)]
struct Schedule {
    start: Instant,
    start_unix_micros: u64,
    interval: Duration,
    end: Instant,
    publishers: u64,
}

impl Schedule {
    fn new(options: &FanoutOptions) -> Schedule {
        // A lead so every publisher is connected before its first slot.
        let lead = Duration::from_millis(200 + options.publishers as u64);
        let start = Instant::now() + lead;
        let start_unix_micros = unix_micros_now() + lead.as_micros() as u64;
        let interval = Duration::from_secs_f64(1.0 / options.rate.max(0.001));
        Schedule {
            start,
            start_unix_micros,
            interval,
            end: start + options.duration,
            publishers: options.publishers.max(1) as u64,
        }
    }

    /// The global sequence number, intended instant and unix microseconds of a publisher's
    /// `n`th event.
    fn slot(&self, publisher: usize, n: u64) -> (u64, Instant, u64) {
        let sequence = n * self.publishers + publisher as u64;
        let offset = self.interval.mul_f64(sequence as f64);
        (sequence, self.start + offset, self.start_unix_micros + offset.as_micros() as u64)
    }
}

fn subscriber(target: &Target, filter: &str, stop: &Stop, counters: &FanoutCounters) -> SubscriberTally {
    let mut tally = SubscriberTally { latency: Latency::compact(), ..SubscriberTally::default() };
    let mut connection = match Connection::open(target, None, CONNECT_TIMEOUT) {
        Ok(connection) => connection,
        Err(failure) => {
            *tally.connect_failures.entry(failure.label()).or_default() += 1;
            return tally;
        }
    };
    let outcome = connection
        .send_text(req_message(SUBSCRIPTION_ID, &[filter.to_string()]))
        .and_then(|()| connection.set_read_timeout(Some(POLL_INTERVAL)))
        .and_then(|()| receive(&mut connection, &mut tally, stop, counters));
    if let Err(ended) = outcome {
        *tally.link_ends.entry(ended.0).or_default() += 1;
        return tally;
    }
    connection.close();
    tally
}

/// Reads the subscription until `stop`: stored events and EOSE, then live deliveries.
fn receive(
    connection: &mut Connection,
    tally: &mut SubscriberTally,
    stop: &Stop,
    counters: &FanoutCounters,
) -> Result<(), LinkEnded> {
    let event_prefix = parrhesia_engine::event_message_prefix(SUBSCRIPTION_ID);
    while !stop.is_stopped() {
        let Some(text) = connection.read_text()? else { continue };
        // A live delivery is told by its first bytes and its send time read from the text, not
        // decoded (500 subscribers at 100 events/s are 50,000 decodes a second on the machine
        // the relay runs on); anything else, or a relay that frames events otherwise, is decoded.
        if tally.ready && text.as_bytes().starts_with(&event_prefix) {
            record_delivery(&text, tally, counters);
            continue;
        }
        let Ok(message) = RelayMessage::decode(text.as_str()) else {
            tally.unreadable += 1;
            continue;
        };
        match message {
            RelayMessage::Eose { .. } if !tally.ready => {
                tally.ready = true;
                counters.subscribed.fetch_add(1, Ordering::Relaxed);
            }
            RelayMessage::Event { event, .. } if tally.ready => record_delivery(&event, tally, counters),
            RelayMessage::Event { .. } => tally.stored += 1,
            RelayMessage::Closed { message, .. } => {
                *tally.closed.entry(reason_prefix(&message)).or_default() += 1;
                return Ok(());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Accounts one live delivery whose event (or whole EVENT message) is `text`.
fn record_delivery(text: &str, tally: &mut SubscriberTally, counters: &FanoutCounters) {
    let received = unix_micros_now();
    let Some(sent) = sent_micros(text) else {
        tally.unreadable += 1;
        return;
    };
    tally.latency.record_micros(received.saturating_sub(sent));
    tally.deliveries += 1;
    tally.last_delivery = Some(Instant::now());
    counters.deliveries.fetch_add(1, Ordering::Relaxed);
}

/// A publisher's signing key: fresh per run (its events are new to any relay).
fn publisher_keys(number: usize) -> Keys {
    let mut random = Random::new(unix_micros_now() ^ ((number as u64) << 48) ^ u64::from(std::process::id()));
    loop {
        if let Some(keys) = Keys::from_secret_bytes(random.bytes32()) {
            return keys;
        }
    }
}

fn publisher(
    target: &Target,
    number: usize,
    schedule: &Schedule,
    options: &FanoutOptions,
    tags: &RunTags,
    stop: &Stop,
    counters: &FanoutCounters,
) -> PublisherTally {
    let mut tally = PublisherTally::default();
    let mut connection = match Connection::open(target, None, CONNECT_TIMEOUT) {
        Ok(connection) => connection,
        Err(failure) => {
            *tally.connect_failures.entry(failure.label()).or_default() += 1;
            return tally;
        }
    };
    let keys = publisher_keys(number);
    // Event id -> (actual send time, whether it matches).
    let mut waiting: HashMap<Id, (Instant, bool)> = HashMap::new();
    let outcome = publish_schedule(
        &mut connection,
        &keys,
        number,
        schedule,
        options,
        tags,
        stop,
        &mut waiting,
        &mut tally,
        counters,
    )
    .and_then(|()| drain_answers(&mut connection, &mut waiting, &mut tally, counters));
    tally.unanswered += waiting.len() as u64;
    match outcome {
        Ok(()) => connection.close(),
        Err(ended) => *tally.link_ends.entry(ended.0).or_default() += 1,
    }
    tally
}

#[allow(clippy::too_many_arguments)]
fn publish_schedule(
    connection: &mut Connection,
    keys: &Keys,
    number: usize,
    schedule: &Schedule,
    options: &FanoutOptions,
    tags: &RunTags,
    stop: &Stop,
    waiting: &mut HashMap<Id, (Instant, bool)>,
    tally: &mut PublisherTally,
    counters: &FanoutCounters,
) -> Result<(), LinkEnded> {
    for n in 0.. {
        let (sequence, intended, intended_unix_micros) = schedule.slot(number, n);
        if intended >= schedule.end || stop.is_stopped() {
            return Ok(());
        }
        let matching = is_matching(sequence, options.match_fraction);
        let tag = if matching { &tags.matching } else { &tags.other };
        // Signed before its slot, so signing is not part of the measured latency.
        let event = keys.sign(
            intended_unix_micros / 1_000_000,
            options.kind,
            vec![vec!["t".to_string(), tag.clone()]],
            format!("{CONTENT_PREFIX}{intended_unix_micros}"),
        );
        wait_for_slot(connection, intended, waiting, tally, counters)?;
        let sent_at = Instant::now();
        connection.send_text(event_message(event.json()))?;
        tally.lateness.record(sent_at.saturating_duration_since(intended));
        waiting.insert(*event.id(), (sent_at, matching));
        tally.published += 1;
        counters.published.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Reads OKs until `intended`. A socket read timeout is rounded up to the kernel's tick (up to
/// 4 ms), so the last stretch is slept instead (nanosleep is precise to tens of microseconds),
/// after taking the OKs already there.
fn wait_for_slot(
    connection: &mut Connection,
    intended: Instant,
    waiting: &mut HashMap<Id, (Instant, bool)>,
    tally: &mut PublisherTally,
    counters: &FanoutCounters,
) -> Result<(), LinkEnded> {
    loop {
        connection.read_ready(|message| account_answer(message, waiting, tally, counters))?;
        let remaining = intended.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok(());
        }
        if remaining <= SLEEP_BEFORE_SLOT {
            std::thread::sleep(remaining);
            return Ok(());
        }
        connection.set_read_timeout(Some(remaining - SLEEP_BEFORE_SLOT))?;
        if let Incoming::Message(message) = connection.read()? {
            account_answer(message, waiting, tally, counters);
        }
    }
}

fn drain_answers(
    connection: &mut Connection,
    waiting: &mut HashMap<Id, (Instant, bool)>,
    tally: &mut PublisherTally,
    counters: &FanoutCounters,
) -> Result<(), LinkEnded> {
    let give_up = Instant::now() + ANSWER_DRAIN;
    connection.set_read_timeout(Some(POLL_INTERVAL))?;
    while !waiting.is_empty() && Instant::now() < give_up {
        if let Incoming::Message(message) = connection.read()? {
            account_answer(message, waiting, tally, counters);
        }
    }
    Ok(())
}

fn account_answer(
    message: RelayMessage<'static>,
    waiting: &mut HashMap<Id, (Instant, bool)>,
    tally: &mut PublisherTally,
    counters: &FanoutCounters,
) {
    let RelayMessage::Ok { event_id, accepted, message } = message else { return };
    let Some((sent_at, matching)) = waiting.remove(&event_id) else { return };
    tally.ok_latency.record(sent_at.elapsed());
    if accepted {
        tally.accepted += 1;
        if matching {
            tally.matching_accepted += 1;
            counters.matching_accepted.fetch_add(1, Ordering::Relaxed);
        }
    } else {
        *tally.rejected.entry(reason_prefix(&message)).or_default() += 1;
    }
}

fn merge_publisher(into: &mut PublisherTally, part: PublisherTally) {
    into.published += part.published;
    into.accepted += part.accepted;
    into.matching_accepted += part.matching_accepted;
    add_counts(&mut into.rejected, part.rejected);
    into.unanswered += part.unanswered;
    into.ok_latency.merge(&part.ok_latency);
    into.lateness.merge(&part.lateness);
    add_counts(&mut into.connect_failures, part.connect_failures);
    add_counts(&mut into.link_ends, part.link_ends);
}

impl FanoutResult {
    fn absorb_subscriber(&mut self, part: SubscriberTally) {
        self.latency.merge(&part.latency);
        self.deliveries += part.deliveries;
        self.stored += part.stored;
        self.unreadable += part.unreadable;
        self.subscribers_ready += u64::from(part.ready);
        self.last_delivery = self.last_delivery.max(part.last_delivery);
        add_counts(&mut self.subscriber_connect_failures, part.connect_failures);
        add_counts(&mut self.subscriber_ends, part.link_ends);
        add_counts(&mut self.subscriber_closed, part.closed);
    }

    pub fn deliveries(&self) -> u64 {
        self.deliveries
    }

    /// Publish-to-deliver latency over every delivery.
    pub fn latency(&self) -> &Latency {
        &self.latency
    }

    pub fn expected_deliveries(&self) -> u64 {
        self.publisher.matching_accepted * self.subscribers_ready
    }

    /// Adds `fanout.*` metrics to `report`.
    pub fn report_into(&self, report: &mut Report) {
        let publisher = &self.publisher;
        report.count("fanout.subscribers_ready", self.subscribers_ready, "subscribers");
        report.count("fanout.published", publisher.published, "events");
        report.rate("fanout.published_per_second", publisher.published, self.publish_seconds, "events/s");
        report.count("fanout.publish_accepted", publisher.accepted, "events");
        report.counts("fanout.publish_rejected", &publisher.rejected, "events");
        report.count("fanout.publish_unanswered", publisher.unanswered, "events");
        report.count("fanout.matching_accepted", publisher.matching_accepted, "events");
        report.count("fanout.deliveries", self.deliveries, "deliveries");
        report.count("fanout.deliveries_expected", self.expected_deliveries(), "deliveries");
        if self.expected_deliveries() > 0 {
            report.metric("fanout.delivery_ratio", self.deliveries as f64 / self.expected_deliveries() as f64, "ratio");
        }
        report.rate("fanout.deliveries_per_second", self.deliveries, self.delivery_seconds, "deliveries/s");
        report.latency("fanout.latency", &self.latency);
        report.latency("fanout.publish_ok_latency", &publisher.ok_latency);
        report.latency("fanout.publish_lateness", &publisher.lateness);
        report.counts("fanout.publisher_connect_failures", &publisher.connect_failures, "connections");
        report.counts("fanout.publisher_ends", &publisher.link_ends, "connections");
        report.counts("fanout.subscriber_connect_failures", &self.subscriber_connect_failures, "connections");
        report.counts("fanout.subscriber_ends", &self.subscriber_ends, "connections");
        report.counts("fanout.subscriber_closed", &self.subscriber_closed, "subscriptions");
        if self.stored > 0 {
            report.count("fanout.stored_before_eose", self.stored, "events");
        }
        if self.unreadable > 0 {
            report.count("fanout.unreadable", self.unreadable, "messages");
        }
        if let Some(lateness) = publisher.lateness.percentiles()
            && lateness.p99_micros > 10_000
        {
            report.note(format!(
                "publishers ran up to {:.1} ms behind schedule (p99): the bench is short of CPU or the relay \
                 pushes back; latency includes it",
                lateness.p99_micros as f64 / 1000.0
            ));
        }
    }

    /// No delivery at all is a failure (exit 3).
    pub fn failure(&self) -> Option<Failure> {
        if self.deliveries > 0 {
            return None;
        }
        Some(Failure::NoData(format!(
            "no event was delivered: {} subscribers ready, {} published, {} accepted ({} matching), rejected {:?}, \
             subscriber connect failures {:?}",
            self.subscribers_ready,
            self.publisher.published,
            self.publisher.accepted,
            self.publisher.matching_accepted,
            self.publisher.rejected,
            self.subscriber_connect_failures
        )))
    }
}

pub fn progress_text(counters: &FanoutCounters, meter: &mut RateMeter, elapsed: Duration) -> String {
    let deliveries = counters.deliveries.load(Ordering::Relaxed);
    format!(
        "fanout: subscribed {} published {} deliveries {deliveries} ({:.0}/s)",
        counters.subscribed.load(Ordering::Relaxed),
        counters.published.load(Ordering::Relaxed),
        meter.per_second(deliveries, elapsed)
    )
}

/// The `fanout` subcommand.
pub fn run(
    publish_url: &str,
    subscribe_url: &str,
    options: &FanoutOptions,
    server_pid: Option<u32>,
) -> anyhow::Result<Outcome> {
    let publish = Target::probe(publish_url)?;
    let subscribe = if subscribe_url == publish_url { publish.clone() } else { Target::probe(subscribe_url)? };
    let server = server_pid.map(ServerWatch::start).transpose()?.map(Arc::new);
    let counters = Arc::new(FanoutCounters::default());
    let progress_counters = counters.clone();
    let mut meter = RateMeter::default();
    let progress =
        Progress::start(server.clone(), move |elapsed| progress_text(&progress_counters, &mut meter, elapsed));
    let result = execute(&publish, &[subscribe], options, &Stop::new(), &counters);
    progress.finish();
    let result = result?;

    let mut report = Report::new("fanout", publish_url);
    describe(&mut report, options);
    report.parameter("subscribe_url", subscribe_url);
    result.report_into(&mut report);
    if let Some(server) = &server {
        server.finish(&mut report, &[("fanout.deliveries", result.deliveries(), "deliveries/cpu-s")]);
    }
    Ok(Outcome { failure: result.failure(), report })
}

pub fn describe(report: &mut Report, options: &FanoutOptions) {
    report.parameter("subscribers", options.subscribers);
    report.parameter("publishers", options.publishers);
    report.parameter("rate", options.rate);
    report.parameter("match_fraction", options.match_fraction);
    report.parameter("fanout_duration_seconds", options.duration.as_secs_f64());
    report.parameter("kind", options.kind);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_an_exact_even_fraction() {
        for (fraction, events, expected) in [(0.1, 1000, 100), (0.5, 10, 5), (1.0, 7, 7), (0.0, 50, 0), (0.33, 300, 99)]
        {
            let count = (0..events).filter(|&sequence| is_matching(sequence, fraction)).count();
            assert_eq!(count, expected, "fraction {fraction}");
        }
        let every_tenth: Vec<u64> = (0..30).filter(|&sequence| is_matching(sequence, 0.1)).collect();
        assert_eq!(every_tenth, [9, 19, 29]);
    }

    #[test]
    fn the_send_time_is_read_back_from_the_event() {
        let keys = Keys::from_secret_bytes([3; 32]).expect("valid");
        let event = keys.sign(1, 1, vec![vec!["t".into(), "x".into()]], format!("{CONTENT_PREFIX}1700000000123456"));
        assert_eq!(sent_micros(event.json()), Some(1_700_000_000_123_456));
        // ... and from the whole EVENT message a subscriber receives.
        let message = format!(r#"["EVENT","{SUBSCRIPTION_ID}",{}]"#, event.json());
        assert_eq!(sent_micros(&message), Some(1_700_000_000_123_456));
        let other = keys.sign(1, 1, vec![], "hello".into());
        assert_eq!(sent_micros(other.json()), None);
        assert_eq!(sent_micros("{\"content\":\"parrhesia-bench fanout x\"}"), None);
    }

    #[test]
    fn the_schedule_interleaves_publishers_at_the_total_rate() {
        let options = FanoutOptions {
            subscribers: 1,
            publishers: 4,
            rate: 1000.0,
            match_fraction: 0.1,
            duration: Duration::from_secs(1),
            kind: 1,
        };
        let schedule = Schedule::new(&options);
        let (sequence, first, first_micros) = schedule.slot(0, 0);
        assert_eq!((sequence, first), (0, schedule.start));
        assert_eq!(first_micros, schedule.start_unix_micros);
        let (sequence, at, micros) = schedule.slot(3, 2);
        assert_eq!(sequence, 11);
        assert_eq!(at - schedule.start, Duration::from_millis(11));
        assert_eq!(micros - schedule.start_unix_micros, 11_000);
    }

    #[test]
    fn run_tags_differ_and_the_filter_asks_for_the_matching_one() {
        let tags = RunTags::fresh();
        assert_ne!(tags.matching, tags.other);
        let filter = tags.subscription_filter(20001);
        assert_eq!(filter, format!("{{\"kinds\":[20001],\"#t\":[\"{}\"]}}", tags.matching));
    }

    #[test]
    fn expected_deliveries_and_failure() {
        let mut result = FanoutResult { subscribers_ready: 3, ..FanoutResult::default() };
        result.publisher.matching_accepted = 10;
        assert_eq!(result.expected_deliveries(), 30);
        assert_eq!(result.failure().expect("nothing delivered").exit_code(), 3);
        result.deliveries = 30;
        result.delivery_seconds = 3.0;
        let mut report = Report::new("fanout", "ws://x");
        result.report_into(&mut report);
        assert_eq!(report.value("fanout.delivery_ratio"), Some(1.0));
        assert_eq!(report.value("fanout.deliveries_per_second"), Some(10.0));
        assert!(result.failure().is_none());
    }
}
