//! The bench's side of a relay connection: `ws://` URLs, TCP connect (optionally from a chosen
//! source address) with a deadline, the WebSocket handshake, sending text frames and reading
//! relay messages, and short labels for every way a connection can fail or end.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use parrhesia_engine::RelayMessage;
use parrhesia_net::deflate::{FrameInflater, Inflater};
use socket2::{Domain, Socket, Type};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, Utf8Bytes, WebSocket};

use crate::failure::Failure;

/// How long the first probe of a relay may take before it is called unreachable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A relay's address: the URL as given and the socket address it resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub address: SocketAddr,
}

/// `(host, port)` of a `ws://` URL (port 80 when absent). `wss://` is refused: the bench has
/// no TLS, so put it next to the relay (or behind the TLS terminator, on the plain side).
pub fn host_and_port(url: &str) -> anyhow::Result<(String, u16)> {
    if url.starts_with("wss://") {
        bail!("{url}: wss:// is not supported (no TLS in the bench); use the relay's plain ws:// address");
    }
    let rest = url.strip_prefix("ws://").with_context(|| format!("{url}: the URL must start with ws://"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() {
        bail!("{url}: no host");
    }
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').with_context(|| format!("{url}: unclosed '['"))?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().with_context(|| format!("{url}: bad port {port:?}"))?,
            None => 80,
        };
        return Ok((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            Ok((host.to_string(), port.parse().with_context(|| format!("{url}: bad port {port:?}"))?))
        }
        None => Ok((authority.to_string(), 80)),
    }
}

impl Target {
    /// Parses and resolves `url`; an unresolvable host is an unreachable relay.
    pub fn resolve(url: &str) -> anyhow::Result<Target> {
        let (host, port) = host_and_port(url)?;
        let address = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|error| Failure::Unreachable { url: url.to_string(), reason: format!("cannot resolve: {error}") })?
            .next()
            .ok_or_else(|| Failure::Unreachable { url: url.to_string(), reason: "no address".to_string() })?;
        Ok(Target { url: url.to_string(), address })
    }

    /// Resolves `url` and opens (and closes) one connection, so that a relay that is down is
    /// reported once, clearly, before any workload starts.
    pub fn probe(url: &str) -> anyhow::Result<Target> {
        let target = Target::resolve(url)?;
        match Connection::open(&target, None, PROBE_TIMEOUT) {
            Ok(connection) => {
                connection.close();
                Ok(target)
            }
            Err(failure) => Err(Failure::Unreachable { url: url.to_string(), reason: failure.describe() }.into()),
        }
    }
}

/// Why a connection could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectFailure {
    Refused,
    TimedOut,
    Reset,
    /// EADDRNOTAVAIL: no free local port for this source address (ephemeral ports exhausted).
    AddressUnavailable,
    /// EMFILE/ENFILE: this process (or the machine) is out of file descriptors.
    TooManyOpenFiles,
    /// The server answered the upgrade with this HTTP status.
    HttpStatus(u16),
    /// The server closed the socket during the handshake.
    ClosedDuringHandshake,
    Other(String),
}

impl ConnectFailure {
    /// A short label for grouping failures in metrics.
    pub fn label(&self) -> String {
        match self {
            ConnectFailure::Refused => "refused".into(),
            ConnectFailure::TimedOut => "timeout".into(),
            ConnectFailure::Reset => "reset".into(),
            ConnectFailure::AddressUnavailable => "address_unavailable".into(),
            ConnectFailure::TooManyOpenFiles => "too_many_open_files".into(),
            ConnectFailure::HttpStatus(status) => format!("http_{status}"),
            ConnectFailure::ClosedDuringHandshake => "closed_during_handshake".into(),
            ConnectFailure::Other(_) => "other".into(),
        }
    }

    /// The label with the detail a person needs.
    pub fn describe(&self) -> String {
        match self {
            ConnectFailure::Refused => "connection refused (nothing listens there)".into(),
            ConnectFailure::TimedOut => "timed out".into(),
            ConnectFailure::Other(detail) => detail.clone(),
            other => other.label().replace('_', " "),
        }
    }

