//! Fuzz target: NIP-50 search text from a peer. The first line is a query, the rest a note's
//! content. Nothing may panic; every word is non-empty, at most `WORD_BYTES_MAX` bytes and
//! already lowercase; a query has at most `QUERY_TERMS_MAX` terms; `matches` and `score` agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use parrhesia_engine::search::{QUERY_TERMS_MAX, Query, WORD_BYTES_MAX, for_each_word, idf};

fuzz_target!(|data: &[u8]| {
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
});
