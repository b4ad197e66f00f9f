//! Copies from a VM (`azlin cp VM:path …`): to a folder on this machine,
//! or straight on to another VM, the daemon relaying each file's bytes
//! from one agent's stream to the other's as they arrive. The receiving
//! side decides what it already has (skip) or holds in part (resume from
//! an offset), and the sending agent sends only that.
//!
//! Names come from the sending agent, so they are checked here before
//! anything is written: a hostile VM cannot make this machine write
//! outside the destination folder.

use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
use azlin_protocol::{
    exec::clean_reason,
    files::{
        filter::{Filter, Verdict},
        manifest::Seen,
        path::check_relative,
        wire::{FileHeader, FilesOp, FilesRequest, Inbound, Outbound},
    },
};
use tokio::task::JoinSet;

use super::{
    Ctx, HandleVm,
    resolve::{self, Resolved},
};
use crate::{
    daemon::{
        Daemon,
        agents::{
            file_stream::{self, FileStream},
            manifest_relay,
        },
    },
    files::{
        fetch_parts::{FetchParts, renamed},
        local_write::{self, Prepared},
    },
    ipc::files::{CopyReport, Fetch, FetchDest, FetchSpec},
};

impl HandleVm for Fetch {
    /// The source VM comes resolved; a destination VM is resolved the same
    /// way.
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<CopyReport> {
        let mut spec = FetchSpec {
            vm: vm.row.name,
            ..self.0
        };
        if let FetchDest::Vm { vm, .. } = &mut spec.dest {
            *vm = resolve::vm(cx, vm)?.row.name;
        }
        fetch(&cx.d, spec).await
    }
}

/// Streams one copy by manifest is shared across: enough that their
/// windows together (the daemon's per stream is small, see
/// `azlin_protocol::transport::Side`) fill a long link.
const SHARDS: u16 = 4;

pub async fn fetch(d: &Daemon, spec: FetchSpec) -> Result<CopyReport> {
    // By manifest when the VM's agent gives files so (and, for a copy to
    // another VM, that one takes them so).
    let by_manifest = file_stream::gives_by_manifest(d, &spec.vm)
        && match &spec.dest {
            FetchDest::Local(_) => true,
            FetchDest::Vm { vm, .. } => file_stream::takes_by_manifest(d, vm),
        };
    if by_manifest {
        return by_manifest_shared(d, &spec).await;
    }
    let request = FilesRequest {
        root: spec.path.clone(),
        op: FilesOp::Send {
            recursive: spec.recursive,
        },
        requested_by: spec.requested_by.clone(),
    };
    let (mut from, _) =
        FileStream::open(&file_stream::connection(d, &spec.vm)?, &spec.vm, request).await?;
    let mut report = CopyReport::default();
    let (mut to, filter) = match &spec.dest {
        FetchDest::Local(dir) => {
            report.root = dir.display().to_string();
            (None, None)
        }
        FetchDest::Vm { vm, root, force } => {
            let conn = file_stream::connection(d, vm)?;
            let (s, shown) = open_destination(&conn, vm, root, &spec.requested_by).await?;
            report.root = shown;
            let filter = Filter {
                force: *force,
                ..Filter::default()
            };
            (Some(s), Some(filter))
        }
    };
    loop {
        let mut h = match from.next().await? {
            Outbound::Offer(h) => h,
            Outbound::Passed { rel, reason } => {
                report.skipped.push((rel, reason));
                continue;
            }
            Outbound::End => break,
            Outbound::Failed { reason } => {
                bail!("{} stopped the copy: {}", spec.vm, clean_reason(reason))
            }
            _ => bail!("{} sent a frame that has no place in a copy", spec.vm),
        };
        h.rel = renamed(&h.rel, spec.rename.as_deref());
        if refused_name(&h, &mut from, &mut report).await? {
            continue;
        }
        match (&mut to, &spec.dest) {
            (None, FetchDest::Local(dir)) => to_local(dir, &h, &mut from, &mut report).await?,
            (Some(to), _) => {
                let filter = filter.as_ref().expect("set with the stream");
                match filter.by_name(&h.rel) {
                    Verdict::Send => relay(&h, &mut from, to, &mut report).await?,
                    Verdict::Blocked(why) => {
                        from.put(&Inbound::Skip).await?;
                        report.blocked.push((h.rel.clone(), why));
                    }
                    Verdict::Skipped(why) => {
                        from.put(&Inbound::Skip).await?;
                        report.skipped.push((h.rel.clone(), why));
                    }
                }
            }
            _ => unreachable!("a VM destination always has a stream"),
        }
    }
    let _ = from.send.finish();
    if let Some(to) = to {
        to.end().await?;
    }
    Ok(report)
}

