//! Bytes on wires for Parrhesia: the first HTTP request on a socket (parsed with httparse and
//! routed), a client's WebSocket (the 101 answer, the frame reader, the socket its tasks share), and the NIP-11 relay information document.
//! Generic over futures-io streams; the runtime that owns the sockets lives in `shard`. Also
//! the node's identity (its ed25519 key), which the cluster's wire formats are signed with, and
//! permessage-deflate (`deflate`).

pub mod cluster;
pub mod deflate;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod identity;
pub mod plugin_process;
pub mod relay_client;
pub mod relay_info;
pub mod websocket;

pub use http::{BodyError, HttpError, Request, Route, read_body, read_request, response, route};
pub use identity::{IdentityError, NodeKey, read_secret_file, write_secret_file};
pub use relay_info::{Limitation, RelayInfo};

/// A node key as 64 lowercase hex (for logs and errors).
pub fn identity_hex(key: &[u8; 32]) -> String {
    parrhesia_engine::hex::encode(key)
}
