//! Replays each fuzz target's kept inputs through its body (`parrhesia_net::fuzzing`): the
//! seeds below, the corpus under `net/fuzz/corpus/<target>/` that fuzzing grew, and every
//! input that once crashed a target, under `net/fuzz/regressions/<target>/`. With
//! `PARRHESIA_WRITE_FUZZ_SEEDS=1` it also writes the seeds into the corpus directories (the
//! start of a fuzzing run; see `net/fuzz/README.md`).

use std::path::Path;

use parrhesia_net::cluster::frame::{Hello, Message, PROTOCOL_VERSION};
use parrhesia_net::cluster::interest::InterestPublisher;
use parrhesia_net::deflate::Deflater;
use parrhesia_net::fuzzing;
use parrhesia_net::identity::NodeKey;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 7] = [
    ("frame_decode", fuzzing::frame_decode),
    ("deflate_frames", fuzzing::deflate_frames),
    ("http_request", fuzzing::http_request),
    ("link_handshake", fuzzing::link_handshake),
    ("membership_datagram", fuzzing::membership_datagram),
    ("interest_summary", fuzzing::interest_summary),
    ("secure_records", fuzzing::secure_records),
];

#[test]
fn every_kept_input_still_passes_its_target() {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, target) in TARGETS {
        parrhesia_engine::fuzzing::replay_kept_inputs(&fuzz_dir, name, target, &seeds(name));
    }
}

/// A masked client frame.
fn client_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first_byte];
    match payload.len() {
        length @ 0..=125 => frame.push(0x80 | length as u8),
        length @ 126..=65535 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(length as u16).to_be_bytes());
        }
        length => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(length as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(payload);
    frame
}

fn hello(key: &NodeKey, nonce: u8) -> Hello {
    Hello {
        version: PROTOCOL_VERSION,
        cluster_id: "c".into(),
        public_key: key.public(),
        nonce: [nonce; 32],
        epoch: 1,
        advertise: "127.0.0.1:7000".into(),
        heads: Vec::new(),
        settings: Vec::new(),
    }
}

/// Well-formed inputs for each target, to start fuzzing from (and replayed as they are).
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let peer = NodeKey::from_secret([2; 32]);
    match target {
        "frame_decode" => vec![
            Message::Hello(hello(&peer, 3)).encode()[4..].to_vec(),
            Message::Ping(7).encode()[4..].to_vec(),
            Message::SummaryFull(InterestPublisher::default().full()).encode()[4..].to_vec(),
        ],
        "deflate_frames" => {
            let mut compressed = Vec::new();
            Deflater::new(6).compress_message(br#"["REQ","s",{"kinds":[1]}]"#, &mut compressed);
            let (head, tail) = compressed.split_at(compressed.len() / 2);
            vec![
                [&[7u8][..], &client_frame(0xc1, &compressed)].concat(),
                [&[3u8][..], &client_frame(0x41, head), &client_frame(0x89, b"ping"), &client_frame(0x80, tail)].concat(),
                [&[1u8][..], &client_frame(0x81, b"plain"), &client_frame(0x88, &[3, 232])].concat(),
                [&[0u8, 0x41, 0x8a], &[0; 4][..], &[0x4b; 10], &[0x00, 0xff], &(u64::MAX - 4).to_be_bytes()].concat(),
            ]
        }
        "http_request" => vec![
            b"GET / HTTP/1.1\r\nHost: r\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n\x81\x85\0\0\0\0hello".to_vec(),
            b"GET / HTTP/1.1\r\nHost: r\r\nAccept: application/nostr+json\r\n\r\n".to_vec(),
            b"GET /metrics HTTP/1.1\r\n\r\n".to_vec(),
            b"POST / HTTP/1.1\r\nContent-Type: application/nostr+json+rpc\r\nAuthorization: Nostr e30=\r\nContent-Length: 31\r\n\r\n{\"method\":\"supportedmethods\"}  ".to_vec(),
            b"OPTIONS / HTTP/1.1\r\nOrigin: x\r\n\r\n".to_vec(),
        ],
        "link_handshake" => {
            let hello_frame = Message::Hello(hello(&peer, 3)).encode();
            let auth = Message::Auth([5; 64]).encode();
            vec![[&[1u8][..], &hello_frame].concat(), [&[0u8][..], &hello_frame, &auth].concat()]
        }
        "membership_datagram" => vec![vec![0; 120], vec![1; 64], [&b"\0PRM2\x01c"[..], &peer.public(), &[0; 80]].concat()],
        "interest_summary" => vec![vec![0, 0, 0, 0, 0, 0, 0, 5, 1, 1, 0, 1, 0, 0, 3], vec![1, 0, 1, 255, 0, 0, 1, 1, 255, 3]],
        "secure_records" => {
            use parrhesia_net::cluster::secure::{Encryption, Preamble};
            let preamble = Preamble::new(Encryption::Required, peer.public()).encode();
            let plain = [Message::Hello(hello(&peer, 3)).encode(), Message::Ping(7).encode()].concat();
            vec![
                [&[0u8][..], &preamble].concat(),
                [&[1u8][..], &[9; 32]].concat(),
                [&[1u8][..], &[9; 48]].concat(),
                [&[2u8, 5, 0, 0, 0][..], &plain].concat(),
                [&[2u8, 0xff, 0xff, 0xff, 0xff][..], &vec![3; 70_000]].concat(),
            ]
        }
        other => panic!("no seeds for {other}"),
    }
}
