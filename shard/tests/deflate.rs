//! permessage-deflate against the real binary: a third-party client that compresses (soketto
//! with its deflate extension) publishes, queries and receives live events; the relay's
//! counters show what was compressed; compressed input is bounded by the message limit
//! (1009 past it, a NOTICE between the frame limit and the message limit, as without
//! compression); plain clients are unaffected.

mod common;

use std::net::TcpStream;
use std::time::Duration;

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
    std::thread::sleep(Duration::from_millis(1100)); // inbound counters are copied each second
    assert_eq!(total(&scrape(&relay), "parrhesia_inflate_refused_total", &[]), 2.0);
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
