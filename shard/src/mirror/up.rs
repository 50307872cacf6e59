//! A stream's up direction (`dir = "up"` or `"both"`): this relay's events matching the
//! filter, read from its log (sequence order) from a durable cursor, published to the remote
//! `UP_WINDOW` at a time; the cursor moves past an event once the remote answered it (any
//! answer: refusals are counted by reason, not retried), so what was accepted while the remote
//! was down is sent when it is back. Never sent: policy entries, NIP-70 protected events,
//! `read_restricted_kinds` (served here only to their author and recipients), and
//! (with `both`) what came from the remote itself: ids taken from it (`Stream::from_remote`),
//! and within the window the catch-up reconciled, what the catch-up learnt the remote holds.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use parrhesia_engine::write_policy::{Source, SourceType};
use parrhesia_engine::{Event, Filter, Prefix};
use parrhesia_storage::RecordFilter;

use super::{Ended, Socket, Stream, send};
use crate::metrics::{OUTCOME_DUPLICATE, OUTCOME_STORED, refusal_outcome};
use crate::plugin::Verdict;

/// Events published and not yet answered, at most.
const UP_WINDOW: usize = 100;
/// Log records read at once.
const READ_RECORDS_MAX: usize = 1_000;
const READ_BYTES_MAX: usize = 1 << 20;
/// How long the remote may take to answer a published event before the connection is redialled.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// What a catch-up learnt of the remote, for events dated from `since` and stored here up to
/// `snapshot_seq`.
pub(super) struct Knowledge {
    pub since: u64,
    pub snapshot_seq: u64,
    pub remote: RemoteSet,
}

pub(super) enum RemoteSet {
    /// A reconciliation's `have`: ids only this relay holds.
    Lacks(HashSet<[u8; 32]>),
    /// A REQ-page walk's ids: what the remote sent.
    Holds(HashSet<[u8; 32]>),
}

/// What becomes of a local event the filter matched.
enum Approval {
    Publish,
    Withhold,
    /// The plugin failed (it may not next time).
    Failed(String),
}

pub(super) struct Up {
    /// Every event at or below this seq was answered by the remote or needs no sending.
    cursor: u64,
    /// The last seq read from the log.
    read: u64,
    /// Published and unanswered: seq -> id, id -> seq.
    pending: BTreeMap<u64, [u8; 32]>,
    by_id: HashMap<[u8; 32], u64>,
    /// Since when the oldest pending event waits.
    waiting_since: Option<Instant>,
    /// The stream's first run (`Progress::up_first_run`): events of the log as it was then (up
    /// to the seq) dated before the time are not published.
    first_run: Option<(u64, u64)>,
    knowledge: Option<Knowledge>,
    filter: RecordFilter,
}

impl Up {
    /// From the stream's kept cursor (`None` on its first run: from the log's start), with its
    /// first run's bound.
    pub fn new(
        cursor: Option<u64>,
        first_run: Option<(u64, u64)>,
        filter: &Filter,
        knowledge: Option<Knowledge>,
    ) -> Up {
        Up {
            cursor: cursor.unwrap_or(0),
            read: cursor.unwrap_or(0),
            pending: BTreeMap::new(),
            by_id: HashMap::new(),
            waiting_since: None,
            first_run,
            knowledge,
            filter: RecordFilter::new(filter.clone()),
        }
    }

    /// The durable cursor: everything up to it is done.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Puts the cursor in the stream's progress (and drops the first run's bound once passed).
    pub fn record(&self, progress: &mut parrhesia_engine::mirror::Progress) {
        progress.up_seq = Some(self.cursor);
        if progress.up_first_run.is_some_and(|(last_seq, _)| self.cursor >= last_seq) {
            progress.up_first_run = None;
        }
    }

