//! Giving files to the controller (`azlin cp VM:path …`): the file or
//! folder must be inside the allowed folders, is reached without following
//! a symlink, and only regular files are read; anything else below a
//! folder (symlinks, devices, sockets) is passed over and said so.
//!
//! Each file is hashed (BLAKE3) before it is offered, so the receiver can
//! skip what it already has or resume a partial copy from an offset.

use std::{
    io::{Read, Seek, SeekFrom},
    os::fd::OwnedFd,
    sync::Arc,
};

use azlin_protocol::{
    files::{
        content, manifest,
        wire::{CHUNK, FileHeader, FilesRequest, Inbound, MAX_FILES_FRAME, MAX_SHARDS, Outbound},
    },
    transport::{self, FramedRecv, StreamError},
};
use nix::{
    dir::Dir,
    fcntl::OFlag,
    sys::stat::{FileStat, Mode},
};

use super::place;
use crate::exec::ExecContext;

/// Most entries offered from one folder tree.
const MAX_ENTRIES: usize = 1_000_000;

/// A regular file found, with the folder that holds it.
pub(super) struct Found {
    pub dir: Arc<OwnedFd>,
    pub name: String,
    pub rel: String,
}

/// How the files are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offering {
    /// `Offer`, then its `Want` or `Skip`, file by file.
    OneByOne,
    /// By part ([`super::give`]), the shard `shard` of `shards`, unless
    /// there are more files than one copy's manifests may name: then one
    /// by one.
    ByManifest { shard: u16, shards: u16 },
}

pub async fn run(
    ctx: &ExecContext,
    controller: &str,
    req: FilesRequest,
    recursive: bool,
    how: Offering,
    mut send: quinn::SendStream,
    mut recv: FramedRecv,
) {
    let listed = {
        let (user, files, root) = (ctx.user.clone(), ctx.files.clone(), req.root.clone());
        tokio::task::spawn_blocking(move || list(user.as_deref(), &files, &root, recursive))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
    };
    let checked = listed.and_then(|l| match how {
        Offering::ByManifest { shard, shards }
            if shards == 0 || shards > MAX_SHARDS || shard >= shards =>
        {
            Err(format!(
                "shard {shard} of {shards}: a copy is shared by 1 to {MAX_SHARDS} streams"
            ))
        }
        _ => Ok(l),
    });
    let (shown, found, passed) = match checked {
        Ok(l) => l,
        Err(reason) => {
            tracing::warn!(%controller, root = %req.root, "refused to give files: {reason}");
            let _ = transport::send(&mut send, &Outbound::Failed { reason }, MAX_FILES_FRAME).await;
            let _ = send.finish();
            return;
        }
    };
    tracing::info!(%controller, by = %req.requested_by, root = %shown, files = found.len(), "giving files");
    let result: Result<(), StreamError> = async {
        transport::send(
            &mut send,
            &Outbound::Opened {
                root: shown.clone(),
            },
            MAX_FILES_FRAME,
        )
        .await?;
        // What was passed over is said once, by a copy's first shard.
        let (shard, shards) = match how {
            Offering::OneByOne => (0, 1),
            Offering::ByManifest { shard, shards } => (usize::from(shard), usize::from(shards)),
        };
        if shard == 0 {
            for (rel, reason) in passed {
                transport::send(
                    &mut send,
                    &Outbound::Passed { rel, reason },
                    MAX_FILES_FRAME,
                )
                .await?;
            }
        }
        let by_manifest = how != Offering::OneByOne && found.len() <= manifest::MAX_ENTRIES;
        let mine: Vec<Found> = found
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % shards == shard)
            .map(|(_, f)| f)
            .collect();
        if by_manifest {
            super::give::by_manifest(mine, &mut send, &mut recv).await?;
        } else {
            for f in mine {
                offer(&f, &mut send, &mut recv).await?;
            }
        }
        transport::send(&mut send, &Outbound::End, MAX_FILES_FRAME).await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(%controller, root = %shown, "giving files ended: {e}");
        if e.is_peer_fault() {
            recv.reject();
        }
    }
    let _ = send.finish();
}

type Listing = (String, Vec<Found>, Vec<(String, String)>);

