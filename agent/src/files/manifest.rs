//! Taking a folder's files by manifest (see `azlin_protocol::files::wire`):
//! each manifest part is checked against its bounds and answered at once,
//! in one frame; the data of every file wanted then arrives back to back,
//! and each file is settled (checked, made durable, put in place) while
//! the next one is read, its outcome going back with the others of the
//! same group commit. The round trips of a copy so no longer grow with
//! its number of files.
//!
//! The guarantees are those of [`super::receive`], whose checks this
//! uses: the same path and filter checks, partial files, resume, BLAKE3,
//! durability before acknowledgement.
//!
//! Not here: the per-file exchange (`receive`), the bounds themselves
//! (`azlin_protocol::files::manifest`).

use std::{collections::VecDeque, os::fd::OwnedFd, sync::Arc};

use azlin_protocol::{
    files::{
        filter::{Filter, Verdict},
        manifest::{FRAME_BUDGET, Seen, answer_frames, refusal, weight},
        path::partial_name,
        wire::{
            Answer, CHUNK, Done, FileHeader, Inbound, MAX_FILES_FRAME, Outbound, Refusal,
            inbound_data,
        },
    },
    message::decode_tagged,
    transport::{self, FramedRecv, StreamError},
};
use nix::unistd::{UnlinkatFlags, unlinkat};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::{
    commit::Committer,
    place::{self, Owner},
    receive::{self, Judged},
    sink::{Sink, Written},
};

/// Files read whole and waiting to be settled at once; each holds its
/// partial open, so this bounds the descriptors one stream holds.
const SETTLING: usize = 256;

/// A file of a manifest whose bytes are coming.
struct Wanted {
    index: u32,
    h: FileHeader,
    offset: u64,
    dir: Arc<OwnedFd>,
    name: String,
    /// Its bytes are read and dropped: an eager file already there or
    /// refused (its answer said so).
    drop: bool,
}

/// The file whose bytes are being read now.
struct Current {
    w: Wanted,
    /// `None` when its bytes are dropped, or its partial could not be
    /// opened (`failed` says why).
    sink: Option<Sink>,
    failed: Option<String>,
    left: u64,
    /// Its place among the files settling (a written file only).
    permit: Option<OwnedSemaphorePermit>,
}

/// One stream's state.
pub struct Stream {
    pub folders: place::Folders,
    pub owner: Owner,
    pub commits: Committer,
}

struct Run {
    s: Stream,
    seen: Seen,
    next_index: u32,
    queue: VecDeque<Wanted>,
    current: Option<Current>,
    out: mpsc::UnboundedSender<Outbound>,
    settling: Arc<Semaphore>,
    tasks: tokio::task::JoinSet<()>,
}

impl Stream {
    /// Take the stream from its first manifest (or removal) frame on, to
    /// its end; the stream is finished on return.
    pub async fn run(
        self,
        controller: &str,
        shown: &str,
        first: Inbound,
        send: quinn::SendStream,
        mut recv: FramedRecv,
    ) {
        let (out, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_out(send, rx));
        let mut run = Run {
            s: self,
            seen: Seen::default(),
            next_index: 0,
            queue: VecDeque::new(),
            current: None,
            out: out.clone(),
            settling: Arc::new(Semaphore::new(SETTLING)),
            tasks: tokio::task::JoinSet::new(),
        };
        let result = run.frames(first, &mut recv).await;
        // Whatever happened, every file already read whole is settled and
        // its outcome sent before the stream ends.
        while run.tasks.join_next().await.is_some() {}
        // A file cut off mid-way keeps its partial for a rerun to resume,
        // unless the sender broke the protocol.
        let cut = run.current.take();
        match &result {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(%controller, root = %shown, "file transfer ended: {e}");
                if e.is_peer_fault() {
                    if let Some(c) = cut
                        && !c.w.drop
                    {
                        if let Some(sink) = c.sink {
                            let _ = sink.finish().await;
                        }
                        let partial = partial_name(&c.w.name, &c.w.h.hash);
                        let _ = unlinkat(&*c.w.dir, partial.as_str(), UnlinkatFlags::NoRemoveDir);
                    }
                    let _ = out.send(Outbound::Failed {
                        reason: e.to_string(),
                    });
                    recv.reject();
                } else if let Some(Current {
                    sink: Some(sink), ..
                }) = cut
                {
                    // Everything taken is written before the partial is
                    // left for a rerun.
                    let _ = sink.finish().await;
                }
            }
        }
        drop(run);
        drop(out);
        let _ = writer.await;
    }
}

