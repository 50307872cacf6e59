//! Retention rules: how long the relay keeps a stored event (the `retention_*` settings), the
//! verdict for one event, and the NIP-11 `retention` field that tells clients. No I/O: the
//! store walks its time index and asks `Retention::age_of` of each old event.

use std::collections::BTreeSet;

use crate::event::{KindClass, Pubkey};

/// How long one set of kinds is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindRule {
    /// Inclusive ranges of kinds (a single kind is a range of one).
    pub kinds: Vec<(u16, u16)>,
    /// Seconds after its `created_at` an event of these kinds goes; `None`: kept forever.
    pub age: Option<u64>,
}

impl KindRule {
    /// Reads `"KINDS:SECONDS"`: KINDS a comma-separated list of kinds and ranges (`1, 7`,
    /// `30000-39999`), SECONDS a number or `forever`.
    pub fn parse(text: &str) -> Result<KindRule, String> {
        let fail = |why: &str| {
            format!("{text:?}: {why} (want \"KINDS:SECONDS\", e.g. \"1, 7, 9000-9999:2592000\" or \"4:forever\")")
        };
        let (kinds, age) = text.rsplit_once(':').ok_or_else(|| fail("no `:`"))?;
        let age = match age.trim() {
            "forever" => None,
            seconds => match seconds.parse::<u64>() {
                Ok(0) => {
                    return Err(fail("an age of 0 would remove every such event at once; say `forever` to keep them"));
                }
                Ok(seconds) => Some(seconds),
                Err(_) => return Err(fail("the age is not a number of seconds")),
            },
        };
        let mut ranges = Vec::new();
        for item in kinds.split(',').map(str::trim) {
            let kind = |text: &str| text.trim().parse::<u16>().map_err(|_| fail("a kind is not 0-65535"));
            let range = match item.split_once('-') {
                Some((low, high)) => (kind(low)?, kind(high)?),
                None => (kind(item)?, kind(item)?),
            };
            if range.0 > range.1 {
                return Err(fail("a range runs backwards"));
            }
            ranges.push(range);
        }
        Ok(KindRule { kinds: ranges, age })
    }

    fn covers(&self, kind: u16) -> bool {
        self.kinds.iter().any(|(low, high)| (*low..=*high).contains(&kind))
    }
}

/// The operator's retention rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Seconds an event of a kind no rule names is kept; `None`: forever.
    pub default_age: Option<u64>,
    /// Per-kind rules; the first that covers a kind decides it (over the default and over
    /// `keep_replaceable`: naming a replaceable kind means it).
    pub kinds: Vec<KindRule>,
    /// The default age leaves replaceable and addressable events alone: the store holds only
    /// the latest of each (profiles, contact lists, relay lists), kept whatever their age.
    pub keep_replaceable: bool,
    /// Authors whose events no rule removes. (Policy entries, `policy_log`, are never removed
    /// either: they are the cluster's record of every NIP-86 change, and what a wiped node
    /// learns its policy from.)
    pub protected: BTreeSet<Pubkey>,
}

/// Kept whatever the rules say.
fn always_kept(kind: u16, author: &Pubkey, protected: &BTreeSet<Pubkey>) -> bool {
    kind == crate::policy_log::POLICY_ENTRY_KIND || protected.contains(author)
}

impl Retention {
    /// Whether no rule removes anything.
    pub fn is_off(&self) -> bool {
        self.default_age.is_none() && self.kinds.iter().all(|rule| rule.age.is_none())
    }

    /// Seconds after its `created_at` an event of `kind` by `author` goes; `None`: kept.
    pub fn age_of(&self, kind: u16, author: &Pubkey) -> Option<u64> {
        if always_kept(kind, author, &self.protected) {
            return None;
        }
        if let Some(rule) = self.kinds.iter().find(|rule| rule.covers(kind)) {
            return rule.age;
        }
        match KindClass::of(kind) {
            KindClass::Replaceable | KindClass::Addressable if self.keep_replaceable => None,
            _ => self.default_age,
        }
    }

    /// Whether a size budget may remove an event of `kind` by `author` (oldest first): any
    /// event some rule would remove in time, and, with no rule for it, any event of a kind
    /// the default age would cover. Protected authors, kinds kept `forever` and (with
    /// `keep_replaceable`) replaceable events stay.
    pub fn evictable(&self, kind: u16, author: &Pubkey) -> bool {
        if always_kept(kind, author, &self.protected) {
            return false;
        }
        if let Some(rule) = self.kinds.iter().find(|rule| rule.covers(kind)) {
            return rule.age.is_some();
        }
        !matches!(KindClass::of(kind), KindClass::Replaceable | KindClass::Addressable) || !self.keep_replaceable
    }

    /// Whether an event is past its retention at `now`.
    pub fn expired(&self, kind: u16, author: &Pubkey, created_at: u64, now: u64) -> bool {
        self.age_of(kind, author).is_some_and(|age| created_at < now.saturating_sub(age))
    }

    /// The shortest age any rule gives: an event younger than it is kept whatever its kind, so
    /// a sweep walks the time index only up to `now - shortest_age`. `None`: nothing goes.
    pub fn shortest_age(&self) -> Option<u64> {
        self.default_age.into_iter().chain(self.kinds.iter().filter_map(|rule| rule.age)).min()
    }

