//! Fuzz target: a peer's interest summaries and deltas (the body and its properties are `parrhesia_net::fuzzing::interest_summary`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_net::fuzzing::interest_summary(data));
