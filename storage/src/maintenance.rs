//! Whole-store operations for `parrhesia-tools`: `verify` (pair assertions over every table),
//! `compact_to` (an LMDB copy with compaction) and `delete_matching` (strfry's `delete`).
//! None of them runs inside the relay.

use std::collections::HashMap;
use std::path::Path;

use heed::CompactionOption;
use parrhesia_engine::{Event, Filter, Limits};

use crate::error::StorageError;
use crate::query::ScanBudget;
use crate::record::{self, Record, RecordFilter};
use crate::schema::{self, TimeIndex};
use crate::store::Store;
use crate::tables::{decode_record, decode_seq, read_last_seq, read_record};

/// What `verify` found: the number of problems by check, and the first few in words.
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub events: u64,
    pub index_entries: u64,
    pub problems: u64,
    /// The first `VERIFY_PROBLEMS_SHOWN` problems, described.
    pub shown: Vec<String>,
}

/// How many problems `verify` describes (all are counted).
pub const VERIFY_PROBLEMS_SHOWN: usize = 100;

impl Store {
    /// Every kept count equals the events that carry its key, and no other is kept.
    fn verify_counts(
        &self,
        txn: &heed::RoTxn<heed::WithoutTls>,
        expected: &HashMap<Vec<u8>, u64>,
        report: &mut VerifyReport,
    ) -> Result<(), StorageError> {
        let mut seen = 0usize;
        for entry in self.tables.tag_counts.iter(txn)? {
            let (key, value) = entry?;
            let kept = value.first_chunk::<8>().map(|count| u64::from_be_bytes(*count));
            let wanted = expected.get(key).copied();
            seen += usize::from(wanted.is_some());
            if kept != wanted {
                report.problem(|| format!("tag_counts: {kept:?} kept where the events say {wanted:?}"));
            }
        }
        if seen != expected.len() {
            report.problem(|| format!("tag_counts: {} counts missing", expected.len() - seen));
        }
        Ok(())
    }
}

impl VerifyReport {
    fn problem(&mut self, text: impl FnOnce() -> String) {
        self.problems += 1;
        if self.shown.len() < VERIFY_PROBLEMS_SHOWN {
            self.shown.push(text());
        }
    }
}

/// The best version of one replaceable coordinate seen so far: (created_at, id, seq).
type Winner = (u64, [u8; 32], u64);

