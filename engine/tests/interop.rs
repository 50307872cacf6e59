//! Interop with the third-party `nostr` crate (rust-nostr 0.45): events, filters and messages
//! written by one side must read back identically on the other, and both must agree on ids,
//! signatures and filter matches. Deliberate differences are pinned in their own tests.

use nostr::event::{EventBuilder, FinalizeEvent, Kind, Tag};
use nostr::filter::{MatchEventOptions, SingleLetterTag};
use nostr::key::PublicKey;
use nostr::message::SubscriptionId;
use nostr::types::Timestamp;
use parrhesia_engine::{self as engine, KindClass, Limits, TagFilter};

const BASE_TIME: u64 = 1_700_000_000;

/// Content and tag values that stress JSON escaping: every short escape, other control
/// characters (written as `\u00XX`), DEL, non-ASCII, astral-plane emoji, U+2028/U+2029.
const TRICKY: &str = "quote \" backslash \\ slash / newline \n tab \t cr \r bs \u{8} ff \u{c} \
                      nul \u{0} soh \u{1} us \u{1f} del \u{7f} é 日本語 🦀 🏳️‍🌈 \u{2028}\u{2029} bom \u{feff} \\u0041";

mod support {
    pub mod fixed_signer;
}
use support::fixed_signer::FixedSigner;

#[test]
fn both_libraries_derive_the_same_public_key() {
    for seed in [1u8, 2, 5, 200] {
        let ours = engine::Keys::from_secret_bytes([seed; 32]).expect("valid secret");
        assert_eq!(FixedSigner::new(seed).public_key.to_bytes(), *ours.public_key());
    }
}

fn tag(values: &[&str]) -> Tag {
    Tag::parse(values.iter().copied()).expect("non-empty tag")
}

fn sign(signer: &FixedSigner, created_at: u64, kind: u16, tags: Vec<Tag>, content: &str) -> nostr::event::Event {
    EventBuilder::new(Kind::from_u16(kind), content)
        .tags(tags)
        .custom_created_at(Timestamp::from_secs(created_at))
        .finalize(signer)
        .expect("nostr signs and verifies")
}

fn tags_of(event: &nostr::event::Event) -> Vec<Vec<String>> {
    event.tags.iter().map(|tag| tag.as_slice().to_vec()).collect()
}

/// nostr's kind classes mapped onto ours; kinds nostr puts in none of its classes are stored
/// as regular events.
fn nostr_kind_class(kind: Kind) -> KindClass {
    if kind.is_replaceable() {
        KindClass::Replaceable
    } else if kind.is_ephemeral() {
        KindClass::Ephemeral
    } else if kind.is_addressable() {
        KindClass::Addressable
    } else {
        KindClass::Regular
    }
}

/// Events of every kind class, with e/p/t/d tags and content that stresses escaping.
fn nostr_event_table() -> Vec<(&'static str, nostr::event::Event)> {
    let alice = FixedSigner::new(1);
    let bob = FixedSigner::new(2);
    let root = sign(&alice, BASE_TIME, 1, vec![Tag::hashtag("Nostr")], "root note");
    let metadata = serde_json::json!({"name": "alice", "about": "line one\nline \"two\" \\ ☃"}).to_string();
    let reply_tags = vec![
        Tag::event(root.id),
        tag(&["e", &root.id.to_hex(), "wss://relay.example.com", "reply"]),
        Tag::public_key(alice.public_key),
        tag(&["p", &alice.public_key.to_hex(), "", "mention"]),
        Tag::hashtag("Rust"),
        tag(&["subject", TRICKY]),
        tag(&["single"]),
        tag(&["empty-value", ""]),
    ];
    let article_tags =
        vec![Tag::identifier("my-article ✍ \"1\""), tag(&["title", "On\tTabs"]), tag(&["published_at", "1700000000"])];
    let markdown = "# Title\n\n```rust\nfn main() {\n\tprintln!(\"hi\\n\");\n}\n```\n";
    let contacts = (0..20).map(|index| Tag::public_key(FixedSigner::new(10 + index).public_key)).collect();
    vec![
        ("text note, tricky content and tags", sign(&bob, BASE_TIME + 1, 1, reply_tags, TRICKY)),
        ("root text note", root.clone()),
        ("metadata (replaceable kind 0)", sign(&alice, BASE_TIME + 2, 0, vec![], &metadata)),
        ("contact list (replaceable kind 3)", sign(&alice, BASE_TIME + 3, 3, contacts, "")),
        ("relay list (replaceable kind 10002)", sign(&bob, BASE_TIME, 10002, vec![tag(&["r", "wss://a"])], "")),
        ("long-form article (addressable kind 30023)", sign(&alice, BASE_TIME + 4, 30023, article_tags, markdown)),
        ("ephemeral kind 20001", sign(&bob, BASE_TIME + 5, 20001, vec![Tag::event(root.id)], "typing…")),
        ("created_at zero, empty everything", sign(&alice, 0, 1, vec![], "")),
        ("largest kind, far-future created_at", sign(&bob, 4_102_444_800, 65535, vec![], "x")),
    ]
}

