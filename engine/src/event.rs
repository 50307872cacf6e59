//! The Nostr event: parsing with limits, NIP-01 canonical serialization, the sha256 id check,
//! the BIP-340 signature check (libsecp256k1), kind classes, and signing for tools and tests.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};

use crate::limits::Limits;
use crate::reason::{Prefix, Reason};
use crate::{hex, json};

/// Event ids and pubkeys are 32 bytes.
pub type Id = [u8; 32];
pub type Pubkey = [u8; 32];

/// How NIP-01 tells relays to keep events of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KindClass {
    /// Stored, every one of them.
    Regular,
    /// 0, 3, 10000-19999: only the newest per (pubkey, kind) is kept.
    Replaceable,
    /// 20000-29999: delivered live, never stored.
    Ephemeral,
    /// 30000-39999: only the newest per (pubkey, kind, `d` tag) is kept.
    Addressable,
}

/// NIP-13 difficulty: the leading zero bits of an id.
pub fn pow_difficulty(id: &Id) -> u32 {
    let mut bits = 0;
    for byte in id {
        if *byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

impl KindClass {
    pub fn of(kind: u16) -> KindClass {
        match kind {
            0 | 3 | 10000..=19999 => KindClass::Replaceable,
            20000..=29999 => KindClass::Ephemeral,
            30000..=39999 => KindClass::Addressable,
            _ => KindClass::Regular,
        }
    }
}

/// A structurally valid event whose id matches its content. Immutable: its JSON text is built
/// once, at construction, and shared by every message that carries it.
#[derive(Clone)]
pub struct Event {
    id: Id,
    pubkey: Pubkey,
    created_at: u64,
    kind: u16,
    tags: Vec<Vec<String>>,
    content: String,
    sig: [u8; 64],
    json: Arc<str>,
}

impl fmt::Debug for Event {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.json)
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.json == other.json
    }
}
impl Eq for Event {}

impl Event {
    /// Parses an event object from client input, applying `limits` while decoding, and checks
    /// that `id` is the sha256 of the canonical serialization. The signature is NOT checked here:
    /// the relay looks for duplicates first (see `verify_signature`).
    pub fn parse(text: &str, limits: &Limits) -> Result<Event, Reason> {
        if text.len() > limits.event_bytes_max {
            return Err(Reason::invalid(format!(
                "event is {} bytes, the limit is {}",
                text.len(),
                limits.event_bytes_max
            )));
        }
        let raw = parse_raw(text, limits.tags_per_event_max)?;
        let event = Event::build(raw.pubkey, raw.created_at, raw.kind, raw.tags, raw.content, raw.sig, Some(raw.id));
        event.ok_or_else(|| Reason::invalid("event id does not match its content"))
    }

    /// Parses an event this node wrote itself (from storage): no limits and no id check.
    /// Returns `None` only if the text is not an event, which means the store is corrupt.
    pub fn parse_trusted(text: &str) -> Option<Event> {
        let raw = parse_raw(text, usize::MAX).ok()?;
        Some(Event::assemble(raw.id, raw.pubkey, raw.created_at, raw.kind, raw.tags, raw.content, raw.sig))
    }

    /// Builds an event from its parts, computing the id; if `expected_id` is given and differs,
    /// returns `None`.
    fn build(
        pubkey: Pubkey,
        created_at: u64,
        kind: u16,
        tags: Vec<Vec<String>>,
        content: String,
        sig: [u8; 64],
        expected_id: Option<Id>,
    ) -> Option<Event> {
        let id = compute_id(&pubkey, created_at, kind, &tags, &content);
        if expected_id.is_some_and(|expected| expected != id) {
            return None;
        }
        Some(Event::assemble(id, pubkey, created_at, kind, tags, content, sig))
    }

    fn assemble(
        id: Id,
        pubkey: Pubkey,
        created_at: u64,
        kind: u16,
        tags: Vec<Vec<String>>,
        content: String,
        sig: [u8; 64],
    ) -> Event {
        let mut out = Vec::with_capacity(content.len() + 256);
        out.extend_from_slice(b"{\"id\":\"");
        hex::encode_into(&id, &mut out);
        out.extend_from_slice(b"\",\"pubkey\":\"");
        hex::encode_into(&pubkey, &mut out);
        out.extend_from_slice(b"\",\"created_at\":");
        json::write_u64(created_at, &mut out);
        out.extend_from_slice(b",\"kind\":");
        json::write_u64(u64::from(kind), &mut out);
        out.extend_from_slice(b",\"tags\":");
        json::write_string_arrays(&tags, &mut out);
        out.extend_from_slice(b",\"content\":");
        json::write_string(&content, &mut out);
        out.extend_from_slice(b",\"sig\":\"");
        hex::encode_into(&sig, &mut out);
        out.extend_from_slice(b"\"}");
        let json = String::from_utf8(out).expect("built from str pieces and ASCII");
        Event { id, pubkey, created_at, kind, tags, content, sig, json: Arc::from(json) }
    }

