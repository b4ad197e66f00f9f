//! Snapshots of Azure VMs: an incremental snapshot of the OS disk and of
//! each data disk (`Microsoft.Compute/snapshots`, `createOption: Copy`,
//! `incremental: true`), in the VM's resource group and region, tagged
//! with azlin, the VM, the snapshot and when it was taken. Each disk's
//! snapshot is crash-consistent (as if the VM lost power at that moment);
//! the VM keeps running and is not deallocated for it.
//!
//! Azure allows 7 incremental snapshots of a disk in 5 minutes: a take
//! that would pass it is refused before anything is made, saying when
//! there is room again.
//!
//! A restore deallocates the VM, makes a new disk from each snapshot,
//! swaps them in (the OS disk can only be swapped on a deallocated VM),
//! and starts it: the agent's key and certificate are on the OS disk as
//! they were at the snapshot, which the daemon takes only while they are
//! still the VM's current ones. The disks it had are kept (named), unless
//! `--delete-old`.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::{AzureData, AzureProvider, data_of, lifecycle::PowerAction};
use crate::{
    azure::{
        api,
        client::ArmClient,
        context::AzureContext,
        models::{
            Tags,
            compute::{CreationData, Disk, DiskProperties, Snapshot, VirtualMachine},
        },
    },
    provider::{
        Stage, Started, Work,
        snapshots::{HomeSecrets, Snapshots},
    },
    state::{VmRow, now_unix, snapshots::SnapshotRow},
};

const SNAPSHOTS: &str = "Microsoft.Compute/snapshots";

/// Azure's limit: incremental snapshots of one disk in [`LIMIT_WINDOW`].
pub const LIMIT_PER_DISK: usize = 7;
/// Seconds.
pub const LIMIT_WINDOW: i64 = 300;

/// One disk's snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct DiskSnapshot {
    /// `os`, or the data disk's LUN.
    pub lun: Option<i32>,
    /// The disk it was taken of.
    pub disk: String,
    /// The snapshot's id.
    pub snapshot: String,
}

/// What `state.db` keeps of an Azure snapshot.
#[derive(Debug, Serialize, Deserialize)]
struct AzureSnapshot {
    disks: Vec<DiskSnapshot>,
}

fn snapshot_of(s: &SnapshotRow) -> Result<AzureSnapshot> {
    serde_json::from_str(&s.provider_data)
        .with_context(|| format!("snapshot {} has no disk snapshots recorded", s.name))
}

pub(super) fn role(lun: Option<i32>) -> String {
    lun.map_or_else(|| "os".to_string(), |l| format!("data{l}"))
}

/// Whether a snapshot taken `taken` (RFC 3339) counts against the limit
/// at `now` (unix seconds); the second is when it stops counting.
fn in_window(taken: &str, now: i64) -> Option<i64> {
    let at = taken.parse::<jiff::Timestamp>().ok()?.as_second();
    (now - at < LIMIT_WINDOW).then_some(at + LIMIT_WINDOW)
}

impl AzureProvider {
    /// The VM's disks: its OS disk (LUN `None`) and data disks.
    async fn disks(
        &self,
        data: &AzureData,
        azure: &AzureContext,
    ) -> Result<Vec<(Option<i32>, String)>> {
        let arm = self.client(&azure.access).await?;
        let vm: VirtualMachine = arm.get(&data.vm_path(), api::COMPUTE).await?;
        let profile = vm.properties.storage_profile.unwrap_or_default();
        let mut out = Vec::new();
        let os = profile
            .os_disk
            .and_then(|d| d.managed_disk)
            .and_then(|m| m.id)
            .context("the VM has no managed OS disk to snapshot")?;
        out.push((None, os));
        for d in profile.data_disks {
            if let Some(id) = d.managed_disk.and_then(|m| m.id) {
                out.push((Some(d.lun.unwrap_or(0)), id));
            }
        }
        Ok(out)
    }

    async fn take_snapshots(&self, vm: &VmRow, name: &str, azure: &AzureContext) -> Result<String> {
        let mut tags = Tags::new();
        tags.insert("azlin-snapshot".into(), name.to_string());
        let disks = self.snapshot_disks(vm, name, tags, azure).await?;
        Ok(serde_json::to_string(&AzureSnapshot { disks })?)
    }