#[test]
fn nostr_events_parse_and_verify_in_engine() {
    let limits = Limits::default();
    for (name, theirs) in nostr_event_table() {
        let text = theirs.as_json();
        let ours = engine::Event::parse(&text, &limits).unwrap_or_else(|reason| panic!("{name}: {reason}\n{text}"));
        ours.verify_signature().unwrap_or_else(|reason| panic!("{name}: {reason}"));
        assert_eq!(ours.id(), theirs.id.as_bytes(), "{name}: id");
        assert_eq!(ours.pubkey(), theirs.pubkey.as_bytes(), "{name}: pubkey");
        assert_eq!(ours.created_at(), theirs.created_at.as_secs(), "{name}: created_at");
        assert_eq!(ours.kind(), theirs.kind.as_u16(), "{name}: kind");
        assert_eq!(ours.tags(), tags_of(&theirs).as_slice(), "{name}: tags");
        assert_eq!(ours.content(), theirs.content, "{name}: content");
        assert_eq!(ours.sig(), theirs.sig.as_bytes(), "{name}: sig");
        assert_eq!(ours.kind_class(), nostr_kind_class(theirs.kind), "{name}: kind class");
        // Same field order, same escaping: the two serializations are byte for byte equal.
        assert_eq!(ours.json().as_ref(), text, "{name}: serialization");
    }
}

#[test]
fn engine_json_of_nostr_events_reads_back_in_nostr() {
    for (name, theirs) in nostr_event_table() {
        let ours = engine::Event::parse(&theirs.as_json(), &Limits::default()).unwrap();
        let read_back = nostr::event::Event::from_json(ours.json().as_bytes())
            .unwrap_or_else(|error| panic!("{name}: nostr cannot read our JSON: {error}\n{}", ours.json()));
        read_back.verify().unwrap_or_else(|error| panic!("{name}: nostr refuses our JSON: {error}"));
        assert_eq!(read_back.id.as_bytes(), ours.id(), "{name}");
        assert_eq!(read_back, theirs, "{name}");
    }
}

#[test]
fn escape_spelling_does_not_change_the_id() {
    let (_, theirs) = nostr_event_table().into_iter().next().unwrap();
    let canonical = theirs.as_json();
    // Other clients may spell the same strings with different (valid) escapes. The id is over
    // the canonical serialization of the decoded strings, so both sides must still accept it.
    let respelled = canonical.replace('é', "\\u00e9").replace('/', "\\/").replace('🦀', "\\ud83e\\udd80");
    assert_ne!(respelled, canonical);
    let ours = engine::Event::parse(&respelled, &Limits::default()).unwrap();
    ours.verify_signature().unwrap();
    assert_eq!(ours.json().as_ref(), canonical, "re-serialized canonically");
    let read_back = nostr::event::Event::from_json(&respelled).unwrap();
    read_back.verify().unwrap();
    assert_eq!(read_back.id.as_bytes(), ours.id());
}

/// Secret seed, created_at, kind, tags, content.
type SignCase = (u8, u64, u16, Vec<Vec<String>>, String);

