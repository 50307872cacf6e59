//! `slo`: a cluster's service levels, measured against a running cluster. Publishers on one
//! node, subscribers spread over the others (a stored kind, then an ephemeral one); every
//! node's `/metrics` is read before and after. Each SLO is printed with its measured value,
//! its threshold and pass/fail, as JSON lines like every other workload:
//!
//! - `slo.remote_enqueue_p95_ms`: p95 of the origin's commit to a remote node's fanout
//!   enqueue, from each node's `parrhesia_cluster_delivery_lag_seconds` histogram (the bucket
//!   bound the 95th percentile falls under; the worst node counts);
//! - `slo.ephemeral_loss`: ephemeral events sent vs received by the remote subscribers;
//! - `slo.catch_up_seconds` (with `--stop-cmd`/`--start-cmd`): a node is stopped, events are
//!   published elsewhere, the node is started; how long until it holds them all (NIP-45 COUNT).
//!
//! Publish-to-deliver latency as the subscribers see it is reported too (`slo.deliver_*`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::client::{Connection, Target, event_message};
use crate::converge::{self, ConvergeOptions};
use crate::failure::{Failure, Outcome};
use crate::fanout::{self, FanoutCounters, FanoutOptions, RunTags};
use crate::ingest::CONNECT_TIMEOUT;
use crate::report::Report;
use crate::worker::Stop;

#[derive(Clone, Debug)]
pub struct SloOptions {
    pub publish_url: String,
    pub subscribe_urls: Vec<String>,
    /// `http://host:port/metrics` of every node (the publishing node's included).
    pub metrics_urls: Vec<String>,
    /// The stored-kind run; the ephemeral run uses the same shape with `ephemeral_kind`.
    pub fanout: FanoutOptions,
    pub ephemeral_kind: u16,
    pub remote_enqueue_p95_ms: f64,
    pub ephemeral_loss_max: f64,
    pub catch_up: Option<CatchUp>,
}

#[derive(Clone, Debug)]
pub struct CatchUp {
    pub stop_command: String,
    pub start_command: String,
    /// The restarted node's WebSocket URL.
    pub url: String,
    pub events: u64,
    pub seconds_max: f64,
    pub timeout: Duration,
}

/// One SLO's verdict.
struct Verdict {
    name: &'static str,
    value: f64,
    threshold: f64,
    unit: &'static str,
}

impl Verdict {
    fn passed(&self) -> bool {
        self.value <= self.threshold
    }
}