    /// An incremental snapshot of each of `vm`'s disks, named `NAME-ROLE`,
    /// tagged `tags` and azlin's own; refused, with nothing made, when a
    /// disk has had Azure's limit of them.
    pub(super) async fn snapshot_disks(
        &self,
        vm: &VmRow,
        name: &str,
        tags: Tags,
        azure: &AzureContext,
    ) -> Result<Vec<DiskSnapshot>> {
        let data = data_of(vm)?;
        let arm = self.client(&azure.access).await?;
        let disks = self.disks(&data, azure).await?;
        // Azure's limit, checked for every disk before any snapshot.
        let group = format!("{}/providers/{SNAPSHOTS}", data.group_path());
        let existing: Vec<Snapshot> = arm.list(&group, api::DISKS).await?;
        let now = now_unix();
        for (_, disk) in &disks {
            let mut recent: Vec<i64> = existing
                .iter()
                .filter(|s| {
                    s.properties
                        .creation_data
                        .as_ref()
                        .and_then(|c| c.source_resource_id.as_deref())
                        .is_some_and(|src| src.eq_ignore_ascii_case(disk))
                })
                .filter_map(|s| in_window(s.properties.time_created.as_deref()?, now))
                .collect();
            if recent.len() >= LIMIT_PER_DISK {
                recent.sort();
                bail!(
                    "Azure allows {LIMIT_PER_DISK} incremental snapshots of a disk in 5 minutes \
                     and {} has had them: try again in {} s; nothing taken",
                    disk.rsplit('/').next().unwrap_or(disk),
                    recent[0] - now
                );
            }
        }
        let mut taken = Vec::new();
        for (lun, disk) in disks {
            let path = data.path(SNAPSHOTS, &format!("{name}-{}", role(lun)));
            let mut tags = tags.clone();
            tags.insert("managed-by".into(), "azlin".into());
            tags.insert("azlin-vm".into(), vm.name.clone());
            tags.insert("azlin-taken".into(), now.to_string());
            let body = Snapshot {
                location: data.location.clone(),
                tags,
                properties: DiskProperties {
                    creation_data: Some(CreationData {
                        create_option: "Copy".into(),
                        source_resource_id: Some(disk.clone()),
                        source_uri: None,
                    }),
                    incremental: Some(true),
                    ..Default::default()
                },
                ..Default::default()
            };
            let made: Snapshot = arm
                .put(&path, api::DISKS, &body)
                .await
                .with_context(|| format!("cannot snapshot {disk}"))?;
            taken.push(DiskSnapshot {
                lun,
                disk,
                snapshot: made.id.unwrap_or(path),
            });
        }
        Ok(taken)
    }

    async fn restore_disks(
        &self,
        vm: &VmRow,
        snapshot: &SnapshotRow,
        delete_old: bool,
        azure: &AzureContext,
        stage: Stage<'_>,
    ) -> Result<Started> {
        let snap = snapshot_of(snapshot)?;
        let data = data_of(vm)?;
        let arm = self.client(&azure.access).await?;
        self.power(vm, PowerAction::Stop { deallocate: true }, &azure.access)
            .await?;
        stage(format!("{} deallocated", vm.name));
        let stamp = format!("{:x}", now_unix());
        let mut made = Vec::new();
        for d in &snap.disks {
            let name = format!("{}-{}-{stamp}", snapshot.name, role(d.lun));
            let path = data.path("Microsoft.Compute/disks", &name);
            let mut tags = Tags::new();
            tags.insert("managed-by".into(), "azlin".into());
            tags.insert("azlin-vm".into(), vm.name.clone());
            let id = disk_from_snapshot(&arm, &data, &path, &d.snapshot, tags).await?;
            made.push((d.lun, name, id));
        }
        stage(format!("{} disk(s) made from the snapshot", made.len()));
        let mut body: VirtualMachine = arm.get(&data.vm_path(), api::COMPUTE).await?;
        body.properties.instance_view = None;
        let profile = body
            .properties
            .storage_profile
            .get_or_insert_with(Default::default);
        let mut old = Vec::new();
        let mut os_name = data.os_disk.clone();
        for (lun, name, id) in &made {
            let slot = match lun {
                None => profile.os_disk.as_mut().and_then(|d| {
                    d.name = Some(name.clone());
                    d.managed_disk.as_mut()
                }),
                Some(l) => profile
                    .data_disks
                    .iter_mut()
                    .find(|d| d.lun == Some(*l))
                    .and_then(|d| {
                        d.name = Some(name.clone());
                        d.managed_disk.as_mut()
                    }),
            };
            let Some(managed) = slot else {
                bail!(
                    "{} no longer has the disk the snapshot has at {}",
                    vm.name,
                    role(*lun)
                );
            };
            if let Some(was) = managed.id.replace(id.clone()) {
                old.push(was);
            }
            if lun.is_none() {
                os_name = name.clone();
            }
        }
        arm.put::<_, VirtualMachine>(&data.vm_path(), api::COMPUTE, &body)
            .await
            .with_context(|| format!("cannot swap {}'s disks", vm.name))?;
        stage("disks swapped".into());
        if delete_old {
            for id in &old {
                arm.delete(id, api::DISKS)
                    .await
                    .with_context(|| format!("cannot delete the old disk {id}"))?;
            }
            stage("the disks it had are deleted".into());
        } else {
            let names: Vec<&str> = old.iter().filter_map(|id| id.rsplit('/').next()).collect();
            stage(format!(
                "the disks it had are kept: {} (azlin cost recommend lists unattached disks)",
                names.join(", ")
            ));
        }
        self.power(vm, PowerAction::Start, &azure.access).await?;
        // The disks azlin made for the VM are now the new ones.
        let mut data_disks = data.data_disks.clone();
        data_disks.retain(|n| {
            !old.iter().any(|id| {
                id.rsplit('/')
                    .next()
                    .is_some_and(|o| o.eq_ignore_ascii_case(n))
            })
        });
        data_disks.extend(
            made.iter()
                .filter(|(lun, _, _)| lun.is_some())
                .map(|(_, name, _)| name.clone()),
        );
        Ok(Started {
            provider_data: serde_json::to_string(&AzureData {
                os_disk: os_name,
                data_disks,
                ..data
            })?,
            address: None,
        })
    }
}

