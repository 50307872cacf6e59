//! Timeouts and liveness: a socket that never sends its request head is dropped after the
//! handshake timeout; the relay pings; a client that never answers pings is closed; and bad
//! configuration stops startup naming the key.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use common::{Relay, WAIT};
use tungstenite::Message;

#[test]
fn a_silent_socket_is_dropped_after_the_handshake_timeout() {
    let relay = Relay::start(&["--shards", "1", "--set", "handshake_timeout_ms=300"]);
    let mut socket = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let mut buffer = [0u8; 16];
    assert_eq!(socket.read(&mut buffer).unwrap(), 0, "closed without an answer");
}

#[test]
fn the_relay_pings_and_closes_clients_that_never_answer() {
    let relay = Relay::start(&["--shards", "1", "--set", "ping_interval_seconds=1", "--set", "pong_timeout_seconds=1"]);
    // This client reads (and so answers pings, tungstenite does that on read).
    let url = relay.url();
    let address = url.trim_start_matches("ws://").to_string();
    let stream = TcpStream::connect(&address).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let (mut answering, _) = tungstenite::client(url.as_str(), stream).unwrap();
    loop {
        if let Message::Ping(_) = answering.read().unwrap() {
            break;
        }
    }
    // This one never reads, so never answers: after a ping and the pong timeout it is closed.
    let mut silent = relay.connect();
    // Meanwhile the answering client keeps reading (tungstenite answers pings while reading).
    answering.get_ref().set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let started = std::time::Instant::now();
    let mut pings = 1;
    while started.elapsed() < Duration::from_secs(5) {
        match answering.read() {
            Ok(Message::Ping(_)) => pings += 1,
            Ok(Message::Close(frame)) => panic!("the answering client was closed: {frame:?}"),
            Ok(_) => {}
            Err(tungstenite::Error::Io(error)) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => panic!("{error}"),
        }
        let _ = answering.flush();
    }
    assert!(pings >= 3, "pinged every second ({pings} pings in 5 s)");
    assert_eq!(silent.recv_until_closed().0, Some(1001));
    answering.get_ref().set_read_timeout(Some(WAIT)).unwrap();
    answering.send(Message::Text(r#"["REQ","x",{"limit":0}]"#.into())).unwrap();
    loop {
        match answering.read().unwrap() {
            Message::Text(text) => {
                assert_eq!(text.as_str(), r#"["EOSE","x"]"#);
                break;
            }
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

/// A client that floods Pings and never reads, then asks for more than its queue holds: the
/// relay reads every Ping (it holds one answer, the latest, not one per Ping, so the queue
/// never fills with them), stops reading once the results pass the queue's high-water mark,
/// closes the client at the pong deadline although its reader is waiting on that queue, and
/// lets it go after the drain timeout. (Both were broken once: a Pong queued per Ping stopped
/// the reading at 8.6 MB of Pings, and a close did not wake a reader waiting on the queue, so
/// the connection was never let go.)
#[test]
fn a_client_flooding_pings_without_reading_is_closed_and_let_go() {
    use std::io::Write;
    let relay = Relay::start(&[
        "--shards",
        "1",
        "--set",
        "ping_interval_seconds=1",
        "--set",
        "pong_timeout_seconds=3",
        "--set",
        "close_drain_timeout_seconds=1",
        "--set",
        "outbound_bytes_max=65536",
    ]);
    let mut publisher = relay.connect();
    for index in 0..30 {
        assert!(publisher.publish(&common::note(&common::keys(75), &format!("note {index} {}", "x".repeat(50_000)))).0);
    }
    drop(publisher);
    let mut flooder = common::raw_websocket(&relay, false);
    flooder.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    // Pings of the most a control frame carries (125 bytes, masked with a zero key).
    let ping = [&[0x89, 0x80 | 125, 0, 0, 0, 0][..], &[b'p'; 125]].concat();
    let batch = ping.repeat(1_000);
    let mut sent = 0;
    while sent < 20 << 20 && flooder.write_all(&batch).is_ok() {
        sent += batch.len();
    }
    assert!(sent >= 20 << 20, "the relay stopped reading Pings after {sent} bytes");
    let mut request = |index: usize| {
        let request = format!(r#"["REQ","s{index}",{{"kinds":[1]}}]"#);
        let header = [0x81, 0x80 | request.len() as u8, 0, 0, 0, 0];
        flooder.write_all(&[&header[..], request.as_bytes()].concat()).unwrap();
    };
    (0..20).for_each(&mut request);
    // 30 MB of results: more than the sockets' buffers hold, so the queue fills. Then one more
    // request: its reader waits for the queue to drain, which it never will.
    std::thread::sleep(Duration::from_millis(300));
    request(20);
    common::metrics::scrape_until(&relay, "the flooder closed and gone", |scrape| {
        common::metrics::total(scrape, "parrhesia_connections_open", &[]) == 0.0
    });
    still_serves(&relay);
}

/// A new client is served.
fn still_serves(relay: &Relay) {
    let mut client = relay.connect();
    client.req("after", &[r#"{"limit":0}"#]);
}

/// Arguments, environment variables, and what stderr must mention.
type ConfigurationCase<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn bad_configuration_stops_startup_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<ConfigurationCase> = vec![
        (vec!["--set", "shardz=2"], vec![], "unknown configuration key `shardz`"),
        (vec!["--set", "outbound_overflow=explode"], vec![], "outbound_overflow"),
        (vec![], vec![("PARRHESIA_FRAME_BYTES_MAX", "lots")], "frame_bytes_max"),
        (vec!["--config", "/nonexistent/parrhesia.toml"], vec![], "/nonexistent/parrhesia.toml"),
    ];
    for (args, environment, expected) in cases {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_parrhesia"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(&args)
            .envs(environment)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn connections_over_the_limit_are_refused_with_503() {
    let relay = Relay::start(&["--shards", "1", "--set", "connections_max=2"]);
    let mut first = relay.connect();
    let _second = relay.connect();
    let stream = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    match tungstenite::client(relay.url().as_str(), stream) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("expected a 503 refusal, got {:?}", other.map(|_| "a websocket")),
    }
    // The connections already held keep working.
    assert!(first.req("still", &[r#"{"limit":0}"#]).is_empty());
}
