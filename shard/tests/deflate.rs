//! permessage-deflate against the real binary: a third-party client that compresses (soketto
//! with its deflate extension) publishes, queries and receives live events; the relay's
//! counters show what was compressed; compressed input is bounded by the message limit
//! (1009 past it, a NOTICE between the frame limit and the message limit, as without
//! compression); plain clients are unaffected.

mod common;

use std::net::TcpStream;

use common::metrics::{scrape, total};
use common::{Relay, WAIT, hex, keys, note};
use futures::executor::block_on;
use futures::io::AllowStdIo;
use parrhesia_engine::RelayMessage;
use soketto::connection::{Receiver, Sender};
use soketto::extension::deflate::Deflate;
use soketto::handshake::{Client, ServerResponse};
use tungstenite::Message;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};

type Socket = AllowStdIo<TcpStream>;

/// A soketto client that offers (and must get) permessage-deflate.
fn deflate_client(relay: &Relay) -> (Sender<Socket>, Receiver<Socket>) {
    let stream = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut client = Client::new(AllowStdIo::new(stream), "127.0.0.1", "/");
    client.add_extension(Box::new(Deflate::new(soketto::Mode::Client)));
    match block_on(client.handshake()).unwrap() {
        ServerResponse::Accepted { .. } => {}
        other => panic!("handshake refused: {other:?}"),
    }
    client.into_builder().finish()
}

fn send(sender: &mut Sender<Socket>, text: &str) {
    block_on(async {
        sender.send_text(text).await?;
        sender.flush().await
    })
    .unwrap();
}

fn receive(receiver: &mut Receiver<Socket>) -> RelayMessage<'static> {
    let mut data = Vec::new();
    block_on(receiver.receive_data(&mut data)).unwrap();
    RelayMessage::decode(std::str::from_utf8(&data).unwrap()).unwrap()
}

#[test]
fn a_compressing_client_publishes_queries_and_receives_live_events() {
    compressing_client(false);
    compressing_client(true);
}

