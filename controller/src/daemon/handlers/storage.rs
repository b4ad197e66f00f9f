//! `azlin storage create|list|status|delete`: shared NFS storage through
//! the provider's `SharedStorage` (refused in one place for a provider
//! without it), every name and size checked before the cloud is asked,
//! a taken name refused before anything is made, and each storage's
//! price a month from its provisioned size (Azure: the Retail Prices
//! API's Premium Files meter; a provider with no bill: none, said so).
//!
//! `storage mount|unmount` sends the storage's export to the VM's agent
//! (`Query::Mount`), which mounts it there; the storage is the one the
//! VM's own provider serves (an Azure VM mounts Azure storage).

use anyhow::Result;

use azlin_protocol::{
    mount::{MAX_MOUNTS, MountRequest, Mounted, check},
    stream::{Query, QueryReply},
};

use super::{Ctx, Handle, HandleVm, prices, resolve::Resolved};
use crate::{
    daemon::agents::query,
    ipc::{
        Done,
        storage::{
            StorageCreate, StorageDelete, StorageList, StorageMount, StorageStatus, StorageView,
        },
    },
    provider::{
        Kind,
        storage::{SharedStorage, StorageSpec},
    },
    state::VmState,
    storage::{
        StorageInfo, delete_refusal,
        name::{check_name, check_size, nfs_tier},
    },
};

/// The provider named, else config.toml's `default_provider`, else Azure
/// (storage is an Azure feature first), and its storage.
fn storage_of<'a>(cx: &'a Ctx, named: &Option<String>) -> Result<(Kind, &'a dyn SharedStorage)> {
    let name = named
        .clone()
        .or_else(|| cx.d.config().default_provider.clone())
        .unwrap_or_else(|| Kind::Azure.as_str().to_string());
    let kind = Kind::parse(&name)?;
    Ok((kind, cx.d.providers.storage(kind, &cx.azure.target)?))
}

/// What the running VMs of one provider have mounted, as their agents
/// said, asked once for every storage a request shows.
struct FleetMounts {
    /// (VM, one of its NFS mounts).
    mounts: Vec<(String, Mounted)>,
    /// The VMs that could not be asked.
    not_asked: Vec<String>,
}

impl FleetMounts {
    /// The VMs with `export` mounted (`VM at DIR`), and those not asked.
    fn of(&self, export: &str) -> (Vec<String>, Vec<String>) {
        let mut on: Vec<String> = self
            .mounts
            .iter()
            .filter(|(_, m)| m.export == export)
            .map(|(vm, m)| format!("{vm} at {}", m.dir))
            .collect();
        on.sort();
        (on, self.not_asked.clone())
    }
}

/// Ask every running VM of `kind`'s agent, in parallel, what it has
/// mounted.
async fn fleet_mounts(cx: &Ctx, kind: Kind) -> FleetMounts {
    let rows = cx.d.db.lock().expect("db lock").vms().unwrap_or_default();
    let mut asks = tokio::task::JoinSet::new();
    for row in rows {
        if row.provider != kind.as_str() || cx.d.state_of(&row) != VmState::Running {
            continue;
        }
        let d = cx.d.clone();
        asks.spawn(async move {
            let answer = query::ask(&d, &row.name, Query::Mounts).await;
            (row.name, answer)
        });
    }
    let (mut mounts, mut not_asked) = (Vec::new(), Vec::new());
    for (vm, answer) in asks.join_all().await {
        match answer {
            // What an agent says reaches a terminal: nothing with a
            // control character in it, and no more than a VM can have.
            Ok(QueryReply::Mounts(found)) => mounts.extend(
                found
                    .into_iter()
                    .filter(Mounted::is_clean)
                    .take(MAX_MOUNTS)
                    .map(|m| (vm.clone(), m)),
            ),
            _ => not_asked.push(vm),
        }
    }
    not_asked.sort();
    FleetMounts { mounts, not_asked }
}

