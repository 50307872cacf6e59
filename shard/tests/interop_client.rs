//! Interop on the wire with a third-party Nostr implementation: the rust-nostr `nostr` crate
//! builds and signs every event, encodes every client message and decodes every relay answer,
//! against the real relay on two shards. (Its networked client, `nostr-sdk`, was measured and
//! left out: it added about two minutes to a clean build of these tests on two cores.)

mod common;

use std::collections::{BTreeSet, VecDeque};
use std::net::TcpStream;

use common::{Relay, WAIT};
use nostr::event::{Event, EventBuilder, IntoEventBuilder, Kind, Tag};
use nostr::filter::Filter;
use nostr::message::{ClientMessage, RelayMessage, SubscriptionId};
use nostr::nips::nip01::Metadata;
use nostr::types::Timestamp;
use tungstenite::{Message, WebSocket};

#[path = "../../engine/tests/support/fixed_signer.rs"]
mod fixed_signer;
use fixed_signer::FixedSigner;

/// A WebSocket connection on which nostr writes every message and parses every answer: the
/// relay's frames never pass through our own codec (which `common::Client` decodes with).
struct NostrConnection {
    socket: WebSocket<TcpStream>,
    /// Messages read while waiting for an OK, kept in order for `recv`.
    held: VecDeque<RelayMessage<'static>>,
}

impl NostrConnection {
    fn open(relay: &Relay) -> NostrConnection {
        let stream = TcpStream::connect(("127.0.0.1", relay.port)).expect("tcp connect");
        stream.set_read_timeout(Some(WAIT)).expect("read timeout");
        let (socket, _) = tungstenite::client(relay.url(), stream).expect("websocket handshake");
        NostrConnection { socket, held: VecDeque::new() }
    }

    fn send(&mut self, message: ClientMessage<'_>) {
        self.send_text(&message.as_json());
    }

    fn send_text(&mut self, text: &str) {
        self.socket.send(Message::Text(text.into())).expect("send");
    }

    /// The next relay message, parsed by nostr; fails the test after `WAIT` without one.
    fn recv(&mut self) -> RelayMessage<'static> {
        if let Some(message) = self.held.pop_front() {
            return message;
        }
        loop {
            match self.socket.read().expect("a message within the wait bound") {
                Message::Text(text) => {
                    return RelayMessage::from_json(text.as_str())
                        .unwrap_or_else(|error| panic!("nostr cannot parse {text}: {error}"));
                }
                Message::Close(frame) => panic!("closed by relay: {frame:?}"),
                _ => {}
            }
        }
    }

    /// What `pick` makes of the first message it takes; the messages before it are kept, in
    /// order, for `recv`.
    fn wait_for<T>(&mut self, mut pick: impl FnMut(&RelayMessage<'static>) -> Option<T>) -> T {
        let mut kept = VecDeque::new();
        let picked = loop {
            let message = self.recv();
            match pick(&message) {
                Some(picked) => break picked,
                None => kept.push_back(message),
            }
        };
        kept.extend(self.held.drain(..));
        self.held = kept;
        picked
    }

    /// Publishes and returns the relay's OK as (accepted, message).
    fn publish(&mut self, event: &Event) -> (bool, String) {
        self.send(ClientMessage::event(event.clone()));
        self.ok_for(event.id)
    }

    fn ok_for(&mut self, id: nostr::event::EventId) -> (bool, String) {
        self.wait_for(|message| match message {
            RelayMessage::Ok { event_id, status, message } if *event_id == id => Some((*status, message.to_string())),
            _ => None,
        })
    }

    /// Stored events matching `filter`, up to EOSE; each must still verify after the round trip.
    fn fetch(&mut self, subscription: &str, filter: Filter) -> BTreeSet<Event> {
        let subscription = SubscriptionId::new(subscription);
        self.send(ClientMessage::req(subscription.clone(), vec![filter]));
        let mut events = BTreeSet::new();
        loop {
            match self.recv() {
                RelayMessage::Event { subscription_id, event } if *subscription_id == subscription => {
                    assert!(event.verify().is_ok(), "stored event no longer verifies: {}", event.as_json());
                    events.insert(event.into_owned());
                }
                RelayMessage::EndOfStoredEvents(subscription_id) if *subscription_id == subscription => break,
                other => panic!("unexpected before EOSE: {}", other.as_json()),
            }
        }
        self.send(ClientMessage::close(subscription));
        events
    }

    fn count(&mut self, subscription: &str, filter: Filter) -> usize {
        let subscription = SubscriptionId::new(subscription);
        self.send(ClientMessage::count(subscription.clone(), filter));
        match self.recv() {
            RelayMessage::Count { subscription_id, count } if *subscription_id == subscription => count,
            other => panic!("expected COUNT, got {}", other.as_json()),
        }
    }
}