pub fn run(options: &SloOptions) -> anyhow::Result<Outcome> {
    if options.subscribe_urls.is_empty() {
        bail!("slo needs at least one --subscribe-url (another node of the cluster)");
    }
    let publish = Target::probe(&options.publish_url)?;
    let subscribe: Vec<Target> =
        options.subscribe_urls.iter().map(|url| Target::probe(url)).collect::<Result<_, _>>()?;
    let mut report = Report::new("slo", &options.publish_url);
    fanout::describe(&mut report, &options.fanout);
    report.parameter("subscribe_urls", options.subscribe_urls.join(","));
    let mut verdicts = Vec::new();

    // Stored events: the nodes' own measure of commit-to-remote-enqueue.
    let before = scrape_all(&options.metrics_urls)?;
    let stored =
        fanout::execute(&publish, &subscribe, &options.fanout, &Stop::new(), &Arc::new(FanoutCounters::default()))?;
    let after = scrape_all(&options.metrics_urls)?;
    let mut worst: Option<f64> = None;
    for (url, scrape) in &after {
        let Some(p95) = lag_percentile(&before[url], scrape, 0.95) else { continue };
        report.metric(format!("slo.remote_enqueue_p95_ms.{}", node_name(url)), p95 * 1000.0, "ms");
        worst = Some(worst.map_or(p95, |worst: f64| worst.max(p95)));
    }
    let Some(worst) = worst else {
        let text = "no node observed a cross-node delivery (parrhesia_cluster_delivery_lag_seconds did not grow)";
        return Ok(Outcome { report, failure: Some(Failure::NoData(text.into())) });
    };
    verdicts.push(Verdict {
        name: "slo.remote_enqueue_p95_ms",
        value: worst * 1000.0,
        threshold: options.remote_enqueue_p95_ms,
        unit: "ms",
    });
    if let Some(percentiles) = stored.latency().percentiles() {
        report.metric("slo.deliver_p50_ms", percentiles.p50_micros as f64 / 1000.0, "ms");
        report.metric("slo.deliver_p99_ms", percentiles.p99_micros as f64 / 1000.0, "ms");
    }
    report.count("slo.stored_deliveries", stored.deliveries(), "deliveries");
    report.count("slo.stored_deliveries_expected", stored.expected_deliveries(), "deliveries");

    // Ephemeral events: best effort, so what is lost is the measure.
    let ephemeral_options = FanoutOptions { kind: options.ephemeral_kind, ..options.fanout.clone() };
    let ephemeral =
        fanout::execute(&publish, &subscribe, &ephemeral_options, &Stop::new(), &Arc::new(FanoutCounters::default()))?;
    let expected = ephemeral.expected_deliveries();
    if expected == 0 {
        return Ok(Outcome {
            report,
            failure: ephemeral.failure().or(Some(Failure::NoData("no ephemeral event was accepted".into()))),
        });
    }
    report.count("slo.ephemeral_deliveries", ephemeral.deliveries(), "deliveries");
    report.count("slo.ephemeral_deliveries_expected", expected, "deliveries");
    let loss = 1.0 - (ephemeral.deliveries() as f64 / expected as f64).min(1.0);
    verdicts.push(Verdict {
        name: "slo.ephemeral_loss",
        value: loss,
        threshold: options.ephemeral_loss_max,
        unit: "ratio",
    });

    if let Some(catch_up) = &options.catch_up {
        let seconds = measure_catch_up(&publish, catch_up)?;
        verdicts.push(Verdict {
            name: "slo.catch_up_seconds",
            value: seconds,
            threshold: catch_up.seconds_max,
            unit: "s",
        });
    }

    let mut failed = Vec::new();
    for verdict in &verdicts {
        report.metric(verdict.name, verdict.value, verdict.unit);
        report.metric(format!("{}.threshold", verdict.name), verdict.threshold, verdict.unit);
        report.metric(format!("{}.pass", verdict.name), f64::from(u8::from(verdict.passed())), "bool");
        report.note(format!(
            "{} {}: {:.3} {} (threshold {:.3})",
            if verdict.passed() { "PASS" } else { "FAIL" },
            verdict.name,
            verdict.value,
            verdict.unit,
            verdict.threshold
        ));
        if !verdict.passed() {
            failed.push(verdict.name);
        }
    }
    let failure = (!failed.is_empty()).then(|| Failure::SloMissed(failed.join(", ")));
    Ok(Outcome { report, failure })
}

