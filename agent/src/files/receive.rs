//! Taking files from the controller into a folder on this VM (see
//! `azlin_protocol::files::wire` for the frames). Each file is written to
//! a partial file beside its destination, hashed with BLAKE3 and scanned
//! for secrets as it arrives, then made durable and renamed over the
//! destination, and the folder made durable ([`super::commit`], with the
//! other streams' files): the destination name only ever holds a whole,
//! checked file. A partial left by a killed transfer is
//! picked up where it stopped when the same file is sent again.

use std::{os::fd::OwnedFd, sync::Arc};

use azlin_protocol::{
    files::{
        content,
        filter::{ContentScan, Filter, Verdict},
        path::{check_relative, partial_name},
        wire::{
            CHUNK, FileHeader, FilesRequest, Inbound, MAX_FILES_FRAME, Outbound, Refusal,
            inbound_data, kept_mode,
        },
    },
    message::decode_tagged,
    transport::{self, FramedRecv, StreamError},
};
use nix::{
    sys::{
        stat::{Mode, fchmod, futimens},
        time::TimeSpec,
    },
    unistd::{UnlinkatFlags, unlinkat},
};

use super::{
    commit::{Committer, Pending},
    place::{self, Owner},
    sink::{Sink, Written},
};
use crate::exec::ExecContext;

pub async fn run(
    ctx: &ExecContext,
    controller: &str,
    req: FilesRequest,
    mut send: quinn::SendStream,
    mut recv: FramedRecv,
) {
    let opened = open_root(ctx, &req);
    let (root, shown, owner) = match opened {
        Ok(o) => o,
        Err(reason) => {
            tracing::warn!(%controller, root = %req.root, "refused a file transfer: {reason}");
            let _ = transport::send(&mut send, &Outbound::Failed { reason }, MAX_FILES_FRAME).await;
            let _ = send.finish();
            return;
        }
    };
    tracing::info!(%controller, by = %req.requested_by, root = %shown, "receiving files");
    let mut folders = place::Folders::new(root);
    // A stream that starts with a manifest is taken by manifest.
    let mut by_manifest = None;
    let result = async {
        transport::send(
            &mut send,
            &Outbound::Opened {
                root: shown.clone(),
            },
            MAX_FILES_FRAME,
        )
        .await?;
        loop {
            match recv.tagged::<Inbound>().await? {
                Some(Inbound::File(h)) => {
                    let answer =
                        take_file(&mut folders, owner, &h, &ctx.commits, &mut send, &mut recv)
                            .await?;
                    transport::send(&mut send, &answer, MAX_FILES_FRAME).await?;
                }
                Some(Inbound::Delete { rel }) => {
                    let answer = {
                        folders.forget();
                        let root = folders.root_arc();
                        tokio::task::spawn_blocking(move || super::delete::remove(&root, &rel))
                            .await
                            .unwrap_or_else(|e| Err(e.to_string()))
                    };
                    let answer = match answer {
                        Ok(()) => Outbound::Deleted,
                        Err(reason) => Outbound::Refused {
                            reason,
                            blocked: false,
                        },
                    };
                    transport::send(&mut send, &answer, MAX_FILES_FRAME).await?;
                }
                Some(Inbound::End) | None => return Ok(()),
                Some(first @ (Inbound::Manifest { .. } | Inbound::Remove(_))) => {
                    by_manifest = Some(first);
                    return Ok(());
                }
                Some(
                    Inbound::Data(_) | Inbound::Want { .. } | Inbound::Skip | Inbound::Wants(_),
                ) => {
                    return Err(StreamError::Protocol(
                        "file data or an answer to an offer before a file header".into(),
                    ));
                }
            }
        }
    }
    .await;
    if let (Ok(()), Some(first)) = (&result, by_manifest) {
        let stream = super::manifest::Stream {
            folders,
            owner,
            commits: ctx.commits.clone(),
        };
        return stream.run(controller, &shown, first, send, recv).await;
    }
    if let Err(e) = result {
        tracing::warn!(%controller, root = %shown, "file transfer ended: {e}");
        if e.is_peer_fault() {
            let reason = e.to_string();
            let _ = transport::send(&mut send, &Outbound::Failed { reason }, MAX_FILES_FRAME).await;
            recv.reject();
        }
    }
    let _ = send.finish();
}