fn seconds_ago(seconds: u64) -> Timestamp {
    Timestamp::from_secs(Timestamp::now().as_secs() - seconds)
}

fn note(author: &FixedSigner, content: &str) -> Event {
    author.sign(EventBuilder::new(Kind::TextNote, content))
}

/// The same event with one JSON field replaced, parsed back by nostr (which does not verify on
/// parsing), so the relay is the one that has to notice.
fn tampered(event: &Event, field: &str, value: serde_json::Value) -> Event {
    let mut json: serde_json::Value = serde_json::from_str(&event.as_json()).expect("event json");
    json[field] = value;
    let forged = Event::from_json(json.to_string()).expect("nostr parses it without verifying");
    assert!(forged.verify().is_err(), "the forgery must really be invalid");
    forged
}

#[test]
fn publish_fetch_count_and_live_delivery() {
    let relay = Relay::start(&["--shards", "2"]);
    let (mut publisher, mut reader) = (NostrConnection::open(&relay), NostrConnection::open(&relay));
    let author = FixedSigner::new(1);

    let notes: Vec<Event> = (0..3).map(|number| note(&author, &format!("stored note {number}"))).collect();
    for event in &notes {
        assert_eq!(publisher.publish(event), (true, String::new()));
    }
    assert_eq!(publisher.publish(&notes[0]), (true, "duplicate: already have this event".into()));

    let filter = Filter::new().author(author.public_key).kind(Kind::TextNote);
    let stored = reader.fetch("stored", filter.clone());
    assert_eq!(stored, notes.iter().cloned().collect(), "exactly the published notes, unchanged");
    assert_eq!(reader.count("count", filter.clone()), notes.len());
    // A reaction count qualifies for NIP-45 HLL: nostr parses the answer with its registers.
    let reaction = author.sign(EventBuilder::new(Kind::Reaction, "+").tag(Tag::event(notes[0].id)));
    assert_eq!(publisher.publish(&reaction), (true, String::new()));
    assert_eq!(reader.count("reactions", Filter::new().kind(Kind::Reaction).event(notes[0].id)), 1);

    // `limit: 0` asks for no stored events, so EOSE comes first and anything after it is live.
    let live_subscription = SubscriptionId::new("live");
    reader.send(ClientMessage::req(live_subscription.clone(), vec![filter.limit(0)]));
    assert_eq!(reader.recv(), RelayMessage::eose(live_subscription.clone()));
    let live = note(&author, "live note");
    assert_eq!(publisher.publish(&live), (true, String::new()));
    assert_eq!(reader.recv(), RelayMessage::event(live_subscription, live));
}

#[test]
fn replaceable_and_addressable_events_keep_the_newest() {
    let relay = Relay::start(&["--shards", "2"]);
    let (mut publisher, mut reader) = (NostrConnection::open(&relay), NostrConnection::open(&relay));
    let author = FixedSigner::new(3);

    let metadata = |name: &str, age_seconds: u64| {
        author.sign(Metadata::new().name(name).into_event_builder().custom_created_at(seconds_ago(age_seconds)))
    };
    let (older, newer, stale) = (metadata("older", 60), metadata("newer", 30), metadata("stale", 90));
    assert_eq!(publisher.publish(&older), (true, String::new()));
    assert_eq!(publisher.publish(&newer), (true, String::new()));
    let refusal = (false, "duplicate: a newer version of this replaceable event is stored".to_string());
    assert_eq!(publisher.publish(&stale), refusal, "a version older than the stored one");

    let profiles = reader.fetch("profiles", Filter::new().author(author.public_key).kind(Kind::Metadata));
    assert_eq!(profiles, [newer.clone()].into(), "only the newest kind 0 remains");
    assert_eq!(Metadata::from_json(&newer.content).expect("metadata json").name.as_deref(), Some("newer"));

    let article = |identifier: &str, content: &str, age_seconds: u64| {
        let builder = EventBuilder::new(Kind::LongFormTextNote, content).tag(Tag::identifier(identifier));
        author.sign(builder.custom_created_at(seconds_ago(age_seconds)))
    };
    let (first_draft, final_draft) = (article("post", "first draft", 60), article("post", "final draft", 30));
    let other = article("other", "another article", 60);
    for event in [&first_draft, &final_draft, &other] {
        assert_eq!(publisher.publish(event), (true, String::new()));
    }
    let articles = Filter::new().author(author.public_key).kind(Kind::LongFormTextNote);
    assert_eq!(reader.fetch("articles", articles.clone()), [final_draft.clone(), other].into(), "newest per d tag");
    assert_eq!(reader.fetch("post", articles.identifier("post")), [final_draft].into(), "by d tag");
}

