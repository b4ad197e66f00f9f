//! What the scope pays for and does not use, as Azure lists it: VMs
//! stopped but not deallocated (still billed for their hardware), managed
//! disks attached to nothing, public IPs on nothing (by the rules of
//! `crate::cleanup`: a NAT gateway's or load balancer's IP is in use), and snapshots with
//! their age; the sizes a region offers (for a resize recommendation);
//! and deleting one such resource. One list per kind for the whole
//! subscription, filtered to the scope.
//!
//! Not here: deciding what to recommend (the daemon's `cost_recommend`
//! handler, `cost::recommend`).

use anyhow::{Context, Result};

use super::{
    AzureProvider,
    inventory::{GroupRead, unmanaged_row},
};
use crate::{
    azure::{
        api,
        context::AzureContext,
        models::compute::{Disk, Snapshot as DiskSnapshot},
    },
    cleanup,
    cost::{dates::Day, recommend::SizeInfo},
    provider::{BillingScope, Idle, Waste},
};

fn in_scope(scope: &BillingScope, id: &str) -> bool {
    let id = id.to_ascii_lowercase();
    id.starts_with(&format!("{}/", scope.path.to_ascii_lowercase()))
}

fn created(time: Option<&str>) -> Option<i64> {
    time.and_then(|t| t.get(..10))
        .and_then(|d| Day::parse(d).ok())
        .map(Day::unix)
}

impl AzureProvider {
    pub(super) async fn waste(&self, scope: &BillingScope, azure: &AzureContext) -> Result<Waste> {
        let GroupRead {
            arm,
            subscription,
            snapshot,
            ..
        } = self.read_group(azure).await?;
        let sub = format!("/subscriptions/{subscription}/providers");
        let (disks_path, snaps_path) = (
            format!("{sub}/Microsoft.Compute/disks"),
            format!("{sub}/Microsoft.Compute/snapshots"),
        );
        let (disks, snaps) = tokio::join!(
            arm.list::<Disk>(&disks_path, api::DISKS),
            arm.list::<DiskSnapshot>(&snaps_path, api::DISKS),
        );
        let disks = disks.context("cannot list the subscription's disks")?;
        let snaps = snaps.context("cannot list the subscription's snapshots")?;
        let mut waste = Waste::default();
        for vm in snapshot.vms_in(None) {
            if !vm.id.as_deref().is_some_and(|id| in_scope(scope, id)) {
                continue;
            }
            let view = snapshot.view(vm);
            if view.power == "stopped" {
                let data = snapshot.owned(vm, &subscription);
                waste.stopped_allocated.push((
                    unmanaged_row(&data, &view.power),
                    data.vm_size.clone(),
                    data.location.clone(),
                ));
            }
        }
        for d in &disks {
            let (Some(id), Some(name)) = (&d.id, &d.name) else {
                continue;
            };
            if in_scope(scope, id) && cleanup::disk_user(d).is_none() {
                waste.disks.push(Idle {
                    id: id.clone(),
                    name: name.clone(),
                    created: created(d.properties.time_created.as_deref()),
                });
            }
        }
        for ip in &snapshot.ips {
            let (Some(id), Some(name)) = (&ip.id, &ip.name) else {
                continue;
            };
            if in_scope(scope, id) && !cleanup::public_ip_used(ip) {
                waste.ips.push(Idle {
                    id: id.clone(),
                    name: name.clone(),
                    created: None,
                });
            }
        }
        for s in &snaps {
            let (Some(id), Some(name)) = (&s.id, &s.name) else {
                continue;
            };
            if in_scope(scope, id) {
                waste.snapshots.push(Idle {
                    id: id.clone(),
                    name: name.clone(),
                    created: created(s.properties.time_created.as_deref()),
                });
            }
        }
        Ok(waste)
    }

    pub(super) async fn sizes(&self, region: &str, azure: &AzureContext) -> Result<Vec<SizeInfo>> {
        let subscription = self.subscription(&azure.target).await?;
        let arm = self.client(&azure.access).await?;
        let skus = super::capacity::list_skus(&arm, &subscription, region).await?;
        Ok(skus
            .iter()
            .filter(|s| s.resource_type.eq_ignore_ascii_case("virtualMachines"))
            .filter_map(|s| {
                Some(SizeInfo {
                    name: s.name.clone(),
                    family: s.family.clone()?,
                    vcpus: s.capability("vCPUs")?.parse().ok()?,
                })
            })
            .collect())
    }

    pub(super) async fn delete_resource(&self, id: &str, azure: &AzureContext) -> Result<()> {
        let arm = self.client(&azure.access).await?;
        let api = if id.to_ascii_lowercase().contains("/microsoft.network/") {
            api::NETWORK
        } else {
            api::DISKS
        };
        arm.delete(id, api)
            .await
            .with_context(|| format!("cannot delete {id}"))
    }
}
