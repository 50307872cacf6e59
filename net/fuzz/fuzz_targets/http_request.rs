//! Fuzz target: the first bytes on a client socket: request head, route, management body (the body and its properties are `parrhesia_net::fuzzing::http_request`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_net::fuzzing::http_request(data));
