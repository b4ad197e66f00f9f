//! `azlin snapshot create|list|delete|restore` through the VM's
//! provider's `Snapshots` (refused in one place for a provider without
//! them). One snapshot or restore at a time per VM. While a provider
//! that asks for it copies a running VM, the VM's agent holds it still
//! (`Query::Quiesce`: every other process frozen, file systems flushed),
//! and thaws it after, whatever happened; an agent that cannot is a
//! refusal with nothing taken, not a snapshot of a VM in motion.
//!
//! The record is written after the provider made the snapshot and
//! removed after the provider deleted it.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use azlin_protocol::{
    exec::clean_reason,
    stream::{MAX_QUIESCE_MS, Query, QueryReply},
};

use super::{Ctx, Handle, HandleVm, resolve::Resolved};
use crate::{
    daemon::{Daemon, agents::query},
    ipc::{
        Done,
        snapshot::{SnapshotCreate, SnapshotDelete, SnapshotList, SnapshotRestore, SnapshotView},
    },
    provider::{Kind, snapshots::Snapshots},
    snapshot::{check_name, default_name},
    state::{VmRow, VmState, now_unix, snapshots::SnapshotRow},
};

/// Holds a VM's place in `Daemon::snapshotting` while it lives.
pub struct Busy<'a> {
    d: &'a Daemon,
    vm: String,
}

impl<'a> Busy<'a> {
    /// The VM's place, or a refusal when a snapshot or restore of it runs.
    pub fn claim(d: &'a Daemon, vm: &str) -> Result<Self> {
        if !d
            .snapshotting
            .lock()
            .expect("snapshotting lock")
            .insert(vm.to_string())
        {
            bail!("a snapshot of {vm} is being taken or restored now: wait for it to end");
        }
        Ok(Self {
            d,
            vm: vm.to_string(),
        })
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.d
            .snapshotting
            .lock()
            .expect("snapshotting lock")
            .remove(&self.vm);
    }
}

fn view(row: &SnapshotRow, snapshots: Option<&dyn Snapshots>) -> SnapshotView {
    SnapshotView {
        name: row.name.clone(),
        vm: row.vm.clone(),
        provider: row.provider.clone(),
        created_at: row.created_at,
        origin: row.origin.clone(),
        holds: snapshots.map_or_else(
            || format!("kept by provider {}", row.provider),
            |s| s.holds(row),
        ),
        held: row.held.clone(),
    }
}

/// The snapshot named `name`, or an error naming the ones there are.
fn find(d: &Daemon, name: &str) -> Result<SnapshotRow> {
    let db = d.db.lock().expect("db lock");
    if let Some(row) = db.snapshot(name)? {
        return Ok(row);
    }
    let names: Vec<String> = db.snapshots(None)?.into_iter().map(|r| r.name).collect();
    let close = crate::names::closest(name, &names);
    if close.is_empty() {
        bail!("no snapshot named {name:?}: `azlin snapshot list` shows them");
    }
    bail!(
        "no snapshot named {name:?}; did you mean {}?",
        close.join(", ")
    )
}

/// Run `work` while `row`'s agent holds the VM still (when `hold`):
/// what it gave, and how the VM was held. The VM is thawed after, however
/// `work` ended; an agent that cannot hold it is a refusal before `work`.
pub async fn held_still<T>(
    cx: &Ctx,
    row: &VmRow,
    hold: bool,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<(Result<T>, Option<String>)> {
    let d = &cx.d;
    if !hold {
        return Ok((work.await, None));
    }
    cx.progress(&row.name, "holding it still");
    let reply = query::ask(
        d,
        &row.name,
        Query::Quiesce {
            hold_ms: MAX_QUIESCE_MS,
        },
    )
    .await
    .with_context(|| format!("cannot ask {} to hold still; nothing taken", row.name))?;
    let held = match reply {
        QueryReply::Quiesced { processes, how } => {
            format!("{processes} processes frozen ({})", clean_reason(how))
        }
        QueryReply::Error { reason } => {
            bail!(
                "{} cannot hold still: {}; nothing taken",
                row.name,
                clean_reason(reason)
            )
        }
        _ => bail!(
            "{} answered another question than a hold; nothing taken",
            row.name
        ),
    };
    let done = work.await;
    match query::ask(d, &row.name, Query::Thaw).await {
        Ok(QueryReply::Thawed { .. }) => {}
        // The hold runs out by itself: the VM is not left frozen.
        answer => tracing::warn!(
            "{} did not confirm the thaw ({}); its hold ends by itself within {} s",
            row.name,
            match answer {
                Ok(_) => "it answered another question".to_string(),
                Err(e) => format!("{e:#}"),
            },
            MAX_QUIESCE_MS / 1000
        ),
    }
    Ok((done, Some(held)))
}

/// Take snapshot `name` of `row` (through its provider, held still by
/// its agent when the provider asks and the VM runs) and record it.
pub async fn take(cx: &Ctx, row: &VmRow, name: &str, origin: &str) -> Result<SnapshotRow> {
    let d = &cx.d;
    check_name(name)?;
    let kind = Kind::parse(&row.provider)?;
    let snapshots = d.providers.snapshots(kind)?;
    if let Some(other) = d.db.lock().expect("db lock").snapshot(name)? {
        bail!(
            "there is a snapshot named {name} already (of {}): pick another name",
            other.vm
        );
    }
    let _busy = Busy::claim(d, &row.name)?;
    let running = d.state_of(row) == VmState::Running;
    let (taken, held) = held_still(cx, row, snapshots.holds_still() && running, async {
        cx.progress(&row.name, format!("taking snapshot {name}"));
        snapshots.take(row, name, &cx.azure).await
    })
    .await?;
    let provider_data = taken.with_context(|| format!("snapshot {name} of {}", row.name))?;
    let snapshot = SnapshotRow {
        name: name.to_string(),
        vm: row.name.clone(),
        provider: row.provider.clone(),
        created_at: now_unix(),
        origin: origin.to_string(),
        provider_data,
        held: held.or_else(|| (!running).then(|| "taken while the VM was stopped".to_string())),
    };
    d.db.lock().expect("db lock").add_snapshot(&snapshot)?;
    Ok(snapshot)
}

impl HandleVm for SnapshotCreate {
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<SnapshotView> {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| default_name(vm.name(), now_unix()));
        let row = take(cx, &vm.row, &name, "manual").await?;
        Ok(view(&row, cx.d.providers.get(vm.kind).snapshots()))
    }
}

