//! `azlin cp` to a VM, `sync` and `sync --watch`: one copy's streams,
//! report and progress. The files go by manifest
//! ([`crate::daemon::agents::manifest_stream`]), on several streams at
//! once, so large files go in parallel and one stream's round trip is
//! covered by another's data.

use std::sync::{Arc, Mutex, atomic::Ordering};

use anyhow::Result;
use azlin_protocol::files::wire::{FilesOp, FilesRequest};

use super::{Ctx, Handle, HandleVm, resolve::Resolved};
use crate::{
    daemon::{
        Daemon,
        agents::{
            file_stream,
            manifest_stream::{self, Shared},
        },
    },
    files::plan::Plan,
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

/// Streams used at once for one copy.
const STREAMS: usize = 4;

/// How often progress goes to the CLI.
const TICK: std::time::Duration = std::time::Duration::from_millis(200);

pub async fn push(
    d: &Daemon,
    spec: PushSpec,
    progress: Option<tokio::sync::mpsc::UnboundedSender<crate::ipc::Reply>>,
) -> Result<CopyReport> {
    let conn = file_stream::connection_by_manifest(d, &spec.vm)?;
    let shared = Arc::new(Shared {
        report: Mutex::new(CopyReport {
            blocked: spec.plan.blocked.clone(),
            skipped: spec.plan.skipped.clone(),
            ..CopyReport::default()
        }),
        ..Shared::default()
    });
    let files = spec.plan.files.clone();
    let sized: Vec<manifest_stream::Sized> = tokio::task::spawn_blocking(move || {
        files
            .into_iter()
            .map(|f| {
                let size = std::fs::metadata(&f.local).map(|m| m.len()).unwrap_or(0);
                (f, size)
            })
            .collect()
    })
    .await?;
    let total: u64 = sized.iter().map(|(_, size)| size).sum();
    // In a JoinSet so the ticker stops on every way out of here, early
    // returns and errors included; otherwise it would hold the CLI's
    // reply channel open for ever.
    let mut ticker = tokio::task::JoinSet::new();
    if let Some(tx) = progress {
        let (shared, vm) = (shared.clone(), spec.vm.clone());
        ticker.spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            loop {
                tick.tick().await;
                let reply = crate::ipc::Reply::CopyProgress {
                    vm: vm.clone(),
                    done: shared.done.load(Ordering::Relaxed),
                    total,
                };
                if tx.send(reply).is_err() {
                    return;
                }
            }
        });
    }
    let request = FilesRequest {
        root: spec.plan.root.clone(),
        op: FilesOp::Receive,
        requested_by: spec.requested_by.clone(),
    };
    let mut first_error = None;
    if !spec.deletes.is_empty()
        && let Err(e) =
            manifest_stream::remove(&conn, &spec.vm, request.clone(), &spec.deletes, &shared).await
    {
        first_error = Some(e);
    }
    let parts = Arc::new(Mutex::new(manifest_stream::cut(sized)));
    let streams = STREAMS.min(parts.lock().expect("parts lock").len());
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..streams {
        let (conn, vm, request, parts, shared) = (
            conn.clone(),
            spec.vm.clone(),
            request.clone(),
            parts.clone(),
            shared.clone(),
        );
        workers.spawn(async move {
            manifest_stream::send_parts(&conn, &vm, &request, &parts, &shared).await
        });
    }
    while let Some(done) = workers.join_next().await {
        let result = done.map_err(anyhow::Error::from).and_then(|r| r);
        if let Err(e) = result
            && first_error.is_none()
        {
            first_error = Some(e);
            // The other streams stop at their next part.
            parts.lock().expect("parts lock").clear();
        }
    }
    ticker.abort_all();
    let report = shared.report.lock().expect("report lock").clone();
    match first_error {
        Some(e) => Err(e.context(format!(
            "copy to {} stopped after {} file(s); run it again to resume",
            spec.vm, report.sent
        ))),
        None => Ok(report),
    }
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
