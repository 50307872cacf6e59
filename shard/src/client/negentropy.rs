//! NIP-77 negentropy sessions: `NEG-OPEN` scans the filter's events in budgeted slices (like a
//! COUNT: limits ignored) into (created_at, id) items, then the negentropy crate (protocol v1,
//! the codec strfry speaks) answers each message. Sessions belong to their connection and are
//! bounded in number, items, message size and idle time; a malformed message ends only its own
//! session, with `NEG-ERR`.

use std::rc::Rc;
use std::time::Instant;

use negentropy::{Negentropy, NegentropyStorageVector};
use parrhesia_engine::{Filter, RelayMessage};

use super::connection::Connection;
use super::reconciliation::{Refusal, Session, error, items};
use crate::shard::Shard;

/// `["NEG-OPEN", id, filter, message]`: replaces a session of the same id.
pub fn open(shard: &Rc<Shard>, connection: &Rc<Connection>, subscription_id: String, filter: Filter, message: Vec<u8>) {
    let mut sessions = connection.negentropy.borrow_mut();
    sessions.remove(&subscription_id);
    // Sessions held and sessions still scanning count alike.
    if sessions.len() + connection.negentropy_opening.get() >= shard.config.negentropy_sessions_max {
        drop(sessions);
        let text =
            format!("blocked: at most {} negentropy sessions per connection", shard.config.negentropy_sessions_max);
        return error(connection, subscription_id, text);
    }
    drop(sessions);
    let opening = Opening::new(connection.clone());
    let (shard, connection) = (shard.clone(), connection.clone());
    glommio::spawn_local(async move {
        let _opening = opening;
        let max = shard.config.negentropy_items_max;
        let access = connection.read_access(&shard.read_restricted);
        let items =
            items(&shard.store, &filter, &access, max, crate::client::req::budget(&shard), || !connection.is_closed())
                .await;
        let storage = match items {
            Ok((storage, slices)) => {
                shard.metrics.scan_slices.add(slices);
                storage
            }
            Err(Refusal::TooMany(max)) => {
                return error(
                    &connection,
                    subscription_id,
                    format!("blocked: this filter matches more than {max} events"),
                );
            }
            Err(Refusal::Store(store_error)) => {
                tracing::warn!(error = %store_error, "negentropy scan failed");
                return error(&connection, subscription_id, "error: the relay could not read its store".into());
            }
        };
        let limit = shard.config.negentropy_message_bytes_max as u64;
        let mut negentropy = match Negentropy::owned(storage, limit) {
            Ok(negentropy) => negentropy,
            Err(reason) => return error(&connection, subscription_id, format!("error: {reason}")),
        };
        if let Some(reply) = answer(&mut negentropy, &connection, &subscription_id, &message) {
            connection.reply(reply);
            let session = Session { negentropy, last_used: Instant::now() };
            connection.negentropy.borrow_mut().insert(subscription_id, session);
        }
    })
    .detach();
}

/// A NEG-OPEN counted in `Connection::negentropy_opening` until its task ends, whichever way.
struct Opening(Rc<Connection>);

impl Opening {
    fn new(connection: Rc<Connection>) -> Opening {
        connection.negentropy_opening.set(connection.negentropy_opening.get() + 1);
        Opening(connection)
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        self.0.negentropy_opening.set(self.0.negentropy_opening.get() - 1);
    }
}

/// `["NEG-MSG", id, message]`.
pub fn message(connection: &Connection, subscription_id: String, message: Vec<u8>) {
    let Some(mut session) = connection.negentropy.borrow_mut().remove(&subscription_id) else {
        return error(connection, subscription_id, "closed: no such negentropy session".into());
    };
    if let Some(reply) = answer(&mut session.negentropy, connection, &subscription_id, &message) {
        connection.reply(reply);
        session.last_used = Instant::now();
        connection.negentropy.borrow_mut().insert(subscription_id, session);
    }
}

/// `["NEG-CLOSE", id]`.
pub fn close(connection: &Connection, subscription_id: &str) {
    connection.negentropy.borrow_mut().remove(subscription_id);
}

/// Reconciles one message; on a malformed one, answers NEG-ERR and returns `None` (the session
/// is not kept).
fn answer(
    negentropy: &mut Negentropy<'static, NegentropyStorageVector>,
    connection: &Connection,
    subscription_id: &str,
    message: &[u8],
) -> Option<RelayMessage<'static>> {
    match negentropy.reconcile(message) {
        Ok(reply) => Some(RelayMessage::NegMsg { subscription_id: subscription_id.to_string().into(), message: reply }),
        Err(reason) => {
            error(connection, subscription_id.to_string(), format!("invalid: negentropy message refused ({reason})"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use negentropy::Id;
    use parrhesia_engine::SeededRandom;

    fn storage(ids: impl IntoIterator<Item = u64>) -> NegentropyStorageVector {
        let mut storage = NegentropyStorageVector::new();
        for n in ids {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&n.to_be_bytes());
            storage.insert(n / 3, Id::from_byte_array(id)).unwrap();
        }
        storage.seal().unwrap();
        storage
    }

    /// What the fuzz target (net/fuzz, negentropy_message) does, deterministically and on
    /// stable: mutations of real client messages must be answered or refused, never panic.
    #[test]
    fn mutated_client_messages_are_answered_or_refused() {
        let mut client = Negentropy::owned(storage(0..3000), 4096).unwrap();
        let initial = client.initiate().unwrap();
        let mut random = SeededRandom::new(77);
        for round in 0..5000 {
            let mut message = initial.clone();
            match round % 4 {
                0 => message.truncate(random.below(message.len() as u64) as usize),
                1 => {
                    for _ in 0..1 + random.below(8) {
                        let at = random.below(message.len() as u64) as usize;
                        message[at] = random.next_u64() as u8;
                    }
                }
                2 => message.extend((0..random.below(64)).map(|_| random.next_u64() as u8)),
                _ => message = (0..random.below(200)).map(|_| random.next_u64() as u8).collect(),
            }
            let mut relay = Negentropy::owned(storage(1000..4000), 4096).unwrap();
            if let Ok(reply) = relay.reconcile(&message) {
                assert!(reply.len() <= 4096 + 64, "a reply stays near the frame limit");
            }
        }
    }

    /// The corpus `net/fuzz`'s `negentropy_message` target grew (kept in the repository),
    /// replayed on stable as that target runs it: two messages on one relay session, each
    /// answered or refused, never a panic.
    #[test]
    fn the_kept_fuzz_corpus_is_answered_or_refused() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../net/fuzz/corpus/negentropy_message");
        let inputs: Vec<_> =
            std::fs::read_dir(&dir).expect("the kept corpus").map(|entry| entry.unwrap().path()).collect();
        assert!(!inputs.is_empty(), "no corpus under {}", dir.display());
        let items = || {
            let mut storage = NegentropyStorageVector::new();
            for n in 0..64u8 {
                storage.insert(u64::from(n) * 1000, Id::from_byte_array([n; 32])).unwrap();
            }
            storage.seal().unwrap();
            storage
        };
        for path in inputs {
            let message = std::fs::read(&path).unwrap();
            let mut relay = Negentropy::owned(items(), 4096).unwrap();
            let _ = relay.reconcile(&message);
            let _ = relay.reconcile(&message);
        }
    }
}
