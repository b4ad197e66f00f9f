//! Files from the controller (`azlin cp`, `sync`, `sync --watch`).
//!
//! - [`place`]: where a file may go, checked against the file system
//!   (no symlink followed, no device written, nothing outside the
//!   allowed folders).
//! - [`delete`]: removing a mirrored file or folder, never through a symlink.
//! - [`offer`]: giving files (a file, or a folder tree) to the controller.
//! - [`receive`]: taking files: partial file, BLAKE3, secret scan;
//!   resuming a partial left by an interrupted transfer.
//! - [`manifest`]: taking a folder's files by manifest, in a few round
//!   trips whatever their number.
//! - [`commit`]: putting received files in place durably, many at once.
//!
//! Not here: the filter's rules and path syntax (`azlin_protocol::files`).

pub mod commit;
pub mod delete;
pub mod give;
pub mod manifest;
pub mod offer;
pub mod place;
pub mod receive;
pub mod sink;

use std::path::{Path, PathBuf};

use crate::{account::Account, config::FilesConfig};

/// Where a request's root lies: the allowed folder it is in, the names
/// below that folder, and the VM user (who owns what is created).
pub struct Located {
    pub base: PathBuf,
    pub parts: Vec<String>,
    pub account: Account,
}

impl Located {
    /// The root as a path, for logs and for the controller.
    pub fn shown(&self) -> String {
        let mut shown = self.base.clone();
        for p in &self.parts {
            shown.push(p);
        }
        shown.display().to_string()
    }
}

/// Resolve a request's root for the VM user `user`: `~` is `[files] home`
/// or the user's home, and the root must lie in one of `[files] roots`.
pub fn locate(user: Option<&str>, files: &FilesConfig, root: &str) -> Result<Located, String> {
    let account = Account::resolve(user)?;
    let home = files.home.clone().unwrap_or_else(|| account.home.clone());
    let allowed = roots_below(&files.roots, &home);
    let (base, parts) = place::resolve_root(root, &home, &allowed)?;
    Ok(Located {
        base,
        parts,
        account,
    })
}

/// The allowed folders, `~` being `home`.
fn roots_below(roots: &[String], home: &Path) -> Vec<PathBuf> {
    roots
        .iter()
        .map(|r| match r.strip_prefix('~') {
            Some(rest) => home.join(rest.trim_start_matches('/')),
            None => PathBuf::from(r),
        })
        .collect()
}
