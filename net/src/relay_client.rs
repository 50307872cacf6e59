//! What a client of another relay needs, whatever its runtime: the relay's URL read (`ws://`
//! or `wss://`, host, port) and TLS settings (rustls on ring: Mozilla's roots built in, or a
//! private authority's certificates). The relay's mirror streams and `parrhesia-tools` use it.

use std::sync::Arc;

use rustls::ClientConfig;
use thiserror::Error;

/// Where a URL points.
#[derive(Debug, PartialEq, Eq)]
pub struct Remote {
    pub secure: bool,
    /// A name or an address (without an IPv6 address's brackets).
    pub host: String,
    pub port: u16,
}

/// Why a relay URL or TLS settings cannot be used (nothing was changed).
#[derive(Debug, Error)]
pub enum RelayClientError {
    /// The URL is not one a relay client can dial.
    #[error("{url:?}: {why}")]
    Url { url: String, why: &'static str },
    /// The certificate file cannot be read or holds no usable certificate.
    #[error("{path}: {why}")]
    Certificates { path: String, why: String },
    /// rustls refused its settings.
    #[error("TLS settings: {0}")]
    Tls(#[from] rustls::Error),
}

/// Reads a relay URL: `ws://` or `wss://`, a host (`[...]` for IPv6), an optional port
/// (80 and 443 by default), anything after it (a path, a query) left to the handshake.
pub fn remote(url: &str) -> Result<Remote, RelayClientError> {
    let bad = |why| RelayClientError::Url { url: url.to_string(), why };
    let (secure, rest) = match url.split_once("://") {
        Some(("ws", rest)) => (false, rest),
        Some(("wss", rest)) => (true, rest),
        _ => return Err(bad("not a ws:// or wss:// URL")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("user information in a relay URL is not supported"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']').ok_or_else(|| bad("an unclosed '['"))?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(bad("names no host"));
    }
    let port = match port {
        Some(port) => port.parse().map_err(|_| bad("its port is not a number from 0 to 65535"))?,
        None if secure => 443,
        None => 80,
    };
    Ok(Remote { secure, host: host.to_string(), port })
}

/// The TLS settings of a mirror's streams: `ca_file`'s certificates (PEM) as the only roots,
/// else the built-in ones.
pub fn tls_config(ca_file: Option<&str>) -> Result<Arc<ClientConfig>, RelayClientError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            use rustls_pki_types::pem::PemObject;
            let bad = |why: String| RelayClientError::Certificates { path: path.to_string(), why };
            let certificates = rustls_pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|error| bad(error.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| bad(error.to_string()))?;
            if certificates.is_empty() {
                return Err(bad("no PEM certificate in it".into()));
            }
            for certificate in certificates {
                roots.add(certificate).map_err(|error| bad(error.to_string()))?;
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
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
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
