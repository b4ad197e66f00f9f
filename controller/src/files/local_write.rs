//! Writing a file that comes from a VM into a folder on this machine, the
//! way the agent writes one: a partial file beside the destination
//! (resumed when the same file comes again), BLAKE3 checked, fsynced,
//! renamed, folder fsynced. The destination name holds the whole file or
//! the old one, never part of the new one.

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
    let offset = match std::fs::symlink_metadata(&partial) {
        Ok(m) if m.file_type().is_file() && m.len() <= h.size => {
            content::read_into(&mut File::open(&partial)?, &mut hasher, None)?
        }
        Ok(_) => {
            std::fs::remove_file(&partial)?;
            0
        }
        Err(_) => 0,
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
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
        if *self.hasher.finalize().as_bytes() != h.hash {
            let _ = std::fs::remove_file(&self.partial);
            bail!("content does not match its BLAKE3 hash; copy it again");
        }
        self.file
            .set_permissions(std::fs::Permissions::from_mode(kept_mode(h.mode)))?;
        let mtime =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(h.mtime_ms.max(0) as u64);
        self.file.set_modified(mtime)?;
        self.file.sync_all()?;
        std::fs::rename(&self.partial, &self.dest)?;
        if let Some(dir) = self.dest.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}
