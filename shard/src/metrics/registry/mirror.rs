//! The mirror streams' `/metrics` families (written by `Sources::encode_mirrors`), labelled by
//! mirror name and remote URL.

use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;

use super::{Sample, Sources, family};
use crate::metrics::mirror::MirrorMetrics;
use crate::metrics::shard::EVENT_OUTCOMES;

/// A per-stream family: name, help, and where its value is.
type StreamFamily = (&'static str, &'static str, fn(&MirrorMetrics) -> Sample<'static>);

impl Sources {
    pub(super) fn encode_mirrors(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let labels = |stream: &MirrorMetrics| [("mirror", stream.mirror.clone()), ("url", stream.url.clone())];
        let families: [StreamFamily; 11] = [
            ("parrhesia_mirror_connected", "1 while the stream is connected to its remote", |stream| {
                Sample::Gauge(stream.connected.get())
            }),
            ("parrhesia_mirror_connects", "Connections made to the remote", |stream| {
                Sample::Counter(stream.connects.get())
            }),
            ("parrhesia_mirror_catching_up", "1 while the stream catches up (before it goes live)", |stream| {
                Sample::Gauge(stream.catching_up.get())
            }),
            ("parrhesia_mirror_catch_up_events", "Events received while catching up", |stream| {
                Sample::Counter(stream.catch_up_events.get())
            }),
            ("parrhesia_mirror_catch_up_ids_left", "Ids the NIP-77 catch-up in progress has yet to fetch", |stream| {
                Sample::Gauge(stream.catch_up_ids_left.get())
            }),
            (
                "parrhesia_mirror_catch_up_seconds_left",
                "Seconds of its window the REQ-page catch-up in progress has yet to walk back",
                |stream| Sample::Gauge(stream.catch_up_seconds_left.get()),
            ),
            ("parrhesia_mirror_catch_ups_negentropy", "Catch-ups done by NIP-77 negentropy", |stream| {
                Sample::Counter(stream.catch_ups_negentropy.get())
            }),
            ("parrhesia_mirror_catch_ups_pages", "Catch-ups done by REQ pages (the remote lacks NIP-77)", |stream| {
                Sample::Counter(stream.catch_ups_pages.get())
            }),
            (
                "parrhesia_mirror_down_through_seconds",
                "Every matching event the remote held dated up to this (unix seconds) is here or was refused",
                |stream| Sample::Gauge(stream.down_through_seconds.get()),
            ),
            ("parrhesia_mirror_up_withheld", "Events the mirror's plugin kept from being published up", |stream| {
                Sample::Counter(stream.up_withheld.get())
            }),
            (
                "parrhesia_mirror_up_behind_positions",
                "Positions of this relay's log after the up cursor (not yet answered or looked at)",
                |stream| Sample::Gauge(stream.up_behind_positions.get()),
            ),
        ];
        for (name, help, value) in families {
            family(encoder, name, help, self.mirrors.iter().map(|stream| (labels(stream), value(stream))))?;
        }
        let by_outcome = |pick: fn(&MirrorMetrics) -> &[crate::metrics::Count]| {
            self.mirrors.iter().flat_map(move |stream| {
                EVENT_OUTCOMES.iter().enumerate().map(move |(outcome, outcome_name)| {
                    let [mirror, url] = labels(stream);
                    let labels = [mirror, url, ("outcome", (*outcome_name).to_string())];
                    (labels, Sample::Counter(pick(stream)[outcome].get()))
                })
            })
        };
        let help = "Events received from the remote, by outcome";
        family(encoder, "parrhesia_mirror_events_down", help, by_outcome(|stream| &stream.events_down))?;
        let help = "Events published to the remote, by its answer";
        family(encoder, "parrhesia_mirror_events_up", help, by_outcome(|stream| &stream.events_up))
    }
}