#[test]
fn engine_signed_events_verify_in_nostr() {
    let long_tag: Vec<String> = (0..50).map(|index| format!("value {index} {TRICKY}")).collect();
    let cases: Vec<SignCase> = vec![
        (1, BASE_TIME, 1, vec![vec!["t".into(), "nostr".into()]], "hello \"world\"\n".into()),
        (2, BASE_TIME, 1, vec![vec!["e".into(), "ab".repeat(32), "".into(), "root".into()]], TRICKY.into()),
        (3, 0, 0, vec![], r#"{"name":"bob","about":"a\nb"}"#.into()),
        (4, BASE_TIME, 30023, vec![vec!["d".into(), TRICKY.into()]], "article".into()),
        (5, BASE_TIME, 20001, vec![vec!["single".into()]], String::new()),
        (6, u64::from(u32::MAX) + 1, 65535, vec![long_tag], "x".repeat(10_000)),
    ];
    for (seed, created_at, kind, tags, content) in cases {
        let ours = engine::Keys::from_secret_bytes([seed; 32]).unwrap().sign(created_at, kind, tags, content);
        let theirs = nostr::event::Event::from_json(ours.json().as_bytes())
            .unwrap_or_else(|error| panic!("seed {seed}: {error}\n{}", ours.json()));
        theirs.verify().unwrap_or_else(|error| panic!("seed {seed}: {error}"));
        assert_eq!(theirs.id.as_bytes(), ours.id(), "seed {seed}");
        assert_eq!(theirs.pubkey.as_bytes(), ours.pubkey(), "seed {seed}");
        assert_eq!(theirs.created_at.as_secs(), ours.created_at(), "seed {seed}");
        assert_eq!(theirs.kind.as_u16(), ours.kind(), "seed {seed}");
        assert_eq!(tags_of(&theirs), ours.tags(), "seed {seed}");
        assert_eq!(theirs.content, ours.content(), "seed {seed}");
        assert_eq!(theirs.as_json(), ours.json().as_ref(), "seed {seed}: serialization");
    }
}

#[test]
fn kind_classes_agree_except_channel_metadata() {
    let disagreements: Vec<(u16, KindClass, KindClass)> = (0..=u16::MAX)
        .map(|kind| (kind, KindClass::of(kind), nostr_kind_class(Kind::from_u16(kind))))
        .filter(|(_, ours, theirs)| ours != theirs)
        .collect();
    // NIP-01 makes only 0, 3 and 10000-19999 replaceable; nostr also treats kind 41 (NIP-28
    // channel metadata) as replaceable. We follow NIP-01.
    assert_eq!(disagreements, vec![(41, KindClass::Regular, KindClass::Replaceable)]);
}

/// Both sides' version of each event in a small, hand-built set for filter matching.
struct MatchSet {
    theirs: Vec<nostr::event::Event>,
    ours: Vec<engine::Event>,
    alice: PublicKey,
    bob: PublicKey,
    carol: PublicKey,
}

fn match_set() -> MatchSet {
    let (alice, bob, carol) = (FixedSigner::new(1), FixedSigner::new(2), FixedSigner::new(3));
    let e0 = sign(&alice, BASE_TIME, 1, vec![Tag::hashtag("nostr")], "Hello nostr");
    let e1_tags = vec![Tag::event(e0.id), Tag::public_key(alice.public_key), Tag::hashtag("rust")];
    let e1 = sign(&bob, BASE_TIME + 10, 1, e1_tags, "reply to alice");
    let e2_tags = vec![
        Tag::event(e0.id),
        Tag::event(e1.id),
        Tag::public_key(alice.public_key),
        Tag::public_key(bob.public_key),
        Tag::hashtag("nostr"),
        Tag::hashtag("rust"),
    ];
    let e2 = sign(&carol, BASE_TIME + 20, 1, e2_tags, "thread summary");
    let e3 = sign(&alice, BASE_TIME + 30, 0, vec![], r#"{"name":"alice"}"#);
    let e4 = sign(&bob, BASE_TIME + 40, 7, vec![Tag::event(e2.id), Tag::public_key(carol.public_key)], "+");
    let e5_tags = vec![Tag::identifier("article-1"), Tag::hashtag("zig"), tag(&["title", "Zig"])];
    let e5 = sign(&alice, BASE_TIME + 50, 30023, e5_tags, "long form");
    let e6 = sign(&carol, BASE_TIME + 60, 30023, vec![Tag::identifier("article-2")], "another article");
    let e7_tags = vec![Tag::public_key(alice.public_key), tag(&["P", &carol.public_key.to_hex()])];
    let e7 = sign(&bob, BASE_TIME + 70, 20001, e7_tags, "ephemeral HELLO");
    let theirs = vec![e0, e1, e2, e3, e4, e5, e6, e7];
    let ours = theirs.iter().map(|event| engine::Event::parse(&event.as_json(), &Limits::default()).unwrap()).collect();
    MatchSet { theirs, ours, alice: alice.public_key, bob: bob.public_key, carol: carol.public_key }
}

/// What our decoder must make of a nostr filter: same sets, sorted; `limit` clamped.
fn expected_filter(theirs: &nostr::filter::Filter, limits: &Limits) -> engine::Filter {
    let sorted = |mut list: Vec<[u8; 32]>| {
        list.sort_unstable();
        list
    };
    let mut tags: Vec<TagFilter> = theirs
        .generic_tags
        .iter()
        .map(|(letter, values)| TagFilter { letter: letter.as_byte(), values: values.iter().cloned().collect() })
        .collect();
    tags.sort_unstable_by_key(|condition| condition.letter);
    engine::Filter {
        ids: theirs.ids.as_ref().map(|ids| sorted(ids.iter().map(|id| id.to_bytes()).collect())),
        authors: theirs.authors.as_ref().map(|keys| sorted(keys.iter().map(|key| key.to_bytes()).collect())),
        kinds: theirs.kinds.as_ref().map(|kinds| kinds.iter().map(Kind::as_u16).collect()),
        tags,
        since: theirs.since.map(|since| since.as_secs()),
        until: theirs.until.map(|until| until.as_secs()),
        limit: theirs.limit.map(|limit| (limit as u64).min(limits.filter_limit_max)),
        search: theirs.search.clone(),
    }
}

#[test]
fn nostr_filters_parse_and_match_like_nostr() {
    use nostr::filter::Filter;
    let set = match_set();
    let id = |index: usize| set.theirs[index].id;
    let at = |offset: u64| Timestamp::from_secs(BASE_TIME + offset);
    // (filter, how many of the eight events it matches): every field and combination is
    // exercised, and the counts prove each filter actually discriminates.
    let cases: Vec<(Filter, usize)> = vec![
        (Filter::new(), 8),
        (Filter::new().id(id(0)), 1),
        (Filter::new().ids([id(1), id(2)]), 2),
        (Filter::new().author(set.alice), 3),
        (Filter::new().authors([set.bob, set.carol]), 5),
        (Filter::new().kind(Kind::TextNote), 3),
        (Filter::new().kinds([Kind::Metadata, Kind::LongFormTextNote, Kind::from_u16(20001)]), 4),
        (Filter::new().kind(Kind::from_u16(9999)), 0),
        (Filter::new().event(id(0)), 2),
        (Filter::new().events([id(1), id(2)]), 2),
        (Filter::new().pubkey(set.alice), 3),
        (Filter::new().pubkeys([set.bob, set.carol]), 2),
        (Filter::new().hashtag("nostr"), 2),
        (Filter::new().hashtags(["rust", "zig"]), 3),
        (Filter::new().identifier("article-1"), 1),
        (Filter::new().custom_tag(SingleLetterTag::UPPERCASE_P, set.carol.to_hex()), 1),
        (Filter::new().since(at(30)), 5),
        (Filter::new().until(at(30)), 4),
        (Filter::new().since(at(20)).until(at(20)), 1),
        (Filter::new().since(at(50)).until(at(10)), 0),
        (Filter::new().hashtag("nostr").pubkey(set.alice), 1),
        (
            Filter::new()
                .authors([set.alice, set.bob])
                .kinds([Kind::TextNote, Kind::Reaction])
                .since(at(5))
                .until(at(45))
                .limit(20),
            2,
        ),
        (Filter::new().kind(Kind::TextNote).limit(0), 3),
        (Filter::new().limit(10_000), 8),
        (Filter::new().search("hello"), 2),
        (Filter::new().search("NOSTR"), 1),
    ];
    let limits = Limits::default();
    for (theirs, expected_count) in cases {
        let text = theirs.as_json();
        let ours = engine::Filter::parse(&text, &limits).unwrap_or_else(|reason| panic!("{text}: {reason}"));
        assert_eq!(ours, expected_filter(&theirs, &limits), "{text}");
        let mut count = 0;
        for (their_event, our_event) in set.theirs.iter().zip(&set.ours) {
            let their_verdict = theirs.match_event(their_event, MatchEventOptions::new());
            assert_eq!(our_event.kind(), their_event.kind.as_u16());
            assert_eq!(ours.matches(our_event), their_verdict, "filter {text} on event {}", our_event.json());
            count += usize::from(their_verdict);
        }
        assert_eq!(count, expected_count, "filter {text}");
    }
}

#[test]
fn filter_semantics_that_differ_from_nostr() {
    let set = match_set();
    let school = FixedSigner::new(4);
    let school_their = sign(&school, BASE_TIME, 1, vec![], "une école");
    let school_ours = engine::Event::parse(&school_their.as_json(), &Limits::default()).unwrap();
    let (hello_their, hello_ours) = (&set.theirs[0], &set.ours[0]); // content "Hello nostr"
    // (filter, event, our verdict, nostr's verdict). Ours: a present but empty list matches
    // nothing (nostr: anything); NIP-50 search is every whitespace-separated term, Unicode
    // case-insensitive, extension tokens ignored (nostr: one ASCII case-insensitive substring).
    let cases: Vec<(&str, &nostr::event::Event, &engine::Event, bool, bool)> = vec![
        (r#"{"ids":[]}"#, hello_their, hello_ours, false, true),
        (r#"{"authors":[]}"#, hello_their, hello_ours, false, true),
        (r#"{"kinds":[]}"#, hello_their, hello_ours, false, true),
        (r#"{"search":"nostr hello"}"#, hello_their, hello_ours, true, false),
        (r#"{"search":"hello include:spam"}"#, hello_their, hello_ours, true, false),
        (r#"{"search":"ÉCOLE"}"#, &school_their, &school_ours, true, false),
    ];
    for (text, their_event, our_event, our_verdict, their_verdict) in cases {
        let ours = engine::Filter::parse(text, &Limits::default()).unwrap();
        let theirs = nostr::filter::Filter::from_json(text).unwrap();
        assert_eq!(ours.matches(our_event), our_verdict, "ours: {text}");
        assert_eq!(theirs.match_event(their_event, MatchEventOptions::new()), their_verdict, "nostr: {text}");
    }
    // nostr's builder accepts any string as an `#e`/`#p` value; we refuse what cannot be an id.
    let not_hex = nostr::filter::Filter::new().custom_tag(SingleLetterTag::LOWERCASE_E, "not-an-id");
    let reason = engine::Filter::parse(&not_hex.as_json(), &Limits::default()).unwrap_err();
    assert!(reason.detail.contains("#e values must be 64 lowercase hex"), "{reason}");
}

#[test]
fn event_strictness_that_differs_from_nostr() {
    let ours = engine::Keys::from_secret_bytes([5; 32]).unwrap().sign(BASE_TIME, 1, vec![vec![]], "x".into());
    // NIP-01 tags hold one or more strings: both sides refuse an empty tag.
    let reason = engine::Event::parse(ours.json(), &Limits::default()).unwrap_err();
    assert!(reason.detail.contains("a tag must have at least one string"), "{reason}");
    let error = nostr::event::Event::from_json(ours.json().as_bytes()).unwrap_err();
    assert!(error.to_string().contains("empty tag"), "{error}");
    // NIP-01 hex is lowercase; nostr also reads uppercase ids.
    let (_, theirs) = nostr_event_table().swap_remove(1);
    let upper = theirs.as_json().replace(&theirs.id.to_hex(), &theirs.id.to_hex().to_uppercase());
    assert!(nostr::event::Event::from_json(&upper).unwrap().verify().is_ok());
    let reason = engine::Event::parse(&upper, &Limits::default()).unwrap_err();
    assert!(reason.detail.contains("id must be 64 lowercase hex"), "{reason}");
}

#[test]
fn nostr_client_messages_decode_in_engine() {
    use nostr::message::ClientMessage as Theirs;
    use parrhesia_engine::ClientMessage as Ours;
    let limits = Limits::default();
    let (_, event) = nostr_event_table().swap_remove(0);
    let auth = sign(&FixedSigner::new(6), BASE_TIME, 22242, vec![tag(&["challenge", "c"])], "");
    let parsed = |event: &nostr::event::Event| engine::Event::parse(&event.as_json(), &limits).unwrap();
    let first = nostr::filter::Filter::new().kind(Kind::TextNote).hashtag("nostr").limit(10);
    let second = nostr::filter::Filter::new().author(event.pubkey).since(Timestamp::from_secs(BASE_TIME));
    let our_filters = |filters: &[&nostr::filter::Filter]| -> Vec<engine::Filter> {
        filters.iter().map(|filter| engine::Filter::parse(&filter.as_json(), &limits).unwrap()).collect()
    };
    let subscription = "sub \"1\" ☃\n";
    let id = || SubscriptionId::new(subscription);
    let cases: Vec<(Theirs, Ours)> = vec![
        (Theirs::event(event.clone()), Ours::Event(parsed(&event))),
        (Theirs::auth(auth.clone()), Ours::Auth(parsed(&auth))),
        (
            Theirs::req(id(), vec![first.clone(), second.clone()]),
            Ours::Req { subscription_id: subscription.into(), filters: our_filters(&[&first, &second]) },
        ),
        (
            Theirs::count(id(), second.clone()),
            Ours::Count { subscription_id: subscription.into(), filters: our_filters(&[&second]) },
        ),
        (Theirs::close(id()), Ours::Close { subscription_id: subscription.into() }),
    ];
    for (theirs, expected) in cases {
        let text = theirs.as_json();
        let decoded = Ours::decode(&text, &limits).unwrap_or_else(|rejection| panic!("{text}: {rejection:?}"));
        assert_eq!(decoded, expected, "{text}");
    }
}

#[test]
fn engine_relay_messages_parse_in_nostr() {
    use nostr::message::RelayMessage as Theirs;
    use parrhesia_engine::RelayMessage as Ours;
    let (_, event) = nostr_event_table().swap_remove(0);
    let our_event = engine::Event::parse(&event.as_json(), &Limits::default()).unwrap();
    let id = *our_event.id();
    let subscription = "sub \"1\" ☃\n\u{1}";
    let their_id = || SubscriptionId::new(subscription);
    let message = "blocked: you said \"no\"\n\\ \u{1} 🦀";
    // (ours, what nostr must read from its encoding, whether nostr writes the same text).
    let cases: Vec<(Ours, Theirs, bool)> = vec![
        (
            Ours::Event { subscription_id: subscription.into(), event: our_event.json().to_string().into() },
            Theirs::event(their_id(), event.clone()),
            true,
        ),
        (Ours::Ok { event_id: id, accepted: true, message: "".into() }, Theirs::ok(event.id, true, ""), true),
        (
            Ours::Ok { event_id: id, accepted: false, message: message.into() },
            Theirs::ok(event.id, false, message),
            true,
        ),
        (Ours::Eose { subscription_id: subscription.into() }, Theirs::eose(their_id()), true),
        (
            Ours::Closed { subscription_id: subscription.into(), message: message.into() },
            Theirs::closed(their_id(), message),
            true,
        ),
        (Ours::Notice { message: message.into() }, Theirs::notice(message), true),
        (Ours::Auth { challenge: "challenge-1".into() }, Theirs::auth("challenge-1"), true),
        (
            Ours::Count { subscription_id: subscription.into(), count: 42, approximate: false, hll: None },
            Theirs::count(their_id(), 42),
            true,
        ),
        // nostr has no field for NIP-45 `approximate` or `hll`; it must still read the count.
        (
            Ours::Count { subscription_id: subscription.into(), count: 7, approximate: true, hll: Some("00ff".into()) },
            Theirs::count(their_id(), 7),
            false,
        ),
    ];
    for (ours, expected, same_text) in cases {
        let text = ours.encode();
        let theirs = Theirs::from_json(&text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(theirs, expected, "{text}");
        if same_text {
            assert_eq!(expected.as_json(), text, "nostr writes the same message differently");
        }
    }
    let Theirs::Event { event: read_back, .. } = Theirs::from_json(
        Ours::Event { subscription_id: "s".into(), event: our_event.json().to_string().into() }.encode(),
    )
    .unwrap() else {
        panic!("not an EVENT message")
    };
    read_back.verify().unwrap();
}
