//! Anti-entropy: every `anti_entropy_interval_seconds` this node reconciles the events of the
//! last `anti_entropy_window_seconds` with each linked peer by negentropy (protocol v1, the
//! NIP-77 codec) over the link's sync class, and fetches what it lacks by id. Replication is
//! exact by construction; this repairs what it cannot see (a store restored or edited under
//! a cursor, an event removed by hand). Repaired events go to the writer as this node's own
//! (peers then pull them like any other); every step is counted.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use negentropy::{Id, Negentropy, NegentropyStorageVector};
use parrhesia_engine::Filter;
use parrhesia_net::cluster::NodeId;
use parrhesia_net::cluster::frame::{Message, SyncErr, SyncEvents, SyncFetch, SyncMsg, SyncOpen, WireEvent};
use parrhesia_storage::ScanBudget;

use super::Node;
use crate::client::reconciliation::Refusal;

/// The largest negentropy message either side sends (the crate's frames, before the link's).
const MESSAGE_BYTES_MAX: u64 = 512 * 1024;
/// Ids per fetch.
const FETCH_IDS_MAX: usize = 256;

type Session = Negentropy<'static, NegentropyStorageVector>;

/// A reconciliation this node started.
struct Initiated {
    peer: NodeId,
    negentropy: Session,
    /// Fetches sent and not fully answered.
    fetching: usize,
    /// Ids fetched and not yet received: an answer brings these and nothing else, so what a
    /// peer sends is bounded by what this node asked for.
    asked: HashSet<[u8; 32]>,
    /// The negentropy rounds are over (only fetches may remain).
    reconciled: bool,
}

#[derive(Default)]
pub struct AntiEntropy {
    next_session: Cell<u64>,
    initiated: RefCell<HashMap<u64, Initiated>>,
    /// Sessions peers started, by (peer, their session number).
    served: RefCell<HashMap<(NodeId, u64), Session>>,
    /// Peers whose session is being opened (its window still scanning): one at a time each, so
    /// a burst of opens cannot start a scan (up to `anti_entropy_items_max` items) per frame.
    opening: RefCell<std::collections::HashSet<NodeId>>,
}

/// Runs a pass with every linked peer each interval (none if the interval is 0).
pub async fn run(node: Rc<Node>) {
    let interval = node.config.anti_entropy_interval_seconds;
    if interval == 0 {
        return;
    }
    loop {
        glommio::timer::sleep(Duration::from_secs(interval)).await;
        if node.stopping.get() {
            return;
        }
        let peers: Vec<NodeId> = node.links.borrow().keys().copied().collect();
        for peer in peers {
            start(&node, peer).await;
        }
    }
}

/// The window's start, in Unix seconds.
fn since(node: &Node) -> u64 {
    crate::system::unix_now().saturating_sub(node.config.anti_entropy_window_seconds)
}

/// This node's (created_at, id) items from `since` on, sealed; `None` past the bound.
async fn items(node: &Node, since: u64) -> Option<NegentropyStorageVector> {
    let filter = Filter { since: Some(since), ..Filter::default() };
    let budget = ScanBudget { candidates_max: 4096, time_max: Some(Duration::from_millis(2)) };
    let max = node.config.anti_entropy_items_max;
    match crate::client::reconciliation::items(node.store.store(), &filter, &Default::default(), max, budget, || {
        !node.stopping.get()
    })
    .await
    {
        Ok((items, _)) => Some(items),
        Err(Refusal::TooMany(_)) => {
            node.counters.anti_entropy_refused.inc();
            None
        }
        Err(Refusal::Store(error)) => {
            tracing::warn!(%error, "anti-entropy cannot read the store");
            None
        }
    }
}

async fn start(node: &Node, peer: NodeId) {
    // One session per peer at a time: one that never finished (its peer went silent) ends.
    node.anti_entropy.initiated.borrow_mut().retain(|_, state| state.peer != peer);
    let since = since(node);
    let Some(items) = items(node, since).await else { return };
    let Ok(mut negentropy) = Negentropy::owned(items, MESSAGE_BYTES_MAX) else { return };
    let Ok(message) = negentropy.initiate() else { return };
    let session = node.anti_entropy.next_session.get() + 1;
    node.anti_entropy.next_session.set(session);
    node.anti_entropy
        .initiated
        .borrow_mut()
        .insert(session, Initiated { peer, negentropy, fetching: 0, asked: HashSet::new(), reconciled: false });
    node.counters.anti_entropy_started.inc();
    node.send_to(peer, Message::SyncOpen(SyncOpen { session, since, message }));
}

