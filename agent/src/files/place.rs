//! Where a received file may go, checked against the file system itself:
//! every folder on the way is opened relative to the one before with
//! `O_NOFOLLOW | O_DIRECTORY`, so a symlink planted anywhere on the path
//! (even one created while a transfer runs) cannot lead outside the
//! allowed root; an existing destination must be a regular file, never a
//! device, FIFO, socket or symlink.
//!
//! Blocking: call from a blocking thread or accept the short stall.

use std::{
    collections::HashMap,
    fs::File,
    os::fd::{AsFd, OwnedFd},
    path::{Path, PathBuf},
    sync::Arc,
};

use azlin_protocol::files::path::check_relative;
use nix::{
    errno::Errno,
    fcntl::{AtFlags, OFlag, openat},
    sys::stat::{FileStat, Mode, SFlag, fstatat, mkdirat},
    unistd::{Gid, Uid, fchown},
};

/// The owner given to what the agent creates (the VM user), when the agent
/// runs as root; otherwise files are the agent's own.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    pub uid: Uid,
    pub gid: Gid,
}

impl Owner {
    pub fn apply(&self, fd: impl AsFd) -> Result<(), String> {
        if !Uid::effective().is_root() {
            return Ok(());
        }
        fchown(fd, Some(self.uid), Some(self.gid)).map_err(|e| format!("cannot chown: {e}"))
    }
}

/// Resolve a request's root (`~`, `~/…` or absolute) to an allowed root
/// and the folders below it.
pub fn resolve_root(
    root: &str,
    home: &Path,
    allowed: &[PathBuf],
) -> Result<(PathBuf, Vec<String>), String> {
    let wanted = if root == "~" {
        home.to_path_buf()
    } else if let Some(rest) = root.strip_prefix("~/") {
        home.join(rest)
    } else if root.starts_with('/') {
        PathBuf::from(root)
    } else {
        return Err(format!(
            "destination {root:?} must be absolute or start with ~/"
        ));
    };
    let base = allowed
        .iter()
        .filter(|a| wanted.starts_with(a))
        .max_by_key(|a| a.as_os_str().len())
        .ok_or_else(|| {
            format!(
                "{} is outside the folders this agent accepts files in ({})",
                wanted.display(),
                allowed
                    .iter()
                    .map(|a| a.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let below = wanted
        .strip_prefix(base)
        .expect("starts_with checked")
        .to_string_lossy()
        .trim_end_matches('/')
        .to_string();
    let parts: Vec<String> = if below.is_empty() {
        Vec::new()
    } else {
        check_relative(&below).map_err(|e| e.to_string())?;
        below.split('/').map(String::from).collect()
    };
    Ok((base.clone(), parts))
}

/// Open `base` (trusted: an allowed root), then each of `parts` below it
/// without following symlinks; with `create`, missing folders are made
/// for that owner.
pub fn open_dirs(base: &Path, parts: &[&str], create: Option<Owner>) -> Result<OwnedFd, String> {
    let dir: OwnedFd = File::open(base)
        .map_err(|e| format!("cannot open {}: {e}", base.display()))?
        .into();
    open_below(&dir, parts, create)
}

/// [`open_dirs`] from an open folder.
pub fn open_below(dir: &OwnedFd, parts: &[&str], create: Option<Owner>) -> Result<OwnedFd, String> {
    let mut dir = dir.try_clone().map_err(|e| e.to_string())?;
    for part in parts {
        dir = open_dir(&dir, part, create)?;
    }
    Ok(dir)
}

/// Open the folder `name` directly below `dir`, never following a
/// symlink; with `create`, make it (for that owner) if it is missing.
pub fn open_dir(dir: &OwnedFd, name: &str, create: Option<Owner>) -> Result<OwnedFd, String> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match (openat(dir, name, flags, Mode::empty()), create) {
        (Ok(fd), _) => Ok(fd),
        (Err(Errno::ENOENT), Some(owner)) => {
            match mkdirat(dir, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(format!("cannot create folder {name:?}: {e}")),
            }
            let fd = openat(dir, name, flags, Mode::empty())
                .map_err(|e| format!("cannot open folder {name:?}: {e}"))?;
            owner.apply(&fd)?;
            Ok(fd)
        }
        (Err(Errno::ENOENT), None) => Err(format!("{name:?} does not exist")),
        (Err(Errno::ELOOP | Errno::ENOTDIR), _) => Err(format!(
            "{name:?} is a symlink or not a folder; refusing to follow it"
        )),
        (Err(e), _) => Err(format!("cannot open folder {name:?}: {e}")),
    }
}

/// The folders below one root that a stream has opened so far, so each
/// is walked (one `openat` per name, never following a symlink) once per
/// stream instead of once per file. An open folder stays the folder that
/// was checked, even if a symlink is put in its place later; a deletion
/// in the stream forgets them all ([`Folders::forget`]).
pub struct Folders {
    root: Arc<OwnedFd>,
    open: HashMap<String, Arc<OwnedFd>>,
}

/// Folders kept open by one stream at most.
const KEPT: usize = 1024;

impl Folders {
    pub fn new(root: OwnedFd) -> Self {
        Self::sharing(Arc::new(root))
    }

    /// Folders below `root`, which others hold too.
    pub fn sharing(root: Arc<OwnedFd>) -> Self {
        Self {
            root,
            open: HashMap::new(),
        }
    }

    pub fn root(&self) -> &OwnedFd {
        &self.root
    }

    /// The root, shared.
    pub fn root_arc(&self) -> Arc<OwnedFd> {
        self.root.clone()
    }

    /// The folder `rel` (checked names, `/` between them; empty for the
    /// root), opened below the root; with `create`, missing ones are made.
    pub fn open(&mut self, rel: &str, create: Option<Owner>) -> Result<Arc<OwnedFd>, String> {
        if rel.is_empty() {
            return Ok(self.root.clone());
        }
        if let Some(dir) = self.open.get(rel) {
            return Ok(dir.clone());
        }
        let (parent, name) = match rel.rsplit_once('/') {
            Some((parent, name)) => (self.open(parent, create)?, name),
            None => (self.root.clone(), rel),
        };
        let dir = Arc::new(open_dir(&parent, name, create)?);
        if self.open.len() >= KEPT {
            self.open.clear();
        }
        self.open.insert(rel.to_string(), dir.clone());
        Ok(dir)
    }

    /// Forget every open folder (one may just have been removed).
    pub fn forget(&mut self) {
        self.open.clear();
    }
}

/// What is at `name` in `dir` now, without following a symlink.
pub fn existing(dir: &OwnedFd, name: &str) -> Result<Option<FileStat>, String> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(format!("cannot look at {name:?}: {e}")),
    }
}

pub fn is_regular(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
}

/// Open a regular file below `dir` for reading, refusing anything else.
pub fn open_regular(dir: &OwnedFd, name: &str) -> Result<File, String> {
    let fd = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open {name:?}: {e}"))?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() {
        return Err(format!("{name:?} is not a regular file"));
    }
    Ok(file)
}

