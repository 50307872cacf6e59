//! Fuzz target: a NIP-86 request body, decoded, applied and answered (the body is
//! `parrhesia_engine::fuzzing::management_body`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_engine::fuzzing::management_body(data));
