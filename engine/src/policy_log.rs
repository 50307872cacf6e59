//! The replicated policy log: every NIP-86 change is kept as an event of kind
//! `POLICY_ENTRY_KIND` that carries the operator's NIP-98 authorization and the request body it
//! signs, so any node can check it (signature, payload hash, signer among its own admins) before
//! applying it. The entry's own signature is the node's and proves nothing; the admin's does.
//!
//! Entries about the same thing (one pubkey's ban, one kind's allowance, the relay's name...)
//! share a `d` key; the newest by `Version` decides, on every node, in whatever order the
//! entries arrive. An entry that loses is kept (it is the audit trail) and changes nothing.

use sha2::{Digest, Sha256};

use crate::event::{Event, Id, Keys, Pubkey};
use crate::hex;
use crate::limits::Limits;
use crate::management::{Call, Request};
use crate::nip98::HTTP_AUTH_KIND;
use crate::policy::{Change, ip_key};
use crate::reason::{Prefix, Reason};

/// A regular kind no NIP assigns (86 for NIP-86). Clients may neither publish nor read it.
pub const POLICY_ENTRY_KIND: u16 = 8086;

/// How entries compare: the admin's signed `created_at` first (a node can neither move it nor
/// pass off an old authorization as new), then the accepting node's clock in milliseconds and
/// its key (two calls in one second), then the entry's id. Equal on every node for the same
/// entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub created_at: u64,
    pub unix_ms: u64,
    pub node: [u8; 32],
    pub id: Id,
}

/// A checked entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub change: Change,
    /// The admin who signed the authorization.
    pub caller: Pubkey,
    pub auth_id: Id,
    pub version: Version,
}

/// What a change is about: entries with the same key replace each other's effect.
pub fn key(change: &Change) -> String {
    match change {
        Change::BanPubkey(pubkey, _) | Change::UnbanPubkey(pubkey) => format!("p:{}", hex::encode(pubkey)),
        Change::AllowPubkey(pubkey, _) | Change::UnallowPubkey(pubkey) => format!("a:{}", hex::encode(pubkey)),
        Change::BanEvent(id, _) | Change::AllowEvent(id) => format!("e:{}", hex::encode(id)),
        Change::AllowKind(kind) | Change::DisallowKind(kind) => format!("k:{kind}"),
        Change::BlockIp(ip, _) | Change::UnblockIp(ip) => format!("i:{}", ip_key(*ip)),
        Change::RelayName(_) => "n".into(),
        Change::RelayDescription(_) => "d".into(),
        Change::RelayIcon(_) => "c".into(),
    }
}

/// The entry for a change the node accepted: `auth` is the checked NIP-98 event, `body` the
/// request it signs, `node` the accepting node and `unix_ms` its clock.
/// An authorization with a NIP-40 `expiration` (`parrhesia-tools delete --keep-out-days`)
/// makes an entry that expires with it: each node then removes the entry and its effect.
pub fn entry_event(keys: &Keys, auth: &Event, body: &str, change: &Change, node: &[u8; 32], unix_ms: u64) -> Event {
    let mut tags = vec![
        vec!["d".to_string(), key(change)],
        vec!["auth".to_string(), auth.json().to_string()],
        vec!["node".to_string(), hex::encode(node)],
        vec!["ms".to_string(), unix_ms.to_string()],
    ];
    if let Some(expiration) = auth.tag_values("expiration").next() {
        tags.push(vec!["expiration".to_string(), expiration.to_string()]);
    }
    keys.sign(auth.created_at(), POLICY_ENTRY_KIND, tags, body.to_string())
}

fn invalid(detail: impl Into<String>) -> Reason {
    Reason::new(Prefix::Invalid, format!("policy entry: {}", detail.into()))
}

fn single_tag<'e>(event: &'e Event, name: &'e str) -> Result<&'e str, Reason> {
    let mut values = event.tag_values(name);
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        _ => Err(invalid(format!("needs exactly one `{name}` tag"))),
    }
}

