//! `azlin cleanup` on Azure: list what the resource groups hold (VMs,
//! disks, NICs, public IPs, NSGs, deployment records, the agent builds in
//! azlin's agent stores, and the groups' resource lists with
//! `$expand=createdTime`, the only place a NIC's, IP's or NSG's age is
//! kept), all lists of a group at once, for [`crate::cleanup::orphans`]
//! to judge; and delete one orphan.
//!
//! The groups are the request's (or the configured) resource group and
//! those of azlin's Azure VMs in the same subscription: nowhere else. A
//! group that does not exist holds nothing.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;

use super::{AzureProvider, agent_store::blob_name, data_of};
use crate::{
    azure::{
        api,
        client::ArmClient,
        context::AzureContext,
        error::ArmError,
        models::{
            compute::{Disk, VirtualMachine},
            network::{NetworkInterface, NetworkSecurityGroup, PublicIpAddress},
            resources::{Deployment, GenericResource},
            storage::StorageAccount,
        },
    },
    cleanup::{self, Kind, Listing, Orphan, Rules},
    provider::{
        Work,
        cleanup::{Cleanup, Found},
    },
    state::VmRow,
};

/// A list of a group that may not exist (then empty).
async fn list_in<T: DeserializeOwned>(arm: &ArmClient, path: String, api: &str) -> Result<Vec<T>> {
    match arm.list::<T>(&path, api).await {
        Ok(items) => Ok(items),
        Err(ArmError { status: 404, .. }) => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot list {path}")),
    }
}

/// Everything [`cleanup::orphans`] reads, from one resource group.
async fn read_group(
    provider: &AzureProvider,
    arm: &ArmClient,
    group_path: &str,
    into: &mut Listing,
) -> Result<()> {
    let p = |t: &str| format!("{group_path}/providers/{t}");
    let (vms, disks, nics, ips, nsgs, deployments, resources, accounts) = tokio::join!(
        list_in::<VirtualMachine>(arm, p("Microsoft.Compute/virtualMachines"), api::COMPUTE),
        list_in::<Disk>(arm, p("Microsoft.Compute/disks"), api::DISKS),
        list_in::<NetworkInterface>(arm, p("Microsoft.Network/networkInterfaces"), api::NETWORK),
        list_in::<PublicIpAddress>(arm, p("Microsoft.Network/publicIPAddresses"), api::NETWORK),
        list_in::<NetworkSecurityGroup>(
            arm,
            p("Microsoft.Network/networkSecurityGroups"),
            api::NETWORK
        ),
        list_in::<Deployment>(arm, p("Microsoft.Resources/deployments"), api::RESOURCES),
        list_in::<GenericResource>(
            arm,
            format!("{group_path}/resources?$expand=createdTime"),
            api::RESOURCES
        ),
        list_in::<StorageAccount>(arm, p("Microsoft.Storage/storageAccounts"), api::STORAGE),
    );
    for account in accounts? {
        into.agent_blobs
            .extend(provider.agent_blobs(arm, &account).await?);
    }
    into.vms.extend(vms?);
    into.disks.extend(disks?);
    into.nics.extend(nics?);
    into.ips.extend(ips?);
    into.nsgs.extend(nsgs?);
    into.deployments.extend(deployments?);
    for r in resources? {
        if let Some(t) = r.created_time.as_deref().and_then(cleanup::unix_of) {
            into.created.insert(r.id.to_ascii_lowercase(), t);
        }
    }
    Ok(())
}

impl AzureProvider {
    async fn find_orphans(
        &self,
        fleet: &[VmRow],
        rules: Rules,
        azure: &AzureContext,
    ) -> Result<Found> {
        let subscription = self.subscription(&azure.target).await?;
        let arm = self.client(&azure.access).await?;
        let mut groups: BTreeSet<String> = BTreeSet::new();
        groups.insert(self.resource_group(&azure.target));
        for row in fleet {
            if let Ok(d) = data_of(row)
                && d.subscription.eq_ignore_ascii_case(&subscription)
                && azure.target.resource_group().is_none()
            {
                groups.insert(d.resource_group);
            }
        }
        // Group names are case-insensitive: one look each.
        let mut seen = BTreeSet::new();
        groups.retain(|g| seen.insert(g.to_ascii_lowercase()));
        let mut listing = Listing::default();
        for g in &groups {
            let path = format!("/subscriptions/{subscription}/resourceGroups/{g}");
            read_group(self, &arm, &path, &mut listing).await?;
        }
        // No build known here: no agent blob can be told unneeded.
        listing.current_agent_blob = self.local_agent_sha256().await.ok().map(|s| blob_name(&s));
        let (orphans, passed) = cleanup::orphans(&listing, rules);
        let names: Vec<&str> = groups.iter().map(String::as_str).collect();
        Ok(Found {
            place: format!(
                "resource group{} {} of subscription {subscription}",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
            orphans,
            passed,
        })
    }
}

impl Cleanup for AzureProvider {
    fn find<'a>(
        &'a self,
        fleet: &'a [VmRow],
        rules: Rules,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<Found>> {
        Box::pin(self.find_orphans(fleet, rules, azure))
    }

    fn delete<'a>(&'a self, orphan: &'a Orphan, azure: &'a AzureContext) -> Work<'a, Result<()>> {
        Box::pin(async move {
            let arm = self.client(&azure.access).await?;
            let api = match orphan.kind {
                Kind::Nic | Kind::PublicIp | Kind::Nsg => api::NETWORK,
                Kind::Disk => api::DISKS,
                Kind::Deployment => api::RESOURCES,
                Kind::AgentBlob => {
                    return self
                        .delete_agent_blob(&arm, &orphan.id)
                        .await
                        .with_context(|| format!("cannot delete agent build {}", orphan.name));
                }
            };
            arm.delete(&orphan.id, api)
                .await
                .with_context(|| format!("cannot delete {} {}", orphan.kind.as_str(), orphan.name))
        })
    }
}