fn open_root(ctx: &ExecContext, req: &FilesRequest) -> Result<(OwnedFd, String, Owner), String> {
    let at = super::locate(ctx.user.as_deref(), &ctx.files, &req.root)?;
    let owner = Owner {
        uid: at.account.uid,
        gid: at.account.gid,
    };
    let parts: Vec<&str> = at.parts.iter().map(String::as_str).collect();
    let fd = place::open_dirs(&at.base, &parts, Some(owner))?;
    Ok((fd, at.shown(), owner))
}

/// Take one announced file; returns the answer that ends it.
async fn take_file(
    folders: &mut place::Folders,
    owner: Owner,
    h: &FileHeader,
    commits: &Committer,
    send: &mut quinn::SendStream,
    recv: &mut FramedRecv,
) -> Result<Outbound, StreamError> {
    let refuse = |reason: String, blocked: bool| Ok(Outbound::Refused { reason, blocked });
    if let Err(e) = check_relative(&h.rel) {
        return refuse(e.to_string(), false);
    }
    // Secrets are refused here whatever the sender's options; noise is
    // the sender's business.
    let filter = Filter {
        force: true,
        ..Filter::default()
    };
    if let Verdict::Blocked(reason) = filter.by_name(&h.rel) {
        return refuse(reason, true);
    }
    let (folder, name) = h.rel.rsplit_once('/').unwrap_or(("", h.rel.as_str()));
    let dir = match folders.open(folder, Some(owner)) {
        Ok(d) => d,
        Err(reason) => return refuse(reason, false),
    };
    // Hashing what is already there reads up to the whole file: off the
    // agent's one thread, so its connection never stalls. A new file (no
    // destination, no partial) needs only an open: done here, saving two
    // thread hand-offs per file.
    let prepared = if let Some(fresh) = fresh_partial(&dir, name, h, owner) {
        fresh
    } else {
        let (dir, name, h) = (dir.clone(), name.to_string(), h.clone());
        tokio::task::spawn_blocking(move || prepare(&dir, &name, &h, owner))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
    };
    let (file, offset, hasher, scan) = match prepared {
        Ok(Prepared::Have) => return Ok(Outbound::Have),
        Ok(Prepared::Write {
            file,
            offset,
            hasher,
            scan,
        }) => (file, offset, hasher, scan),
        Err(reason) => return refuse(reason, false),
    };
    transport::send(send, &Outbound::SendFrom { offset }, MAX_FILES_FRAME).await?;
    let partial = partial_name(name, &h.hash);
    let mut left = h.size - offset;
    let written = Written {
        file,
        hasher,
        scan,
        error: None,
    };
    let mut sink = Sink::new(written, offset, left, |same| {
        place::open_direct(&dir, &partial, same)
    });
    // Why the file stopped short, and whether its partial goes too.
    let mut failure = None;
    while left > 0 {
        // A data frame is read where it lies, straight into the sink;
        // anything else is decoded as usual.
        let frame = recv
            .next_with(|frame| match inbound_data(frame) {
                Some(bytes) if bytes.len() as u64 <= left && bytes.len() <= CHUNK => {
                    sink.take(bytes);
                    left -= bytes.len() as u64;
                    Ok(None)
                }
                _ => decode_tagged::<Inbound>(frame).map(Some),
            })
            .await
            .and_then(|f| f.transpose().map_err(StreamError::from));
        match frame {
            Ok(Some(None)) => {}
            Ok(Some(Some(Inbound::Data(bytes))))
                if bytes.len() as u64 <= left && bytes.len() <= CHUNK =>
            {
                sink.take(&bytes);
                left -= bytes.len() as u64;
            }
            // Cut off mid-file (a lost link, a killed sender): the partial
            // stays for the rerun to resume.
            Ok(None) => failure = Some((StreamError::Closed, false)),
            Err(e) if !e.is_peer_fault() => failure = Some((e, false)),
            // A sender that breaks the protocol gets no partial kept.
            Err(e) => failure = Some((e, true)),
            Ok(Some(Some(Inbound::Data(_)))) => {
                let e = StreamError::Protocol(format!("more data than {} announced", h.rel));
                failure = Some((e, true));
            }
            Ok(Some(Some(other))) => {
                let e = StreamError::Protocol(format!("expected data of {}, got {other:?}", h.rel));
                failure = Some((e, true));
            }
        }
        if failure.is_some() {
            break;
        }
        sink.ready().await;
    }
    // Everything taken is written before anything else happens to the
    // partial: a rerun that comes at once finds it whole and still.
    let finished = sink.finish().await;
    if let Some((e, drop_partial)) = failure {
        if drop_partial {
            let _ = unlinkat(&*dir, partial.as_str(), UnlinkatFlags::NoRemoveDir);
        }
        return Err(e);
    }
    Ok(match settle(finished, &dir, name, h, commits).await {
        Ok(()) => Outbound::Stored,
        Err(Refusal { reason, blocked }) => Outbound::Refused { reason, blocked },
    })
}

