//! Sending local files to a VM's agent for `azlin cp`: several QUIC
//! streams at once (one file in flight on each), each file hashed with
//! BLAKE3 and scanned for secrets as it is read, then sent from wherever
//! the agent says it already has (a partial from an interrupted run, or
//! all of it). The daemon reads the files itself: it runs as the same user
//! on the same machine, so the bytes never pass through the CLI.

use std::{
    collections::VecDeque,
    io::SeekFrom,
    path::Path,
    sync::{Arc, Mutex},
};

use anyhow::{Context, Result, bail};
use azlin_protocol::files::{
    content,
    filter::ContentScan,
    wire::{CHUNK, FileHeader, FilesOp, FilesRequest, Inbound, Outbound, inbound_data_header},
};
use bytes::Bytes;

use super::{Ctx, Handle, HandleVm, resolve::Resolved};
use crate::{
    daemon::{
        Daemon,
        agents::file_stream::{self, FileStream},
    },
    files::plan::{Plan, PlannedFile},
    ipc::files::{CopyReport, Push, PushSpec, Sync, SyncResult},
};

impl HandleVm for Push {
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<CopyReport> {
        let spec = PushSpec {
            vm: vm.row.name,
            ..self.0
        };
        push(&cx.d, spec, Some(cx.replies())).await
    }
}

impl Handle for Sync {
    async fn handle(self, cx: &Ctx) -> Result<Vec<SyncResult>> {
        sync(&cx.d, &self.selector, self.plan, self.requested_by).await
    }
}

/// Streams used at once for one copy: each has one file in flight, and
/// the agent makes the files arriving together durable in one flush, so
/// more streams mean fewer flushes per file (quinn allows 100).
const STREAMS: usize = 32;

/// Bytes sent or found already there, for the progress bar.
type Done = Arc<std::sync::atomic::AtomicU64>;

/// How often progress goes to the CLI.
const TICK: std::time::Duration = std::time::Duration::from_millis(200);

pub async fn push(
    d: &Daemon,
    spec: PushSpec,
    progress: Option<tokio::sync::mpsc::UnboundedSender<crate::ipc::Reply>>,
) -> Result<CopyReport> {
    let conn = file_stream::connection(d, &spec.vm)?;
    let report = Arc::new(Mutex::new(CopyReport {
        blocked: spec.plan.blocked.clone(),
        skipped: spec.plan.skipped.clone(),
        ..CopyReport::default()
    }));
    let queue = Arc::new(Mutex::new(VecDeque::from(spec.plan.files.clone())));
    let total: u64 = spec
        .plan
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(&f.local).ok())
        .map(|m| m.len())
        .sum();
    let done: Done = Arc::default();
    // In a JoinSet so the ticker stops on every way out of here, early
    // returns and errors included; otherwise it would hold the CLI's
    // reply channel open for ever.
    let mut ticker = tokio::task::JoinSet::new();
    if let Some(tx) = progress {
        let (done, vm) = (done.clone(), spec.vm.clone());
        ticker.spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            loop {
                tick.tick().await;
                let reply = crate::ipc::Reply::CopyProgress {
                    vm: vm.clone(),
                    done: done.load(std::sync::atomic::Ordering::Relaxed),
                    total,
                };
                if tx.send(reply).is_err() {
                    return;
                }
            }
        });
    }
    if !spec.deletes.is_empty() {
        let request = FilesRequest {
            root: spec.plan.root.clone(),
            op: FilesOp::Receive,
            requested_by: spec.requested_by.clone(),
        };
        delete(&conn, &spec.vm, request, &spec.deletes, &report).await?;
    }
    if spec.plan.files.is_empty() {
        return Ok(report.lock().expect("report lock").clone());
    }
    let streams = STREAMS.min(spec.plan.files.len()).max(1);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..streams {
        let request = FilesRequest {
            root: spec.plan.root.clone(),
            op: FilesOp::Receive,
            requested_by: spec.requested_by.clone(),
        };
        workers.spawn(worker(
            conn.clone(),
            spec.vm.clone(),
            request,
            queue.clone(),
            report.clone(),
            done.clone(),
        ));
    }
    let mut first_error = None;
    while let Some(done) = workers.join_next().await {
        let result = done.map_err(anyhow::Error::from).and_then(|r| r);
        if let Err(e) = result
            && first_error.is_none()
        {
            first_error = Some(e);
        }
    }
    ticker.abort_all();
    let report = report.lock().expect("report lock").clone();
    match first_error {
        Some(e) => Err(e.context(format!(
            "copy to {} stopped after {} file(s); run it again to resume",
            spec.vm, report.sent
        ))),
        None => Ok(report),
    }
}

