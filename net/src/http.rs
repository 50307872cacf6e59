//! The HTTP front: read one request head (bounded), parse it with httparse, route it, and
//! write plain responses. One request per connection: non-WebSocket answers close the socket.

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Headers kept from a request, at most.
const HEADERS_MAX: usize = 48;

/// A parsed request head, plus whatever bytes followed it in the same reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// Bytes read after the head (a client may send its first frame right behind it).
    pub leftover: Vec<u8>,
}

impl Request {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// Whether the comma-separated header `name` lists `token` (case-insensitive).
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(key, _)| key == name)
            .flat_map(|(_, value)| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    }
}

/// Why a request could not be read. The caller answers with `status()` where it can.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The peer closed or the socket failed before a full head arrived. Nothing to answer.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed before sending a complete request head.
    #[error("connection closed before a complete request")]
    Closed,
    /// The head is larger than the bound, or has too many headers: answer 431.
    #[error("request head too large")]
    TooLarge,
    /// The bytes are not HTTP/1.x: answer 400.
    #[error("malformed request: {0}")]
    Malformed(String),
}

impl HttpError {
    /// The status to answer with, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Io(_) | HttpError::Closed => None,
            HttpError::TooLarge => Some(431),
            HttpError::Malformed(_) => Some(400),
        }
    }
}

/// Reads and parses one request head of at most `head_bytes_max` bytes.
pub async fn read_request<S: AsyncRead + Unpin>(stream: &mut S, head_bytes_max: usize) -> Result<Request, HttpError> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(HttpError::Closed);
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(request) = parse_head(&buffer)? {
            return Ok(request);
        }
        if buffer.len() >= head_bytes_max {
            return Err(HttpError::TooLarge);
        }
    }
}

/// Why a request body could not be read, as the status to answer with.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// No `Content-Length` (chunked bodies are not taken): 411.
    LengthRequired,
    /// Over the bound: 413.
    TooLarge,
    /// The peer closed or the socket failed first: nothing to answer.
    Closed,
}

impl BodyError {
    pub fn status(&self) -> Option<u16> {
        match self {
            BodyError::LengthRequired => Some(411),
            BodyError::TooLarge => Some(413),
            BodyError::Closed => None,
        }
    }
}

/// Reads the request's body (its `Content-Length` bytes, counting those read with the head),
/// refusing one over `bytes_max` before reading it.
pub async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    request: &Request,
    bytes_max: usize,
) -> Result<Vec<u8>, BodyError> {
    let length: usize = request
        .header("content-length")
        .and_then(|value| value.trim().parse().ok())
        .ok_or(BodyError::LengthRequired)?;
    if length > bytes_max {
        return Err(BodyError::TooLarge);
    }
    let mut body = request.leftover[..request.leftover.len().min(length)].to_vec();
    let mut chunk = [0u8; 4096];
    while body.len() < length {
        let read = stream.read(&mut chunk).await.map_err(|_| BodyError::Closed)?;
        if read == 0 {
            return Err(BodyError::Closed);
        }
        body.extend_from_slice(&chunk[..read.min(length - body.len())]);
    }
    Ok(body)
}

/// Parses a complete head from `buffer`; `Ok(None)` if more bytes are needed.
fn parse_head(buffer: &[u8]) -> Result<Option<Request>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut parsed = httparse::Request::new(&mut headers);
    let length = match parsed.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::TooLarge),
        Err(error) => return Err(HttpError::Malformed(error.to_string())),
    };
    let target = parsed.path.unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_string();
    let headers = parsed
        .headers
        .iter()
        .map(|header| (header.name.to_ascii_lowercase(), String::from_utf8_lossy(header.value).into_owned()))
        .collect();
    Ok(Some(Request {
        method: parsed.method.unwrap_or("").to_string(),
        path,
        headers,
        leftover: buffer[length..].to_vec(),
    }))
}

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A valid WebSocket upgrade; `key` is the client's `Sec-WebSocket-Key`.
    WebSocket {
        key: String,
    },
    /// The NIP-11 relay information document.
    RelayInfo,
    /// A CORS preflight (browsers ask before fetching NIP-11).
    Preflight,
    Health,
    Ready,
    Metrics,
    /// A NIP-86 management call: `POST` with `Content-Type: application/nostr+json+rpc`.
    Management,
    /// An upgrade request that is not a valid WebSocket handshake: answer 400 with the reason.
    BadUpgrade(&'static str),
    NotFound,
}

/// Routes a request (pure: no I/O).
pub fn route(request: &Request) -> Route {
    if request.header("upgrade").is_some() {
        return websocket_route(request);
    }
    match (request.method.as_str(), request.path.as_str()) {
        ("OPTIONS", _) => Route::Preflight,
        ("GET", "/") if request.header("accept").is_some_and(|accept| accept.contains("application/nostr+json")) => {
            Route::RelayInfo
        }
        ("POST", _)
            if request
                .header("content-type")
                .is_some_and(|kind| kind.trim().to_ascii_lowercase().starts_with("application/nostr+json+rpc")) =>
        {
            Route::Management
        }
        ("GET", "/health") => Route::Health,
        ("GET", "/ready") => Route::Ready,
        ("GET", "/metrics") => Route::Metrics,
        _ => Route::NotFound,
    }
}

