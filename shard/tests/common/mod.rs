//! Test support: start the real `parrhesia` binary on a free loopback port with a temporary
//! data directory, and speak real WebSocket to it (tungstenite, blocking, with timeouts).

#![allow(dead_code)]

pub mod cluster;
pub mod metrics;
pub mod ports;
pub mod proxy;

pub use ports::free_port;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parrhesia_engine::{Event, Keys, RelayMessage};
use tungstenite::{Message, WebSocket};

/// How long any single wait in a test may take before the test fails (not a speed claim).
pub const WAIT: Duration = Duration::from_secs(20);

pub struct Relay {
    child: Child,
    pub port: u16,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub log: Arc<Mutex<Vec<String>>>,
    /// The thread collecting stderr into `log`; it ends at EOF, after the process exits.
    log_reader: Option<std::thread::JoinHandle<()>>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// What runs the relay: the binary, or `deploy/entrypoint.sh relay` (which execs it).
    launcher: Vec<String>,
}

impl Relay {
    /// Starts a relay with a fresh data directory and extra arguments.
    pub fn start(args: &[&str]) -> Relay {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().join("data");
        let mut relay = Relay::start_in(&data_dir, args);
        relay._temp = Some(temp);
        relay
    }

    /// Starts a relay on an existing data directory.
    pub fn start_in(data_dir: &Path, args: &[&str]) -> Relay {
        Relay::start_in_with_env(data_dir, args, &[])
    }

    /// As `start_in`, with these environment variables set for the relay (and its restarts).
    pub fn start_in_with_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Relay {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        let env = env.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
        Relay::spawn(data_dir.to_path_buf(), free_port(), args, env, vec![env!("CARGO_BIN_EXE_parrhesia").to_string()])
    }

    /// Starts a relay the way the container image does: `deploy/entrypoint.sh relay` with the
    /// workspace's `parrhesia` and `parrhesia-tools` first on PATH, these environment
    /// variables, and the port and data directory given as flags.
    pub fn start_by_entrypoint(data_dir: &Path, port: u16, env: &[(String, String)]) -> Relay {
        let mut env = env.to_vec();
        env.push(("PATH".into(), entrypoint_path()));
        let launcher = vec!["sh".to_string(), entrypoint_script(), "relay".to_string()];
        Relay::spawn(data_dir.to_path_buf(), port, vec![], env, launcher)
    }

    fn spawn(
        data_dir: PathBuf,
        port: u16,
        args: Vec<String>,
        env: Vec<(String, String)>,
        launcher: Vec<String>,
    ) -> Relay {
        let mut child = Command::new(&launcher[0])
            .args(&launcher[1..])
            .envs(env.iter().map(|(key, value)| (key, value)))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data_dir)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start parrhesia");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let (ready_sender, ready) = std::sync::mpsc::channel();
        let lines = log.clone();
        let log_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = ready_sender.send(());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let relay =
            Relay { child, port, data_dir, _temp: None, log, log_reader: Some(log_reader), args, env, launcher };
        if ready.recv_timeout(WAIT).is_err() {
            panic!("relay did not start: {:?}", relay.log.lock().unwrap());
        }
        relay
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    pub fn connect(&self) -> Client {
        Client::connect(&self.url())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM and wait; returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                self.finish_log();
                return status.code();
            }
            assert!(Instant::now() < deadline, "relay did not stop: {:?}", self.log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL and wait.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.finish_log();
    }

    /// Waits until `log` holds everything the exited process wrote (its last lines may still
    /// be in the pipe when `wait` returns).
    fn finish_log(&mut self) {
        if let Some(reader) = self.log_reader.take() {
            let _ = reader.join();
        }
    }

    /// Starts the same relay again (same port, data directory and arguments).
    pub fn restart(mut self) -> Relay {
        if self.child.try_wait().expect("wait").is_none() {
            self.stop();
        }
        let temp = self._temp.take();
        let launcher = self.launcher.clone();
        let mut relay = Relay::spawn(self.data_dir.clone(), self.port, self.args.clone(), self.env.clone(), launcher);
        relay._temp = temp;
        relay
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// An HTTP GET with headers; returns (status, body).
    pub fn http_get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        http_get(self.port, path, headers)
    }
}