impl Run {
    async fn frames(&mut self, first: Inbound, recv: &mut FramedRecv) -> Result<(), StreamError> {
        let mut frame = Some(first);
        loop {
            let f = match frame.take() {
                Some(f) => f,
                None => {
                    let Some(bytes) = recv.next().await? else {
                        return Err(StreamError::Closed);
                    };
                    match inbound_data(&bytes) {
                        Some(data) if data.len() <= CHUNK => {
                            self.take(data).await?;
                            continue;
                        }
                        _ => decode_tagged::<Inbound>(&bytes)?,
                    }
                }
            };
            match f {
                Inbound::Manifest { files, eager } => self.manifest(files, eager).await?,
                Inbound::Data(bytes) if bytes.len() <= CHUNK => self.take(&bytes).await?,
                Inbound::Remove(rels) => self.remove(rels).await?,
                Inbound::End => {
                    if self.current.is_some() || !self.queue.is_empty() {
                        return Err(StreamError::Protocol(format!(
                            "the stream ended with {} file(s) still owed their data",
                            self.queue.len() + usize::from(self.current.is_some())
                        )));
                    }
                    return Ok(());
                }
                other => {
                    return Err(StreamError::Protocol(format!(
                        "{} in a stream taken by manifest",
                        match other {
                            Inbound::Data(_) => "a data frame larger than a chunk",
                            Inbound::File(_) => "a single file's header",
                            Inbound::Delete { .. } => "a single deletion",
                            _ => "an answer to an offer",
                        }
                    )));
                }
            }
        }
    }

    /// Check and answer one manifest part, and queue its wanted files.
    async fn manifest(&mut self, files: Vec<FileHeader>, eager: bool) -> Result<(), StreamError> {
        self.seen
            .part(&files)
            .map_err(|e| StreamError::Protocol(e.to_string()))?;
        let first = self.next_index;
        self.next_index = self
            .next_index
            .checked_add(files.len() as u32)
            .ok_or_else(|| StreamError::Protocol("too many files".into()))?;
        // Checks that need no disk first, here; then what the folder
        // holds, off the agent's thread (it may hash whole files).
        // Secrets are refused here whatever the sender's options.
        let filter = Filter {
            force: true,
            ..Filter::default()
        };
        let checked: Vec<Result<(), Refusal>> = files
            .iter()
            .map(|h| {
                self.seen
                    .entry(h)
                    .map_err(|reason| refusal(reason, false))?;
                match filter.by_name(&h.rel) {
                    Verdict::Blocked(reason) => Err(refusal(reason, true)),
                    _ => Ok(()),
                }
            })
            .collect();
        // The open folders go to the blocking thread and come back; a
        // stand-in on the same root holds their place meanwhile.
        let stand_in = place::Folders::sharing(self.s.folders.root_arc());
        let mut folders = std::mem::replace(&mut self.s.folders, stand_in);
        let owner = self.s.owner;
        let (folders, judged) = tokio::task::spawn_blocking(move || {
            let free = free_bytes(folders.root());
            let judged: Vec<_> = files
                .into_iter()
                .zip(checked)
                .map(|(h, ok)| {
                    let judged = ok.and_then(|()| judge(&mut folders, owner, &h, eager, free));
                    (h, judged)
                })
                .collect();
            (folders, judged)
        })
        .await
        .map_err(|e| StreamError::Protocol(format!("judging the files failed: {e}")))?;
        self.s.folders = folders;
        let mut answers = Vec::with_capacity(judged.len());
        for (i, (h, judged)) in judged.into_iter().enumerate() {
            let index = first + i as u32;
            let (answer, wanted) = match judged {
                Ok((Judged::From(offset), dir, name)) => (
                    Answer::SendFrom(offset),
                    Some(Wanted {
                        index,
                        h,
                        offset,
                        dir,
                        name,
                        drop: false,
                    }),
                ),
                Ok((Judged::Have, dir, name)) => (
                    Answer::Have,
                    eager.then_some(Wanted {
                        index,
                        h,
                        offset: 0,
                        dir,
                        name,
                        drop: true,
                    }),
                ),
                Err(refusal) => {
                    let dropped = eager.then(|| Wanted {
                        index,
                        h,
                        offset: 0,
                        dir: self.s.folders.root_arc(),
                        name: String::new(),
                        drop: true,
                    });
                    (Answer::Refused(refusal), dropped)
                }
            };
            answers.push(answer);
            self.queue.extend(wanted);
        }
        for frame in answer_frames(answers) {
            let _ = self.out.send(Outbound::Answers(frame));
        }
        // Files that need no bytes (empty, or a whole partial) are
        // settled now.
        self.take(&[]).await
    }

