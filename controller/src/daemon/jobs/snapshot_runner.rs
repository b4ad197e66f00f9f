//! The VMs' snapshot schedules, run by the daemon with no command from
//! the user: every few seconds each schedule whose next snapshot is due
//! (`every` after its last run, so one missed while the daemon was down
//! is due at once when it starts) gets one, named `VM-YYYYMMDD-HHMMSS`,
//! taken as `snapshot create` takes it; then the schedule's snapshots
//! beyond its `keep` are deleted, oldest first (snapshots taken by hand
//! are never touched). At most one snapshot is in flight per VM (the
//! handlers' `Busy`): a VM still busy is tried at the next look.
//!
//! Every run is an alert event (rule `snapshot`, to the log and `azlin
//! alerts`), every failure too (rule `snapshot-failed`, to every channel).
//! A failed run counts as a run: it is tried again `every` later, not in
//! a loop.

use std::{sync::Arc, time::Duration};

use anyhow::Result;
use azlin_protocol::alert::{Severity, Transition};

use crate::{
    alerts::rules_file::{SNAPSHOT, SNAPSHOT_FAILED},
    azure::context::AzureContext,
    daemon::{
        Daemon,
        handlers::{Ctx, resolve, snapshot},
        jobs::alerts,
    },
    provider::Kind,
    snapshot::default_name,
    state::{alerts::NewAlert, now_unix, snapshots::SnapshotScheduleRow},
    telemetry::live::now_ms,
};

/// How often the schedules are looked at.
const EVERY: Duration = Duration::from_secs(5);
/// The alert `seq` of a run's event, apart from other daemon events of
/// the same VM and second.
const SEQ: u64 = 1 << 20;

/// The origin recorded for the snapshots a schedule takes.
pub const ORIGIN: &str = "schedule";

pub fn spawn(d: Arc<Daemon>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            let rows = match d.db.lock().expect("db lock").snapshot_schedules() {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!("cannot read the snapshot schedules: {e:#}");
                    continue;
                }
            };
            for row in rows {
                if row.due() > now_unix() || d.snapshotting.lock().expect("lock").contains(&row.vm)
                {
                    continue;
                }
                // Each VM's run on its own: a slow one holds up no other.
                let d = d.clone();
                tokio::spawn(async move { run(&d, &row).await });
            }
        }
    });
}

async fn run(d: &Arc<Daemon>, row: &SnapshotScheduleRow) {
    let at = now_unix();
    // Marked first: a run that fails (or a daemon that dies in it) is not
    // retried in a loop.
    if let Err(e) =
        d.db.lock()
            .expect("db lock")
            .snapshot_schedule_ran(&row.vm, at)
    {
        tracing::error!("cannot record the snapshot run of {}: {e:#}", row.vm);
        return;
    }
    let (rule, severity, message) = match take_and_prune(d, row, at).await {
        Ok(message) => (SNAPSHOT, Severity::Info, message),
        Err(e) => (
            SNAPSHOT_FAILED,
            Severity::Warning,
            format!("the scheduled snapshot of {} failed: {e:#}", row.vm),
        ),
    };
    tracing::info!(vm = %row.vm, "{message}");
    let new = NewAlert {
        vm: &row.vm,
        epoch: at as u64,
        seq: Some(SEQ),
        rule,
        subject: "schedule",
        transition: Transition::Notice,
        severity,
        value: 0.0,
        threshold: f64::from(row.keep),
        message: &message,
        at_ms: now_ms(),
        received_ms: now_ms(),
    };
    if let Err(e) = alerts::record(d, &new) {
        tracing::error!("cannot record the snapshot run of {}: {e:#}", row.vm);
    }
}

async fn take_and_prune(d: &Arc<Daemon>, row: &SnapshotScheduleRow, at: i64) -> Result<String> {
    let cx = Ctx::background(d.clone(), AzureContext::from_env());
    let vm = resolve::vm(&cx, &row.vm)?;
    let name = default_name(vm.name(), at);
    snapshot::take(&cx, &vm.row, &name, ORIGIN).await?;
    let theirs: Vec<_> =
        d.db.lock()
            .expect("db lock")
            .snapshots(Some(vm.name()))?
            .into_iter()
            .filter(|s| s.origin == ORIGIN)
            .collect();
    let extra = theirs.len().saturating_sub(row.keep as usize);
    let mut pruned = Vec::new();
    for old in &theirs[..extra] {
        let snapshots = d.providers.snapshots(Kind::parse(&old.provider)?)?;
        snapshots.delete(old, &cx.azure).await?;
        d.db.lock().expect("db lock").delete_snapshot(&old.name)?;
        pruned.push(old.name.clone());
    }
    Ok(if pruned.is_empty() {
        format!("snapshot {name} of {} taken as scheduled", vm.name())
    } else {
        format!(
            "snapshot {name} of {} taken as scheduled; {} deleted (keeping {})",
            vm.name(),
            pruned.join(", "),
            row.keep
        )
    })
}
