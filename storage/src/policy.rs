//! The operator's policy (NIP-86) and the audit log of management calls, persisted in the
//! `policy` and `audit` tables. A change arrives as a policy entry (`policy_log`), an event
//! stored like any other and replicated with the node's log; storing the newest entry of its
//! key writes the change, in the same transaction. A banned event is removed in it too, and
//! `apply` refuses its id from then on, whichever way it arrives (client, replication, repair,
//! import).

use std::net::IpAddr;

use heed::{RoTxn, WithoutTls};
use parrhesia_engine::policy::{Change, Policy, ip_key};
use parrhesia_engine::policy_log::{self, POLICY_ENTRY_KIND};
use parrhesia_engine::{Event, Id, Pubkey};

use crate::error::StorageError;
use crate::schema::{self, TimeIndex};
use crate::schema::{
    ALLOWED_KIND, ALLOWED_PUBKEY, BANNED_EVENT, BANNED_PUBKEY, BLOCKED_IP, RELAY_DESCRIPTION, RELAY_ICON, RELAY_NAME,
};
use crate::store::Store;
use crate::tables::{Tables, read_record};
use crate::write::Writer;

/// One management call as the audit log keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub unix_ms: u64,
    pub caller: Pubkey,
    /// The NIP-98 event's id (each is taken once).
    pub auth_id: Id,
    pub method: String,
    /// The params as sent, JSON.
    pub params: String,
}

impl AuditEntry {
    fn key(&self) -> Vec<u8> {
        [&self.unix_ms.to_be_bytes()[..], &self.auth_id].concat()
    }

    /// `caller ++ method length (1 byte) ++ method ++ params`.
    fn value(&self) -> Vec<u8> {
        let method = &self.method.as_bytes()[..self.method.len().min(255)];
        [&self.caller[..], &[method.len() as u8], method, self.params.as_bytes()].concat()
    }