/// `info` with its price a month and the VMs that have it mounted.
async fn view(cx: &Ctx, kind: Kind, storage: StorageInfo, fleet: &FleetMounts) -> StorageView {
    let (mounted_on, not_asked) = fleet.of(&storage.export);
    let (per_month, currency, price_note) = match (kind, &storage.region) {
        (Kind::Azure, Some(region)) => {
            match prices::files_per_gb_month(&cx.d, &cx.azure.access, region).await {
                Ok(per_gb) => (
                    Some(per_gb * f64::from(storage.size_gib)),
                    Some(prices::CURRENCY.to_string()),
                    format!(
                        "{} GiB provisioned at ${per_gb:.4} a GB a month (Premium Files, Azure \
                         Retail Prices API)",
                        storage.size_gib
                    ),
                ),
                Err(why) => (None, None, why),
            }
        }
        (Kind::Azure, None) => (None, None, "no region to price it in".into()),
        _ => (None, None, format!("{} storage has no bill", kind.as_str())),
    };
    StorageView {
        provider: kind.as_str().to_string(),
        storage,
        per_month,
        currency,
        price_note,
        mounted_on,
        not_asked,
    }
}

impl Handle for StorageCreate {
    async fn handle(self, cx: &Ctx) -> Result<StorageView> {
        let name = check_name(&self.name)?.to_string();
        let size_gib = check_size(self.size_gib)?;
        nfs_tier(&self.tier)?;
        let (kind, storage) = storage_of(cx, &self.provider)?;
        let spec = StorageSpec {
            name: name.clone(),
            size_gib,
        };
        cx.progress(&name, "checking the name is free");
        storage.check_free(&spec, &cx.azure).await?;
        let stage = |message: String| cx.progress(&name, message);
        let info = storage.create(&spec, &cx.azure, &stage).await?;
        Ok(view(cx, kind, info, &fleet_mounts(cx, kind).await).await)
    }
}

impl Handle for StorageList {
    async fn handle(self, cx: &Ctx) -> Result<Vec<StorageView>> {
        let (kind, storage) = storage_of(cx, &self.provider)?;
        let infos = storage.list(&cx.azure).await?;
        let fleet = fleet_mounts(cx, kind).await;
        let mut out = Vec::new();
        for info in infos {
            out.push(view(cx, kind, info, &fleet).await);
        }
        Ok(out)
    }
}

impl Handle for StorageStatus {
    async fn handle(self, cx: &Ctx) -> Result<StorageView> {
        let name = check_name(&self.name)?;
        let (kind, storage) = storage_of(cx, &self.provider)?;
        let info = storage.status(name, &cx.azure).await?;
        Ok(view(cx, kind, info, &fleet_mounts(cx, kind).await).await)
    }
}

impl Handle for StorageDelete {
    async fn handle(self, cx: &Ctx) -> Result<Done> {
        let name = check_name(&self.name)?;
        let (kind, storage) = storage_of(cx, &self.provider)?;
        let info = storage.status(name, &cx.azure).await?;
        let (mounted_on, not_asked) = fleet_mounts(cx, kind).await.of(&info.export);
        if let Some(why) = delete_refusal(name, &mounted_on, &not_asked, self.force) {
            anyhow::bail!(why);
        }
        let what = format!(
            "storage {name} ({}, {}) and every file on it",
            info.place, info.export
        );
        if self.dry_run {
            return Ok(Done {
                message: format!("would delete {what}; nothing deleted (--dry-run)"),
            });
        }
        storage.delete(name, &cx.azure).await?;
        Ok(Done {
            message: format!("deleted {what}"),
        })
    }
}

/// Longest wait for a mount: installing the NFS client comes first.
const MOUNT_WITHIN: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl HandleVm for StorageMount {
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let name = check_name(&self.name)?;
        let dir = self.path.clone().unwrap_or_else(|| format!("/mnt/{name}"));
        let kind = Kind::parse(&vm.row.provider)?;
        let storage = cx.d.providers.storage(kind, &cx.azure.target)?;
        let info = storage.status(name, &cx.azure).await?;
        let req = MountRequest {
            export: info.export.clone(),
            dir,
            unmount: self.unmount,
        };
        check(&req)?;
        let vm_name = vm.name().to_string();
        cx.progress(
            &vm_name,
            if self.unmount {
                format!("unmounting {} from {}", req.export, req.dir)
            } else {
                format!(
                    "mounting {} at {} (the NFS client is installed if missing)",
                    req.export, req.dir
                )
            },
        );
        match query::ask_within(&cx.d, &vm_name, Query::Mount(req), MOUNT_WITHIN).await? {
            QueryReply::Mounted { message } => Ok(Done {
                message: format!("{vm_name}: {}", azlin_protocol::exec::clean_reason(message)),
            }),
            QueryReply::Error { reason } => {
                anyhow::bail!("{vm_name}: {}", azlin_protocol::exec::clean_reason(reason))
            }
            other => anyhow::bail!("{vm_name} answered {other:?}"),
        }
    }
}
