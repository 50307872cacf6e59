//! Fuzz target: link frames: split a byte stream and decode each frame (the body and its properties are `parrhesia_net::fuzzing::frame_decode`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parrhesia_net::fuzzing::frame_decode(data));
