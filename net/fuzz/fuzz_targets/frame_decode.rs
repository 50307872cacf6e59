//! Link frames come from the network: splitting a byte stream into frames and decoding each
//! must never panic, allocate beyond the frame limit, or accept what does not round-trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use parrhesia_net::cluster::frame::{Message, split_frames};

/// The limit the fuzzer runs with (the relay's default is 8 MiB; smaller finds the same bugs).
const FRAME_BYTES_MAX: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::decode(data) {
        // Whatever decodes must encode and decode back to itself.
        let frame = message.encode();
        assert_eq!(Message::decode(&frame[4..]).as_ref(), Ok(&message));
    }
    if let Ok((ranges, consumed)) = split_frames(data, FRAME_BYTES_MAX) {
        assert!(consumed <= data.len());
        for range in ranges {
            let _ = Message::decode(&data[range]);
        }
    }
});
