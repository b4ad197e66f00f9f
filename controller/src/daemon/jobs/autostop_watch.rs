//! Idle autostop, watched by the daemon: every few seconds each VM with
//! an autostop is judged from its agent's latest sample (a tmux session
//! attached, CPU at or above the threshold) and the commands azlin runs
//! on it now (`cost::idle` decides). A VM idle long enough is warned
//! about once (a `autostop` alert to every channel), then deallocated
//! as `azlin stop` does. A VM not running is left alone, and one with no
//! fresh sample is not judged idle (no evidence is not evidence of
//! idleness).

use std::{sync::Arc, time::Duration};

use azlin_protocol::alert::{Severity, Transition};

use crate::{
    alerts::rules_file::AUTOSTOP,
    azure::context::AzureContext,
    cost::idle::{self, Step},
    daemon::{
        Daemon,
        handlers::{Ctx, HandleVm, resolve},
        jobs::alerts,
    },
    ipc::lifecycle::Stop,
    state::{VmState, alerts::NewAlert, autostop::AutostopRow, now_unix},
    telemetry::live::now_ms,
};

const EVERY: Duration = Duration::from_secs(5);
/// A sample older than this is no evidence either way.
const FRESH: Duration = Duration::from_secs(30);

pub fn spawn(d: Arc<Daemon>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            let rows = match d.db.lock().expect("db lock").autostops() {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!("cannot read the autostops: {e:#}");
                    continue;
                }
            };
            for row in rows {
                if let Err(e) = watch(&d, row).await {
                    tracing::error!("autostop: {e:#}");
                }
            }
        }
    });
}

/// In use now, by the evidence at hand; `None`: no evidence.
fn busy(d: &Daemon, row: &AutostopRow) -> Option<bool> {
    if d.running_commands.on(&row.vm) > 0 {
        return Some(true);
    }
    let latest = d.live.latest(&row.vm)?;
    if latest.age() > FRESH {
        return None;
    }
    let s = &latest.sample;
    Some(s.tmux_sessions().iter().any(|t| t.attached) || f64::from(s.cpu_percent) >= row.cpu_below)
}

async fn watch(d: &Arc<Daemon>, mut row: AutostopRow) -> anyhow::Result<()> {
    let Some(vm_row) = d.db.lock().expect("db lock").vm(&row.vm)? else {
        d.db.lock().expect("db lock").clear_autostop(&row.vm)?;
        return Ok(());
    };
    let now = now_unix();
    let running = d.state_of(&vm_row) == VmState::Running;
    let busy_now = !running || busy(d, &row).unwrap_or(true);
    match idle::step(
        busy_now,
        now,
        row.last_busy,
        row.idle_secs,
        row.keepalive_until,
        row.warned,
    ) {
        Step::Busy => {
            row.last_busy = now;
            row.warned = false;
            d.db.lock().expect("db lock").set_autostop(&row)?;
        }
        Step::Wait => {}
        Step::Warn => {
            let left = row.idle_secs - idle::warn_after(row.idle_secs);
            notice(
                d,
                &row,
                Severity::Warning,
                &format!(
                    "{} has been idle and is deallocated in {} s unless it is used; \
                     `azlin keepalive {} 4h` postpones it",
                    row.vm, left, row.vm
                ),
            );
            row.warned = true;
            d.db.lock().expect("db lock").set_autostop(&row)?;
        }
        Step::Stop => {
            notice(
                d,
                &row,
                Severity::Info,
                &format!(
                    "{} was idle for {} s: deallocating it",
                    row.vm, row.idle_secs
                ),
            );
            let cx = Ctx::background(d.clone(), AzureContext::from_env());
            let resolved = resolve::vm(&cx, &row.vm)?;
            Stop {
                vm: row.vm.clone(),
                keep_allocated: false,
            }
            .handle(&cx, resolved)
            .await?;
            // The next stretch starts when it runs again.
            row.last_busy = now;
            row.warned = false;
            d.db.lock().expect("db lock").set_autostop(&row)?;
        }
    }
    Ok(())
}

fn notice(d: &Daemon, row: &AutostopRow, severity: Severity, message: &str) {
    let now = now_ms();
    let new = NewAlert {
        vm: &row.vm,
        epoch: row.last_busy.max(row.keepalive_until) as u64,
        seq: Some(if severity == Severity::Warning { 0 } else { 1 }),
        rule: AUTOSTOP,
        subject: "idle",
        transition: Transition::Notice,
        severity,
        value: 0.0,
        threshold: row.idle_secs as f64,
        message,
        at_ms: now,
        received_ms: now,
    };
    if let Err(e) = alerts::record(d, &new) {
        tracing::error!("cannot record the autostop notice: {e:#}");
    }
}
