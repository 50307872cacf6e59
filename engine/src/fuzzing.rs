//! The bodies of the engine's fuzz targets (`engine/fuzz/`), as plain functions: libFuzzer
//! runs them under cargo-fuzz, and `engine/tests/fuzz_corpus.rs` replays the kept corpus
//! through them on every test run. Each takes any bytes and panics only on a broken
//! property; none of this is used by the relay.

use std::path::{Path, PathBuf};

use base64::Engine;

use crate::management::{Call, Request, result, success};
use crate::nip98::{HTTP_AUTH_KIND, HttpRequest, check, header_value};
use crate::policy::Policy;
use crate::search::{QUERY_TERMS_MAX, Query, WORD_BYTES_MAX, for_each_word, idf};
use crate::{ClientMessage, Event, Filter, Keys, Limits};

/// A client's WebSocket text frame through `ClientMessage::decode` with default limits: a
/// decoded event survives its own serialization, a filter its own JSON, a rejection encodes
/// to valid JSON.
pub fn decode_client_message(data: &[u8]) {
    // WebSocket text frames are UTF-8; anything else never reaches the decoder.
    let Ok(frame) = std::str::from_utf8(data) else { return };
    let limits = Limits::default();
    // The relay reads an EVENT's claimed id first (its duplicate shortcut); the full decode of
    // an EVENT it accepts must claim the same id.
    let claimed = crate::message::claimed_event_id(frame);
    match ClientMessage::decode(frame, &limits) {
        Ok(ClientMessage::Event(event)) => {
            if let Some(claimed) = claimed {
                assert_eq!(&claimed, event.id(), "the claimed id is the decoded event's");
            }
            check_event(&event, &limits)
        }
        Ok(ClientMessage::Auth(event)) => check_event(&event, &limits),
        Ok(ClientMessage::Req { filters, .. } | ClientMessage::Count { filters, .. }) => {
            filters.iter().for_each(|filter| check_filter(filter, &limits))
        }
        Ok(ClientMessage::NegOpen { filter, .. }) => check_filter(&filter, &limits),
        Ok(_) => {}
        Err(rejection) => assert_json(&rejection.to_message().encode()),
    }
}

fn check_event(event: &Event, limits: &Limits) {
    // Any outcome is fine; the check itself must not panic on peer input.
    let _verdict = event.verify_signature();
    match Event::parse(event.json(), limits) {
        Ok(reparsed) => assert_eq!(&reparsed, event, "re-parse of our own JSON differs"),
        Err(reason) => panic!("our own JSON does not parse ({reason}): {}", event.json()),
    }
}

fn check_filter(filter: &Filter, limits: &Limits) {
    let text = filter.to_json();
    match Filter::parse(&text, limits) {
        Ok(reparsed) => assert_eq!(&reparsed, filter, "re-parse of our own filter JSON differs: {text}"),
        Err(reason) => panic!("our own filter JSON does not parse ({reason}): {text}"),
    }
}

fn assert_json(text: &str) {
    if let Err(error) = serde_json::from_str::<serde_json::Value>(text) {
        panic!("an answer is not JSON ({error}): {text}");
    }
}

/// NIP-50 search text: the first line a query, the rest a note's content. Every word is
/// non-empty, bounded and lowercase; a query has at most `QUERY_TERMS_MAX` terms; `matches`
/// and `score` agree.
pub fn search_query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (query_text, content) = text.split_once('\n').unwrap_or((text, ""));
    for_each_word(content, |word| {
        assert!(!word.is_empty(), "empty word");
        assert!(word.len() <= WORD_BYTES_MAX, "word of {} bytes", word.len());
        assert_eq!(word.to_lowercase(), word, "a word is handed out lowercase");
    });
    let query = Query::parse(query_text);
    assert!(query.terms.len() <= QUERY_TERMS_MAX);
    let weights: Vec<f64> = query.all_terms().map(|_| idf(1000, 10)).collect();
    let scored = query.score(content, &weights, 12.0);
    assert_eq!(query.matches(content), scored.is_some());
    if let Some(score) = scored {
        assert!(score.is_finite() && score > 0.0, "score {score}");
    }
}

/// The clock NIP-98 targets check against.
const NOW: u64 = 1_700_000_000;
const URL: &str = "https://relay.example/";

