//! strfry's write-policy plugin protocol, without I/O: the request line the relay (or
//! `parrhesia-tools import`) writes for an event, and the verdict a plugin's answer line holds.
//! The relay's shards (`shard/src/plugin.rs`) and the import tool drive processes with it.

use crate::event::{Event, Id};
use crate::reason::Prefix;

/// Where an event came from, as the plugin is told (`sourceType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceType {
    Ip4,
    Ip6,
    Import,
    /// Fetched from another relay by `parrhesia-tools sync`.
    Sync,
    /// Received from another relay by a mirror stream (`[[mirror]]`); `sourceInfo` is its URL.
    Stream,
    /// Held here, about to be published to another relay by a mirror stream (its plugin
    /// decides what goes up); `sourceInfo` is that relay's URL.
    Stored,
}

impl SourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Ip4 => "IP4",
            SourceType::Ip6 => "IP6",
            SourceType::Import => "Import",
            SourceType::Sync => "Sync",
            SourceType::Stream => "Stream",
            SourceType::Stored => "Stored",
        }
    }
}

/// A request's context: its source, and the pubkey its connection authenticated as.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub kind: SourceType,
    /// The client's address, or the imported file.
    pub info: &'a str,
    pub authed: Option<&'a [u8; 32]>,
}

/// One request line (ending in a newline): `{"type":"new","event":..,"receivedAt":..,
/// "sourceType":..,"sourceInfo":..[,"authed":..]}`, the event's JSON spliced in as received.
pub fn request_line(event: &Event, source: &Source, received_at: u64) -> String {
    let info = serde_json::to_string(source.info).expect("a string serializes");
    let authed = match source.authed {
        Some(authed) => format!(r#","authed":"{}""#, crate::hex::encode(authed)),
        None => String::new(),
    };
    format!(
        "{{\"type\":\"new\",\"event\":{},\"receivedAt\":{received_at},\"sourceType\":\"{}\",\"sourceInfo\":{info}{authed}}}\n",
        event.json(),
        source.kind.as_str(),
    )
}

/// A plugin's verdict on one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// `OK false` with this message (prefixed `blocked:` when it carries no NIP-01 prefix).
    Reject(String),
    /// `OK true`, but neither stored nor fanned out.
    ShadowReject,
}

/// An answer line: `{"id": HEX, "action": "accept"|"reject"|"shadowReject", "msg": TEXT}`;
/// `None` for anything else.
pub fn parse_answer(line: &str) -> Option<(Id, Verdict)> {
    let answer: serde_json::Value = serde_json::from_str(line).ok()?;
    let id = crate::hex::decode_array::<32>(answer.get("id")?.as_str()?)?;
    let message = answer.get("msg").and_then(serde_json::Value::as_str).unwrap_or("");
    let verdict = match answer.get("action")?.as_str()? {
        "accept" => Verdict::Accept,
        "reject" => Verdict::Reject(with_prefix(message)),
        "shadowReject" => Verdict::ShadowReject,
        _ => return None,
    };
    Some((id, verdict))
}

/// A plugin's message as an `OK false` reason: kept if it starts with a NIP-01 prefix, else
/// prefixed `blocked:`.
fn with_prefix(message: &str) -> String {
    if Prefix::of_message(message).is_some() {
        message.to_string()
    } else if message.is_empty() {
        "blocked: refused by the relay's write policy".to_string()
    } else {
        format!("blocked: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_to_verdicts_and_messages_get_a_prefix() {
        let id = "ab".repeat(32);
        let line = |action: &str, msg: &str| format!(r#"{{"id":"{id}","action":"{action}","msg":"{msg}"}}"#);
        assert_eq!(parse_answer(&line("accept", "")).unwrap().1, Verdict::Accept);
        assert_eq!(parse_answer(&line("shadowReject", "")).unwrap().1, Verdict::ShadowReject);
        assert_eq!(parse_answer(&line("reject", "spam")).unwrap().1, Verdict::Reject("blocked: spam".into()));
        assert_eq!(parse_answer(&line("reject", "pow: more")).unwrap().1, Verdict::Reject("pow: more".into()));
        assert_eq!(
            parse_answer(&line("reject", "")).unwrap().1,
            Verdict::Reject("blocked: refused by the relay's write policy".into())
        );
        for bad in [
            line("maybe", ""),
            "not json".into(),
            r#"{"action":"accept"}"#.into(),
            r#"{"id":"zz","action":"accept"}"#.into(),
        ] {
            assert!(parse_answer(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_request_line_carries_the_event_as_received_and_its_source() {
        let keys = crate::event::Keys::from_secret_bytes([3; 32]).unwrap();
        let event = keys.sign(1_700_000_000, 1, vec![], "a \"quoted\" note".into());
        let line = request_line(&event, &Source { kind: SourceType::Ip6, info: "::1", authed: Some(&[7; 32]) }, 5);
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let request: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(request["type"], "new");
        assert_eq!(request["event"], serde_json::from_str::<serde_json::Value>(event.json()).unwrap());
        assert_eq!((request["receivedAt"].as_u64(), request["sourceType"].as_str()), (Some(5), Some("IP6")));
        assert_eq!(
            (request["sourceInfo"].as_str(), request["authed"].as_str()),
            (Some("::1"), Some(&*"07".repeat(32)))
        );
        let line = request_line(&event, &Source { kind: SourceType::Import, info: "a.jsonl", authed: None }, 5);
        assert!(serde_json::from_str::<serde_json::Value>(&line).unwrap().get("authed").is_none());
    }
}