/// A sync frame from `peer`.
pub fn on_frame(node: &Rc<Node>, peer: NodeId, message: Message) {
    match message {
        Message::SyncOpen(open) => {
            let node = node.clone();
            glommio::spawn_local(async move { serve_open(&node, peer, open).await }).detach();
        }
        Message::SyncMsg(message) if message.from_initiator => serve_message(node, peer, message),
        Message::SyncMsg(message) => reconcile(node, peer, message),
        Message::SyncFetch(fetch) => serve_fetch(node, peer, fetch),
        Message::SyncEvents(events) => receive_events(node, peer, events),
        Message::SyncErr(error) if node.anti_entropy.initiated.borrow_mut().remove(&error.session).is_some() => {
            tracing::warn!(peer = %parrhesia_net::identity_hex(&peer), reason = %error.reason, "anti-entropy refused by the peer");
        }
        _ => {}
    }
}

async fn serve_open(node: &Node, peer: NodeId, open: SyncOpen) {
    let refuse = |reason: &str| {
        let error = SyncErr { session: open.session, reason: reason.into() };
        node.send_to(peer, Message::SyncErr(error));
    };
    if !node.anti_entropy.opening.borrow_mut().insert(peer) {
        return refuse("a session of this peer is still being opened");
    }
    // A peer's new session replaces its previous one.
    node.anti_entropy.served.borrow_mut().retain(|(served_peer, _), _| *served_peer != peer);
    let items = items(node, open.since).await;
    node.anti_entropy.opening.borrow_mut().remove(&peer);
    let Some(items) = items else { return refuse("too many events in the window") };
    let Ok(mut negentropy) = Negentropy::owned(items, MESSAGE_BYTES_MAX) else { return refuse("negentropy") };
    match negentropy.reconcile(&open.message) {
        Ok(reply) => {
            node.counters.anti_entropy_served.inc();
            node.anti_entropy.served.borrow_mut().insert((peer, open.session), negentropy);
            let message = SyncMsg { session: open.session, from_initiator: false, message: reply };
            node.send_to(peer, Message::SyncMsg(message));
        }
        Err(error) => refuse(&format!("malformed negentropy message: {error}")),
    }
}

fn serve_message(node: &Node, peer: NodeId, message: SyncMsg) {
    let mut served = node.anti_entropy.served.borrow_mut();
    let Some(negentropy) = served.get_mut(&(peer, message.session)) else { return };
    let reply = negentropy.reconcile(&message.message);
    let frame = match reply {
        Ok(reply) => Message::SyncMsg(SyncMsg { session: message.session, from_initiator: false, message: reply }),
        Err(error) => {
            served.remove(&(peer, message.session));
            Message::SyncErr(SyncErr {
                session: message.session,
                reason: format!("malformed negentropy message: {error}"),
            })
        }
    };
    drop(served);
    node.send_to(peer, frame);
}

/// The initiator's side of a round: go on, or fetch what this node lacks.
fn reconcile(node: &Node, peer: NodeId, message: SyncMsg) {
    let mut initiated = node.anti_entropy.initiated.borrow_mut();
    let Some(state) = initiated.get_mut(&message.session).filter(|state| state.peer == peer) else { return };
    let (mut have, mut need) = (Vec::new(), Vec::new());
    match state.negentropy.reconcile_with_ids(&message.message, &mut have, &mut need) {
        Ok(Some(next)) => {
            drop(initiated);
            let next = SyncMsg { session: message.session, from_initiator: true, message: next };
            node.send_to(peer, Message::SyncMsg(next));
            fetch(node, peer, message.session, need);
        }
        Ok(None) => {
            state.reconciled = true;
            drop(initiated);
            fetch(node, peer, message.session, need);
            finish_if_done(node, message.session);
        }
        Err(error) => {
            initiated.remove(&message.session);
            tracing::warn!(peer = %parrhesia_net::identity_hex(&peer), %error, "anti-entropy: malformed message from a peer");
        }
    }
}

