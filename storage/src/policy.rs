//! The operator's policy (NIP-86) and the audit log of management calls, persisted in the
//! `policy` and `audit` tables. A change and its audit entry commit in one transaction; a
//! banned event is removed in it too, and `apply` refuses its id from then on, whichever way it
//! arrives (client, replication, repair, import).

use std::net::IpAddr;

use parrhesia_engine::policy::{Change, Policy, ip_key};
use parrhesia_engine::{Id, Pubkey};

use crate::error::StorageError;
use crate::schema::{
    ALLOWED_KIND, ALLOWED_PUBKEY, BANNED_EVENT, BANNED_PUBKEY, BLOCKED_IP, RELAY_DESCRIPTION, RELAY_ICON, RELAY_NAME,
};
use crate::store::Store;
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

    /// Records a management call: its change, if it makes one (a banned event is removed
    /// too), and its audit entry, in one transaction. Returns whether an event was removed.
    pub fn manage(&self, change: Option<&Change>, audit: &AuditEntry) -> Result<bool, StorageError> {
        let mut txn = self.env.write_txn()?;
        let table = self.tables.policy;
        let mut removed = false;
        match change {
            None => {}
            Some(Change::BanPubkey(pubkey, reason)) => {
                table.put(&mut txn, &keyed(BANNED_PUBKEY, pubkey), reason.as_bytes())?
            }
            Some(Change::UnbanPubkey(pubkey)) => {
                table.delete(&mut txn, &keyed(BANNED_PUBKEY, pubkey))?;
            }
            Some(Change::AllowPubkey(pubkey, reason)) => {
                table.put(&mut txn, &keyed(ALLOWED_PUBKEY, pubkey), reason.as_bytes())?
            }
            Some(Change::UnallowPubkey(pubkey)) => {
                table.delete(&mut txn, &keyed(ALLOWED_PUBKEY, pubkey))?;
            }
            Some(Change::BanEvent(id, reason)) => {
                table.put(&mut txn, &keyed(BANNED_EVENT, id), reason.as_bytes())?;
                if let Some(seq) = crate::tables::seq_of_id(&txn, &self.tables, id)? {
                    let mut pending = crate::write::Pending::default();
                    Writer::new(&mut txn, self, &mut pending).remove(seq)?;
                    pending.flush(&mut txn, self)?;
                    removed = true;
                }
            }
            Some(Change::AllowEvent(id)) => {
                table.delete(&mut txn, &keyed(BANNED_EVENT, id))?;
            }
            Some(Change::AllowKind(kind)) => table.put(&mut txn, &keyed(ALLOWED_KIND, &kind.to_be_bytes()), &[])?,
            Some(Change::DisallowKind(kind)) => {
                table.delete(&mut txn, &keyed(ALLOWED_KIND, &kind.to_be_bytes()))?;
            }
            Some(Change::BlockIp(ip, reason)) => {
                table.put(&mut txn, &keyed(BLOCKED_IP, &ip_bytes(*ip)), reason.as_bytes())?
            }
            Some(Change::UnblockIp(ip)) => {
                table.delete(&mut txn, &keyed(BLOCKED_IP, &ip_bytes(*ip)))?;
            }
            Some(Change::RelayName(name)) => table.put(&mut txn, &[RELAY_NAME], name.as_bytes())?,
            Some(Change::RelayDescription(text)) => table.put(&mut txn, &[RELAY_DESCRIPTION], text.as_bytes())?,
            Some(Change::RelayIcon(icon)) => table.put(&mut txn, &[RELAY_ICON], icon.as_bytes())?,
        }
        self.tables.audit.put(&mut txn, &audit.key(), &audit.value())?;
        txn.commit()?;
        Ok(removed)
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