/// The end of a file whose data has all come: check it (no write error,
/// no secret, the announced BLAKE3), give it its mode and mtime, and put
/// it in place durably with the files of the other streams (durable,
/// then renamed, then acknowledged). A file refused here has its partial
/// removed.
pub(super) async fn settle(
    finished: Result<Written, String>,
    dir: &Arc<OwnedFd>,
    name: &str,
    h: &FileHeader,
    commits: &Committer,
) -> Result<(), Refusal> {
    let partial = partial_name(name, &h.hash);
    let discard = |reason: String, blocked: bool| {
        let _ = unlinkat(&**dir, partial.as_str(), UnlinkatFlags::NoRemoveDir);
        Err(Refusal { reason, blocked })
    };
    let Written {
        file,
        hasher,
        scan,
        error: write_error,
    } = match finished {
        Ok(w) => w,
        Err(e) => return discard(e, false),
    };
    if let Some(e) = write_error {
        return discard(format!("cannot write: {e}"), false);
    }
    if let Some(found) = scan.found() {
        return discard(format!("{found}; never sent to a VM"), true);
    }
    if *hasher.finalize().as_bytes() != h.hash {
        return discard(
            "content does not match its BLAKE3 hash; copy it again".into(),
            false,
        );
    }
    let mode = Mode::from_bits_truncate(kept_mode(h.mode));
    let mtime = TimeSpec::new(
        h.mtime_ms.div_euclid(1000),
        h.mtime_ms.rem_euclid(1000) * 1_000_000,
    );
    let kept = fchmod(&file, mode)
        .and_then(|()| futimens(&file, &TimeSpec::UTIME_OMIT, &mtime))
        .map_err(|e| e.to_string());
    let finished = match kept {
        Ok(()) => {
            commits
                .commit(Pending {
                    file,
                    dir: dir.clone(),
                    partial: partial.clone(),
                    name: name.to_string(),
                })
                .await
        }
        Err(e) => Err(e),
    };
    match finished {
        Ok(()) => Ok(()),
        Err(e) => discard(format!("cannot put it in place: {e}"), false),
    }
}

/// The empty partial of a file that has neither a destination nor a
/// partial yet; `None` when either exists (or cannot be looked at), for
/// [`prepare`] to sort out.
fn fresh_partial(
    dir: &OwnedFd,
    name: &str,
    h: &FileHeader,
    owner: Owner,
) -> Option<Result<Prepared, String>> {
    let partial = partial_name(name, &h.hash);
    match (place::existing(dir, name), place::existing(dir, &partial)) {
        (Ok(None), Ok(None)) => {
            Some(
                place::create_partial(dir, &partial, owner).map(|file| Prepared::Write {
                    file,
                    offset: 0,
                    hasher: Box::new(blake3::Hasher::new()),
                    scan: ContentScan::default(),
                }),
            )
        }
        _ => None,
    }
}

