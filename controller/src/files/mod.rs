//! Files between this machine and the VMs (`azlin cp`): what the user's
//! arguments mean, and which local files a copy sends.
//!
//! - [`changes`]: a batch of file-system events as sends and deletes.
//! - [`endpoint`]: `VM:path` or a local path.
//! - [`fetch_parts`]: a VM's files by manifest, written into a folder here.
//! - [`local_write`]: a file from a VM written here whole or not at all.
//! - [`plan`]: walk the local sources, apply the security filter by name,
//!   and name each file relative to the destination folder.
//!
//! Not here: sending (the daemon's `files` module, which also hashes and
//! scans content) or the filter's rules (`azlin_protocol::files`).

pub mod changes;
pub mod endpoint;
pub mod fetch_parts;
pub mod local_write;
pub mod plan;
