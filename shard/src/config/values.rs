//! The configuration's typed values: the enums a key takes (`auth_required`, `outbound_overflow`,
//! `durability`, `log_format`, `cluster.link_encryption`) and the parser of a rate limit's "PER_SECOND/BURST" text.

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// NIP-42: what a connection must authenticate for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthRequired {
    /// Nothing (AUTH still unlocks NIP-70 protected events).
    None,
    /// Publishing (EVENT).
    Writes,
    /// Everything: EVENT, REQ, COUNT, NEG-OPEN.
    All,
}

/// What to do with a live event for a connection whose outbound queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowPolicy {
    /// Send a NOTICE and close the connection (the default).
    Close,
    /// Drop the oldest queued event to make room.
    DropOldest,
    /// Drop the new event.
    DropNewest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurabilitySetting {
    /// fsync at every group commit.
    Fsync,
    /// No fsync at commit; flush every `flush_interval_ms`.
    Nosync,
}

/// `cluster.link_encryption`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkEncryption {
    Required,
    Off,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// A rate limit as configured: "PER_SECOND/BURST", or empty (or "0") for none.
pub(super) fn parse_rate(text: &str) -> anyhow::Result<parrhesia_engine::rate::Rate> {
    let text = text.trim();
    if text.is_empty() || text == "0" {
        return Ok(parrhesia_engine::rate::Rate::OFF);
    }
    let parsed = text
        .split_once('/')
        .and_then(|(rate, burst)| Some((rate.trim().parse::<f64>().ok()?, burst.trim().parse::<f64>().ok()?)));
    match parsed {
        Some((per_second, burst))
            if per_second > 0.0 && per_second.is_finite() && burst >= 1.0 && burst.is_finite() =>
        {
            Ok(parrhesia_engine::rate::Rate { per_second, burst })
        }
        _ => bail!("{text:?} is not PER_SECOND/BURST (both positive, burst at least 1), e.g. \"20/100\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::tests::pairs;

    #[test]
    fn rate_limits_read_as_rate_and_burst() {
        let flags =
            pairs(&[("rate_event_connection", "20/100"), ("rate_connect_address", "0.5/3"), ("rate_req_relay", "0")]);
        let limits = Config::load(None, vec![], &flags).unwrap().rate_limits().unwrap();
        assert_eq!(limits.connection[0], parrhesia_engine::rate::Rate { per_second: 20.0, burst: 100.0 });
        assert_eq!(limits.connect_address, parrhesia_engine::rate::Rate { per_second: 0.5, burst: 3.0 });
        assert!(limits.relay[1].is_off() && limits.address[0].is_off());
    }

    #[test]
    fn enums_and_optionals_parse() {
        let flags = pairs(&[("outbound_overflow", "drop_oldest"), ("durability", "nosync"), ("relay_url", "wss://x")]);
        let config = Config::load(None, vec![], &flags).unwrap();
        assert_eq!(config.outbound_overflow, OverflowPolicy::DropOldest);
        assert_eq!(config.durability, DurabilitySetting::Nosync);
        assert_eq!(config.relay_url.as_deref(), Some("wss://x"));
    }
}
