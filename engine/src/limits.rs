//! The typed limits a relay applies to peer input, checked while decoding and before any
//! allocation whose size the peer controls.

/// Limits on client input. Every field is a bound; the unit is the last word of its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest WebSocket message accepted, in bytes. Default 1 MiB.
    pub frame_bytes_max: usize,
    /// Largest event object (its JSON text), in bytes. Default 256 KiB.
    pub event_bytes_max: usize,
    /// Longest subscription id, in bytes. NIP-01 allows 64 characters; we count bytes.
    pub subscription_id_bytes_max: usize,
    /// Filters in one REQ or COUNT. Default 16.
    pub filters_per_req_max: usize,
    /// Open subscriptions per connection (enforced by the connection owner). Default 32.
    pub subscriptions_per_connection_max: usize,
    /// Tags in one event. Default 256.
    pub tags_per_event_max: usize,
    /// Values in one filter field (`ids`, `authors`, `kinds`, each `#x`). Default 128.
    pub values_per_filter_field_max: usize,
    /// How far in the future `created_at` may be, in seconds. Default 900.
    pub created_at_future_seconds_max: u64,
    /// The largest `limit` a filter gets; larger requests are clamped (NIP-11 `max_limit`).
    pub filter_limit_max: u64,
    /// How far in the past `created_at` may be, in seconds; 0: no floor (NIP-11
    /// `created_at_lower_limit`).
    pub created_at_past_seconds_max: u64,
    /// NIP-13: the fewest leading zero bits an event id must have; 0: none.
    pub min_pow_difficulty: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            frame_bytes_max: 1024 * 1024,
            event_bytes_max: 256 * 1024,
            subscription_id_bytes_max: 64,
            filters_per_req_max: 16,
            subscriptions_per_connection_max: 32,
            tags_per_event_max: 256,
            values_per_filter_field_max: 128,
            created_at_future_seconds_max: 900,
            filter_limit_max: 500,
            created_at_past_seconds_max: 0,
            min_pow_difficulty: 0,
        }
    }
}
