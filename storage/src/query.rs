//! The read path: a filter picks one index by a fixed cascade (ids, tag, pubkey+kind, pubkey,
//! kind, time) and post-filters the rest; several filters merge by created_at descending then
//! id ascending, without duplicates, honouring each filter's limit. Scans run in slices, each in
//! its own short read transaction, and see only events up to the snapshot taken at the start.

use std::collections::VecDeque;
use std::ops::Bound;
use std::time::{Duration, Instant};

use heed::{RoTxn, WithoutTls};
use parrhesia_engine::{Filter, Id, ReadAccess};

use crate::error::StorageError;
use crate::record::{Record, RecordFilter};
use crate::schema::{self, TimeIndex};
use crate::store::{Store, StoredEvent, Tables, decode_seq, read_last_seq, read_record};

/// How much one `QueryScan::step` may do before it returns. A step always finishes the group of
/// events sharing one created_at it started, so it may slightly exceed the budget.
#[derive(Clone, Copy, Debug)]
pub struct ScanBudget {
    /// Index entries and events examined.
    pub candidates_max: usize,
    /// Wall time.
    pub time_max: Option<Duration>,
}

impl ScanBudget {
    pub const UNLIMITED: ScanBudget = ScanBudget { candidates_max: usize::MAX, time_max: None };
}

/// Index entries read per cursor refill, at most. The first refill reads no more than the
/// filter's limit (a `limit: 10` over 256 cursors should not read 16k keys); each refill after
/// that doubles, up to this bound.
const FILL_ENTRIES_MAX: usize = 64;
/// Above this many (author, kind) pairs a filter scans by author and post-filters the kind.
const PUBKEY_KIND_PAIRS_MAX: usize = 256;

struct FilterState {
    filter: RecordFilter,
    /// Events this filter may still contribute (its limit, counted down).
    remaining: u64,
}

enum Source {
    /// A range of a time index: `prefix ++ since ++ 0` up to `upper`, read backwards.
    Index { index: TimeIndex, prefix: Vec<u8>, since: u64, upper: Vec<u8>, upper_inclusive: bool },
    /// Direct id lookups, done at the first refill.
    Ids(Vec<Id>),
}

struct Cursor {
    filter: usize,
    source: Source,
    /// `(created_at, seq)` read but not yet merged, in descending order.
    buffer: VecDeque<(u64, u64)>,
    exhausted: bool,
    /// Entries the next refill reads.
    fill_entries: usize,
}

/// A resumable query over several filters.
pub struct QueryScan {
    filters: Vec<FilterState>,
    cursors: Vec<Cursor>,
    snapshot_seq: u64,
    now: u64,
    done: bool,
    /// Scratch: the seqs of the group being taken (kept to reuse its allocation).
    group_seqs: Vec<u64>,
}

impl Store {
    /// Starts a scan. Each filter returns at most its own `limit`, or `limit_default` when it has
    /// none. Events stored after this call are not returned (see `QueryScan::snapshot_seq`).
    pub fn scan(&self, filters: &[Filter], limit_default: u64, now: u64) -> Result<QueryScan, StorageError> {
        let txn = self.env.read_txn()?;
        let snapshot_seq = read_last_seq(&txn, &self.tables)?;
        let mut states = Vec::with_capacity(filters.len());
        let mut cursors = Vec::new();
        for (position, filter) in filters.iter().enumerate() {
            let limit = filter.limit.unwrap_or(limit_default);
            states.push(FilterState { filter: RecordFilter::new(filter.clone()), remaining: limit });
            cursors.extend(cursors_for(position, filter, limit));
        }
        Ok(QueryScan { filters: states, cursors, snapshot_seq, now, done: false, group_seqs: Vec::new() })
    }

    /// Runs a whole query at once: matching events, newest first, ties by id ascending.
    pub fn query(&self, filters: &[Filter], limit_default: u64, now: u64) -> Result<Vec<StoredEvent>, StorageError> {
        let mut scan = self.scan(filters, limit_default, now)?;
        let mut events = Vec::new();
        let mut failure = None;
        while !scan.is_done() && failure.is_none() {
            scan.step(self, ScanBudget::UNLIMITED, |record| match StoredEvent::from_record(&record) {
                Ok(stored) => events.push(stored),
                Err(error) => failure = Some(error),
            })?;
        }
        failure.map_or(Ok(events), Err)
    }

    /// Starts a scan for counting (NIP-45): every filter's limit is ignored. Callers that must
    /// not block for long step it themselves; `count` runs it to the end.
    pub fn count_scan(&self, filters: &[Filter], now: u64) -> Result<QueryScan, StorageError> {
        let unlimited: Vec<Filter> = filters.iter().map(|filter| Filter { limit: None, ..filter.clone() }).collect();
        self.scan(&unlimited, u64::MAX, now)
    }

