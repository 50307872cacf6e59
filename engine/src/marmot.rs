//! Marmot (MLS over Nostr): the structure a relay can check without the group's keys. Group
//! messages (kind 445) carry exactly one `h` tag (the 32-byte group id as lowercase hex), no
//! tags but `h` and `expiration`, and base64 content of at least a nonce and a tag (28 bytes);
//! a REQ for them must name its groups (`#h`). KeyPackages (kind 443, and the addressable 30443)
//! carry exactly one `mls_protocol_version` of `1.0`, exactly one non-empty `mls_ciphersuite`
//! and non-empty content. Welcomes (kind 444) travel only inside a NIP-59 gift wrap: a bare one
//! is refused.

use base64::Engine;

use crate::event::Event;
use crate::filter::Filter;
use crate::hex;
use crate::reason::{Prefix, Reason};

pub const KEY_PACKAGE: u16 = 443;
pub const WELCOME: u16 = 444;
pub const GROUP_MESSAGE: u16 = 445;
pub const ADDRESSABLE_KEY_PACKAGE: u16 = 30443;

/// The nonce and the ChaCha20-Poly1305 tag: the least a group message's content decodes to.
const GROUP_MESSAGE_BYTES_MIN: usize = 12 + 16;

/// Checks a Marmot event's structure; other kinds pass.
pub fn check_event(event: &Event) -> Result<(), Reason> {
    match event.kind() {
        WELCOME => Err(Reason::invalid(
            "kind 444 welcomes travel only inside a kind 1059 gift wrap (Marmot, NIP-59), never bare",
        )),
        GROUP_MESSAGE => check_group_message(event),
        KEY_PACKAGE | ADDRESSABLE_KEY_PACKAGE => check_key_package(event),
        _ => Ok(()),
    }
}