/// Create the partial `name` below `dir`, new (`O_EXCL`: never one that
/// someone else made first), 0600, for `owner`.
pub fn create_partial(dir: &OwnedFd, name: &str, owner: Owner) -> Result<File, String> {
    let fd = openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| format!("cannot write {name:?}: {e}"))?;
    owner.apply(&fd)?;
    Ok(File::from(fd))
}

/// The uid a partial written for `owner` has: `owner`'s when the agent
/// is root (it chowns), else the agent's own.
fn writer_uid(owner: Owner) -> Uid {
    if Uid::effective().is_root() {
        owner.uid
    } else {
        Uid::effective()
    }
}

/// Whether `st` is a partial this writer may resume: a regular file with
/// one link, owned by the writing user, writable by no one else. Anything
/// else may be someone else's (a shared folder like `/tmp`) or have a
/// handle kept open elsewhere, and is never trusted.
pub fn is_resumable(st: &FileStat, owner: Owner) -> bool {
    is_regular(st)
        && st.st_nlink == 1
        && st.st_uid == writer_uid(owner).as_raw()
        && st.st_mode & 0o022 == 0
}

/// The partial `name` below `dir` opened to read what it holds and then
/// write at its end, if it [`is_resumable`] (judged on the file opened,
/// not the name); `None` when it must be discarded.
pub fn resume_partial(dir: &OwnedFd, name: &str, owner: Owner) -> Result<Option<File>, String> {
    let fd = match openat(
        dir,
        name,
        OFlag::O_RDWR | OFlag::O_APPEND | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ELOOP | Errno::ENXIO | Errno::EISDIR) => return Ok(None),
        Err(e) => return Err(format!("cannot open {name:?}: {e}")),
    };
    let st = nix::sys::stat::fstat(&fd).map_err(|e| format!("cannot look at {name:?}: {e}"))?;
    Ok(is_resumable(&st, owner).then(|| File::from(fd)))
}

/// The partial `name` below `dir` opened again for direct (unbuffered)
/// writes, if it is still `same` file; `None` where the file system does
/// not take them (tmpfs) or the name now leads elsewhere.
pub fn open_direct(dir: &OwnedFd, name: &str, same: &File) -> Option<File> {
    use std::os::unix::fs::MetadataExt;
    let file = openat(
        dir,
        name,
        OFlag::O_WRONLY | OFlag::O_DIRECT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()
    .map(File::from)?;
    let (a, b) = (file.metadata().ok()?, same.metadata().ok()?);
    (a.dev() == b.dev() && a.ino() == b.ino()).then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_opened_once_and_a_symlink_put_in_later_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root: OwnedFd = File::open(tmp.path()).unwrap().into();
        let mut folders = Folders::new(root);
        let me = Owner {
            uid: Uid::effective(),
            gid: Gid::effective(),
        };
        let a = folders.open("a/b", Some(me)).unwrap();
        assert!(tmp.path().join("a/b").is_dir());
        // a/b is swapped for a symlink leading out: the stream keeps the
        // folder it checked, and nothing is written outside.
        std::fs::rename(tmp.path().join("a/b"), tmp.path().join("a/b-moved")).unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("a/b")).unwrap();
        let again = folders.open("a/b", Some(me)).unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        let f = create_partial(&again, "x", me).unwrap();
        drop(f);
        assert!(tmp.path().join("a/b-moved/x").exists());
        assert!(!outside.path().join("x").exists());
        // Once forgotten, the path is walked again, and the symlink refused.
        folders.forget();
        let err = folders.open("a/b", Some(me)).unwrap_err();
        assert!(err.contains("symlink"), "{err}");
        assert!(folders.open("", None).is_ok());
    }
}