    /// How many events a filter without conditions counts: every stored event but those expired
    /// and not swept yet. Reads LMDB's entry count and the due part of the expiration index
    /// instead of walking every event.
    pub fn count_everything(&self, now: u64) -> Result<u64, StorageError> {
        let txn = self.env.read_txn()?;
        let stored = self.tables.events.len(&txn)?;
        let upper = now.saturating_add(1).to_be_bytes();
        let range = (std::ops::Bound::Unbounded, std::ops::Bound::Excluded(&upper[..]));
        let expired = self.tables.expiration.range(&txn, &range)?.count() as u64;
        Ok(stored - expired.min(stored))
    }

    /// How many distinct stored events match any of the filters (limits ignored, NIP-45).
    pub fn count(&self, filters: &[Filter], now: u64) -> Result<u64, StorageError> {
        if filters.iter().any(Filter::matches_everything) {
            return self.count_everything(now);
        }
        let mut scan = self.count_scan(filters, now)?;
        let mut count = 0;
        let budget = ScanBudget { candidates_max: 4096, time_max: None };
        while !scan.is_done() {
            count += scan.step(self, budget, |_| {})? as u64;
        }
        Ok(count)
    }
}

impl QueryScan {
    /// The last sequence number visible to this scan: live events with a higher sequence were
    /// not (and will not be) returned by it.
    pub fn snapshot_seq(&self) -> u64 {
        self.snapshot_seq
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Restricts the scan to events `access` may read (applied before limits count them).
    pub fn with_access(mut self, access: &ReadAccess) -> QueryScan {
        for state in &mut self.filters {
            let filter = std::mem::replace(&mut state.filter, RecordFilter::new(Filter::default()));
            state.filter = filter.with_access(access.clone());
        }
        self
    }

    /// Hands the next events to `emit`, in order, within `budget`, using one read transaction.
    /// Each is a record read in place (valid during the call). Returns how many were emitted.
    pub fn step(
        &mut self,
        store: &Store,
        budget: ScanBudget,
        mut emit: impl FnMut(Record),
    ) -> Result<usize, StorageError> {
        let txn = store.env.read_txn()?;
        let started = Instant::now();
        let mut examined = 0;
        let mut emitted = 0;
        // Scratch for one created_at group at a time; records borrow the transaction's pages.
        let mut group: Vec<Record> = Vec::new();
        while !self.done {
            let over_time = budget.time_max.is_some_and(|limit| started.elapsed() >= limit);
            if examined >= budget.candidates_max || over_time {
                break;
            }
            let Some(created_at) = self.newest_head(&txn, &store.tables, &mut examined)? else {
                self.done = true;
                break;
            };
            self.take_group(created_at, &txn, &store.tables, &mut examined, &mut group)?;
            examined += group.len();
            emitted += self.emit_group(&mut group, &mut emit)?;
            self.done = self.filters.iter().all(|state| state.remaining == 0);
        }
        Ok(emitted)
    }

    /// The largest created_at at the head of any live cursor, refilling empty buffers.
    fn newest_head(
        &mut self,
        txn: &RoTxn<WithoutTls>,
        tables: &Tables,
        examined: &mut usize,
    ) -> Result<Option<u64>, StorageError> {
        let mut newest = None;
        for cursor in &mut self.cursors {
            if self.filters[cursor.filter].remaining == 0 {
                continue;
            }
            cursor.fill(txn, tables, self.snapshot_seq, examined)?;
            if let Some(&(created_at, _)) = cursor.buffer.front() {
                newest = newest.max(Some(created_at));
            }
        }
        Ok(newest)
    }

    /// Pops every buffered entry at `created_at` from the live cursors and loads each event
    /// once into `group` (unexpired ones still stored), ordered by id.
    fn take_group<'txn>(
        &mut self,
        created_at: u64,
        txn: &'txn RoTxn<WithoutTls>,
        tables: &Tables,
        examined: &mut usize,
        group: &mut Vec<Record<'txn>>,
    ) -> Result<(), StorageError> {
        group.clear();
        let mut seqs = std::mem::take(&mut self.group_seqs);
        seqs.clear();
        for cursor in &mut self.cursors {
            if self.filters[cursor.filter].remaining == 0 {
                continue;
            }
            while let Some(&(head, seq)) = cursor.buffer.front() {
                if head != created_at {
                    break;
                }
                seqs.push(seq);
                cursor.buffer.pop_front();
                cursor.fill(txn, tables, self.snapshot_seq, examined)?;
            }
        }
        seqs.sort_unstable();
        seqs.dedup();
        for &seq in &seqs {
            // An event removed since the cursor read its key is simply gone.
            match read_record(txn, tables, seq)? {
                Some(record) if !record.header.expired(self.now) => group.push(record),
                _ => {}
            }
        }
        self.group_seqs = seqs;
        group.sort_unstable_by_key(|record| record.header.id);
        Ok(())
    }

