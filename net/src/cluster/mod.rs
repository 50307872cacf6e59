//! The cluster's wire formats and protocol logic, free of I/O: link frames (`frame`), the
//! link handshake (`handshake`) and the replication state machine (`replication`), which
//! takes frames, ticks and store reads in and returns actions, so that a simulator can drive
//! it through thousands of fault schedules. The glommio tasks that own sockets live in `shard`.
//! Test support rides along: the contract every store the replicator reads keeps
//! (`store_contract`), run against the simulator's store and the node's LMDB one.

pub mod frame;
pub mod handshake;
pub mod interest;
pub mod membership;
pub mod queues;
pub mod replication;
pub mod secure;
#[doc(hidden)]
pub mod store_contract;

/// A node's name in the cluster: its ed25519 public key.
pub type NodeId = [u8; 32];