/// A stream into `root` on `vm` (over `conn`, its connection).
async fn open_destination(
    conn: &quinn::Connection,
    vm: &str,
    root: &str,
    requested_by: &str,
) -> Result<(FileStream, String)> {
    let request = FilesRequest {
        root: root.to_string(),
        op: FilesOp::Receive,
        requested_by: requested_by.to_string(),
    };
    FileStream::open(conn, vm, request).await
}

/// A copy by manifest, its files shared across [`SHARDS`] streams (one
/// for a single file), each into the destination as its own stream, with
/// the names checked across all of them.
async fn by_manifest_shared(d: &Daemon, spec: &FetchSpec) -> Result<CopyReport> {
    let shards = if spec.recursive { SHARDS } else { 1 };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let from_conn = file_stream::connection(d, &spec.vm)?;
    let to_conn = match &spec.dest {
        FetchDest::Vm { vm, .. } => Some(file_stream::connection(d, vm)?),
        FetchDest::Local(_) => None,
    };
    // Every shard's streams open at once: one round trip, not one each.
    let mut streams: JoinSet<Result<CopyReport>> = JoinSet::new();
    for shard in 0..shards {
        let request = FilesRequest {
            root: spec.path.clone(),
            op: FilesOp::SendByManifest {
                recursive: spec.recursive,
                shard,
                shards,
            },
            requested_by: spec.requested_by.clone(),
        };
        let (from_conn, to_conn) = (from_conn.clone(), to_conn.clone());
        let (spec, seen) = (spec.clone(), seen.clone());
        streams.spawn(async move {
            let opened = FileStream::open(&from_conn, &spec.vm, request);
            match (&spec.dest, to_conn) {
                (FetchDest::Vm { vm, root, force }, Some(to_conn)) => {
                    let into = open_destination(&to_conn, vm, root, &spec.requested_by);
                    let ((from, _), (to, shown)) = tokio::try_join!(opened, into)?;
                    let filter = Filter {
                        force: *force,
                        ..Filter::default()
                    };
                    let mut report = CopyReport {
                        root: shown,
                        ..Default::default()
                    };
                    let names = (spec.vm.as_str(), vm.as_str());
                    let rename = spec.rename.as_deref();
                    manifest_relay::relay(from, to, names, rename, &filter, &seen, &mut report)
                        .await?;
                    Ok(report)
                }
                (FetchDest::Local(dir), _) => {
                    let (from, _) = opened.await?;
                    let parts = FetchParts::new(dir, spec.rename.clone(), seen);
                    let mut report = pull(from, parts, &spec.vm).await?;
                    report.root = dir.display().to_string();
                    Ok(report)
                }
                (FetchDest::Vm { .. }, None) => unreachable!("opened above"),
            }
        });
    }
    let mut report = CopyReport::default();
    while let Some(joined) = streams.join_next().await {
        report.absorb(joined??);
    }
    Ok(report)
}

/// One shard of a copy by manifest into a folder here.
async fn pull(mut from: FileStream, mut parts: FetchParts, vm: &str) -> Result<CopyReport> {
    let mut report = CopyReport::default();
    loop {
        match from.next().await? {
            Outbound::Offers(files) => {
                let wants = parts.answer(files, &mut report).await?;
                from.put(&Inbound::Wants(wants)).await?;
            }
            Outbound::Data(bytes) => parts.data(&bytes, &mut report).await?,
            Outbound::Passed { rel, reason } => report.skipped.push((rel, reason)),
            // More files than one copy's manifests may name: one by one.
            Outbound::Offer(mut h) => {
                h.rel = parts.rename(&h.rel);
                if !refused_name(&h, &mut from, &mut report).await? {
                    to_local(parts.dir(), &h, &mut from, &mut report).await?;
                }
            }
            Outbound::End => break,
            Outbound::Failed { reason } => {
                bail!("{vm} stopped the copy: {}", clean_reason(reason))
            }
            _ => bail!("{vm} sent a frame that has no place in a copy"),
        }
    }
    parts.end(&mut report).await?;
    let _ = from.send.finish();
    Ok(report)
}

