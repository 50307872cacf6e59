//! Fuzz target: arbitrary frames through `ClientMessage::decode` with default limits, and
//! through the claimed-id reading that runs before it. Neither may panic; a decoded EVENT's id
//! is the claimed one; a decoded event must survive its own serialization; a rejection must
//! encode to valid JSON (the body is `parrhesia_engine::fuzzing::decode_client_message`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_engine::fuzzing::decode_client_message(data));
