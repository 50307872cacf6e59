//! The wire messages: client messages decoded with limits into values or typed rejections, and
//! relay messages encoded (and decoded, for clients, tools and tests).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::event::{Event, Id, strip_position};
use crate::filter::Filter;
use crate::limits::Limits;
use crate::reason::Reason;
use crate::{hex, json};

/// A decoded client message.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientMessage {
    /// `["EVENT", event]`: the id is checked, the signature is not yet.
    Event(Event),
    /// `["REQ", id, filter...]`
    Req { subscription_id: String, filters: Vec<Filter> },
    /// `["COUNT", id, filter...]` (NIP-45)
    Count { subscription_id: String, filters: Vec<Filter> },
    /// `["CLOSE", id]`
    Close { subscription_id: String },
    /// `["AUTH", event]` (NIP-42): the id is checked, the signature is not yet.
    Auth(Event),
    /// `["NEG-OPEN", id, filter, hex]` (NIP-77)
    NegOpen { subscription_id: String, filter: Filter, message: Vec<u8> },
    /// `["NEG-MSG", id, hex]` (NIP-77)
    NegMsg { subscription_id: String, message: Vec<u8> },
    /// `["NEG-CLOSE", id]` (NIP-77)
    NegClose { subscription_id: String },
}

/// Where the answer to a rejected client message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyTo {
    /// `["NOTICE", reason]`: nothing better identifies the message.
    Notice,
    /// `["OK", id, false, reason]`: an EVENT or AUTH whose id could be read.
    Ok(Id),
    /// `["CLOSED", sub, reason]`: a REQ or COUNT with a readable subscription id.
    Closed(String),
    /// `["NEG-ERR", sub, reason]`: a NIP-77 message with a readable subscription id.
    NegErr(String),
}

/// A client message the relay refuses, with the answer to send. Nothing changed on the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub reply_to: ReplyTo,
    pub reason: Reason,
}

impl Rejection {
    fn notice(reason: Reason) -> Rejection {
        Rejection { reply_to: ReplyTo::Notice, reason }
    }

    /// The relay message that answers the rejected client message.
    pub fn to_message(&self) -> RelayMessage<'static> {
        let message = Cow::Owned(self.reason.to_string());
        match &self.reply_to {
            ReplyTo::Notice => RelayMessage::Notice { message },
            ReplyTo::Ok(event_id) => RelayMessage::Ok { event_id: *event_id, accepted: false, message },
            ReplyTo::Closed(id) => RelayMessage::Closed { subscription_id: Cow::Owned(id.clone()), message },
            ReplyTo::NegErr(id) => RelayMessage::NegErr { subscription_id: Cow::Owned(id.clone()), message },
        }
    }
}

impl ClientMessage {
    /// Decodes one text frame. Limits are applied before anything the peer sized is allocated.
    pub fn decode(frame: &str, limits: &Limits) -> Result<ClientMessage, Rejection> {
        if frame.len() > limits.frame_bytes_max {
            return Err(Rejection::notice(Reason::invalid(format!(
                "message is {} bytes, the limit is {}",
                frame.len(),
                limits.frame_bytes_max
            ))));
        }
        let mut deserializer = serde_json::Deserializer::from_str(frame);
        let envelope = EnvelopeSeed { limits }
            .deserialize(&mut deserializer)
            .and_then(|envelope| deserializer.end().map(|()| envelope))
            .map_err(|error| Rejection::notice(Reason::invalid(format!("bad message: {}", strip_position(&error)))))?;
        decode_envelope(envelope, limits)
    }
}

/// The id an `["EVENT", {...}]` message claims for its event, read without building the event
/// (no tags, no content, no hash): a relay that already holds that id can answer `duplicate:`
/// at once, as strfry does. `None` for any other message, or one this reading cannot take
/// (the full decoder then answers it). The id is only claimed: nothing here checks it.
pub fn claimed_event_id(frame: &str) -> Option<crate::event::Id> {
    #[derive(serde::Deserialize)]
    struct Claimed<'a> {
        #[serde(borrow)]
        id: Cow<'a, str>,
    }
    let (verb, event): (Cow<'_, str>, Claimed<'_>) = serde_json::from_str(frame).ok()?;
    if verb != "EVENT" {
        return None;
    }
    crate::hex::decode_array::<32>(&event.id)
}