enum Prepared {
    Have,
    Write {
        file: std::fs::File,
        offset: u64,
        // Boxed: a BLAKE3 hasher keeps its chunk stack inline (~2 KiB).
        hasher: Box<blake3::Hasher>,
        scan: ContentScan,
    },
}

/// Look at the destination and any partial: skip an identical file,
/// refuse a destination that is not a regular file, resume a partial.
fn prepare(dir: &OwnedFd, name: &str, h: &FileHeader, owner: Owner) -> Result<Prepared, String> {
    match judge(dir, name, h, owner, true)? {
        Judged::Have => Ok(Prepared::Have),
        Judged::From(offset) => {
            let (file, hasher, scan) = open_partial(dir, name, h, owner, offset)?;
            Ok(Prepared::Write {
                file,
                offset,
                hasher,
                scan,
            })
        }
    }
}

/// What an announced file needs, from what its folder holds.
pub(super) enum Judged {
    /// The destination holds this content and mode already.
    Have,
    /// Its bytes from this offset on (a partial holds the ones before).
    From(u64),
}

/// Skip an identical file, refuse a destination that is not a regular
/// file, and (with `resume`) find how much of a partial can be kept. A
/// partial is resumed only when it is one this writer made and no one
/// else can have a hand in (see `place::is_resumable`).
pub(super) fn judge(
    dir: &OwnedFd,
    name: &str,
    h: &FileHeader,
    owner: Owner,
    resume: bool,
) -> Result<Judged, String> {
    if let Some(st) = place::existing(dir, name)? {
        if !place::is_regular(&st) {
            return Err(format!(
                "{} exists and is not a regular file (a symlink, folder or device); not replaced",
                h.rel
            ));
        }
        if st.st_size as u64 == h.size
            && (st.st_mode & 0o777) == kept_mode(h.mode)
            && content::hash(&mut place::open_regular(dir, name)?).map_err(|e| e.to_string())?
                == h.hash
        {
            return Ok(Judged::Have);
        }
    }
    if !resume {
        return Ok(Judged::From(0));
    }
    let partial = partial_name(name, &h.hash);
    Ok(match place::existing(dir, &partial)? {
        Some(st) if st.st_size as u64 <= h.size && place::is_resumable(&st, owner) => {
            Judged::From(st.st_size as u64)
        }
        _ => Judged::From(0),
    })
}

/// The partial to write a file's bytes from `offset` on, with the hash
/// and scan of the bytes it holds. From 0, any partial there is removed
/// (never trusted) and a new one made; from further on, the partial must
/// still be one to resume and hold exactly `offset` bytes.
pub(super) fn open_partial(
    dir: &OwnedFd,
    name: &str,
    h: &FileHeader,
    owner: Owner,
    offset: u64,
) -> Result<(std::fs::File, Box<blake3::Hasher>, ContentScan), String> {
    let partial = partial_name(name, &h.hash);
    let mut hasher = Box::new(blake3::Hasher::new());
    let mut scan = ContentScan::default();
    if offset > 0 {
        let resumed = match place::existing(dir, &partial)? {
            Some(st) if place::is_resumable(&st, owner) => {
                place::resume_partial(dir, &partial, owner)?
            }
            _ => None,
        };
        let Some(mut f) = resumed else {
            return Err(format!(
                "the partial of {} went away before its rest came; copy it again",
                h.rel
            ));
        };
        let held =
            content::read_into(&mut f, &mut hasher, Some(&mut scan)).map_err(|e| e.to_string())?;
        if held != offset {
            return Err(format!(
                "the partial of {} changed before its rest came; copy it again",
                h.rel
            ));
        }
        return Ok((f, hasher, scan));
    }
    match unlinkat(dir, partial.as_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => {
            return Err(format!(
                "cannot remove a partial file not to be trusted: {e}"
            ));
        }
    }
    Ok((place::create_partial(dir, &partial, owner)?, hasher, scan))
}