/// Make the disk `path` (in `data`'s region) as a copy of `snapshot`;
/// its id.
pub(super) async fn disk_from_snapshot(
    arm: &ArmClient,
    data: &AzureData,
    path: &str,
    snapshot: &str,
    tags: Tags,
) -> Result<String> {
    let body = Disk {
        location: data.location.clone(),
        tags,
        properties: DiskProperties {
            creation_data: Some(CreationData {
                create_option: "Copy".into(),
                source_resource_id: Some(snapshot.to_string()),
                source_uri: None,
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let disk: Disk = arm
        .put(path, api::DISKS, &body)
        .await
        .with_context(|| format!("cannot make a disk from {snapshot}"))?;
    Ok(disk.id.unwrap_or_else(|| path.to_string()))
}

impl Snapshots for AzureProvider {
    /// Each disk's snapshot is crash-consistent on its own; the VM is not
    /// frozen for it (a VM's agent freezes its processes only inside a
    /// container's cgroup, see the agent's `quiesce`).
    fn holds_still(&self) -> bool {
        false
    }

    /// 7 snapshots of a disk in 5 minutes: a schedule takes fewer.
    fn min_interval_secs(&self) -> i64 {
        (LIMIT_WINDOW + LIMIT_PER_DISK as i64 - 1) / LIMIT_PER_DISK as i64
    }

    fn take<'a>(
        &'a self,
        vm: &'a VmRow,
        name: &'a str,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<String>> {
        Box::pin(self.take_snapshots(vm, name, azure))
    }

    fn holds(&self, snapshot: &SnapshotRow) -> String {
        match snapshot_of(snapshot) {
            Ok(s) => format!(
                "incremental snapshots {}",
                s.disks
                    .iter()
                    .map(|d| d.snapshot.rsplit('/').next().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(e) => format!("{e:#}"),
        }
    }

    fn restore_plan(&self, vm: &VmRow, snapshot: &SnapshotRow, delete_old: bool) -> Vec<String> {
        vec![
            format!("deallocate {}", vm.name),
            format!("make a new disk from each of {}", self.holds(snapshot)),
            format!("swap them in for {}'s disks", vm.name),
            if delete_old {
                "delete the disks it had".into()
            } else {
                "keep the disks it had, unattached (and billed)".into()
            },
            format!("start {}", vm.name),
        ]
    }

    fn restore<'a>(
        &'a self,
        vm: &'a VmRow,
        snapshot: &'a SnapshotRow,
        delete_old: bool,
        azure: &'a AzureContext,
        stage: Stage<'a>,
    ) -> Work<'a, Result<Started>> {
        Box::pin(self.restore_disks(vm, snapshot, delete_old, azure, stage))
    }

    fn clone_source<'a>(
        &'a self,
        src: &'a VmRow,
        secrets: &'a HomeSecrets,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<String>> {
        Box::pin(self.clone_snapshots(src, secrets, azure))
    }

    /// A clone boots copies of SRC's disks; Run Command gives it its own
    /// identity after (see `super::clone`).
    fn clone_boots_a_copy(&self) -> bool {
        true
    }

    fn drop_clone_source<'a>(&'a self, source: &'a str, azure: &'a AzureContext) -> Work<'a, ()> {
        Box::pin(self.drop_clone_snapshots(source, azure))
    }

    fn delete<'a>(
        &'a self,
        snapshot: &'a SnapshotRow,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(async move {
            let snap = snapshot_of(snapshot)?;
            let arm = self.client(&azure.access).await?;
            for d in &snap.disks {
                if !d
                    .snapshot
                    .to_ascii_lowercase()
                    .contains("/providers/microsoft.compute/snapshots/")
                {
                    bail!(
                        "snapshot {}'s record names {}: not deleting it",
                        snapshot.name,
                        d.snapshot
                    );
                }
                arm.delete(&d.snapshot, api::DISKS)
                    .await
                    .with_context(|| format!("cannot delete {}", d.snapshot))?;
            }
            Ok(())
        })
    }
}