    /// Checks the BIP-340 signature over the id with libsecp256k1.
    pub fn verify_signature(&self) -> Result<(), Reason> {
        let public_key = secp256k1::XOnlyPublicKey::from_byte_array(self.pubkey)
            .map_err(|_| Reason::invalid("pubkey is not a valid secp256k1 x coordinate"))?;
        let signature = secp256k1::schnorr::Signature::from_byte_array(self.sig);
        secp256k1::schnorr::verify(&signature, &self.id, &public_key).map_err(|_| Reason::invalid("bad signature"))
    }

    /// Refuses events dated more than `limits.created_at_future_seconds_max` after `now`, or
    /// (when set) more than `limits.created_at_past_seconds_max` before it.
    pub fn check_created_at(&self, now: u64, limits: &Limits) -> Result<(), Reason> {
        if self.created_at > now.saturating_add(limits.created_at_future_seconds_max) {
            return Err(Reason::invalid(format!(
                "created_at is more than {} seconds in the future",
                limits.created_at_future_seconds_max
            )));
        }
        let floor = limits.created_at_past_seconds_max;
        if floor > 0 && self.created_at < now.saturating_sub(floor) {
            return Err(Reason::invalid(format!("created_at is more than {floor} seconds in the past")));
        }
        Ok(())
    }

    /// NIP-13: the id's leading zero bits must reach `min`, and so must the target the event
    /// committed to in its `nonce` tag, if it names one (a spammer aiming lower who got lucky
    /// is refused too).
    pub fn check_pow(&self, min: u32) -> Result<(), Reason> {
        if min == 0 {
            return Ok(());
        }
        let difficulty = pow_difficulty(&self.id);
        if difficulty < min {
            return Err(Reason::new(Prefix::Pow, format!("difficulty {difficulty} is below the required {min}")));
        }
        let committed =
            self.tags.iter().find(|tag| tag.len() >= 3 && tag[0] == "nonce").map(|tag| tag[2].parse::<u32>());
        match committed {
            Some(Ok(target)) if target < min => {
                Err(Reason::new(Prefix::Pow, format!("committed target {target} is below the required {min}")))
            }
            Some(Err(_)) => Err(Reason::new(Prefix::Pow, "the nonce tag's target is not a number")),
            _ => Ok(()),
        }
    }

    pub fn id(&self) -> &Id {
        &self.id
    }
    pub fn pubkey(&self) -> &Pubkey {
        &self.pubkey
    }
    pub fn created_at(&self) -> u64 {
        self.created_at
    }
    pub fn kind(&self) -> u16 {
        self.kind
    }
    pub fn kind_class(&self) -> KindClass {
        KindClass::of(self.kind)
    }
    /// NIP-70: the event carries the `["-"]` tag (only its author, authenticated, may publish it).
    pub fn is_protected(&self) -> bool {
        self.tags().iter().any(|tag| tag.len() == 1 && tag[0] == "-")
    }

    pub fn tags(&self) -> &[Vec<String>] {
        &self.tags
    }
    pub fn content(&self) -> &str {
        &self.content
    }
    pub fn sig(&self) -> &[u8; 64] {
        &self.sig
    }

    /// The event object as JSON, built once and shared (`Arc`).
    pub fn json(&self) -> &Arc<str> {
        &self.json
    }

    /// The NIP-01 serialization `[0,pubkey,created_at,kind,tags,content]` whose sha256 is the id.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical_bytes(&self.pubkey, self.created_at, self.kind, &self.tags, &self.content)
    }

    /// Values (second elements) of the tags named `name`.
    pub fn tag_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tags.iter().filter(move |tag| tag.len() >= 2 && tag[0] == name).map(|tag| tag[1].as_str())
    }

    /// The first `d` tag's value, `""` when there is none (NIP-01 addressable events).
    pub fn d_tag(&self) -> &str {
        self.tag_values("d").next().unwrap_or("")
    }

    /// NIP-40: the first `expiration` tag, when it holds a decimal timestamp. A malformed
    /// expiration tag is ignored, as if absent.
    pub fn expiration(&self) -> Option<u64> {
        let value = self.tag_values("expiration").next()?;
        if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        value.parse().ok()
    }
}

