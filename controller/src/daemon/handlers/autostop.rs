//! `azlin autostop` and `azlin keepalive`: which VMs are deallocated when
//! idle (`daemon::jobs::autostop_watch` does it), and postponing it.

use anyhow::{Result, bail};

use super::{Ctx, Handle, HandleVm, resolve::Resolved};
use crate::{
    alerts::rules_file::parse_duration,
    ipc::{
        Done,
        autostop::{AutostopList, AutostopSet, AutostopView, Keepalive},
    },
    provider::Operation,
    state::{autostop::AutostopRow, now_unix},
};

/// Shortest idle time taken.
const MIN_IDLE_SECS: i64 = 10;

fn secs(text: &str, what: &str) -> Result<i64> {
    match parse_duration(text) {
        Some(ms) if ms >= 1000 => Ok((ms / 1000) as i64),
        _ => bail!("{what} {text:?} is not a duration: write it like 30m, 2h or 1h30m"),
    }
}

impl HandleVm for AutostopSet {
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let name = vm.name().to_string();
        if self.off {
            let had = cx.d.db.lock().expect("db lock").clear_autostop(&name)?;
            return Ok(Done {
                message: if had {
                    format!("{name} is no longer stopped when idle")
                } else {
                    format!("{name} had no autostop; nothing changed")
                },
            });
        }
        let Some(idle) = self.idle.as_deref() else {
            bail!("give --idle DURATION (such as 2h), or --off");
        };
        let idle_secs = secs(idle, "--idle")?;
        if idle_secs < MIN_IDLE_SECS {
            bail!("--idle must be at least {MIN_IDLE_SECS} s");
        }
        if !(self.cpu_below.is_finite() && (0.0..=100.0).contains(&self.cpu_below)) {
            bail!("--cpu must be a percentage from 0 to 100");
        }
        cx.d.providers.require(
            cx.provider(&vm),
            &Operation::Stop {
                keep_allocated: false,
            },
        )?;
        cx.d.db
            .lock()
            .expect("db lock")
            .set_autostop(&AutostopRow {
                vm: name.clone(),
                idle_secs,
                cpu_below: self.cpu_below,
                keepalive_until: 0,
                // Idle time counts from now, not from before it was asked.
                last_busy: now_unix(),
                warned: false,
            })?;
        Ok(Done {
            message: format!(
                "{name} is deallocated after {idle} idle (no terminal attached, no command from \
                 azlin, CPU below {}%), with a warning first; `azlin keepalive {name} 4h` \
                 postpones it",
                self.cpu_below
            ),
        })
    }
}

impl HandleVm for Keepalive {
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let name = vm.name().to_string();
        let hold = secs(&self.for_, "keepalive")?;
        let db = cx.d.db.lock().expect("db lock");
        let Some(mut row) = db.autostop(&name)? else {
            bail!("{name} has no autostop; nothing to postpone");
        };
        row.keepalive_until = now_unix() + hold;
        row.warned = false;
        db.set_autostop(&row)?;
        Ok(Done {
            message: format!("{name} stays up for {} at least", self.for_),
        })
    }
}

impl Handle for AutostopList {
    async fn handle(self, cx: &Ctx) -> Result<Vec<AutostopView>> {
        let rows = cx.d.db.lock().expect("db lock").autostops()?;
        let now = now_unix();
        Ok(rows
            .into_iter()
            .map(|r| AutostopView {
                idle_for_secs: now - r.last_busy.max(r.keepalive_until).min(now),
                vm: r.vm,
                idle_secs: r.idle_secs,
                cpu_below: r.cpu_below,
                keepalive_until: r.keepalive_until,
            })
            .collect())
    }
}