    /// Publishes what the window has room for; returns whether the log may hold more now.
    pub async fn push(&mut self, stream: &Stream, socket: &mut Socket) -> Result<bool, Ended> {
        if let Some(since) = self.waiting_since
            && since.elapsed() >= ANSWER_TIMEOUT
        {
            return Err(Ended::Failed(anyhow::anyhow!("the remote did not answer a published event in 60 s")));
        }
        let room = UP_WINDOW - self.pending.len();
        if room == 0 {
            return Ok(false);
        }
        let mut chosen: Vec<(u64, Event)> = Vec::new();
        let mut last = self.read;
        let mut failure = None;
        let store = &stream.shard.store;
        let read = store.log_since(self.read, READ_RECORDS_MAX.min(room * 4), READ_BYTES_MAX, |record| {
            if chosen.len() >= room || failure.is_some() {
                return;
            }
            last = record.seq;
            match self.wanted(stream, &record) {
                Ok(Some(event)) => chosen.push((record.seq, event)),
                Ok(None) => {}
                Err(error) => failure = Some(error),
            }
        });
        if let Some(error) = failure {
            return Err(Ended::Failed(error));
        }
        read.map_err(|error| Ended::Failed(anyhow::Error::new(error).context("reading the log")))?;
        let more = last > self.read;
        for (seq, event) in chosen {
            let id = *event.id();
            match self.approved(stream, &event).await {
                Approval::Publish => {
                    send(socket, format!(r#"["EVENT",{}]"#, event.json())).await?;
                    // The remote's live subscription sends it back: not taken again.
                    stream.recent.borrow_mut().insert(&id);
                    self.pending.insert(seq, id);
                    self.by_id.insert(id, seq);
                    self.waiting_since.get_or_insert_with(Instant::now);
                }
                Approval::Withhold => stream.setup.metrics.up_withheld.inc(),
                // Not past this event: the next session asks again.
                Approval::Failed(why) => return Err(Ended::Failed(anyhow::anyhow!("the mirror's plugin: {why}"))),
            }
            // Everything read up to this event is handled (sent, withheld or not wanted).
            self.read = seq;
        }
        self.read = last;
        self.advance();
        Ok(more && self.pending.len() < UP_WINDOW)
    }

    /// What the stream's plugin, if any, says of publishing the event (sourceType "Stored").
    async fn approved(&self, stream: &Stream, event: &Event) -> Approval {
        let Some(plugin) = &stream.plugin else { return Approval::Publish };
        let source = Source { kind: SourceType::Stored, info: &stream.setup.url, authed: None };
        match plugin.judge(event, &source, crate::system::unix_now()).await {
            Verdict::Accept => Approval::Publish,
            Verdict::Reject(_) | Verdict::ShadowReject => Approval::Withhold,
            Verdict::Failed(failure) => Approval::Failed(failure.reason()),
        }
    }

    /// The event, if it goes up.
    fn wanted(&self, stream: &Stream, record: &parrhesia_storage::Record) -> anyhow::Result<Option<Event>> {
        let header = &record.header;
        if header.kind == parrhesia_engine::policy_log::POLICY_ENTRY_KIND
            || self.first_run.is_some_and(|(last_seq, since)| record.seq <= last_seq && header.created_at < since)
            || stream.shard.read_restricted.contains(&header.kind)
            || stream.from_remote.borrow().contains(&header.id)
        {
            return Ok(None);
        }
        if let Some(knowledge) = &self.knowledge
            && header.created_at >= knowledge.since
            && record.seq <= knowledge.snapshot_seq
        {
            let remote_lacks = match &knowledge.remote {
                RemoteSet::Lacks(ids) => ids.contains(&header.id),
                RemoteSet::Holds(ids) => !ids.contains(&header.id),
            };
            if !remote_lacks {
                return Ok(None);
            }
        }
        if self.filter.matches(record) == Some(false) {
            return Ok(None);
        }
        let Some(json) = record.json_string() else { anyhow::bail!("an unreadable record at seq {}", record.seq) };
        let Some(event) = Event::parse_trusted(&json) else { return Ok(None) };
        // `None` from `matches`: a NIP-50 search, decided on the event.
        Ok((self.filter.matches_event(&event) && !event.is_protected()).then_some(event))
    }

    /// The remote answered a published event (`false` if it was not one of this stream's).
    pub fn on_ok(&mut self, stream: &Stream, id: &[u8; 32], accepted: bool, message: &str) -> bool {
        let Some(seq) = self.by_id.remove(id) else { return false };
        self.pending.remove(&seq);
        let outcome = if message.starts_with("duplicate:") {
            OUTCOME_DUPLICATE
        } else if accepted {
            OUTCOME_STORED
        } else {
            refusal_outcome(Prefix::of_message(message).unwrap_or(Prefix::Error))
        };
        stream.setup.metrics.events_up[outcome].inc();
        self.waiting_since = (!self.pending.is_empty()).then(Instant::now);
        self.advance();
        true
    }

    /// Moves the cursor to just below the oldest unanswered event (or to what was read).
    fn advance(&mut self) {
        self.cursor = self.pending.keys().next().map_or(self.read, |oldest| oldest - 1);
    }
}
