//! The read path: a filter picks one index by a fixed cascade (ids, tag, pubkey+kind, pubkey,
//! kind, time) and post-filters the rest; several filters merge by created_at descending then
//! id ascending, without duplicates, honouring each filter's limit. Scans run in slices, each in
//! its own short read transaction, and see only events up to the snapshot taken at the start.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use heed::{RoTxn, WithoutTls};
use parrhesia_engine::{Filter, Id, ReadAccess};

use crate::error::StorageError;
use crate::reads::StoredEvent;
use crate::record::{Record, RecordFilter};
use crate::schema::{self, TimeIndex};
use crate::search::SearchScan;
use crate::store::Store;
use crate::tables::{Tables, decode_seq, due_expirations, read_last_seq, read_record};

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

    /// Whether a step that examined `examined` and began at `started` has used the budget.
    fn spent(&self, examined: usize, started: Instant) -> bool {
        examined >= self.candidates_max || self.time_max.is_some_and(|limit| started.elapsed() >= limit)
    }
}

/// Index entries read per cursor refill, at most. The first refill reads no more than the
/// filter's limit (a `limit: 10` over 256 cursors should not read 16k keys); each refill after
/// that doubles, up to this bound.
const FILL_ENTRIES_MAX: usize = 64;
/// Above this many (author, kind) pairs a filter scans by author and post-filters the kind.
const PUBKEY_KIND_PAIRS_MAX: usize = 256;
/// Index entries read per cursor refill when a count reads only the index.
const COUNT_FILL_ENTRIES: usize = 4096;

struct FilterState {
    filter: RecordFilter,
    /// Events this filter may still contribute (its limit, counted down).
    remaining: u64,
}

enum Source {
    /// The duplicates of `key` in a time index from `upper` down to `since ++ 0`, read backwards.
    Index { index: TimeIndex, key: Vec<u8>, since: u64, upper: [u8; 16], upper_inclusive: bool },
    /// Direct id lookups, done at the first refill.
    Ids(Vec<Id>),
}

struct Cursor {
    filter: usize,
    source: Source,
    /// `(created_at, seq)` read but not yet merged, in descending order.
    buffer: VecDeque<(u64, u64)>,
    exhausted: bool,
    /// Entries the next refill reads, and the most a refill reads.
    fill_entries: usize,
    fill_max: usize,
}

/// A resumable query over several filters. Filters without a search merge by time; then each
/// NIP-50 search filter hands out its matches by relevance (`search.rs`).
pub struct QueryScan {
    filters: Vec<FilterState>,
    cursors: Vec<Cursor>,
    searches: Vec<SearchScan>,
    /// The events handed out so far, kept only when a search shares the scan with other filters
    /// (an event is handed out once).
    emitted: Option<HashSet<u64>>,
    snapshot_seq: u64,
    now: u64,
    /// The filters merged by time are done.
    done: bool,
    /// A count whose one filter its index keys answer whole (see `tally_scan`): index entries
    /// are counted, no event is read.
    index_only: bool,
    /// The whole answer of an `index_only` count, known when it started (a search of one word:
    /// the word's document frequency), and the kinds it counts (the store's search kinds).
    precounted: Option<(u64, Vec<u16>)>,
    /// Scratch: the seqs of the group being taken (kept to reuse its allocation).
    group_seqs: Vec<u64>,
}

impl Store {
    /// Starts a scan. Each filter returns at most its own `limit`, or `limit_default` when it has
    /// none. Events stored after this call are not returned (see `QueryScan::snapshot_seq`).
    pub fn scan(&self, filters: &[Filter], limit_default: u64, now: u64) -> Result<QueryScan, StorageError> {
        self.scan_with(filters, limit_default, now, Some(self.search_candidates_max))
    }