    fn decode(key: &[u8], value: &[u8]) -> Option<AuditEntry> {
        let (time, auth_id) = key.split_first_chunk::<8>()?;
        let (caller, rest) = value.split_first_chunk::<32>()?;
        let (&length, rest) = rest.split_first()?;
        let (method, params) = rest.split_at_checked(usize::from(length))?;
        Some(AuditEntry {
            unix_ms: u64::from_be_bytes(*time),
            caller: *caller,
            auth_id: auth_id.try_into().ok()?,
            method: String::from_utf8(method.to_vec()).ok()?,
            params: String::from_utf8(params.to_vec()).ok()?,
        })
    }
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip_key(ip) {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn keyed(class: u8, key: &[u8]) -> Vec<u8> {
    [&[class][..], key].concat()
}

impl Store {
    /// The policy as persisted.
    pub fn policy(&self) -> Result<Policy, StorageError> {
        let txn = self.env.read_txn()?;
        let mut policy = Policy::default();
        for entry in self.tables.policy.iter(&txn)? {
            let (key, value) = entry?;
            let reason = String::from_utf8_lossy(value).into_owned();
            let Some((&class, key)) = key.split_first() else { continue };
            let change = match class {
                BANNED_PUBKEY => key.try_into().ok().map(|pubkey| Change::BanPubkey(pubkey, reason)),
                ALLOWED_PUBKEY => key.try_into().ok().map(|pubkey| Change::AllowPubkey(pubkey, reason)),
                BANNED_EVENT => key.try_into().ok().map(|id| Change::BanEvent(id, reason)),
                ALLOWED_KIND => key.try_into().ok().map(|kind| Change::AllowKind(u16::from_be_bytes(kind))),
                BLOCKED_IP => match key.len() {
                    4 => <[u8; 4]>::try_from(key).ok().map(|octets| Change::BlockIp(IpAddr::from(octets), reason)),
                    _ => <[u8; 16]>::try_from(key).ok().map(|octets| Change::BlockIp(IpAddr::from(octets), reason)),
                },
                RELAY_NAME => Some(Change::RelayName(reason)),
                RELAY_DESCRIPTION => Some(Change::RelayDescription(reason)),
                RELAY_ICON => Some(Change::RelayIcon(reason)),
                _ => None,
            };
            if let Some(change) = change {
                policy.apply(&change);
            }
        }
        Ok(policy)
    }

    /// Records a management call in the audit log (its change, if any, is applied by its
    /// policy entry: `Writer::apply_policy_entry`).
    pub fn record_call(&self, audit: &AuditEntry) -> Result<(), StorageError> {
        let mut txn = self.env.write_txn()?;
        self.tables.audit.put(&mut txn, &audit.key(), &audit.value())?;
        txn.commit()?;
        Ok(())
    }

    /// Whether an entry about `key` carrying the NIP-98 authorization `auth_id` is held: the
    /// authorization was used already, here or on another node whose entry replicated here.
    pub fn holds_authorization(&self, key: &str, auth_id: &Id) -> Result<bool, StorageError> {
        let txn = self.env.read_txn()?;
        let entries = entries_of(&txn, &self.tables, key)?;
        let auth = |entry: &Event| entry.tag_values("auth").next().and_then(Event::parse_trusted);
        Ok(entries.iter().any(|entry| auth(entry).is_some_and(|auth| auth.id() == auth_id)))
    }

    /// The policy entries held, oldest first: the cluster-wide record of every change, each
    /// with the node that accepted it (`policy_log::Version::node`).
    pub fn policy_entries(&self) -> Result<Vec<Event>, StorageError> {
        let txn = self.env.read_txn()?;
        let kind = POLICY_ENTRY_KIND.to_be_bytes();
        let mut entries = Vec::new();
        for dup in self.tables.time_index(TimeIndex::Kind).duplicates_from(&txn, &kind, &schema::time_dup(0, 0))? {
            let seq = schema::split_time_suffix(dup?).1;
            if let Some(entry) = read_entry(&txn, &self.tables, seq)? {
                entries.push(entry);
            }
        }
        Ok(entries)
    }
    /// The management calls recorded at or after `since_unix_ms` (0: all), oldest first.
    pub fn audit_log(&self, since_unix_ms: u64) -> Result<Vec<AuditEntry>, StorageError> {
        let txn = self.env.read_txn()?;
        let mut entries = Vec::new();
        let since = since_unix_ms.to_be_bytes();
        let range = (std::ops::Bound::Included(&since[..]), std::ops::Bound::Unbounded);
        for entry in self.tables.audit.range(&txn, &range)? {
            let (key, value) = entry?;
            let decoded = AuditEntry::decode(key, value);
            entries.push(decoded.ok_or_else(|| StorageError::Corrupt("an audit entry cannot be read".into()))?);
        }
        Ok(entries)
    }
}

/// The policy entry stored under `seq`, if that is one (its kind read from the record's header
/// before any JSON is parsed: clients may tag their own events with an entry's `d`).
fn read_entry(txn: &RoTxn<WithoutTls>, tables: &Tables, seq: u64) -> Result<Option<Event>, StorageError> {
    let Some(record) = read_record(txn, tables, seq)? else { return Ok(None) };
    if record.header.kind != POLICY_ENTRY_KIND {
        return Ok(None);
    }
    let json = record.json_string().ok_or_else(|| StorageError::Corrupt(format!("record {seq} cannot be read")))?;
    Ok(Event::parse_trusted(&json))
}

/// The entries held about `key`.
fn entries_of(txn: &RoTxn<WithoutTls>, tables: &Tables, key: &str) -> Result<Vec<Event>, StorageError> {
    let index = tables.time_index(TimeIndex::Tag);
    let mut entries = Vec::new();
    for dup in index.duplicates_from(txn, &schema::tag_prefix(b'd', key), &schema::time_dup(0, 0))? {
        let seq = schema::split_time_suffix(dup?).1;
        if let Some(entry) = read_entry(txn, tables, seq)?
            && entry.tag_values("d").next() == Some(key)
        {
            entries.push(entry);
        }
    }
    Ok(entries)
}

impl Store {
    /// Sets every key that policy entries are about to the newest entry by one of this store's
    /// `admin_pubkeys` that has not expired by `now`, or clears it if there is none: the
    /// relay runs this at start, so a node whose admins changed holds exactly their decisions
    /// (entries signed by a key it did not trust are kept, and count once it does). Keys no
    /// entry is about (a store's policy from before entries) are left as they are.
    pub fn refold_policy_log(&self, now: u64) -> Result<(), StorageError> {
        let mut txn = self.env.write_txn()?;
        let kind = POLICY_ENTRY_KIND.to_be_bytes();
        let mut keys = std::collections::BTreeSet::new();
        let index = self.tables.time_index(TimeIndex::Kind);
        for dup in index.duplicates_from(&txn, &kind, &schema::time_dup(0, 0))? {
            let seq = schema::split_time_suffix(dup?).1;
            if let Some(entry) = read_entry(&txn, &self.tables, seq)?
                && let Some(key) = entry.tag_values("d").next()
            {
                keys.insert(key.to_string());
            }
        }
        let mut pending = crate::write::Pending::default();
        let mut writer = Writer::new(&mut txn, self, &mut pending);
        for key in &keys {
            writer.refold_key(key, now)?;
        }
        pending.flush(&mut txn, self)?;
        txn.commit()?;
        Ok(())
    }
}

impl Writer<'_, '_> {
    /// A just-stored policy entry (checked by `admit`) takes effect if its signer is one of this
    /// store's admins and it is the newest such entry of its key: the key is refolded from
    /// every entry held, so any order of arrival leaves the same policy.
    pub(crate) fn apply_policy_entry(&mut self, entry: &Event, now: u64) -> Result<(), StorageError> {
        let (Some(signer), Some(key)) = (policy_log::signer(entry), entry.tag_values("d").next()) else {
            return Ok(());
        };
        if !self.store.admin_pubkeys.contains(&signer) {
            return Ok(()); // kept, inert here
        }
        self.refold_key(key, now)
    }

    /// The newest entry about `key` by one of this store's admins, not expired by `now`.
    fn newest_entry(&self, key: &str, now: u64) -> Result<Option<Change>, StorageError> {
        let mut newest: Option<(policy_log::Version, Change)> = None;
        for entry in entries_of(self.txn, self.tables, key)? {
            let by_admin = policy_log::signer(&entry).is_some_and(|signer| self.store.admin_pubkeys.contains(&signer));
            if !by_admin || entry.expiration().is_some_and(|at| at <= now) {
                continue;
            }
            if let (Ok(version), Ok(change)) = (policy_log::version(&entry), policy_log::change(&entry))
                && newest.as_ref().is_none_or(|(known, _)| version > *known)
            {
                newest = Some((version, change));
            }
        }
        Ok(newest.map(|(_, change)| change))
    }

    /// Sets `key`'s policy to its newest entry (`newest_entry`), or clears it if entries are
    /// about it and none counts (all expired, or by keys that are not admins here).
    pub(crate) fn refold_key(&mut self, key: &str, now: u64) -> Result<(), StorageError> {
        match self.newest_entry(key, now)? {
            Some(change) => self.set_policy(&change),
            None => self.clear_key(key),
        }
    }

    /// Whether the ban of event `id` in the `policy` table no longer holds at `now`: entries are
    /// about it and the newest that counts is not a ban (its ban expired and the sweep has not
    /// run yet). Without this, a node started after a ban expired would refuse the event until
    /// its first sweep and then never pull it (its cursor moved past). A ban no entry is about
    /// (from before entries) holds.
    pub(crate) fn ban_lapsed(&self, id: &Id, now: u64) -> Result<bool, StorageError> {
        let key = policy_log::key(&Change::AllowEvent(*id));
        if entries_of(self.txn, self.tables, &key)?.is_empty() {
            return Ok(false);
        }
        Ok(!matches!(self.newest_entry(&key, now)?, Some(Change::BanEvent(..))))
    }

    /// Removes the `policy` row an entry key (`policy_log::key`) is about.
    fn clear_key(&mut self, key: &str) -> Result<(), StorageError> {
        let (class, value) = key.split_once(':').unwrap_or((key, ""));
        let row = match class {
            "p" => parrhesia_engine::hex::decode_array::<32>(value).map(|pubkey| keyed(BANNED_PUBKEY, &pubkey)),
            "a" => parrhesia_engine::hex::decode_array::<32>(value).map(|pubkey| keyed(ALLOWED_PUBKEY, &pubkey)),
            "e" => parrhesia_engine::hex::decode_array::<32>(value).map(|id| keyed(BANNED_EVENT, &id)),
            "k" => value.parse::<u16>().ok().map(|kind| keyed(ALLOWED_KIND, &kind.to_be_bytes())),
            "i" => value.parse::<IpAddr>().ok().map(|ip| keyed(BLOCKED_IP, &ip_bytes(ip))),
            "n" => Some(vec![RELAY_NAME]),
            "d" => Some(vec![RELAY_DESCRIPTION]),
            "c" => Some(vec![RELAY_ICON]),
            _ => None,
        };
        if let Some(row) = row {
            self.tables.policy.delete(self.txn, &row)?;
        }
        Ok(())
    }

    /// Writes one decision to the `policy` table (a banned event is removed too).
    fn set_policy(&mut self, change: &Change) -> Result<(), StorageError> {
        let table = self.tables.policy;
        let txn = &mut *self.txn;
        match change {
            Change::BanPubkey(pubkey, reason) => table.put(txn, &keyed(BANNED_PUBKEY, pubkey), reason.as_bytes())?,
            Change::UnbanPubkey(pubkey) => {
                table.delete(txn, &keyed(BANNED_PUBKEY, pubkey))?;
            }
            Change::AllowPubkey(pubkey, reason) => table.put(txn, &keyed(ALLOWED_PUBKEY, pubkey), reason.as_bytes())?,
            Change::UnallowPubkey(pubkey) => {
                table.delete(txn, &keyed(ALLOWED_PUBKEY, pubkey))?;
            }
            Change::BanEvent(id, reason) => {
                table.put(txn, &keyed(BANNED_EVENT, id), reason.as_bytes())?;
                // A policy entry is never removed by a ban (the record of the cluster's policy).
                if let Some(record) = crate::tables::record_of_id(self.txn, self.tables, id)?
                    && record.header.kind != POLICY_ENTRY_KIND
                {
                    self.remove(record.seq)?;
                }
            }
            Change::AllowEvent(id) => {
                table.delete(txn, &keyed(BANNED_EVENT, id))?;
            }
            Change::AllowKind(kind) => table.put(txn, &keyed(ALLOWED_KIND, &kind.to_be_bytes()), &[])?,
            Change::DisallowKind(kind) => {
                table.delete(txn, &keyed(ALLOWED_KIND, &kind.to_be_bytes()))?;
            }
            Change::BlockIp(ip, reason) => table.put(txn, &keyed(BLOCKED_IP, &ip_bytes(*ip)), reason.as_bytes())?,
            Change::UnblockIp(ip) => {
                table.delete(txn, &keyed(BLOCKED_IP, &ip_bytes(*ip)))?;
            }
            Change::RelayName(name) => table.put(txn, &[RELAY_NAME], name.as_bytes())?,
            Change::RelayDescription(text) => table.put(txn, &[RELAY_DESCRIPTION], text.as_bytes())?,
            Change::RelayIcon(icon) => table.put(txn, &[RELAY_ICON], icon.as_bytes())?,
        }
        Ok(())
    }
}
