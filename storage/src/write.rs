//! The write path: `Store::apply` commits a batch in one transaction, giving each stored event
//! the next sequence number, with NIP-01 replaceable/addressable rules, NIP-09 deletion,
//! NIP-40 expiration and NIP-62 vanish. Also the expiration sweep.

use heed::{EnvFlags, FlagSetMode, RoTxn, RwTxn, WithoutTls};
use parrhesia_engine::policy_log::{self, POLICY_ENTRY_KIND};
use parrhesia_engine::{Event, KindClass, Prefix, Reason};

use crate::counts::PendingCounts;
use crate::error::StorageError;
use crate::record::{self, Header, Record};
use crate::schema;
use crate::store::Store;
use crate::tables::{Tables, decode_seq, read_last_seq, read_record, seq_of_id};
use crate::words::{PendingSearch, distinct_words, posting};

/// A replicated batch applied in a write transaction not yet committed (`Store::
/// stage_replicated`). Dropped or failed, nothing of it is stored and its sequence numbers
/// are not used again by this process.
pub struct StagedBatch<'s> {
    store: &'s Store,
    txn: Option<RwTxn<'s>>,
    outcomes: Vec<Outcome>,
    last_seq: u64,
}

impl StagedBatch<'_> {
    /// One outcome per event of the batch, in order.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// Commits the batch. With one flush instead of two: the data pages are synced, the meta
    /// page waits for the next commit or flush. LMDB stays consistent; a system crash may undo
    /// this transaction, events and cursor together, and the batch is then pulled again.
    /// Nothing was acknowledged to a client for it. Only the writer's thread commits, so the
    /// flag is never seen by another transaction's commit.
    pub fn commit(mut self) -> Result<Vec<Outcome>, StorageError> {
        let txn = self.txn.take().expect("committed once");
        let env = &self.store.env;
        // SAFETY: NO_META_SYNC keeps ACI (see above); it is set and unset on this thread.
        unsafe { env.set_flags(EnvFlags::NO_META_SYNC, FlagSetMode::Enable)? };
        let committed = txn.commit();
        // SAFETY: as above.
        let restored = unsafe { env.set_flags(EnvFlags::NO_META_SYNC, FlagSetMode::Disable) };
        if committed.is_err() {
            self.abandon();
        }
        committed?;
        // Committed: the events are stored whatever the flag says. (`mdb_env_set_flags` fails
        // only for a flag outside the changeable set, which NO_META_SYNC is not.)
        drop(restored);
        Ok(std::mem::take(&mut self.outcomes))
    }

    fn abandon(&self) {
        self.store.seq_floor.fetch_max(self.last_seq, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for StagedBatch<'_> {
    fn drop(&mut self) {
        if self.txn.is_some() {
            self.abandon();
        }
    }
}

/// What became of one event of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Stored with this sequence number; `OK true`.
    Stored { seq: u64 },
    /// Already stored; `OK true "duplicate: ..."`.
    Duplicate,
    /// Not stored, with the reason to give the client (`OK false`).
    Rejected(Reason),
}

pub const KIND_DELETION: u16 = 5;
pub const KIND_VANISH: u16 = 62;

impl Store {
    /// Applies a batch of verified events in one transaction (group commit) and returns one
    /// outcome per event, in order. Events are applied in order: a later event sees the effects
    /// of earlier ones. Each stored event's origin is this node (its log position = its seq).
    /// On `Err` nothing of the batch is stored.
    pub fn apply(&self, events: &[Event], now: u64) -> Result<Vec<Outcome>, StorageError> {
        let mut txn = self.env.write_txn()?;
        let outcomes = self.apply_in(&mut txn, events.iter().map(|event| (event, None)), now)?;
        txn.commit()?;
        Ok(outcomes)
    }

