//! `parrhesia-tools health`: is the relay serving? Its NIP-11 document is what a client reads
//! first, and the relay answers it from the same shards that serve WebSockets, so an answer
//! that parses and names NIP-01 means the relay accepts connections and runs its executors.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::{Done, http};

pub fn run(url: Option<&str>, timeout: Duration) -> Result<Done> {
    let url = match url {
        Some(url) => url.to_string(),
        None => default_url(std::env::var("PARRHESIA_LISTEN").ok().as_deref()),
    };
    let request = http::Request {
        url: &url,
        method: "GET",
        headers: &[("Accept", "application/nostr+json")],
        body: b"",
        timeout,
    };
    let (status, body) = http::send(&request).with_context(|| format!("{url}: no NIP-11 answer"))?;
    if status != 200 {
        bail!("{url}: NIP-11 answered {status}: {}", body.chars().take(200).collect::<String>());
    }
    let document: serde_json::Value =
        serde_json::from_str(&body).with_context(|| format!("{url}: the NIP-11 answer is not JSON"))?;
    let nips = document.get("supported_nips").and_then(serde_json::Value::as_array);
    if !nips.is_some_and(|nips| nips.iter().any(|nip| nip.as_u64() == Some(1))) {
        bail!("{url}: the NIP-11 document does not list NIP-01 in supported_nips");
    }
    let text = |field: &str| document.get(field).and_then(serde_json::Value::as_str).unwrap_or("").to_string();
    println!("ok: {url} answers as {:?} ({} {})", text("name"), text("software"), text("version"));
    Ok(Done::Ok)
}

/// The relay's own listen address as a URL to call from the same host: an unspecified address
/// (0.0.0.0, [::]) is reached on loopback.
fn default_url(listen: Option<&str>) -> String {
    let Some(listen) = listen.map(str::trim).filter(|listen| !listen.is_empty()) else {
        return "http://127.0.0.1:7777".to_string();
    };
    let address = match listen.parse::<std::net::SocketAddr>() {
        Ok(address) if address.ip().is_unspecified() => {
            let loopback: std::net::IpAddr = if address.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            };
            std::net::SocketAddr::new(loopback, address.port()).to_string()
        }
        _ => listen.to_string(),
    };
    format!("http://{address}")
}

#[cfg(test)]
mod tests {
    use super::default_url;

    #[test]
    fn the_default_url_is_the_listen_address_reached_from_the_same_host() {
        assert_eq!(default_url(None), "http://127.0.0.1:7777");
        assert_eq!(default_url(Some("0.0.0.0:8080")), "http://127.0.0.1:8080");
        assert_eq!(default_url(Some("[::]:7777")), "http://[::1]:7777");
        assert_eq!(default_url(Some("10.1.2.3:7777")), "http://10.1.2.3:7777");
        assert_eq!(default_url(Some("relay.internal:7777")), "http://relay.internal:7777");
    }
}