fn list(
    user: Option<&str>,
    files: &crate::config::FilesConfig,
    root: &str,
    recursive: bool,
) -> Result<Listing, String> {
    let at = super::locate(user, files, root)?;
    let Some((target, folders)) = at.parts.split_last() else {
        return Err(format!(
            "{} is a whole allowed folder; name a file or folder inside it",
            at.base.display()
        ));
    };
    let folders: Vec<&str> = folders.iter().map(String::as_str).collect();
    let parent = Arc::new(place::open_dirs(&at.base, &folders, None)?);
    let st = place::existing(&parent, target)?
        .ok_or_else(|| format!("{root} does not exist on the VM"))?;
    let mut found = Vec::new();
    let mut passed = Vec::new();
    if place::is_regular(&st) {
        found.push(Found {
            dir: parent,
            name: target.clone(),
            rel: target.clone(),
        });
    } else if is_dir(&st) {
        if !recursive {
            return Err(format!("{root} is a folder: use -r to copy folders"));
        }
        let dir = place::open_dir(&parent, target, None)?;
        walk(Arc::new(dir), target, &mut found, &mut passed)?;
    } else {
        return Err(format!(
            "{root} is not a regular file or folder (a symlink or device?)"
        ));
    }
    Ok((at.shown(), found, passed))
}

fn is_dir(st: &FileStat) -> bool {
    use nix::sys::stat::SFlag;
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

fn walk(
    dir: Arc<OwnedFd>,
    rel: &str,
    found: &mut Vec<Found>,
    passed: &mut Vec<(String, String)>,
) -> Result<(), String> {
    let mut names: Vec<String> = {
        let mut d = Dir::openat(
            &*dir,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("cannot read folder {rel}: {e}"))?;
        d.iter()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "." && n != "..")
            .collect()
    };
    names.sort();
    for name in names {
        if found.len() + passed.len() >= MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries below {rel}"));
        }
        let child = format!("{rel}/{name}");
        match place::existing(&dir, &name)? {
            Some(st) if place::is_regular(&st) => found.push(Found {
                dir: dir.clone(),
                name,
                rel: child,
            }),
            Some(st) if is_dir(&st) => {
                let sub = place::open_dir(&dir, &name, None)?;
                walk(Arc::new(sub), &child, found, passed)?;
            }
            Some(_) => passed.push((
                child,
                "not a regular file (symlink, device or socket)".into(),
            )),
            None => {}
        }
    }
    Ok(())
}

async fn offer(
    f: &Found,
    send: &mut quinn::SendStream,
    recv: &mut FramedRecv,
) -> Result<(), StreamError> {
    let opened = {
        let (dir, name) = (f.dir.clone(), f.name.clone());
        tokio::task::spawn_blocking(move || describe(&dir, &name))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
    };
    let (mut file, mut header) = match opened {
        Ok(o) => o,
        Err(reason) => {
            let passed = Outbound::Passed {
                rel: f.rel.clone(),
                reason,
            };
            return transport::send(send, &passed, MAX_FILES_FRAME).await;
        }
    };
    header.rel = f.rel.clone();
    let size = header.size;
    transport::send(send, &Outbound::Offer(header), MAX_FILES_FRAME).await?;
    let offset = match recv.tagged::<Inbound>().await? {
        Some(Inbound::Want { offset }) if offset <= size => offset,
        Some(Inbound::Skip) => return Ok(()),
        other => {
            return Err(StreamError::Protocol(format!(
                "expected Want or Skip for {}, got {other:?}",
                f.rel
            )));
        }
    };
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| StreamError::Protocol(format!("cannot seek {}: {e}", f.rel)))?;
    let mut left = size - offset;
    let mut buf = vec![0u8; CHUNK];
    while left > 0 {
        let want = (left as usize).min(CHUNK);
        let n = file.read(&mut buf[..want]).unwrap_or(0);
        if n == 0 {
            // The file shrank after it was hashed: the receiver's hash
            // check refuses what it got; end this stream cleanly.
            return Err(StreamError::Closed);
        }
        transport::send(send, &Outbound::Data(buf[..n].to_vec()), MAX_FILES_FRAME).await?;
        left -= n as u64;
    }
    Ok(())
}

pub(super) fn describe(dir: &OwnedFd, name: &str) -> Result<(std::fs::File, FileHeader), String> {
    let mut file = place::open_regular(dir, name)?;
    let header = content::header(&mut file, None).map_err(|e| e.to_string())?;
    Ok((file, header))
}