    /// Emits, in id order, each event of the group that matches a filter with room left, and
    /// counts it against every such filter.
    fn emit_group(&mut self, group: &mut Vec<Record>, emit: &mut impl FnMut(Record)) -> Result<usize, StorageError> {
        let mut emitted = 0;
        for record in group.drain(..) {
            let mut included = false;
            for state in &mut self.filters {
                if state.remaining == 0 {
                    continue;
                }
                let matches = state
                    .filter
                    .matches(&record)
                    .ok_or_else(|| StorageError::Corrupt(format!("event {} cannot be read", record.seq)))?;
                if matches {
                    state.remaining -= 1;
                    included = true;
                }
            }
            if included {
                emit(record);
                emitted += 1;
            }
        }
        Ok(emitted)
    }
}

impl Cursor {
    /// Refills an empty buffer from the source until it holds an entry or the source is done.
    fn fill(
        &mut self,
        txn: &RoTxn<WithoutTls>,
        tables: &Tables,
        snapshot_seq: u64,
        examined: &mut usize,
    ) -> Result<(), StorageError> {
        while self.buffer.is_empty() && !self.exhausted {
            match &mut self.source {
                Source::Ids(ids) => {
                    let mut found = Vec::with_capacity(ids.len());
                    for id in ids.iter() {
                        *examined += 1;
                        let Some(seq) = tables.ids.get(txn, id)?.map(decode_seq).transpose()? else { continue };
                        if seq > snapshot_seq {
                            continue;
                        }
                        if let Some(record) = read_record(txn, tables, seq)? {
                            found.push((record.header.created_at, seq));
                        }
                    }
                    found.sort_unstable_by(|left, right| right.cmp(left));
                    self.buffer.extend(found);
                    self.exhausted = true;
                }
                Source::Index { index, prefix, since, upper, upper_inclusive } => {
                    let mut lower = prefix.clone();
                    schema::time_suffix(&mut lower, *since, 0);
                    let upper_bound =
                        if *upper_inclusive { Bound::Included(&upper[..]) } else { Bound::Excluded(&upper[..]) };
                    let range = (Bound::Included(&lower[..]), upper_bound);
                    let mut read = 0;
                    let mut last_key = None;
                    for entry in tables.time_index(*index).rev_range(txn, &range)? {
                        let (key, _) = entry?;
                        read += 1;
                        let (created_at, seq) = schema::split_time_suffix(key);
                        if seq <= snapshot_seq {
                            self.buffer.push_back((created_at, seq));
                        }
                        if read == self.fill_entries {
                            last_key = Some(key.to_vec());
                            break;
                        }
                    }
                    *examined += read;
                    self.fill_entries = (self.fill_entries * 2).min(FILL_ENTRIES_MAX);
                    match last_key {
                        Some(key) => {
                            *upper = key;
                            *upper_inclusive = false;
                        }
                        None => self.exhausted = true,
                    }
                }
            }
        }
        Ok(())
    }
}

/// The cursors of one filter, by the fixed cascade. An empty list field yields no cursor: the
/// filter matches nothing.
fn cursors_for(position: usize, filter: &Filter, limit: u64) -> Vec<Cursor> {
    let since = filter.since.unwrap_or(0);
    let until = filter.until.unwrap_or(u64::MAX);
    let fill_entries = usize::try_from(limit).unwrap_or(usize::MAX).clamp(1, FILL_ENTRIES_MAX);
    let cursor = |source| Cursor { filter: position, source, buffer: VecDeque::new(), exhausted: false, fill_entries };
    if since > until {
        return Vec::new();
    }
    let range = |index: TimeIndex, prefix: Vec<u8>| {
        let mut upper = prefix.clone();
        schema::time_suffix(&mut upper, until, u64::MAX);
        cursor(Source::Index { index, prefix, since, upper, upper_inclusive: true })
    };
    if let Some(ids) = &filter.ids {
        return if ids.is_empty() { Vec::new() } else { vec![cursor(Source::Ids(ids.clone()))] };
    }
    if let Some(condition) = filter.tags.iter().min_by_key(|condition| condition.values.len()) {
        return condition
            .values
            .iter()
            .map(|value| range(TimeIndex::Tag, schema::tag_prefix(condition.letter, value)))
            .collect();
    }
    match (&filter.authors, &filter.kinds) {
        (Some(authors), Some(kinds)) if authors.len() * kinds.len() <= PUBKEY_KIND_PAIRS_MAX => authors
            .iter()
            .flat_map(|author| kinds.iter().map(move |kind| [&author[..], &kind.to_be_bytes()[..]].concat()))
            .map(|prefix| range(TimeIndex::PubkeyKind, prefix))
            .collect(),
        (Some(authors), _) => authors.iter().map(|author| range(TimeIndex::Pubkey, author.to_vec())).collect(),
        (None, Some(kinds)) => kinds.iter().map(|kind| range(TimeIndex::Kind, kind.to_be_bytes().to_vec())).collect(),
        (None, None) => vec![range(TimeIndex::Time, Vec::new())],
    }
}