impl Store {
    /// Checks, in one read transaction, that the tables agree: every stored event's JSON is the
    /// event its header describes; every event has all its index entries, its `ids` entry, its
    /// expiration entry and its log position; every index, `ids` and expiration entry points to
    /// an event that has it; each replaceable coordinate names its newest version; no log holds
    /// an event twice; the last sequence number is not behind any event. `progress` is called
    /// with the number of events checked so far, every 10,000.
    pub fn verify(&self, mut progress: impl FnMut(u64)) -> Result<VerifyReport, StorageError> {
        let txn = self.env.read_txn()?;
        let tables = &self.tables;
        let mut report = VerifyReport::default();
        let limits = Limits { event_bytes_max: usize::MAX, tags_per_event_max: usize::MAX, ..Limits::default() };
        let mut expected_entries = [0u64; 5];
        let mut expirations = 0u64;
        let mut winners: HashMap<Vec<u8>, Winner> = HashMap::new();
        // NIP-45 kept counts, as the events say they should be.
        let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
        // NIP-50 word index, likewise.
        let mut words = crate::words::ExpectedIndex::default();
        let last_seq = read_last_seq(&txn, tables)?;
        for entry in tables.events.iter(&txn)? {
            let (key, bytes) = entry?;
            let seq = decode_seq(key)?;
            report.events += 1;
            if report.events % 10_000 == 0 {
                progress(report.events);
            }
            let Ok(record) = decode_record(seq, bytes) else {
                report.problem(|| format!("event {seq}: the record does not decode"));
                continue;
            };
            if seq > last_seq {
                report.problem(|| format!("event {seq}: above the last sequence number {last_seq}"));
            }
            check_json(&record, &limits, &mut report);
            match crate::tables::seq_of_id(&txn, tables, &record.header.id)? {
                Some(found) if found == seq => {}
                found => report.problem(|| format!("event {seq}: ids entry names {found:?}")),
            }
            let dup = schema::time_dup(record.header.created_at, seq);
            for (index, key) in schema::index_keys(&record) {
                expected_entries[index_position(index)] += 1;
                let mut at_or_below = tables.time_index(index).rev_duplicates_until(&txn, &key, &dup, true)?;
                if at_or_below.next().transpose()? != Some(&dup[..]) {
                    report.problem(|| format!("event {seq}: missing its {} entry", index.table_name()));
                }
            }
            for key in crate::counts::counted_keys(&record) {
                *counts.entry(key).or_default() += 1;
            }
            if words.add(&record, &self.search_kinds).is_err() {
                report.problem(|| format!("event {seq}: its content cannot be read"));
            }
            let header = &record.header;
            if header.expiration != 0 {
                expirations += 1;
                let mut key = Vec::with_capacity(16);
                schema::time_suffix(&mut key, header.expiration, seq);
                if tables.expiration.get(&txn, &key)?.is_none() {
                    report.problem(|| format!("event {seq}: missing its expiration entry"));
                }
            }
            // The position is held (by this event, or by one a restored origin put there since).
            match crate::tables::log_of(&txn, tables, header.log)? {
                Some(log) => {
                    let start = schema::origin_log_dup(header.origin_seq, 0);
                    let at = tables.origin_log.duplicates_from(&txn, &log, &start)?.next().transpose()?;
                    if at.is_none_or(|dup| dup[..8] != header.origin_seq.to_be_bytes()) {
                        report.problem(|| format!("event {seq}: missing its log position {}", header.origin_seq));
                    }
                }
                None => report.problem(|| format!("event {seq}: its log number {} names no log", header.log)),
            }
            if let Some(coordinate) = record.coordinate() {
                let candidate = (header.created_at, header.id, seq);
                let best = winners.entry(coordinate).or_insert(candidate);
                // Newest wins; on a tie, the lowest id (NIP-01).
                if (candidate.0, std::cmp::Reverse(candidate.1)) > (best.0, std::cmp::Reverse(best.1)) {
                    *best = candidate;
                }
            }
        }
        progress(report.events);
        self.verify_indexes(&txn, &expected_entries, &mut report)?;
        self.verify_pointers(&txn, expirations, &mut report)?;
        self.verify_replaceable(&txn, &winners, &mut report)?;
        self.verify_counts(&txn, &counts, &mut report)?;
        self.verify_search(&txn, &words, |text| report.problem(|| text))?;
        self.verify_logs(&txn, &mut report)?;
        Ok(report)
    }

    /// Every index entry points to a stored event with that time; with the per-event check
    /// (each event's entries exist) equal counts mean no entry is left over.
    fn verify_indexes(
        &self,
        txn: &heed::RoTxn<heed::WithoutTls>,
        expected: &[u64; 5],
        report: &mut VerifyReport,
    ) -> Result<(), StorageError> {
        for index in TimeIndex::ALL {
            let mut entries = 0u64;
            for entry in self.tables.time_index(index).iter(txn)? {
                let (_, dup) = entry?;
                entries += 1;
                if dup.len() != 16 {
                    report.problem(|| format!("{}: an entry of {} bytes", index.table_name(), dup.len()));
                    continue;
                }
                let (created_at, seq) = schema::split_time_suffix(dup);
                match read_record(txn, &self.tables, seq) {
                    Ok(Some(record)) if record.header.created_at == created_at => {}
                    Ok(Some(_)) => {
                        report.problem(|| format!("{}: entry for {seq} has another time", index.table_name()))
                    }
                    Ok(None) => report.problem(|| format!("{}: entry for missing event {seq}", index.table_name())),
                    Err(_) => {} // reported with the event
                }
            }
            report.index_entries += entries;
            let wanted = expected[index_position(index)];
            if entries != wanted {
                report.problem(|| format!("{}: {entries} entries, the events need {wanted}", index.table_name()));
            }
        }
        Ok(())
    }

