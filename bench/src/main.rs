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
mod progress;
mod query;
mod random;
mod report;
mod server_stats;
mod worker;

use std::process::ExitCode;

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
    let common = match &cli.command {
        Command::Connect(args) => Some(&args.common),
        Command::Ingest(args) => Some(&args.common),
        Command::Query(args) => Some(&args.common),
        Command::Fanout(args) => Some(&args.common),
        Command::Mixed(args) => Some(&args.common),
        Command::Gen(_) | Command::Converge(_) => None,
    };
    let deflate = common.is_some_and(|common| common.deflate);
    client::offer_deflate(deflate);
    let (mut outcome, json_out) = match &cli.command {
        Command::Gen(args) => {
            let report = generate::run(&args.options())?;
            (Outcome { report, failure: None }, args.json_out.as_deref())
        }
        Command::Connect(args) => {
            let outcome =
                connect::run(&args.url, &args.options(), args.common.server_pid, args.child_report.as_deref())?;
            if args.child_report.is_some() {
                return Ok(ExitCode::SUCCESS);
            }
            (outcome, args.common.json_out.as_deref())
        }
        Command::Ingest(args) => {
            (ingest::run(&args.url, &args.options(), args.common.server_pid)?, args.common.json_out.as_deref())
        }
        Command::Query(args) => {
            (query::run(&args.url, &args.options(), args.common.server_pid)?, args.common.json_out.as_deref())
        }
        Command::Fanout(args) => {
            let outcome =
                fanout::run(&args.publish_url, args.subscribe_url(), &args.options(), args.common.server_pid)?;
            (outcome, args.common.json_out.as_deref())
        }
        Command::Converge(args) => {
            let options = converge::ConvergeOptions {
                filter: args.filter.clone(),
                count: args.count,
                timeout: args.timeout,
                interval: std::time::Duration::from_millis(args.interval_milliseconds.max(1)),
            };
            (converge::run(&args.url, &options)?, args.json_out.as_deref())
        }
        Command::Mixed(args) => {
            (mixed::run(&args.url, &args.options(), args.common.server_pid)?, args.common.json_out.as_deref())
        }
    };
    if common.is_some() {
        outcome.report.parameter("deflate", deflate);
        outcome.report.count("client.wire_bytes_received", client::wire_bytes_read(), "bytes");
    }
    outcome.report.emit(json_out)?;
    match outcome.failure {
        Some(failure) => {
            eprintln!("error: {failure}");
            Ok(ExitCode::from(failure.exit_code() as u8))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}
