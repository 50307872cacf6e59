//! Fuzz target: arbitrary frames through `ClientMessage::decode` with default limits. Decoding
//! must never panic; a decoded event must survive its own serialization; a rejection must
//! encode to valid JSON (the body is `parrhesia_engine::fuzzing::decode_client_message`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_engine::fuzzing::decode_client_message(data));
