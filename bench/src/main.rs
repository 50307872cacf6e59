//! `parrhesia-bench`: the entry point. Parses the command line, runs one workload, prints its
//! report and turns the outcome into the exit code documented in `--help`.

mod cli;
mod client;
mod connect;
mod converge;
mod event_file;
mod failure;
mod fanout;
mod generate;
mod ingest;
mod latency;
mod mixed;
mod plot;
mod progress;
mod query;
mod random;
mod report;
mod server_stats;
mod slo;
mod sweep;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::failure::{Outcome, exit_code_of};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit_code_of(&error) as u8)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let failure = match &cli.command {
        Command::Sweep(args) => {
            let options = args.options()?;
            sweep::run(&options, |arguments| {
                let mut line = vec!["parrhesia-bench".to_string()];
                line.extend(arguments.iter().cloned());
                let inner = Cli::try_parse_from(&line).with_context(|| format!("the workload {arguments:?}"))?;
                if matches!(
                    inner.command,
                    Command::Sweep(_) | Command::Plot(_) | Command::Gen(_) | Command::Converge(_) | Command::Slo(_)
                ) {
                    anyhow::bail!("sweep runs ingest, query, fanout or mixed");
                }
                Ok(execute(&inner.command)?.0)
            })?
        }
        Command::Plot(args) => {
            let lines = plot::read_lines(&args.files)?;
            plot::draw(&lines, &args.x, &args.y, &args.out)?;
            eprintln!("plot: {}", args.out.display());
            None
        }
        Command::Connect(args) if args.child_report.is_some() => {
            connect::run(&args.url, &args.options(), args.common.server_pid, args.child_report.as_deref())?;
            return Ok(ExitCode::SUCCESS);
        }
        command => {
            let (outcome, json_out) = execute(command)?;
            outcome.report.emit(json_out.as_deref())?;
            outcome.failure
        }
    };
    match failure {
        Some(failure) => {
            eprintln!("error: {failure}");
            Ok(ExitCode::from(failure.exit_code() as u8))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Runs one workload (not `sweep` or `plot`) and returns its outcome and where its JSON lines
/// go besides standard output.
fn execute(command: &Command) -> anyhow::Result<(Outcome, Option<PathBuf>)> {
    let common = match command {
        Command::Connect(args) => Some(&args.common),
        Command::Ingest(args) => Some(&args.common),
        Command::Query(args) => Some(&args.common),
        Command::Fanout(args) => Some(&args.common),
        Command::Mixed(args) => Some(&args.common),
        Command::Gen(_) | Command::Converge(_) | Command::Slo(_) | Command::Sweep(_) | Command::Plot(_) => None,
    };
    let deflate = common.is_some_and(|common| common.deflate);
    client::offer_deflate(deflate);
    let auth_seed = common.and_then(|common| common.auth_seed);
    client::authenticate_as(auth_seed.and_then(|seed| parrhesia_engine::Keys::from_secret_bytes([seed; 32])));
    client::reset_wire_bytes();
    let (mut outcome, json_out) = match command {
        Command::Gen(args) => {
            let report = generate::run(&args.options())?;
            (Outcome { report, failure: None }, args.json_out.clone())
        }
        Command::Connect(args) => {
            let outcome =
                connect::run(&args.url, &args.options(), args.common.server_pid, args.child_report.as_deref())?;
            (outcome, args.common.json_out.clone())
        }
        Command::Ingest(args) => {
            (ingest::run(&args.url, &args.options(), args.common.server_pid)?, args.common.json_out.clone())
        }
        Command::Query(args) => {
            (query::run(&args.url, &args.options(), args.common.server_pid)?, args.common.json_out.clone())
        }
        Command::Fanout(args) => {
            let outcome =
                fanout::run(&args.publish_url, args.subscribe_url(), &args.options(), args.common.server_pid)?;
            (outcome, args.common.json_out.clone())
        }
        Command::Converge(args) => {
            let options = converge::ConvergeOptions {
                filter: args.filter.clone(),
                count: args.count,
                timeout: args.timeout,
                interval: std::time::Duration::from_millis(args.interval_milliseconds.max(1)),
            };
            (converge::run(&args.url, &options)?, args.json_out.clone())
        }
        Command::Mixed(args) => {
            (mixed::run(&args.url, &args.options(), args.common.server_pid)?, args.common.json_out.clone())
        }
        Command::Slo(args) => (slo::run(&args.options())?, args.json_out.clone()),
        Command::Sweep(_) | Command::Plot(_) => unreachable!("handled by run"),
    };
    if common.is_some() {
        outcome.report.parameter("deflate", deflate);
        outcome.report.parameter("auth", auth_seed.is_some());
        outcome.report.count("client.wire_bytes_received", client::wire_bytes_read(), "bytes");
    }
    Ok((outcome, json_out))
}