/// A NIP-98 `Authorization` header as an HTTP client sent it: the first line is the header,
/// the rest the request's body. Nothing panics; what is accepted was signed for this request.
pub fn nip98_header(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (header, body) = text.split_once('\n').unwrap_or((text, ""));
    let request = HttpRequest { url: URL, method: "POST", body: body.as_bytes() };
    if let Ok(event) = check(header, &request, NOW, 60) {
        assert_eq!(event.kind(), HTTP_AUTH_KIND);
        event.verify_signature().expect("an accepted header is signed");
    }
}

/// A NIP-98 event the fuzzer cannot forge, signed here from the fuzzer's bytes: lines are
/// `created_at offset`, `kind`, then tags (fields separated by tabs), then `--` and the body.
/// Reaches every check after the signature's; one built for this request verifies.
pub fn nip98_signed_event(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (head, body) = text.split_once("\n--\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let offset: i64 = lines.next().and_then(|line| line.trim().parse().ok()).unwrap_or(0);
    let kind: u16 = lines.next().and_then(|line| line.trim().parse().ok()).unwrap_or(HTTP_AUTH_KIND);
    let tags: Vec<Vec<String>> = lines.map(|line| line.split('\t').map(str::to_string).collect()).collect();
    let keys = Keys::from_secret_bytes([7; 32]).expect("a valid secret");
    let created_at = NOW.saturating_add_signed(offset);
    let event = keys.sign(created_at, kind, tags, String::new());
    let request = HttpRequest { url: URL, method: "POST", body: body.as_bytes() };
    let header = header_value(&event);
    if let Ok(accepted) = check(&header, &request, NOW, 60) {
        assert_eq!(accepted.id(), event.id());
        assert!(created_at.abs_diff(NOW) <= 60 && kind == HTTP_AUTH_KIND);
    }
    // The same event in other spellings of the header.
    let encoded = base64::engine::general_purpose::STANDARD.encode(event.json().as_bytes());
    for spelled in [format!("nostr {encoded}"), format!("  Nostr   {encoded}  "), format!("Bearer {encoded}")] {
        let _ = check(&spelled, &request, NOW, 60);
    }
}

/// A NIP-86 request body: decoded, applied to a policy, answered. The answer is JSON.
pub fn management_body(data: &[u8]) {
    let Ok(request) = Request::decode(data) else { return };
    let mut policy = Policy::default();
    if let Call::Change(change) = &request.call {
        policy.apply(change);
    }
    assert_json(&success(result(&request.call, &policy)));
}

/// Replays a target's kept inputs through its body, as `tests/fuzz_corpus.rs` of this crate and
/// of `net` do: `seeds` (written into the corpus directory too when
/// `PARRHESIA_WRITE_FUZZ_SEEDS` is set), then `<fuzz_dir>/corpus/<name>/`, which must not be
/// empty, and every past crash in `<fuzz_dir>/regressions/<name>/`. Panics naming the input
/// that fails.
pub fn replay_kept_inputs(fuzz_dir: &Path, name: &str, target: fn(&[u8]), seeds: &[Vec<u8>]) {
    assert!(!seeds.is_empty(), "{name} has seeds");
    let corpus_dir = fuzz_dir.join("corpus").join(name);
    let write_seeds = std::env::var_os("PARRHESIA_WRITE_FUZZ_SEEDS").is_some();
    for (number, seed) in seeds.iter().enumerate() {
        target(seed);
        if write_seeds {
            std::fs::create_dir_all(&corpus_dir).expect("a corpus directory");
            std::fs::write(corpus_dir.join(format!("seed-{number}")), seed).expect("a seed file");
        }
    }
    let corpus = inputs_in(&corpus_dir);
    assert!(!corpus.is_empty(), "{name}: no corpus kept under {}", corpus_dir.display());
    let regressions = inputs_in(&fuzz_dir.join("regressions").join(name));
    for (path, input) in corpus.iter().chain(&regressions) {
        let outcome = std::panic::catch_unwind(|| target(input));
        assert!(outcome.is_ok(), "{name} fails on {}", path.display());
    }
}

/// The files of `dir`, in name order, if it exists.
fn inputs_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|entry| entry.expect("a directory entry").path()).collect();
    files.sort();
    files.into_iter().map(|path| (path.clone(), std::fs::read(&path).expect("a corpus file"))).collect()
}
