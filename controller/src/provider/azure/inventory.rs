//! What ARM says of the Azure VMs in the resource groups azlin looks at,
//! for `list` and `status`: power state, size, region, addresses and tags
//! of azlin's VMs, which can change outside azlin (the portal, `az`, Azure
//! itself), and every other VM in those groups, which azlin did not make
//! and shows as `no agent`.
//!
//! The number of requests does not grow with the number of VMs: per
//! subscription, three lists at subscription scope, all at once: the VMs
//! with `statusOnly=true` (the only list that carries each VM's power
//! state; at resource-group scope the instance view needs a `$filter`),
//! the NICs and the public IPs. `az vm list -d` costs three requests per
//! VM. The lists are then filtered to the groups, and joined ([`Snapshot`],
//! pure).
//!
//! A subscription that cannot be read marks its VMs with the error
//! instead of failing the list: the agents' live data is still worth
//! showing.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use super::{AzureData, AzureProvider, data_of};
use crate::{
    azure::{
        api,
        client::ArmClient,
        context::AzureContext,
        models::{
            compute::VirtualMachine,
            network::{NetworkInterface, PublicIpAddress},
        },
    },
    ipc::CloudView,
    provider::CloudViews,
    state::{ConnectMode, VmRow, VmState},
};

/// One subscription's VMs, NICs and public IPs, as listed.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub vms: Vec<VirtualMachine>,
    pub nics: Vec<NetworkInterface>,
    pub ips: Vec<PublicIpAddress>,
}

pub use crate::azure::models::{group_of, name_of};