    /// Applies a batch pulled from the log (`origin`, `epoch`): `events` are (origin seq,
    /// event), of `positions` (`from_seq..next_seq`), and the log's cursor becomes `next_seq`
    /// in the same transaction, so a crash keeps both or neither. Inserts are idempotent by id
    /// (`Outcome::Duplicate`); every storage rule applies as to local events. `held` are
    /// (position, id) of events this store holds already (without that position): each is
    /// recorded at its position, or left a hole if it is no longer stored. Returns `None`,
    /// changing nothing, if the store does not hold the log up to `from_seq` (applying would
    /// leave a gap). On `Err` nothing changed, cursor included.
    pub fn apply_replicated(
        &self,
        origin: &[u8; 32],
        epoch: u64,
        positions: std::ops::Range<u64>,
        events: &[(u64, Event)],
        held: &[(u64, parrhesia_engine::Id)],
        now: u64,
    ) -> Result<Option<Vec<Outcome>>, StorageError> {
        self.stage_replicated(origin, epoch, positions, events, held, now)?.map(StagedBatch::commit).transpose()
    }

    /// `apply_replicated` up to its commit: the outcomes are known (the events are numbered and
    /// every rule applied) and `StagedBatch::commit` makes them durable. A staged batch dropped
    /// or failing to commit changes nothing, but its sequence numbers are not handed out again
    /// by this process.
    pub fn stage_replicated(
        &self,
        origin: &[u8; 32],
        epoch: u64,
        positions: std::ops::Range<u64>,
        events: &[(u64, Event)],
        held: &[(u64, parrhesia_engine::Id)],
        now: u64,
    ) -> Result<Option<StagedBatch<'_>>, StorageError> {
        let (from_seq, next_seq) = (positions.start, positions.end);
        assert!(!self.is_own_current_log(origin, epoch), "a node never pulls its own current log");
        let mut txn = self.env.write_txn()?;
        let key = schema::cursor_key(origin, epoch);
        let current = self.tables.cursors.get(&txn, &key)?.map(decode_seq).transpose()?.unwrap_or(1);
        if from_seq > current {
            return Ok(None);
        }
        let positions = events.iter().map(|(origin_seq, event)| (event, Some((*origin, epoch, *origin_seq))));
        let outcomes = self.apply_in(&mut txn, positions, now)?;
        if !held.is_empty() {
            let mut pending = Pending::default();
            let mut writer = Writer::new(&mut txn, self, &mut pending);
            for (position, id) in held {
                writer.add_position(id, (*origin, epoch, *position))?;
            }
        }
        self.tables.cursors.put(&mut txn, &key, &current.max(next_seq).to_be_bytes())?;
        let last_seq = read_last_seq(&txn, &self.tables)?;
        Ok(Some(StagedBatch { store: self, txn: Some(txn), outcomes, last_seq }))
    }

    /// The body of a group commit: each event with its origin log position (`None`: this node).
    fn apply_in<'e>(
        &self,
        txn: &mut RwTxn,
        events: impl Iterator<Item = (&'e Event, Option<([u8; 32], u64, u64)>)>,
        now: u64,
    ) -> Result<Vec<Outcome>, StorageError> {
        // Past any number a staged batch handed out and did not commit (see `StagedBatch`).
        let floor = self.seq_floor.load(std::sync::atomic::Ordering::Relaxed);
        let mut last_seq = read_last_seq(txn, &self.tables)?.max(floor);
        let mut outcomes = Vec::with_capacity(events.size_hint().0);
        // The own logs this transaction stored events in (by epoch), and their last positions.
        let mut own_stored: Vec<(u64, u64)> = Vec::new();
        let mut pending = Pending::default();
        for (event, position) in events {
            let mut writer = Writer::new(&mut *txn, self, &mut pending);
            let outcome = match writer.admit(event, now)? {
                Admission::Refuse(Outcome::Duplicate) if let Some(position) = position => {
                    writer.add_position(event.id(), position)?;
                    Outcome::Duplicate
                }
                Admission::Refuse(refusal) => refusal,
                Admission::Store { replaces } => {
                    if let Some(superseded) = replaces {
                        writer.remove(superseded)?;
                    }
                    last_seq += 1;
                    let position = position.unwrap_or_else(|| {
                        let epoch = self.own_log_epoch(event.kind());
                        match own_stored.iter_mut().find(|(own, _)| *own == epoch) {
                            Some(own) => own.1 = last_seq,
                            None => own_stored.push((epoch, last_seq)),
                        }
                        (self.node_id, epoch, last_seq)
                    });
                    writer.insert(event, last_seq, position)?;
                    writer.apply_effects(event, now)?;
                    Outcome::Stored { seq: last_seq }
                }
            };
            outcomes.push(outcome);
        }
        pending.flush(txn, self)?;
        self.tables.meta.put(txn, schema::META_LAST_SEQ, &last_seq.to_be_bytes())?;
        for (epoch, last) in own_stored {
            // An own log's cursor: this node holds its own log up to its last own event there.
            let own = schema::cursor_key(&self.node_id, epoch);
            self.tables.cursors.put(txn, &own, &(last + 1).to_be_bytes())?;
        }
        Ok(outcomes)
    }

    /// Removes up to `events_max` events whose expiration is at or before `now` (NIP-40). An
    /// expired policy entry takes its effect with it: its key's policy is the newest entry
    /// left, or none.
    pub fn sweep_expired(&self, now: u64, events_max: usize) -> Result<Swept, StorageError> {
        let mut txn = self.env.write_txn()?;
        let due: Vec<u64> = crate::tables::due_expirations(&txn, &self.tables, now)?
            .take(events_max)
            .map(|entry| entry.map(|(key, _)| schema::split_time_suffix(key).1))
            .collect::<Result<_, _>>()?;
        let mut pending = Pending::default();
        let mut writer = Writer::new(&mut txn, self, &mut pending);
        let mut entries = Vec::new();
        for &seq in &due {
            if let Some(record) = read_record(writer.read(), writer.tables, seq)?
                && record.header.kind == POLICY_ENTRY_KIND
            {
                entries.extend(record.json_string().and_then(|json| Event::parse_trusted(&json)));
            }
            writer.remove(seq)?;
        }
        for key in entries.iter().filter_map(|entry| entry.tag_values("d").next()) {
            writer.refold_key(key, now)?;
        }
        pending.flush(&mut txn, self)?;
        txn.commit()?;
        Ok(Swept { removed: due.len(), policy_changed: !entries.is_empty() })
    }
}