/// Whether the name a VM offered a file by is refused (it leaves the
/// destination): then the file is skipped and said so.
async fn refused_name(
    h: &FileHeader,
    from: &mut FileStream,
    report: &mut CopyReport,
) -> Result<bool> {
    let Err(e) = check_relative(&h.rel) else {
        return Ok(false);
    };
    from.put(&Inbound::Skip).await?;
    report
        .failed
        .push((h.rel.clone(), format!("unsafe name from the VM: {e}")));
    Ok(true)
}

async fn to_local(
    dir: &std::path::Path,
    h: &FileHeader,
    from: &mut FileStream,
    report: &mut CopyReport,
) -> Result<()> {
    let prepared = {
        let (dir, h) = (dir.to_path_buf(), h.clone());
        tokio::task::spawn_blocking(move || local_write::prepare(&dir, &h)).await?
    };
    let mut writer = match prepared {
        Ok(Prepared::Have) => {
            from.put(&Inbound::Skip).await?;
            report.unchanged += 1;
            return Ok(());
        }
        Ok(Prepared::Write(w)) => w,
        Err(e) => {
            from.put(&Inbound::Skip).await?;
            report.failed.push((h.rel.clone(), format!("{e:#}")));
            return Ok(());
        }
    };
    let offset = writer.offset;
    from.put(&Inbound::Want { offset }).await?;
    let mut left = h.size - offset;
    let mut write_error = None;
    while left > 0 {
        let Outbound::Data(chunk) = from.next().await? else {
            bail!(
                "the VM stopped sending {} part way; run the copy again to resume",
                h.rel
            );
        };
        if chunk.len() as u64 > left {
            bail!("the VM sent more of {} than it announced", h.rel);
        }
        left -= chunk.len() as u64;
        if write_error.is_none()
            && let Err(e) = writer.write(&chunk)
        {
            write_error = Some(e);
        }
    }
    if let Some(e) = write_error {
        report
            .failed
            .push((h.rel.clone(), format!("cannot write: {e:#}")));
        return Ok(());
    }
    let h2 = h.clone();
    match tokio::task::spawn_blocking(move || writer.finish(&h2)).await? {
        Ok(()) => report.stored(h.size - offset, offset),
        Err(e) => report.failed.push((h.rel.clone(), format!("{e:#}"))),
    }
    Ok(())
}

async fn relay(
    h: &FileHeader,
    from: &mut FileStream,
    to: &mut FileStream,
    report: &mut CopyReport,
) -> Result<()> {
    to.put(&Inbound::File(h.clone())).await?;
    let offset = match to.next().await? {
        Outbound::Have => {
            from.put(&Inbound::Skip).await?;
            report.unchanged += 1;
            return Ok(());
        }
        Outbound::SendFrom { offset } if offset <= h.size => offset,
        Outbound::Refused { reason, blocked } => {
            from.put(&Inbound::Skip).await?;
            report.refused(h.rel.clone(), reason, blocked);
            return Ok(());
        }
        Outbound::Failed { reason } => bail!("the destination VM stopped the copy: {reason}"),
        other => bail!("the destination VM answered {other:?} to a file"),
    };
    from.put(&Inbound::Want { offset }).await?;
    let mut left = h.size - offset;
    while left > 0 {
        let Outbound::Data(chunk) = from.next().await? else {
            bail!(
                "the source VM stopped sending {} part way; run the copy again to resume",
                h.rel
            );
        };
        if chunk.len() as u64 > left {
            bail!("the source VM sent more of {} than it announced", h.rel);
        }
        left -= chunk.len() as u64;
        to.put(&Inbound::Data(chunk)).await?;
    }
    match to.next().await? {
        Outbound::Stored => report.stored(h.size - offset, offset),
        Outbound::Refused { reason, blocked } => report.refused(h.rel.clone(), reason, blocked),
        Outbound::Failed { reason } => bail!("the destination VM stopped the copy: {reason}"),
        other => bail!("the destination VM answered {other:?} after a file"),
    }
    Ok(())
}
