//! The micro-benchmarks' shared harness (engine and storage benches include this file): the
//! median of timed rounds, and a report as one human line on stderr plus one JSON object per
//! metric on stdout.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn median(rounds: &[Duration]) -> Duration {
    let mut sorted = rounds.to_vec();
    sorted.sort_unstable();
    sorted[sorted.len() / 2]
}

/// Prints one line for people on stderr and one JSON object on stdout. The spread is
/// (slowest - fastest) / median round, in percent: a large one means the machine was busy.
#[allow(clippy::too_many_arguments)]
pub fn report(
    bench: &str,
    name: &str,
    what: &str,
    value: f64,
    unit: &str,
    rounds: &[Duration],
    iterations: usize,
    extra: &[(&str, f64)],
) {
    let median = median(rounds);
    let fastest = rounds.iter().min().expect("rounds ran");
    let slowest = rounds.iter().max().expect("rounds ran");
    let spread_percent = (*slowest - *fastest).as_secs_f64() / median.as_secs_f64() * 100.0;
    let extra_text: String = extra.iter().map(|(key, number)| format!(", {key} {number:.3}")).collect();
    eprintln!("{name:<32} {value:>12.1} {unit:<9} spread {spread_percent:>5.1}%{extra_text}  ({what})");
    let unix_seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    let extra_json: String = extra.iter().map(|(key, number)| format!(",\"{key}\":{number:.3}")).collect();
    println!(
        "{{\"name\":\"{name}\",\"value\":{value:.3},\"unit\":\"{unit}\",\"rounds\":{},\"iterations_per_round\":\
         {iterations},\"median_round_ms\":{:.3},\"spread_percent\":{spread_percent:.1}{extra_json},\
         \"bench\":\"{bench}\",\"unix_seconds\":{unix_seconds}}}",
        rounds.len(),
        median.as_secs_f64() * 1e3,
    );
}