    /// Take `bytes`, the next of the data of the wanted files in order.
    /// A file whose bytes are all in is settled by a task of its own
    /// while the next is read; at most [`SETTLING`] wait at once.
    async fn take(&mut self, mut bytes: &[u8]) -> Result<(), StreamError> {
        loop {
            if self.current.is_none() {
                let Some(front) = self.queue.front() else {
                    if bytes.is_empty() {
                        return Ok(());
                    }
                    return Err(StreamError::Protocol(
                        "more data than the manifests announced".into(),
                    ));
                };
                if bytes.is_empty() && front.h.size > front.offset {
                    return Ok(());
                }
                let w = self.queue.pop_front().expect("a front");
                let permit = if w.drop {
                    None
                } else {
                    Some(
                        self.settling
                            .clone()
                            .acquire_owned()
                            .await
                            .map_err(|_| StreamError::Protocol("shutting down".into()))?,
                    )
                };
                let owner = self.s.owner;
                let mut cur = if w.offset > 0 && !w.drop {
                    // Resuming reads the partial through: off this thread.
                    tokio::task::spawn_blocking(move || open(w, owner))
                        .await
                        .map_err(|e| {
                            StreamError::Protocol(format!("opening a partial failed: {e}"))
                        })?
                } else {
                    open(w, owner)
                };
                cur.permit = permit;
                self.current = Some(cur);
            }
            let cur = self.current.as_mut().expect("current");
            let n = (cur.left.min(bytes.len() as u64)) as usize;
            if n > 0 {
                if let Some(sink) = cur.sink.as_mut() {
                    sink.take(&bytes[..n]);
                    // A large file's writer catches up here.
                    sink.ready().await;
                }
                cur.left -= n as u64;
                bytes = &bytes[n..];
            }
            if cur.left == 0 {
                let done = self.current.take().expect("current");
                self.settle(done);
            } else if bytes.is_empty() {
                return Ok(());
            }
        }
    }

    /// Settle a file whose bytes are all in, on a task of its own; its
    /// outcome goes back with the others of its group commit.
    fn settle(&mut self, cur: Current) {
        if cur.w.drop {
            return;
        }
        let out = self.out.clone();
        let commits = self.s.commits.clone();
        self.tasks.spawn(async move {
            let Current {
                w,
                sink,
                failed,
                permit: _permit,
                ..
            } = cur;
            let refused = match (sink, failed) {
                (Some(sink), _) => {
                    let finished = sink.finish().await;
                    receive::settle(finished, &w.dir, &w.name, &w.h, &commits)
                        .await
                        .err()
                        .map(|r| refusal(r.reason, r.blocked))
                }
                (None, reason) => Some(refusal(
                    reason.unwrap_or_else(|| "not written".into()),
                    false,
                )),
            };
            let _ = out.send(Outbound::Done(vec![Done {
                index: w.index,
                refused,
            }]));
        });
    }