async fn worker(
    conn: quinn::Connection,
    vm: String,
    request: FilesRequest,
    queue: Arc<Mutex<VecDeque<PlannedFile>>>,
    report: Arc<Mutex<CopyReport>>,
    done: Done,
) -> Result<()> {
    let bump = |n: u64| {
        done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };
    let (mut stream, root) = FileStream::open(&conn, &vm, request).await?;
    report.lock().expect("report lock").root = root;
    loop {
        let Some(file) = queue.lock().expect("queue lock").pop_front() else {
            break;
        };
        let local = file.local.clone();
        let header = tokio::task::spawn_blocking(move || describe(&local)).await?;
        let (header, secret, content) = match header {
            Ok(Described {
                mut header,
                secret,
                content,
            }) => {
                header.rel = file.rel.clone();
                (header, secret, content)
            }
            Err(e) => {
                note(&report, |r| &mut r.failed, &file.rel, format!("{e:#}"));
                continue;
            }
        };
        if let Some(found) = secret {
            note(
                &report,
                |r| &mut r.blocked,
                &file.rel,
                format!("{found}; never sent to a VM"),
            );
            continue;
        }
        stream.put(&Inbound::File(header.clone())).await?;
        let offset = match stream.next().await? {
            Outbound::Have => {
                report.lock().expect("report lock").unchanged += 1;
                bump(header.size);
                continue;
            }
            Outbound::SendFrom { offset } if offset <= header.size => {
                bump(offset);
                offset
            }
            Outbound::Refused { reason, blocked } => {
                let list = if blocked { blocked_list } else { failed_list };
                note(&report, list, &file.rel, reason);
                continue;
            }
            Outbound::Failed { reason } => bail!("the VM stopped the copy: {reason}"),
            other => bail!("the agent answered {other:?} to a file"),
        };
        match &content {
            Some(bytes) => {
                send_bytes(&mut stream.send, bytes.slice(offset as usize..), &bump).await?
            }
            None => send_content(&mut stream.send, &file.local, offset, header.size, &bump).await?,
        }
        match stream.next().await? {
            Outbound::Stored => {
                let mut r = report.lock().expect("report lock");
                r.sent += 1;
                r.bytes += header.size - offset;
                if offset > 0 {
                    r.resumed += 1;
                }
            }
            Outbound::Refused { reason, blocked } => {
                let list = if blocked { blocked_list } else { failed_list };
                note(&report, list, &file.rel, reason);
            }
            Outbound::Failed { reason } => bail!("the VM stopped the copy: {reason}"),
            other => bail!("the agent answered {other:?} after a file's content"),
        }
    }
    stream.end().await
}

async fn delete(
    conn: &quinn::Connection,
    vm: &str,
    request: FilesRequest,
    rels: &[String],
    report: &Mutex<CopyReport>,
) -> Result<()> {
    let (mut stream, _) = FileStream::open(conn, vm, request).await?;
    for rel in rels {
        stream.put(&Inbound::Delete { rel: rel.clone() }).await?;
        match stream.next().await? {
            Outbound::Deleted => report.lock().expect("report lock").deleted += 1,
            Outbound::Refused { reason, .. } => note(report, failed_list, rel, reason),
            other => bail!("the agent answered {other:?} to a deletion"),
        }
    }
    stream.end().await
}

fn blocked_list(r: &mut CopyReport) -> &mut Vec<(String, String)> {
    &mut r.blocked
}

fn failed_list(r: &mut CopyReport) -> &mut Vec<(String, String)> {
    &mut r.failed
}

fn note(
    report: &Mutex<CopyReport>,
    list: impl Fn(&mut CopyReport) -> &mut Vec<(String, String)>,
    rel: &str,
    why: String,
) {
    list(&mut report.lock().expect("report lock")).push((rel.to_string(), why));
}

/// Files up to this size are read once: kept in memory from their hash to
/// their sending (32 streams hold at most 8 MiB).
const IN_MEMORY: u64 = 256 * 1024;

/// A local file as it will be announced.
struct Described {
    header: FileHeader,
    /// A secret found in it.
    secret: Option<String>,
    /// The whole content, for a small file.
    content: Option<Bytes>,
}

/// Size, mode, mtime and BLAKE3 of a local file, and any secret in it.
fn describe(path: &Path) -> Result<Described> {
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
    Ok(Described {
        header,
        secret: scan.found().map(String::from),
        content,
    })
}

/// Send `bytes` as data frames, each framed in front of its slice of
/// them (no copy of the content here; quinn keeps the slices until they
/// are acknowledged).
async fn send_bytes(send: &mut quinn::SendStream, bytes: Bytes, bump: &impl Fn(u64)) -> Result<()> {
    let mut at = 0;
    while at < bytes.len() {
        let n = (bytes.len() - at).min(CHUNK);
        let mut frame = [Bytes::from(inbound_data_header(n)), bytes.slice(at..at + n)];
        send.write_all_chunks(&mut frame).await?;
        bump(n as u64);
        at += n;
    }
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
    bump: &impl Fn(u64),
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
        bump(n as u64);
    }
    reader.await?;
    Ok(())
}

/// Send the same plan to every chosen VM at once.
pub async fn sync(
    d: &Arc<Daemon>,
    selector: &crate::selector::Selector,
    plan: Plan,
    requested_by: String,
) -> Result<Vec<SyncResult>> {
    let vms = super::selection::choose(d, selector)?;
    let mut runs = tokio::task::JoinSet::new();
    for (i, vm) in vms.iter().enumerate() {
        let (d, spec) = (
            d.clone(),
            PushSpec {
                vm: vm.clone(),
                plan: plan.clone(),
                requested_by: requested_by.clone(),
                deletes: Vec::new(),
            },
        );
        runs.spawn(async move { (i, push(&d, spec, None).await.map_err(|e| format!("{e:#}"))) });
    }
    let mut results: Vec<Option<Result<CopyReport, String>>> = vec![None; vms.len()];
    while let Some(done) = runs.join_next().await {
        let (i, r) = done?;
        results[i] = Some(r);
    }
    Ok(vms
        .into_iter()
        .zip(results)
        .map(|(vm, r)| SyncResult {
            vm,
            result: r.unwrap_or_else(|| Err("did not run".into())),
        })
        .collect())
}