/// A message split into its type and at most a bounded number of raw elements.
struct Envelope<'a> {
    kind: Cow<'a, str>,
    items: Vec<&'a RawValue>,
    /// More elements followed than the type allows; they were skipped unread.
    overflow: bool,
}

fn decode_envelope(envelope: Envelope<'_>, limits: &Limits) -> Result<ClientMessage, Rejection> {
    let items = &envelope.items;
    let arity = |expected: usize, shape: &str| -> Result<(), Rejection> {
        if items.len() != expected || envelope.overflow {
            return Err(Rejection::notice(Reason::invalid(format!("{} takes {shape}", envelope.kind))));
        }
        Ok(())
    };
    match envelope.kind.as_ref() {
        "EVENT" | "AUTH" => {
            arity(1, "exactly one event")?;
            let event = Event::parse(items[0].get(), limits).map_err(|reason| Rejection {
                reply_to: readable_id(items[0].get()).map_or(ReplyTo::Notice, ReplyTo::Ok),
                reason,
            })?;
            Ok(if envelope.kind == "EVENT" { ClientMessage::Event(event) } else { ClientMessage::Auth(event) })
        }
        "REQ" | "COUNT" => {
            let Some(first) = items.first() else {
                return Err(Rejection::notice(Reason::invalid(format!("{} needs a subscription id", envelope.kind))));
            };
            let subscription_id = subscription_id(first, limits)?;
            let closed = |reason| Rejection { reply_to: ReplyTo::Closed(subscription_id.clone()), reason };
            if envelope.overflow {
                return Err(closed(Reason::invalid(format!("more than {} filters", limits.filters_per_req_max))));
            }
            if items.len() < 2 {
                return Err(closed(Reason::invalid("at least one filter is required")));
            }
            let filters = items[1..]
                .iter()
                .map(|raw| Filter::parse(raw.get(), limits))
                .collect::<Result<Vec<_>, _>>()
                .map_err(closed)?;
            Ok(if envelope.kind == "REQ" {
                ClientMessage::Req { subscription_id, filters }
            } else {
                ClientMessage::Count { subscription_id, filters }
            })
        }
        "CLOSE" => {
            arity(1, "exactly one subscription id")?;
            Ok(ClientMessage::Close { subscription_id: subscription_id(items[0], limits)? })
        }
        "NEG-OPEN" => {
            arity(3, "a subscription id, a filter and a hex message")?;
            let subscription_id = subscription_id(items[0], limits)?;
            let neg_err = |reason| Rejection { reply_to: ReplyTo::NegErr(subscription_id.clone()), reason };
            let filter = Filter::parse(items[1].get(), limits).map_err(neg_err)?;
            let message = hex_message(items[2]).map_err(neg_err)?;
            Ok(ClientMessage::NegOpen { subscription_id, filter, message })
        }
        "NEG-MSG" => {
            arity(2, "a subscription id and a hex message")?;
            let subscription_id = subscription_id(items[0], limits)?;
            let message = hex_message(items[1])
                .map_err(|reason| Rejection { reply_to: ReplyTo::NegErr(subscription_id.clone()), reason })?;
            Ok(ClientMessage::NegMsg { subscription_id, message })
        }
        "NEG-CLOSE" => {
            arity(1, "exactly one subscription id")?;
            Ok(ClientMessage::NegClose { subscription_id: subscription_id(items[0], limits)? })
        }
        other => {
            let shown: String = other.chars().take(32).collect();
            Err(Rejection::notice(Reason::invalid(format!("unknown message type {shown:?}"))))
        }
    }
}

fn subscription_id(raw: &RawValue, limits: &Limits) -> Result<String, Rejection> {
    let text = serde_json::from_str::<String>(raw.get())
        .map_err(|_| Rejection::notice(Reason::invalid("subscription id must be a string")))?;
    if text.is_empty() {
        return Err(Rejection::notice(Reason::invalid("subscription id must not be empty")));
    }
    if text.len() > limits.subscription_id_bytes_max {
        return Err(Rejection::notice(Reason::invalid(format!(
            "subscription id is longer than {} bytes",
            limits.subscription_id_bytes_max
        ))));
    }
    Ok(text)
}