/// Who signed an entry's authorization (for entries `check` passed): its change holds on a
/// node only if this is one of that node's `admin_pubkeys`.
pub fn signer(event: &Event) -> Option<Pubkey> {
    let auth = Event::parse_trusted(event.tag_values("auth").next()?)?;
    Some(*auth.pubkey())
}

/// The entry's place among entries with its key, from its tags (for entries `check` passed).
pub fn version(event: &Event) -> Result<Version, Reason> {
    let node = hex::decode_array::<32>(single_tag(event, "node")?).ok_or_else(|| invalid("`node` is not 64 hex"))?;
    let unix_ms = single_tag(event, "ms")?.parse().map_err(|_| invalid("`ms` is not a number"))?;
    Ok(Version { created_at: event.created_at(), unix_ms, node, id: *event.id() })
}

/// The change an entry makes, from its body (for entries `check` passed).
pub fn change(event: &Event) -> Result<Change, Reason> {
    let request = Request::decode(event.content().as_bytes()).map_err(invalid)?;
    match request.call {
        Call::Change(change) => Ok(change),
        _ => Err(invalid(format!("`{}` changes nothing", request.method))),
    }
}

/// Checks an entry as a node must before storing it: the NIP-98 authorization it carries is a
/// valid POST authorization (signature verified) for exactly this body, time and expiration,
/// and the body is a change whose key is the entry's `d`. Whether its signer (`Entry::caller`)
/// may change the policy is each node's to decide with its own `admin_pubkeys`: an entry
/// signed by another key is kept but changes nothing there (a node started later with that
/// key among its admins applies it). Not checked: the authorization's URL and age (the
/// accepting node checked both; entries arrive later and through other nodes).
pub fn check(event: &Event) -> Result<Entry, Reason> {
    if event.kind() != POLICY_ENTRY_KIND {
        return Err(invalid(format!("not kind {POLICY_ENTRY_KIND}")));
    }
    let auth = Event::parse(single_tag(event, "auth")?, &Limits::default())?;
    if auth.kind() != HTTP_AUTH_KIND {
        return Err(invalid(format!("the authorization is not kind {HTTP_AUTH_KIND}")));
    }
    if !auth.tag_values("method").any(|method| method.eq_ignore_ascii_case("POST")) {
        return Err(invalid("the authorization is not for a POST"));
    }
    let payload = hex::encode(&Sha256::digest(event.content().as_bytes()));
    if !auth.tag_values("payload").any(|hash| hash == payload) {
        return Err(invalid("the authorization's payload is not the sha256 of the body"));
    }
    if auth.created_at() != event.created_at() {
        return Err(invalid("created_at is not the authorization's"));
    }
    // Only the admin sets how long an entry lasts (a node cannot make a ban expire early).
    if event.expiration() != auth.expiration() {
        return Err(invalid("expiration is not the authorization's"));
    }
    auth.verify_signature().map_err(|_| invalid("the authorization's signature does not verify"))?;
    let change = change(event)?;
    if single_tag(event, "d")? != key(&change) {
        return Err(invalid("`d` is not the key of its change"));
    }
    Ok(Entry { change, caller: *auth.pubkey(), auth_id: *auth.id(), version: version(event)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nip98::{HttpRequest, sign};

    const URL: &str = "http://relay.example/";
    const NOW: u64 = 1_700_000_000;

    fn keys(byte: u8) -> Keys {
        Keys::from_secret_bytes([byte; 32]).expect("secret")
    }

    fn authorized(admin: &Keys, body: &str) -> Event {
        sign(admin, &HttpRequest { url: URL, method: "POST", body: body.as_bytes() }, NOW)
    }

    fn entry(admin: &Keys, body: &str, change: &Change) -> Event {
        entry_event(&keys(9), &authorized(admin, body), body, change, &[7; 32], NOW * 1000 + 5)
    }

    #[test]
    fn an_entry_checks_with_a_valid_authorization_and_says_why_otherwise() {
        let (admin, stranger) = (keys(1), keys(2));
        let target = "ab".repeat(32);
        let body = format!(r#"{{"method":"banpubkey","params":["{target}","spam"]}}"#);
        let ban = Change::BanPubkey([0xab; 32], "spam".into());
        let good = entry(&admin, &body, &ban);
        let checked = check(&good).expect("an admin's entry");
        assert_eq!(signer(&good), Some(*admin.public_key()));
        assert_eq!(check(&entry(&stranger, &body, &ban)).map(|entry| entry.caller), Ok(*stranger.public_key()));
        assert_eq!((checked.change.clone(), checked.caller), (ban.clone(), *admin.public_key()));
        assert_eq!(
            checked.version,
            Version { created_at: NOW, unix_ms: NOW * 1000 + 5, node: [7; 32], id: *good.id() }
        );
        let auth = authorized(&admin, &body);
        let sign_with = |tags: Vec<Vec<String>>, content: &str, created_at: u64| {
            keys(9).sign(created_at, POLICY_ENTRY_KIND, tags, content.to_string())
        };
        let tags = |d: &str, auth: &str| {
            vec![
                vec!["d".to_string(), d.to_string()],
                vec!["auth".to_string(), auth.to_string()],
                vec!["node".to_string(), "07".repeat(32)],
                vec!["ms".to_string(), "1".to_string()],
            ]
        };
        let unban = format!(r#"{{"method":"unbanpubkey","params":["{target}"]}}"#);
        let forged_sig = auth.json().replacen(&hex::encode(auth.sig()), &"00".repeat(64), 1);
        let d = key(&ban);
        let cases: Vec<(Event, &str)> = vec![
            (sign_with(tags(&d, auth.json()), &unban, NOW), "payload is not the sha256"),
            (sign_with(tags(&d, auth.json()), &body, NOW + 1), "created_at is not"),
            (sign_with(tags("p:00", auth.json()), &body, NOW), "`d` is not the key"),
            (sign_with(tags(&d, &forged_sig), &body, NOW), "does not verify"),
            (sign_with(tags(&d, "{}"), &body, NOW), "invalid:"),
            (sign_with(vec![], &body, NOW), "exactly one `auth` tag"),
            (
                sign_with([tags(&d, auth.json()), vec![vec!["expiration".into(), "5".into()]]].concat(), &body, NOW),
                "expiration is not the authorization's",
            ),
        ];
        for (event, expected) in cases {
            let got = check(&event).expect_err(expected).to_string();
            assert!(got.contains(expected), "{got} should contain {expected}");
        }
        let list = r#"{"method":"listbannedpubkeys","params":[]}"#;
        let listed = entry_event(&keys(9), &authorized(&admin, list), list, &ban, &[7; 32], 1);
        assert!(check(&listed).unwrap_err().to_string().contains("changes nothing"));
    }

    #[test]
    fn keys_pair_each_change_with_its_undoing_and_versions_order_by_signed_time_first() {
        let pairs = [
            (Change::BanPubkey([1; 32], "x".into()), Change::UnbanPubkey([1; 32])),
            (Change::AllowPubkey([1; 32], String::new()), Change::UnallowPubkey([1; 32])),
            (Change::BanEvent([2; 32], String::new()), Change::AllowEvent([2; 32])),
            (Change::AllowKind(7), Change::DisallowKind(7)),
            (
                Change::BlockIp("::ffff:192.0.2.1".parse().unwrap(), String::new()),
                Change::UnblockIp("192.0.2.1".parse().unwrap()),
            ),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (change, undoing) in &pairs {
            assert_eq!(key(change), key(undoing));
            assert!(seen.insert(key(change)), "{change:?} has a key of its own");
        }
        let early = Version { created_at: 10, unix_ms: 99_999, node: [9; 32], id: [9; 32] };
        let late = Version { created_at: 11, unix_ms: 1, node: [0; 32], id: [0; 32] };
        assert!(late > early, "the admin's time decides before the node's clock");
        assert!(Version { unix_ms: 100_000, ..early } > early);
    }
}
