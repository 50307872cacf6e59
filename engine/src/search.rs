//! NIP-50 full-text search, without storage: how text splits into words, what a query means,
//! and how a matching document is scored (BM25).
//!
//! Words are maximal runs of Unicode alphanumeric characters (combining marks stay with their
//! letter), lowercased with Unicode rules; each Han ideograph, hiragana and katakana character
//! is a word of its own (those scripts do not separate words with spaces). Words of one
//! character in other scripts ("a", "I", "2") and of more than `WORD_BYTES_MAX` bytes (hashes,
//! base64) are neither indexed nor searched. Text is not Unicode-normalised: a composed "é"
//! and "e" + combining acute are different words.

use std::collections::HashMap;

/// Longer words are not indexed, and a query term this long is dropped.
pub const WORD_BYTES_MAX: usize = 40;
/// Terms of a query past this many are dropped (each costs a lookup and a comparison per word
/// of every candidate).
pub const QUERY_TERMS_MAX: usize = 16;

/// NIP-50 extension tokens (`key:value`) that select behaviour rather than words. They are
/// accepted and ignored: this relay has no spam, language, sentiment or NSFW classifier, and
/// `domain:` would need NIP-05 lookups.
pub const EXTENSIONS: [&str; 5] = ["include:", "domain:", "language:", "sentiment:", "nsfw:"];

/// BM25's term-frequency saturation and length normalisation (the usual defaults).
const BM25_K1: f64 = 1.2;
const BM25_B: f64 = 0.75;

/// Han, hiragana, katakana: one word per character.
fn stands_alone(character: char) -> bool {
    matches!(character as u32,
        0x3040..=0x3098 | 0x309D..=0x309F // hiragana (not the sound marks)
        | 0x30A1..=0x30FA | 0x30FC..=0x30FF // katakana (not the double hyphen or middle dot)
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0x20000..=0x2FFFF) // CJK extensions B and later
}