fn websocket_route(request: &Request) -> Route {
    if !request.header_has_token("upgrade", "websocket") {
        return Route::BadUpgrade("only websocket upgrades are served");
    }
    if request.method != "GET" {
        return Route::BadUpgrade("a websocket upgrade must be a GET");
    }
    if !request.header_has_token("connection", "upgrade") {
        return Route::BadUpgrade("missing Connection: upgrade");
    }
    if request.header("sec-websocket-version") != Some("13") {
        return Route::BadUpgrade("Sec-WebSocket-Version must be 13");
    }
    match request.header("sec-websocket-key") {
        Some(key) if !key.trim().is_empty() => Route::WebSocket { key: key.trim().to_string() },
        _ => Route::BadUpgrade("missing Sec-WebSocket-Key"),
    }
}

/// A complete HTTP/1.1 response that closes the connection.
pub fn response(status: u16, content_type: &str, body: &[u8], extra_headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason_phrase(status),
        body.len()
    )
    .into_bytes();
    for (name, value) in extra_headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Writes `bytes` and flushes.
pub async fn write_all<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        411 => "Length Required",
        413 => "Content Too Large",
        500 => "Internal Server Error",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Request {
        parse_head(text.as_bytes()).unwrap().expect("complete head")
    }

    #[test]
    fn route_table() {
        let upgrade = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        let cases: Vec<(&str, Route)> = vec![
            (upgrade, Route::WebSocket { key: "dGhlIHNhbXBsZSBub25jZQ==".into() }),
            ("GET / HTTP/1.1\r\nAccept: application/nostr+json\r\n\r\n", Route::RelayInfo),
            ("GET /?x=1 HTTP/1.1\r\naccept: text/html, application/nostr+json\r\n\r\n", Route::RelayInfo),
            ("GET / HTTP/1.1\r\nAccept: text/html\r\n\r\n", Route::NotFound),
            ("OPTIONS / HTTP/1.1\r\n\r\n", Route::Preflight),
            ("GET /health HTTP/1.1\r\n\r\n", Route::Health),
            ("GET /ready HTTP/1.1\r\n\r\n", Route::Ready),
            ("GET /metrics HTTP/1.1\r\n\r\n", Route::Metrics),
            ("POST /health HTTP/1.1\r\n\r\n", Route::NotFound),
            ("POST / HTTP/1.1\r\nContent-Type: application/nostr+json+rpc\r\n\r\n", Route::Management),
            ("POST / HTTP/1.1\r\ncontent-type: Application/Nostr+JSON+RPC; charset=utf-8\r\n\r\n", Route::Management),
            ("POST / HTTP/1.1\r\nContent-Type: application/json\r\n\r\n", Route::NotFound),
            ("GET /nope HTTP/1.1\r\n\r\n", Route::NotFound),
            ("GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n", Route::BadUpgrade("only websocket upgrades are served")),
            (
                "GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: k\r\n\r\n",
                Route::BadUpgrade("missing Connection: upgrade"),
            ),
            (
                "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 8\r\n\r\n",
                Route::BadUpgrade("Sec-WebSocket-Version must be 13"),
            ),
            (
                "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
                Route::BadUpgrade("missing Sec-WebSocket-Key"),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(route(&request(text)), expected, "{text:?}");
        }
    }

    #[test]
    fn partial_malformed_and_leftover() {
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap(), None);
        assert!(matches!(parse_head(b"\x00\x01 nonsense\r\n\r\n"), Err(HttpError::Malformed(_))));
        let with_body = request("GET / HTTP/1.1\r\n\r\nextra");
        assert_eq!(with_body.leftover, b"extra");
        let many: String = (0..60).map(|number| format!("X-{number}: y\r\n")).collect();
        assert!(matches!(parse_head(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), Err(HttpError::TooLarge)));
    }

    #[test]
    fn read_request_is_bounded() {
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(10_000));
        let mut input = futures_lite::io::Cursor::new(long.into_bytes());
        let error = futures_lite::future::block_on(read_request(&mut input, 4096)).unwrap_err();
        assert_eq!(error.status(), Some(431));
        let mut closed = futures_lite::io::Cursor::new(b"GET / HT".to_vec());
        assert!(matches!(futures_lite::future::block_on(read_request(&mut closed, 4096)), Err(HttpError::Closed)));
    }

    #[test]
    fn bodies_are_bounded_and_counted_from_the_head() {
        let read = |head: &str, rest: &[u8], max: usize| {
            let request = request(head);
            let mut input = futures_lite::io::Cursor::new(rest.to_vec());
            futures_lite::future::block_on(read_body(&mut input, &request, max))
        };
        let head = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123";
        assert_eq!(read(head, b"456789tail", 64), Ok(b"0123456789".to_vec()));
        assert_eq!(read(head, b"45", 64), Err(BodyError::Closed));
        assert_eq!(read(head, b"", 9).map_err(|error| error.status()), Err(Some(413)));
        assert_eq!(read("POST / HTTP/1.1\r\n\r\n", b"", 9).map_err(|error| error.status()), Err(Some(411)));
    }

    #[test]
    fn responses_are_well_formed() {
        let text = String::from_utf8(response(404, "text/plain", b"not found", &[("X-A", "b")])).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\nX-A: b\r\n\r\nnot found"
        );
    }
}
