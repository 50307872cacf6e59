//! Who may read what: events of restricted kinds (NIP-04 direct messages, NIP-17/59 gift wraps)
//! are served only to their author or a `p`-tagged recipient, authenticated by NIP-42. Every
//! read path (REQ, catch-up, live fanout, COUNT, NEG-OPEN) asks the same `ReadAccess`.

use std::sync::Arc;

use crate::event::{Event, Pubkey};
use crate::filter::{Filter, TagFilter};
use crate::hex;

/// The kinds a relay restricts by default: NIP-04 direct messages, NIP-59 gift wraps (1059)
/// and their 1060 variant.
pub const DEFAULT_RESTRICTED_KINDS: [u16; 3] = [4, 1059, 1060];

/// A reader's view: the relay's restricted kinds and the pubkeys the reader authenticated as.
/// The default restricts nothing (what the relay's own tools and the cluster read with).
#[derive(Clone, Debug, Default)]
pub struct ReadAccess {
    restricted: Arc<[u16]>,
    viewers: Vec<Pubkey>,
}

impl ReadAccess {
    pub fn new(restricted: Arc<[u16]>, viewers: Vec<Pubkey>) -> ReadAccess {
        ReadAccess { restricted, viewers }
    }

    pub fn is_restricted(&self, kind: u16) -> bool {
        self.restricted.contains(&kind)
    }

    /// Whether every event is readable (no restricted kinds): callers skip the check.
    pub fn is_open(&self) -> bool {
        self.restricted.is_empty()
    }

    /// Whether the filter asks for a restricted kind by name while the reader is nobody: such a
    /// request is answered `auth-required:` rather than with events silently left out. A filter
    /// without `kinds` only never sees restricted events it is not entitled to.
    pub fn needs_auth(&self, filter: &Filter) -> bool {
        self.viewers.is_empty()
            && filter.kinds.as_ref().is_some_and(|kinds| kinds.iter().any(|kind| self.is_restricted(*kind)))
    }

    /// Whether an event of `kind` by `author`, `p`-tagging `recipients`, may be read.
    pub fn may_read<'a>(&self, kind: u16, author: &Pubkey, mut recipients: impl Iterator<Item = &'a [u8; 32]>) -> bool {
        !self.is_restricted(kind)
            || self.viewers.contains(author)
            || recipients.any(|recipient| self.viewers.contains(recipient))
    }

    /// A filter for every event of a restricted kind.
    pub fn restricted_filter(&self) -> Filter {
        Filter { kinds: Some(self.restricted.to_vec()), ..Filter::default() }
    }

    /// Filters for exactly the restricted events this reader may read (authored by a viewer or
    /// `p`-tagging one); none when the reader is nobody.
    pub fn readable_restricted_filters(&self) -> Vec<Filter> {
        if self.viewers.is_empty() || self.restricted.is_empty() {
            return Vec::new();
        }
        let recipients = self.viewers.iter().map(|viewer| hex::encode(viewer)).collect();
        vec![
            Filter { authors: Some(self.viewers.clone()), ..self.restricted_filter() },
            Filter { tags: vec![TagFilter { letter: b'p', values: recipients }], ..self.restricted_filter() },
        ]
    }

    pub fn may_read_event(&self, event: &Event) -> bool {
        if !self.is_restricted(event.kind()) {
            return true;
        }
        let recipients: Vec<[u8; 32]> = event.tag_values("p").filter_map(hex::decode_array::<32>).collect();
        self.may_read(event.kind(), event.pubkey(), recipients.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Keys;
    use crate::limits::Limits;

    fn keys(byte: u8) -> Keys {
        Keys::from_secret_bytes([byte; 32]).expect("valid secret")
    }

    fn access(viewers: &[&Keys]) -> ReadAccess {
        ReadAccess::new(DEFAULT_RESTRICTED_KINDS.into(), viewers.iter().map(|keys| *keys.public_key()).collect())
    }

    #[test]
    fn restricted_events_are_read_by_author_and_recipients_only() {
        let (alice, bob, carol) = (keys(1), keys(2), keys(3));
        let bob_hex = hex::encode(bob.public_key());
        let wrap = alice.sign(1, 1059, vec![vec!["p".into(), bob_hex.clone()]], "sealed".into());
        let note = alice.sign(1, 1, vec![vec!["p".into(), bob_hex]], "hello".into());
        let table: [(&str, ReadAccess, &Event, bool); 8] = [
            ("nobody, gift wrap", access(&[]), &wrap, false),
            ("nobody, kind 1", access(&[]), &note, true),
            ("recipient", access(&[&bob]), &wrap, true),
            ("author", access(&[&alice]), &wrap, true),
            ("stranger", access(&[&carol]), &wrap, false),
            ("stranger and recipient on one connection", access(&[&carol, &bob]), &wrap, true),
            ("stranger, kind 1", access(&[&carol]), &note, true),
            ("nothing restricted", ReadAccess::default(), &wrap, true),
        ];
        for (case, access, event, expected) in table {
            assert_eq!(access.may_read_event(event), expected, "{case}");
        }
    }

    #[test]
    fn readable_restricted_filters_find_what_the_reader_may_read() {
        let (alice, bob, carol) = (keys(1), keys(2), keys(3));
        let to = |keys: &Keys| vec![vec!["p".to_string(), hex::encode(keys.public_key())]];
        let events = [
            alice.sign(1, 1059, to(&bob), "a to b".into()),
            carol.sign(1, 1059, to(&alice), "c to a".into()),
            carol.sign(1, 4, to(&bob), "c to b".into()),
            carol.sign(1, 1, to(&alice), "public".into()),
        ];
        for viewers in [vec![], vec![&alice], vec![&bob], vec![&carol], vec![&alice, &bob]] {
            let access = access(&viewers);
            let filters = access.readable_restricted_filters();
            for event in &events {
                let found = filters.iter().any(|filter| filter.matches(event));
                let expected = access.is_restricted(event.kind()) && access.may_read_event(event);
                assert_eq!(found, expected, "{} viewers, {}", viewers.len(), event.content());
                assert_eq!(access.restricted_filter().matches(event), access.is_restricted(event.kind()));
            }
        }
    }

    #[test]
    fn only_a_filter_naming_a_restricted_kind_needs_auth() {
        let limits = Limits::default();
        let filter = |json: &str| Filter::parse(json, &limits).unwrap();
        let table = [
            (r#"{"kinds":[1059]}"#, access(&[]), true),
            (r#"{"kinds":[1,4]}"#, access(&[]), true),
            (r#"{"kinds":[1059]}"#, access(&[&keys(2)]), false),
            (r#"{"kinds":[1]}"#, access(&[]), false),
            (r#"{"authors":["0000000000000000000000000000000000000000000000000000000000000000"]}"#, access(&[]), false),
            (r#"{"kinds":[1059]}"#, ReadAccess::default(), false),
        ];
        for (json, access, expected) in table {
            assert_eq!(access.needs_auth(&filter(json)), expected, "{json}");
        }
    }
}