/// An HTTP GET to a loopback port; returns (status, body).
pub fn http_get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    http_request(port, "GET", path, headers, b"")
}

/// One HTTP request to a loopback port (a body gets its Content-Length); returns (status, body).
pub fn http_request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // A relay that answers before reading all of a refused body may reset the rest.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    (status, body)
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // A failing test shows what the relay said.
            self.finish_log();
            eprintln!("relay log:\n{}", self.log_text());
        } else if self.data_dir.join("data.mdb").is_file() {
            // Whatever the test did, even killed mid-write, the store's tables agree.
            let output = Command::new(tools_binary())
                .arg("verify")
                .arg("--data-dir")
                .arg(&self.data_dir)
                .output()
                .expect("run parrhesia-tools verify");
            assert!(
                output.status.success(),
                "the store the relay left does not verify:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// The `parrhesia-tools` binary beside `parrhesia` (the workspace's test run builds both).
/// NIP-19's example key pair, as a relay key: its `nsec1...` written (mode 0600) to
/// `dir/relay.key` for `relay_key_file`; its public key is `NIP19_EXAMPLE_PUBLIC`.
#[allow(dead_code)] // not every test binary has a relay key
pub fn nip19_example_key_file(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("relay.key");
    std::fs::write(&path, "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[allow(dead_code)]
pub const NIP19_EXAMPLE_PUBLIC: &str = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e";

pub fn tools_binary() -> PathBuf {
    let relay = PathBuf::from(env!("CARGO_BIN_EXE_parrhesia"));
    let tools = relay.with_file_name("parrhesia-tools");
    assert!(tools.is_file(), "{} is missing: run the workspace's tests (cargo test --workspace)", tools.display());
    tools
}

/// `deploy/entrypoint.sh`, the container image's entrypoint.
pub fn entrypoint_script() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/entrypoint.sh").to_string()
}

/// PATH with the workspace's binaries (the relay and `parrhesia-tools`) first, as the image
/// installs them.
pub fn entrypoint_path() -> String {
    let binaries = tools_binary().parent().expect("binary directory").display().to_string();
    format!("{binaries}:{}", std::env::var("PATH").unwrap_or_default())
}

/// Opens connections until there is one on each of a two-shard relay's shards.
pub fn one_per_shard(relay: &Relay) -> (Client, Client) {
    let mut by_shard: [Option<Client>; 2] = [None, None];
    for _ in 0..200 {
        let client = relay.connect();
        assert!(client.shard < 2, "shard header present and in range: {}", client.shard);
        let slot = client.shard;
        by_shard[slot].get_or_insert(client);
        if by_shard.iter().all(Option::is_some) {
            let [first, second] = by_shard;
            return (first.unwrap(), second.unwrap());
        }
    }
    panic!("200 connections all landed on one shard");
}

pub struct Client {
    socket: WebSocket<TcpStream>,
    /// Messages read while waiting for something else (an OK), kept in order for `recv`.
    held: std::collections::VecDeque<RelayMessage<'static>>,
    /// The shard that accepted this connection (the relay's `X-Parrhesia-Shard` header).
    pub shard: usize,
}

impl Client {
    pub fn connect(url: &str) -> Client {
        let address = url.trim_start_matches("ws://");
        Client::over(url, TcpStream::connect(address).expect("tcp connect"))
    }

    /// Connects from a given local address (another loopback address, say).
    pub fn connect_from(url: &str, source: &str) -> Client {
        let address: std::net::SocketAddr = url.trim_start_matches("ws://").parse().expect("address");
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        socket.bind(&std::net::SocketAddr::new(source.parse().expect("source"), 0).into()).expect("bind");
        socket.connect(&address.into()).expect("tcp connect");
        Client::over(url, socket.into())
    }

    /// Connects sending extra handshake headers (a proxy's `X-Forwarded-For`, say).
    pub fn connect_with_headers(url: &str, headers: &[(&str, &str)]) -> Client {
        use tungstenite::client::IntoClientRequest;
        let address = url.trim_start_matches("ws://");
        let stream = TcpStream::connect(address).expect("tcp connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut request = url.into_client_request().expect("request");
        for (name, value) in headers {
            let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("header name");
            request.headers_mut().insert(name, value.parse().expect("header value"));
        }
        let (socket, _) = tungstenite::client(request, stream).expect("websocket handshake");
        Client { socket, held: Default::default(), shard: usize::MAX }
    }

    /// Connects with a fixed, small socket receive buffer (no kernel autotuning), so a client
    /// that does not read fills up after `bytes` instead of after tens of megabytes.
    pub fn connect_with_receive_buffer(url: &str, bytes: usize) -> Client {
        let address: std::net::SocketAddr = url.trim_start_matches("ws://").parse().expect("address");
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        socket.connect(&address.into()).expect("tcp connect");
        Client::over(url, socket.into())
    }

    fn over(url: &str, stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let (socket, response) = tungstenite::client(url, stream).expect("websocket handshake");
        let shard = response
            .headers()
            .get("x-parrhesia-shard")
            .and_then(|value| value.to_str().ok()?.parse().ok())
            .unwrap_or(usize::MAX);
        Client { socket, held: Default::default(), shard }
    }

    pub fn send_text(&mut self, text: &str) {
        self.socket.send(Message::Text(text.into())).expect("send");
    }

    /// Sends `texts` in one write: the relay reads them as one burst.
    #[allow(dead_code)] // not every test binary sends bursts
    pub fn send_burst(&mut self, texts: &[String]) {
        for text in texts {
            self.socket.write(Message::Text(text.as_str().into())).expect("queue");
        }
        self.socket.flush().expect("send");
    }

    pub fn send_raw(&mut self, message: Message) {
        self.socket.send(message).expect("send");
    }

    /// The next text message, decoded.
    pub fn recv(&mut self) -> RelayMessage<'static> {
        if let Some(message) = self.held.pop_front() {
            return message;
        }
        self.read_message()
    }

    fn read_message(&mut self) -> RelayMessage<'static> {
        loop {
            match self.socket.read().expect("read from relay") {
                Message::Text(text) => return RelayMessage::decode(text.as_str()).expect("relay message"),
                Message::Close(frame) => panic!("closed by relay: {frame:?}"),
                _ => {}
            }
        }
    }

    /// Reads until the socket closes; returns the close code, if any, and texts seen before.
    pub fn recv_until_closed(&mut self) -> (Option<u16>, Vec<String>) {
        let mut texts = Vec::new();
        loop {
            match self.socket.read() {
                Ok(Message::Text(text)) => texts.push(text.to_string()),
                Ok(Message::Close(frame)) => return (frame.map(|frame| u16::from(frame.code)), texts),
                Ok(_) => {}
                Err(_) => return (None, texts),
            }
        }
    }

    /// Publishes and waits for the OK: (accepted, message).
    pub fn publish(&mut self, event: &Event) -> (bool, String) {
        self.send_text(&format!(r#"["EVENT",{}]"#, event.json()));
        loop {
            match self.read_message() {
                RelayMessage::Ok { event_id, accepted, message } if &event_id == event.id() => {
                    return (accepted, message.to_string());
                }
                other => self.held.push_back(other),
            }
        }
    }

    /// Sends a REQ and collects events until EOSE.
    pub fn req(&mut self, subscription: &str, filters: &[&str]) -> Vec<Event> {
        self.send_text(&format!(r#"["REQ","{subscription}",{}]"#, filters.join(",")));
        self.until_eose(subscription)
    }

    /// A NIP-45 COUNT: it opens no subscription, so nothing arrives for it later.
    pub fn count(&mut self, request: &str, filters: &[&str]) -> u64 {
        self.send_text(&format!(r#"["COUNT","{request}",{}]"#, filters.join(",")));
        match self.recv() {
            RelayMessage::Count { subscription_id, count, .. } if subscription_id == request => count,
            other => panic!("expected COUNT {request}, got {other:?}"),
        }
    }

    pub fn until_eose(&mut self, subscription: &str) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            match self.recv() {
                RelayMessage::Event { subscription_id, event } if subscription_id == subscription => {
                    events.push(Event::parse_trusted(&event).expect("event"))
                }
                RelayMessage::Eose { subscription_id } if subscription_id == subscription => return events,
                other => panic!("unexpected before EOSE: {other:?}"),
            }
        }
    }

    /// The next message, which must be an EVENT for `subscription`: anything else (an EVENT
    /// for another subscription, a NOTICE, a CLOSED) fails the test rather than being dropped
    /// unseen.
    pub fn next_event(&mut self, subscription: &str) -> Event {
        match self.recv() {
            RelayMessage::Event { subscription_id, event } if subscription_id == subscription => {
                Event::parse_trusted(&event).expect("event")
            }
            other => panic!("expected an EVENT for {subscription:?}, got {other:?}"),
        }
    }

    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.socket.get_ref().set_read_timeout(Some(timeout)).unwrap();
    }

    /// The next message if one arrives within `timeout`.
    pub fn recv_within(&mut self, timeout: Duration) -> Option<RelayMessage<'static>> {
        if let Some(message) = self.held.pop_front() {
            return Some(message);
        }
        self.set_read_timeout(timeout);
        let message = loop {
            match self.socket.read() {
                Ok(Message::Text(text)) => break Some(RelayMessage::decode(text.as_str()).expect("relay message")),
                Ok(Message::Close(frame)) => panic!("closed by relay: {frame:?}"),
                Ok(_) => {}
                Err(tungstenite::Error::Io(error))
                    if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    break None;
                }
                Err(error) => panic!("socket error: {error}"),
            }
        };
        self.set_read_timeout(WAIT);
        message
    }

    /// Whether no message arrives within `timeout`: frames that carry no message (pings,
    /// pongs) are read past until the timeout, which alone means quiet. A message (one already
    /// held included) or the relay closing is not quiet; what came is printed.
    pub fn quiet_for(&mut self, timeout: Duration) -> bool {
        if let Some(message) = self.held.pop_front() {
            eprintln!("not quiet: {message:?}");
            return false;
        }
        let deadline = Instant::now() + timeout;
        let quiet = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break true;
            }
            self.set_read_timeout(left);
            match self.socket.read() {
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(other) => {
                    eprintln!("not quiet: {other:?}");
                    break false;
                }
                Err(tungstenite::Error::Io(error))
                    if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    break true;
                }
                Err(error) => panic!("socket error: {error}"),
            }
        };
        self.set_read_timeout(WAIT);
        quiet
    }
}

