//! Fuzz target: NIP-50 search text from a peer, the first line a query and the rest a note's
//! content (the body is `parrhesia_engine::fuzzing::search_query`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_engine::fuzzing::search_query(data));
