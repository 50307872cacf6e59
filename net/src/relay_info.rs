//! The NIP-11 relay information document, with its `limitation` block filled from live limits.

use parrhesia_engine::Limits;
use serde::Serialize;

/// NIP-11 `limitation`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Limitation {
    pub max_message_length: usize,
    pub max_subscriptions: usize,
    pub max_filters: usize,
    pub max_limit: u64,
    pub default_limit: u64,
    pub max_subid_length: usize,
    pub max_event_tags: usize,
    pub max_content_length: usize,
    pub min_pow_difficulty: u32,
    pub auth_required: bool,
    pub payment_required: bool,
    pub restricted_writes: bool,
    /// Events dated further in the future than `now + created_at_upper_limit` are refused.
    pub created_at_upper_limit: u64,
    /// Events dated before `now - created_at_lower_limit` are refused (absent: no floor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at_lower_limit: Option<u64>,
}

impl Limitation {
    pub fn from_limits(limits: &Limits) -> Limitation {
        Limitation {
            max_message_length: limits.frame_bytes_max,
            max_subscriptions: limits.subscriptions_per_connection_max,
            max_filters: limits.filters_per_req_max,
            max_limit: limits.filter_limit_max,
            default_limit: limits.filter_limit_max,
            max_subid_length: limits.subscription_id_bytes_max,
            max_event_tags: limits.tags_per_event_max,
            max_content_length: limits.event_bytes_max,
            min_pow_difficulty: limits.min_pow_difficulty,
            auth_required: false,
            payment_required: false,
            restricted_writes: false,
            created_at_upper_limit: limits.created_at_future_seconds_max,
            created_at_lower_limit: (limits.created_at_past_seconds_max > 0)
                .then_some(limits.created_at_past_seconds_max),
        }
    }
}

/// The NIP-11 document.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RelayInfo {
    pub name: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pubkey: Option<String>,
    /// NIP-11 `self`: the relay's own public key (it signs the events the relay publishes).
    #[serde(rename = "self", skip_serializing_if = "Option::is_none")]
    pub self_pubkey: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    pub software: String,
    pub version: String,
    pub supported_nips: Vec<u16>,
    pub limitation: Limitation,
    /// NIP-11 `retention`: what the relay keeps and for how long (kinds, `time` in seconds,
    /// null for forever); absent when it keeps everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<serde_json::Value>,
}

impl RelayInfo {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the document serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_shape() {
        let info = RelayInfo {
            retention: None,
            self_pubkey: None,
            name: "relay".into(),
            description: "d".into(),
            icon: None,
            pubkey: None,
            contact: Some("mailto:x@example.com".into()),
            software: "parrhesia".into(),
            version: "0.1.0".into(),
            supported_nips: vec![1, 11],
            limitation: Limitation::from_limits(&Limits::default()),
        };
        let value: serde_json::Value = serde_json::from_str(&info.to_json()).unwrap();
        assert!(value.get("pubkey").is_none(), "absent optional fields are omitted");
        assert_eq!(value["contact"], "mailto:x@example.com");
        assert_eq!(value["supported_nips"], serde_json::json!([1, 11]));
        assert_eq!(value["limitation"]["max_message_length"], 1024 * 1024);
        assert_eq!(value["limitation"]["max_subscriptions"], 32);
        assert_eq!(value["limitation"]["max_limit"], 500);
        assert_eq!(value["limitation"]["max_subid_length"], 64);
    }
}
