//! Local files to a VM's agent by manifest (`azlin cp`, `sync`, `sync
//! --watch`; the frames are in `azlin_protocol::files::wire`). A copy is
//! cut into parts; each stream announces a part (paths, sizes, modes,
//! mtimes, BLAKE3), and while the agent answers it announces the next,
//! then sends the bytes the agent wants of the first, small files packed
//! together into whole frames, large ones read from disk chunk by chunk.
//! The agent's outcomes come back per group commit, and a file counts as
//! sent only once its outcome says it is durable. A part of a few small
//! files (a save under `sync --watch`) is sent eagerly: its bytes follow
//! its manifest at once, so the change is on the VM half a round trip
//! later. The daemon reads the files itself: it runs as the same user on
//! the same machine, so the bytes never pass through the CLI.
//!
//! Not here: what to copy (`files::plan`), the report and progress of a
//! whole copy (`handlers::files`), the per-file exchange still used to
//! fetch from a VM (`handlers::fetch`).

use std::{
    collections::{HashMap, VecDeque},
    io::SeekFrom,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use anyhow::{Context, Result, anyhow, bail};
use azlin_protocol::{
    files::{
        content,
        filter::ContentScan,
        manifest::{MAX_ENTRIES, fits},
        wire::{
            Answer, CHUNK, FileHeader, FilesRequest, Inbound, MAX_FILES_FRAME, Outbound, Refusal,
            inbound_data_header,
        },
    },
    stream::{MAX_QUERY_FRAME, Query},
    transport::{self, FramedRecv},
};
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::{files::plan::PlannedFile, ipc::files::CopyReport};

/// Files in one part (at most `manifest::MAX_PART`).
const PART_FILES: usize = 1024;
/// Bytes of small files held in memory for one part, from their hash to
/// their sending.
const PART_MEMORY: u64 = 2 << 20;
/// Bytes of one part in all: a stream does not take many large files
/// while the others have nothing to do.
const PART_BYTES: u64 = 64 << 20;
/// Parts a stream announces before it has their answers.
const AHEAD: usize = 3;
/// A part this small is sent eagerly: its bytes without waiting for the
/// answers.
const EAGER_MAX: u64 = 64 * 1024;
/// Files up to this size are read once: kept in memory from their hash
/// to their sending.
const IN_MEMORY: u64 = 256 * 1024;

/// What the streams of one copy share: the report and the bytes done.
#[derive(Default)]
pub struct Shared {
    pub report: Mutex<CopyReport>,
    pub done: AtomicU64,
}

impl Shared {
    fn bump(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    fn note(
        &self,
        list: fn(&mut CopyReport) -> &mut Vec<(String, String)>,
        rel: &str,
        why: String,
    ) {
        list(&mut self.report.lock().expect("report lock")).push((rel.to_string(), why));
    }

    fn refused(&self, rel: &str, r: Refusal) {
        self.report
            .lock()
            .expect("report lock")
            .refused(rel.to_string(), r.reason, r.blocked);
    }
}

fn blocked_list(r: &mut CopyReport) -> &mut Vec<(String, String)> {
    &mut r.blocked
}

fn failed_list(r: &mut CopyReport) -> &mut Vec<(String, String)> {
    &mut r.failed
}

/// A planned file and its size when the copy started.
pub type Sized = (PlannedFile, u64);

/// Cut the files into parts, in order.
pub fn cut(files: Vec<Sized>) -> VecDeque<Vec<Sized>> {
    let mut parts = VecDeque::new();
    let mut part: Vec<Sized> = Vec::new();
    let (mut paths, mut memory, mut bytes) = (0usize, 0u64, 0u64);
    for (file, size) in files {
        let held = if size <= IN_MEMORY { size } else { 0 };
        let full = !part.is_empty()
            && (part.len() >= PART_FILES
                || !fits(part.len(), paths, &file.rel)
                || memory + held > PART_MEMORY
                || bytes + size > PART_BYTES);
        if full {
            parts.push_back(std::mem::take(&mut part));
            (paths, memory, bytes) = (0, 0, 0);
        }
        paths += file.rel.len();
        memory += held;
        bytes += size;
        part.push((file, size));
    }
    if !part.is_empty() {
        parts.push_back(part);
    }
    parts
}

/// Send parts from `parts` to `vm` on one stream after another until
/// none is left (a stream takes at most `MAX_ENTRIES` files).
pub async fn send_parts(
    conn: &quinn::Connection,
    vm: &str,
    request: &FilesRequest,
    parts: &Mutex<VecDeque<Vec<Sized>>>,
    shared: &Arc<Shared>,
) -> Result<()> {
    while !parts.lock().expect("parts lock").is_empty() {
        one_stream(conn, vm, request.clone(), parts, shared).await?;
    }
    Ok(())
}

/// A part as announced: what the answers are matched against.
struct Announced {
    files: Vec<(String, u64)>,
    eager: bool,
}

async fn one_stream(
    conn: &quinn::Connection,
    vm: &str,
    request: FilesRequest,
    parts: &Mutex<VecDeque<Vec<Sized>>>,
    shared: &Arc<Shared>,
) -> Result<()> {
    let (mut send, recv) = conn.open_bi().await.context("cannot open a file stream")?;
    // The manifest follows the request at once: no round trip for the
    // folder to be opened.
    transport::send(&mut send, &Query::Files(request), MAX_QUERY_FRAME).await?;
    let (announce, announced) = mpsc::unbounded_channel();
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let reader = tokio::spawn(read_outcomes(
        FramedRecv::new(recv, MAX_FILES_FRAME),
        vm.to_string(),
        announced,
        answers_tx,
        shared.clone(),
    ));
    let written = write_parts(&mut send, parts, &announce, &mut answers, shared).await;
    drop(announce);
    match &written {
        Ok(()) => {
            transport::send(&mut send, &Inbound::End, MAX_FILES_FRAME).await?;
            let _ = send.finish();
        }
        Err(_) => {
            let _ = send.reset(0u32.into());
        }
    }
    // The agent's own words come first: a writer stopped by a closed
    // stream only says that the stream closed.
    reader.await??;
    written
}

/// Announce parts and send the data each one's answers ask for.
async fn write_parts(
    send: &mut quinn::SendStream,
    parts: &Mutex<VecDeque<Vec<Sized>>>,
    announce: &mpsc::UnboundedSender<Announced>,
    answers: &mut mpsc::UnboundedReceiver<Vec<Option<u64>>>,
    shared: &Arc<Shared>,
) -> Result<()> {
    let mut entries = 0usize;
    let mut waiting: VecDeque<Vec<Described>> = VecDeque::new();
    loop {
        if waiting.len() < AHEAD {
            let next = {
                let mut q = parts.lock().expect("parts lock");
                match q.front() {
                    Some(p) if entries + p.len() <= MAX_ENTRIES => q.pop_front(),
                    _ => None,
                }
            };
            if let Some(part) = next {
                entries += part.len();
                let noted = shared.clone();
                let described =
                    tokio::task::spawn_blocking(move || describe_part(part, &noted)).await?;
                if described.is_empty() {
                    continue;
                }
                let total: u64 = described.iter().map(|d| d.header.size).sum();
                let eager = total <= EAGER_MAX;
                let _ = announce.send(Announced {
                    files: described
                        .iter()
                        .map(|d| (d.header.rel.clone(), d.header.size))
                        .collect(),
                    eager,
                });
                let files = described.iter().map(|d| d.header.clone()).collect();
                transport::send(send, &Inbound::Manifest { files, eager }, MAX_FILES_FRAME).await?;
                if eager {
                    let from = vec![Some(0); described.len()];
                    send_data(send, &described, &from, shared).await?;
                } else {
                    waiting.push_back(described);
                }
                continue;
            }
        }
        let Some(part) = waiting.pop_front() else {
            return Ok(());
        };
        let from = answers
            .recv()
            .await
            .ok_or_else(|| anyhow!("the agent stopped answering"))?;
        send_data(send, &part, &from, shared).await?;
    }
}

/// Read the agent's answers and outcomes: answers for a part go to the
/// writer (offsets to send from), outcomes into the report.
async fn read_outcomes(
    mut recv: FramedRecv,
    vm: String,
    mut announced: mpsc::UnboundedReceiver<Announced>,
    answers: mpsc::UnboundedSender<Vec<Option<u64>>>,
    shared: Arc<Shared>,
) -> Result<()> {
    let opened = recv
        .tagged::<Outbound>()
        .await?
        .ok_or_else(|| anyhow!("{vm} closed the file stream"))?;
    match opened {
        Outbound::Opened { root } => shared.report.lock().expect("report lock").root = root,
        Outbound::Failed { reason } => bail!("{vm} refused: {reason}"),
        other => bail!("{vm} answered {other:?} instead of opening the folder"),
    }
    // Files whose data was sent: (name, size, sent from).
    let mut owed: HashMap<u32, (String, u64, u64)> = HashMap::new();
    let mut index = 0u32;
    // The part being answered, and its answers so far.
    let mut answering: Option<(Announced, Vec<Answer>)> = None;
    loop {
        let frame = match recv.tagged::<Outbound>().await? {
            Some(f) => f,
            None if owed.is_empty() && announced.is_empty() && answering.is_none() => {
                return Ok(());
            }
            None => bail!(
                "{vm} closed the file stream with {} file(s) not confirmed",
                owed.len()
            ),
        };
        match frame {
            Outbound::Answers(list) => {
                // A part's answers may come in several frames.
                let (part, got) = match answering.as_mut() {
                    Some(a) => a,
                    None => {
                        let part = announced
                            .recv()
                            .await
                            .ok_or_else(|| anyhow!("{vm} answered a manifest never sent"))?;
                        answering.insert((part, Vec::new()))
                    }
                };
                got.extend(list);
                if got.len() > part.files.len() {
                    bail!(
                        "{vm} answered {} file(s) of a manifest of {}",
                        got.len(),
                        part.files.len()
                    );
                }
                if got.len() < part.files.len() {
                    continue;
                }
                let (part, list) = answering.take().expect("a part being answered");
                let mut from = Vec::with_capacity(list.len());
                for ((rel, size), answer) in part.files.into_iter().zip(list) {
                    let at = index;
                    index += 1;
                    match answer {
                        Answer::Have => {
                            shared.report.lock().expect("report lock").unchanged += 1;
                            if !part.eager {
                                shared.bump(size);
                            }
                            from.push(None);
                        }
                        Answer::Refused(r) => {
                            shared.refused(&rel, r);
                            from.push(None);
                        }
                        Answer::SendFrom(offset)
                            if offset <= size && (offset == 0 || !part.eager) =>
                        {
                            if !part.eager {
                                shared.bump(offset);
                            }
                            owed.insert(at, (rel, size, offset));
                            from.push(Some(offset));
                        }
                        Answer::SendFrom(offset) => {
                            bail!("{vm} asked for {rel} from byte {offset} of {size}")
                        }
                    }
                }
                if !part.eager {
                    let _ = answers.send(from);
                }
            }
            Outbound::Done(list) => {
                for done in list {
                    let Some((rel, size, offset)) = owed.remove(&done.index) else {
                        bail!("{vm} confirmed a file it was not sent");
                    };
                    match done.refused {
                        Some(r) => shared.refused(&rel, r),
                        None => shared
                            .report
                            .lock()
                            .expect("report lock")
                            .stored(size - offset, offset),
                    }
                }
            }
            Outbound::Failed { reason } => bail!("{vm} stopped the copy: {reason}"),
            other => bail!("{vm} answered {other:?} on a copy by manifest"),
        }
    }
}

/// Remove mirrored files and folders (`sync --watch`), all asked at once.
pub async fn remove(
    conn: &quinn::Connection,
    vm: &str,
    request: FilesRequest,
    rels: &[String],
    shared: &Shared,
) -> Result<()> {
    let (mut send, recv) = conn.open_bi().await.context("cannot open a file stream")?;
    transport::send(&mut send, &Query::Files(request), MAX_QUERY_FRAME).await?;
    let mut chunks: Vec<Vec<String>> = vec![Vec::new()];
    let mut paths = 0;
    for rel in rels {
        let last = chunks.last_mut().expect("a chunk");
        if !last.is_empty() && !fits(last.len(), paths, rel) {
            chunks.push(Vec::new());
            paths = 0;
        }
        paths += rel.len();
        chunks.last_mut().expect("a chunk").push(rel.clone());
    }
    for chunk in &chunks {
        transport::send(&mut send, &Inbound::Remove(chunk.clone()), MAX_FILES_FRAME).await?;
    }
    transport::send(&mut send, &Inbound::End, MAX_FILES_FRAME).await?;
    let _ = send.finish();
    let mut recv = FramedRecv::new(recv, MAX_FILES_FRAME);
    let mut next = async || {
        recv.tagged::<Outbound>()
            .await?
            .ok_or_else(|| anyhow!("{vm} closed the file stream"))
    };
    match next().await? {
        Outbound::Opened { .. } => {}
        Outbound::Failed { reason } => bail!("{vm} refused: {reason}"),
        other => bail!("{vm} answered {other:?} instead of opening the folder"),
    }
    for chunk in chunks {
        match next().await? {
            Outbound::Removed(answers) if answers.len() == chunk.len() => {
                for (rel, answer) in chunk.iter().zip(answers) {
                    match answer {
                        None => shared.report.lock().expect("report lock").deleted += 1,
                        Some(why) => shared.note(failed_list, rel, why),
                    }
                }
            }
            Outbound::Failed { reason } => bail!("{vm} stopped the removals: {reason}"),
            other => bail!("{vm} answered {other:?} to removals"),
        }
    }
    Ok(())
}

/// A local file as it will be announced.
struct Described {
    header: FileHeader,
    local: std::path::PathBuf,
    /// The whole content, for a small file.
    content: Option<Bytes>,
}

/// Hash and scan a part's files; those that cannot be read or hold a
/// secret go in the report, not in the manifest.
fn describe_part(part: Vec<Sized>, shared: &Shared) -> Vec<Described> {
    let mut out = Vec::with_capacity(part.len());
    for (file, _) in part {
        match describe(&file.local) {
            Ok((_, Some(found))) => shared.note(
                blocked_list,
                &file.rel,
                format!("{found}; never sent to a VM"),
            ),
            Ok((mut d, None)) => {
                d.header.rel = file.rel;
                out.push(d);
            }
            Err(e) => shared.note(failed_list, &file.rel, format!("{e:#}")),
        }
    }
    out
}

/// Size, mode, mtime and BLAKE3 of a local file, and any secret in it.
fn describe(path: &Path) -> Result<(Described, Option<String>)> {
    use std::io::Read;
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut scan = ContentScan::default();
    let meta = f.metadata()?;
    let (header, content) = if meta.len() <= IN_MEMORY {
        let mut content = Vec::with_capacity(meta.len() as usize);
        f.read_to_end(&mut content)
            .with_context(|| format!("cannot read {}", path.display()))?;
        (
            content::header_of(&meta, &content, Some(&mut scan)),
            Some(Bytes::from(content)),
        )
    } else {
        (content::header(&mut f, Some(&mut scan))?, None)
    };
    let described = Described {
        header,
        local: path.to_path_buf(),
        content,
    };
    Ok((described, scan.found().map(String::from)))
}

/// Send the bytes of `files` from the offsets in `from` (`None`: not
/// wanted), back to back: small files are packed into whole frames, a
/// large file is read chunk by chunk.
async fn send_data(
    send: &mut quinn::SendStream,
    files: &[Described],
    from: &[Option<u64>],
    shared: &Shared,
) -> Result<()> {
    let mut pack: Vec<u8> = Vec::with_capacity(CHUNK);
    for (d, from) in files.iter().zip(from) {
        let Some(offset) = *from else { continue };
        match &d.content {
            Some(bytes) => {
                let mut rest = bytes.slice(offset as usize..);
                while !rest.is_empty() {
                    let n = (CHUNK - pack.len()).min(rest.len());
                    pack.extend_from_slice(&rest[..n]);
                    rest = rest.slice(n..);
                    if pack.len() == CHUNK {
                        flush(send, &mut pack).await?;
                    }
                }
                shared.bump(d.header.size - offset);
            }
            None => {
                flush(send, &mut pack).await?;
                send_content(send, &d.local, offset, d.header.size, shared).await?;
            }
        }
    }
    flush(send, &mut pack).await
}

/// Send what is packed as one data frame.
async fn flush(send: &mut quinn::SendStream, pack: &mut Vec<u8>) -> Result<()> {
    if pack.is_empty() {
        return Ok(());
    }
    let payload = std::mem::replace(pack, Vec::with_capacity(CHUNK));
    let mut frame = [
        Bytes::from(inbound_data_header(payload.len())),
        Bytes::from(payload),
    ];
    send.write_all_chunks(&mut frame).await?;
    Ok(())
}

/// Room kept in front of each chunk read, for its frame header.
const HEADER_ROOM: usize = 16;

/// A chunk's buffer, lent to quinn until the chunk is acknowledged and
/// then given back to the reader for the next chunk: a GiB goes through
/// a few dozen buffers instead of 4,096 fresh ones, each of which the
/// kernel would have to find, zero and map.
struct Lent {
    buf: Vec<u8>,
    frame: std::ops::Range<usize>,
    home: std::sync::mpsc::Sender<Vec<u8>>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buf[self.frame.clone()]
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let _ = self.home.send(std::mem::take(&mut self.buf));
    }
}

/// Send a file from `offset` to `size`: a blocking thread reads it in
/// chunks, each into a buffer with room for its frame header in front,
/// so a chunk goes from the read to quinn without another copy; reading
/// runs a few chunks ahead of sending.
async fn send_content(
    send: &mut quinn::SendStream,
    path: &Path,
    offset: u64,
    size: u64,
    shared: &Shared,
) -> Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<(Bytes, usize)>>(4);
    let path = path.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || {
        let read = |tx: &tokio::sync::mpsc::Sender<Result<(Bytes, usize)>>| -> Result<()> {
            use std::io::{Read, Seek};
            let mut f = std::fs::File::open(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            f.seek(SeekFrom::Start(offset))?;
            let (home, returned) = std::sync::mpsc::channel();
            let mut left = size - offset;
            while left > 0 {
                let want = (left as usize).min(CHUNK);
                let mut buf = returned
                    .try_recv()
                    .unwrap_or_else(|_| vec![0u8; HEADER_ROOM + CHUNK]);
                let n = f.read(&mut buf[HEADER_ROOM..HEADER_ROOM + want])?;
                if n == 0 {
                    bail!(
                        "{} got shorter while it was sent; copy it again",
                        path.display()
                    );
                }
                let header = inbound_data_header(n);
                let start = HEADER_ROOM - header.len();
                buf[start..HEADER_ROOM].copy_from_slice(&header);
                let frame = Bytes::from_owner(Lent {
                    buf,
                    frame: start..HEADER_ROOM + n,
                    home: home.clone(),
                });
                if tx.blocking_send(Ok((frame, n))).is_err() {
                    return Ok(());
                }
                left -= n as u64;
            }
            Ok(())
        };
        if let Err(e) = read(&tx) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    while let Some(chunk) = rx.recv().await {
        let (frame, n) = chunk?;
        send.write_chunk(frame).await?;
        shared.bump(n as u64);
    }
    reader.await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str) -> PlannedFile {
        PlannedFile {
            local: rel.into(),
            rel: rel.into(),
        }
    }

    #[test]
    fn parts_keep_order_and_each_bound() {
        // Small files: cut by count, then by memory.
        let small: Vec<Sized> = (0..2500).map(|i| (file(&format!("f{i}")), 100)).collect();
        let parts = cut(small);
        assert_eq!(
            parts.iter().map(Vec::len).collect::<Vec<_>>(),
            [1024, 1024, 452]
        );
        assert_eq!(parts[2].last().unwrap().0.rel, "f2499");
        let mid: Vec<Sized> = (0..40)
            .map(|i| (file(&format!("m{i}")), 200 << 10))
            .collect();
        let parts = cut(mid);
        assert!(
            parts.iter().all(|p| p.len() == 10),
            "2 MiB of 200 KiB files"
        );
        // Large files are not held, but a part stops at 64 MiB.
        let large: Vec<Sized> = (0..5).map(|i| (file(&format!("l{i}")), 30 << 20)).collect();
        assert_eq!(cut(large).len(), 3);
        // One file larger than any bound is a part of its own.
        let huge = vec![(file("a"), 1), (file("h"), 1 << 40), (file("b"), 1)];
        assert_eq!(
            cut(huge).iter().map(Vec::len).collect::<Vec<_>>(),
            [1, 1, 1]
        );
        assert!(cut(Vec::new()).is_empty());
    }
}
