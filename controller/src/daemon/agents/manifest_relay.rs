//! Copies from one VM to another by manifest, both ways at once: each
//! part the source VM offers (`Offers`) goes on to the destination VM as a
//! manifest, less what the daemon refuses (names that leave the folder or
//! repeat, by the manifest bounds; secrets and noise by name, unless
//! forced); the destination's answers go back to the source as its
//! `Wants`, in part order; and the data the source then sends, the
//! wanted files' bytes back to back, is exactly what the destination
//! expects for that manifest, so each frame is passed on as it comes.
//! The destination's `Done` frames say which files are durable.
//!
//! Both streams are read by tasks of their own into one queue, so neither
//! read is ever cut off half-way by the other's frame.
//!
//! Not here: opening the streams, copies to this machine (`fetch`).

use std::{
    collections::{BTreeMap, VecDeque},
    sync::Mutex,
};

use anyhow::{Result, bail};
use azlin_protocol::{
    exec::clean_reason,
    files::{
        filter::{Filter, Verdict},
        manifest::{MAX_ENTRIES, Seen},
        wire::{Answer, FileHeader, Inbound, MAX_FILES_FRAME, Outbound},
    },
    transport::{self, FramedRecv},
};
use tokio::sync::mpsc;

use super::file_stream::FileStream;
use crate::{files::fetch_parts::renamed, ipc::files::CopyReport};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Destination,
}

/// A part of the source's, on its way through the destination.
struct Part {
    /// For each file the source offered: its place in the manifest sent
    /// to the destination, or `None` when the daemon refused it.
    slots: Vec<Option<usize>>,
    /// The files sent on, in the manifest's order.
    sent: Vec<FileHeader>,
    answers: Vec<Answer>,
}

/// A file whose bytes go through, by its index on the destination's stream.
struct Going {
    rel: String,
    bytes: u64,
    offset: u64,
}

