//! `start`, `stop`, `restart`, `resize`, `kill` / `destroy` and `killall`:
//! a VM's life through its provider. Each asks
//! [`crate::provider::Providers::require`] before anything changes, so an
//! operation or flag the VM's provider lacks is refused with nothing done.
//! Each also acts on a cloud VM azlin did not make, named by its name: on
//! the VM only, since it has no agent and no record to keep.

use std::{sync::Arc, time::Instant};

use anyhow::{Context, Result, bail};

use super::{Ctx, Handle, HandleVm, resolve::Resolved};
use crate::{
    daemon::{Daemon, agents::link},
    ipc::{
        Done,
        lifecycle::{DestroyPlan, Kill, KillAll, Resize, Restart, Start, Stop},
    },
    provider::{Operation, Started},
    state::{ConnectMode, VmRow, VmState},
};

/// What a done operation on a VM azlin did not make says.
fn unmanaged_done(vm: &Resolved, what: &str) -> Done {
    Done {
        message: format!(
            "{} {what} (a VM azlin did not make: it has no agent)",
            vm.name()
        ),
    }
}

impl HandleVm for Start {
    const UNMANAGED: bool = true;

    /// Start the VM, then (unless told not to) wait as `new` does until
    /// its agent has connected again.
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let provider = cx.provider(&vm);
        cx.d.providers.require(provider, &Operation::Start)?;
        let began = Instant::now();
        let started = provider.start(&vm.row, &cx.azure).await?;
        if vm.unmanaged {
            return Ok(unmanaged_done(&vm, "started"));
        }
        running_again(&cx.d, &vm.row, &started)?;
        if !self.wait {
            return Ok(Done {
                message: format!("{} started (not waiting for its agent)", self.vm),
            });
        }
        cx.progress(vm.name(), "started; waiting for its agent to connect");
        let name = [vm.name().to_string()];
        super::new::wait_until_connected(cx, provider, 1, &name, began, "connected again")
            .await
            .with_context(|| format!("{} started, but its agent is not back", self.vm))?;
        Ok(Done {
            message: format!(
                "{} started; its agent connected in {:.1} s",
                self.vm,
                began.elapsed().as_secs_f64()
            ),
        })
    }
}

impl HandleVm for Stop {
    const UNMANAGED: bool = true;

    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let provider = cx.provider(&vm);
        let op = Operation::Stop {
            keep_allocated: self.keep_allocated,
        };
        cx.d.providers.require(provider, &op)?;
        if vm.unmanaged {
            provider
                .stop(&vm.row, self.keep_allocated, &cx.azure)
                .await?;
            return Ok(unmanaged_done(&vm, "stopped"));
        }
        let name = vm.name();
        cx.d.db
            .lock()
            .expect("db lock")
            .set_vm_state(name, VmState::Stopped)?;
        // Keep the VM tracked (it is still in the fleet) but stop dialling it.
        cx.d.fleet.untrack(name, "VM stopped");
        cx.d.fleet.track(name);
        provider
            .stop(&vm.row, self.keep_allocated, &cx.azure)
            .await?;
        Ok(Done {
            message: format!("{} stopped", self.vm),
        })
    }
}

impl HandleVm for Restart {
    const UNMANAGED: bool = true;

    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let provider = cx.provider(&vm);
        cx.d.providers.require(provider, &Operation::Restart)?;
        let started = provider.restart(&vm.row, &cx.azure).await?;
        if vm.unmanaged {
            return Ok(unmanaged_done(&vm, "restarted"));
        }
        running_again(&cx.d, &vm.row, &started)?;
        Ok(Done {
            message: format!("{} restarted", self.vm),
        })
    }
}

impl HandleVm for Resize {
    const UNMANAGED: bool = true;

    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let provider = cx.provider(&vm);
        cx.d.providers.require(provider, &Operation::Resize)?;
        let size = self.size.as_str();
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            bail!("{size:?} is not a VM size such as Standard_D4s_v5");
        }
        let data = provider.resize(&vm.row, size, &cx.azure).await?;
        if vm.unmanaged {
            return Ok(unmanaged_done(&vm, &format!("is now {size}")));
        }
        cx.d.db
            .lock()
            .expect("db lock")
            .set_vm_provider_data(vm.name(), &data)?;
        Ok(Done {
            message: format!("{} is now {size}", self.vm),
        })
    }
}

