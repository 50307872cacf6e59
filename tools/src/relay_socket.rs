//! A blocking WebSocket client of another relay (`sync`, `mirror`, `import --url`): TCP, TLS
//! for `wss://` (rustls: the built-in roots, or `--ca-file`'s certificates), the handshake.

use std::io::{Read, Write};
use std::net::TcpStream;

use anyhow::{Context, Result};
use parrhesia_net::relay_client::{remote, tls_config};

/// The bytes beneath the WebSocket: TCP, or TLS over it.
pub trait Wire: Read + Write {}
impl<T: Read + Write> Wire for T {}

pub type Socket = tungstenite::WebSocket<Box<dyn Wire>>;

/// Connects to `url` (`ws://` or `wss://`).
pub fn connect(url: &str, ca_file: Option<&str>) -> Result<Socket> {
    let target = remote(url)?;
    let tcp =
        TcpStream::connect((target.host.as_str(), target.port)).with_context(|| format!("connecting to {url}"))?;
    tcp.set_nodelay(true).context("TCP_NODELAY")?;
    let wire: Box<dyn Wire> = if target.secure {
        let name = rustls_pki_types::ServerName::try_from(target.host.clone()).context("the host as a TLS name")?;
        let connection = rustls::ClientConnection::new(tls_config(ca_file)?, name).context("TLS")?;
        Box::new(rustls::StreamOwned::new(connection, tcp))
    } else {
        Box::new(tcp)
    };
    let handshake = tungstenite::client(url, wire).map_err(|error| match error {
        tungstenite::HandshakeError::Failure(error) => anyhow::Error::new(error),
        tungstenite::HandshakeError::Interrupted(_) => anyhow::anyhow!("the handshake was interrupted"),
    });
    let (socket, _) = handshake.with_context(|| format!("the WebSocket handshake with {url}"))?;
    Ok(socket)
}