    /// `ids` and `expiration` entries point to events that have them.
    fn verify_pointers(
        &self,
        txn: &heed::RoTxn<heed::WithoutTls>,
        expirations: u64,
        report: &mut VerifyReport,
    ) -> Result<(), StorageError> {
        let mut ids = 0u64;
        for entry in self.tables.ids.iter(txn)? {
            let (key, _) = entry?;
            ids += 1;
            let (prefix, seq) = key
                .split_at_checked(schema::ID_PREFIX_BYTES)
                .ok_or_else(|| StorageError::Corrupt(format!("ids key {}", hex(key))))?;
            let seq = decode_seq(seq)?;
            match read_record(txn, &self.tables, seq) {
                Ok(Some(record)) if record.header.id.starts_with(prefix) => {}
                Ok(_) => report.problem(|| format!("ids: {} names {seq}, which is not that event", hex(prefix))),
                Err(_) => {}
            }
        }
        if ids != report.events {
            let events = report.events;
            report.problem(|| format!("ids: {ids} entries for {events} events"));
        }
        let mut entries = 0u64;
        for entry in self.tables.expiration.iter(txn)? {
            let (key, _) = entry?;
            entries += 1;
            let (expiration, seq) = schema::split_time_suffix(key);
            match read_record(txn, &self.tables, seq) {
                Ok(Some(record)) if record.header.expiration == expiration => {}
                Ok(_) => report.problem(|| format!("expiration: entry for {seq} is not that event's")),
                Err(_) => {}
            }
        }
        if entries != expirations {
            report.problem(|| format!("expiration: {entries} entries, the events need {expirations}"));
        }
        // Each log number names a log that has that number back.
        for entry in self.tables.logs.prefix_iter(txn, &[schema::LOG_NUMBER_PREFIX])? {
            let (key, log) = entry?;
            let number = schema::number_of_log_number_key(key);
            let back = match <&[u8; 40]>::try_from(log) {
                Ok(log) => self.tables.logs.get(txn, &schema::log_key(log))?,
                Err(_) => None,
            };
            if number.is_none() || back.map(<[u8]>::to_vec) != number.map(|number| number.to_be_bytes().to_vec()) {
                report.problem(|| format!("logs: number {} does not name a log numbered so", hex(key)));
            }
        }
        Ok(())
    }

    /// Each coordinate names the newest stored version, and no entry names anything else.
    fn verify_replaceable(
        &self,
        txn: &heed::RoTxn<heed::WithoutTls>,
        winners: &HashMap<Vec<u8>, Winner>,
        report: &mut VerifyReport,
    ) -> Result<(), StorageError> {
        let mut entries = 0usize;
        for entry in self.tables.replaceable.iter(txn)? {
            let (coordinate, seq) = entry?;
            entries += 1;
            let seq = decode_seq(seq)?;
            match winners.get(coordinate) {
                Some(&(_, _, winner)) if winner == seq => {}
                Some(&(_, _, winner)) => {
                    report.problem(|| format!("replaceable: a coordinate names {seq}, its newest version is {winner}"))
                }
                None => report.problem(|| format!("replaceable: a coordinate names {seq}, no stored event has it")),
            }
        }
        if entries != winners.len() {
            let coordinates = winners.len();
            report.problem(|| format!("replaceable: {entries} entries for {coordinates} coordinates"));
        }
        Ok(())
    }

    /// No log holds one event at two positions. Positions naming removed events are allowed:
    /// an event that reached this node through a second log keeps that position when removed
    /// (sequence numbers are never reused, so readers skip it).
    fn verify_logs(&self, txn: &heed::RoTxn<heed::WithoutTls>, report: &mut VerifyReport) -> Result<(), StorageError> {
        let mut current_log: Option<[u8; 40]> = None;
        let mut seen: HashMap<u64, u64> = HashMap::new();
        for entry in self.tables.origin_log.iter(txn)? {
            let (key, dup) = entry?;
            let (Ok(log), 16) = (<[u8; 40]>::try_from(key), dup.len()) else {
                report.problem(|| format!("origin_log: an entry of {} + {} bytes", key.len(), dup.len()));
                continue;
            };
            if current_log != Some(log) {
                current_log = Some(log);
                seen.clear();
            }
            let (position, seq) = schema::split_time_suffix(dup);
            if let Some(earlier) = seen.insert(seq, position) {
                report.problem(|| format!("origin_log: event {seq} at positions {earlier} and {position} of one log"));
            }
        }
        Ok(())
    }