/// What an expiration sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub removed: usize,
    /// Policy entries expired: the policy is to be read again.
    pub policy_changed: bool,
}

impl Store {
    /// Removes the events with these sequence numbers (those still stored) in one transaction.
    pub(crate) fn remove_batch(&self, seqs: &[u64]) -> Result<u64, StorageError> {
        let mut txn = self.env.write_txn()?;
        let mut pending = Pending::default();
        let mut writer = Writer::new(&mut txn, self, &mut pending);
        let mut removed = 0;
        for &seq in seqs {
            if read_record(writer.read(), writer.tables, seq)?.is_some() {
                writer.remove(seq)?;
                removed += 1;
            }
        }
        pending.flush(&mut txn, self)?;
        txn.commit()?;
        Ok(removed)
    }
}

/// The verdict on one incoming event, before anything is written.
enum Admission {
    Refuse(Outcome),
    /// Store it; `replaces` is the replaceable/addressable version it supersedes.
    Store {
        replaces: Option<u64>,
    },
}

/// What a transaction gathers and writes once at its end.
#[derive(Default)]
pub(crate) struct Pending {
    /// NIP-45 count changes, per key.
    pub(crate) counts: PendingCounts,
    /// NIP-50 document frequencies, per word.
    pub(crate) search: PendingSearch,
}

impl Pending {
    pub(crate) fn flush(&mut self, txn: &mut RwTxn, store: &Store) -> Result<(), StorageError> {
        self.counts.flush(txn, store.tables.tag_counts)?;
        self.search.flush(txn, &store.tables)
    }
}

