//! NIP-66 self-monitoring (`monitor_interval_seconds`): shard 0 probes the relay's own
//! listener every interval (open: TCP and the WebSocket handshake; read: a REQ answered with
//! EOSE; nip11: the document answers 200) and publishes, signed by the relay key, a kind 30166 relay
//! discovery event for `relay_url` with those round trips and what NIP-11 says, and once a
//! kind 10166 monitor announcement. The events are stored like any other (a cluster
//! replicates them; every node's probe replaces the last, one relay under one key). The probe
//! is of the local listener, not the public URL: the relay holds no TLS client, and the
//! network path to it is a monitor's business, not its own.

use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use glommio::net::TcpStream;
use parrhesia_engine::{Event, Keys};

use crate::shard::Shard;

/// What one probe measured.
struct Probe {
    open: Duration,
    read: Duration,
}

/// How long each check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs until the shard stops.
pub async fn run(shard: Rc<Shard>, keys: Keys, relay_url: String, local: std::net::SocketAddr, interval: Duration) {
    let relay_url = normalized(&relay_url);
    publish(&shard, announcement(&keys, interval)).await;
    loop {
        match probe(local).await {
            Ok(probe) => publish(&shard, discovery(&shard, &keys, &relay_url, &probe)).await,
            Err(error) => tracing::warn!(%error, "NIP-66 self-probe failed; nothing published this round"),
        }
        let stopped = futures_lite::future::or(
            async {
                glommio::timer::sleep(interval).await;
                false
            },
            async {
                shard.stop.notified().await;
                true
            },
        )
        .await;
        if stopped || shard.stopping.get() {
            return;
        }
    }
}

async fn publish(shard: &Shard, event: Event) {
    if shard.submit(crate::shard::RELAY_ITSELF, event).await.is_err() {
        tracing::debug!("NIP-66 event not published: the relay is stopping");
    }
}

/// The relay's URL as NIP-66's `d` tag wants it: scheme and host lower case, a path (`/`).
fn normalized(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").unwrap_or(("wss", url));
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(host, path)| (host, format!("/{path}")));
    format!("{}://{}{path}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase())
}

async fn probe(local: std::net::SocketAddr) -> anyhow::Result<Probe> {
    let started = Instant::now();
    let (mut socket, _) = glommio::timer::timeout(CHECK_TIMEOUT, async {
        let stream = TcpStream::connect(local).await?;
        async_tungstenite::client_async(format!("ws://{local}/"), stream)
            .await
            .map_err(|error| glommio::GlommioError::IoError(std::io::Error::other(error)))
    })
    .await
    .map_err(|error| anyhow::anyhow!("open: {error}"))?;
    let open = started.elapsed();
    let started = Instant::now();
    glommio::timer::timeout(CHECK_TIMEOUT, async {
        socket
            .send(tungstenite::Message::text(r#"["REQ","nip66",{"limit":1}]"#))
            .await
            .map_err(|error| glommio::GlommioError::IoError(std::io::Error::other(error)))?;
        while let Some(message) = socket.next().await {
            match message {
                Ok(tungstenite::Message::Text(text)) if text.starts_with(r#"["EOSE""#) => return Ok(()),
                Ok(_) => {}
                Err(error) => return Err(glommio::GlommioError::IoError(std::io::Error::other(error))),
            }
        }
        Err(glommio::GlommioError::IoError(std::io::Error::other("closed before EOSE")))
    })
    .await
    .map_err(|error| anyhow::anyhow!("read: {error}"))?;
    let read = started.elapsed();
    let _ = socket.close(None).await;
    glommio::timer::timeout(CHECK_TIMEOUT, async {
        use futures_lite::{AsyncReadExt, AsyncWriteExt};
        let mut stream = TcpStream::connect(local).await?;
        let request =
            format!("GET / HTTP/1.1\r\nHost: {local}\r\nAccept: application/nostr+json\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        if answer.starts_with(b"HTTP/1.1 200") {
            Ok(())
        } else {
            Err(glommio::GlommioError::IoError(std::io::Error::other("NIP-11 did not answer 200")))
        }
    })
    .await
    .map_err(|error| anyhow::anyhow!("nip11: {error}"))?;
    Ok(Probe { open, read })
}

/// Kind 30166 for the relay's URL: round trips, network, NIPs and requirements from NIP-11,
/// the NIP-11 document as content.
fn discovery(shard: &Shard, keys: &Keys, relay_url: &str, probe: &Probe) -> Event {
    let document = shard.relay_info_json.borrow().clone();
    let info: serde_json::Value = serde_json::from_str(&document).unwrap_or_default();
    let tag = |name: &str, value: String| vec![name.to_string(), value];
    let mut tags = vec![
        tag("d", relay_url.to_string()),
        tag("rtt-open", probe.open.as_millis().to_string()),
        tag("rtt-read", probe.read.as_millis().to_string()),
        tag("n", "clearnet".into()),
    ];
    for nip in info["supported_nips"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_u64) {
        tags.push(tag("N", nip.to_string()));
    }
    let limitation = &info["limitation"];
    let requirement =
        |name: &str, required: bool| tag("R", if required { name.to_string() } else { format!("!{name}") });
    tags.push(requirement("auth", limitation["auth_required"].as_bool().unwrap_or(false)));
    tags.push(requirement("payment", limitation["payment_required"].as_bool().unwrap_or(false)));
    tags.push(requirement("writes", limitation["restricted_writes"].as_bool().unwrap_or(false)));
    tags.push(requirement("pow", limitation["min_pow_difficulty"].as_u64().unwrap_or(0) > 0));
    keys.sign(crate::system::unix_now(), 30166, tags, document)
}

/// Kind 10166: this relay monitors itself, how often and how.
fn announcement(keys: &Keys, interval: Duration) -> Event {
    let tag = |values: &[&str]| values.iter().map(|value| value.to_string()).collect::<Vec<_>>();
    let timeout = CHECK_TIMEOUT.as_millis().to_string();
    let tags = vec![
        tag(&["frequency", &interval.as_secs().to_string()]),
        tag(&["timeout", "open", &timeout]),
        tag(&["timeout", "read", &timeout]),
        tag(&["timeout", "nip11", &timeout]),
        tag(&["c", "open"]),
        tag(&["c", "read"]),
        tag(&["c", "nip11"]),
    ];
    keys.sign(crate::system::unix_now(), 10166, tags, String::new())
}

#[cfg(test)]
mod tests {
    use super::normalized;

    #[test]
    fn relay_urls_are_normalized_for_the_d_tag() {
        assert_eq!(normalized("WSS://Relay.Example.com"), "wss://relay.example.com/");
        assert_eq!(normalized("wss://relay.example.com/"), "wss://relay.example.com/");
        assert_eq!(normalized("wss://relay.example.com/Path"), "wss://relay.example.com/Path");
        assert_eq!(normalized(" ws://127.0.0.1:7777 "), "ws://127.0.0.1:7777/");
    }
}