/// `stored_events`: the relay compresses stored events too (`deflate_stored_events`).
fn compressing_client(stored_events: bool) {
    let setting = format!("deflate_stored_events={stored_events}");
    let relay = Relay::start(&["--shards", "2", "--set", &setting]);
    let (mut sender, mut receiver) = deflate_client(&relay);
    let author = keys(71);
    // Long enough to be compressed both ways (the threshold is 256 bytes).
    let event = note(&author, &"a note long enough to be worth compressing; ".repeat(8));
    send(&mut sender, &format!("[\"EVENT\",{}]", event.json()));
    match receive(&mut receiver) {
        RelayMessage::Ok { accepted: true, event_id, .. } => assert_eq!(event_id, *event.id()),
        other => panic!("expected OK true, got {other:?}"),
    }
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    send(&mut sender, &format!(r#"["REQ","s",{filter}]"#));
    match receive(&mut receiver) {
        RelayMessage::Event { event: stored, .. } => assert_eq!(&*stored, &**event.json(), "the stored event, intact"),
        other => panic!("expected the stored EVENT, got {other:?}"),
    }
    assert!(matches!(receive(&mut receiver), RelayMessage::Eose { .. }));
    // A plain client publishes; the compressing subscriber gets it live.
    let live = note(&author, &"live and compressed, once per event for every subscriber; ".repeat(6));
    assert_eq!(relay.connect().publish(&live), (true, String::new()));
    match receive(&mut receiver) {
        RelayMessage::Event { subscription_id, event: delivered } => {
            assert_eq!(subscription_id, "s");
            assert_eq!(&*delivered, &**live.json());
        }
        other => panic!("expected the live EVENT, got {other:?}"),
    }
    let metrics = scrape(&relay);
    assert_eq!(total(&metrics, "parrhesia_deflate_connections_total", &[]), 1.0);
    let bytes =
        |direction, form| total(&metrics, "parrhesia_deflate_bytes_total", &[("direction", direction), ("form", form)]);
    assert!(bytes("out", "compressed") > 0.0 && bytes("out", "compressed") < bytes("out", "plain"));
    // The live event is compressed either way; the stored one only when asked.
    let live_plain = (r#"["EVENT","s",]"#.len() + live.json().len()) as f64;
    let stored_plain = (r#"["EVENT","s",]"#.len() + event.json().len()) as f64;
    let expected = if stored_events { live_plain + stored_plain } else { live_plain };
    assert_eq!(bytes("out", "plain"), expected, "stored events compressed: {stored_events}");
    // Inbound counters are copied in once a second; the published EVENT was inflated.
    let inbound = common::metrics::scrape_until(&relay, "the inflated EVENT is counted", |scrape| {
        total(scrape, "parrhesia_deflate_bytes_total", &[("direction", "in"), ("form", "inflated")]) > 0.0
    });
    let inflated = total(&inbound, "parrhesia_deflate_bytes_total", &[("direction", "in"), ("form", "inflated")]);
    assert!(inflated >= event.json().len() as f64, "{inflated}");
}

/// A tungstenite client whose handshake carries `offer` as its extensions; returns the socket
/// and the relay's extensions answer, if any.
fn offering_client(relay: &Relay, offer: &str) -> (tungstenite::WebSocket<TcpStream>, Option<String>) {
    let stream = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let request = tungstenite::http::Request::builder()
        .uri(relay.url())
        .header("Host", "127.0.0.1")
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", tungstenite::handshake::client::generate_key())
        .header("Sec-WebSocket-Extensions", offer)
        .body(())
        .unwrap();
    let (socket, response) = tungstenite::client(request, stream).unwrap();
    let answer = response.headers().get("sec-websocket-extensions").map(|value| value.to_str().unwrap().to_string());
    (socket, answer)
}

/// A tungstenite client that offers permessage-deflate and sends frames it compressed itself.
fn raw_deflate_client(relay: &Relay) -> tungstenite::WebSocket<TcpStream> {
    let (socket, answer) = offering_client(relay, "permessage-deflate; client_max_window_bits");
    let expected = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    assert_eq!(answer.as_deref(), Some(expected));
    socket
}

fn send_compressed(socket: &mut tungstenite::WebSocket<TcpStream>, text: &[u8]) {
    let mut payload = Vec::new();
    parrhesia_net::deflate::Deflater::new(6).compress_message(text, &mut payload);
    let mut frame = Frame::message(payload, OpCode::Data(Data::Text), true);
    frame.header_mut().rsv1 = true;
    socket.send(Message::Frame(frame)).unwrap();
}

/// The next NOTICE and the close code that follows it.
fn notice_then_close(socket: &mut tungstenite::WebSocket<TcpStream>) -> (String, Option<u16>) {
    let mut notice = String::new();
    loop {
        match socket.read() {
            Ok(Message::Text(text)) => {
                if let Ok(RelayMessage::Notice { message }) = RelayMessage::decode(text.as_str()) {
                    notice = message.to_string();
                }
            }
            Ok(Message::Close(frame)) => return (notice, frame.map(|frame| u16::from(frame.code))),
            Ok(_) => {}
            Err(error) => panic!("read failed before the close: {error}"),
        }
    }
}

#[test]
fn compressed_input_is_bounded_by_the_message_limit() {
    let relay = Relay::start(&["--shards", "1"]);
    // 3 MiB of zeros in ~3 KiB: past the message limit (twice the 1 MiB frame limit).
    let mut bomb = raw_deflate_client(&relay);
    send_compressed(&mut bomb, &vec![b'0'; 3 << 20]);
    let (notice, code) = notice_then_close(&mut bomb);
    assert_eq!(code, Some(1009));
    assert!(notice.starts_with("invalid:") && notice.contains("inflates to more than"), "{notice}");

    // 1.5 MiB inflated: between the frame limit and the message limit, the engine answers with
    // a NOTICE and the connection goes on, as for an uncompressed message of that size.
    let mut large = raw_deflate_client(&relay);
    let mut text = b"[\"REQ\",\"x\",{\"search\":\"".to_vec();
    text.extend(std::iter::repeat_n(b'a', 3 << 19));
    text.extend_from_slice(b"\"}]");
    send_compressed(&mut large, &text);
    match large.read().unwrap() {
        Message::Text(text) => assert!(text.as_str().contains("invalid:"), "{}", text.as_str()),
        other => panic!("expected a NOTICE, got {other:?}"),
    }
    // Not deflate data: 1007.
    let mut frame = Frame::message(vec![0xff; 32], OpCode::Data(Data::Text), true);
    frame.header_mut().rsv1 = true;
    large.send(Message::Frame(frame)).unwrap();
    let (_, code) = notice_then_close(&mut large);
    assert_eq!(code, Some(1007));

    // The relay serves everyone else as before, and says it refused two messages.
    let event = note(&keys(72), "still here");
    assert_eq!(relay.connect().publish(&event), (true, String::new()));
    // Inbound counters are copied in once a second: wait for both, then check there are no more.
    let refused = common::metrics::scrape_until(&relay, "both refusals are counted", |scrape| {
        total(scrape, "parrhesia_inflate_refused_total", &[]) >= 2.0
    });
    assert_eq!(total(&refused, "parrhesia_inflate_refused_total", &[]), 2.0);
}

#[test]
fn deflate_off_declines_every_offer() {
    let relay = Relay::start(&["--shards", "1", "--set", "deflate=false"]);
    let (mut socket, answer) = offering_client(&relay, "permessage-deflate");
    assert_eq!(answer, None);
    let event = note(&keys(73), &"uncompressed ".repeat(50));
    socket.send(Message::text(format!("[\"EVENT\",{}]", event.json()))).unwrap();
    assert!(matches!(socket.read().unwrap(), Message::Text(_)), "an OK in a plain frame");
}

/// Bytes a hostile client streams after its frame headers (the relay must stop taking them).
const STREAMED_BYTES: usize = 64 << 20;

/// A masked client frame header claiming `length` bytes in the 64-bit form.
fn header_claiming(fin: bool, rsv1: bool, opcode: u8, length: u64) -> Vec<u8> {
    let mut header = vec![u8::from(fin) << 7 | u8::from(rsv1) << 6 | opcode, 0x80 | 127];
    header.extend_from_slice(&length.to_be_bytes());
    header.extend_from_slice(&[0x21, 0x42, 0x63, 0x84]);
    header
}

/// A masked client frame carrying `payload` (zero mask key: the payload goes as it is).
fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = header_claiming(fin, rsv1, opcode, payload.len() as u64);
    let at = frame.len() - 4;
    frame[at..].copy_from_slice(&[0; 4]);
    frame.extend_from_slice(payload);
    frame
}

/// Reads the relay's frames until its Close; its code, or None if the socket ended first.
fn close_code_of(mut stream: TcpStream) -> Option<u16> {
    use std::io::Read;
    loop {
        let mut head = [0u8; 2];
        stream.read_exact(&mut head).ok()?;
        let length = match head[1] & 0x7f {
            126 => {
                let mut bytes = [0u8; 2];
                stream.read_exact(&mut bytes).ok()?;
                u64::from(u16::from_be_bytes(bytes))
            }
            127 => {
                let mut bytes = [0u8; 8];
                stream.read_exact(&mut bytes).ok()?;
                u64::from_be_bytes(bytes)
            }
            short => u64::from(short),
        };
        assert!(length < 1 << 20, "a frame from the relay claims {length} bytes");
        let mut payload = vec![0; length as usize];
        stream.read_exact(&mut payload).ok()?;
        if head[0] & 0x0f == 8 {
            return payload.get(..2).map(|code| u16::from_be_bytes([code[0], code[1]]));
        }
    }
}

/// Sends `frames`, then streams up to `STREAMED_BYTES` more while another thread reads the
/// relay's answer. Returns the close code and how many streamed bytes the socket took.
fn attack(relay: &Relay, deflate: bool, frames: &[Vec<u8>]) -> (Option<u16>, usize) {
    use std::io::Write;
    let mut stream = common::raw_websocket(relay, deflate);
    let reader = std::thread::spawn({
        let stream = stream.try_clone().unwrap();
        move || close_code_of(stream)
    });
    let chunk = vec![0x5a; 64 * 1024];
    let mut streamed = 0;
    if stream.write_all(&frames.concat()).is_ok() {
        while streamed < STREAMED_BYTES && stream.write_all(&chunk).is_ok() {
            streamed += chunk.len();
        }
    }
    (reader.join().expect("the reader thread"), streamed)
}

/// The attack that grew a relay without bound (issue 34): a compressed message's first frame,
/// then a continuation whose 64-bit length wrapped the size check, then a stream of bytes the
/// relay gathered as compressed payload. Each variant is closed at its header, the relay's
/// heap does not grow by what was streamed, and the relay goes on serving.
#[test]
fn a_peer_length_cannot_make_the_relay_allocate_without_bound() {
    let relay = Relay::start(&["--shards", "1"]);
    assert!(relay.connect().publish(&note(&keys(74), "warm up")).0);
    let before = common::anonymous_rss_bytes(relay.pid());
    let first = frame(false, true, 1, &[0x4b; 10]);
    let several = [100, 200, 300].map(|length| frame(false, false, 0, &vec![0; length]));
    let message_limit = 2 << 20; // twice the default 1 MiB frame limit
    let cases: Vec<(&str, bool, Vec<Vec<u8>>, u16)> = vec![
        ("the frames of the report", true, vec![first.clone(), header_claiming(true, false, 0, u64::MAX - 4)], 1002),
        (
            "several continuations, then the wrapping one",
            true,
            [vec![first.clone()], several.to_vec(), vec![header_claiming(true, false, 0, u64::MAX - 614)]].concat(),
            1002,
        ),
        ("the length's top bit on a plain frame", true, vec![header_claiming(true, false, 1, 1 << 63)], 1002),
        (
            "a continuation just past the message limit",
            true,
            vec![first.clone(), header_claiming(true, false, 0, message_limit - 9)],
            1009,
        ),
        (
            // A length with its top bit set breaks RFC 6455 (section 5.2) before any limit.
            "without deflate: the wrapping continuation",
            false,
            vec![frame(false, false, 1, b"[\"REQ\",\"x\""), header_claiming(true, false, 0, u64::MAX - 4)],
            1002,
        ),
        (
            "without deflate: continuations adding up past the message limit",
            false,
            vec![
                frame(false, false, 1, &vec![b' '; 1 << 20]),
                frame(false, false, 0, &vec![b' '; 1 << 20]),
                header_claiming(true, false, 0, 16),
            ],
            1009,
        ),
    ];
    for (name, deflate, frames, expected) in cases {
        let (code, streamed) = attack(&relay, deflate, &frames);
        assert_eq!(code, Some(expected), "{name}");
        assert!(streamed < STREAMED_BYTES / 2, "{name}: the relay took {streamed} streamed bytes");
    }
    let grown = common::anonymous_rss_bytes(relay.pid()).saturating_sub(before);
    assert!(grown < 16 << 20, "the relay's heap grew by {grown} bytes");
    assert!(relay.connect().publish(&note(&keys(74), "still serving")).0);
}
