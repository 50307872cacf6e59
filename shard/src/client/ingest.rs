//! The checks an event takes before the writer whoever sent it (a client's connection,
//! `session`; a mirror stream, `crate::mirror`), in the order the cheap ones come first: the
//! policy log's kind, the operator's policy and Marmot's structure, duplicates, NIP-13, the
//! signature, created_at; then, separately, the write-policy plugin.

use parrhesia_engine::write_policy::Source;
use parrhesia_engine::{Event, KindClass, Prefix, Reason};

use crate::metrics::{OUTCOME_DUPLICATE, refusal_outcome};
use crate::plugin::{Verdict, WritePolicy};
use crate::shard::Shard;

/// The answer to an event decided before the writer: its OK and the outcome counted.
pub struct Answer {
    pub accepted: bool,
    pub message: String,
    pub outcome: usize,
}

impl Answer {
    pub fn refused(reason: Reason) -> Answer {
        Answer { accepted: false, outcome: refusal_outcome(reason.prefix), message: reason.to_string() }
    }
}

/// The checks up to and including created_at's window. `stored`: whether the store holds the
/// event's id, if the caller looked already.
pub fn check(shard: &Shard, event: &Event, stored: Option<bool>) -> Result<(), Answer> {
    if event.kind() == parrhesia_engine::policy_log::POLICY_ENTRY_KIND {
        return Err(Answer::refused(Reason::new(
            Prefix::Restricted,
            "this kind is the relay's policy log: NIP-86 calls make its entries",
        )));
    }
    // The operator's bans and allow-lists (NIP-86): map lookups, before any other work.
    let allowed = shard.policy.borrow().check_event(event);
    allowed.and_then(|()| parrhesia_engine::marmot::check_event(event)).map_err(Answer::refused)?;
    if event.kind_class() != KindClass::Ephemeral {
        let held = match stored {
            Some(held) => Ok(held),
            None => shard.store.contains_id(event.id()),
        };
        match held {
            Ok(true) => {
                let message = "duplicate: already have this event".into();
                return Err(Answer { accepted: true, message, outcome: OUTCOME_DUPLICATE });
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, "duplicate check failed");
                return Err(Answer::refused(Reason::new(Prefix::Error, "the relay could not read its store")));
            }
        }
    }
    // Cheap before the signature: spam without the work costs no verification.
    event.check_pow(shard.limits.min_pow_difficulty).map_err(Answer::refused)?;
    event.verify_signature().map_err(Answer::refused)?;
    event.check_created_at(crate::system::unix_now(), &shard.limits).map_err(Answer::refused)
}

/// The plugin's verdict on `event` from `source`: `Ok` to go on, else the answer (a shadow
/// rejection is accepted and goes no further).
pub async fn ask_plugin(plugin: &WritePolicy, event: &Event, source: &Source<'_>) -> Result<(), Answer> {
    let refused = |message: String| Answer {
        accepted: false,
        outcome: refusal_outcome(Prefix::of_message(&message).unwrap_or(Prefix::Error)),
        message,
    };
    match plugin.judge(event, source, crate::system::unix_now()).await {
        Verdict::Accept => Ok(()),
        Verdict::Reject(message) => Err(refused(message)),
        Verdict::ShadowReject => {
            Err(Answer { accepted: true, message: String::new(), outcome: crate::metrics::OUTCOME_SHADOW_REJECTED })
        }
        Verdict::Failed(failure) => Err(refused(failure.reason())),
    }
}
