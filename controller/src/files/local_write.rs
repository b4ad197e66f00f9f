//! Writing a file that comes from a VM into a folder on this machine, the
//! way the agent writes one: a partial file beside the destination
//! (resumed when the same file comes again), BLAKE3 checked, fsynced,
//! renamed, folder fsynced. The destination name holds the whole file or
//! the old one, never part of the new one. A partial is made new
//! (`O_EXCL`, 0600) and resumed only when it is this user's alone.

use std::{
    fs::{File, OpenOptions},
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use azlin_protocol::files::{
    content,
    path::{check_relative, partial_name},
    wire::{FileHeader, kept_mode},
};
use nix::fcntl::OFlag;

/// A partial this user may resume: a regular file with one link, theirs,
/// writable by no one else. Anything else may be another user's (a
/// shared folder like `/tmp`) or have a handle kept open elsewhere.
pub fn resumable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    m.file_type().is_file()
        && m.nlink() == 1
        && m.uid() == nix::unistd::Uid::effective().as_raw()
        && m.mode() & 0o022 == 0
}

pub enum Prepared {
    /// The destination already holds this content and mode.
    Have,
    Write(Writer),
}

pub struct Writer {
    file: File,
    partial: PathBuf,
    dest: PathBuf,
    pub offset: u64,
    hasher: Box<blake3::Hasher>,
}

/// Look at the destination `root/rel` and any partial of it.
pub fn prepare(root: &Path, h: &FileHeader) -> Result<Prepared> {
    check_relative(&h.rel)?;
    let dest = root.join(&h.rel);
    let dir = dest
        .parent()
        .context("a file needs a folder")?
        .to_path_buf();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = dest
        .file_name()
        .context("a file needs a name")?
        .to_string_lossy()
        .into_owned();
    if let Ok(meta) = std::fs::symlink_metadata(&dest) {
        if !meta.file_type().is_file() {
            bail!(
                "{} exists and is not a regular file; not replaced",
                dest.display()
            );
        }
        if meta.len() == h.size
            && meta.permissions().mode() & 0o777 == kept_mode(h.mode)
            && content::hash(&mut File::open(&dest)?)? == h.hash
        {
            return Ok(Prepared::Have);
        }
    }
    let partial = dir.join(partial_name(&name, &h.hash));
    let mut hasher = Box::new(blake3::Hasher::new());
    // Resumed only when it is ours alone (see `resumable`); any other
    // partial is removed and a new one made with O_EXCL, never trusted.
    let resumed = match OpenOptions::new()
        .read(true)
        .append(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(&partial)
    {
        Ok(f)
            if f.metadata()
                .is_ok_and(|m| resumable(&m) && m.len() <= h.size) =>
        {
            Some(f)
        }
        _ => None,
    };
    let (file, offset) = match resumed {
        Some(mut f) => {
            let offset = content::read_into(&mut f, &mut hasher, None)?;
            (f, offset)
        }
        None => {
            match std::fs::remove_file(&partial) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "cannot remove {}, a partial file not to be trusted",
                            partial.display()
                        )
                    });
                }
            }
            let f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(OFlag::O_NOFOLLOW.bits())
                .open(&partial)
                .with_context(|| format!("cannot write {}", partial.display()))?;
            (f, 0)
        }
    };
    Ok(Prepared::Write(Writer {
        file,
        partial,
        dest,
        offset,
        hasher,
    }))
}

impl Writer {
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.hasher.update(chunk);
        self.file.write_all(chunk)?;
        Ok(())
    }

    /// Check the hash and put the file in place (or drop the partial).
    pub fn finish(self, h: &FileHeader) -> Result<()> {
        commit(vec![self.seal(h)?])
            .pop()
            .expect("one result per file")
    }

    /// Check the hash and give the partial the file's mode and time: a
    /// file whose content is whole, waiting to be made durable and put in
    /// place ([`commit`]). On a bad hash the partial goes.
    pub fn seal(self, h: &FileHeader) -> Result<Sealed> {
        if *self.hasher.finalize().as_bytes() != h.hash {
            let _ = std::fs::remove_file(&self.partial);
            bail!("content does not match its BLAKE3 hash; copy it again");
        }
        self.file
            .set_permissions(std::fs::Permissions::from_mode(kept_mode(h.mode)))?;
        let mtime =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(h.mtime_ms.max(0) as u64);
        self.file.set_modified(mtime)?;
        Ok(Sealed {
            file: self.file,
            partial: self.partial,
            dest: self.dest,
        })
    }
}