fn hex_message(raw: &RawValue) -> Result<Vec<u8>, Reason> {
    let text =
        serde_json::from_str::<Cow<str>>(raw.get()).map_err(|_| Reason::invalid("message must be a hex string"))?;
    hex::decode_vec(&text).ok_or_else(|| Reason::invalid("message must be lowercase hex"))
}

/// The id of an event that failed to parse, when its `id` field is still readable.
fn readable_id(text: &str) -> Option<Id> {
    #[derive(Deserialize)]
    struct IdOnly<'a> {
        #[serde(borrow)]
        id: Cow<'a, str>,
    }
    let parsed: IdOnly = serde_json::from_str(text).ok()?;
    hex::decode_array(&parsed.id)
}

struct EnvelopeSeed<'l> {
    limits: &'l Limits,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Envelope<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Envelope<'de>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = Envelope<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON array whose first element is the message type")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Envelope<'de>, A::Error> {
        let kind: Cow<'de, str> = seq
            .next_element()
            .map_err(|_| de::Error::custom("the message type must be a string"))?
            .ok_or_else(|| de::Error::custom("empty message"))?;
        let items_max = match kind.as_ref() {
            "REQ" | "COUNT" => 1 + self.limits.filters_per_req_max,
            _ => 3, // every other type takes at most three elements after its type
        };
        let mut items = Vec::new();
        let mut overflow = false;
        while let Some(item) = if items.len() < items_max { seq.next_element::<&'de RawValue>()? } else { None } {
            items.push(item);
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            overflow = true;
        }
        Ok(Envelope { kind, items, overflow })
    }
}

/// A message from relay to client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayMessage<'a> {
    /// `["EVENT", sub, event]`; `event` is the event object's JSON text.
    Event {
        subscription_id: Cow<'a, str>,
        event: Cow<'a, str>,
    },
    Ok {
        event_id: Id,
        accepted: bool,
        message: Cow<'a, str>,
    },
    Eose {
        subscription_id: Cow<'a, str>,
    },
    Closed {
        subscription_id: Cow<'a, str>,
        message: Cow<'a, str>,
    },
    Notice {
        message: Cow<'a, str>,
    },
    Auth {
        challenge: Cow<'a, str>,
    },
    /// NIP-45: `["COUNT", sub, {"count": n, "approximate"?: bool, "hll"?: hex}]`
    Count {
        subscription_id: Cow<'a, str>,
        count: u64,
        approximate: bool,
        hll: Option<Cow<'a, str>>,
    },
    NegMsg {
        subscription_id: Cow<'a, str>,
        message: Vec<u8>,
    },
    NegErr {
        subscription_id: Cow<'a, str>,
        message: Cow<'a, str>,
    },
}

/// `["EVENT","<sub>",`: what precedes the shared event JSON in a subscription's EVENT message.
pub fn event_message_prefix(subscription_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(subscription_id.len() + 12);
    out.extend_from_slice(b"[\"EVENT\",");
    json::write_string(subscription_id, &mut out);
    out.push(b',');
    out
}