/// Asks for `need` in fetches of at most `FETCH_IDS_MAX` ids. A session asked for more than
/// `anti_entropy_items_max` ids in all ends (the peer claims more than a window may hold).
fn fetch(node: &Node, peer: NodeId, session: u64, need: Vec<Id>) {
    if need.is_empty() {
        return;
    }
    let over = node
        .anti_entropy
        .initiated
        .borrow()
        .get(&session)
        .is_some_and(|state| state.asked.len().saturating_add(need.len()) > node.config.anti_entropy_items_max);
    if over {
        node.anti_entropy.initiated.borrow_mut().remove(&session);
        node.counters.anti_entropy_refused.inc();
        tracing::warn!(peer = %parrhesia_net::identity_hex(&peer), ids = need.len(), "anti-entropy: the peer claims more missing events than a window may hold; session ended");
        return;
    }
    node.counters.anti_entropy_missing.add(need.len() as u64);
    let ids: Vec<[u8; 32]> = need.into_iter().map(|id| id.to_bytes()).collect();
    for chunk in ids.chunks(FETCH_IDS_MAX) {
        if let Some(state) = node.anti_entropy.initiated.borrow_mut().get_mut(&session) {
            state.fetching += 1;
            state.asked.extend(chunk.iter().copied());
        }
        node.send_to(peer, Message::SyncFetch(SyncFetch { session, ids: chunk.to_vec() }));
    }
}

/// Ends a session this node started once its reconciliation ended and every fetch is answered.
fn finish_if_done(node: &Node, session: u64) {
    let mut initiated = node.anti_entropy.initiated.borrow_mut();
    let done = initiated.get(&session).is_some_and(|state| state.fetching == 0 && state.reconciled);
    if done {
        initiated.remove(&session);
        node.counters.anti_entropy_completed.inc();
    }
}

/// Answers a fetch with the events still held, in frames of at most the pull bytes bound.
fn serve_fetch(node: &Node, peer: NodeId, fetch: SyncFetch) {
    if !node.anti_entropy.served.borrow().contains_key(&(peer, fetch.session)) || fetch.ids.len() > FETCH_IDS_MAX {
        let error = SyncErr { session: fetch.session, reason: "no such session, or too many ids".into() };
        return node.send_to(peer, Message::SyncErr(error));
    }
    let bytes_max = node.config.pull_bytes_max as usize;
    let (mut events, mut bytes) = (Vec::new(), 0);
    for id in &fetch.ids {
        let Ok(Some(stored)) = node.store.store().get_by_id(id) else { continue };
        let event = WireEvent {
            origin_seq: 0,
            id: stored.header.id,
            pubkey: stored.header.pubkey,
            sig: stored.header.sig,
            middle: parrhesia_storage::record::json_middle(&stored.json).to_vec(),
        };
        if bytes + event.wire_bytes() > bytes_max && !events.is_empty() {
            let full = SyncEvents { session: fetch.session, events: std::mem::take(&mut events), last: false };
            node.send_to(peer, Message::SyncEvents(full));
            bytes = 0;
        }
        bytes += event.wire_bytes();
        events.push(event);
    }
    node.send_to(peer, Message::SyncEvents(SyncEvents { session: fetch.session, events, last: true }));
}

/// Fetched events, checked as replicated ones are, to the writer.
fn receive_events(node: &Node, peer: NodeId, answer: SyncEvents) {
    let wanted: Vec<&WireEvent> = {
        let mut initiated = node.anti_entropy.initiated.borrow_mut();
        let Some(state) = initiated.get_mut(&answer.session).filter(|state| state.peer == peer) else { return };
        if answer.last {
            state.fetching = state.fetching.saturating_sub(1);
        }
        answer.events.iter().filter(|wire| state.asked.remove(&wire.id)).collect()
    };
    if wanted.len() < answer.events.len() {
        let unasked = answer.events.len() - wanted.len();
        tracing::warn!(peer = %parrhesia_net::identity_hex(&peer), unasked, "anti-entropy: dropping events not asked for");
    }
    let events: Vec<parrhesia_engine::Event> = wanted.into_iter().filter_map(|wire| node.event_of(wire)).collect();
    node.counters.anti_entropy_repaired.add(events.len() as u64);
    if !events.is_empty() {
        node.repairs.borrow_mut().push_back(events);
        node.apply_wake.notify_all();
    }
    finish_if_done(node, answer.session);
}

/// Forgets sessions with a peer whose link went down.
pub fn link_down(node: &Node, peer: NodeId) {
    node.anti_entropy.initiated.borrow_mut().retain(|_, state| state.peer != peer);
    node.anti_entropy.served.borrow_mut().retain(|(served_peer, _), _| *served_peer != peer);
}
