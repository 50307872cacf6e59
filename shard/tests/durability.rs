//! Persistence across restarts, `kill -9` during a stream of publishes (no event that got
//! `OK true` is lost), and graceful shutdown on SIGTERM (exit 0, clients closed with 1001).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Relay, WAIT, hex, keys, note};

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

/// Event ids the relay answered `OK true`, shared by the publishing threads.
type Acknowledged = Arc<Mutex<Vec<[u8; 32]>>>;

/// A thread publishing notes one at a time until `stop`, or until the relay dies under it (then
/// the event in flight is not acknowledged). Any other answer than `OK true` panics the thread.
fn spawn_publisher(
    url: String,
    author: parrhesia_engine::Keys,
    label: String,
    acknowledged: Acknowledged,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut client = common::Client::connect(&url);
        for number in 0.. {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let event = note(&author, &format!("{label} event {number}"));
            // A dead relay fails the send or the read: the helpers panic, caught here.
            let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                client.send_text(&format!(r#"["EVENT",{}]"#, event.json()));
                client.recv()
            }));
            match answer {
                Ok(parrhesia_engine::RelayMessage::Ok { accepted: true, .. }) => {
                    acknowledged.lock().unwrap().push(*event.id())
                }
                Ok(other) => panic!("unexpected answer {other:?}"),
                Err(_) => break,
            }
        }
    })
}

/// Waits until `count` events are acknowledged; a publisher that ends first (it panicked, or
/// its relay went away) fails the test with its panic instead of leaving this to wait forever.
fn wait_for_acknowledged(acknowledged: &Acknowledged, count: usize, publishers: &[std::thread::JoinHandle<()>]) {
    let deadline = Instant::now() + WAIT;
    while acknowledged.lock().unwrap().len() < count {
        assert!(!publishers.iter().any(|publisher| publisher.is_finished()), "a publisher ended before the kill");
        assert!(Instant::now() < deadline, "{} of {count} acknowledged", acknowledged.lock().unwrap().len());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn kill_minus_nine_loses_no_acknowledged_event() {
    let mut relay = Relay::start(&["--shards", "2"]);
    for trial in 0..4u8 {
        let acknowledged = Acknowledged::default();
        let stop = Arc::new(AtomicBool::new(false));
        let publishers: Vec<_> = (0..3u8)
            .map(|publisher| {
                let author = keys(40 + trial * 3 + publisher);
                let label = format!("trial {trial} publisher {publisher}");
                spawn_publisher(relay.url(), author, label, acknowledged.clone(), stop.clone())
            })
            .collect();
        let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for_acknowledged(&acknowledged, 50 * (usize::from(trial) + 1), &publishers)
        }));
        relay.kill();
        stop.store(true, Ordering::Relaxed);
        // A publisher's own panic is the reason to show, before the wait's.
        for publisher in publishers {
            if let Err(panic) = publisher.join() {
                std::panic::resume_unwind(panic);
            }
        }
        if let Err(panic) = waited {
            std::panic::resume_unwind(panic);
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
