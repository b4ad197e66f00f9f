//! The VMs' power schedules, run by the daemon: every few seconds, each
//! schedule's latest stop (and start) event is worked out in its zone
//! (`cost::schedule::latest`). One not handled yet is run when it fell due
//! at most `GRACE` ago; an older one (the daemon was not running then) is
//! not run hours late: it is marked handled and reported as an alert
//! event (rule `schedule`). A stop of a VM already stopped, or a start of
//! one running, changes nothing.

use std::{sync::Arc, time::Duration};

use azlin_protocol::alert::{Severity, Transition};

use crate::{
    alerts::rules_file::SCHEDULE,
    azure::context::AzureContext,
    cost::schedule,
    daemon::{
        Daemon,
        handlers::{Ctx, HandleVm, resolve, schedule::GRACE},
        jobs::alerts,
    },
    ipc::lifecycle::{Start, Stop},
    state::{VmState, alerts::NewAlert, now_unix, schedules::ScheduleRow},
    telemetry::live::now_ms,
};

/// How often the schedules are looked at.
const EVERY: Duration = Duration::from_secs(5);

pub fn spawn(d: Arc<Daemon>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            let rows = match d.db.lock().expect("db lock").schedules() {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!("cannot read the schedules: {e:#}");
                    continue;
                }
            };
            for row in rows {
                run_due(&d, &row).await;
            }
        }
    });
}

async fn run_due(d: &Arc<Daemon>, row: &ScheduleRow) {
    let Ok(tz) = schedule::zone(&row.tz) else {
        tracing::warn!(vm = %row.vm, "schedule with an unknown zone {:?}", row.tz);
        return;
    };
    let now = now_unix();
    let events = [
        (false, Some(row.stop.as_str()), row.days, row.done_stop),
        (
            true,
            row.start.as_deref(),
            row.start_days.unwrap_or(row.days),
            row.done_start,
        ),
    ];
    for (start, clock, days, done) in events {
        let Some(clock) = clock.and_then(|c| schedule::parse_clock(c).ok()) else {
            continue;
        };
        let Some(at) = schedule::latest(clock, days, &tz, now) else {
            continue;
        };
        if at <= done {
            continue;
        }
        let what = if start { "start" } else { "stop" };
        if now - at > GRACE {
            let message = format!(
                "the {clock} {what} ({}) fell due while the daemon was not running; not run late",
                row.tz
            );
            tracing::warn!(vm = %row.vm, "{message}");
            let new = NewAlert {
                vm: &row.vm,
                epoch: at as u64,
                seq: Some(u64::from(start)),
                rule: SCHEDULE,
                subject: what,
                transition: Transition::Notice,
                severity: Severity::Warning,
                value: 0.0,
                threshold: 0.0,
                message: &message,
                at_ms: now_ms(),
                received_ms: now_ms(),
            };
            if let Err(e) = alerts::record(d, &new) {
                tracing::error!("cannot record the missed {what}: {e:#}");
            }
        } else if let Err(e) = act(d, &row.vm, start).await {
            tracing::error!(vm = %row.vm, "scheduled {what} failed: {e:#}");
        } else {
            tracing::info!(vm = %row.vm, "scheduled {what} at {clock} ({}) done", row.tz);
        }
        if let Err(e) =
            d.db.lock()
                .expect("db lock")
                .schedule_done(&row.vm, start, at)
        {
            tracing::error!("cannot record the scheduled {what} of {}: {e:#}", row.vm);
        }
    }
}

async fn act(d: &Arc<Daemon>, vm: &str, start: bool) -> anyhow::Result<()> {
    let cx = Ctx::background(d.clone(), AzureContext::from_env());
    let resolved = resolve::vm(&cx, vm)?;
    let running = d.state_of(&resolved.row) == VmState::Running;
    if start && !running {
        Start {
            vm: vm.to_string(),
            wait: false,
        }
        .handle(&cx, resolved)
        .await?;
    } else if !start && running {
        Stop {
            vm: vm.to_string(),
            keep_allocated: false,
        }
        .handle(&cx, resolved)
        .await?;
    }
    Ok(())
}
