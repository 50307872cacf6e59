//! Marmot (MLS over Nostr) against the real binary: group messages need their `h` tag and a
//! REQ for them must name its groups; KeyPackages need their MLS tags; a welcome is accepted
//! only inside a gift wrap.

mod common;

use base64::Engine;
use common::{Relay, keys};
use parrhesia_engine::RelayMessage;

#[test]
fn marmot_events_are_checked_and_group_reads_name_their_groups() {
    let relay = Relay::start(&["--shards", "1"]);
    let mut client = relay.connect();
    let member = keys(140);
    let group = "cd".repeat(32);
    let sealed = base64::engine::general_purpose::STANDARD.encode([9u8; 64]);
    let sign = |kind: u16, tags: &[&[&str]], content: &str| {
        let tags = tags.iter().map(|tag| tag.iter().map(|part| part.to_string()).collect()).collect();
        member.sign(common::now(), kind, tags, content.to_string())
    };
    let message = sign(445, &[&["h", &group]], &sealed);
    assert_eq!(client.publish(&message), (true, String::new()));
    let key_package = sign(443, &[&["mls_protocol_version", "1.0"], &["mls_ciphersuite", "0x0001"]], "a2V5");
    assert_eq!(client.publish(&key_package), (true, String::new()));
    let wrapped_welcome = sign(1059, &[&["p", &"ef".repeat(32)]], "sealed welcome");
    assert_eq!(client.publish(&wrapped_welcome), (true, String::new()));
    for (event, part) in [
        (sign(445, &[], &sealed), "exactly one h tag"),
        (sign(445, &[&["h", &group]], "short"), "28 bytes"),
        (sign(443, &[&["mls_ciphersuite", "0x0001"]], "a2V5"), "mls_protocol_version"),
        (sign(444, &[], "bare welcome"), "gift wrap"),
    ] {
        let (accepted, reason) = client.publish(&event);
        assert!(!accepted && reason.starts_with("invalid:") && reason.contains(part), "{part}: {reason}");
    }
    client.send_text(r#"["REQ","all-groups",{"kinds":[445]}]"#);
    match client.recv() {
        RelayMessage::Closed { message, .. } => assert!(message.starts_with("restricted:") && message.contains("#h")),
        other => panic!("expected CLOSED, got {}", other.encode()),
    }
    let named = format!(r##"{{"kinds":[445],"#h":["{group}"]}}"##);
    let found = client.req("group", &[&named]);
    assert_eq!(found.iter().map(|event| *event.id()).collect::<Vec<_>>(), vec![*message.id()]);
    // A refused REQ ends the subscription it would have replaced: after its CLOSED, the live
    // "group" subscription gets nothing (a marker on another subscription comes first).
    client.send_text(r#"["REQ","group",{"kinds":[445]}]"#);
    assert!(matches!(client.recv(), RelayMessage::Closed { subscription_id, .. } if subscription_id == "group"));
    assert!(client.req("marker", &[r#"{"kinds":[1],"limit":0}"#]).is_empty());
    let mut publisher = relay.connect();
    let another = base64::engine::general_purpose::STANDARD.encode([8u8; 64]);
    assert!(publisher.publish(&sign(445, &[&["h", &group]], &another)).0);
    let marker = sign(1, &[], "marker");
    assert!(publisher.publish(&marker).0);
    match client.recv() {
        RelayMessage::Event { subscription_id, event } => {
            assert_eq!((subscription_id.as_ref(), event.as_ref()), ("marker", marker.json().as_ref()));
        }
        other => panic!("expected the marker, got {}", other.encode()),
    }
}
