//! NIP-01 filters: decoding with limits and clear reasons, exact matching (since/until
//! inclusive, OR within a field, AND across fields and across tags), NIP-50 `search` terms.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::event::{Event, Id, Pubkey, strip_position};
use crate::limits::Limits;
use crate::reason::Reason;
use crate::{hex, json};

/// One tag condition: the event must have a tag named `letter` whose value is in `values`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagFilter {
    /// An ASCII letter, `a-z` or `A-Z`.
    pub letter: u8,
    pub values: Vec<String>,
}

/// A NIP-01 filter. Absent fields do not constrain; a present but empty list matches nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub ids: Option<Vec<Id>>,
    pub authors: Option<Vec<Pubkey>>,
    pub kinds: Option<Vec<u16>>,
    /// At most one entry per letter, sorted by letter.
    pub tags: Vec<TagFilter>,
    pub since: Option<u64>,
    pub until: Option<u64>,
    /// Already clamped to `Limits::filter_limit_max` when decoded from a client.
    pub limit: Option<u64>,
    /// NIP-50 full-text query.
    pub search: Option<String>,
}

impl Filter {
    /// Whether the filter has no condition at all (`{}`, perhaps with a limit): it matches
    /// every event.
    pub fn matches_everything(&self) -> bool {
        self.ids.is_none()
            && self.authors.is_none()
            && self.kinds.is_none()
            && self.tags.is_empty()
            && self.since.is_none()
            && self.until.is_none()
            && self.search.is_none()
    }

    /// Decodes a filter object, applying `limits` while decoding.
    pub fn parse(text: &str, limits: &Limits) -> Result<Filter, Reason> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let filter = FilterSeed { limits }
            .deserialize(&mut deserializer)
            .map_err(|error| Reason::invalid(format!("bad filter: {}", strip_position(&error))))?;
        deserializer.end().map_err(|_| Reason::invalid("bad filter: trailing characters"))?;
        Ok(filter)
    }

    /// Whether `event` passes every condition of this filter (`limit` is not a condition).
    pub fn matches(&self, event: &Event) -> bool {
        self.matches_header(event.id(), event.pubkey(), event.kind(), event.created_at())
            && self.tags.iter().all(|condition| tag_condition_holds(condition, event))
            && self.search.as_deref().is_none_or(|query| search_matches(query, event.content()))
    }

    /// The part of `matches` that needs only the event's id, pubkey, kind and created_at.
    pub fn matches_header(&self, id: &Id, pubkey: &Pubkey, kind: u16, created_at: u64) -> bool {
        self.ids.as_ref().is_none_or(|ids| ids.contains(id))
            && self.authors.as_ref().is_none_or(|authors| authors.contains(pubkey))
            && self.kinds.as_ref().is_none_or(|kinds| kinds.contains(&kind))
            && self.since.is_none_or(|since| created_at >= since)
            && self.until.is_none_or(|until| created_at <= until)
    }

    /// The tag condition for `letter`, if any.
    pub fn tag(&self, letter: u8) -> Option<&TagFilter> {
        self.tags.iter().find(|condition| condition.letter == letter)
    }

    /// The filter as a JSON object (for clients, tools and tests).
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(128);
        out.push(b'{');
        let mut first = true;
        let mut key = |name: &str, out: &mut Vec<u8>| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            json::write_string(name, out);
            out.push(b':');
        };
        for (name, list) in [("ids", &self.ids), ("authors", &self.authors)] {
            if let Some(list) = list {
                key(name, &mut out);
                let items: Vec<String> = list.iter().map(|bytes| hex::encode(bytes)).collect();
                write_string_list(&items, &mut out);
            }
        }
        if let Some(kinds) = &self.kinds {
            key("kinds", &mut out);
            let items: Vec<u64> = kinds.iter().map(|&kind| u64::from(kind)).collect();
            write_number_list(&items, &mut out);
        }
        for condition in &self.tags {
            key(&format!("#{}", condition.letter as char), &mut out);
            write_string_list(&condition.values, &mut out);
        }
        for (name, value) in [("since", self.since), ("until", self.until), ("limit", self.limit)] {
            if let Some(value) = value {
                key(name, &mut out);
                json::write_u64(value, &mut out);
            }
        }
        if let Some(search) = &self.search {
            key("search", &mut out);
            json::write_string(search, &mut out);
        }
        out.push(b'}');
        String::from_utf8(out).expect("built from str pieces")
    }
}

fn write_string_list(items: &[String], out: &mut Vec<u8>) {
    out.push(b'[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        json::write_string(item, out);
    }
    out.push(b']');
}

fn write_number_list(items: &[u64], out: &mut Vec<u8>) {
    out.push(b'[');
    for (index, &item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        json::write_u64(item, out);
    }
    out.push(b']');
}

fn tag_condition_holds(condition: &TagFilter, event: &Event) -> bool {
    event.tags().iter().any(|tag| {
        tag.len() >= 2
            && tag[0].len() == 1
            && tag[0].as_bytes()[0] == condition.letter
            && condition.values.iter().any(|value| *value == tag[1])
    })
}