impl HandleVm for Kill {
    const UNMANAGED: bool = true;

    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        if vm.unmanaged {
            if !self.unmanaged_ok {
                bail!(
                    "{} is a VM azlin did not make; nothing deleted. `azlin destroy {} --dry-run` \
                     shows what would go (the VM and what it owns), `--yes` deletes it",
                    vm.name(),
                    vm.name()
                );
            }
            cx.provider(&vm)
                .delete(&vm.row, &cx.azure)
                .await
                .with_context(|| format!("cannot delete {}", vm.name()))?;
            return Ok(unmanaged_done(&vm, "deleted with what it owned"));
        }
        kill(cx, &vm).await
    }
}

impl HandleVm for DestroyPlan {
    const UNMANAGED: bool = true;

    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let items = cx.provider(&vm).deletions(&vm.row)?;
        let last = if vm.unmanaged {
            "(a VM azlin did not make: its data disks and anything it shares stay)"
        } else {
            "and revoke its certificate"
        };
        Ok(Done {
            message: format!(
                "azlin destroy {} would delete ({}):\n{}\n{last}",
                vm.name(),
                super::resolve::place_words(cx, &vm.row),
                items
                    .iter()
                    .map(|i| format!("  {i}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        })
    }
}

impl Handle for KillAll {
    /// Delete the VMs in the request's target, all at once (the ARM client
    /// paces the writes); every VM is tried, and the failures are reported
    /// together.
    async fn handle(self, cx: &Ctx) -> Result<Done> {
        let rows = cx.d.db.lock().expect("db lock").vms()?;
        let mut kills = tokio::task::JoinSet::new();
        for row in rows
            .into_iter()
            .filter(|r| super::resolve::in_target(&cx.d, &cx.azure.target, r))
        {
            let cx = cx.clone();
            let name = row.name.clone();
            kills.spawn(async move {
                let result = match Resolved::of(row) {
                    Ok(vm) => kill(&cx, &vm).await,
                    Err(e) => Err(e),
                };
                (name, result)
            });
        }
        let (mut deleted, mut failed) = (0, Vec::new());
        while let Some(joined) = kills.join_next().await {
            match joined {
                Ok((name, Ok(_))) => {
                    deleted += 1;
                    cx.progress(&name, "deleted");
                }
                Ok((name, Err(e))) => failed.push(format!("{name}: {e:#}")),
                Err(e) => failed.push(format!("a deletion task failed: {e}")),
            }
        }
        if !failed.is_empty() {
            bail!(
                "{deleted} VM(s) deleted, {} not (rerun killall to finish):\n{}",
                failed.len(),
                failed.join("\n")
            );
        }
        let context = match &cx.azure.target.context {
            Some(c) => format!(" (context {}: {})", c.name, c.context.describe()),
            None => String::new(),
        };
        Ok(Done {
            message: format!("{deleted} VM(s) deleted{context}"),
        })
    }
}

/// Delete one VM: its provider's part, then its record, certificate and
/// session name.
async fn kill(cx: &Ctx, vm: &Resolved) -> Result<Done> {
    let d = &cx.d;
    let name = vm.name();
    d.fleet.untrack(name, "VM deleted");
    cx.provider(vm)
        .delete(&vm.row, &cx.azure)
        .await
        .with_context(|| format!("cannot delete {name}"))?;
    d.db.lock().expect("db lock").remove_vm(name)?;
    d.live.forget(name);
    if d.session_name(name).is_some() {
        // The name goes with the VM, so a new VM may take it.
        match crate::config::Config::write_session_name(&d.home.config_file(), name, None) {
            Ok(names) => *d.session_names.write().expect("session names lock") = names,
            Err(e) => tracing::warn!(vm = %name, "cannot clear its session name: {e:#}"),
        }
    }
    tracing::info!(vm = %name, "VM deleted and its certificate revoked");
    Ok(Done {
        message: format!(
            "{name} deleted ({}); its certificate is revoked",
            super::resolve::place_words(cx, &vm.row)
        ),
    })
}

/// Record a VM its provider started (again) and have the daemon reach it.
pub(super) fn running_again(d: &Arc<Daemon>, row: &VmRow, started: &Started) -> Result<()> {
    let name = row.name.as_str();
    d.db.lock().expect("db lock").set_vm_running(
        name,
        &started.provider_data,
        started.address.as_deref(),
    )?;
    if row.connect_mode == ConnectMode::Listen && row.state != VmState::Running {
        link::spawn(d.clone(), name.to_string());
    } else {
        d.fleet.track(name);
    }
    Ok(())
}