    /// Writes a compacted copy of the store (free pages left out) to `directory/data.mdb`;
    /// `directory` must not hold a store. Readers and the writer may go on meanwhile.
    pub fn compact_to(&self, directory: &Path) -> Result<u64, StorageError> {
        std::fs::create_dir_all(directory)
            .map_err(|source| StorageError::Directory { path: directory.into(), source })?;
        let path = directory.join("data.mdb");
        if path.exists() {
            return Err(StorageError::Directory {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "a store is already there"),
            });
        }
        let file = self.env.copy_to_path(&path, CompactionOption::Enabled)?;
        file.sync_all().map_err(|source| StorageError::Directory { path: path.clone(), source })?;
        Ok(file.metadata().map_err(|source| StorageError::Directory { path, source })?.len())
    }

    /// Closes this store (every clone must be dropped first) and waits until LMDB let go of its
    /// files, so they may be replaced.
    pub fn close(self) {
        self.env.prepare_for_closing().wait();
    }

    /// The sequence numbers of the stored events matching any of `filters` (limits ignored),
    /// each once, in ascending order; never a policy entry (`policy_log`: what `delete` must
    /// not remove, the record of the cluster's policy).
    pub fn matching(&self, filters: &[Filter], now: u64) -> Result<Vec<u64>, StorageError> {
        let mut scan = self.count_scan(filters, now)?;
        let mut found = Vec::new();
        let budget = ScanBudget { candidates_max: 65_536, time_max: None };
        let entry = parrhesia_engine::policy_log::POLICY_ENTRY_KIND;
        while !scan.is_done() {
            scan.step(self, budget, |record| {
                if record.header.kind != entry {
                    found.push(record.seq);
                }
            })?;
        }
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }

    /// The ids of the stored events with these sequence numbers (those still stored), in order.
    pub fn ids_of(&self, seqs: &[u64]) -> Result<Vec<parrhesia_engine::Id>, StorageError> {
        let txn = self.env.read_txn()?;
        let mut ids = Vec::with_capacity(seqs.len());
        for &seq in seqs {
            if let Some(record) = crate::tables::read_record(&txn, &self.tables, seq)? {
                ids.push(record.header.id);
            }
        }
        Ok(ids)
    }

    /// Removes the events with these sequence numbers and all their index entries, in
    /// transactions of at most `batch_events_max`. No tombstone is kept: the same event sent
    /// again is stored again. Returns how many were removed.
    pub fn remove_events(&self, seqs: &[u64], batch_events_max: usize) -> Result<u64, StorageError> {
        let mut removed = 0;
        for batch in seqs.chunks(batch_events_max.max(1)) {
            removed += self.remove_batch(batch)?;
        }
        Ok(removed)
    }
}

/// How the data file's pages are used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    pub page_bytes: u64,
    /// Pages up to the last one used (the file may be longer: LMDB grows it ahead).
    pub pages: u64,
    /// Pages holding tables (every named table and the main one).
    pub used_pages: u64,
    /// The rest: free pages and the free list (what `compact` gives back), and the pages of
    /// `DUP_SORT` sub-databases, which LMDB's counts leave out (`TableStats::main_tree_only`).
    pub free_pages: u64,
}

impl Store {
    /// Page usage, from LMDB's own counts.
    pub fn space(&self) -> Result<Space, StorageError> {
        let txn = self.env.read_txn()?;
        let info = self.env.info();
        let main = self.env.unnamed_database_stat();
        let mut used = (main.branch_pages + main.leaf_pages + main.overflow_pages) as u64 + 2; // + meta pages
        for stats in self.table_stats()? {
            used += stats.bytes / u64::from(main.page_size);
        }
        drop(txn);
        let pages = info.last_page_number as u64 + 1;
        Ok(Space { page_bytes: main.page_size.into(), pages, used_pages: used, free_pages: pages.saturating_sub(used) })
    }

