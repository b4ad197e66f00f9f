//! Copies from a VM (`azlin cp VM:path …`): to a folder on this machine,
//! or straight on to another VM, the daemon relaying each file's bytes
//! from one agent's stream to the other's as they arrive. The receiving
//! side decides what it already has (skip) or holds in part (resume from
//! an offset), and the sending agent sends only that.
//!
//! Names come from the sending agent, so they are checked here before
//! anything is written: a hostile VM cannot make this machine write
//! outside the destination folder.

use anyhow::{Result, bail};
use azlin_protocol::files::{
    filter::{Filter, Verdict},
    path::check_relative,
    wire::{FileHeader, FilesOp, FilesRequest, Inbound, Outbound},
};

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

pub async fn fetch(d: &Daemon, spec: FetchSpec) -> Result<CopyReport> {
    let recursive = spec.recursive;
    // By manifest when the VM's agent gives files so (and, for a copy to
    // another VM, that one takes them so).
    let by_manifest = file_stream::gives_by_manifest(d, &spec.vm)
        && match &spec.dest {
            FetchDest::Local(_) => true,
            FetchDest::Vm { vm, .. } => file_stream::takes_by_manifest(d, vm),
        };
    let mut parts = match &spec.dest {
        FetchDest::Local(dir) if by_manifest => Some(FetchParts::new(dir, spec.rename.clone())),
        _ => None,
    };
    let op = if by_manifest {
        FilesOp::SendByManifest { recursive }
    } else {
        FilesOp::Send { recursive }
    };
    let request = FilesRequest {
        root: spec.path.clone(),
        op,
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
            let request = FilesRequest {
                root: root.clone(),
                op: FilesOp::Receive,
                requested_by: spec.requested_by.clone(),
            };
            let (s, shown) =
                FileStream::open(&file_stream::connection(d, vm)?, vm, request).await?;
            report.root = shown;
            let filter = Filter {
                force: *force,
                ..Filter::default()
            };
            if by_manifest {
                let names = (spec.vm.as_str(), vm.as_str());
                let rename = spec.rename.as_deref();
                manifest_relay::relay(from, s, names, rename, &filter, &mut report).await?;
                return Ok(report);
            }
            (Some(s), Some(filter))
        }
    };
    loop {
        let mut h = match from.next().await? {
            Outbound::Offer(h) => h,
            Outbound::Offers(files) => {
                let Some(parts) = parts.as_mut() else {
                    bail!("{} offered a part of files unasked", spec.vm);
                };
                let wants = parts.answer(files, &mut report).await?;
                from.put(&Inbound::Wants(wants)).await?;
                continue;
            }
            Outbound::Data(bytes) => {
                let Some(parts) = parts.as_mut() else {
                    bail!("{} sent data no file was owed", spec.vm);
                };
                parts.data(&bytes, &mut report).await?;
                continue;
            }
            Outbound::Passed { rel, reason } => {
                report.skipped.push((rel, reason));
                continue;
            }
            Outbound::End => break,
            Outbound::Failed { reason } => bail!("{} stopped the copy: {reason}", spec.vm),
            other => bail!("{} sent {other:?} instead of a file", spec.vm),
        };
        h.rel = renamed(&h.rel, spec.rename.as_deref());
        if let Err(e) = check_relative(&h.rel) {
            from.put(&Inbound::Skip).await?;
            report
                .failed
                .push((h.rel.clone(), format!("unsafe name from the VM: {e}")));
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
    if let Some(parts) = parts {
        parts.end(&mut report).await?;
    }
    let _ = from.send.finish();
    if let Some(to) = to {
        to.end().await?;
    }
    Ok(report)
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
        Ok(()) => {
            report.sent += 1;
            report.bytes += h.size - offset;
            report.resumed += u64::from(offset > 0);
        }
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
            let list = if blocked {
                &mut report.blocked
            } else {
                &mut report.failed
            };
            list.push((h.rel.clone(), reason));
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
        Outbound::Stored => {
            report.sent += 1;
            report.bytes += h.size - offset;
            report.resumed += u64::from(offset > 0);
        }
        Outbound::Refused { reason, blocked } => {
            let list = if blocked {
                &mut report.blocked
            } else {
                &mut report.failed
            };
            list.push((h.rel.clone(), reason));
        }
        Outbound::Failed { reason } => bail!("the destination VM stopped the copy: {reason}"),
        other => bail!("the destination VM answered {other:?} after a file"),
    }
    Ok(())
}