/// NIP-50: every word of `query` occurs as a word of `content` (see `search::Query`).
pub fn search_matches(query: &str, content: &str) -> bool {
    crate::search::Query::parse(query).matches(content)
}

struct FilterSeed<'l> {
    limits: &'l Limits,
}

impl<'de> DeserializeSeed<'de> for FilterSeed<'_> {
    type Value = Filter;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Filter, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FilterSeed<'_> {
    type Value = Filter;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a filter object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Filter, A::Error> {
        let values_max = self.limits.values_per_filter_field_max;
        let mut filter = Filter::default();
        let mut seen_since = false;
        let mut seen_until = false;
        let mut seen_limit = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "ids" => {
                    let list = map.next_value_seed(Limited::<Cow<str>>::new("ids", values_max))?;
                    set_once(&mut filter.ids, "ids", hex_list::<A::Error>(list, "ids")?)?;
                }
                "authors" => {
                    let list = map.next_value_seed(Limited::<Cow<str>>::new("authors", values_max))?;
                    set_once(&mut filter.authors, "authors", hex_list::<A::Error>(list, "authors")?)?;
                }
                "kinds" => {
                    let mut list = map.next_value_seed(Limited::<u16>::new("kinds", values_max))?;
                    list.sort_unstable();
                    list.dedup();
                    set_once(&mut filter.kinds, "kinds", list)?;
                }
                "since" => filter.since = Some(scalar_once(&mut map, &mut seen_since, "since")?),
                "until" => filter.until = Some(scalar_once(&mut map, &mut seen_until, "until")?),
                "limit" => {
                    let limit = scalar_once(&mut map, &mut seen_limit, "limit")?;
                    filter.limit = Some(limit.min(self.limits.filter_limit_max));
                }
                "search" => {
                    let query = map.next_value::<String>().map_err(|_| de::Error::custom("search must be a string"))?;
                    set_once(&mut filter.search, "search", query)?;
                }
                tag if tag.len() == 2 && tag.starts_with('#') && tag.as_bytes()[1].is_ascii_alphabetic() => {
                    let letter = tag.as_bytes()[1];
                    if filter.tag(letter).is_some() {
                        return Err(de::Error::custom(format!("duplicate field `{tag}`")));
                    }
                    let mut values = map.next_value_seed(Limited::<String>::new("tag filter", values_max))?;
                    if (letter == b'e' || letter == b'p')
                        && values.iter().any(|value| hex::decode_array::<32>(value).is_none())
                    {
                        return Err(de::Error::custom(format!("{tag} values must be 64 lowercase hex characters")));
                    }
                    values.sort_unstable();
                    values.dedup();
                    filter.tags.push(TagFilter { letter, values });
                }
                other => return Err(de::Error::custom(format!("unknown filter field `{other}`"))),
            }
        }
        filter.tags.sort_unstable_by_key(|condition| condition.letter);
        Ok(filter)
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

fn scalar_once<'de, A: MapAccess<'de>>(map: &mut A, seen: &mut bool, name: &'static str) -> Result<u64, A::Error> {
    if std::mem::replace(seen, true) {
        return Err(de::Error::duplicate_field(name));
    }
    map.next_value::<u64>().map_err(|_| de::Error::custom(format!("{name} must be a non-negative integer")))
}

fn hex_list<E: de::Error>(list: Vec<Cow<str>>, name: &str) -> Result<Vec<[u8; 32]>, E> {
    let mut decoded = list
        .iter()
        .map(|text| hex::decode_array::<32>(text))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| E::custom(format!("{name} must be 64 lowercase hex characters each")))?;
    decoded.sort_unstable();
    decoded.dedup();
    Ok(decoded)
}

/// A JSON array of at most `max` elements; the count is checked before each element is read.
struct Limited<T> {
    field: &'static str,
    max: usize,
    element: PhantomData<T>,
}