pub(crate) struct Writer<'a, 'env> {
    pub(crate) txn: &'a mut RwTxn<'env>,
    pub(crate) tables: &'a Tables,
    pub(crate) store: &'a Store,
    pub(crate) pending: &'a mut Pending,
}

fn refuse(prefix: Prefix, detail: &'static str) -> Admission {
    Admission::Refuse(Outcome::Rejected(Reason::new(prefix, detail)))
}

impl<'a, 'env> Writer<'a, 'env> {
    pub(crate) fn new(txn: &'a mut RwTxn<'env>, store: &'a Store, pending: &'a mut Pending) -> Writer<'a, 'env> {
        Writer { txn, tables: &store.tables, store, pending }
    }
}

impl Writer<'_, '_> {
    fn read(&self) -> &RoTxn<'_, WithoutTls> {
        self.txn
    }

    /// Whether the event may be stored. Reads only; nothing changes.
    fn admit(&self, event: &Event, now: u64) -> Result<Admission, StorageError> {
        let tables = self.tables;
        if event.kind_class() == KindClass::Ephemeral {
            return Ok(refuse(Prefix::Invalid, "ephemeral events are not stored"));
        }
        if seq_of_id(self.read(), tables, event.id())?.is_some() {
            return Ok(Admission::Refuse(Outcome::Duplicate));
        }
        if event.expiration().is_some_and(|expiration| expiration <= now) {
            return Ok(refuse(Prefix::Invalid, "event has expired"));
        }
        if event.kind() == POLICY_ENTRY_KIND {
            // An entry answers to the admin signature it carries, not to deletions or bans.
            return Ok(match policy_log::check(event) {
                Ok(_) => Admission::Store { replaces: None },
                Err(reason) => Admission::Refuse(Outcome::Rejected(reason)),
            });
        }
        let mut deleted_id = vec![schema::DELETED_ID];
        deleted_id.extend_from_slice(event.id());
        deleted_id.extend_from_slice(event.pubkey());
        if tables.deleted.get(self.read(), &deleted_id)?.is_some() {
            return Ok(refuse(Prefix::Blocked, "this event was deleted by its author"));
        }
        let mut banned = [schema::BANNED_EVENT; 33];
        banned[1..].copy_from_slice(event.id());
        if tables.policy.get(self.read(), &banned)?.is_some() && !self.ban_lapsed(event.id(), now)? {
            return Ok(refuse(Prefix::Blocked, "this event is banned here"));
        }
        if self.deleted_up_to(schema::DELETED_VANISH, event.pubkey())?.is_some_and(|until| event.created_at() <= until)
        {
            return Ok(refuse(Prefix::Blocked, "the author asked this relay to delete their events (NIP-62)"));
        }
        let Some(coordinate) = schema::event_coordinate(event) else { return Ok(Admission::Store { replaces: None }) };
        if self.deleted_up_to(schema::DELETED_COORDINATE, &coordinate)?.is_some_and(|until| event.created_at() <= until)
        {
            return Ok(refuse(Prefix::Blocked, "this version was deleted by its author"));
        }
        let Some(current) = tables.replaceable.get(self.read(), &coordinate)? else {
            return Ok(Admission::Store { replaces: None });
        };
        let current = decode_seq(current)?;
        let stored = read_record(self.read(), tables, current)?
            .ok_or_else(|| StorageError::Corrupt(format!("replaceable winner {current} is missing")))?;
        let header = &stored.header;
        let current_wins = header.created_at > event.created_at()
            || (header.created_at == event.created_at() && header.id < *event.id());
        if current_wins {
            return Ok(refuse(Prefix::Duplicate, "a newer version of this replaceable event is stored"));
        }
        Ok(Admission::Store { replaces: Some(current) })
    }

    /// The `created_at` up to which `deleted[prefix ++ key]` deletes, if recorded.
    fn deleted_up_to(&self, prefix: u8, key: &[u8]) -> Result<Option<u64>, StorageError> {
        let full = [&[prefix][..], key].concat();
        self.tables.deleted.get(self.read(), &full)?.map(decode_seq).transpose()
    }

    /// Stores `event` under `seq`, at `(origin, origin epoch, origin seq)` of its origin log.
    fn insert(&mut self, event: &Event, seq: u64, position: ([u8; 32], u64, u64)) -> Result<(), StorageError> {
        let tables = self.tables;
        let seq_bytes = seq.to_be_bytes();
        let (origin, origin_epoch, origin_seq) = position;
        let log_key = schema::cursor_key(&origin, origin_epoch);
        let log = crate::tables::log_number(self.txn, tables, &log_key)?;
        let header = Header {
            id: *event.id(),
            pubkey: *event.pubkey(),
            created_at: event.created_at(),
            kind: event.kind(),
            expiration: event.expiration().unwrap_or(0),
            log,
            origin_seq,
            sig: *event.sig(),
        };
        let tags = record::tag_section(event);
        let bytes = record::encode(&header, &tags, event.json());
        // Pair assertion: what we write must read back as the same header, tags, JSON and
        // coordinate; readers then trust the record (the JSON is not re-validated on reads).
        let written = Record::decode(seq, &bytes).expect("a record this build encoded decodes");
        assert!(
            written.header == header
                && written.tag_section() == tags
                && written.json_string().as_deref() == Some(&**event.json()),
            "record encoding"
        );
        let coordinate = schema::event_coordinate(event);
        assert_eq!(written.coordinate(), coordinate, "record coordinate");
        let keys = schema::index_keys(&written);
        tables.events.put(self.txn, &seq_bytes, &bytes)?;
        tables.ids.put(self.txn, &schema::id_key(event.id(), seq), &[])?;
        self.put_position(&log_key, origin_seq, seq)?;
        let dup = schema::time_dup(header.created_at, seq);
        for (index, key) in keys {
            crate::tables::put_dup(tables.time_index(index), self.txn, &key, &dup)?;
        }
        if let Some(coordinate) = coordinate {
            tables.replaceable.put(self.txn, &coordinate, &seq_bytes)?;
        }
        if header.expiration != 0 {
            let mut key = Vec::with_capacity(16);
            schema::time_suffix(&mut key, header.expiration, seq);
            tables.expiration.put(self.txn, &key, &[])?;
        }
        self.pending.counts.count_tags(event);
        self.index_words(event.kind(), event.content(), seq)
    }

    /// Records another log position of an event already stored (it reached this node through
    /// another log first), so that serving that log includes it. When the event is removed,
    /// such extra positions are left behind and skipped by readers (sequence numbers are
    /// never reused, so they never name another event).
    fn add_position(&mut self, id: &parrhesia_engine::Id, position: ([u8; 32], u64, u64)) -> Result<(), StorageError> {
        let Some(seq) = seq_of_id(self.read(), self.tables, id)? else { return Ok(()) };
        let (origin, epoch, origin_seq) = position;
        self.put_position(&schema::cursor_key(&origin, epoch), origin_seq, seq)
    }

    /// Records that `seq` is at `position` of the log `key` (`schema::cursor_key`: origin ++
    /// epoch). One event per position: one recorded there before (a restored origin that reused
    /// the position) gives way, as the key it replaced did before positions were duplicates.
    fn put_position(&mut self, key: &[u8; 40], position: u64, seq: u64) -> Result<(), StorageError> {
        let table = self.tables.origin_log;
        let at = table.duplicates_from(self.read(), key, &schema::origin_log_dup(position, 0))?.next().transpose()?;
        let earlier = at.filter(|dup| dup[..8] == position.to_be_bytes()).map(<[u8]>::to_vec);
        if let Some(earlier) = earlier {
            table.delete_one_duplicate(self.txn, key, &earlier)?;
        }
        crate::tables::put_dup(table, self.txn, key, &schema::origin_log_dup(position, seq))?;
        Ok(())
    }

    /// Removes a stored event and all its index entries.
    pub(crate) fn remove(&mut self, seq: u64) -> Result<(), StorageError> {
        let tables = self.tables;
        let Some(stored) = read_record(self.read(), tables, seq)? else { return Ok(()) };
        let (header, keys, coordinate) = (stored.header, schema::index_keys(&stored), stored.coordinate());
        let counted = crate::counts::counted_keys(&stored);
        let words = crate::words::indexed_words(&stored, &self.store.search_kinds);
        self.pending.counts.uncount_tags(counted);
        if let Some(words) = words {
            self.unindex_words(seq, words)?;
        }
        tables.events.delete(self.txn, &seq.to_be_bytes())?;
        tables.ids.delete(self.txn, &schema::id_key(&header.id, seq))?;
        // A restored origin may have reused a position for another event: remove only our own.
        // A log number naming no log (a damaged store) leaves its position for `verify` to report.
        if let Some(log) = crate::tables::log_of(self.read(), tables, header.log)? {
            tables.origin_log.delete_one_duplicate(self.txn, &log, &schema::origin_log_dup(header.origin_seq, seq))?;
        }
        let dup = schema::time_dup(header.created_at, seq);
        for (index, key) in keys {
            tables.time_index(index).delete_one_duplicate(self.txn, &key, &dup)?;
        }
        if let Some(coordinate) = coordinate {
            let winner = tables.replaceable.get(self.read(), &coordinate)?.map(decode_seq).transpose()?;
            if winner == Some(seq) {
                tables.replaceable.delete(self.txn, &coordinate)?;
            }
        }
        if header.expiration != 0 {
            let mut key = Vec::with_capacity(16);
            schema::time_suffix(&mut key, header.expiration, seq);
            tables.expiration.delete(self.txn, &key)?;
        }
        Ok(())
    }

    /// NIP-09, NIP-62 and NIP-86 (policy entry) effects of a just-stored event.
    fn apply_effects(&mut self, event: &Event, now: u64) -> Result<(), StorageError> {
        match event.kind() {
            KIND_DELETION => self.delete_referenced(event),
            KIND_VANISH if self.vanish_applies(event) => self.vanish(event),
            POLICY_ENTRY_KIND => self.apply_policy_entry(event, now),
            _ => Ok(()),
        }
    }

    /// NIP-09: delete the author's events named by `e` ids and `a` coordinates, and remember the
    /// deletion so they cannot come back. Deletion requests and vanish requests are not deleted.
    fn delete_referenced(&mut self, deletion: &Event) -> Result<(), StorageError> {
        let tables = self.tables;
        let author = deletion.pubkey();
        for value in deletion.tag_values("e") {
            let Some(id) = parrhesia_engine::hex::decode_array::<32>(value) else { continue };
            let mut key = vec![schema::DELETED_ID];
            key.extend_from_slice(&id);
            key.extend_from_slice(author);
            tables.deleted.put(self.txn, &key, &[])?;
            let Some(target) = crate::tables::record_of_id(self.read(), tables, &id)? else { continue };
            let protected = matches!(target.header.kind, KIND_DELETION | KIND_VANISH | POLICY_ENTRY_KIND);
            if target.header.pubkey == *author && !protected {
                self.remove(target.seq)?;
            }
        }
        for value in deletion.tag_values("a") {
            let Some((kind, pubkey, d)) = parse_coordinate(value) else { continue };
            if pubkey != *author || !matches!(KindClass::of(kind), KindClass::Replaceable | KindClass::Addressable) {
                continue;
            }
            let coordinate = schema::coordinate_key(&pubkey, kind, d);
            let mut key = vec![schema::DELETED_COORDINATE];
            key.extend_from_slice(&coordinate);
            let until =
                self.deleted_up_to(schema::DELETED_COORDINATE, &coordinate)?.unwrap_or(0).max(deletion.created_at());
            tables.deleted.put(self.txn, &key, &until.to_be_bytes())?;
            let Some(seq) = tables.replaceable.get(self.read(), &coordinate)?.map(decode_seq).transpose()? else {
                continue;
            };
            let winner =
                read_record(self.read(), tables, seq)?.ok_or_else(|| StorageError::Corrupt(format!("winner {seq}")))?;
            if winner.header.created_at <= deletion.created_at() {
                self.remove(seq)?;
            }
        }
        Ok(())
    }

    /// NIP-62: a request applies if it tags `ALL_RELAYS` or one of this relay's URLs (compared
    /// as NIP-42 compares them: scheme and host case, default port, trailing slash).
    fn vanish_applies(&self, request: &Event) -> bool {
        request.tag_values("relay").any(|value| {
            value == "ALL_RELAYS"
                || self.store.relay_urls.iter().any(|own| parrhesia_engine::auth::same_relay_url(value, own))
        })
    }

    /// NIP-62: delete every event of the author up to the request's `created_at` (deletion
    /// requests included, the request itself kept) and refuse them from now on.
    fn vanish(&mut self, request: &Event) -> Result<(), StorageError> {
        let tables = self.tables;
        let until =
            self.deleted_up_to(schema::DELETED_VANISH, request.pubkey())?.unwrap_or(0).max(request.created_at());
        let key = [&[schema::DELETED_VANISH][..], &request.pubkey()[..]].concat();
        tables.deleted.put(self.txn, &key, &until.to_be_bytes())?;
        let upper = schema::time_dup(request.created_at(), u64::MAX);
        let doomed: Vec<u64> = tables
            .time_index(schema::TimeIndex::Pubkey)
            .rev_duplicates_until(self.read(), request.pubkey(), &upper, true)?
            .map(|entry| entry.map(|dup| schema::split_time_suffix(dup).1))
            .collect::<Result<_, _>>()?;
        for seq in doomed {
            // The request itself stays, and so do policy entries (the relay's record, which its
            // own key signs).
            let kept = read_record(self.read(), tables, seq)?
                .is_some_and(|stored| stored.header.id == *request.id() || stored.header.kind == POLICY_ENTRY_KIND);
            if !kept {
                self.remove(seq)?;
            }
        }
        Ok(())
    }
}

