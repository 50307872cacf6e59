//! Fuzz target: a peer's link handshake frames (hello, signature) (the body and its properties are `parrhesia_net::fuzzing::link_handshake`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_net::fuzzing::link_handshake(data));
