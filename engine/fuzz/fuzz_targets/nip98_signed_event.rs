//! Fuzz target: NIP-98 events signed from the fuzzer's bytes, so every check after the
//! signature's is reached (the body is `parrhesia_engine::fuzzing::nip98_signed_event`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_engine::fuzzing::nip98_signed_event(data));
