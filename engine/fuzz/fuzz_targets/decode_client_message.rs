//! Fuzz target: arbitrary frames through `ClientMessage::decode` with default limits. Decoding
//! must never panic; a decoded event must survive its own serialization; a rejection must
//! encode to valid JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use parrhesia_engine::{ClientMessage, Event, Filter, Limits};

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames are UTF-8; anything else never reaches the decoder.
    let Ok(frame) = std::str::from_utf8(data) else { return };
    let limits = Limits::default();
    match ClientMessage::decode(frame, &limits) {
        Ok(ClientMessage::Event(event) | ClientMessage::Auth(event)) => check_event(&event, &limits),
        Ok(ClientMessage::Req { filters, .. } | ClientMessage::Count { filters, .. }) => {
            filters.iter().for_each(|filter| check_filter(filter, &limits))
        }
        Ok(ClientMessage::NegOpen { filter, .. }) => check_filter(&filter, &limits),
        Ok(_) => {}
        Err(rejection) => {
            let answer = rejection.to_message().encode();
            if let Err(error) = serde_json::from_str::<serde_json::Value>(&answer) {
                panic!("rejection answer is not JSON ({error}): {answer}");
            }
        }
    }
});

fn check_event(event: &Event, limits: &Limits) {
    // Any outcome is fine; the check itself must not panic on peer input.
    let _verdict = event.verify_signature();
    match Event::parse(event.json(), limits) {
        Ok(reparsed) => assert_eq!(&reparsed, event, "re-parse of our own JSON differs"),
        Err(reason) => panic!("our own JSON does not parse ({reason}): {}", event.json()),
    }
}

fn check_filter(filter: &Filter, limits: &Limits) {
    let text = filter.to_json();
    match Filter::parse(&text, limits) {
        Ok(reparsed) => assert_eq!(&reparsed, filter, "re-parse of our own filter JSON differs: {text}"),
        Err(reason) => panic!("our own filter JSON does not parse ({reason}): {text}"),
    }
}
