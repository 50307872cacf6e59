//! Persistence across restarts, `kill -9` during a stream of publishes (no event that got
//! `OK true` is lost), and graceful shutdown on SIGTERM (exit 0, clients closed with 1001).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{Relay, hex, keys, note};

#[test]
fn stored_events_survive_a_restart() {
    let relay = Relay::start(&["--shards", "2"]);
    let author = keys(5);
    let events: Vec<_> = (0..20).map(|number| note(&author, &format!("keep {number}"))).collect();
    let mut client = relay.connect();
    for event in &events {
        assert!(client.publish(event).0);
    }
    drop(client);
    let relay = relay.restart();
    let filter = format!(r#"{{"authors":["{}"]}}"#, hex(author.public_key()));
    let found = relay.connect().req("after", &[&filter]);
    let mut found_ids: Vec<_> = found.iter().map(|event| *event.id()).collect();
    let mut expected: Vec<_> = events.iter().map(|event| *event.id()).collect();
    found_ids.sort();
    expected.sort();
    assert_eq!(found_ids, expected);
}

#[test]
fn kill_minus_nine_loses_no_acknowledged_event() {
    let mut relay = Relay::start(&["--shards", "2"]);
    for trial in 0..4u8 {
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let publishers: Vec<_> = (0..3u8)
            .map(|publisher| {
                let (url, acknowledged, stop) = (relay.url(), acknowledged.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut client = common::Client::connect(&url);
                    let author = keys(40 + trial * 3 + publisher);
                    for number in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let event = note(&author, &format!("trial {trial} publisher {publisher} event {number}"));
                        client.send_text(&format!(r#"["EVENT",{}]"#, event.json()));
                        // The relay may die before answering: then this event is not acknowledged.
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.recv())) {
                            Ok(parrhesia_engine::RelayMessage::Ok { accepted: true, .. }) => {
                                acknowledged.lock().unwrap().push(*event.id())
                            }
                            Ok(other) => panic!("unexpected answer {other:?}"),
                            Err(_) => break,
                        }
                    }
                })
            })
            .collect();
        while acknowledged.lock().unwrap().len() < 50 * (usize::from(trial) + 1) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        relay.kill();
        stop.store(true, Ordering::Relaxed);
        for publisher in publishers {
            let _ = publisher.join();
        }
        relay = relay.restart();
        let acknowledged = acknowledged.lock().unwrap().clone();
        let mut client = relay.connect();
        for chunk in acknowledged.chunks(100) {
            let ids: Vec<String> = chunk.iter().map(|id| format!("\"{}\"", hex(id))).collect();
            let found = client.req("check", &[&format!(r#"{{"ids":[{}]}}"#, ids.join(","))]);
            assert_eq!(found.len(), chunk.len(), "trial {trial}: an acknowledged event was lost");
        }
    }
}

#[test]
fn sigterm_commits_answers_and_closes_with_1001() {
    let mut relay = Relay::start(&["--shards", "2"]);
    let mut idle = relay.connect();
    let mut client = relay.connect();
    let event = note(&keys(6), "before shutdown");
    assert!(client.publish(&event).0);
    assert_eq!(relay.stop(), Some(0), "exit code 0 after SIGTERM: {}", relay.log_text());
    assert_eq!(idle.recv_until_closed().0, Some(1001));
    assert!(relay.log_text().contains("parrhesia stopped"), "{}", relay.log_text());
    let relay = relay.restart();
    let found = relay.connect().req("back", &[&format!(r#"{{"ids":["{}"]}}"#, hex(event.id()))]);
    assert_eq!(found.len(), 1);
}
