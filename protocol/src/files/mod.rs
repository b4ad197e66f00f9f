//! Files moved over the agents' connections (`azlin cp`, `sync`,
//! `sync --watch`): what may be sent and where it may go.
//!
//! - [`content`]: a file's BLAKE3 and secret scan in one pass, its header.
//! - [`parallel_digest`]: the same for a large file, in pieces on
//!   several threads.
//! - [`filter`]: the security filter by name and by content.
//! - [`manifest`]: the bounds of a manifest, and names given twice.
//! - [`path`]: relative paths on the wire, checked.
//! - [`wire`]: the frames of a file stream.
//!
//! Not here: reading or writing files (the agent's `files` module and the
//! CLI do, each running these checks).

pub mod content;
pub mod filter;
pub mod manifest;
pub mod parallel_digest;
pub mod path;
pub mod wire;