    fn from_io(error: &io::Error) -> ConnectFailure {
        match error.kind() {
            io::ErrorKind::ConnectionRefused => return ConnectFailure::Refused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => return ConnectFailure::TimedOut,
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => {
                return ConnectFailure::Reset;
            }
            io::ErrorKind::AddrNotAvailable | io::ErrorKind::AddrInUse => return ConnectFailure::AddressUnavailable,
            io::ErrorKind::UnexpectedEof => return ConnectFailure::ClosedDuringHandshake,
            _ => {}
        }
        // EMFILE (24) and ENFILE (23) have no stable ErrorKind.
        match error.raw_os_error() {
            Some(23 | 24) => ConnectFailure::TooManyOpenFiles,
            _ => ConnectFailure::Other(error.to_string()),
        }
    }

    fn from_websocket(error: tungstenite::Error) -> ConnectFailure {
        match error {
            tungstenite::Error::Io(error) => ConnectFailure::from_io(&error),
            tungstenite::Error::Http(response) => ConnectFailure::HttpStatus(response.status().as_u16()),
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                ConnectFailure::ClosedDuringHandshake
            }
            tungstenite::Error::Protocol(tungstenite::error::ProtocolError::HandshakeIncomplete) => {
                ConnectFailure::ClosedDuringHandshake
            }
            other => ConnectFailure::Other(other.to_string()),
        }
    }
}

/// What a read returned.
#[derive(Debug)]
pub enum Incoming {
    Message(RelayMessage<'static>),
    /// A text frame that is not a relay message (counted, otherwise ignored).
    Undecodable,
    /// Nothing arrived before the read timeout (or, non-blocking, nothing was waiting).
    Quiet,
}

/// Why an open connection ended: a short label (`closed_by_relay_1008`, `reset`, `eof`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkEnded(pub String);

impl LinkEnded {
    fn from_websocket(error: tungstenite::Error) -> LinkEnded {
        let label = match error {
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => "closed".to_string(),
            tungstenite::Error::Io(error) => match ConnectFailure::from_io(&error) {
                ConnectFailure::ClosedDuringHandshake => "eof".to_string(),
                ConnectFailure::Other(_) => format!("io_{:?}", error.kind()).to_lowercase(),
                failure => failure.label(),
            },
            tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
                "reset_without_close".to_string()
            }
            tungstenite::Error::Protocol(_) => "protocol_error".to_string(),
            tungstenite::Error::Capacity(_) => "message_too_large".to_string(),
            tungstenite::Error::WriteBufferFull(_) => "write_buffer_full".to_string(),
            _ => "other".to_string(),
        };
        LinkEnded(label)
    }
}

/// Whether connections offer permessage-deflate (`--deflate`), for the whole run.
static DEFLATE: AtomicBool = AtomicBool::new(false);
/// Bytes read off every connection's socket this run (before inflating).
static WIRE_BYTES_READ: AtomicU64 = AtomicU64::new(0);

pub fn offer_deflate(on: bool) {
    DEFLATE.store(on, Ordering::Relaxed);
}

/// The key every connection authenticates as (NIP-42, `--auth-seed`), for the whole run.
static AUTH_KEYS: std::sync::Mutex<Option<std::sync::Arc<parrhesia_engine::Keys>>> = std::sync::Mutex::new(None);

pub fn authenticate_as(keys: Option<parrhesia_engine::Keys>) {
    *AUTH_KEYS.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = keys.map(std::sync::Arc::new);
}

