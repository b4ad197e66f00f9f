//! Files from the controller (`azlin cp`, `sync`, `sync --watch`).
//!
//! - [`place`]: where a file may go, checked against the file system
//!   (no symlink followed, no device written, nothing outside the
//!   allowed folders).
//! - [`delete`]: removing a mirrored file or folder, never through a symlink.
//! - [`offer`]: giving files (a file, or a folder tree) to the controller.
//! - [`receive`]: taking files: partial file, BLAKE3, secret scan, fsync,
//!   rename; resuming a partial left by an interrupted transfer.
//!
//! Not here: the filter's rules and path syntax (`azlin_protocol::files`).

pub mod delete;
pub mod offer;
pub mod place;
pub mod receive;

use std::path::{Path, PathBuf};

/// The allowed folders, `~` being `home`.
pub fn roots_below(roots: &[String], home: &Path) -> Vec<PathBuf> {
    roots
        .iter()
        .map(|r| match r.strip_prefix('~') {
            Some(rest) => home.join(rest.trim_start_matches('/')),
            None => PathBuf::from(r),
        })
        .collect()
}