    /// Stored events per kind, ascending by kind (from the kind index: no event is read).
    pub fn kind_counts(&self) -> Result<Vec<(u16, u64)>, StorageError> {
        let txn = self.env.read_txn()?;
        let mut counts: Vec<(u16, u64)> = Vec::new();
        for entry in self.tables.time_index(TimeIndex::Kind).iter(&txn)? {
            let (key, _) = entry?;
            let kind = u16::from_be_bytes([key[0], key[1]]);
            match counts.last_mut() {
                Some((last, count)) if *last == kind => *count += 1,
                _ => counts.push((kind, 1)),
            }
        }
        Ok(counts)
    }

    /// Hands the JSON of every stored event with `since <= created_at <= until` that matches
    /// any of `filters` (all events if empty; limits ignored) to `visit`, oldest first (ties in
    /// sequence order), from one read transaction. Returns how many were visited.
    pub fn export_ordered(
        &self,
        filters: &[Filter],
        since: u64,
        until: u64,
        mut visit: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, crate::store::ExportError> {
        let filters: Vec<RecordFilter> = filters.iter().cloned().map(RecordFilter::new).collect();
        let txn = self.env.read_txn().map_err(StorageError::from)?;
        let lower = schema::time_dup(since, 0);
        let upper = schema::time_dup(until, u64::MAX);
        let mut json = Vec::new();
        let mut count = 0;
        let time = self.tables.time_index(TimeIndex::Time);
        // Oldest first: the one key's duplicates in order (an export reads them all anyway).
        let entries = time.get_duplicates(&txn, schema::TIME_KEY).map_err(StorageError::from)?;
        for entry in entries.into_iter().flatten() {
            let (_, dup) = entry.map_err(StorageError::from)?;
            if dup < &lower[..] {
                continue;
            }
            if dup > &upper[..] {
                break;
            }
            let (_, seq) = schema::split_time_suffix(dup);
            let Some(record) = read_record(&txn, &self.tables, seq)? else {
                return Err(StorageError::Corrupt(format!("time index names missing event {seq}")).into());
            };
            if !filters.is_empty() && !filters.iter().any(|filter| filter.matches(&record) == Some(true)) {
                continue;
            }
            json.resize(record.json_len(), 0);
            record.write_json(&mut json);
            visit(&json).map_err(crate::store::ExportError::Output)?;
            count += 1;
        }
        Ok(count)
    }
}

/// The record's JSON is an event whose id, pubkey, kind, created_at, expiration and indexed
/// tags are those of the header and tag section (what readers trust without parsing).
fn check_json(record: &Record, limits: &Limits, report: &mut VerifyReport) {
    let seq = record.seq;
    let Some(json) = record.json_string() else {
        return report.problem(|| format!("event {seq}: its JSON is not UTF-8"));
    };
    let event = match Event::parse(&json, limits) {
        Ok(event) => event,
        Err(reason) => return report.problem(|| format!("event {seq}: its JSON is not a valid event ({reason})")),
    };
    let header = &record.header;
    let agrees = *event.id() == header.id
        && *event.pubkey() == header.pubkey
        && *event.sig() == header.sig
        && event.kind() == header.kind
        && event.created_at() == header.created_at
        && event.expiration().unwrap_or(0) == header.expiration
        && record::tag_section(&event) == record.tag_section();
    if !agrees {
        report.problem(|| format!("event {seq}: its header or tags disagree with its JSON"));
    }
}

fn index_position(index: TimeIndex) -> usize {
    TimeIndex::ALL.iter().position(|&candidate| candidate == index).expect("listed")
}

fn hex(bytes: &[u8]) -> String {
    parrhesia_engine::hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use parrhesia_engine::Keys;

    use super::*;
    use crate::store::StoreOptions;

    const NOW: u64 = 1_700_000_000;

    fn sign(keys: &Keys, created_at: u64, kind: u16, tags: &[(&str, &str)], content: &str) -> Event {
        let tags = tags.iter().map(|(name, value)| vec![name.to_string(), value.to_string()]).collect();
        keys.sign(created_at, kind, tags, content.into())
    }

    /// A store with regular, tagged, replaced, addressable and expiring events.
    fn populated(directory: &Path) -> (Store, Vec<Event>) {
        let store = Store::open(directory, &StoreOptions::default()).unwrap();
        let alice = Keys::from_secret_bytes([3; 32]).unwrap();
        let bob = Keys::from_secret_bytes([4; 32]).unwrap();
        let mut events = Vec::new();
        for number in 0..20u64 {
            let keys = if number % 2 == 0 { &alice } else { &bob };
            let target = "ab".repeat(32);
            events.push(sign(keys, NOW - 100 + number, 1, &[("t", "nostr"), ("p", &target)], &format!("n{number}")));
        }
        events.push(sign(&alice, NOW - 50, 0, &[], "old profile"));
        events.push(sign(&alice, NOW - 40, 0, &[], "new profile"));
        events.push(sign(&bob, NOW - 30, 30023, &[("d", "post")], "article"));
        events.push(sign(&bob, NOW - 20, 1, &[("expiration", &(NOW + 3600).to_string())], "expires"));
        for outcome in store.apply(&events, NOW).unwrap() {
            assert!(matches!(outcome, crate::Outcome::Stored { .. }), "{outcome:?}");
        }
        (store, events)
    }

    fn problems(store: &Store) -> Vec<String> {
        let report = store.verify(|_| {}).unwrap();
        assert_eq!(report.problems as usize, report.shown.len(), "few enough to show all");
        report.shown
    }

    #[test]
    fn a_store_written_by_the_rules_verifies() {
        let directory = tempfile::tempdir().unwrap();
        let (store, events) = populated(directory.path());
        let report = store.verify(|_| {}).unwrap();
        assert_eq!(report.shown, Vec::<String>::new());
        assert_eq!(report.events, events.len() as u64 - 1, "the old profile was replaced");
        assert!(report.index_entries > report.events * 4);
    }

    #[test]
    fn each_kind_of_damage_is_found() {
        let directory = tempfile::tempdir().unwrap();
        let (store, _) = populated(directory.path());
        let tables = store.tables;
        let mut txn = store.env.write_txn().unwrap();
        // An event loses one tag entry; a dangling author entry names no event.
        let record_bytes = tables.events.get(&txn, &1u64.to_be_bytes()).unwrap().unwrap().to_vec();
        let record = Record::decode(1, &record_bytes).unwrap();
        let tag_key = schema::index_keys(&record).into_iter().find(|(index, _)| *index == TimeIndex::Tag).unwrap().1;
        let dup = schema::time_dup(record.header.created_at, 1);
        assert!(tables.time_index(TimeIndex::Tag).delete_one_duplicate(&mut txn, &tag_key, &dup).unwrap());
        tables.time_index(TimeIndex::Pubkey).put(&mut txn, &[9; 32], &schema::time_dup(NOW, 999)).unwrap();
        // The profile coordinate names a regular event; event 2's ids entry is gone.
        let (coordinate, _) = tables.replaceable.iter(&txn).unwrap().next().unwrap().unwrap();
        let coordinate = coordinate.to_vec();
        tables.replaceable.put(&mut txn, &coordinate, &3u64.to_be_bytes()).unwrap();
        let id2 = Record::decode(2, tables.events.get(&txn, &2u64.to_be_bytes()).unwrap().unwrap()).unwrap().header.id;
        tables.ids.delete(&mut txn, &schema::id_key(&id2, 2)).unwrap();
        // Event 4's JSON says something else than its header (same length, other content).
        let mut bytes = tables.events.get(&txn, &4u64.to_be_bytes()).unwrap().unwrap().to_vec();
        let at = bytes.windows(4).rposition(|window| window == b"\"n3\"").expect("the content n3");
        bytes[at + 2] = b'9';
        tables.events.put(&mut txn, &4u64.to_be_bytes(), &bytes).unwrap();
        // A word posting names an event that does not exist.
        tables.search_postings.put(&mut txn, b"zz", &crate::words::posting(999).unwrap()).unwrap();
        // A second number for the one log (the log still names the first).
        let (_, log) = tables.logs.prefix_iter(&txn, &[schema::LOG_NUMBER_PREFIX]).unwrap().next().unwrap().unwrap();
        let log = log.to_vec();
        tables.logs.put(&mut txn, &schema::log_number_key(7), &log).unwrap();
        txn.commit().unwrap();

        let found = problems(&store);
        let expected = [
            "event 1: missing its tag_time entry",
            "tag_time: ",
            "pubkey_time: entry for missing event 999",
            "pubkey_time: ",
            "replaceable: a coordinate names 3",
            "event 2: ids entry names None",
            "ids: ",
            "event 4: its JSON is not a valid event",
            // The search index still holds what event 4 said before (n3) and not what it says now.
            "search_words: \"n3\" kept as in 1 events, the events say 0",
            "search_words: \"n9\" kept as in 1 events, the events say 2",
            "search_postings: \"n3\" has 1 postings, the events say 0",
            "search_postings: \"n9\" has 1 postings, the events say 2",
            "search_postings: \"zz\" names event 999, not an indexed event",
            "search_postings: \"zz\" has 1 postings, the events say 0",
            "logs: number 6e00000007 does not name a log numbered so",
        ];
        for text in expected {
            assert!(found.iter().any(|problem| problem.contains(text)), "{text:?} not in {found:#?}");
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
    }

    /// `ids` keeps 8 bytes of each id: an entry of another event under the same prefix (as two
    /// ids sharing their first 8 bytes would make) never answers for the wrong id.
    #[test]
    fn ids_sharing_a_prefix_are_told_apart_by_their_records() {
        let directory = tempfile::tempdir().unwrap();
        let (store, events) = populated(directory.path());
        let seq_of = |id: &parrhesia_engine::Id| {
            let txn = store.env.read_txn().unwrap();
            crate::tables::seq_of_id(&txn, &store.tables, id).unwrap()
        };
        let (first, second) = (seq_of(events[0].id()).unwrap(), seq_of(events[1].id()).unwrap());
        // Event 2 listed under event 1's prefix, ahead of event 1 itself (a lower seq).
        let mut txn = store.env.write_txn().unwrap();
        let mut colliding = *events[1].id();
        colliding[..schema::ID_PREFIX_BYTES].copy_from_slice(&events[0].id()[..schema::ID_PREFIX_BYTES]);
        store.tables.ids.put(&mut txn, &schema::id_key(&colliding, 0), &[]).unwrap();
        store.tables.ids.delete(&mut txn, &schema::id_key(events[1].id(), second)).unwrap();
        store.tables.ids.put(&mut txn, &schema::id_key(&colliding, second), &[]).unwrap();
        txn.commit().unwrap();
        assert_eq!(seq_of(events[0].id()), Some(first));
        assert_eq!(seq_of(&colliding), None, "same prefix, another id");
        assert_eq!(seq_of(events[1].id()), None, "its entry is under another prefix now");
        assert!(store.contains_id(events[0].id()).unwrap());
        let found = problems(&store);
        assert!(found.iter().any(|problem| problem.contains("ids: ") && problem.contains("names 0")), "{found:#?}");
        assert!(found.iter().any(|problem| problem.contains("event 2: ids entry names None")), "{found:#?}");
    }

    #[test]
    fn delete_matching_and_compact_leave_a_store_that_verifies() {
        let directory = tempfile::tempdir().unwrap();
        let (store, events) = populated(directory.path());
        let filter = Filter::parse(r##"{"#t":["nostr"],"until":1699999909}"##, &Limits::default()).unwrap();
        let seqs = store.matching(&[filter], NOW).unwrap();
        assert_eq!(seqs.len(), 10, "the first ten tagged notes");
        assert_eq!(store.remove_events(&seqs, 3).unwrap(), 10);
        assert_eq!(store.remove_events(&seqs, 3).unwrap(), 0, "already gone");
        assert_eq!(problems(&store), Vec::<String>::new());
        let copy = tempfile::tempdir().unwrap();
        let bytes = store.compact_to(copy.path()).unwrap();
        assert!(bytes > 0);
        assert!(store.compact_to(copy.path()).is_err(), "never over an existing store");
        drop(store);
        let compacted = Store::open(copy.path(), &StoreOptions::default()).unwrap();
        let report = compacted.verify(|_| {}).unwrap();
        assert_eq!((report.problems, report.events), (0, events.len() as u64 - 1 - 10));
    }
}
