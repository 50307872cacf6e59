//! Fuzz target: a link's protection: preambles, Noise handshake messages, records and the frames behind them (the body and its properties are `parrhesia_net::fuzzing::secure_records`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_net::fuzzing::secure_records(data));
