//! Removing what `sync --watch` saw deleted on the developer's machine: a
//! file, a symlink (the link, never what it points to) or a whole folder,
//! inside the stream's root, reached without following any symlink.

use std::os::fd::OwnedFd;

use azlin_protocol::files::path::check_relative;
use nix::{
    dir::Dir,
    errno::Errno,
    fcntl::OFlag,
    sys::stat::{Mode, SFlag},
    unistd::{UnlinkatFlags, unlinkat},
};

use super::place;

/// Deepest folder tree removed.
const MAX_DEPTH: usize = 256;

/// Remove `rel` below `root`; a missing entry is not an error.
pub fn remove(root: &OwnedFd, rel: &str) -> Result<(), String> {
    check_relative(rel).map_err(|e| e.to_string())?;
    let (folders, name) = match rel.rsplit_once('/') {
        Some((f, n)) => (f.split('/').collect::<Vec<_>>(), n),
        None => (Vec::new(), rel),
    };
    let dir = match place::open_below(root, &folders, None) {
        Ok(d) => d,
        // A folder on the way is already gone: so is what was in it.
        Err(e) if e.contains("does not exist") => return Ok(()),
        Err(e) => return Err(e),
    };
    remove_entry(&dir, name, 0)
}

fn remove_entry(dir: &OwnedFd, name: &str, depth: usize) -> Result<(), String> {
    let Some(st) = place::existing(dir, name)? else {
        return Ok(());
    };
    let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
    if is_dir {
        if depth >= MAX_DEPTH {
            return Err(format!("{name:?} is nested more than {MAX_DEPTH} deep"));
        }
        let sub = place::open_dir(dir, name, None)?;
        let names: Vec<String> = {
            let mut d = Dir::openat(
                &sub,
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                Mode::empty(),
            )
            .map_err(|e| format!("cannot read {name:?}: {e}"))?;
            d.iter()
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "." && n != "..")
                .collect()
        };
        for n in names {
            remove_entry(&sub, &n, depth + 1)?;
        }
        match unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(format!("cannot remove folder {name:?}: {e}")),
        }
    } else {
        match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(format!("cannot remove {name:?}: {e}")),
        }
    }
}