impl RelayMessage<'_> {
    /// The message as JSON text.
    pub fn encode(&self) -> String {
        let mut out = Vec::with_capacity(128);
        let start = |kind: &str, out: &mut Vec<u8>| {
            out.push(b'[');
            json::write_string(kind, out);
        };
        let string = |text: &str, out: &mut Vec<u8>| {
            out.push(b',');
            json::write_string(text, out);
        };
        match self {
            RelayMessage::Event { subscription_id, event } => {
                out = event_message_prefix(subscription_id);
                out.extend_from_slice(event.as_bytes());
            }
            RelayMessage::Ok { event_id, accepted, message } => {
                start("OK", &mut out);
                string(&hex::encode(event_id), &mut out);
                out.extend_from_slice(if *accepted { b",true" } else { b",false" });
                string(message, &mut out);
            }
            RelayMessage::Eose { subscription_id } => {
                start("EOSE", &mut out);
                string(subscription_id, &mut out);
            }
            RelayMessage::Closed { subscription_id, message } | RelayMessage::NegErr { subscription_id, message } => {
                start(if matches!(self, RelayMessage::Closed { .. }) { "CLOSED" } else { "NEG-ERR" }, &mut out);
                string(subscription_id, &mut out);
                string(message, &mut out);
            }
            RelayMessage::Notice { message } => {
                start("NOTICE", &mut out);
                string(message, &mut out);
            }
            RelayMessage::Auth { challenge } => {
                start("AUTH", &mut out);
                string(challenge, &mut out);
            }
            RelayMessage::Count { subscription_id, count, approximate, hll } => {
                start("COUNT", &mut out);
                string(subscription_id, &mut out);
                out.extend_from_slice(b",{\"count\":");
                json::write_u64(*count, &mut out);
                if *approximate {
                    out.extend_from_slice(b",\"approximate\":true");
                }
                if let Some(hll) = hll {
                    out.extend_from_slice(b",\"hll\":");
                    json::write_string(hll, &mut out);
                }
                out.push(b'}');
            }
            RelayMessage::NegMsg { subscription_id, message } => {
                start("NEG-MSG", &mut out);
                string(subscription_id, &mut out);
                string(&hex::encode(message), &mut out);
            }
        }
        out.push(b']');
        String::from_utf8(out).expect("built from str pieces")
    }

    /// Decodes a relay message (for clients, tools and tests). The EVENT's event is kept as
    /// JSON text; parse it with `Event::parse`.
    pub fn decode(text: &str) -> Result<RelayMessage<'static>, String> {
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|error| error.to_string())?;
        let string = |index: usize| -> Result<Cow<'static, str>, String> {
            let raw = items.get(index).ok_or_else(|| format!("missing element {index}"))?;
            serde_json::from_str::<String>(raw.get()).map(Cow::Owned).map_err(|error| error.to_string())
        };
        let kind = string(0)?;
        let message = match kind.as_ref() {
            "EVENT" => RelayMessage::Event {
                subscription_id: string(1)?,
                event: Cow::Owned(items.get(2).ok_or("missing event")?.get().to_string()),
            },
            "OK" => RelayMessage::Ok {
                event_id: hex::decode_array(&string(1)?).ok_or("bad event id")?,
                accepted: serde_json::from_str(items.get(2).ok_or("missing flag")?.get())
                    .map_err(|error| error.to_string())?,
                message: string(3)?,
            },
            "EOSE" => RelayMessage::Eose { subscription_id: string(1)? },
            "CLOSED" => RelayMessage::Closed { subscription_id: string(1)?, message: string(2)? },
            "NOTICE" => RelayMessage::Notice { message: string(1)? },
            "AUTH" => RelayMessage::Auth { challenge: string(1)? },
            "COUNT" => {
                #[derive(Deserialize)]
                struct Body {
                    count: u64,
                    #[serde(default)]
                    approximate: bool,
                    hll: Option<String>,
                }
                let body: Body = serde_json::from_str(items.get(2).ok_or("missing count")?.get())
                    .map_err(|error| error.to_string())?;
                RelayMessage::Count {
                    subscription_id: string(1)?,
                    count: body.count,
                    approximate: body.approximate,
                    hll: body.hll.map(Cow::Owned),
                }
            }
            "NEG-MSG" => RelayMessage::NegMsg {
                subscription_id: string(1)?,
                message: hex::decode_vec(&string(2)?).ok_or("bad hex")?,
            },
            "NEG-ERR" => RelayMessage::NegErr { subscription_id: string(1)?, message: string(2)? },
            other => return Err(format!("unknown relay message type {other:?}")),
        };
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claimed_id_of_an_event_message_is_read_without_the_event() {
        let id = "ab".repeat(32);
        let frame = format!(r#"["EVENT",{{"kind":1,"id":"{id}","tags":[["e","x"]],"content":"\"hi\""}}]"#);
        assert_eq!(claimed_event_id(&frame), crate::hex::decode_array::<32>(&id));
        for other in [
            format!(r#"["REQ",{{"id":"{id}"}}]"#),
            format!(r#"["EVENT",{{"id":"{id}"}},3]"#),
            r#"["EVENT",{"id":"zz"}]"#.to_string(),
            r#"["EVENT",{"kind":1}]"#.to_string(),
            "not json".to_string(),
        ] {
            assert_eq!(claimed_event_id(&other), None, "{other}");
        }
    }
    use crate::event::Keys;
    use crate::reason::Prefix;

    fn decode(text: &str) -> Result<ClientMessage, Rejection> {
        ClientMessage::decode(text, &Limits::default())
    }

    #[test]
    fn decodes_every_client_message() {
        let event = Keys::from_secret_bytes([1; 32]).unwrap().sign(1, 1, vec![], "x".into());
        let json = event.json();
        assert_eq!(decode(&format!(r#"["EVENT",{json}]"#)).unwrap(), ClientMessage::Event(event.clone()));
        assert_eq!(decode(&format!(r#"["AUTH",{json}]"#)).unwrap(), ClientMessage::Auth(event.clone()));
        let req = decode(r#"["REQ","s1",{"kinds":[1]},{"limit":5}]"#).unwrap();
        let ClientMessage::Req { subscription_id, filters } = req else { panic!("not a REQ") };
        assert_eq!(subscription_id, "s1");
        assert_eq!(filters.len(), 2);
        assert!(matches!(decode(r#"["COUNT","c",{}]"#).unwrap(), ClientMessage::Count { .. }));
        assert_eq!(decode(r#"["CLOSE","s1"]"#).unwrap(), ClientMessage::Close { subscription_id: "s1".into() });
        assert_eq!(
            decode(r#"["NEG-OPEN","n",{"kinds":[1]},"6100"]"#).unwrap(),
            ClientMessage::NegOpen {
                subscription_id: "n".into(),
                filter: Filter { kinds: Some(vec![1]), ..Filter::default() },
                message: vec![0x61, 0x00]
            }
        );
        assert_eq!(
            decode(r#"["NEG-MSG","n","ff"]"#).unwrap(),
            ClientMessage::NegMsg { subscription_id: "n".into(), message: vec![0xff] }
        );
        assert_eq!(decode(r#"["NEG-CLOSE","n"]"#).unwrap(), ClientMessage::NegClose { subscription_id: "n".into() });
        // Escapes in the subscription id are decoded.
        assert_eq!(decode(r#"["CLOSE","a\"b"]"#).unwrap(), ClientMessage::Close { subscription_id: "a\"b".into() });
    }

    #[test]
    fn rejection_table() {
        let event = Keys::from_secret_bytes([2; 32]).unwrap().sign(1, 1, vec![], "x".into());
        let id = *event.id();
        let tampered = event.json().replace("\"content\":\"x\"", "\"content\":\"y\"");
        let unsigned_kind = event.json().replace("\"kind\":1", "\"kind\":\"1\"");
        let long_id = "x".repeat(65);
        let many_filters = format!(r#"["REQ","m",{}]"#, vec!["{}"; 17].join(","));
        let limits = Limits::default();
        let huge = format!(r#"["NOTICE","{}"]"#, "x".repeat(limits.frame_bytes_max));
        let cases: Vec<(String, ReplyTo, &str)> = vec![
            ("not json".into(), ReplyTo::Notice, "invalid: bad message"),
            ("{}".into(), ReplyTo::Notice, "invalid: bad message"),
            ("[]".into(), ReplyTo::Notice, "empty message"),
            ("[1]".into(), ReplyTo::Notice, "message type must be a string"),
            (r#"["HELLO"]"#.into(), ReplyTo::Notice, "unknown message type \"HELLO\""),
            (r#"["EVENT"]"#.into(), ReplyTo::Notice, "EVENT takes exactly one event"),
            (r#"["EVENT",{},{}]"#.into(), ReplyTo::Notice, "EVENT takes exactly one event"),
            (r#"["EVENT",{"content":1}]"#.into(), ReplyTo::Notice, "invalid: bad event"),
            (format!(r#"["EVENT",{tampered}]"#), ReplyTo::Ok(id), "invalid: event id does not match"),
            (format!(r#"["EVENT",{unsigned_kind}]"#), ReplyTo::Ok(id), "invalid: bad event: kind must be"),
            (r#"["REQ"]"#.into(), ReplyTo::Notice, "REQ needs a subscription id"),
            (r#"["REQ",5,{}]"#.into(), ReplyTo::Notice, "subscription id must be a string"),
            (r#"["REQ","",{}]"#.into(), ReplyTo::Notice, "must not be empty"),
            (format!(r#"["REQ","{long_id}",{{}}]"#), ReplyTo::Notice, "longer than 64 bytes"),
            (r#"["REQ","s"]"#.into(), ReplyTo::Closed("s".into()), "at least one filter"),
            (r#"["REQ","s",{"kinds":[-1]}]"#.into(), ReplyTo::Closed("s".into()), "invalid: bad filter"),
            (many_filters, ReplyTo::Closed("m".into()), "more than 16 filters"),
            (r#"["COUNT","c",{"x":1}]"#.into(), ReplyTo::Closed("c".into()), "unknown filter field"),
            (r#"["CLOSE"]"#.into(), ReplyTo::Notice, "CLOSE takes exactly one subscription id"),
            (r#"["CLOSE","a","b"]"#.into(), ReplyTo::Notice, "CLOSE takes exactly one subscription id"),
            (r#"["NEG-OPEN","n",{},"zz"]"#.into(), ReplyTo::NegErr("n".into()), "lowercase hex"),
            (r#"["NEG-OPEN","n",{"foo":1},"00"]"#.into(), ReplyTo::NegErr("n".into()), "unknown filter field"),
            (r#"["NEG-MSG","n",5]"#.into(), ReplyTo::NegErr("n".into()), "hex string"),
            (r#"["REQ","s",{}] trailing"#.into(), ReplyTo::Notice, "bad message"),
            (huge, ReplyTo::Notice, "the limit is 1048576"),
        ];
        for (input, reply_to, expected) in cases {
            let rejection = decode(&input).unwrap_err();
            let shown: String = input.chars().take(80).collect();
            assert_eq!(rejection.reply_to, reply_to, "input {shown}");
            assert!(rejection.reason.to_string().contains(expected), "input {shown}: got {}", rejection.reason);
            assert_eq!(rejection.reason.prefix, Prefix::Invalid);
        }
    }

    #[test]
    fn relay_messages_round_trip() {
        let event = Keys::from_secret_bytes([3; 32]).unwrap().sign(1, 1, vec![], "x".into());
        let messages = vec![
            RelayMessage::Event { subscription_id: "s\"1".into(), event: event.json().to_string().into() },
            RelayMessage::Ok { event_id: *event.id(), accepted: true, message: "".into() },
            RelayMessage::Ok { event_id: *event.id(), accepted: false, message: "blocked: no".into() },
            RelayMessage::Eose { subscription_id: "s".into() },
            RelayMessage::Closed { subscription_id: "s".into(), message: "error: x".into() },
            RelayMessage::Notice { message: "hello\n".into() },
            RelayMessage::Auth { challenge: "abc".into() },
            RelayMessage::Count { subscription_id: "c".into(), count: 42, approximate: false, hll: None },
            RelayMessage::Count { subscription_id: "c".into(), count: 7, approximate: true, hll: Some("00ff".into()) },
            RelayMessage::NegMsg { subscription_id: "n".into(), message: vec![1, 2, 255] },
            RelayMessage::NegErr { subscription_id: "n".into(), message: "closed: x".into() },
        ];
        for message in messages {
            let text = message.encode();
            serde_json::from_str::<serde_json::Value>(&text).unwrap();
            assert_eq!(RelayMessage::decode(&text).unwrap(), message, "{text}");
        }
        assert_eq!(RelayMessage::Eose { subscription_id: "s".into() }.encode(), r#"["EOSE","s"]"#);
        let prefix = event_message_prefix("sub");
        assert_eq!(prefix, br#"["EVENT","sub","#);
    }

    #[test]
    fn rejection_answers_encode() {
        let rejection = decode(r#"["REQ","s"]"#).unwrap_err();
        assert_eq!(rejection.to_message().encode(), r#"["CLOSED","s","invalid: at least one filter is required"]"#);
    }
}