#[test]
fn invalid_input_is_refused_with_the_invalid_prefix() {
    let relay = Relay::start(&["--shards", "2"]);
    let (mut publisher, mut reader) = (NostrConnection::open(&relay), NostrConnection::open(&relay));
    let author = FixedSigner::new(5);

    let genuine = note(&author, "genuine");
    let bad_signature = tampered(&genuine, "sig", note(&author, "other").sig.to_string().into());
    let bad_id = tampered(&genuine, "content", "changed after signing".into());
    assert_eq!(publisher.publish(&bad_signature), (false, "invalid: bad signature".into()));
    assert_eq!(publisher.publish(&bad_id), (false, "invalid: event id does not match its content".into()));

    // NOTICE and CLOSED, as nostr reads them.
    publisher.send_text("not json");
    match publisher.recv() {
        RelayMessage::Notice(message) => assert!(message.starts_with("invalid: bad message"), "NOTICE: {message}"),
        other => panic!("expected NOTICE, got {}", other.as_json()),
    }
    publisher.send_text(r#"["REQ","bad filter",{"kinds":[-1]}]"#);
    match publisher.recv() {
        RelayMessage::Closed { subscription_id, message } => {
            assert_eq!(subscription_id.as_str(), "bad filter");
            assert!(message.starts_with("invalid: "), "CLOSED message: {message}");
        }
        other => panic!("expected CLOSED, got {}", other.as_json()),
    }

    let by_author = Filter::new().author(author.public_key);
    assert!(reader.fetch("before", by_author.clone()).is_empty(), "nothing invalid was stored");
    // The connection survives the refusals: the genuine event still goes through.
    assert_eq!(publisher.publish(&genuine), (true, String::new()));
    assert_eq!(reader.fetch("after", by_author), [genuine].into());
}

impl NostrConnection {
    /// Answers the relay's AUTH challenge (prompted by a request that needs it) as `signer`,
    /// with nostr's NIP-42 builder; returns the relay's OK.
    fn authenticate(&mut self, signer: &FixedSigner, relay: &Relay) -> (bool, String) {
        let challenge = self.wait_for(|message| match message {
            RelayMessage::Auth { challenge } => Some(challenge.to_string()),
            _ => None,
        });
        let url = nostr::types::RelayUrl::parse(&relay.url()).expect("relay url");
        let auth = signer.sign(nostr::nips::nip42::ClientAuthentication::new(challenge, url).into_event_builder());
        self.send(ClientMessage::auth(auth.clone()));
        self.ok_for(auth.id)
    }

    /// The CLOSED answer to a REQ the relay refuses (an AUTH challenge before it is kept).
    fn refused(&mut self, subscription: &str, filter: Filter) -> String {
        let subscription = SubscriptionId::new(subscription);
        self.send(ClientMessage::req(subscription.clone(), vec![filter]));
        self.wait_for(|message| match message {
            RelayMessage::Closed { subscription_id, message } if **subscription_id == subscription => {
                Some(message.to_string())
            }
            RelayMessage::Auth { .. } => None,
            other => panic!("expected CLOSED, got {}", other.as_json()),
        })
    }
}

/// NIP-17/59: a gift wrap for Bob is served to Bob (authenticated) only: not to Carol, not to
/// a reader who did not authenticate, on REQ, COUNT, live delivery and NEG-OPEN.
#[test]
fn gift_wraps_reach_only_their_recipient() {
    let relay = Relay::start(&["--shards", "2"]);
    let (bob, carol, wrapper) = (FixedSigner::new(20), FixedSigner::new(21), FixedSigner::new(22));
    let wrap =
        |content: &str| wrapper.sign(EventBuilder::new(Kind::GiftWrap, content).tag(Tag::public_key(bob.public_key)));
    let mut anonymous = NostrConnection::open(&relay);
    // Anyone may publish a gift wrap; it is stored.
    let stored_wrap = wrap("sealed for bob");
    assert_eq!(anonymous.publish(&stored_wrap), (true, String::new()));
    let mention = carol.sign(EventBuilder::new(Kind::TextNote, "hi bob").tag(Tag::public_key(bob.public_key)));
    assert_eq!(anonymous.publish(&mention), (true, String::new()));
    let to_bob = Filter::new().pubkey(bob.public_key);
    let wraps = Filter::new().kind(Kind::GiftWrap);

    // Asking for the kind by name without AUTH: auth-required, not an empty answer.
    let refusal = anonymous.refused("wraps", wraps.clone());
    assert!(matches!(anonymous.recv(), RelayMessage::Auth { .. }), "the challenge came with the refusal");
    assert!(refusal.starts_with("auth-required:"), "{refusal}");
    anonymous.send_text(r#"["NEG-OPEN","neg",{"kinds":[1059]},"6100000200"]"#);
    loop {
        match anonymous.recv() {
            RelayMessage::NegErr { message, .. } => break assert!(message.starts_with("auth-required:"), "{message}"),
            RelayMessage::Auth { .. } => {}
            other => panic!("expected NEG-ERR, got {}", other.as_json()),
        }
    }
    // Other reads simply leave the wrap out, counts included.
    assert_eq!(anonymous.fetch("to-bob", to_bob.clone()), BTreeSet::from([mention.clone()]));
    assert_eq!(anonymous.count("count-to-bob", to_bob.clone()), 1);
    assert_eq!(anonymous.count("count-all", Filter::new()), 1);

    let mut carols = NostrConnection::open(&relay);
    assert!(carols.refused("prompt", wraps.clone()).starts_with("auth-required:"));
    assert_eq!(carols.authenticate(&carol, &relay), (true, String::new()));
    assert!(carols.fetch("wraps", wraps.clone()).is_empty());
    assert_eq!(carols.count("count-wraps", wraps.clone()), 0);
    assert_eq!(carols.count("count-all", Filter::new()), 1);

    let mut bobs = NostrConnection::open(&relay);
    assert!(bobs.refused("prompt", wraps.clone()).starts_with("auth-required:"));
    assert_eq!(bobs.authenticate(&bob, &relay), (true, String::new()));
    assert_eq!(bobs.fetch("wraps", wraps.clone()), BTreeSet::from([stored_wrap.clone()]));
    assert_eq!(bobs.count("count-wraps", wraps.clone()), 1);
    assert_eq!(bobs.count("count-all", Filter::new()), 2);

    // Live: each reader subscribes to what is addressed to Bob; a new wrap reaches only Bob, and
    // the note after it (a marker) reaches everyone, so nobody else got the wrap before it.
    let live = |connection: &mut NostrConnection, filter: Filter| {
        let subscription = SubscriptionId::new("live");
        connection.send(ClientMessage::req(subscription.clone(), vec![filter.limit(0)]));
        assert_eq!(connection.recv(), RelayMessage::eose(subscription));
    };
    live(&mut anonymous, to_bob.clone());
    live(&mut carols, to_bob.clone());
    live(&mut bobs, to_bob.clone());
    let live_wrap = wrap("live for bob");
    let marker = carol.sign(EventBuilder::new(Kind::TextNote, "marker").tag(Tag::public_key(bob.public_key)));
    let mut publisher = NostrConnection::open(&relay);
    assert_eq!(publisher.publish(&live_wrap), (true, String::new()));
    assert_eq!(publisher.publish(&marker), (true, String::new()));
    let subscription = SubscriptionId::new("live");
    assert_eq!(bobs.recv(), RelayMessage::event(subscription.clone(), live_wrap));
    assert_eq!(bobs.recv(), RelayMessage::event(subscription.clone(), marker.clone()));
    for reader in [&mut anonymous, &mut carols] {
        assert_eq!(reader.recv(), RelayMessage::event(subscription.clone(), marker.clone()));
    }
}