pub fn keys(number: u8) -> Keys {
    Keys::from_secret_bytes([number.max(1); 32]).expect("valid secret")
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

pub fn note(keys: &Keys, content: &str) -> Event {
    keys.sign(now(), 1, vec![], content.to_string())
}

pub fn hex(bytes: &[u8]) -> String {
    parrhesia_engine::hex::encode(bytes)
}

/// Anonymous resident memory of a process, in bytes (heap and stacks, not the LMDB map).
pub fn anonymous_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status.lines().find(|line| line.starts_with("RssAnon:")).expect("RssAnon line");
    let kilobytes: u64 = line.split_whitespace().nth(1).and_then(|value| value.parse().ok()).expect("a number");
    kilobytes * 1024
}

/// A child process killed (and reaped) when the guard drops, the test passed or not.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a helper server that prints `{"port": N}` as its first line (the Node negentropy
/// relay, the Python TLS front) and returns it with the port.
pub fn spawn_listening(command: &mut Command) -> (ChildGuard, u16) {
    let mut child = ChildGuard(command.stdout(Stdio::piped()).spawn().expect("the helper starts"));
    let mut first_line = String::new();
    BufReader::new(child.0.stdout.take().expect("stdout")).read_line(&mut first_line).unwrap();
    let listening: serde_json::Value = serde_json::from_str(first_line.trim()).unwrap();
    let port = listening["port"].as_u64().and_then(|port| u16::try_from(port).ok()).expect("a port");
    (child, port)
}

/// A WebSocket connection made by hand, so a test can send frames no library would.
pub fn raw_websocket(relay: &Relay, deflate: bool) -> TcpStream {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    let offer = if deflate { "Sec-WebSocket-Extensions: permessage-deflate\r\n" } else { "" };
    let request = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{offer}\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        stream.read_exact(&mut byte).expect("the handshake's answer");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(head.contains("permessage-deflate"), deflate, "{head}");
    stream
}