/// Relay every file `from` offers into `to`, into `report`.
pub async fn relay(
    from: FileStream,
    to: FileStream,
    names: (&str, &str),
    rename: Option<&str>,
    filter: &Filter,
    seen: &Mutex<Seen>,
    report: &mut CopyReport,
) -> Result<()> {
    let (src, dst) = names;
    let (mut src_send, src_recv) = from.split();
    let (mut dst_send, dst_recv) = to.split();
    let (tx, mut rx) = mpsc::channel(8);
    let readers = [
        tokio::spawn(read(Side::Source, src_recv, tx.clone())),
        tokio::spawn(read(Side::Destination, dst_recv, tx)),
    ];
    let _stop = Abort(readers);
    let mut parts: VecDeque<Part> = VecDeque::new();
    let mut going: BTreeMap<u32, Going> = BTreeMap::new();
    let mut next_index: u32 = 0;
    let mut owed: u64 = 0;
    let mut ended = false;
    while let Some((side, frame)) = rx.recv().await {
        let frame = match frame {
            Ok(Some(f)) => f,
            // The source closes its side once it has sent everything.
            Ok(None) if side == Side::Source && ended => continue,
            Ok(None) if side == Side::Destination && ended && going.is_empty() => break,
            Ok(None) => {
                let vm = if side == Side::Source { src } else { dst };
                bail!("{vm} closed the file stream part way; run the copy again to resume");
            }
            Err(e) => {
                let vm = if side == Side::Source { src } else { dst };
                bail!("{vm}: {e}");
            }
        };
        match (side, frame) {
            (Side::Source, Outbound::Offers(files)) => {
                let part = {
                    let mut seen = seen.lock().expect("seen lock");
                    if let Err(e) = seen.part(&files) {
                        bail!("{src} offered {e}");
                    }
                    let mut part = Part {
                        slots: Vec::with_capacity(files.len()),
                        sent: Vec::new(),
                        answers: Vec::new(),
                    };
                    for mut h in files {
                        h.rel = renamed(&h.rel, rename);
                        let refused = match seen.entry(&h) {
                            Err(why) => {
                                Some((&mut report.failed, format!("refused from {src}: {why}")))
                            }
                            Ok(()) => match filter.by_name(&h.rel) {
                                Verdict::Send => None,
                                Verdict::Blocked(why) => Some((&mut report.blocked, why)),
                                Verdict::Skipped(why) => Some((&mut report.skipped, why)),
                            },
                        };
                        match refused {
                            Some((list, why)) => {
                                list.push((h.rel, why));
                                part.slots.push(None);
                            }
                            None => {
                                part.slots.push(Some(part.sent.len()));
                                part.sent.push(h);
                            }
                        }
                    }
                    part
                };
                if !part.sent.is_empty() {
                    let manifest = Inbound::Manifest {
                        files: part.sent.clone(),
                        eager: false,
                    };
                    transport::send(&mut dst_send, &manifest, MAX_FILES_FRAME).await?;
                }
                parts.push_back(part);
            }
            (Side::Source, Outbound::Data(bytes)) => {
                if bytes.len() as u64 > owed {
                    bail!("{src} sent more than it was asked for");
                }
                owed -= bytes.len() as u64;
                transport::send(&mut dst_send, &Inbound::Data(bytes), MAX_FILES_FRAME).await?;
            }
            (Side::Source, Outbound::Passed { rel, reason }) => report.skipped.push((rel, reason)),
            (Side::Source, Outbound::End) => {
                if owed > 0 || !parts.is_empty() {
                    bail!("{src} ended the copy with files still owed; run it again to resume");
                }
                transport::send(&mut dst_send, &Inbound::End, MAX_FILES_FRAME).await?;
                let _ = dst_send.finish();
                let _ = src_send.finish();
                ended = true;
                if going.is_empty() {
                    break;
                }
            }
            (Side::Source, Outbound::Failed { reason }) => {
                bail!("{src} stopped the copy: {}", clean_reason(reason))
            }
            (Side::Destination, Outbound::Answers(answers)) => {
                let Some(part) = parts.iter_mut().find(|p| p.answers.len() < p.sent.len()) else {
                    bail!("{dst} answered files it was not sent");
                };
                part.answers.extend(answers);
                if part.answers.len() > part.sent.len() {
                    bail!("{dst} answered files it was not sent");
                }
            }
            (Side::Destination, Outbound::Done(done)) => {
                for d in done {
                    let Some(g) = going.remove(&d.index) else {
                        bail!("{dst} reported a file it was not sent");
                    };
                    match d.refused {
                        None => report.stored(g.bytes, g.offset),
                        Some(r) => report.refused(g.rel, clean_reason(r.reason), r.blocked),
                    }
                }
                if ended && going.is_empty() {
                    break;
                }
            }
            (Side::Destination, Outbound::Failed { reason }) => {
                bail!("{dst} stopped the copy: {}", clean_reason(reason))
            }
            (Side::Source, Outbound::Offer(_)) => bail!(
                "{src} has more files to give than one copy to another VM takes by manifest \
                 ({MAX_ENTRIES}): copy its folders one at a time"
            ),
            (Side::Source, _) => bail!("{src} sent a frame that has no place in a copy"),
            (Side::Destination, _) => bail!("{dst} sent a frame that has no place in a copy"),
        }
        // Answer the source's parts in order, as each is complete.
        while parts
            .front()
            .is_some_and(|p| p.answers.len() == p.sent.len())
        {
            let part = parts.pop_front().expect("checked");
            let base = next_index;
            next_index += part.sent.len() as u32;
            let mut wants = Vec::with_capacity(part.slots.len());
            for slot in part.slots {
                let Some(j) = slot else {
                    wants.push(None);
                    continue;
                };
                let h = &part.sent[j];
                match &part.answers[j] {
                    Answer::SendFrom(offset) if *offset <= h.size => {
                        owed += h.size - offset;
                        going.insert(
                            base + j as u32,
                            Going {
                                rel: h.rel.clone(),
                                bytes: h.size - offset,
                                offset: *offset,
                            },
                        );
                        wants.push(Some(*offset));
                    }
                    Answer::SendFrom(offset) => {
                        bail!("{dst} asked for {} from byte {offset} of {}", h.rel, h.size)
                    }
                    Answer::Have => {
                        report.unchanged += 1;
                        wants.push(None);
                    }
                    Answer::Refused(r) => {
                        let reason = clean_reason(r.reason.clone());
                        report.refused(h.rel.clone(), reason, r.blocked);
                        wants.push(None);
                    }
                }
            }
            transport::send(&mut src_send, &Inbound::Wants(wants), MAX_FILES_FRAME).await?;
        }
    }
    if !ended || !going.is_empty() {
        bail!("the copy ended with files not confirmed by {dst}; run it again to resume");
    }
    Ok(())
}

type Frame = Result<Option<Outbound>, String>;

/// Pass each frame of one stream on, until it ends or fails.
async fn read(side: Side, mut recv: FramedRecv, tx: mpsc::Sender<(Side, Frame)>) {
    loop {
        let frame = recv.tagged::<Outbound>().await.map_err(|e| e.to_string());
        let last = !matches!(frame, Ok(Some(_)));
        if tx.send((side, frame)).await.is_err() || last {
            return;
        }
    }
}

/// Stops the readers when the relay ends, however it ends.
struct Abort([tokio::task::JoinHandle<()>; 2]);

impl Drop for Abort {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}
