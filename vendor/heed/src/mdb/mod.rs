pub mod lmdb_error;
pub mod lmdb_ffi;
pub mod lmdb_flags;

pub use self::{lmdb_error as error, lmdb_ffi as ffi, lmdb_flags as flags};
