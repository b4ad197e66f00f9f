//! `azlin snapshot schedule VM --every D --keep N`, `snapshot schedule
//! list` and `snapshot schedule clear VM`: what the daemon's
//! `jobs::snapshot_runner` acts on. Checked here (the VM's provider has
//! snapshots, the interval is at least 10 s, keep is 1 to 100) before
//! anything is stored.

use anyhow::{Result, anyhow, bail};

use super::{Ctx, Handle, HandleVm, resolve::Resolved};
use crate::{
    alerts::rules_file::parse_duration,
    ipc::{
        Done,
        snapshot::{
            SnapshotScheduleClear, SnapshotScheduleList, SnapshotScheduleSet, SnapshotScheduleView,
        },
    },
    state::now_unix,
};

/// Shortest interval between scheduled snapshots.
pub const MIN_EVERY_SECS: i64 = 10;
/// Most snapshots a schedule keeps.
pub const MAX_KEEP: u32 = 100;

impl HandleVm for SnapshotScheduleSet {
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let snapshots = cx.d.providers.snapshots(vm.kind)?;
        let every = parse_duration(&self.every)
            .map(|ms| (ms / 1000) as i64)
            .ok_or_else(|| anyhow!("{:?} is not an interval such as 1d, 6h or 30m", self.every))?;
        let least = snapshots.min_interval_secs().max(MIN_EVERY_SECS);
        if every < least {
            bail!(
                "--every must be at least {least}s for {} VMs, not {:?}",
                vm.kind,
                self.every
            );
        }
        if self.keep == 0 || self.keep > MAX_KEEP {
            bail!("--keep must be 1 to {MAX_KEEP}, not {}", self.keep);
        }
        cx.d.db
            .lock()
            .expect("db lock")
            .set_snapshot_schedule(vm.name(), every, self.keep)?;
        Ok(Done {
            message: format!(
                "{} gets a snapshot every {} (the daemon takes them; one missed while it is not \
                 running is taken when it starts), keeping the newest {} it took",
                vm.name(),
                self.every,
                self.keep
            ),
        })
    }
}

impl Handle for SnapshotScheduleList {
    async fn handle(self, cx: &Ctx) -> Result<Vec<SnapshotScheduleView>> {
        let rows = cx.d.db.lock().expect("db lock").snapshot_schedules()?;
        let now = now_unix();
        Ok(rows
            .into_iter()
            .map(|r| SnapshotScheduleView {
                next_due: r.due().max(now),
                last_run: (r.last_run > 0).then_some(r.last_run),
                vm: r.vm,
                every_secs: r.every_secs,
                keep: r.keep,
            })
            .collect())
    }
}

impl Handle for SnapshotScheduleClear {
    async fn handle(self, cx: &Ctx) -> Result<Done> {
        // A VM already gone can still have its schedule cleared by name.
        let vm = super::resolve::vm(cx, &self.vm)
            .map_or_else(|_| self.vm.clone(), |r| r.name().to_string());
        if !cx
            .d
            .db
            .lock()
            .expect("db lock")
            .clear_snapshot_schedule(&vm)?
        {
            bail!("{vm} has no snapshot schedule: `azlin snapshot schedule list` shows them");
        }
        Ok(Done {
            message: format!(
                "{vm}'s snapshot schedule is cleared (the snapshots it took are kept)"
            ),
        })
    }
}