fn auth_keys() -> Option<std::sync::Arc<parrhesia_engine::Keys>> {
    AUTH_KEYS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

pub fn reset_wire_bytes() {
    WIRE_BYTES_READ.store(0, Ordering::Relaxed);
}

pub fn wire_bytes_read() -> u64 {
    WIRE_BYTES_READ.load(Ordering::Relaxed)
}

/// The socket under a connection's WebSocket: counts the bytes read and, once the relay has
/// accepted permessage-deflate, inflates its compressed messages (the relay's own frame
/// inflater in the client role: frames from a server are not masked).
pub struct Wire {
    stream: TcpStream,
    deflate: Option<(FrameInflater, Inflater)>,
}

impl Read for Wire {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let Some((frames, inflater)) = &mut self.deflate else {
            let read = self.stream.read(buffer)?;
            WIRE_BYTES_READ.fetch_add(read as u64, Ordering::Relaxed);
            return Ok(read);
        };
        loop {
            let count = frames.take_output(buffer);
            if count > 0 {
                return Ok(count);
            }
            let read = self.stream.read(buffer)?;
            if read == 0 {
                return Ok(0);
            }
            WIRE_BYTES_READ.fetch_add(read as u64, Ordering::Relaxed);
            frames
                .feed(&buffer[..read], inflater)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.stream.write(buffer)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// An open WebSocket connection to a relay (blocking socket, timeouts set by the caller).
pub struct Connection {
    socket: WebSocket<Wire>,
    /// The socket's read timeout as last set, so setting it again costs no system call.
    read_timeout: Option<Duration>,
}

/// What tungstenite reads from the socket at a time. Its default (128 KiB) is zeroed before
/// every read: a profile of `query` at 32 connections had 8.8% of the bench's CPU in that
/// memset, and the fanout subscribers read one small frame per wake-up. A query's answer of
/// 30-100 events takes a few reads of this size.
const READ_BUFFER_BYTES: usize = 32 * 1024;

impl Connection {
    /// TCP connect from `source` (any local address when `None`) within `timeout`, then the
    /// WebSocket handshake within `timeout` again.
    pub fn open(target: &Target, source: Option<IpAddr>, timeout: Duration) -> Result<Connection, ConnectFailure> {
        let stream = tcp_connect(target.address, source, timeout).map_err(|error| ConnectFailure::from_io(&error))?;
        let io = |error: io::Error| ConnectFailure::from_io(&error);
        stream.set_nodelay(true).map_err(io)?;
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        stream.set_write_timeout(Some(timeout)).map_err(io)?;
        let mut request = target.url.as_str().into_client_request().map_err(ConnectFailure::from_websocket)?;
        if DEFLATE.load(Ordering::Relaxed) {
            let offer = tungstenite::http::HeaderValue::from_static("permessage-deflate; client_max_window_bits");
            request.headers_mut().insert("Sec-WebSocket-Extensions", offer);
        }
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
        let (mut socket, response) =
            match tungstenite::client::client_with_config(request, Wire { stream, deflate: None }, Some(config)) {
                Ok(opened) => opened,
                Err(tungstenite::HandshakeError::Failure(error)) => return Err(ConnectFailure::from_websocket(error)),
                Err(tungstenite::HandshakeError::Interrupted(_)) => return Err(ConnectFailure::TimedOut),
            };
        let accepted = response.headers().get("sec-websocket-extensions").and_then(|value| value.to_str().ok());
        if accepted.is_some_and(|value| value.starts_with("permessage-deflate")) {
            // The relay sends nothing before the client does, so no compressed frame can
            // already sit in tungstenite's buffer when the inflater goes in.
            socket.get_mut().deflate = Some((FrameInflater::new(false, usize::MAX), Inflater::default()));
        }
        socket.get_ref().stream.set_write_timeout(None).map_err(io)?;
        let mut connection = Connection { socket, read_timeout: Some(timeout) };
        if let Some(keys) = auth_keys() {
            connection.authenticate(&keys, &target.url)?;
        }
        Ok(connection)
    }

    /// NIP-42: waits for the relay's challenge (it must send one on connect), answers it as
    /// `keys` and waits for the OK.
    fn authenticate(&mut self, keys: &parrhesia_engine::Keys, url: &str) -> Result<(), ConnectFailure> {
        let failed = |why: &str| ConnectFailure::Other(format!("auth_{why}"));
        let challenge = loop {
            match self.read().map_err(|ended| failed(&ended.0))? {
                Incoming::Message(RelayMessage::Auth { challenge }) => break challenge.to_string(),
                Incoming::Quiet => return Err(failed("no_challenge")),
                _ => {}
            }
        };
        let tags = vec![vec!["relay".to_string(), url.to_string()], vec!["challenge".to_string(), challenge]];
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs());
        let event = keys.sign(now, parrhesia_engine::auth::AUTH_KIND, tags, String::new());
        self.send_text(format!(r#"["AUTH",{}]"#, event.json())).map_err(|ended| failed(&ended.0))?;
        loop {
            match self.read().map_err(|ended| failed(&ended.0))? {
                Incoming::Message(RelayMessage::Ok { event_id, accepted, .. }) if &event_id == event.id() => {
                    return if accepted { Ok(()) } else { Err(failed("refused")) };
                }
                Incoming::Quiet => return Err(failed("no_answer")),
                _ => {}
            }
        }
    }

    /// How long `read` waits (`None`: forever).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), LinkEnded> {
        // A zero timeout means "forever" to the kernel; the shortest real wait is 1 us.
        let timeout = timeout.map(|timeout| timeout.max(Duration::from_micros(1)));
        if timeout == self.read_timeout {
            return Ok(());
        }
        self.socket
            .get_ref()
            .stream
            .set_read_timeout(timeout)
            .map_err(|error| LinkEnded::from_websocket(error.into()))?;
        self.read_timeout = timeout;
        Ok(())
    }

    pub fn set_nonblocking(&mut self) -> Result<(), LinkEnded> {
        self.socket.get_ref().stream.set_nonblocking(true).map_err(|error| LinkEnded::from_websocket(error.into()))
    }

    /// Hands every message already received to `handle`, without waiting for more (the socket
    /// is non-blocking for the duration, so no read timeout's tick rounding applies).
    pub fn read_ready(&mut self, mut handle: impl FnMut(RelayMessage<'static>)) -> Result<(), LinkEnded> {
        let blocking = |connection: &mut Connection, blocking: bool| {
            connection
                .socket
                .get_ref()
                .stream
                .set_nonblocking(!blocking)
                .map_err(|error| LinkEnded::from_websocket(error.into()))
        };
        blocking(self, false)?;
        let result = loop {
            match self.read() {
                Ok(Incoming::Message(message)) => handle(message),
                Ok(Incoming::Undecodable) => {}
                Ok(Incoming::Quiet) => break Ok(()),
                Err(ended) => break Err(ended),
            }
        };
        blocking(self, true)?;
        result
    }

    /// Queues a text frame without flushing (follow with `flush`).
    pub fn queue_text(&mut self, text: String) -> Result<(), LinkEnded> {
        self.socket.write(Message::Text(text.into())).map_err(LinkEnded::from_websocket)
    }

    pub fn flush(&mut self) -> Result<(), LinkEnded> {
        match self.socket.flush() {
            Err(tungstenite::Error::Io(error)) if error.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other.map_err(LinkEnded::from_websocket),
        }
    }

    pub fn send_text(&mut self, text: String) -> Result<(), LinkEnded> {
        self.queue_text(text)?;
        self.flush()
    }

    /// The next relay message, `Quiet` after the read timeout, or why the connection ended.
    pub fn read(&mut self) -> Result<Incoming, LinkEnded> {
        Ok(match self.read_text()? {
            Some(text) => match RelayMessage::decode(text.as_str()) {
                Ok(message) => Incoming::Message(message),
                Err(_) => Incoming::Undecodable,
            },
            None => Incoming::Quiet,
        })
    }

    /// The next text frame undecoded (for a caller that can tell what it needs from its first
    /// bytes), `None` after the read timeout, or why the connection ended.
    pub fn read_text(&mut self) -> Result<Option<Utf8Bytes>, LinkEnded> {
        loop {
            match self.socket.read() {
                Ok(Message::Text(text)) => return Ok(Some(text)),
                Ok(Message::Close(frame)) => {
                    let label = match frame {
                        Some(frame) => format!("closed_by_relay_{}", u16::from(frame.code)),
                        None => "closed_by_relay".to_string(),
                    };
                    return Err(LinkEnded(label));
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(error))
                    if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
                {
                    return Ok(None);
                }
                Err(error) => return Err(LinkEnded::from_websocket(error)),
            }
        }
    }

    /// Sends a close frame (best effort) and drops the socket.
    pub fn close(mut self) {
        let _ = self.socket.close(None);
        let _ = self.socket.flush();
    }
}

fn tcp_connect(address: SocketAddr, source: Option<IpAddr>, timeout: Duration) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    if let Some(source) = source {
        socket.bind(&SocketAddr::new(source, 0).into())?;
    }
    socket.connect_timeout(&address.into(), timeout)?;
    Ok(socket.into())
}

/// `["EVENT",<event>]` around an event's JSON text.
pub fn event_message(event_json: &str) -> String {
    let mut text = String::with_capacity(event_json.len() + 10);
    text.push_str("[\"EVENT\",");
    text.push_str(event_json);
    text.push(']');
    text
}

/// `["REQ","<id>",<filter>...]`; the subscription id must need no JSON escaping.
pub fn req_message(subscription_id: &str, filters_json: &[String]) -> String {
    debug_assert!(subscription_id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-'));
    format!("[\"REQ\",\"{subscription_id}\",{}]", filters_json.join(","))
}

pub fn close_message(subscription_id: &str) -> String {
    format!("[\"CLOSE\",\"{subscription_id}\"]")
}

/// The machine-readable prefix of an OK/CLOSED message (`duplicate`, `invalid`, ...), or
/// `unprefixed` when the relay gave none.
pub fn reason_prefix(message: &str) -> String {
    match message.split_once(':') {
        Some((prefix, _))
            if !prefix.is_empty()
                && prefix.len() <= 32
                && prefix.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_') =>
        {
            prefix.to_ascii_lowercase()
        }
        _ => "unprefixed".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let good = [
            ("ws://127.0.0.1:7777", ("127.0.0.1", 7777)),
            ("ws://localhost:80/path?x=1", ("localhost", 80)),
            ("ws://relay.example.com", ("relay.example.com", 80)),
            ("ws://[::1]:7000/", ("::1", 7000)),
            ("ws://[::1]", ("::1", 80)),
        ];
        for (url, (host, port)) in good {
            assert_eq!(host_and_port(url).expect(url), (host.to_string(), port), "{url}");
        }
        for url in ["wss://relay.example.com", "http://x:1", "ws://", "ws://host:port", "ws://[::1:7"] {
            assert!(host_and_port(url).is_err(), "{url}");
        }
        let message = host_and_port("wss://x").unwrap_err().to_string();
        assert!(message.contains("wss:// is not supported"), "{message}");
    }

    #[test]
    fn reason_prefixes() {
        let cases = [
            ("duplicate: already have this event", "duplicate"),
            ("invalid: bad signature", "invalid"),
            ("rate-limited: slow down", "rate-limited"),
            ("auth-required: we only accept events from registered users", "auth-required"),
            ("", "unprefixed"),
            ("no prefix here", "unprefixed"),
            ("two words: not a prefix", "unprefixed"),
            ("Blocked: capital", "blocked"),
        ];
        for (message, prefix) in cases {
            assert_eq!(reason_prefix(message), prefix, "{message:?}");
        }
    }

    #[test]
    fn client_messages() {
        assert_eq!(event_message("{\"id\":\"ab\"}"), "[\"EVENT\",{\"id\":\"ab\"}]");
        assert_eq!(
            req_message("q1", &["{}".to_string(), "{\"limit\":1}".to_string()]),
            "[\"REQ\",\"q1\",{},{\"limit\":1}]"
        );
        assert_eq!(close_message("q1"), "[\"CLOSE\",\"q1\"]");
    }

    #[test]
    fn io_errors_get_labels() {
        let cases = [
            (io::Error::from(io::ErrorKind::ConnectionRefused), "refused"),
            (io::Error::from(io::ErrorKind::TimedOut), "timeout"),
            (io::Error::from(io::ErrorKind::WouldBlock), "timeout"),
            (io::Error::from(io::ErrorKind::ConnectionReset), "reset"),
            (io::Error::from(io::ErrorKind::AddrNotAvailable), "address_unavailable"),
            (io::Error::from_raw_os_error(24), "too_many_open_files"),
            (io::Error::from(io::ErrorKind::UnexpectedEof), "closed_during_handshake"),
            (io::Error::other("strange"), "other"),
        ];
        for (error, label) in cases {
            assert_eq!(ConnectFailure::from_io(&error).label(), label, "{error}");
        }
        assert_eq!(ConnectFailure::HttpStatus(503).label(), "http_503");
    }

    #[test]
    fn a_closed_port_is_refused_and_probe_calls_it_unreachable() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").port()
        };
        let url = format!("ws://127.0.0.1:{port}");
        let target = Target::resolve(&url).expect("resolves");
        let failure = Connection::open(&target, None, Duration::from_secs(2)).err().expect("nothing listens");
        assert_eq!(failure, ConnectFailure::Refused);
        let error = Target::probe(&url).expect_err("unreachable");
        let failure = error.downcast_ref::<Failure>().expect("a Failure");
        assert_eq!(failure.exit_code(), 2);
        assert!(error.to_string().contains(&url), "{error}");
    }
}
