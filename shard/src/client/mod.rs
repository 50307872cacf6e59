//! Client connections, in two floors with the shard's state (`crate::shard`) between them.
//! Below it: a connection's state (`connection`), its outbound queue (`outbound`) and its
//! NIP-77 sessions (`reconciliation`), which the shard's fanout and ticks reach. Above it:
//! what a connection does with the shard (`front` routes a socket's first request, `session`
//! runs a WebSocket and its EVENTs, `ingest` the checks any event takes, `req` its REQ and COUNT, `negentropy` its NEG-*,
//! `management` the NIP-86 endpoint).

pub mod connection;
pub mod front;
pub mod ingest;
pub mod management;
pub mod negentropy;
pub mod outbound;
pub mod reconciliation;
pub mod req;
pub mod session;
