//! Fuzz target: a NIP-98 `Authorization` header and request body as an HTTP client sends them
//! to the NIP-86 endpoint (the body is `parrhesia_engine::fuzzing::nip98_header`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_engine::fuzzing::nip98_header(data));