fn check_group_message(event: &Event) -> Result<(), Reason> {
    let groups: Vec<&Vec<String>> = event.tags().iter().filter(|tag| tag[0] == "h").collect();
    match groups.as_slice() {
        [tag] if tag.len() == 2 && hex::decode_array::<32>(&tag[1]).is_some() => {}
        _ => return Err(Reason::invalid("kind 445 needs exactly one h tag: the 32-byte group id as lowercase hex")),
    }
    if let Some(tag) = event.tags().iter().find(|tag| tag[0] != "h" && tag[0] != "expiration") {
        return Err(Reason::invalid(format!("kind 445 carries only h and expiration tags, not {:?}", tag[0])));
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(event.content());
    if !decoded.is_ok_and(|bytes| bytes.len() >= GROUP_MESSAGE_BYTES_MIN) {
        return Err(Reason::invalid("kind 445 content must be base64 of a nonce and ciphertext (28 bytes at least)"));
    }
    Ok(())
}

fn check_key_package(event: &Event) -> Result<(), Reason> {
    let single = |name: &str| {
        let mut tags = event.tags().iter().filter(|tag| tag[0] == name);
        match (tags.next(), tags.next()) {
            (Some(tag), None) => Some(tag),
            _ => None,
        }
    };
    if !single("mls_protocol_version").is_some_and(|tag| tag.len() == 2 && tag[1] == "1.0") {
        return Err(Reason::invalid("a KeyPackage needs exactly one mls_protocol_version tag of 1.0"));
    }
    if !single("mls_ciphersuite").is_some_and(|tag| tag.len() >= 2 && tag[1..].iter().all(|id| !id.is_empty())) {
        return Err(Reason::invalid("a KeyPackage needs exactly one mls_ciphersuite tag naming its ciphersuite"));
    }
    if event.content().is_empty() {
        return Err(Reason::invalid("a KeyPackage's content is the encoded KeyPackage; it is empty"));
    }
    Ok(())
}

/// Checks a REQ/COUNT filter: one that names kind 445 must name its groups (`#h`).
pub fn check_filter(filter: &Filter) -> Result<(), Reason> {
    let names_groups = filter.kinds.as_ref().is_some_and(|kinds| kinds.contains(&GROUP_MESSAGE));
    if names_groups && !filter.tags.iter().any(|condition| condition.letter == b'h') {
        return Err(Reason::new(
            Prefix::Restricted,
            "a filter for kind 445 (Marmot group messages) must name its groups with #h",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Keys;
    use crate::limits::Limits;

    fn event(kind: u16, tags: &[&[&str]], content: &str) -> Event {
        let keys = Keys::from_secret_bytes([3; 32]).expect("secret");
        let tags = tags.iter().map(|tag| tag.iter().map(|part| part.to_string()).collect()).collect();
        keys.sign(1_700_000_000, kind, tags, content.into())
    }

    #[test]
    fn each_marmot_rule() {
        let group = "ab".repeat(32);
        let sealed = base64::engine::general_purpose::STANDARD.encode([7u8; 40]);
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 27]);
        let version: &[&str] = &["mls_protocol_version", "1.0"];
        let suite: &[&str] = &["mls_ciphersuite", "0x0001"];
        let cases: Vec<(Event, Option<&str>)> = vec![
            (event(445, &[&["h", &group]], &sealed), None),
            (event(445, &[&["h", &group], &["expiration", "1800000000"]], &sealed), None),
            (event(445, &[], &sealed), Some("exactly one h tag")),
            (event(445, &[&["h", &group], &["h", &group]], &sealed), Some("exactly one h tag")),
            (event(445, &[&["h", "not-hex"]], &sealed), Some("exactly one h tag")),
            (event(445, &[&["h", &group, "extra"]], &sealed), Some("exactly one h tag")),
            (event(445, &[&["h", &group], &["p", &group]], &sealed), Some("only h and expiration")),
            (event(445, &[&["h", &group]], &short), Some("28 bytes")),
            (event(445, &[&["h", &group]], "not base64!"), Some("28 bytes")),
            (event(444, &[], "welcome"), Some("inside a kind 1059 gift wrap")),
            (event(443, &[version, suite], "a2V5cGFja2FnZQ=="), None),
            (event(30443, &[&["d", &group], version, suite], "a2V5cGFja2FnZQ=="), None),
            (event(443, &[suite], "x"), Some("mls_protocol_version")),
            (event(443, &[&["mls_protocol_version", "2.0"], suite], "x"), Some("mls_protocol_version")),
            (event(443, &[version, version, suite], "x"), Some("mls_protocol_version")),
            (event(443, &[version], "x"), Some("mls_ciphersuite")),
            (event(443, &[version, &["mls_ciphersuite"]], "x"), Some("mls_ciphersuite")),
            (event(443, &[version, suite], ""), Some("empty")),
            (event(1059, &[&["p", &group]], "wrapped"), None),
            (event(1, &[], ""), None),
        ];
        for (event, refusal) in cases {
            match (check_event(&event), refusal) {
                (Ok(()), None) => {}
                (Err(reason), Some(part)) => {
                    let text = reason.to_string();
                    assert!(text.starts_with("invalid:") && text.contains(part), "kind {}: {text}", event.kind());
                }
                (got, expected) => {
                    panic!("kind {} {:?}: got {got:?}, expected {expected:?}", event.kind(), event.tags())
                }
            }
        }
    }

    #[test]
    fn group_message_filters_name_their_groups() {
        let group = "ab".repeat(32);
        let cases = [
            (r#"{"kinds":[445]}"#.to_string(), false),
            (
                r#"{"kinds":[1,445],"authors":["0000000000000000000000000000000000000000000000000000000000000000"]}"#
                    .into(),
                false,
            ),
            (format!(r##"{{"kinds":[445],"#h":["{group}"]}}"##), true),
            (r#"{"kinds":[1]}"#.into(), true),
            ("{}".into(), true),
        ];
        for (text, allowed) in cases {
            let filter = Filter::parse(&text, &Limits::default()).unwrap();
            let checked = check_filter(&filter);
            assert_eq!(checked.is_ok(), allowed, "{text}");
            if let Err(reason) = checked {
                assert!(reason.to_string().starts_with("restricted:"));
            }
        }
    }
}
