//! Fuzz target: a client's frames on a permessage-deflate connection, whole and in random reads (the body and its properties are `parrhesia_net::fuzzing::deflate_frames`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_net::fuzzing::deflate_frames(data));
