//! Replays each fuzz target's kept inputs through its body (`parrhesia_engine::fuzzing`): the
//! seeds below, the corpus under `engine/fuzz/corpus/<target>/` that fuzzing grew, and every
//! input that once crashed a target, under `engine/fuzz/regressions/<target>/`. With
//! `PARRHESIA_WRITE_FUZZ_SEEDS=1` it also writes the seeds into the corpus directories (the
//! start of a fuzzing run; see `engine/fuzz/README.md`).

use std::path::Path;

use parrhesia_engine::fuzzing;
use parrhesia_engine::nip98::{HttpRequest, header_value, sign};
use parrhesia_engine::{Keys, hex};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 5] = [
    ("decode_client_message", fuzzing::decode_client_message),
    ("search_query", fuzzing::search_query),
    ("nip98_header", fuzzing::nip98_header),
    ("nip98_signed_event", fuzzing::nip98_signed_event),
    ("management_body", fuzzing::management_body),
];

#[test]
fn every_kept_input_still_passes_its_target() {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, target) in TARGETS {
        parrhesia_engine::fuzzing::replay_kept_inputs(&fuzz_dir, name, target, &seeds(name));
    }
}

/// Well-formed inputs for each target, to start fuzzing from (and replayed as they are).
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let keys = Keys::from_secret_bytes([3; 32]).unwrap();
    let note = keys.sign(1_700_000_000, 1, vec![vec!["t".into(), "nostr".into()]], "hello relays".into());
    let pubkey = hex::encode(keys.public_key());
    match target {
        "decode_client_message" => vec![
            format!(r#"["EVENT",{}]"#, note.json()).into_bytes(),
            format!(r##"["REQ","s",{{"authors":["{pubkey}"],"kinds":[1],"#t":["nostr"],"since":1,"limit":5}}]"##)
                .into_bytes(),
            br#"["COUNT","c",{"search":"coffee tea","kinds":[1]}]"#.to_vec(),
            br#"["NEG-OPEN","n",{"kinds":[1]},"6100"]"#.to_vec(),
            br#"["CLOSE","s"]"#.to_vec(),
        ],
        "search_query" => vec![b"coffee espr\nEspresso and coffee in the morning".to_vec(), b"a b c d\n".to_vec()],
        "nip98_header" => {
            let body = br#"{"method":"supportedmethods","params":[]}"#;
            let request = HttpRequest { url: "https://relay.example/", method: "POST", body };
            let header = header_value(&sign(&keys, &request, 1_700_000_000));
            vec![[header.as_bytes(), b"\n", body].concat(), b"Nostr e30=\n".to_vec()]
        }
        "nip98_signed_event" => vec![
            b"0\n27235\nu\thttps://relay.example/\nmethod\tPOST\n--\n".to_vec(),
            b"-30\n27235\nu\twss://relay.example\nmethod\tpost\npayload\t00\n--\n{}".to_vec(),
        ],
        "management_body" => vec![
            format!(r#"{{"method":"banpubkey","params":["{pubkey}","spam"]}}"#).into_bytes(),
            br#"{"method":"blockip","params":["2001:db8::1","abuse"]}"#.to_vec(),
            br#"{"method":"allowkind","params":[30023]}"#.to_vec(),
            br#"{"method":"listbannedpubkeys"}"#.to_vec(),
        ],
        other => panic!("no seeds for {other}"),
    }
}