    /// NIP-11 `retention`: one object per kind rule (`kinds` with ranges as pairs, `time` in
    /// seconds, null for forever), then the default (`time` alone), then, when replaceable
    /// events are kept, their ranges as forever.
    pub fn nip11(&self) -> serde_json::Value {
        let kinds = |ranges: &[(u16, u16)]| -> serde_json::Value {
            ranges
                .iter()
                .map(|&(low, high)| if low == high { serde_json::json!(low) } else { serde_json::json!([low, high]) })
                .collect()
        };
        let mut entries: Vec<serde_json::Value> = self
            .kinds
            .iter()
            .map(|rule| serde_json::json!({ "kinds": kinds(&rule.kinds), "time": rule.age }))
            .collect();
        if self.default_age.is_some() && self.keep_replaceable {
            let replaceable = [(0, 0), (3, 3), (10000, 19999), (30000, 39999)];
            entries.push(serde_json::json!({ "kinds": kinds(&replaceable), "time": null }));
        }
        if let Some(age) = self.default_age {
            entries.push(serde_json::json!({ "time": age }));
        }
        serde_json::Value::Array(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retention(default_age: Option<u64>, rules: &[&str]) -> Retention {
        Retention {
            default_age,
            kinds: rules.iter().map(|rule| KindRule::parse(rule).unwrap()).collect(),
            keep_replaceable: true,
            protected: BTreeSet::new(),
        }
    }

    #[test]
    fn rules_parse_kinds_ranges_and_forever_and_refuse_the_rest() {
        assert_eq!(
            KindRule::parse("1, 7, 9000-9999:2592000").unwrap(),
            KindRule { kinds: vec![(1, 1), (7, 7), (9000, 9999)], age: Some(2_592_000) }
        );
        assert_eq!(KindRule::parse("4:forever").unwrap(), KindRule { kinds: vec![(4, 4)], age: None });
        for bad in ["1,7", "1:soon", "70000:5", "9-3:5", ":5", "1,,2:5", "x:5", "7:0"] {
            assert!(KindRule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_first_kind_rule_decides_then_the_default_which_leaves_replaceable_events_and_protected_authors() {
        let mut rules = retention(Some(100), &["1, 7:10", "4:forever", "30023:50"]);
        rules.protected.insert([9; 32]);
        let author = [1; 32];
        assert_eq!(rules.age_of(1, &author), Some(10));
        assert_eq!(rules.age_of(7, &author), Some(10));
        assert_eq!(rules.age_of(4, &author), None);
        assert_eq!(rules.age_of(6, &author), Some(100), "the default");
        assert_eq!(rules.age_of(0, &author), None, "a profile: replaceable, kept");
        assert_eq!(rules.age_of(10002, &author), None, "a relay list: replaceable, kept");
        assert_eq!(rules.age_of(30000, &author), None, "addressable, kept");
        assert_eq!(rules.age_of(30023, &author), Some(50), "named: the rule wins");
        assert_eq!(rules.age_of(1, &[9; 32]), None, "a protected author");
        assert_eq!(rules.age_of(crate::policy_log::POLICY_ENTRY_KIND, &[1; 32]), None, "a policy entry");
        rules.keep_replaceable = false;
        assert_eq!(rules.age_of(0, &author), Some(100));
        assert_eq!(rules.shortest_age(), Some(10));
        assert!(rules.expired(1, &author, 89, 100));
        assert!(!rules.expired(1, &author, 90, 100), "exactly at its age: kept");
        assert!(!rules.expired(1, &author, 5, 8), "the clock before the age: kept");
    }

    #[test]
    fn a_size_budget_may_remove_what_no_rule_keeps_forever() {
        let mut rules = retention(None, &["4:forever", "30023:50"]);
        rules.protected.insert([9; 32]);
        let author = [1; 32];
        assert!(rules.evictable(1, &author), "no age at all: still evictable by size");
        assert!(!rules.evictable(4, &author), "kept forever");
        assert!(!rules.evictable(0, &author), "replaceable, kept");
        assert!(rules.evictable(30023, &author), "named with an age");
        assert!(!rules.evictable(1, &[9; 32]), "protected");
        assert!(!rules.evictable(crate::policy_log::POLICY_ENTRY_KIND, &[1; 32]), "a policy entry");
        rules.keep_replaceable = false;
        assert!(rules.evictable(0, &author));
    }

    #[test]
    fn no_rule_and_forever_rules_are_off() {
        assert!(Retention::default().is_off());
        assert!(retention(None, &["1:forever"]).is_off());
        assert!(!retention(None, &["1:60"]).is_off());
        assert_eq!(retention(None, &["1:forever"]).shortest_age(), None);
    }

    #[test]
    fn nip11_lists_kind_rules_the_kept_replaceable_ranges_and_the_default() {
        let rules = retention(Some(3600), &["1, 30000-30010:60", "4:forever"]);
        assert_eq!(
            rules.nip11(),
            serde_json::json!([
                {"kinds": [1, [30000, 30010]], "time": 60},
                {"kinds": [4], "time": null},
                {"kinds": [0, 3, [10000, 19999], [30000, 39999]], "time": null},
                {"time": 3600}
            ])
        );
        assert_eq!(Retention::default().nip11(), serde_json::json!([]));
    }
}
