//! `azlin schedule`: set, list and clear a VM's power schedule. Setting
//! one checks everything first (the times, the days, the zone, that the
//! VM's provider powers it), and counts events of the last
//! [`GRACE`] as still due, none older. For an Azure VM with a daily stop in a
//! zone Windows names, Azure's own auto-shutdown is written too, so the
//! stop happens while this machine sleeps; otherwise the view says the
//! schedule depends on the daemon. Starts always do.
//!
//! Not here: running schedules (`daemon::jobs::schedule_runner`).

use anyhow::{Result, bail};

use super::{Ctx, Handle, HandleVm, resolve::Resolved};
use crate::{
    cost::schedule::{self, DAILY},
    ipc::{
        Done,
        schedule::{ScheduleClear, ScheduleList, ScheduleSet, ScheduleView},
    },
    provider::Operation,
    state::{now_unix, schedules::ScheduleRow},
};

/// How late a due event is still run; an older one was missed.
pub const GRACE: i64 = 15 * 60;

fn view(row: &ScheduleRow, notes: Vec<String>) -> ScheduleView {
    ScheduleView {
        vm: row.vm.clone(),
        stop: row.stop.clone(),
        start: row.start.clone(),
        days: schedule::days_text(row.days),
        start_days: row.start_days.map(schedule::days_text),
        tz: row.tz.clone(),
        auto_shutdown: row.auto_shutdown.clone(),
        notes,
    }
}

impl HandleVm for ScheduleSet {
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<ScheduleView> {
        let stop = schedule::parse_clock(&self.stop)?;
        let start = self
            .start
            .as_deref()
            .map(schedule::parse_clock)
            .transpose()?;
        let days = schedule::parse_days(&self.days)?;
        let start_days = self
            .start_days
            .as_deref()
            .map(schedule::parse_days)
            .transpose()?
            .filter(|d| *d != days);
        if start_days.is_some() && start.is_none() {
            bail!("--start-days says when to start: give --start HH:MM too (nothing set)");
        }
        schedule::zone(&self.tz)?;
        let provider = cx.provider(&vm);
        cx.d.providers.require(
            provider,
            &Operation::Stop {
                keep_allocated: false,
            },
        )?;
        let name = vm.name().to_string();
        let old = cx.d.db.lock().expect("db lock").schedule(&name)?;
        let mut notes = Vec::new();
        let windows = schedule::windows_zone(&self.tz);
        let mut auto_shutdown = None;
        match windows.filter(|_| days == DAILY) {
            Some(zone) => {
                auto_shutdown = provider
                    .put_auto_shutdown(&vm.row, stop, zone, &cx.azure)
                    .await?;
            }
            None => {
                if let Some(id) = old.as_ref().and_then(|o| o.auto_shutdown.as_ref()) {
                    provider.delete_auto_shutdown(id, &cx.azure).await?;
                }
                if provider.capabilities().azure_target {
                    notes.push(if days != DAILY {
                        "Azure's auto-shutdown is daily only, so this stop depends on the daemon \
                         running"
                            .to_string()
                    } else {
                        format!(
                            "{} has no Windows time-zone name for Azure's auto-shutdown, so this \
                             stop depends on the daemon running",
                            self.tz
                        )
                    });
                }
            }
        }
        if auto_shutdown.is_none() && !provider.capabilities().azure_target {
            notes.push("the daemon runs this schedule; it must be running at those times".into());
        }
        if start.is_some() {
            notes.push("starts need the daemon running at that time".into());
        }
        let since = now_unix() - GRACE;
        let row = ScheduleRow {
            vm: name,
            stop: stop.to_string(),
            start: start.map(|s| s.to_string()),
            days,
            start_days,
            tz: self.tz.trim().to_string(),
            done_stop: since,
            done_start: since,
            auto_shutdown,
        };
        cx.d.db.lock().expect("db lock").set_schedule(&row)?;
        Ok(view(&row, notes))
    }
}

impl Handle for ScheduleList {
    async fn handle(self, cx: &Ctx) -> Result<Vec<ScheduleView>> {
        let rows = cx.d.db.lock().expect("db lock").schedules()?;
        Ok(rows.iter().map(|r| view(r, Vec::new())).collect())
    }
}

impl HandleVm for ScheduleClear {
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let name = vm.name().to_string();
        let old = cx.d.db.lock().expect("db lock").schedule(&name)?;
        let Some(old) = old else {
            bail!("{name} has no schedule; nothing cleared");
        };
        if let Some(id) = &old.auto_shutdown {
            cx.provider(&vm).delete_auto_shutdown(id, &cx.azure).await?;
        }
        cx.d.db.lock().expect("db lock").clear_schedule(&name)?;
        Ok(Done {
            message: format!(
                "{name}'s schedule is cleared{}",
                if old.auto_shutdown.is_some() {
                    ", and its auto-shutdown in Azure"
                } else {
                    ""
                }
            ),
        })
    }
}