impl Snapshot {
    fn nic(&self, id: &str) -> Option<&NetworkInterface> {
        self.nics
            .iter()
            .find(|n| n.id.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(id)))
    }

    fn ip(&self, id: &str) -> Option<&PublicIpAddress> {
        self.ips
            .iter()
            .find(|p| p.id.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(id)))
    }

    /// The VM named `name` in group `group`.
    pub fn vm(&self, group: &str, name: &str) -> Option<&VirtualMachine> {
        self.vms.iter().find(|v| {
            v.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
                && v.id
                    .as_deref()
                    .and_then(group_of)
                    .is_some_and(|g| g.eq_ignore_ascii_case(group))
        })
    }

    /// The VM's primary NIC.
    pub fn primary_nic(&self, vm: &VirtualMachine) -> Option<&NetworkInterface> {
        let refs = &vm.properties.network_profile.as_ref()?.network_interfaces;
        let primary = refs
            .iter()
            .find(|r| r.properties.as_ref().and_then(|p| p.primary) == Some(true))
            .or_else(|| refs.first())?;
        self.nic(&primary.id)
    }

    /// The public IP resource on the VM's primary NIC.
    fn public_ip(&self, vm: &VirtualMachine) -> Option<&PublicIpAddress> {
        let nic = self.primary_nic(vm)?;
        nic.properties
            .ip_configurations
            .iter()
            .find_map(|c| c.properties.public_ip_address.as_ref())
            .and_then(|r| self.ip(&r.id))
    }

    /// What ARM says of one VM now.
    pub fn view(&self, vm: &VirtualMachine) -> CloudView {
        let nic = self.primary_nic(vm);
        CloudView {
            power: vm
                .properties
                .instance_view
                .as_ref()
                .and_then(|v| v.power_state())
                .unwrap_or("unknown")
                .to_string(),
            size: vm
                .properties
                .hardware_profile
                .as_ref()
                .map(|h| h.vm_size.clone()),
            location: Some(vm.location.clone()),
            public_ip: self
                .public_ip(vm)
                .and_then(|p| p.properties.ip_address.clone()),
            private_ip: nic.and_then(|n| {
                n.properties
                    .ip_configurations
                    .iter()
                    .find_map(|c| c.properties.private_ip_address.clone())
            }),
            tags: vm.tags.clone(),
            ..CloudView::default()
        }
    }

    /// Every resource the VM owns, as lower-case ARM ids, for its bill:
    /// the VM, its OS and data disks, its NICs, the public IPs on them,
    /// and each NIC's NSG when no other NIC uses it.
    pub fn resources_of(&self, vm: &VirtualMachine) -> Vec<String> {
        let mut out: Vec<String> = vm.id.iter().cloned().collect();
        if let Some(storage) = &vm.properties.storage_profile {
            let disks = storage
                .os_disk
                .iter()
                .filter_map(|d| d.managed_disk.as_ref())
                .chain(
                    storage
                        .data_disks
                        .iter()
                        .filter_map(|d| d.managed_disk.as_ref()),
                );
            out.extend(disks.filter_map(|m| m.id.clone()));
        }
        let refs: Vec<&str> = vm
            .properties
            .network_profile
            .iter()
            .flat_map(|p| &p.network_interfaces)
            .map(|r| r.id.as_str())
            .collect();
        let own = |nic: &NetworkInterface| {
            nic.id
                .as_deref()
                .is_some_and(|id| refs.iter().any(|r| r.eq_ignore_ascii_case(id)))
        };
        for nic in refs.iter().filter_map(|r| self.nic(r)) {
            out.extend(nic.id.clone());
            out.extend(
                nic.properties
                    .ip_configurations
                    .iter()
                    .filter_map(|c| c.properties.public_ip_address.as_ref())
                    .map(|r| r.id.clone()),
            );
            if let Some(nsg) = &nic.properties.network_security_group {
                let another_nic_uses_it = self.nics.iter().any(|other| {
                    !own(other)
                        && other
                            .properties
                            .network_security_group
                            .as_ref()
                            .is_some_and(|r| r.id.eq_ignore_ascii_case(&nsg.id))
                });
                if !another_nic_uses_it {
                    out.push(nsg.id.clone());
                }
            }
        }
        out.iter().map(|id| id.to_ascii_lowercase()).collect()
    }

    /// The VMs of the snapshot in `group` (every group: `None`).
    pub fn vms_in<'a>(
        &'a self,
        group: Option<&'a str>,
    ) -> impl Iterator<Item = &'a VirtualMachine> {
        self.vms.iter().filter(move |v| match group {
            None => true,
            Some(g) => {
                v.id.as_deref()
                    .and_then(group_of)
                    .is_some_and(|have| have.eq_ignore_ascii_case(g))
            }
        })
    }

    /// What a VM azlin did not make owns, as azlin would delete it: the
    /// VM, its primary NIC, the public IP on that NIC, its OS disk, and the
    /// NIC's NSG only when no other NIC or subnet uses it.
    pub fn owned(&self, vm: &VirtualMachine, subscription: &str) -> AzureData {
        let group = vm.id.as_deref().and_then(group_of).unwrap_or_default();
        let nic = self.primary_nic(vm);
        let nsg = nic
            .and_then(|n| n.properties.network_security_group.as_ref())
            .map(|r| r.id.clone())
            .filter(|id| {
                let shared_by_nic = self.nics.iter().any(|other| {
                    other.id != nic.and_then(|n| n.id.clone())
                        && other
                            .properties
                            .network_security_group
                            .as_ref()
                            .is_some_and(|r| r.id.eq_ignore_ascii_case(id))
                });
                !shared_by_nic
            });
        AzureData {
            subscription: subscription.to_string(),
            resource_group: group.to_string(),
            location: vm.location.clone(),
            vm_size: vm
                .properties
                .hardware_profile
                .as_ref()
                .map(|h| h.vm_size.clone())
                .unwrap_or_default(),
            vm: vm.name.clone().unwrap_or_default(),
            nic: nic.and_then(|n| n.name.clone()).unwrap_or_default(),
            public_ip: self
                .public_ip(vm)
                .and_then(|p| p.name.clone())
                .unwrap_or_default(),
            nsg: nsg.as_deref().map(name_of).unwrap_or_default().to_string(),
            os_disk: vm
                .properties
                .storage_profile
                .as_ref()
                .and_then(|s| s.os_disk.as_ref())
                .and_then(|d| d.name.clone())
                .unwrap_or_default(),
            // Its data disks may hold what its owner keeps: not azlin's
            // to delete.
            data_disks: Vec::new(),
            public_address: self
                .public_ip(vm)
                .and_then(|p| p.properties.ip_address.clone()),
            private_address: self.view(vm).private_ip,
            made_by_azlin: false,
        }
    }
}

/// A VM azlin did not make, as a row the daemon can act on by name (it is
/// never written to `state.db`).
pub fn unmanaged_row(data: &AzureData, power: &str) -> VmRow {
    VmRow {
        name: data.vm.clone(),
        provider: "azure".into(),
        state: if power == "running" {
            VmState::Running
        } else {
            VmState::Stopped
        },
        connect_mode: ConnectMode::Listen,
        address: None,
        created_at: 0,
        cert_serial: None,
        provider_data: serde_json::to_string(data).unwrap_or_else(|_| "{}".into()),
    }
}

/// One subscription's three lists, read at once.
pub async fn snapshot(arm: &ArmClient, subscription: &str) -> anyhow::Result<Snapshot> {
    let sub = format!("/subscriptions/{subscription}/providers");
    let vms_path = format!("{sub}/Microsoft.Compute/virtualMachines?statusOnly=true");
    let nics_path = format!("{sub}/Microsoft.Network/networkInterfaces");
    let ips_path = format!("{sub}/Microsoft.Network/publicIPAddresses");
    let (vms, nics, ips) = tokio::join!(
        arm.list::<VirtualMachine>(&vms_path, api::COMPUTE),
        arm.list::<NetworkInterface>(&nics_path, api::NETWORK),
        arm.list::<PublicIpAddress>(&ips_path, api::NETWORK),
    );
    Ok(Snapshot {
        vms: vms?,
        nics: nics?,
        ips: ips?,
    })
}

