//! The daemon's own rule: an agent that should be up (its VM is recorded
//! running and enrolled) has shown no sign of life (no connection, no
//! sample) for `after`. Fires once, resolves when the agent is back, when
//! the VM is stopped on purpose, or when the rule is turned off.
//!
//! Judged here, not on the agent, for the obvious reason.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use azlin_protocol::alert::{Severity, Transition, eval::duration};

use crate::daemon::Daemon;
use crate::{
    alerts::rules_file::AGENT_LOST,
    state::{VmState, alerts::NewAlert, now_unix},
    telemetry::live::now_ms,
};

/// How often every VM is looked at.
const EVERY: Duration = Duration::from_millis(250);

pub async fn watch(d: Arc<Daemon>) {
    let started = Instant::now();
    // Alerts firing before a restart are still ours to resolve.
    let mut lost: HashSet<String> = match d.db.lock().expect("db lock").active_alerts() {
        Ok(list) => list
            .into_iter()
            .filter(|r| r.rule == AGENT_LOST)
            .map(|r| r.vm)
            .collect(),
        Err(_) => HashSet::new(),
    };
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        let rule = d.alerts.book.borrow().agent_lost.clone();
        let rows = match d.db.lock().expect("db lock").vms() {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!("agent-lost check cannot list VMs: {e:#}");
                continue;
            }
        };
        lost.retain(|vm| rows.iter().any(|r| &r.name == vm));
        for row in rows {
            let expected = row.state == VmState::Running && row.cert_serial.is_some();
            let silent = silence(&d, &row.name, started);
            let after = rule.as_ref().map(|r| Duration::from_millis(r.after_ms));
            let is_lost = expected && after.is_some_and(|a| silent >= a);
            let was_lost = lost.contains(&row.name);
            if is_lost == was_lost {
                continue;
            }
            let severity = rule.as_ref().map_or(Severity::Critical, |r| r.severity);
            let (transition, message) = if is_lost {
                let why = d
                    .fleet
                    .status(&row.name)
                    .last_error
                    .map(|e| format!(" (last: {e})"))
                    .unwrap_or_default();
                (
                    Transition::Firing,
                    format!(
                        "no sign of life from the agent for {}{why}",
                        duration(silent.as_millis() as u64 / 1000 * 1000)
                    ),
                )
            } else if !expected {
                (
                    Transition::Resolved,
                    "the VM is no longer expected to run".to_string(),
                )
            } else if rule.is_none() {
                (
                    Transition::Resolved,
                    "the agent-lost rule was turned off".to_string(),
                )
            } else {
                (Transition::Resolved, "the agent is back".to_string())
            };
            let stored = super::record(
                &d,
                &NewAlert {
                    vm: &row.name,
                    epoch: 0,
                    seq: None,
                    rule: AGENT_LOST,
                    subject: "",
                    transition,
                    severity,
                    value: silent.as_secs_f64(),
                    threshold: after.map_or(0.0, |a| a.as_secs_f64()),
                    message: &message,
                    at_ms: now_ms(),
                    received_ms: now_ms(),
                },
            );
            match stored {
                Ok(_) if is_lost => {
                    lost.insert(row.name.clone());
                }
                Ok(_) => {
                    lost.remove(&row.name);
                }
                Err(e) => tracing::warn!(vm = %row.name, "cannot store an agent-lost event: {e:#}"),
            }
        }
    }
}

/// How long since the last sign of life: the newest sample, the current
/// connection's start, or the daemon's start, whichever is latest.
fn silence(d: &Daemon, vm: &str, started: Instant) -> Duration {
    let mut silent = started.elapsed();
    if let Some(latest) = d.live.latest(vm) {
        silent = silent.min(latest.age());
    }
    let status = d.fleet.status(vm);
    if status.connected
        && let Some(since) = status.connected_since
    {
        let secs = (now_unix() - since).max(0) as u64;
        silent = silent.min(Duration::from_secs(secs));
    }
    silent
}
