//! Reading a `gen` file (one signed event's JSON per line): the lines as they are sent, the
//! event id of a line (for matching OKs), and the corpus of values queries are built from.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use parrhesia_engine::{Event, Id, KindClass, Pubkey, hex};

/// Values kept per corpus list (ids, tag values); a larger file is sampled by its first lines.
pub const CORPUS_VALUES_MAX: usize = 200_000;

/// The non-empty lines of `path`, at most `lines_max` of them.
pub fn read_lines(path: &Path, lines_max: Option<usize>) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading events from {}", path.display()))?;
    let lines: Vec<String> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .take(lines_max.unwrap_or(usize::MAX))
        .map(str::to_string)
        .collect();
    if lines.is_empty() {
        bail!("{} holds no events (make one with `parrhesia-bench gen`)", path.display());
    }
    Ok(lines)
}

/// The id of an event line: read directly when the line starts `{"id":"<64 hex>"` (as `gen`
/// writes them), else by parsing the JSON.
pub fn event_id(line: &str) -> Option<Id> {
    const PREFIX: &str = "{\"id\":\"";
    if let Some(hex_text) = line.strip_prefix(PREFIX).and_then(|rest| rest.get(..64))
        && let Some(id) = hex::decode_array::<32>(hex_text)
    {
        return Some(id);
    }
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    hex::decode_array::<32>(value.get("id")?.as_str()?)
}

/// What queries are built from: authors, ids and tag values that occur in the file.
#[derive(Clone, Debug, Default)]
pub struct Corpus {
    /// Every author, most prolific first.
    pub authors_by_frequency: Vec<Pubkey>,
    /// Kinds that are stored (not ephemeral), most frequent first.
    pub kinds_by_frequency: Vec<u16>,
    /// Ids of stored events.
    pub stored_ids: Vec<Id>,
    /// `e` tag values, once per occurrence (a popular event appears often).
    pub referenced_ids: Vec<String>,
    /// `p` tag values, once per occurrence.
    pub mentioned_pubkeys: Vec<String>,
    /// The newest `created_at` of a stored event (0 for none): "now" on the preloaded store.
    pub newest_created_at: u64,
    /// Words of notes (kind 1) as NIP-50 search splits them, once per occurrence.
    pub note_words: Vec<String>,
}

impl Corpus {
    pub fn from_lines(lines: &[String]) -> anyhow::Result<Corpus> {
        let mut author_counts: HashMap<Pubkey, u64> = HashMap::new();
        let mut kind_counts: HashMap<u16, u64> = HashMap::new();
        let mut corpus = Corpus::default();
        for (index, line) in lines.iter().enumerate() {
            let event = Event::parse_trusted(line).with_context(|| format!("line {} is not an event", index + 1))?;
            *author_counts.entry(*event.pubkey()).or_default() += 1;
            if event.kind_class() == KindClass::Ephemeral {
                continue;
            }
            *kind_counts.entry(event.kind()).or_default() += 1;
            corpus.newest_created_at = corpus.newest_created_at.max(event.created_at());
            push_bounded(&mut corpus.stored_ids, *event.id());
            for value in event.tag_values("e") {
                push_bounded(&mut corpus.referenced_ids, value.to_string());
            }
            for value in event.tag_values("p") {
                push_bounded(&mut corpus.mentioned_pubkeys, value.to_string());
            }
            if event.kind() == 1 {
                parrhesia_engine::search::for_each_word(event.content(), |word| {
                    push_bounded(&mut corpus.note_words, word.to_string());
                });
            }
        }
        corpus.authors_by_frequency = by_frequency(author_counts);
        corpus.kinds_by_frequency = by_frequency(kind_counts);
        Ok(corpus)
    }
}

fn push_bounded<T>(list: &mut Vec<T>, value: T) {
    if list.len() < CORPUS_VALUES_MAX {
        list.push(value);
    }
}

/// Keys, most frequent first (ties by key, so the order is the same every run).
fn by_frequency<K: Ord + Copy>(counts: HashMap<K, u64>) -> Vec<K> {
    let mut entries: Vec<(K, u64)> = counts.into_iter().collect();
    entries.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(&right.0)));
    entries.into_iter().map(|(key, _)| key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parrhesia_engine::Keys;

    fn keys(number: u8) -> Keys {
        Keys::from_secret_bytes([number; 32]).expect("valid secret")
    }

    #[test]
    fn ids_are_read_from_the_prefix_or_by_parsing() {
        let event = keys(1).sign(1_700_000_000, 1, vec![], "hello".into());
        assert_eq!(event_id(event.json()), Some(*event.id()));
        let reordered = format!("{{\"kind\":1,\"id\":\"{}\"}}", hex::encode(event.id()));
        assert_eq!(event_id(&reordered), Some(*event.id()));
        assert_eq!(event_id("{\"id\":\"not hex\"}"), None);
        assert_eq!(event_id("garbage"), None);
    }

    #[test]
    fn corpus_orders_authors_and_skips_ephemeral_events() {
        let prolific = keys(2);
        let quiet = keys(3);
        let note = prolific.sign(10, 1, vec![], "a".into());
        let reaction = quiet.sign(
            11,
            7,
            vec![vec!["e".into(), hex::encode(note.id())], vec!["p".into(), hex::encode(prolific.public_key())]],
            "+".into(),
        );
        let second = prolific.sign(12, 1, vec![], "b".into());
        let ephemeral = prolific.sign(13, 20001, vec![vec!["e".into(), "ab".repeat(32)]], "now".into());
        let lines: Vec<String> =
            [&note, &reaction, &second, &ephemeral].iter().map(|event| event.json().to_string()).collect();
        let corpus = Corpus::from_lines(&lines).expect("parses");
        assert_eq!(corpus.authors_by_frequency, vec![*prolific.public_key(), *quiet.public_key()]);
        assert_eq!(corpus.kinds_by_frequency, vec![1, 7]);
        assert_eq!(corpus.stored_ids, vec![*note.id(), *reaction.id(), *second.id()]);
        assert_eq!(corpus.referenced_ids, vec![hex::encode(note.id())]);
        assert_eq!(corpus.mentioned_pubkeys, vec![hex::encode(prolific.public_key())]);
    }

    #[test]
    fn a_bad_line_is_named() {
        let error = Corpus::from_lines(&["{}".to_string()]).expect_err("not an event");
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn reading_skips_blank_lines_and_refuses_an_empty_file() {
        let directory = tempfile::tempdir().expect("temp dir");
        let path = directory.path().join("events.jsonl");
        std::fs::write(&path, "a\n\nb\nc\n").expect("write");
        assert_eq!(read_lines(&path, None).expect("read"), ["a", "b", "c"]);
        assert_eq!(read_lines(&path, Some(2)).expect("read"), ["a", "b"]);
        std::fs::write(&path, "\n").expect("write");
        assert!(read_lines(&path, None).is_err());
    }
}