/// The NIP-01 canonical serialization of an event's signed fields.
pub fn canonical_bytes(pubkey: &Pubkey, created_at: u64, kind: u16, tags: &[Vec<String>], content: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 128);
    out.extend_from_slice(b"[0,\"");
    hex::encode_into(pubkey, &mut out);
    out.extend_from_slice(b"\",");
    json::write_u64(created_at, &mut out);
    out.push(b',');
    json::write_u64(u64::from(kind), &mut out);
    out.push(b',');
    json::write_string_arrays(tags, &mut out);
    out.push(b',');
    json::write_string(content, &mut out);
    out.push(b']');
    out
}

/// The event id: sha256 of the canonical serialization.
pub fn compute_id(pubkey: &Pubkey, created_at: u64, kind: u16, tags: &[Vec<String>], content: &str) -> Id {
    Sha256::digest(canonical_bytes(pubkey, created_at, kind, tags, content)).into()
}

/// A signing key, for tools, benchmarks and tests that need real signed events.
#[derive(Clone)]
pub struct Keys {
    keypair: secp256k1::Keypair,
    public_key: Pubkey,
}

impl Keys {
    /// `None` if `secret` is zero or not below the curve order.
    pub fn from_secret_bytes(secret: [u8; 32]) -> Option<Keys> {
        let keypair = secp256k1::Keypair::from_secret_bytes(secret).ok()?;
        let public_key = keypair.x_only_public_key().0.to_byte_array();
        Some(Keys { keypair, public_key })
    }

    /// A secret key as people keep it: 64 hex characters, or NIP-19 `nsec1...` (surrounding
    /// whitespace ignored). `None` for anything else, or a value that is not a valid key.
    pub fn from_secret_text(text: &str) -> Option<Keys> {
        let text = text.trim();
        let secret = match text.strip_prefix("nsec1") {
            Some(_) => {
                let (hrp, data) = bech32::decode(text).ok()?;
                if hrp.as_str() != "nsec" {
                    return None;
                }
                <[u8; 32]>::try_from(data.as_slice()).ok()?
            }
            None => crate::hex::decode_array::<32>(text)?,
        };
        Keys::from_secret_bytes(secret)
    }

    pub fn public_key(&self) -> &Pubkey {
        &self.public_key
    }

    /// The secret key's bytes (to derive other secrets from the relay key).
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.keypair.to_secret_bytes()
    }

    /// Builds and signs an event. Signing is deterministic (BIP-340 without auxiliary
    /// randomness), so a seeded generator yields the same events every run.
    pub fn sign(&self, created_at: u64, kind: u16, tags: Vec<Vec<String>>, content: String) -> Event {
        let id = compute_id(&self.public_key, created_at, kind, &tags, &content);
        let signature = secp256k1::schnorr::sign_no_aux_rand(&id, &self.keypair);
        Event::assemble(id, self.public_key, created_at, kind, tags, content, signature.to_byte_array())
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Keys({})", hex::encode(&self.public_key))
    }
}

struct RawEvent {
    id: Id,
    pubkey: Pubkey,
    created_at: u64,
    kind: u16,
    tags: Vec<Vec<String>>,
    content: String,
    sig: [u8; 64],
}

fn parse_raw(text: &str, tags_max: usize) -> Result<RawEvent, Reason> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let raw = EventSeed { tags_max }
        .deserialize(&mut deserializer)
        .map_err(|error| Reason::invalid(format!("bad event: {}", strip_position(&error))))?;
    deserializer.end().map_err(|_| Reason::invalid("bad event: trailing characters after the event object"))?;
    Ok(raw)
}

/// serde_json appends " at line L column C"; the client's frame is one line, keep the column.
pub(crate) fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(position) => format!("{} (column {})", &text[..position], error.column()),
        None => text,
    }
}

/// Deserializes an event object; `tags_max` is checked before each tag is allocated.
struct EventSeed {
    tags_max: usize,
}