/// Stops the node, publishes `events` stored events (a fresh tag) on the publishing node,
/// starts the node again and counts on it until it holds them all: the seconds from its
/// start command's return.
fn measure_catch_up(publish: &Target, catch_up: &CatchUp) -> anyhow::Result<f64> {
    shell(&catch_up.stop_command)?;
    let tag = RunTags::fresh().matching;
    let mut connection = Connection::open(publish, None, CONNECT_TIMEOUT)
        .map_err(|failure| anyhow::anyhow!("{}", failure.describe()))?;
    let keys = parrhesia_engine::SeededRandom::new(fanout::unix_micros_now()).keys();
    let now = fanout::unix_micros_now() / 1_000_000;
    connection.set_read_timeout(Some(Duration::from_secs(10))).map_err(|ended| anyhow::anyhow!("{}", ended.0))?;
    for n in 0..catch_up.events {
        let event = keys.sign(now, 1, vec![vec!["t".into(), tag.clone()]], format!("catch-up {n}"));
        connection.send_text(event_message(event.json())).map_err(|ended| anyhow::anyhow!("{}", ended.0))?;
        // One at a time: the node is down, so this is the origin's ordinary ingest.
        loop {
            match connection.read().map_err(|ended| anyhow::anyhow!("{}", ended.0))? {
                crate::client::Incoming::Message(parrhesia_engine::RelayMessage::Ok { accepted, message, .. }) => {
                    if !accepted {
                        bail!("the catch-up event was refused: {message}");
                    }
                    break;
                }
                crate::client::Incoming::Quiet => bail!("no OK within 10 s for a catch-up event"),
                _ => {}
            }
        }
    }
    connection.close();
    shell(&catch_up.start_command)?;
    let started = Instant::now();
    // The node takes a moment to listen: converge's first connection retries until then.
    let filter = format!(r##"{{"#t":["{tag}"]}}"##);
    let options = ConvergeOptions {
        filter,
        count: catch_up.events,
        timeout: catch_up.timeout,
        interval: Duration::from_millis(20),
    };
    let deadline = started + catch_up.timeout;
    loop {
        match converge::run(&catch_up.url, &options) {
            Ok(outcome) if outcome.failure.is_none() => return Ok(started.elapsed().as_secs_f64()),
            Ok(outcome) => bail!("the restarted node did not catch up: {}", outcome.failure.expect("checked")),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(error) => return Err(error.context("the restarted node never answered")),
        }
    }
}

fn shell(command: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .status()
        .with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

/// host:port of a URL, for metric names.
fn node_name(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_string()
}

fn scrape_all(urls: &[String]) -> anyhow::Result<BTreeMap<String, prometheus_parse::Scrape>> {
    urls.iter().map(|url| Ok((url.clone(), scrape(url)?))).collect()
}

/// GETs a `/metrics` page (plain HTTP/1.1) and parses it.
pub fn scrape(url: &str) -> anyhow::Result<prometheus_parse::Scrape> {
    let rest = url.strip_prefix("http://").with_context(|| format!("{url}: only http:// metrics URLs"))?;
    let (host, path) =
        rest.split_once('/').map_or((rest, "/metrics".to_string()), |(host, path)| (host, format!("/{path}")));
    let mut stream = std::net::TcpStream::connect(host).with_context(|| format!("connecting to {url}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).with_context(|| format!("reading {url}"))?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(length) = head.parse(&response).with_context(|| format!("{url}: not HTTP"))? else {
        bail!("{url}: incomplete response");
    };
    if head.code != Some(200) {
        bail!("{url}: status {:?}", head.code);
    }
    let body = std::str::from_utf8(&response[length..]).with_context(|| format!("{url}: not UTF-8"))?;
    prometheus_parse::Scrape::parse(body.lines().map(|line| Ok(line.to_string())))
        .with_context(|| format!("{url}: not the Prometheus text format"))
}

/// The `quantile` of the delivery-lag observations made between two scrapes of one node: the
/// upper bound of the bucket it falls in (seconds); `None` if nothing was observed.
fn lag_percentile(before: &prometheus_parse::Scrape, after: &prometheus_parse::Scrape, quantile: f64) -> Option<f64> {
    let buckets = |scrape: &prometheus_parse::Scrape| -> Vec<(f64, f64)> {
        scrape
            .samples
            .iter()
            .filter(|sample| sample.metric == "parrhesia_cluster_delivery_lag_seconds")
            .find_map(|sample| match &sample.value {
                prometheus_parse::Value::Histogram(buckets) => {
                    Some(buckets.iter().map(|bucket| (bucket.less_than, bucket.count)).collect())
                }
                _ => None,
            })
            .unwrap_or_default()
    };
    let (old, new) = (buckets(before), buckets(after));
    let delta: Vec<(f64, f64)> = new
        .iter()
        .map(|&(bound, count)| {
            (bound, count - old.iter().find(|(old_bound, _)| *old_bound == bound).map_or(0.0, |(_, count)| *count))
        })
        .collect();
    let total = delta.last().map_or(0.0, |(_, count)| *count);
    if total <= 0.0 {
        return None;
    }
    delta.iter().find(|(_, count)| *count >= quantile * total).map(|(bound, _)| *bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape_of(text: &str) -> prometheus_parse::Scrape {
        prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_string()))).unwrap()
    }

    fn histogram(counts: [u64; 4]) -> prometheus_parse::Scrape {
        let bounds = ["0.001", "0.01", "0.1", "+Inf"];
        let mut text = String::from("# TYPE parrhesia_cluster_delivery_lag_seconds histogram\n");
        for (bound, count) in bounds.iter().zip(counts) {
            text.push_str(&format!("parrhesia_cluster_delivery_lag_seconds_bucket{{le=\"{bound}\"}} {count}\n"));
        }
        text.push_str(&format!("parrhesia_cluster_delivery_lag_seconds_count {}\n", counts[3]));
        text.push_str("parrhesia_cluster_delivery_lag_seconds_sum 1\n");
        scrape_of(&text)
    }

    #[test]
    fn the_percentile_is_taken_over_what_was_observed_between_scrapes() {
        // Before: 100 fast observations. Between: 10 more under 1 ms, 90 under 10 ms.
        let before = histogram([100, 100, 100, 100]);
        let after = histogram([110, 200, 200, 200]);
        assert_eq!(lag_percentile(&before, &after, 0.95), Some(0.01));
        assert_eq!(lag_percentile(&before, &after, 0.05), Some(0.001));
        assert_eq!(lag_percentile(&after, &after, 0.95), None, "nothing observed");
        assert_eq!(node_name("ws://10.0.0.1:7777/"), "10.0.0.1:7777");
        assert_eq!(node_name("http://h:9/metrics"), "h:9");
    }
}
