//! The failures that have their own exit code (see `--help`): a relay that cannot be reached,
//! and a run that measured nothing (everything rejected, no answers, no deliveries).

use std::fmt;

/// Exit code for errors without a more specific one (I/O, a bad input file).
pub const EXIT_ERROR: i32 = 1;
/// Exit code for an unreachable relay (and, from clap, a bad command line).
pub const EXIT_UNREACHABLE: i32 = 2;
/// Exit code for a run that produced no data.
pub const EXIT_NO_DATA: i32 = 3;
/// Exit code for an `slo` run that missed at least one SLO.
pub const EXIT_SLO_MISSED: i32 = 4;

#[derive(Debug)]
pub enum Failure {
    /// The relay at `url` could not be connected to (refused, timed out, unresolvable, or the
    /// WebSocket upgrade was refused). Nothing was sent.
    Unreachable { url: String, reason: String },
    /// The run finished but measured nothing usable; the text says what happened (for example
    /// the rejection reasons the relay gave).
    NoData(String),
    /// `slo`: these SLOs were missed (the report has every value and threshold).
    SloMissed(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Unreachable { .. } => EXIT_UNREACHABLE,
            Failure::NoData(_) => EXIT_NO_DATA,
            Failure::SloMissed(_) => EXIT_SLO_MISSED,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unreachable { url, reason } => write!(formatter, "cannot reach the relay at {url}: {reason}"),
            Failure::NoData(text) => write!(formatter, "no data: {text}"),
            Failure::SloMissed(names) => write!(formatter, "SLO missed: {names}"),
        }
    }
}

impl std::error::Error for Failure {}

/// What a workload hands back: its report (always printed, even for a failed run, so scripts
/// see what was measured) and the failure that decides the exit code, if any.
#[derive(Debug)]
pub struct Outcome {
    pub report: crate::report::Report,
    pub failure: Option<Failure>,
}

/// The exit code for an error that ended a run.
pub fn exit_code_of(error: &anyhow::Error) -> i32 {
    error.chain().find_map(|cause| cause.downcast_ref::<Failure>()).map_or(EXIT_ERROR, Failure::exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn exit_codes_follow_the_failure_through_context() {
        let unreachable: anyhow::Error =
            Failure::Unreachable { url: "ws://127.0.0.1:1".into(), reason: "connection refused".into() }.into();
        assert_eq!(exit_code_of(&unreachable), 2);
        assert_eq!(unreachable.to_string(), "cannot reach the relay at ws://127.0.0.1:1: connection refused");
        let wrapped = Err::<(), _>(Failure::NoData("nothing accepted".into())).context("ingest").unwrap_err();
        assert_eq!(exit_code_of(&wrapped), 3);
        assert_eq!(exit_code_of(&anyhow::anyhow!("disk full")), 1);
    }
}
