//! A mirror stream's metrics (`[[mirror]]`, one per remote URL), written by the shard that
//! runs the stream.

use super::shard::EVENT_OUTCOMES;
use super::{Count, Gauge};

#[derive(Debug)]
pub struct MirrorMetrics {
    /// The mirror's name and the stream's remote URL: its labels.
    pub mirror: String,
    pub url: String,
    /// 1 while the stream is connected to its remote.
    pub connected: Gauge,
    /// Connections made to the remote (each then catches up).
    pub connects: Count,
    /// 1 while the stream is catching up (before its live subscription).
    pub catching_up: Gauge,
    /// Events received from the remote, by what became of them (`EVENT_OUTCOMES`).
    pub events_down: [Count; EVENT_OUTCOMES.len()],
    /// Events published to the remote, by its answer (`EVENT_OUTCOMES`: stored is an `OK
    /// true`, duplicate, or the refusal's prefix).
    pub events_up: [Count; EVENT_OUTCOMES.len()],
    /// Events the mirror's plugin kept from being published up.
    pub up_withheld: Count,
    /// Sequence numbers of this relay's log after the up cursor (events not yet answered by
    /// the remote, or not yet looked at; not all of them match the filter).
    pub up_behind_positions: Gauge,
    /// Events received while catching up (by NIP-77 or REQ pages), whatever became of them.
    pub catch_up_events: Count,
    /// How much of the catch-up in progress is left: ids to fetch (NIP-77), seconds of the
    /// window to walk back (REQ pages); 0 when none is in progress.
    pub catch_up_ids_left: Gauge,
    pub catch_up_seconds_left: Gauge,
    /// Catch-ups done by NIP-77 negentropy and by REQ pages.
    pub catch_ups_negentropy: Count,
    pub catch_ups_pages: Count,
    /// Every event the filter matches dated up to this (unix seconds) is held or was refused
    /// here: the stream's progress. `time() - it` is how far the stream lags.
    pub down_through_seconds: Gauge,
}

impl MirrorMetrics {
    pub fn new(mirror: &str, url: &str) -> MirrorMetrics {
        MirrorMetrics {
            mirror: mirror.into(),
            url: url.into(),
            connected: Gauge::default(),
            connects: Count::default(),
            catching_up: Gauge::default(),
            events_down: Default::default(),
            events_up: Default::default(),
            up_behind_positions: Gauge::default(),
            up_withheld: Count::default(),
            catch_up_events: Count::default(),
            catch_up_ids_left: Gauge::default(),
            catch_up_seconds_left: Gauge::default(),
            catch_ups_negentropy: Count::default(),
            catch_ups_pages: Count::default(),
            down_through_seconds: Gauge::default(),
        }
    }
}
