//! Fuzz target: a gossip datagram, raw or sealed with an allowed peer's key (the body and its properties are `parrhesia_net::fuzzing::membership_datagram`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_net::fuzzing::membership_datagram(data));