    /// `scan`, with search filters ranking at most `search_candidates_max` candidates, or every
    /// match unranked (`None`).
    fn scan_with(
        &self,
        filters: &[Filter],
        limit_default: u64,
        now: u64,
        search_candidates_max: Option<usize>,
    ) -> Result<QueryScan, StorageError> {
        let txn = self.env.read_txn()?;
        let snapshot_seq = read_last_seq(&txn, &self.tables)?;
        let mut states = Vec::with_capacity(filters.len());
        let mut cursors = Vec::new();
        let mut searches = Vec::new();
        for filter in filters {
            let limit = filter.limit.unwrap_or(limit_default);
            if filter.search.is_some() {
                searches.push(SearchScan::new(filter, limit, search_candidates_max, snapshot_seq, now));
                continue;
            }
            cursors.extend(cursors_for(states.len(), filter, limit));
            states.push(FilterState { filter: RecordFilter::new(filter.clone()), remaining: limit });
        }
        let emitted = (!searches.is_empty() && filters.len() > 1).then(HashSet::new);
        Ok(QueryScan {
            filters: states,
            cursors,
            searches,
            emitted,
            snapshot_seq,
            now,
            done: false,
            index_only: false,
            precounted: None,
            group_seqs: Vec::new(),
        })
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

    /// Starts a scan for counting (NIP-45): every filter's limit is ignored, and every
    /// matching event is handed out (for callers that need the events: registers, negentropy,
    /// tools), a search filter's too, in no particular order. Callers that must not block for
    /// long step it themselves; `count` runs it to the end.
    pub fn count_scan(&self, filters: &[Filter], now: u64) -> Result<QueryScan, StorageError> {
        let unlimited: Vec<Filter> = filters.iter().map(|filter| Filter { limit: None, ..filter.clone() }).collect();
        // A search filter hands out every match (unranked), not the best of a bounded set.
        self.scan_with(&unlimited, u64::MAX, now, None)
    }

    /// A scan that only counts: `step` returns how many events matched and may hand none out.
    /// A single filter of only kinds, authors (at most 256 author x kind pairs), since and
    /// until, none repeated, or of one tag value (and since/until), is counted from its index
    /// entries alone (each event has exactly one entry in the index that filter reads, and the
    /// entry's key holds every condition), unless an expired event waits for the sweep (it is
    /// still indexed) or the reader's access restricts a kind the filter may count
    /// (`with_access`); so is a filter that is only a search of one whole word (from the word's
    /// document frequency). Any other is a `count_scan`.
    pub fn tally_scan(&self, filters: &[Filter], now: u64) -> Result<QueryScan, StorageError> {
        let mut scan = self.count_scan(filters, now)?;
        let [filter] = filters else { return Ok(scan) };
        let word = lone_search_word(filter);
        if !index_answers(filter) && word.is_none() {
            return Ok(scan);
        }
        let txn = self.env.read_txn()?;
        // An expired event not swept yet is still indexed: only a scan leaves it out.
        if due_expirations(&txn, &self.tables, now)?.next().is_some() {
            return Ok(scan);
        }
        scan.index_only = true;
        match word {
            // Every indexed event holding the word: its document frequency.
            Some(word) => {
                let holders = self.tables.search_words.get(&txn, word.as_bytes())?.map(decode_seq).transpose()?;
                scan.precounted = Some((holders.unwrap_or(0), self.search_kinds.clone()));
            }
            None => {
                for cursor in &mut scan.cursors {
                    cursor.fill_entries = COUNT_FILL_ENTRIES;
                    cursor.fill_max = COUNT_FILL_ENTRIES;
                }
            }
        }
        Ok(scan)
    }

    /// How many events a filter without conditions counts: every stored event but those expired
    /// and not swept yet. Reads LMDB's entry count and the due part of the expiration index
    /// instead of walking every event.
    pub fn count_everything(&self, now: u64) -> Result<u64, StorageError> {
        let txn = self.env.read_txn()?;
        let stored = self.tables.events.len(&txn)?;
        let expired = due_expirations(&txn, &self.tables, now)?.count() as u64;
        Ok(stored - expired.min(stored))
    }

    /// How many distinct stored events match any of the filters (limits ignored, NIP-45).
    pub fn count(&self, filters: &[Filter], now: u64) -> Result<u64, StorageError> {
        if filters.iter().any(Filter::matches_everything) {
            return self.count_everything(now);
        }
        let mut scan = self.tally_scan(filters, now)?;
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
        self.done && self.searches.iter().all(SearchScan::is_done)
    }

    /// Restricts the scan to events `access` may read (applied before limits count them).
    pub fn with_access(mut self, access: &ReadAccess) -> QueryScan {
        for state in &mut self.filters {
            let filter = std::mem::replace(&mut state.filter, RecordFilter::new(Filter::default()));
            state.filter = filter.with_access(access.clone());
        }
        for search in &mut self.searches {
            search.with_access(access);
        }
        if self.index_only && !access.is_open() {
            // Restricted events are counted only for their readers: read them.
            let kinds = match &self.precounted {
                Some((_, kinds)) => Some(kinds.as_slice()),
                None => self.filters.first().and_then(|state| state.filter.filter.kinds.as_deref()),
            };
            let restricts = kinds.is_none_or(|kinds| kinds.iter().any(|&kind| access.is_restricted(kind)));
            if restricts {
                self.index_only = false;
                self.precounted = None;
            }
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
        if let Some((count, _)) = self.precounted.take() {
            self.done = true;
            self.searches.clear();
            return Ok(usize::try_from(count).unwrap_or(usize::MAX));
        }
        if self.index_only {
            return self.count_entries(&txn, &store.tables, budget, started);
        }
        let mut examined = 0;
        let mut emitted = 0;
        // Scratch for one created_at group at a time; records borrow the transaction's pages.
        let mut group: Vec<Record> = Vec::new();
        while !self.done {
            if budget.spent(examined, started) {
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
        for search in &mut self.searches {
            if !self.done || budget.spent(examined, started) {
                break;
            }
            let seen = &mut self.emitted;
            let mut hand_out = |record: Record| {
                let first = seen.as_mut().is_none_or(|seen| seen.insert(record.seq));
                if first {
                    emit(record);
                }
                first
            };
            emitted += search.step(store, &txn, &mut examined, budget.candidates_max, &mut hand_out)?;
            if !search.is_done() {
                break;
            }
        }
        Ok(emitted)
    }

    /// Counts index entries (an `index_only` count) within `budget`; returns how many.
    fn count_entries(
        &mut self,
        txn: &RoTxn<WithoutTls>,
        tables: &Tables,
        budget: ScanBudget,
        started: Instant,
    ) -> Result<usize, StorageError> {
        let mut examined = 0;
        let mut counted = 0;
        for cursor in &mut self.cursors {
            while !cursor.exhausted || !cursor.buffer.is_empty() {
                if budget.spent(examined, started) {
                    return Ok(counted);
                }
                cursor.fill(txn, tables, self.snapshot_seq, &mut examined)?;
                counted += cursor.buffer.len();
                cursor.buffer.clear();
            }
        }
        self.done = true;
        Ok(counted)
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
                if let Some(seen) = &mut self.emitted {
                    seen.insert(record.seq);
                }
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
                        let Some(record) = crate::tables::record_of_id(txn, tables, id)? else { continue };
                        if record.seq <= snapshot_seq {
                            found.push((record.header.created_at, record.seq));
                        }
                    }
                    found.sort_unstable_by(|left, right| right.cmp(left));
                    self.buffer.extend(found);
                    self.exhausted = true;
                }
                Source::Index { index, key, since, upper, upper_inclusive } => {
                    let lower = schema::time_dup(*since, 0);
                    let mut read = 0;
                    let mut last = None;
                    for entry in
                        tables.time_index(*index).rev_duplicates_until(txn, key, &upper[..], *upper_inclusive)?
                    {
                        let dup = entry?;
                        if dup < &lower[..] {
                            break;
                        }
                        read += 1;
                        let (created_at, seq) = schema::split_time_suffix(dup);
                        if seq <= snapshot_seq {
                            self.buffer.push_back((created_at, seq));
                        }
                        if read == self.fill_entries {
                            last = Some(schema::time_dup(created_at, seq));
                            break;
                        }
                    }
                    *examined += read;
                    self.fill_entries = (self.fill_entries * 2).min(self.fill_max);
                    match last {
                        Some(dup) => {
                            *upper = dup;
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

/// Whether a filter's index entries alone say which events it matches: no ids or search; either
/// one tag condition of one value and nothing else but since/until (the tag index keeps each
/// event once per distinct value), or no tags and at most `PUBKEY_KIND_PAIRS_MAX` author x
/// kind pairs (so the pair index is read, not the author index with the kind checked after);
/// no value repeated (each range read once).
fn index_answers(filter: &Filter) -> bool {
    fn distinct<T: Ord + Clone>(values: &[T]) -> bool {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        sorted.windows(2).all(|pair| pair[0] != pair[1])
    }
    if filter.ids.is_some() || filter.search.is_some() {
        return false;
    }
    match filter.tags.as_slice() {
        [] => {}
        [condition] => return condition.values.len() == 1 && filter.authors.is_none() && filter.kinds.is_none(),
        _ => return false,
    }
    let pairs = filter.authors.as_ref().map_or(1, Vec::len) * filter.kinds.as_ref().map_or(1, Vec::len);
    (filter.authors.is_none() || filter.kinds.is_none() || pairs <= PUBKEY_KIND_PAIRS_MAX)
        && filter.authors.as_deref().is_none_or(distinct)
        && filter.kinds.as_deref().is_none_or(distinct)
}

/// The one whole word of a filter that is nothing but a search of it (its count is the word's
/// document frequency).
fn lone_search_word(filter: &Filter) -> Option<String> {
    let only_search = Filter { search: None, limit: None, ..filter.clone() } == Filter::default();
    let query = parrhesia_engine::search::Query::parse(filter.search.as_deref()?);
    match (only_search, query.terms.as_slice(), &query.prefix) {
        (true, [word], None) => Some(word.clone()),
        _ => None,
    }
}

/// The cursors of one filter, by the fixed cascade. An empty list field yields no cursor: the
/// filter matches nothing.
fn cursors_for(position: usize, filter: &Filter, limit: u64) -> Vec<Cursor> {
    let since = filter.since.unwrap_or(0);
    let until = filter.until.unwrap_or(u64::MAX);
    let fill_entries = usize::try_from(limit).unwrap_or(usize::MAX).clamp(1, FILL_ENTRIES_MAX);
    let cursor = |source| Cursor {
        filter: position,
        source,
        buffer: VecDeque::new(),
        exhausted: false,
        fill_entries,
        fill_max: FILL_ENTRIES_MAX,
    };
    if since > until {
        return Vec::new();
    }
    let range = |index: TimeIndex, key: Vec<u8>| {
        let upper = schema::time_dup(until, u64::MAX);
        cursor(Source::Index { index, key, since, upper, upper_inclusive: true })
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
        (None, None) => vec![range(TimeIndex::Time, schema::TIME_KEY.to_vec())],
    }
}

#[cfg(test)]
mod tests {
    use crate::schema::{self, TimeIndex};
    use crate::store::{Store, StoreOptions};

    /// The scans' one positioning primitive over a real time index: the duplicates of a key at
    /// or below a bound, newest first, whatever lies above it, in a key among others.
    #[test]
    fn duplicates_are_read_backwards_from_any_bound() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::open(directory.path(), &StoreOptions::default()).unwrap();
        let table = store.tables.time_index(TimeIndex::Kind);
        let mut txn = store.env.write_txn().unwrap();
        for (key, created_at, seq) in
            [(&[0, 1], 10, 1), (&[0, 7], 10, 2), (&[0, 7], 20, 3), (&[0, 7], 20, 4), (&[0, 9], 5, 5)]
        {
            table.put(&mut txn, key, &schema::time_dup(created_at, seq)).unwrap();
        }
        txn.commit().unwrap();
        let txn = store.env.read_txn().unwrap();
        let read = |key: &[u8], upper: (u64, u64), inclusive: bool| -> Vec<(u64, u64)> {
            let upper = schema::time_dup(upper.0, upper.1);
            (table.rev_duplicates_until(&txn, key, &upper, inclusive).unwrap())
                .map(|dup| schema::split_time_suffix(dup.unwrap()))
                .collect()
        };
        assert_eq!(read(&[0, 7], (u64::MAX, u64::MAX), true), vec![(20, 4), (20, 3), (10, 2)], "all below");
        assert_eq!(read(&[0, 7], (20, 4), true), vec![(20, 4), (20, 3), (10, 2)], "on one, inclusive");
        assert_eq!(read(&[0, 7], (20, 4), false), vec![(20, 3), (10, 2)], "on one, exclusive");
        assert_eq!(read(&[0, 7], (15, 0), true), vec![(10, 2)], "between two");
        assert_eq!(read(&[0, 7], (10, 2), false), Vec::<(u64, u64)>::new(), "nothing below the first");
        assert_eq!(read(&[0, 7], (1, 0), true), Vec::<(u64, u64)>::new(), "all above");
        assert_eq!(read(&[0, 8], (u64::MAX, u64::MAX), true), Vec::<(u64, u64)>::new(), "an absent key");
        assert_eq!(read(&[0, 9], (u64::MAX, 0), true), vec![(5, 5)], "the last key");
        assert_eq!(read(&[0, 1], (10, 1), true), vec![(10, 1)], "the first key, one duplicate");
    }
}
