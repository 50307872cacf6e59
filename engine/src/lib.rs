//! Nostr semantics for Parrhesia, with no I/O, no clock and no runtime: events (parse, canonical
//! serialization, id and signature checks), filters, client and relay messages with limits and
//! typed rejections, and the per-shard subscription index. Time comes in as arguments.

pub mod access;
pub mod auth;
pub mod event;
pub mod filter;
#[doc(hidden)]
pub mod fuzzing;
pub mod hex;
pub mod hll;
pub mod index;
pub mod json;
pub mod limits;
pub mod management;
pub mod marmot;
pub mod message;
pub mod mirror;
pub mod nip43;
pub mod nip98;
pub mod policy;
pub mod policy_log;
pub mod random;
pub mod rate;
pub mod reason;
pub mod retention;
pub mod search;
pub mod summary;
pub mod write_policy;

pub use access::ReadAccess;
pub use event::{Event, Id, Keys, KindClass, Pubkey, canonical_bytes, compute_id};
pub use filter::{Filter, TagFilter};
pub use index::{FilterKeys, IndexKey, KeyClass, SubscriptionIndex, event_keys, filter_keys};
pub use limits::Limits;
pub use message::{ClientMessage, Rejection, RelayMessage, ReplyTo, event_message_prefix};
pub use random::SeededRandom;
pub use reason::{Prefix, Reason};
pub use summary::{EventProbe, InterestKey, Summary};