#[cfg(test)]
mod tests {
    use std::{
        io::{Seek, Write},
        os::unix::fs::{MetadataExt, PermissionsExt},
    };

    use nix::unistd::{Gid, Uid};

    use super::*;

    fn me() -> Owner {
        Owner {
            uid: Uid::effective(),
            gid: Gid::effective(),
        }
    }

    fn header(content: &[u8]) -> FileHeader {
        FileHeader {
            rel: "f".into(),
            size: content.len() as u64,
            mode: 0o755,
            mtime_ms: 0,
            hash: *blake3::hash(content).as_bytes(),
        }
    }

    #[test]
    fn a_partial_someone_else_could_write_is_never_resumed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir: OwnedFd = std::fs::File::open(tmp.path()).unwrap().into();
        let h = header(b"the real content");
        let partial = tmp.path().join(partial_name("f", &h.hash));
        // Made first by another hand, world-writable, its handle kept.
        std::fs::write(&partial, b"the real").unwrap();
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o666)).unwrap();
        let mut kept = std::fs::OpenOptions::new()
            .write(true)
            .open(&partial)
            .unwrap();
        let planted = std::fs::metadata(&partial).unwrap().ino();
        let Prepared::Write { file, offset, .. } = prepare(&dir, "f", &h, me()).unwrap() else {
            panic!("nothing to write");
        };
        assert_eq!(offset, 0, "an untrusted partial is not resumed");
        let made = file.metadata().unwrap();
        assert_ne!(made.ino(), planted, "a new file, not the planted one");
        assert_eq!(made.mode() & 0o777, 0o600);
        // Writes through the kept handle no longer reach it.
        kept.rewind().unwrap();
        kept.write_all(b"evil").unwrap();
        assert_eq!(made.len(), 0);
        assert_eq!(std::fs::read(&partial).unwrap(), b"");

        // A second name for it (a hard link) makes it untrusted too.
        drop(file);
        std::fs::write(&partial, b"the real").unwrap();
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::hard_link(&partial, tmp.path().join("other-name")).unwrap();
        let Prepared::Write { offset, .. } = prepare(&dir, "f", &h, me()).unwrap() else {
            panic!("nothing to write");
        };
        assert_eq!(offset, 0);
        assert_eq!(
            std::fs::read(tmp.path().join("other-name")).unwrap(),
            b"the real"
        );

        // One of its own, private, with one link: resumed where it ended.
        std::fs::remove_file(&partial).unwrap();
        std::fs::write(&partial, b"the real").unwrap();
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o600)).unwrap();
        let Prepared::Write { offset, .. } = prepare(&dir, "f", &h, me()).unwrap() else {
            panic!("nothing to write");
        };
        assert_eq!(offset, 8);
    }

    #[test]
    fn a_partial_owned_by_another_user_is_never_resumed() {
        if !Uid::effective().is_root() {
            return; // only root can give a file away
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir: OwnedFd = std::fs::File::open(tmp.path()).unwrap().into();
        let h = header(b"the real content");
        let partial = tmp.path().join(partial_name("f", &h.hash));
        std::fs::write(&partial, b"the real").unwrap();
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&partial, Some(65534), Some(65534)).unwrap();
        let Prepared::Write { file, offset, .. } = prepare(&dir, "f", &h, me()).unwrap() else {
            panic!("nothing to write");
        };
        assert_eq!(offset, 0);
        assert_eq!(file.metadata().unwrap().uid(), 0);
    }

    #[test]
    fn a_fresh_partial_is_never_one_made_by_another_hand_meanwhile() {
        let tmp = tempfile::tempdir().unwrap();
        let dir: OwnedFd = std::fs::File::open(tmp.path()).unwrap().into();
        std::fs::write(tmp.path().join("p"), b"").unwrap();
        let err = place::create_partial(&dir, "p", me()).unwrap_err();
        assert!(err.contains("exists"), "{err}");
    }
}