    /// Remove mirrored files and folders, never through a symlink.
    async fn remove(&mut self, rels: Vec<String>) -> Result<(), StreamError> {
        if rels.len() > azlin_protocol::files::manifest::MAX_PART {
            return Err(StreamError::Protocol(format!(
                "{} removals in one frame; at most {}",
                rels.len(),
                azlin_protocol::files::manifest::MAX_PART
            )));
        }
        self.s.folders.forget();
        let root = self.s.folders.root_arc();
        let answers = tokio::task::spawn_blocking(move || {
            rels.iter()
                .map(|rel| super::delete::remove(&root, rel).err())
                .collect()
        })
        .await
        .map_err(|e| StreamError::Protocol(format!("removing failed: {e}")))?;
        let _ = self.out.send(Outbound::Removed(answers));
        Ok(())
    }
}

/// Where one file of a manifest goes and what it needs.
fn judge(
    folders: &mut place::Folders,
    owner: Owner,
    h: &FileHeader,
    eager: bool,
    free: Option<u64>,
) -> Result<(Judged, Arc<OwnedFd>, String), Refusal> {
    let refuse = |reason: String| refusal(reason, false);
    let (folder, name) = h.rel.rsplit_once('/').unwrap_or(("", h.rel.as_str()));
    let dir = folders.open(folder, Some(owner)).map_err(refuse)?;
    let judged = receive::judge(&dir, name, h, owner, !eager).map_err(refuse)?;
    if let (Judged::From(offset), Some(free)) = (&judged, free)
        && h.size - offset > free
    {
        return Err(refuse(format!(
            "{} needs {} more bytes; the VM's file system has {free} free",
            h.rel,
            h.size - offset
        )));
    }
    Ok((judged, dir, name.to_string()))
}

/// Bytes free to the VM user on the file system of `dir`.
fn free_bytes(dir: &OwnedFd) -> Option<u64> {
    let st = nix::sys::statvfs::fstatvfs(dir).ok()?;
    Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

/// Open the partial of a wanted file (or nothing, for bytes dropped).
fn open(w: Wanted, owner: Owner) -> Current {
    let left = w.h.size - w.offset;
    if w.drop {
        return Current {
            w,
            sink: None,
            failed: None,
            left,
            permit: None,
        };
    }
    match receive::open_partial(&w.dir, &w.name, &w.h, owner, w.offset) {
        Ok((file, hasher, scan)) => {
            let partial = partial_name(&w.name, &w.h.hash);
            let dir = w.dir.clone();
            let written = Written {
                file,
                hasher,
                scan,
                error: None,
            };
            let sink = Sink::new(written, w.offset, left, |same| {
                place::open_direct(&dir, &partial, same)
            });
            Current {
                w,
                sink: Some(sink),
                failed: None,
                left,
                permit: None,
            }
        }
        // Its bytes still come; they are read and dropped.
        Err(reason) => Current {
            w,
            sink: None,
            failed: Some(reason),
            left,
            permit: None,
        },
    }
}

/// Write the answers and outcomes in order; outcomes waiting together
/// (one group commit's) go in one frame, as many as fit. A frame that
/// cannot be sent resets the stream, so the sender never takes it for a
/// clean end.
async fn write_out(mut send: quinn::SendStream, mut rx: mpsc::UnboundedReceiver<Outbound>) {
    let mut held: Option<Outbound> = None;
    loop {
        let next = match held.take() {
            Some(o) => o,
            None => match rx.recv().await {
                Some(o) => o,
                None => break,
            },
        };
        let next = match next {
            Outbound::Done(mut done) => {
                let mut bytes: usize = done.iter().map(|d| weight(d.refused.as_ref())).sum();
                while bytes < FRAME_BUDGET / 2
                    && let Ok(more) = rx.try_recv()
                {
                    match more {
                        Outbound::Done(d) => {
                            bytes += d.iter().map(|d| weight(d.refused.as_ref())).sum::<usize>();
                            done.extend(d);
                        }
                        other => {
                            held = Some(other);
                            break;
                        }
                    }
                }
                Outbound::Done(done)
            }
            other => other,
        };
        if let Err(e) = transport::send(&mut send, &next, MAX_FILES_FRAME).await {
            tracing::warn!("cannot answer on a file stream: {e}");
            let _ = send.reset(transport::STREAM_BAD_FRAME);
            return;
        }
    }
    let _ = send.finish();
}