/// A file checked and whole, as its partial (see [`Writer::seal`]).
pub struct Sealed {
    file: File,
    partial: PathBuf,
    dest: PathBuf,
}

/// Make `sealed` durable and put each in place, as the agent's group
/// commit does: their data on disk first (one `syncfs` for several files,
/// an fsync for one), then the renames, then one fsync per folder. A
/// destination name only ever holds a whole file that is on disk. One
/// result per file, in order.
pub fn commit(sealed: Vec<Sealed>) -> Vec<Result<()>> {
    use std::os::unix::fs::MetadataExt;
    let dev = |s: &Sealed| s.file.metadata().map(|m| m.dev()).ok();
    let first = sealed.first().and_then(dev);
    let flushed: Result<(), String> = match sealed.as_slice() {
        [] => Ok(()),
        [one] => one.file.sync_all().map_err(|e| e.to_string()),
        [first, ..] => {
            use std::os::fd::AsFd;
            nix::unistd::syncfs(first.file.as_fd()).map_err(|e| e.to_string())
        }
    };
    let several = sealed.len() > 1;
    let mut dirs = std::collections::BTreeMap::<PathBuf, Result<(), String>>::new();
    let mut placed: Vec<Result<PathBuf>> = sealed
        .into_iter()
        .map(|s| {
            if let Err(e) = &flushed {
                bail!("cannot flush it to disk: {e}");
            }
            // A file on another file system than the one flushed: its own.
            if several && (first.is_none() || dev(&s) != first) {
                s.file.sync_all()?;
            }
            std::fs::rename(&s.partial, &s.dest)?;
            let dir = s
                .dest
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            dirs.entry(dir.clone()).or_insert(Ok(()));
            Ok(dir)
        })
        .collect();
    for (dir, result) in dirs.iter_mut() {
        *result = File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| format!("cannot sync {}: {e}", dir.display()));
    }
    placed
        .drain(..)
        .map(|p| {
            let dir = p?;
            match &dirs[&dir] {
                Ok(()) => Ok(()),
                Err(e) => bail!("{e}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::{
        io::{Seek, Write},
        os::unix::fs::MetadataExt,
    };

    use super::*;

    fn header(content: &[u8]) -> FileHeader {
        FileHeader {
            rel: "f".into(),
            size: content.len() as u64,
            mode: 0o644,
            mtime_ms: 0,
            hash: *blake3::hash(content).as_bytes(),
        }
    }

    #[test]
    fn only_a_private_partial_of_ones_own_is_resumed() {
        let tmp = tempfile::tempdir().unwrap();
        let h = header(b"the real content");
        let partial = tmp.path().join(partial_name("f", &h.hash));
        let offset = |p: Prepared| match p {
            Prepared::Write(w) => (w.offset, w.file.metadata().unwrap()),
            Prepared::Have => panic!("nothing to write"),
        };
        // World-writable, a handle kept by whoever made it: not resumed,
        // and a new private file takes its name.
        std::fs::write(&partial, b"the real").unwrap();
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o666)).unwrap();
        let mut kept = std::fs::OpenOptions::new()
            .write(true)
            .open(&partial)
            .unwrap();
        let planted = std::fs::metadata(&partial).unwrap().ino();
        let (at, made) = offset(prepare(tmp.path(), &h).unwrap());
        assert_eq!(at, 0);
        assert_ne!(made.ino(), planted);
        assert_eq!(made.mode() & 0o777, 0o600);
        kept.rewind().unwrap();
        kept.write_all(b"evil").unwrap();
        assert_eq!(std::fs::read(&partial).unwrap(), b"");
        // A hard link elsewhere: not resumed either.
        std::fs::write(&partial, b"the real").unwrap();
        std::fs::hard_link(&partial, tmp.path().join("second-name")).unwrap();
        assert_eq!(offset(prepare(tmp.path(), &h).unwrap()).0, 0);
        // Private and alone: resumed.
        std::fs::remove_file(&partial).unwrap();
        std::fs::write(&partial, b"the real").unwrap();
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(offset(prepare(tmp.path(), &h).unwrap()).0, 8);
        // A symlink in its place is not followed.
        std::fs::remove_file(&partial).unwrap();
        let target = tmp.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, &partial).unwrap();
        assert_eq!(offset(prepare(tmp.path(), &h).unwrap()).0, 0);
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }
}
