//! `parrhesia-tools admin`: one NIP-86 management call, signed as NIP-98, over plain HTTP (a
//! relay behind a TLS proxy is called on its local address, with `--signed-url` naming the URL
//! the relay knows itself by, its `relay_url`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use parrhesia_engine::Keys;
use parrhesia_engine::nip98::{self, HttpRequest};

use crate::Done;

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
    let (status, answer) = post(url, &nip98::header_value(&auth), &body)?;
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

/// POSTs `body` to an `http://` (or `ws://`) URL and returns the status and the body.
fn post(url: &str, authorization: &str, body: &str) -> Result<(u16, String)> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("ws://"))
        .with_context(|| format!("{url}: only plain http:// or ws:// URLs (call a TLS relay on its local address)"))?;
    let (authority, path) =
        rest.split_once('/').map_or((rest, "/".to_string()), |(host, path)| (host, format!("/{path}")));
    let address = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    let mut stream = TcpStream::connect(&address).with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/nostr+json+rpc\r\n\
         Authorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).context("reading the answer")?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut headers);
    let head_length = match parsed.parse(&response).context("the answer is not HTTP")? {
        httparse::Status::Complete(length) => length,
        httparse::Status::Partial => anyhow::bail!("the relay closed before a whole answer"),
    };
    let status = parsed.code.context("the answer has no status")?;
    let body = &response[head_length..];
    let length = parsed
        .headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("content-length"))
        .and_then(|header| std::str::from_utf8(header.value).ok()?.trim().parse::<usize>().ok())
        .map_or(body.len(), |length| length.min(body.len()));
    Ok((status, String::from_utf8_lossy(&body[..length]).into_owned()))
}

/// `parrhesia-tools audit`: every management call the store recorded, one JSON object a line.
pub fn audit(dir: &Path) -> Result<Done> {
    let store = crate::store_commands::open(dir)?;
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
