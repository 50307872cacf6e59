//! `converge`: waits until a relay holds a number of events matching a filter, asking with
//! NIP-45 COUNT every few milliseconds, and reports how long that took and how fast the count
//! grew: a cluster node's replication throughput or catch-up time, seen from outside.

use std::time::{Duration, Instant};

use parrhesia_engine::RelayMessage;

use crate::client::{Connection, Incoming, Target};
use crate::failure::{Failure, Outcome};
use crate::report::Report;

pub struct ConvergeOptions {
    pub filter: String,
    pub count: u64,
    pub timeout: Duration,
    pub interval: Duration,
}

/// Counts on `url` until `options.count` is reached or the timeout passes.
pub fn run(url: &str, options: &ConvergeOptions) -> anyhow::Result<Outcome> {
    let target = Target::probe(url)?;
    let mut connection = Connection::open(&target, None, Duration::from_secs(10))
        .map_err(|failure| Failure::Unreachable { url: url.into(), reason: failure.label() })?;
    connection.set_read_timeout(Some(Duration::from_secs(10))).map_err(|ended| anyhow::anyhow!("{}", ended.0))?;
    let mut report = Report::new("converge", url);
    report.parameter("filter", options.filter.clone());
    report.parameter("target_count", options.count);
    let start = Instant::now();
    let (mut first, mut last) = (None, 0);
    let mut first_change: Option<(Instant, u64)> = None;
    loop {
        let count = count_once(&mut connection, &options.filter)?;
        first.get_or_insert(count);
        if count != last && first_change.is_none() && Some(count) != first {
            first_change = Some((Instant::now(), last));
        }
        last = count;
        if count >= options.count || start.elapsed() >= options.timeout {
            break;
        }
        std::thread::sleep(options.interval);
    }
    let elapsed = start.elapsed().as_secs_f64();
    report.count("converge.count_first", first.unwrap_or(0), "events");
    report.count("converge.count_last", last, "events");
    report.metric("converge.seconds_to_target", elapsed, "s");
    if let Some((at, from)) = first_change {
        // Growth from the first change on: what the node applied per second while it moved.
        let moving = at.elapsed().as_secs_f64();
        report.rate("converge.growth", last.saturating_sub(from), moving, "events/s");
    }
    let failure = (last < options.count)
        .then(|| Failure::NoData(format!("{last} of {} events after {elapsed:.1} s", options.count)));
    connection.close();
    Ok(Outcome { report, failure })
}

fn count_once(connection: &mut Connection, filter: &str) -> anyhow::Result<u64> {
    connection
        .send_text(format!(r#"["COUNT","converge",{filter}]"#))
        .map_err(|ended| anyhow::anyhow!("connection ended: {}", ended.0))?;
    loop {
        match connection.read().map_err(|ended| anyhow::anyhow!("connection ended: {}", ended.0))? {
            Incoming::Message(RelayMessage::Count { count, .. }) => return Ok(count),
            Incoming::Message(RelayMessage::Closed { message, .. }) => anyhow::bail!("COUNT refused: {message}"),
            Incoming::Quiet => anyhow::bail!("no COUNT answer within 10 s"),
            _ => {}
        }
    }
}
