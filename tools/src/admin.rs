//! `parrhesia-tools admin`: one NIP-86 management call, signed as NIP-98, over plain HTTP (a
//! relay behind a TLS proxy is called on its local address, with `--signed-url` naming the URL
//! the relay knows itself by, its `relay_url`).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use parrhesia_engine::Keys;
use parrhesia_engine::nip98::{self, HttpRequest};

use crate::{Done, http};

/// Reads a Nostr secret key file (`keygen --nostr`: 64 hex, mode 0600).
pub fn load_secret(path: &Path) -> Result<Keys> {
    let secret = parrhesia_net::read_secret_file(path)?;
    Keys::from_secret_bytes(secret).with_context(|| format!("{} does not hold a valid secp256k1 key", path.display()))
}

/// `keygen --nostr`: a new Nostr (secp256k1) secret key, for `admin_pubkeys` and `admin`.
pub fn keygen(out: &Path) -> Result<Done> {
    let keys = loop {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|error| anyhow::anyhow!("reading the system's random source: {error}"))?;
        if let Some(keys) = Keys::from_secret_bytes(secret) {
            parrhesia_net::write_secret_file(out, &secret)?;
            break keys;
        }
    };
    println!("{}", parrhesia_engine::hex::encode(keys.public_key()));
    Ok(Done::Ok)
}

/// A param as given: JSON if it reads as JSON (numbers, quoted strings), else the text itself.
fn param(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

pub fn run(url: &str, signed_url: Option<&str>, method: &str, params: &[String], key: &Path) -> Result<Done> {
    let keys = load_secret(key)?;
    let body =
        serde_json::json!({ "method": method, "params": params.iter().map(|text| param(text)).collect::<Vec<_>>() })
            .to_string();
    let request = HttpRequest { url: signed_url.unwrap_or(url), method: "POST", body: body.as_bytes() };
    let auth = nip98::sign(&keys, &request, crate::unix_now());
    let authorization = nip98::header_value(&auth);
    let headers = [("Content-Type", "application/nostr+json+rpc"), ("Authorization", authorization.as_str())];
    let call = http::Request {
        url,
        method: "POST",
        headers: &headers,
        body: body.as_bytes(),
        timeout: Duration::from_secs(30),
    };
    let (status, answer) = http::send(&call)?;
    let answer: serde_json::Value =
        serde_json::from_str(&answer).with_context(|| format!("the relay answered {status} with {answer:?}"))?;
    match answer.get("error").and_then(serde_json::Value::as_str) {
        Some(error) => bail!("the relay refused the call ({status}): {error}"),
        None => {
            let result = answer.get("result").cloned().unwrap_or_default();
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(Done::Ok)
        }
    }
}

/// `parrhesia-tools audit`: every management call the store recorded, one JSON object a line;
/// with `changes`, every policy entry it holds instead (`policy_changes`).
pub fn audit(dir: &Path, changes: bool) -> Result<Done> {
    let store = crate::store_commands::open(dir)?;
    if changes {
        return policy_changes(&store);
    }
    for entry in store.audit_log(0)? {
        let line = serde_json::json!({
            "time_ms": entry.unix_ms,
            "caller": parrhesia_engine::hex::encode(&entry.caller),
            "method": entry.method,
            "params": serde_json::from_str::<serde_json::Value>(&entry.params).unwrap_or_default(),
            "auth_id": parrhesia_engine::hex::encode(&entry.auth_id),
        });
        println!("{line}");
    }
    Ok(Done::Ok)
}

/// The policy log, oldest first: when (the admin's time, the accepting node's clock), who,
/// what, on which node, and whether it is the newest of its key (the one in force where its
/// caller is an admin; a node ignores entries by keys not in its `admin_pubkeys`).
fn policy_changes(store: &parrhesia_storage::Store) -> Result<Done> {
    use parrhesia_engine::policy_log;
    let entries = store.policy_entries()?;
    let mut newest: std::collections::HashMap<String, policy_log::Version> = std::collections::HashMap::new();
    for entry in &entries {
        if let (Some(key), Ok(version)) = (entry.tag_values("d").next(), policy_log::version(entry)) {
            let held = newest.entry(key.to_string()).or_insert(version);
            *held = (*held).max(version);
        }
    }
    let hex = parrhesia_engine::hex::encode;
    for entry in &entries {
        let (Ok(version), Some(key)) = (policy_log::version(entry), entry.tag_values("d").next()) else { continue };
        let auth = entry.tag_values("auth").next().and_then(parrhesia_engine::Event::parse_trusted);
        let body: serde_json::Value = serde_json::from_str(entry.content()).unwrap_or_default();
        let line = serde_json::json!({
            "created_at": version.created_at,
            "node_time_ms": version.unix_ms,
            "node": hex(&version.node),
            "caller": auth.as_ref().map(|auth| hex(auth.pubkey())),
            "method": body.get("method"),
            "params": body.get("params"),
            "key": key,
            "newest_of_key": newest.get(key) == Some(&version),
        });
        println!("{line}");
    }
    Ok(Done::Ok)
}
