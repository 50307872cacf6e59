//! `mixed`: ingest, query and fanout against one relay at the same time for a fixed duration,
//! each measured as it would be alone, so an operator sees how they slow each other down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::Target;
use crate::event_file::{Corpus, read_lines};
use crate::failure::Outcome;
use crate::fanout::{self, FanoutCounters, FanoutOptions};
use crate::ingest::{self, IngestCounters, IngestOptions};
use crate::progress::{Progress, RateMeter};
use crate::query::{self, QueryCounters, QueryOptions};
use crate::report::Report;
use crate::server_stats::ServerWatch;
use crate::worker::Stop;

#[derive(Clone, Debug)]
pub struct MixedOptions {
    pub ingest: IngestOptions,
    pub query: QueryOptions,
    pub fanout: FanoutOptions,
    pub duration: Duration,
}

impl MixedOptions {
    fn ingest_enabled(&self) -> bool {
        self.ingest.connections > 0
    }
    fn query_enabled(&self) -> bool {
        self.query.connections > 0
    }
    fn fanout_enabled(&self) -> bool {
        self.fanout.subscribers > 0 && self.fanout.publishers > 0 && self.fanout.rate > 0.0
    }
}

/// The `mixed` subcommand.
pub fn run(url: &str, options: &MixedOptions, server_pid: Option<u32>) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        options.ingest_enabled() || options.query_enabled() || options.fanout_enabled(),
        "nothing to run: every part has zero connections"
    );
    let lines = if options.ingest_enabled() { ingest::load(&options.ingest)? } else { Vec::new() };
    let corpus = if !options.query_enabled() {
        None
    } else if options.query.file == options.ingest.file && !lines.is_empty() {
        Some(Arc::new(Corpus::from_lines(&lines)?))
    } else {
        Some(Arc::new(Corpus::from_lines(&read_lines(&options.query.file, None)?)?))
    };
    let target = Target::probe(url)?;
    let server = server_pid.map(ServerWatch::start).transpose()?.map(Arc::new);

    let ingest_counters = Arc::new(IngestCounters::default());
    let query_counters = Arc::new(QueryCounters::default());
    let fanout_counters = Arc::new(FanoutCounters::default());
    let (ingest_view, query_view, fanout_view) =
        (ingest_counters.clone(), query_counters.clone(), fanout_counters.clone());
    let mut meters = (RateMeter::default(), RateMeter::default(), RateMeter::default());
    let progress = Progress::start(server.clone(), move |elapsed| {
        format!(
            "{} | {} | {}",
            ingest::progress_text(&ingest_view, &mut meters.0, elapsed),
            query::progress_text(&query_view, &mut meters.1, elapsed),
            fanout::progress_text(&fanout_view, &mut meters.2, elapsed)
        )
    });

    let stop = Stop::new();
    let deadline = Instant::now() + options.duration;
    let (ingest_result, query_result, fanout_result) = std::thread::scope(|scope| {
        let ingest = options.ingest_enabled().then(|| {
            scope.spawn(|| ingest::execute(&target, &options.ingest, lines, Some(deadline), &stop, &ingest_counters))
        });
        let query = corpus.map(|corpus| {
            scope.spawn(|| query::execute(&target, &options.query, corpus, deadline, &stop, &query_counters))
        });
        let fanout = options.fanout_enabled().then(|| {
            scope.spawn(|| {
                fanout::execute(&target, std::slice::from_ref(&target), &options.fanout, &stop, &fanout_counters)
            })
        });
        (ingest.map(join_part), query.map(join_part), fanout.map(join_part))
    });
    progress.finish();

    let mut report = Report::new("mixed", url);
    report.parameter("duration_seconds", options.duration.as_secs_f64());
    // Named per part: `connections` alone would not say whose.
    report.parameter("file", options.query.file.display().to_string());
    report.parameter("ingest_file", options.ingest.file.display().to_string());
    report.parameter("ingest_connections", options.ingest.connections);
    report.parameter("window", options.ingest.window);
    report.parameter("query_connections", options.query.connections);
    fanout::describe(&mut report, &options.fanout);
    let mut failures = Vec::new();
    let mut work = Vec::new();
    if let Some(result) = ingest_result.transpose()? {
        result.report_into(&mut report);
        work.push(("ingest.accepted", result.accepted(), "events/cpu-s"));
        failures.extend(result.failure());
    }
    if let Some(result) = query_result.transpose()? {
        result.report_into(&mut report);
        work.push(("query.completed", result.completed(), "queries/cpu-s"));
        failures.extend(result.failure());
    }
    if let Some(result) = fanout_result.transpose()? {
        result.report_into(&mut report);
        work.push(("fanout.deliveries", result.deliveries(), "deliveries/cpu-s"));
        failures.extend(result.failure());
    }
    if let Some(server) = &server {
        // Each part's work over all of the server's CPU: comparable between runs of the same
        // mix, not with the single workloads.
        server.finish(&mut report, &work);
    }
    // Any enabled part without data makes the whole run's figures misleading: exit 3.
    let mut failures = failures.into_iter();
    let failure = failures.next();
    for other in failures {
        report.note(other.to_string());
    }
    Ok(Outcome { report, failure })
}

fn join_part<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle.join().expect("a part of the mixed run panicked")
}