impl Writer<'_, '_> {
    /// Adds a stored event to the word index, if its kind is indexed.
    pub(crate) fn index_words(&mut self, kind: u16, content: &str, seq: u64) -> Result<(), StorageError> {
        if !self.store.search_kinds.contains(&kind) {
            return Ok(());
        }
        let (words, length) = distinct_words(content);
        for word in words {
            crate::tables::put_dup(self.tables.search_postings, self.txn, word.as_bytes(), &posting(seq)?)?;
            *self.pending.search.frequencies.entry(word.into_bytes()).or_default() += 1;
        }
        self.pending.search.documents += 1;
        self.pending.search.length += i64::from(length);
        Ok(())
    }

    /// Takes a removed event's words (`indexed_words`) out of the word index.
    pub(crate) fn unindex_words(&mut self, seq: u64, (words, length): (Vec<String>, u32)) -> Result<(), StorageError> {
        for word in words {
            // A posting that is not there (a damaged index) moves no frequency.
            if self.tables.search_postings.delete_one_duplicate(self.txn, word.as_bytes(), &posting(seq)?)? {
                *self.pending.search.frequencies.entry(word.into_bytes()).or_default() -= 1;
            }
        }
        self.pending.search.documents -= 1;
        self.pending.search.length -= i64::from(length);
        Ok(())
    }
}