impl Handle for SnapshotList {
    async fn handle(self, cx: &Ctx) -> Result<Vec<SnapshotView>> {
        // A VM given by its session name is listed by its name; one that
        // is gone is still asked for by the name given.
        let vm = self.vm.as_deref().map(|v| {
            super::resolve::vm(cx, v).map_or_else(|_| v.to_string(), |r| r.name().to_string())
        });
        let rows = cx.d.db.lock().expect("db lock").snapshots(vm.as_deref())?;
        Ok(rows
            .iter()
            .map(|r| {
                let snapshots =
                    cx.d.providers
                        .of(&r.provider)
                        .ok()
                        .and_then(|p| p.snapshots());
                view(r, snapshots)
            })
            .collect())
    }
}

impl Handle for SnapshotDelete {
    async fn handle(self, cx: &Ctx) -> Result<Done> {
        let row = find(&cx.d, &self.name)?;
        let snapshots = cx.d.providers.snapshots(Kind::parse(&row.provider)?)?;
        let what = snapshots.holds(&row);
        if self.dry_run {
            return Ok(Done {
                message: format!("would delete snapshot {} of {}: {what}", row.name, row.vm),
            });
        }
        let _busy = Busy::claim(&cx.d, &row.vm)?;
        snapshots.delete(&row, &cx.azure).await?;
        cx.d.db
            .lock()
            .expect("db lock")
            .delete_snapshot(&row.name)?;
        Ok(Done {
            message: format!("deleted snapshot {} of {}: {what}", row.name, row.vm),
        })
    }
}

impl HandleVm for SnapshotRestore {
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let snapshots = cx.d.providers.snapshots(vm.kind)?;
        let snapshot = find(&cx.d, &self.name)?;
        if snapshot.vm != vm.name() {
            bail!(
                "snapshot {} is of {}, not {}: a VM is restored to its own snapshots (azlin clone \
                 makes a new VM from another's); nothing done",
                snapshot.name,
                snapshot.vm,
                vm.name()
            );
        }
        let plan = snapshots.restore_plan(&vm.row, &snapshot, self.delete_old);
        if self.dry_run {
            return Ok(Done {
                message: format!(
                    "restoring {} to snapshot {} would:\n  - {}",
                    vm.name(),
                    snapshot.name,
                    plan.join("\n  - ")
                ),
            });
        }
        let d = &cx.d;
        let _busy = Busy::claim(d, vm.name())?;
        let began = Instant::now();
        let name = vm.name().to_string();
        // Stopped on purpose while it is swapped: not lost.
        d.db.lock()
            .expect("db lock")
            .set_vm_state(&name, VmState::Stopped)?;
        d.fleet.untrack(&name, "being restored from a snapshot");
        d.fleet.track(&name);
        let stage = |message: String| cx.progress(&name, message);
        let started = snapshots
            .restore(&vm.row, &snapshot, self.delete_old, &cx.azure, &stage)
            .await
            .with_context(|| {
                format!(
                    "restoring {name} to {}: `azlin status {name}` shows where it is; `azlin \
                     start {name}` starts it as it is",
                    snapshot.name
                )
            })?;
        // Its link was ended above: made again as for a stopped VM.
        let stopped = VmRow {
            state: VmState::Stopped,
            ..vm.row.clone()
        };
        super::lifecycle::running_again(d, &stopped, &started)?;
        cx.progress(&name, "started; waiting for its agent to connect");
        let provider = cx.provider(&vm);
        super::new::wait_until_connected(
            cx,
            provider,
            1,
            std::slice::from_ref(&name),
            began,
            "connected again",
        )
        .await
        .with_context(|| format!("{name} is restored, but its agent is not back"))?;
        Ok(Done {
            message: format!(
                "{name} is back at snapshot {} and its agent connected again, with the same \
                 certificate, in {:.1} s",
                snapshot.name,
                began.elapsed().as_secs_f64()
            ),
        })
    }
}
