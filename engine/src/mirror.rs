//! Mirroring another relay, sans-I/O: where a stream resumes (`Progress`), the backwards walk
//! of REQ pages a stream catches up with when its remote does not speak NIP-77 (`PageWalk`),
//! and the messages a stream sends. The relay's `mirror` task does the I/O and the clock.

use serde::{Deserialize, Serialize};

use crate::filter::Filter;
use crate::json;

/// Events one catch-up page asks for (a remote may answer fewer: its own limit).
pub const PAGE_EVENTS: u64 = 500;
/// Seconds a resumed catch-up reaches back before the point its stream had reached: events
/// dated a little before they reached the remote (clocks, slow publishers) are fetched too.
pub const RESUME_OVERLAP_SECONDS: u64 = 600;
/// Ids per REQ when fetching what a reconciliation found missing (a relay's usual bound on
/// values per filter field).
pub const IDS_PER_REQ: usize = 100;

/// How far a stream got, kept in a file per stream (the relay's data directory, `mirrors/`).
/// A stream whose filter changed starts over: what it had reached was for another filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The remote's URL and the filter (JSON) this progress is for.
    pub url: String,
    pub filter: String,
    /// Every event the filter matches dated up to this (unix seconds) that the remote held
    /// when it was reached is stored here, or was refused here.
    pub down_through: Option<u64>,
    /// Up: every event of this relay's log up to this sequence number was answered by the
    /// remote (or needs no sending).
    #[serde(default)]
    pub up_seq: Option<u64>,
    /// Up: the stream's first run, (the log's last seq then, the oldest created_at published
    /// of the events up to it), kept until the cursor passes that seq.
    #[serde(default)]
    pub up_first_run: Option<(u64, u64)>,
}

impl Progress {
    /// The progress kept for `url` and `filter`, from the file's text: a missing or unreadable
    /// file, or one for another URL or filter, is a fresh start.
    pub fn resume(text: Option<&str>, url: &str, filter: &str) -> Progress {
        text.and_then(|text| serde_json::from_str::<Progress>(text).ok())
            .filter(|progress| progress.url == url && progress.filter == filter)
            .unwrap_or_else(|| Progress {
                url: url.into(),
                filter: filter.into(),
                down_through: None,
                up_seq: None,
                up_first_run: None,
            })
    }

