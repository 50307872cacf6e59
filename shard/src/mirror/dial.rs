//! Dialling a stream's remote: its URL read (`ws://` or `wss://`, host, port), the name
//! resolved off the shard, TCP, TLS for `wss://` (rustls: the built-in Mozilla roots, or the
//! mirror's `ca_file`), then the WebSocket handshake.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use glommio::net::TcpStream;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;

use super::Socket;

/// How long dialling (TCP, TLS and the WebSocket handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a URL points.
#[derive(Debug, PartialEq, Eq)]
pub struct Remote {
    pub secure: bool,
    /// A name or an address (without an IPv6 address's brackets).
    pub host: String,
    pub port: u16,
}

/// Reads a relay URL: `ws://` or `wss://`, a host (`[...]` for IPv6), an optional port
/// (80 and 443 by default), anything after it (a path, a query) left to the handshake.
pub fn remote(url: &str) -> anyhow::Result<Remote> {
    let (secure, rest) = match url.split_once("://") {
        Some(("ws", rest)) => (false, rest),
        Some(("wss", rest)) => (true, rest),
        _ => bail!("{url:?} is not a ws:// or wss:// URL"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        bail!("{url:?}: user information in a relay URL is not supported");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']').with_context(|| format!("{url:?}: an unclosed '['"))?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        bail!("{url:?} names no host");
    }
    let port = match port {
        Some(port) => port.parse().with_context(|| format!("{url:?}: {port:?} is not a port"))?,
        None if secure => 443,
        None => 80,
    };
    Ok(Remote { secure, host: host.to_string(), port })
}

/// The TLS settings of a mirror's streams: `ca_file`'s certificates (PEM) as the only roots,
/// else the built-in ones.
pub fn tls_config(ca_file: Option<&str>) -> anyhow::Result<Arc<ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            use rustls_pki_types::pem::PemObject;
            let certificates = rustls_pki_types::CertificateDer::pem_file_iter(path)
                .with_context(|| format!("reading {path}"))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("reading the PEM certificates in {path}"))?;
            if certificates.is_empty() {
                bail!("{path} holds no PEM certificate");
            }
            for certificate in certificates {
                roots.add(certificate).with_context(|| format!("a certificate in {path}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    // ring, already built for the cluster's links; rustls deprecates it for lacking
    // post-quantum key exchange (aws-lc-rs has it, at the cost of a C toolchain build).
    // Mirrored events are public and signed by their authors: what TLS guards here is their
    // integrity and the remote's identity, which ring's suites give today.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Dials `url`: TCP, TLS when it is `wss://`, the WebSocket handshake, within
/// `CONNECT_TIMEOUT`.
pub async fn dial(url: &str, tls: &Arc<ClientConfig>) -> anyhow::Result<Socket> {
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
        let (socket, _) = async_tungstenite::client_async(url, wire).await.context("the WebSocket handshake")?;
        Ok::<Socket, anyhow::Error>(socket)
    };
    let timed_out = async {
        glommio::timer::sleep(CONNECT_TIMEOUT).await;
        Err(anyhow::anyhow!("no connection within {} s", CONNECT_TIMEOUT.as_secs()))
    };
    futures_lite::future::or(connecting, timed_out).await.with_context(|| format!("connecting to {url}"))
}

#[cfg(test)]
mod tests {
    use super::{Remote, remote};

    #[test]
    fn relay_urls_name_a_host_and_port() {
        let cases = [
            ("ws://127.0.0.1:7777", Remote { secure: false, host: "127.0.0.1".into(), port: 7777 }),
            ("wss://relay.example.com", Remote { secure: true, host: "relay.example.com".into(), port: 443 }),
            ("ws://relay.example.com/nostr?x=1", Remote { secure: false, host: "relay.example.com".into(), port: 80 }),
            ("wss://[::1]:8443/", Remote { secure: true, host: "::1".into(), port: 8443 }),
            ("wss://[2001:db8::1]", Remote { secure: true, host: "2001:db8::1".into(), port: 443 }),
        ];
        for (url, expected) in cases {
            assert_eq!(remote(url).unwrap(), expected, "{url}");
        }
        for bad in ["http://h", "ws://", "ws://:80", "ws://h:x", "ws://h:70000", "wss://[::1", "ws://u@h"] {
            assert!(remote(bad).is_err(), "{bad}");
        }
    }
}