/// Combining marks that belong to the letter before them.
fn combining(character: char) -> bool {
    matches!(character as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Calls `each` with every word of `text`, in order, repeats included. Words are found on the
/// text's bytes (ASCII needs no Unicode tables) and handed out in place when already lowercase.
pub fn for_each_word(text: &str, mut each: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut lowered = String::new();
    // The current word: where it starts, its characters, whether it is lowercase already.
    let mut start = 0;
    let mut characters = 0usize;
    let mut lowercase = true;
    let mut emit = |start: usize, end: usize, characters: usize, lowercase: bool| {
        if characters < 2 {
            return;
        }
        let word = &text[start..end];
        if lowercase {
            if word.len() <= WORD_BYTES_MAX {
                each(word);
            }
            return;
        }
        lowered.clear();
        for character in word.chars() {
            lowered.extend(character.to_lowercase());
        }
        if lowered.len() <= WORD_BYTES_MAX {
            each(&lowered);
        }
    };
    let mut position = 0;
    while position < bytes.len() {
        let byte = bytes[position];
        if byte.is_ascii() {
            if byte.is_ascii_alphanumeric() {
                if characters == 0 {
                    start = position;
                    lowercase = true;
                }
                lowercase &= !byte.is_ascii_uppercase();
                characters += 1;
            } else if characters > 0 {
                emit(start, position, characters, lowercase);
                characters = 0;
            }
            position += 1;
            continue;
        }
        let character = text[position..].chars().next().expect("a character starts here");
        let width = character.len_utf8();
        if stands_alone(character) {
            if characters > 0 {
                emit(start, position, characters, lowercase);
                characters = 0;
            }
            // A single ideograph is a word, unlike a single Latin letter.
            emit(position, position + width, 2, true);
        } else if character.is_alphanumeric() {
            if characters == 0 {
                start = position;
                lowercase = true;
            }
            lowercase &= character.to_lowercase().eq(std::iter::once(character));
            characters += 1;
        } else if combining(character) && characters > 0 {
            // Part of the letter before it.
        } else if characters > 0 {
            emit(start, position, characters, lowercase);
            characters = 0;
        }
        position += width;
    }
    if characters > 0 {
        emit(start, bytes.len(), characters, lowercase);
    }
}

/// The distinct words of `text` with how often each occurs, and the number of words in all
/// (the document length BM25 normalises by).
pub fn word_counts(text: &str) -> (HashMap<String, u32>, u32) {
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut length = 0u32;
    for_each_word(text, |word| {
        length = length.saturating_add(1);
        match counts.get_mut(word) {
            Some(count) => *count += 1,
            None => {
                counts.insert(word.to_owned(), 1);
            }
        }
    });
    (counts, length)
}

/// A NIP-50 query: every term must occur as a word of the content; the last term also matches
/// words it begins (type-ahead), unless the query ends with whitespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// Whole words, distinct, in query order.
    pub terms: Vec<String>,
    /// The last term when it matches as a prefix.
    pub prefix: Option<String>,
}

impl Query {
    pub fn parse(text: &str) -> Query {
        let mut terms: Vec<String> = Vec::new();
        // Whether the last token so far ends with a word, and that word is the last term: only
        // a term the query ends with is a prefix ("cof" of "good cof", not "good" of "good
        // include:spam").
        let mut ends_with_last_term = false;
        for token in text.split_whitespace() {
            ends_with_last_term = false;
            if EXTENSIONS.iter().any(|extension| token.to_lowercase().starts_with(extension)) {
                continue;
            }
            for_each_word(token, |word| {
                if !terms.iter().any(|term| term == word) {
                    terms.push(word.to_owned());
                }
                ends_with_last_term = terms.last().is_some_and(|last| last == word);
            });
        }
        let truncated = terms.len() > QUERY_TERMS_MAX;
        terms.truncate(QUERY_TERMS_MAX);
        let open_ended = !text.ends_with(char::is_whitespace);
        let last_is_word = terms.last().is_some_and(|last| !last.chars().all(stands_alone));
        let prefix = if open_ended && last_is_word && ends_with_last_term && !truncated { terms.pop() } else { None };
        Query { terms, prefix }
    }

    /// A query without any word matches nothing.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.prefix.is_none()
    }

    /// The terms and then the prefix, the order `score` takes their weights in.
    pub fn all_terms(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().chain(&self.prefix).map(String::as_str)
    }

    /// Whether every term occurs in `content` (and a word of it begins with the prefix).
    pub fn matches(&self, content: &str) -> bool {
        self.frequencies(content).is_some()
    }

    /// How often each term (then the prefix) occurs in `content`, and its length in words;
    /// `None` if one of them does not occur, or the query is empty.
    pub fn frequencies(&self, content: &str) -> Option<(Vec<u32>, u32)> {
        if self.is_empty() {
            return None;
        }
        let mut found = vec![0u32; self.terms.len() + usize::from(self.prefix.is_some())];
        let mut length = 0u32;
        for_each_word(content, |word| {
            length = length.saturating_add(1);
            if let Some(position) = self.terms.iter().position(|term| term == word) {
                found[position] += 1;
            }
            // A word may be a term and begin with the prefix ("coffee cof" matches "coffee").
            if let Some(prefix) = &self.prefix
                && word.starts_with(prefix.as_str())
            {
                found[self.terms.len()] += 1;
            }
        });
        found.iter().all(|&count| count > 0).then_some((found, length))
    }

    /// The BM25 score of `content`: for each term, its weight (`idf`, in `all_terms` order)
    /// times its saturated frequency normalised by the document's length against
    /// `average_length`. `None` if the content does not match.
    pub fn score(&self, content: &str, weights: &[f64], average_length: f64) -> Option<f64> {
        let (frequencies, length) = self.frequencies(content)?;
        let norm = 1.0 - BM25_B + BM25_B * f64::from(length) / average_length.max(1.0);
        Some(
            frequencies
                .iter()
                .zip(weights)
                .map(|(&frequency, weight)| {
                    let frequency = f64::from(frequency);
                    weight * frequency * (BM25_K1 + 1.0) / (frequency + BM25_K1 * norm)
                })
                .sum(),
        )
    }
}

