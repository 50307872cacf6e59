//! Dialling a stream's remote: its URL read (`parrhesia_net::relay_client`), the name resolved
//! off the shard, TCP, TLS for `wss://` (the mirror's settings), then the WebSocket handshake.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use glommio::net::TcpStream;
use parrhesia_net::relay_client::remote;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;

use super::Socket;

/// How long dialling (TCP, TLS and the WebSocket handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Dials `url`: TCP, TLS when it is `wss://`, the WebSocket handshake, within
/// `CONNECT_TIMEOUT`; the remote's messages are at most `message_bytes_max`.
pub async fn dial(url: &str, tls: &Arc<ClientConfig>, message_bytes_max: usize) -> anyhow::Result<Socket> {
    let remote = remote(url)?;
    let target = (remote.host.clone(), remote.port);
    // Name resolution blocks (getaddrinfo): on the executor's blocking pool, not the shard.
    let address = glommio::executor()
        .spawn_blocking(move || std::net::ToSocketAddrs::to_socket_addrs(&target).map(|mut all| all.next()))
        .await
        .with_context(|| format!("resolving {}", remote.host))?
        .with_context(|| format!("{} resolves to no address", remote.host))?;
    let connecting = async {
        let stream = TcpStream::connect(address).await.map_err(|error| anyhow::anyhow!("TCP: {error}"))?;
        let wire: Box<dyn super::Wire> = if remote.secure {
            let name = ServerName::try_from(remote.host.clone()).context("the host as a TLS server name")?;
            let connector = futures_rustls::TlsConnector::from(tls.clone());
            Box::new(connector.connect(name, stream).await.context("TLS")?)
        } else {
            Box::new(stream)
        };
        // A remote's message is at most an event (or a negentropy message: 512 KiB of hex from
        // this relay, as much from strfry) in its envelope; tungstenite's 64 MiB default would
        // let one remote hold that much of this relay's memory per stream.
        let mut config = tungstenite::protocol::WebSocketConfig::default();
        config.max_message_size = Some(message_bytes_max);
        config.max_frame_size = Some(message_bytes_max);
        let handshake = async_tungstenite::client_async_with_config(url, wire, Some(config));
        let (socket, _) = handshake.await.context("the WebSocket handshake")?;
        Ok::<Socket, anyhow::Error>(socket)
    };
    let timed_out = async {
        glommio::timer::sleep(CONNECT_TIMEOUT).await;
        Err(anyhow::anyhow!("no connection within {} s", CONNECT_TIMEOUT.as_secs()))
    };
    futures_lite::future::or(connecting, timed_out).await.with_context(|| format!("connecting to {url}"))
}