impl<T> Limited<T> {
    fn new(field: &'static str, max: usize) -> Limited<T> {
        Limited { field, max, element: PhantomData }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Limited<T> {
    type Value = Vec<T>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Limited<T> {
    type Value = Vec<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "{} as an array", self.field)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        loop {
            if items.len() == self.max {
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom(format!("more than {} values in {}", self.max, self.field)));
                }
                return Ok(items);
            }
            match seq.next_element::<T>() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(items),
                Err(_) => return Err(de::Error::custom(format!("{} has a value of the wrong type", self.field))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Keys;

    fn event(created_at: u64, kind: u16, tags: &[(&str, &str)], content: &str) -> Event {
        let tags = tags.iter().map(|(name, value)| vec![name.to_string(), value.to_string()]).collect();
        Keys::from_secret_bytes([9; 32]).unwrap().sign(created_at, kind, tags, content.into())
    }

    fn parse(text: &str) -> Filter {
        Filter::parse(text, &Limits::default()).unwrap_or_else(|reason| panic!("{text}: {reason}"))
    }

    #[test]
    fn matching_table() {
        let note = event(100, 1, &[("t", "rust"), ("t", "nostr"), ("alt", "x")], "Hello World");
        let id = hex::encode(note.id());
        let author = hex::encode(note.pubkey());
        let other = "11".repeat(32);
        let cases: Vec<(String, bool)> = vec![
            ("{}".into(), true),
            (format!(r#"{{"ids":["{id}"]}}"#), true),
            (format!(r#"{{"ids":["{other}"]}}"#), false),
            (r#"{"ids":[]}"#.into(), false),
            (format!(r#"{{"authors":["{other}","{author}"]}}"#), true),
            (format!(r#"{{"authors":["{other}"]}}"#), false),
            (r#"{"kinds":[0,1]}"#.into(), true),
            (r#"{"kinds":[7]}"#.into(), false),
            (r#"{"since":100}"#.into(), true),
            (r#"{"since":101}"#.into(), false),
            (r#"{"until":100}"#.into(), true),
            (r#"{"until":99}"#.into(), false),
            (r#"{"since":100,"until":100}"#.into(), true),
            (r##"{"#t":["nostr"]}"##.into(), true),
            (r##"{"#t":["go","rust"]}"##.into(), true),
            (r##"{"#t":["go"]}"##.into(), false),
            (r##"{"#t":["rust"],"#a":["x"]}"##.into(), false), // AND across tags
            (r##"{"#T":["rust"]}"##.into(), false),            // tag letters are case-sensitive
            (r#"{"limit":0}"#.into(), true),                   // limit is not a condition
            (r#"{"search":"hello"}"#.into(), true),
            (r#"{"search":"WORLD hello"}"#.into(), true),
            (r#"{"search":"hello mars"}"#.into(), false),
            (r#"{"search":"hello include:spam"}"#.into(), true),
            (format!(r##"{{"kinds":[1],"authors":["{author}"],"#t":["rust"],"since":50}}"##), true),
            (format!(r#"{{"kinds":[2],"authors":["{author}"]}}"#), false),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(&text).matches(&note), expected, "filter {text}");
        }
        // Multi-letter tags like `alt` are never matched by a filter (only single letters index).
        assert!(Filter::parse(r##"{"#alt":["x"]}"##, &Limits::default()).is_err());
    }

    #[test]
    fn rejection_table() {
        let long = format!("[{}]", vec!["1"; 129].join(","));
        let cases: Vec<(String, &str)> = vec![
            ("[]".into(), "bad filter"),
            (r#"{"ids":["abc"]}"#.into(), "ids must be 64 lowercase hex"),
            (format!(r#"{{"authors":["{}"]}}"#, "AB".repeat(32)), "authors must be 64 lowercase hex"),
            (r#"{"kinds":[70000]}"#.into(), "kinds has a value of the wrong type"),
            (r#"{"kinds":"1"}"#.into(), "invalid type"),
            (format!(r#"{{"kinds":{long}}}"#), "more than 128 values in kinds"),
            (r#"{"since":-1}"#.into(), "since must be a non-negative integer"),
            (r#"{"until":"x"}"#.into(), "until must be a non-negative integer"),
            (r#"{"limit":1.5}"#.into(), "limit must be a non-negative integer"),
            (r#"{"since":1,"since":2}"#.into(), "duplicate field `since`"),
            (r#"{"kinds":[1],"kinds":[2]}"#.into(), "duplicate field `kinds`"),
            (r##"{"#t":["a"],"#t":["b"]}"##.into(), "duplicate field `#t`"),
            (r##"{"#e":["not-hex"]}"##.into(), "#e values must be 64 lowercase hex"),
            (r##"{"#p":["abc"]}"##.into(), "#p values must be 64 lowercase hex"),
            (r##"{"#t":[1]}"##.into(), "tag filter has a value of the wrong type"),
            (r##"{"#1":["x"]}"##.into(), "unknown filter field `#1`"),
            (r#"{"foo":1}"#.into(), "unknown filter field `foo`"),
            (r#"{"search":5}"#.into(), "search must be a string"),
            (r#"{} x"#.into(), "trailing characters"),
        ];
        for (text, expected) in cases {
            let reason = Filter::parse(&text, &Limits::default()).unwrap_err();
            assert_eq!(reason.prefix, crate::Prefix::Invalid);
            assert!(reason.detail.contains(expected), "filter {text}: got {reason}, expected {expected}");
        }
    }

    #[test]
    fn limit_is_clamped_and_lists_normalized() {
        let filter = parse(r#"{"limit":100000,"kinds":[3,1,3]}"#);
        assert_eq!(filter.limit, Some(500));
        assert_eq!(filter.kinds, Some(vec![1, 3]));
    }

    #[test]
    fn to_json_round_trips() {
        let author = "22".repeat(32);
        let text = format!(
            r##"{{"authors":["{author}"],"kinds":[1,7],"#e":["{author}"],"#t":["a\"b"],"since":1,"until":2,"limit":3,"search":"x y"}}"##
        );
        let filter = parse(&text);
        assert_eq!(parse(&filter.to_json()), filter);
    }
}