/// Restricts a search filter to the kinds the relay indexes (the only events a search can
/// find in its store), so that live events are matched by the same rule as stored ones. A
/// filter without a search is left as it is; one naming no indexed kind matches nothing.
pub fn confine_to_kinds(filter: &mut crate::Filter, indexed: &[u16]) {
    if filter.search.is_none() {
        return;
    }
    let kinds = match filter.kinds.take() {
        Some(kinds) => kinds.into_iter().filter(|kind| indexed.contains(kind)).collect(),
        None => indexed.to_vec(),
    };
    filter.kinds = Some(kinds);
}

/// BM25's inverse document frequency of a term found in `matching` of `documents` documents
/// (the "+1" form: never negative).
pub fn idf(documents: u64, matching: u64) -> f64 {
    let documents = documents.max(matching) as f64;
    let matching = matching as f64;
    (1.0 + (documents - matching + 0.5) / (matching + 0.5)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_word(text, |word| out.push(word.to_owned()));
        out
    }

    #[test]
    fn words_table() {
        let cases: [(&str, &[&str]); 13] = [
            ("Hello, World!", &["hello", "world"]),
            ("a I 2 ok", &["ok"]),
            ("ÜBER café naïve", &["über", "café", "naïve"]),
            ("cafe\u{301} au lait", &["cafe\u{301}", "au", "lait"]),
            ("日本語です", &["日", "本", "語", "で", "す"]),
            ("カタ・カナ", &["カ", "タ", "カ", "ナ"]),
            ("東京tower", &["東", "京", "tower"]),
            ("Привет, мир", &["привет", "мир"]),
            ("don't stop-believing", &["don", "stop", "believing"]),
            ("https://example.com/a?b=c", &["https", "example", "com"]),
            ("#nostr @jack 2024", &["nostr", "jack", "2024"]),
            ("line\nbreak\ttab", &["line", "break", "tab"]),
            ("🤙🔥 emoji😀", &["emoji"]),
        ];
        for (text, expected) in cases {
            assert_eq!(words(text), expected, "{text:?}");
        }
        let long = "x".repeat(WORD_BYTES_MAX + 1);
        assert_eq!(words(&format!("{long} short")), ["short"]);
        assert_eq!(words(&"y".repeat(WORD_BYTES_MAX)), ["y".repeat(WORD_BYTES_MAX)]);
    }

    /// The rule written plainly, character by character, lowercasing every word.
    fn reference_words(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut word = String::new();
        let mut characters = 0;
        let mut flush = |word: &mut String, characters: &mut usize| {
            if *characters >= 2 && word.len() <= WORD_BYTES_MAX {
                out.push(word.clone());
            }
            word.clear();
            *characters = 0;
        };
        for character in text.chars() {
            if stands_alone(character) {
                flush(&mut word, &mut characters);
                word.push(character);
                characters = 2;
                flush(&mut word, &mut characters);
            } else if character.is_alphanumeric() {
                word.extend(character.to_lowercase());
                characters += 1;
            } else if combining(character) && characters > 0 {
                word.push(character);
            } else {
                flush(&mut word, &mut characters);
            }
        }
        flush(&mut word, &mut characters);
        out
    }

    #[test]
    fn words_equal_the_plain_rule_on_random_text() {
        let pool: Vec<char> = "aZ9 ,.-'\n\tÉéßİıǅДд日本カ\u{301}\u{20DD}🤙ΣσﬁⅫ１".chars().collect();
        let mut random = crate::random::SeededRandom::new(7);
        for _ in 0..20_000 {
            let length = random.below(30) as usize;
            let text: String = (0..length).map(|_| pool[random.below(pool.len() as u64) as usize]).collect();
            assert_eq!(words(&text), reference_words(&text), "{text:?}");
        }
        let long_upper = "A".repeat(WORD_BYTES_MAX + 1);
        assert_eq!(words(&long_upper), reference_words(&long_upper));
    }

    #[test]
    fn word_counts_count_repeats_and_length() {
        let (counts, length) = word_counts("the cat and the hat, THE end");
        assert_eq!(length, 7);
        assert_eq!(counts["the"], 3);
        assert_eq!(counts["cat"], 1);
        assert_eq!(counts.len(), 5);
    }

    #[test]
    fn query_table() {
        let query = |text: &str| {
            let parsed = Query::parse(text);
            (parsed.terms, parsed.prefix)
        };
        let owned = |terms: &[&str]| terms.iter().map(|term| term.to_string()).collect::<Vec<_>>();
        assert_eq!(query("Good Coff"), (owned(&["good"]), Some("coff".into())));
        assert_eq!(query("good coffee "), (owned(&["good", "coffee"]), None));
        assert_eq!(query("coffee include:spam"), (owned(&["coffee"]), None));
        assert_eq!(query("language:en nsfw:false coff"), (Vec::new(), Some("coff".into())));
        assert_eq!(query("Sentiment:positive"), (Vec::new(), None));
        assert_eq!(query("a"), (Vec::new(), None));
        assert_eq!(query("coffee coffee"), (Vec::new(), Some("coffee".into())));
        assert_eq!(query("日本"), (owned(&["日", "本"]), None));
        assert_eq!(query("stop-believ"), (owned(&["stop"]), Some("believ".into())));
        assert!(Query::parse("   ").is_empty());
        let many: Vec<String> = (0..40).map(|number| format!("w{number}")).collect();
        assert_eq!(Query::parse(&(many.join(" ") + " ")).terms.len(), QUERY_TERMS_MAX);
    }

    #[test]
    fn matching_needs_every_term_and_the_prefix() {
        let content = "Good morning, coffee lovers! ☕";
        let cases = [
            ("coffee", true),
            ("COFFEE morning", true),
            ("coffee tea", false),
            ("good lov", true),
            ("coffee cof", true),
            ("good lov ", false),
            ("cof", true),
            ("offee", false),
            ("include:spam coffee", true),
            ("a", false),
            ("", false),
        ];
        for (query, expected) in cases {
            assert_eq!(Query::parse(query).matches(content), expected, "{query:?}");
        }
    }

    #[test]
    fn search_filters_are_confined_to_the_indexed_kinds() {
        let confined = |text: &str| {
            let mut filter = crate::Filter::parse(text, &crate::Limits::default()).unwrap();
            confine_to_kinds(&mut filter, &[0, 1, 30023]);
            filter.kinds
        };
        assert_eq!(confined(r#"{"search":"x"}"#), Some(vec![0, 1, 30023]));
        assert_eq!(confined(r#"{"search":"x","kinds":[1,7]}"#), Some(vec![1]));
        assert_eq!(confined(r#"{"search":"x","kinds":[7]}"#), Some(vec![]));
        assert_eq!(confined(r#"{"kinds":[7]}"#), Some(vec![7]));
        assert_eq!(confined(r#"{"authors":[]}"#), None);
    }

    #[test]
    fn bm25_prefers_frequent_rare_terms_in_short_documents() {
        let query = Query::parse("coffee ");
        let weight = [idf(1000, 10)];
        let score = |text: &str| query.score(text, &weight, 10.0).expect("matches");
        assert!(score("coffee coffee coffee and more") > score("coffee and more words here"));
        assert!(score("coffee now") > score("coffee now with many many more words after it all"));
        assert_eq!(query.score("tea", &weight, 10.0), None);
        // A rare term weighs more than a common one.
        assert!(idf(1000, 10) > idf(1000, 500));
        assert!(idf(1000, 1000) > 0.0);
        let two = Query::parse("coffee morning ");
        let rare_coffee = [idf(1000, 5), idf(1000, 500)];
        assert!(
            two.score("coffee coffee morning", &rare_coffee, 3.0)
                > two.score("coffee morning morning", &rare_coffee, 3.0)
        );
    }
}