/// `kind:pubkey:d` (the `d` part may hold colons).
fn parse_coordinate(value: &str) -> Option<(u16, [u8; 32], &str)> {
    let mut parts = value.splitn(3, ':');
    let kind = parts.next()?.parse().ok()?;
    let pubkey = parrhesia_engine::hex::decode_array::<32>(parts.next()?)?;
    Some((kind, pubkey, parts.next().unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::parse_coordinate;

    #[test]
    fn coordinate_table() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_coordinate(&format!("30023:{hex}:a:b")), Some((30023, [0xab; 32], "a:b")));
        assert_eq!(parse_coordinate(&format!("0:{hex}:")), Some((0, [0xab; 32], "")));
        assert_eq!(parse_coordinate(&format!("10002:{hex}")), Some((10002, [0xab; 32], "")));
        assert_eq!(parse_coordinate("x:y:z"), None);
        assert_eq!(parse_coordinate(&format!("70000:{hex}:")), None);
    }
}

#[cfg(test)]
mod log_positions {
    use parrhesia_engine::Keys;

    use crate::store::{Store, StoreOptions};

    /// `origin_log` keeps one event per position: a restored origin that numbers another
    /// event at a position this node holds replaces it there (the first event stays stored,
    /// and stays in the other logs it is in); serving and removing go by what is recorded.
    #[test]
    fn a_reused_position_holds_the_newer_event_only() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::open(directory.path(), &StoreOptions::default()).unwrap();
        let keys = Keys::from_secret_bytes([5; 32]).unwrap();
        let note = |content: &str| keys.sign(1_700_000_000, 1, Vec::new(), content.into());
        let (first, second, third) = (note("first"), note("second"), note("third"));
        let origin = [7; 32];
        let positions = |store: &Store| {
            let mut seen = Vec::new();
            store
                .read_log(&origin, 1, 1, 100, 1 << 20, |position, record| seen.push((position, record.header.id)))
                .unwrap();
            seen
        };
        store
            .apply_replicated(&origin, 1, 1..3, &[(1, first.clone()), (2, second.clone())], &[], 1_700_000_100)
            .unwrap();
        assert_eq!(positions(&store), vec![(1, *first.id()), (2, *second.id())]);
        // The origin, restored from a backup, numbers another event 2.
        store.apply_replicated(&origin, 1, 2..3, &[(2, third.clone())], &[], 1_700_000_100).unwrap();
        assert_eq!(positions(&store), vec![(1, *first.id()), (2, *third.id())]);
        let report = store.verify(|_| {}).unwrap();
        assert_eq!(report.problems, 0, "{:#?}", report.shown);
        // Removing the event that lost its position leaves the other's in place.
        let filter = parrhesia_engine::Filter::parse(
            &format!(r#"{{"ids":["{}"]}}"#, parrhesia_engine::hex::encode(second.id())),
            &parrhesia_engine::Limits::default(),
        )
        .unwrap();
        assert_eq!(store.remove_events(&store.matching(&[filter], 1_700_000_100).unwrap(), 100).unwrap(), 1);
        assert_eq!(positions(&store), vec![(1, *first.id()), (2, *third.id())]);
        assert_eq!(store.verify(|_| {}).unwrap().problems, 0);
    }

