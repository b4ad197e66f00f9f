//! `azlin prune`: each VM of the fleet (where the request looks) judged by
//! `crate::prune` from its history in `state.db` (latest sample, latest
//! busy sample) and its state; and deleting confirmed ones through `kill`
//! (everything azlin made for it, its certificate revoked), each only if
//! it is still a candidate now. Every failure is reported; one does not
//! stop the rest.
//!
//! The history must cover the days asked about: more days than
//! `[metrics] retention_days` keeps is refused, since a VM stopped for
//! longer than that looks the same as one stopped for exactly that.

use anyhow::{Result, bail};

use super::{Ctx, Handle, HandleVm, resolve};
use crate::{
    cost::recommend::IDLE_CPU_BELOW,
    ipc::{
        lifecycle::Kill,
        prune::{PruneCandidate, PruneCandidates, PruneDelete, PruneFind, PruneOutcome},
    },
    provider::capability::NewStyle,
    prune::{self, Facts},
    state::{VmRow, now_unix},
};

async fn judge_all(cx: &Ctx, idle_days: u32) -> Result<PruneCandidates> {
    let d = &cx.d;
    if idle_days == 0 {
        bail!("--idle-days must be at least 1");
    }
    let kept = d.config().metrics.retention_days;
    if idle_days > kept {
        bail!(
            "the history covers {kept} days ([metrics] retention_days in config.toml): ask about \
             at most {kept} days, or raise retention_days and wait for the history to fill"
        );
    }
    let rows: Vec<VmRow> = d.db.lock().expect("db lock").vms()?;
    let now = now_unix();
    let mut out = PruneCandidates {
        candidates: Vec::new(),
        passed: Vec::new(),
    };
    for row in rows
        .iter()
        .filter(|r| resolve::in_target(d, &cx.azure.target, r))
    {
        let provider = d.providers.of(&row.provider)?;
        let (last_seen, last_busy) =
            d.db.lock()
                .expect("db lock")
                .activity(&row.name, IDLE_CPU_BELOW)?;
        let facts = Facts {
            name: row.name.clone(),
            state: d.state_of(row),
            created_at: row.created_at,
            last_seen,
            last_busy,
            made_by_azlin: provider.made_by_azlin(row),
            deletable: provider.capabilities().new == NewStyle::Provision,
        };
        match prune::judge(&facts, now, idle_days) {
            Ok(c) => out.candidates.push(PruneCandidate {
                vm: c.name,
                provider: row.provider.clone(),
                why: c.why,
                unused_since: c.unused_since,
            }),
            Err(why) => out.passed.push((row.name.clone(), why)),
        }
    }
    Ok(out)
}

impl Handle for PruneFind {
    async fn handle(self, cx: &Ctx) -> Result<PruneCandidates> {
        judge_all(cx, self.idle_days).await
    }
}

impl Handle for PruneDelete {
    async fn handle(self, cx: &Ctx) -> Result<Vec<PruneOutcome>> {
        if self.vms.is_empty() {
            bail!("name the VMs to delete (`azlin prune --dry-run` lists them)");
        }
        let now = judge_all(cx, self.idle_days).await?;
        let mut out = Vec::new();
        for vm in &self.vms {
            if !now.candidates.iter().any(|c| &c.vm == vm) {
                out.push(PruneOutcome {
                    vm: vm.clone(),
                    failure: Some("not a candidate now (used since, or gone): left alone".into()),
                });
                continue;
            }
            cx.progress(vm, "deleting");
            let result = match resolve::vm(cx, vm) {
                Ok(resolved) => Kill {
                    vm: vm.clone(),
                    unmanaged_ok: false,
                }
                .handle(cx, resolved)
                .await
                .map(|_| ()),
                Err(e) => Err(e),
            };
            out.push(PruneOutcome {
                vm: vm.clone(),
                failure: result.err().map(|e| format!("{e:#}")),
            });
        }
        Ok(out)
    }
}