/// The resource group a request works in, read: where adoption and
/// `kill` of a VM azlin did not make look for it.
pub struct GroupRead {
    pub arm: Arc<ArmClient>,
    pub subscription: String,
    pub group: String,
    pub snapshot: Snapshot,
}

impl AzureProvider {
    /// Read the request's (or the configured) subscription, for its group.
    pub async fn read_group(&self, azure: &AzureContext) -> anyhow::Result<GroupRead> {
        let subscription = self.subscription(&azure.target).await?;
        let group = self.resource_group(&azure.target);
        let arm = self.client(&azure.access).await?;
        let snapshot = snapshot(&arm, &subscription).await?;
        Ok(GroupRead {
            arm,
            subscription,
            group,
            snapshot,
        })
    }

    /// ARM's view of each of `rows` (azlin's Azure VMs) by name, and every
    /// other VM in their resource groups and in the request's (or the
    /// configured) resource group.
    pub async fn inventory(&self, rows: &[&VmRow], azure: &AzureContext) -> CloudViews {
        let mut out = CloudViews::default();
        // Subscription → (groups to look in, azlin's VMs there).
        let mut subs: BTreeMap<String, (BTreeSet<String>, Vec<Ours>)> = BTreeMap::new();
        for row in rows {
            match data_of(row) {
                Ok(d) => {
                    let entry = subs.entry(d.subscription.to_ascii_lowercase()).or_default();
                    entry.0.insert(d.resource_group.to_ascii_lowercase());
                    entry.1.push((row.name.clone(), d));
                }
                Err(e) => {
                    out.views
                        .insert(row.name.clone(), unknown(format!("{e:#}")));
                }
            }
        }
        // The group the user works in, when Azure is set up at all: named
        // on the command line, or a subscription configured.
        if self.looks_in_azure(&azure.target)
            && let Ok(sub) = self.subscription(&azure.target).await
        {
            subs.entry(sub.to_ascii_lowercase())
                .or_default()
                .0
                .insert(self.resource_group(&azure.target).to_ascii_lowercase());
        }
        let arm = match self.client(&azure.access).await {
            Ok(arm) => arm,
            Err(e) => {
                for (name, _) in subs.into_values().flat_map(|(_, d)| d) {
                    out.views.insert(name, unknown(format!("{e:#}")));
                }
                return out;
            }
        };
        let mut reads = tokio::task::JoinSet::new();
        for (sub, (groups, ours)) in subs {
            let arm = arm.clone();
            reads.spawn(async move {
                let snapshot = snapshot(&arm, &sub).await;
                (sub, groups, ours, snapshot)
            });
        }
        for (sub, groups, ours, snapshot) in reads.join_all().await {
            let snapshot = match snapshot {
                Ok(s) => s,
                Err(e) => {
                    for (name, _) in ours {
                        out.views.insert(name, unknown(format!("{e:#}")));
                    }
                    continue;
                }
            };
            join(&snapshot, &sub, &groups, &ours, &mut out);
        }
        out
    }
}

/// One of azlin's VMs: its fleet name (views are keyed by it) and where
/// it is in Azure.
type Ours = (String, AzureData);

/// azlin's VMs' views, and the other VMs of `groups`, from one snapshot.
pub fn join(
    snapshot: &Snapshot,
    subscription: &str,
    groups: &BTreeSet<String>,
    ours: &[Ours],
    out: &mut CloudViews,
) {
    let mut known: BTreeSet<(String, String)> = BTreeSet::new();
    for (name, d) in ours {
        known.insert((
            d.resource_group.to_ascii_lowercase(),
            d.vm.to_ascii_lowercase(),
        ));
        let view = match snapshot.vm(&d.resource_group, &d.vm) {
            Some(vm) => snapshot.view(vm),
            None => CloudView {
                power: "missing".into(),
                error: Some(format!(
                    "ARM has no VM {} in resource group {}: deleted outside azlin? `azlin kill \
                     {}` removes what is left",
                    d.vm, d.resource_group, name
                )),
                ..CloudView::default()
            },
        };
        out.views.insert(name.clone(), view);
    }
    for vm in &snapshot.vms {
        let Some(group) = vm.id.as_deref().and_then(group_of) else {
            continue;
        };
        let name = vm.name.clone().unwrap_or_default();
        let key = (group.to_ascii_lowercase(), name.to_ascii_lowercase());
        if !groups.contains(&key.0) || known.contains(&key) {
            continue;
        }
        let view = snapshot.view(vm);
        let data = snapshot.owned(vm, subscription);
        out.unmanaged
            .push((unmanaged_row(&data, &view.power), view));
    }
}

fn unknown(error: String) -> CloudView {
    CloudView {
        power: "unknown".into(),
        error: Some(error),
        ..CloudView::default()
    }
}