impl<'de> DeserializeSeed<'de> for EventSeed {
    type Value = RawEvent;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawEvent, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed {
    type Value = RawEvent;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEvent, A::Error> {
        let mut id = None;
        let mut pubkey = None;
        let mut created_at = None;
        let mut kind = None;
        let mut tags = None;
        let mut content = None;
        let mut sig = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "id" => set_once(&mut id, "id", hex_field::<A, 32>(&mut map, "id")?)?,
                "pubkey" => set_once(&mut pubkey, "pubkey", hex_field::<A, 32>(&mut map, "pubkey")?)?,
                "sig" => set_once(&mut sig, "sig", hex_field::<A, 64>(&mut map, "sig")?)?,
                "created_at" => {
                    let value = map
                        .next_value::<u64>()
                        .map_err(|_| de::Error::custom("created_at must be a non-negative integer"))?;
                    set_once(&mut created_at, "created_at", value)?
                }
                "kind" => {
                    let value = map
                        .next_value::<u16>()
                        .map_err(|_| de::Error::custom("kind must be an integer between 0 and 65535"))?;
                    set_once(&mut kind, "kind", value)?
                }
                "tags" => {
                    let value = map.next_value_seed(TagsSeed { tags_max: self.tags_max })?;
                    set_once(&mut tags, "tags", value)?
                }
                "content" => {
                    let value =
                        map.next_value::<String>().map_err(|_| de::Error::custom("content must be a string"))?;
                    set_once(&mut content, "content", value)?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RawEvent {
            id: id.ok_or_else(|| de::Error::missing_field("id"))?,
            pubkey: pubkey.ok_or_else(|| de::Error::missing_field("pubkey"))?,
            created_at: created_at.ok_or_else(|| de::Error::missing_field("created_at"))?,
            kind: kind.ok_or_else(|| de::Error::missing_field("kind"))?,
            tags: tags.ok_or_else(|| de::Error::missing_field("tags"))?,
            content: content.ok_or_else(|| de::Error::missing_field("content"))?,
            sig: sig.ok_or_else(|| de::Error::missing_field("sig"))?,
        })
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

fn hex_field<'de, A: MapAccess<'de>, const N: usize>(map: &mut A, name: &str) -> Result<[u8; N], A::Error> {
    let text = map.next_value::<Cow<'de, str>>()?;
    hex::decode_array::<N>(&text)
        .ok_or_else(|| de::Error::custom(format!("{name} must be {} lowercase hex characters", 2 * N)))
}

struct TagsSeed {
    tags_max: usize,
}

impl<'de> DeserializeSeed<'de> for TagsSeed {
    type Value = Vec<Vec<String>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for TagsSeed {
    type Value = Vec<Vec<String>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("tags as an array of arrays of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut tags = Vec::new();
        loop {
            if tags.len() == self.tags_max {
                // One more element would exceed the limit: refuse before allocating it.
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(format!("more than {} tags", self.tags_max)));
                }
                return Ok(tags);
            }
            match seq.next_element::<Vec<String>>() {
                // NIP-01: "Each tag is an array of one or more strings"; clients refuse empty ones.
                Ok(Some(tag)) if tag.is_empty() => {
                    return Err(de::Error::custom("a tag must have at least one string"));
                }
                Ok(Some(tag)) => tags.push(tag),
                Ok(None) => return Ok(tags),
                Err(_) => return Err(de::Error::custom("each tag must be an array of strings")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_read_as_hex_or_nsec() {
        // NIP-19's example pair.
        let hex = "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa";
        let nsec = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5";
        let from_hex = Keys::from_secret_text(hex).unwrap();
        let from_nsec = Keys::from_secret_text(&format!("  {nsec}\n")).unwrap();
        assert_eq!(from_hex.public_key(), from_nsec.public_key());
        for bad in ["", "nsec1", "npub180cvv07tjdrrgpa0j7j7tmnyl2yr6yr7l8j4s3evf6u64th6gkwsyjh6w6", &hex[2..], "zz"] {
            assert!(Keys::from_secret_text(bad).is_none(), "{bad:?}");
        }
    }

    /// Signs notes with a growing nonce until the id has `difficulty` leading zero bits.
    fn mined(keys: &Keys, difficulty: u32, committed: &str) -> Event {
        (0u64..)
            .map(|nonce| {
                keys.sign(1000, 1, vec![vec!["nonce".into(), nonce.to_string(), committed.into()]], "pow".into())
            })
            .find(|event| pow_difficulty(event.id()) >= difficulty)
            .expect("found within the u64 range")
    }

    #[test]
    fn pow_counts_leading_zero_bits_and_honours_the_committed_target() {
        let mut id = [0u8; 32];
        assert_eq!(pow_difficulty(&id), 256);
        id[0] = 0x0f;
        assert_eq!(pow_difficulty(&id), 4);
        id[0] = 0;
        id[1] = 0x01;
        assert_eq!(pow_difficulty(&id), 15);
        let keys = Keys::from_secret_bytes([13; 32]).unwrap();
        let event = mined(&keys, 6, "6");
        assert!(event.check_pow(0).is_ok() && event.check_pow(6).is_ok());
        assert_eq!(event.check_pow(40).unwrap_err().prefix, Prefix::Pow);
        // A lucky event committed to less than required is refused whatever its id.
        let lucky = mined(&keys, 6, "2");
        let refused = lucky.check_pow(5).unwrap_err();
        assert!(refused.to_string().starts_with("pow: committed target 2"), "{refused}");
        let plain = keys.sign(1000, 1, vec![], "no work".into());
        assert!(plain.check_pow(0).is_ok());
    }

    #[test]
    fn created_at_has_an_optional_floor() {
        let keys = Keys::from_secret_bytes([14; 32]).unwrap();
        let old = keys.sign(1_000, 1, vec![], "old".into());
        assert!(old.check_created_at(1_000_000, &Limits::default()).is_ok(), "no floor by default");
        let limits = Limits { created_at_past_seconds_max: 3600, ..Limits::default() };
        let refused = old.check_created_at(1_000_000, &limits).unwrap_err();
        assert!(refused.to_string().starts_with("invalid: created_at is more than 3600 seconds in the past"));
        assert!(old.check_created_at(4_000, &limits).is_ok());
    }

    fn keys(seed: u8) -> Keys {
        Keys::from_secret_bytes([seed; 32]).unwrap()
    }

    #[test]
    fn kind_class_table() {
        let cases = [
            (0, KindClass::Replaceable),
            (1, KindClass::Regular),
            (2, KindClass::Regular),
            (3, KindClass::Replaceable),
            (4, KindClass::Regular),
            (9999, KindClass::Regular),
            (10000, KindClass::Replaceable),
            (19999, KindClass::Replaceable),
            (20000, KindClass::Ephemeral),
            (29999, KindClass::Ephemeral),
            (30000, KindClass::Addressable),
            (39999, KindClass::Addressable),
            (40000, KindClass::Regular),
            (65535, KindClass::Regular),
        ];
        for (kind, class) in cases {
            assert_eq!(KindClass::of(kind), class, "kind {kind}");
        }
    }

    #[test]
    fn signed_event_round_trips_and_verifies() {
        let tags = vec![vec!["e".to_string(), "00".repeat(32)], vec!["t".into(), "nostr".into()]];
        let event = keys(1).sign(1_700_000_000, 1, tags, "hello \"world\"\n".into());
        event.verify_signature().unwrap();
        let parsed = Event::parse(event.json(), &Limits::default()).unwrap();
        assert_eq!(parsed, event);
        parsed.verify_signature().unwrap();
        let trusted = Event::parse_trusted(event.json()).unwrap();
        assert_eq!(trusted, event);
        // The JSON we write is plain JSON that serde_json reads back field by field.
        let value: serde_json::Value = serde_json::from_str(event.json()).unwrap();
        assert_eq!(value["content"], "hello \"world\"\n");
        assert_eq!(value["kind"], 1);
    }

    fn field_replaced(json: &str, field: &str, value: &str) -> String {
        let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
        object.insert(field.into(), serde_json::from_str(value).unwrap());
        serde_json::to_string(&object).unwrap()
    }

    #[test]
    fn rejections_table() {
        let event = keys(2).sign(1_700_000_000, 1, vec![vec!["t".into(), "x".into()]], "hi".into());
        let json = event.json().to_string();
        let upper_id = hex::encode(event.id()).to_uppercase();
        let cases: Vec<(String, &str)> = vec![
            (field_replaced(&json, "content", "\"changed\""), "event id does not match its content"),
            (field_replaced(&json, "id", &format!("\"{upper_id}\"")), "id must be 64 lowercase hex"),
            (field_replaced(&json, "pubkey", "\"abcd\""), "pubkey must be 64 lowercase hex"),
            (field_replaced(&json, "sig", "\"00\""), "sig must be 128 lowercase hex"),
            (field_replaced(&json, "kind", "70000"), "kind must be an integer between 0 and 65535"),
            (field_replaced(&json, "kind", "-1"), "kind must be an integer"),
            (field_replaced(&json, "created_at", "-5"), "created_at must be a non-negative integer"),
            (field_replaced(&json, "created_at", "1.5"), "created_at must be a non-negative integer"),
            (field_replaced(&json, "tags", "[[1]]"), "each tag must be an array of strings"),
            (field_replaced(&json, "tags", "[[]]"), "a tag must have at least one string"),
            (field_replaced(&json, "tags", "{}"), "invalid type"),
            (field_replaced(&json, "content", "5"), "content must be a string"),
            (json.replace("\"sig\"", "\"signature\""), "missing field `sig`"),
            (json.replacen("{", "{\"kind\":1,", 1), "duplicate field `kind`"),
            (format!("{json} x"), "trailing characters"),
            ("[]".to_string(), "bad event"),
            ("{".to_string(), "bad event"),
        ];
        for (input, expected) in cases {
            let reason = Event::parse(&input, &Limits::default()).unwrap_err();
            assert_eq!(reason.prefix, crate::Prefix::Invalid, "input {input}");
            assert!(reason.detail.contains(expected), "input {input}: got {reason}, expected {expected}");
        }
    }

    #[test]
    fn bad_signature_is_refused_after_id_check() {
        let event = keys(3).sign(1_700_000_000, 1, vec![], "x".into());
        let other = keys(4).sign(1_700_000_000, 1, vec![], "x".into());
        // Same id check passes (id computed over our fields), but the signature is someone else's.
        let forged = field_replaced(event.json(), "sig", &format!("\"{}\"", hex::encode(other.sig())));
        let parsed = Event::parse(&forged, &Limits::default()).unwrap();
        assert_eq!(parsed.verify_signature().unwrap_err().to_string(), "invalid: bad signature");
        // A pubkey that is not on the curve.
        let off_curve = "ff".repeat(32);
        let bad_key =
            Event::build(hex::decode_array(&off_curve).unwrap(), 1, 1, vec![], String::new(), [0; 64], None).unwrap();
        assert!(bad_key.verify_signature().unwrap_err().detail.contains("x coordinate"));
    }

    #[test]
    fn limits_are_applied() {
        let limits = Limits { tags_per_event_max: 2, event_bytes_max: 600, ..Limits::default() };
        let two = keys(5).sign(1, 1, vec![vec!["a".into()], vec!["b".into()]], String::new());
        Event::parse(two.json(), &limits).unwrap();
        let three = keys(5).sign(1, 1, vec![vec!["a".into()], vec!["b".into()], vec!["c".into()]], String::new());
        assert!(Event::parse(three.json(), &limits).unwrap_err().detail.contains("more than 2 tags"));
        let big = keys(5).sign(1, 1, vec![], "x".repeat(600));
        assert!(Event::parse(big.json(), &limits).unwrap_err().detail.contains("the limit is 600"));
    }

    #[test]
    fn created_at_skew() {
        let limits = Limits::default();
        let event = keys(6).sign(2_000, 1, vec![], String::new());
        event.check_created_at(2_000 - 900, &limits).unwrap();
        assert!(event.check_created_at(2_000 - 901, &limits).is_err());
    }

    #[test]
    fn tag_helpers() {
        let tags = vec![
            vec!["d".into(), "first".into()],
            vec!["d".into(), "second".into()],
            vec!["expiration".into(), "1700".into()],
        ];
        let event = keys(7).sign(1, 30000, tags, String::new());
        assert_eq!(event.d_tag(), "first");
        assert_eq!(event.expiration(), Some(1700));
        let no_d = keys(7).sign(1, 30000, vec![vec!["expiration".into(), "soon".into()]], String::new());
        assert_eq!(no_d.d_tag(), "");
        assert_eq!(no_d.expiration(), None);
    }

    #[test]
    fn unknown_fields_are_ignored_and_not_reserialized() {
        let event = keys(8).sign(1, 1, vec![], "x".into());
        let extra = event.json().replacen("{", "{\"extra\":[1,{\"a\":2}],", 1);
        assert_eq!(Event::parse(&extra, &Limits::default()).unwrap().json(), event.json());
    }
}