    /// A position of u64::MAX (a peer's; the store takes any) is read back without the
    /// position after it overflowing: it saturates (before, a debug build panicked, and a
    /// release build's `read_log_at` answered 0, before the fetch's own start).
    #[test]
    fn the_last_position_does_not_wrap() {
        let directory = tempfile::tempdir().unwrap();
        let store = Store::open(directory.path(), &StoreOptions::default()).unwrap();
        let keys = Keys::from_secret_bytes([6; 32]).unwrap();
        let note = keys.sign(1_700_000_000, 1, Vec::new(), "at the end".into());
        let origin = [8; 32];
        store.apply_replicated(&origin, 1, 1..u64::MAX, &[(u64::MAX, note.clone())], &[], 1_700_000_100).unwrap();
        let mut seen = Vec::new();
        let next = store
            .read_log(&origin, 1, u64::MAX - 1, 10, 1 << 20, |position, record| seen.push((position, record.header.id)))
            .unwrap();
        assert_eq!((next, seen), (Some(u64::MAX), vec![(u64::MAX, *note.id())]));
        let mut fetched = Vec::new();
        let next =
            store.read_log_at(&origin, 1, &[u64::MAX], 10, 1 << 20, |position, _| fetched.push(position)).unwrap();
        assert_eq!((next, fetched), (u64::MAX, vec![u64::MAX]));
    }
}
