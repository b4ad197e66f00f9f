//! Files from the controller (`azlin cp`, `sync`, `sync --watch`).
//!
//! - [`place`]: where a file may go, checked against the file system
//!   (no symlink followed, no device written, nothing outside the
//!   allowed folders).
//! - [`receive`]: taking files: partial file, BLAKE3, secret scan, fsync,
//!   rename; resuming a partial left by an interrupted transfer.
//!
//! Not here: the filter's rules and path syntax (`azlin_protocol::files`).

pub mod place;
pub mod receive;
