//! One plain HTTP/1.1 request to the relay (`admin`'s NIP-86 calls, `health`'s NIP-11 read): the
//! relay speaks HTTP on its own port, and a TLS relay is called on its local address.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result};

/// A request to an `http://` (or `ws://`) URL: its method, extra header lines and body.
pub struct Request<'a> {
    pub url: &'a str,
    pub method: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// For connecting and for each read and write.
    pub timeout: Duration,
}

/// Sends the request and returns the answer's status and body (as far as its Content-Length).
pub fn send(request: &Request) -> Result<(u16, String)> {
    let url = request.url;
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("ws://"))
        .with_context(|| format!("{url}: only plain http:// or ws:// URLs (call a TLS relay on its local address)"))?;
    let (authority, path) =
        rest.split_once('/').map_or((rest, "/".to_string()), |(host, path)| (host, format!("/{path}")));
    // A port after the host ("[::1]:7777", "host:7777"); a bracketed IPv6 host has colons inside.
    let has_port = match authority.strip_prefix('[') {
        Some(rest) => rest.contains("]:"),
        None => authority.contains(':'),
    };
    let address = if has_port { authority.to_string() } else { format!("{authority}:80") };
    let resolved = address.to_socket_addrs().with_context(|| format!("resolving {address}"))?.next();
    let resolved = resolved.with_context(|| format!("{address} resolves to no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&resolved, request.timeout).with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(request.timeout))?;
    stream.set_write_timeout(Some(request.timeout))?;
    let mut head = format!("{} {path} HTTP/1.1\r\nHost: {authority}\r\n", request.method);
    for (name, value) in request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", request.body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(request.body)?;
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