    /// Where this run's catch-up starts: a little before the point reached, else
    /// `catch_up_seconds` back from `now` (0: from the beginning).
    pub fn catch_up_since(&self, now: u64, catch_up_seconds: u64) -> u64 {
        match self.down_through {
            Some(through) => through.saturating_sub(RESUME_OVERLAP_SECONDS),
            None if catch_up_seconds == 0 => 0,
            None => now.saturating_sub(catch_up_seconds),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("progress serializes")
    }
}

/// `filter` narrowed to `[since, until]` (keeping its own bounds where narrower), with `limit`.
pub fn narrowed(filter: &Filter, since: u64, until: Option<u64>, limit: Option<u64>) -> Filter {
    let mut narrowed = filter.clone();
    narrowed.since = Some(filter.since.map_or(since, |own| own.max(since)));
    narrowed.until = match (filter.until, until) {
        (Some(own), Some(until)) => Some(own.min(until)),
        (own, until) => own.or(until),
    };
    narrowed.limit = limit;
    narrowed
}

/// `["REQ", subscription, filter]` or `["COUNT", ...]`-shaped client messages.
pub fn request(verb: &str, subscription_id: &str, filters: &[Filter]) -> String {
    let mut out = Vec::with_capacity(128);
    out.push(b'[');
    json::write_string(verb, &mut out);
    out.push(b',');
    json::write_string(subscription_id, &mut out);
    for filter in filters {
        out.push(b',');
        out.extend_from_slice(filter.to_json().as_bytes());
    }
    out.push(b']');
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// `["CLOSE", subscription]`.
pub fn close(subscription_id: &str) -> String {
    let mut out = b"[\"CLOSE\",".to_vec();
    json::write_string(subscription_id, &mut out);
    out.push(b']');
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// The ids a stream took lately, so an event the remote sends twice (a catch-up's last
/// events again in the live subscription, which starts a little earlier) is judged once,
/// refused ones included. Two generations of `capacity` ids: when the newer fills, the older
/// is dropped, so at least the last `capacity` ids are always remembered.
#[derive(Clone, Debug)]
pub struct RecentIds {
    newer: std::collections::HashSet<crate::Id>,
    older: std::collections::HashSet<crate::Id>,
    capacity: usize,
}

impl RecentIds {
    pub fn new(capacity: usize) -> RecentIds {
        RecentIds { newer: Default::default(), older: Default::default(), capacity: capacity.max(1) }
    }

    pub fn contains(&self, id: &crate::Id) -> bool {
        self.newer.contains(id) || self.older.contains(id)
    }

    /// Remembers `id`; false if it was remembered already.
    pub fn insert(&mut self, id: &crate::Id) -> bool {
        if self.contains(id) {
            return false;
        }
        if self.newer.len() >= self.capacity {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(*id);
        true
    }
}

/// A catch-up by REQ pages, newest first: each page asks for `PAGE_EVENTS` events of the
/// filter dated in `[since, until]`, the next page's `until` is the oldest `created_at` the
/// page brought (inclusive, so a second split across two pages is fetched whole), or one
/// second less when a page brought nothing older than its `until` (a second holding more
/// events than a page: what the remote did not send of it is lost). `until` falls with every
/// page, so the walk ends: when a page is empty or `until` passes below `since`.
#[derive(Clone, Debug)]
pub struct PageWalk {
    filter: Filter,
    since: u64,
    until: Option<u64>,
    /// The oldest created_at of the page in flight, and how many of its events were in range.
    oldest: Option<u64>,
    received: u64,
    pages: u64,
    done: bool,
}

impl PageWalk {
    pub fn new(filter: &Filter, since: u64) -> PageWalk {
        let done = filter.until.is_some_and(|until| until < since);
        PageWalk { filter: filter.clone(), since, until: filter.until, oldest: None, received: 0, pages: 0, done }
    }

    /// The filter of the next page (`None` once the walk is done).
    pub fn next_page(&mut self) -> Option<Filter> {
        if self.done {
            return None;
        }
        self.oldest = None;
        self.received = 0;
        self.pages += 1;
        Some(narrowed(&self.filter, self.since, self.until, Some(PAGE_EVENTS)))
    }

    /// An event the page brought, by its created_at. Returns whether it is in the page's
    /// range (a remote may send more than was asked).
    pub fn on_event(&mut self, created_at: u64) -> bool {
        let in_range = created_at >= self.since && self.until.is_none_or(|until| created_at <= until);
        if in_range {
            self.received += 1;
            self.oldest = Some(self.oldest.map_or(created_at, |oldest| oldest.min(created_at)));
        }
        in_range
    }

    /// The page ended (EOSE); returns whether the walk is done.
    pub fn on_end_of_page(&mut self) -> bool {
        let next_until = match (self.oldest, self.until) {
            (None, _) => None,
            (Some(oldest), Some(until)) if oldest >= until => until.checked_sub(1),
            (Some(oldest), _) => Some(oldest),
        };
        match next_until {
            Some(until) if until >= self.since => self.until = Some(until),
            _ => self.done = true,
        }
        self.done
    }

    /// Pages asked for so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Seconds of the window still to walk (`until - since`; `None` before the first page
    /// ends, when `until` is still open).
    pub fn seconds_left(&self) -> Option<u64> {
        match self.done {
            true => Some(0),
            false => self.until.map(|until| until.saturating_sub(self.since)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn filter(text: &str) -> Filter {
        Filter::parse(text, &Limits::default()).unwrap()
    }

    /// A remote holding events at `times` (any order) that answers each page with up to
    /// `answer_max` of the newest in range; returns the times the walk fetched, newest first,
    /// and the pages it took.
    fn walk(times: &[u64], since: u64, answer_max: usize) -> (Vec<u64>, u64) {
        let mut sorted = times.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let mut walk = PageWalk::new(&filter(r#"{"kinds":[1]}"#), since);
        let mut fetched = Vec::new();
        while let Some(page) = walk.next_page() {
            assert_eq!(page.limit, Some(PAGE_EVENTS));
            let answer: Vec<u64> = sorted
                .iter()
                .copied()
                .filter(|&time| page.since.is_none_or(|since| time >= since))
                .filter(|&time| page.until.is_none_or(|until| time <= until))
                .take(answer_max)
                .collect();
            for time in answer {
                if walk.on_event(time) && !fetched.contains(&time) {
                    fetched.push(time);
                }
            }
            walk.on_end_of_page();
            assert!(walk.pages() < 10_000, "the walk ends");
        }
        (fetched, walk.pages())
    }

    #[test]
    fn pages_walk_back_to_since_whatever_the_remote_answers() {
        let times: Vec<u64> = (1_000..3_000).collect();
        // Pages as asked: 1,500..2,999 is 1,500 events: 3 full pages, one of the 3 seconds left
        // (each page's oldest second comes again in the next), one of second 1,500 alone.
        let (fetched, pages) = walk(&times, 1_500, 500);
        assert_eq!(fetched.len(), 1_500);
        assert_eq!(*fetched.last().unwrap(), 1_500);
        assert_eq!(pages, 5);
        let mut progress = PageWalk::new(&filter("{}"), 1_000);
        progress.next_page();
        assert_eq!(progress.seconds_left(), None, "open until the first page ends");
        progress.on_event(1_800);
        progress.on_end_of_page();
        assert_eq!(progress.seconds_left(), Some(800));
        // A remote capping pages at 100 still yields everything.
        let (fetched, _) = walk(&times, 1_500, 100);
        assert_eq!(fetched.len(), 1_500);
        // Since 0: everything.
        assert_eq!(walk(&times, 0, 500).0.len(), 2_000);
    }

    #[test]
    fn a_second_fuller_than_a_page_ends_the_walk_or_moves_past_it() {
        // 700 events in one second, 10 older: the second is cut at the remote's answer, the
        // older ones still come.
        let mut times = vec![5_000; 700];
        times.extend(4_990..5_000);
        let mut walk = PageWalk::new(&filter("{}"), 0);
        let mut fetched = 0;
        let mut pages = 0;
        while let Some(page) = walk.next_page() {
            pages += 1;
            let answer: Vec<u64> =
                times.iter().copied().filter(|&time| page.until.is_none_or(|until| time <= until)).take(500).collect();
            fetched += answer.into_iter().filter(|&time| walk.on_event(time)).count();
            walk.on_end_of_page();
            assert!(pages < 100);
        }
        // Page 1: 500 of second 5,000; page 2 (until 5,000): the same 500 again, nothing older,
        // so until 4,999: the 10 older ones; page 4 (until 4,990): one; page 5: empty.
        assert_eq!(fetched, 500 + 500 + 10 + 1);
        assert_eq!(pages, 5);
    }

    #[test]
    fn narrowing_keeps_the_filters_own_tighter_bounds() {
        let own = filter(r#"{"kinds":[1],"since":100,"until":900,"limit":5}"#);
        let narrowed_filter = narrowed(&own, 50, Some(1_000), Some(500));
        assert_eq!(
            (narrowed_filter.since, narrowed_filter.until, narrowed_filter.limit),
            (Some(100), Some(900), Some(500))
        );
        let narrowed_filter = narrowed(&own, 200, Some(800), None);
        assert_eq!((narrowed_filter.since, narrowed_filter.until, narrowed_filter.limit), (Some(200), Some(800), None));
        let open = narrowed(&filter("{}"), 0, None, None);
        assert_eq!(open.to_json(), r#"{"since":0}"#);
        // A filter whose own until is before since: nothing to walk.
        assert!(PageWalk::new(&filter(r#"{"until":10}"#), 20).next_page().is_none());
    }

    #[test]
    fn progress_resumes_only_for_the_same_remote_and_filter() {
        let kept = Progress {
            url: "ws://a".into(),
            filter: "{}".into(),
            down_through: Some(10_000),
            up_seq: Some(7),
            up_first_run: Some((5, 9_000)),
        };
        let text = kept.to_json();
        assert_eq!(Progress::resume(Some(&text), "ws://a", "{}"), kept);
        assert_eq!(Progress::resume(Some(&text), "ws://b", "{}").down_through, None);
        assert_eq!(Progress::resume(Some(&text), "ws://a", r#"{"kinds":[1]}"#).down_through, None);
        assert_eq!(Progress::resume(Some("not json"), "ws://a", "{}").down_through, None);
        assert_eq!(Progress::resume(None, "ws://a", "{}").down_through, None);
        assert_eq!(kept.catch_up_since(20_000, 60), 10_000 - RESUME_OVERLAP_SECONDS);
        let fresh = Progress::resume(None, "ws://a", "{}");
        assert_eq!(fresh.catch_up_since(20_000, 60), 19_940);
        assert_eq!(fresh.catch_up_since(20_000, 0), 0);
    }

    #[test]
    fn recent_ids_remember_at_least_their_capacity() {
        let mut recent = RecentIds::new(3);
        let id = |n: u8| [n; 32];
        assert!(recent.insert(&id(1)));
        assert!(!recent.insert(&id(1)));
        for n in 2..=10 {
            assert!(recent.insert(&id(n)));
            // The last three are always remembered.
            for back in n.saturating_sub(2).max(1)..=n {
                assert!(!recent.insert(&id(back)), "{back} after {n}");
            }
        }
        assert!(recent.insert(&id(1)), "long forgotten");
    }

    #[test]
    fn client_messages_are_json() {
        let message = request("REQ", "m\"1", &[filter(r#"{"kinds":[1]}"#)]);
        assert_eq!(message, r#"["REQ","m\"1",{"kinds":[1]}]"#);
        assert_eq!(close("m1"), r#"["CLOSE","m1"]"#);
    }
}
