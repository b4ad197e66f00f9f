//! What ARM says of azlin's Azure VMs right now, for `list` and `status`:
//! power state, size, region, addresses and tags, which can change outside
//! azlin (the portal, `az`, Azure itself). Per resource group it reads the
//! VM list and the public-IP list once, and each VM's instance view (the
//! only place ARM gives the power state), all at once; so a list costs
//! two requests per group and one per VM, not three per VM as
//! `az vm list -d` does.
//!
//! A group that cannot be read marks its VMs with the error instead of
//! failing the list: the agents' live data is still worth showing.

use std::{collections::BTreeMap, sync::Arc};

use super::{AzureData, AzureProvider, data_of};
use crate::{
    azure::{
        api,
        client::ArmClient,
        context::ArmAccess,
        models::{
            compute::{InstanceView, VirtualMachine},
            network::PublicIpAddress,
        },
    },
    ipc::CloudView,
    state::VmRow,
};

impl AzureProvider {
    /// ARM's view of each of `rows` (Azure VMs), by VM name.
    pub async fn inventory(
        &self,
        rows: &[&VmRow],
        access: &ArmAccess,
    ) -> BTreeMap<String, CloudView> {
        let mut groups: BTreeMap<(String, String), Vec<AzureData>> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for row in rows {
            match data_of(row) {
                Ok(d) => groups
                    .entry((d.subscription.clone(), d.resource_group.clone()))
                    .or_default()
                    .push(d),
                Err(e) => {
                    out.insert(row.name.clone(), unknown(format!("{e:#}")));
                }
            }
        }
        let arm = match self.client(access).await {
            Ok(arm) => arm,
            Err(e) => {
                for d in groups.into_values().flatten() {
                    out.insert(d.vm.clone(), unknown(format!("{e:#}")));
                }
                return out;
            }
        };
        let mut reads = tokio::task::JoinSet::new();
        for vms in groups.into_values() {
            reads.spawn(group_inventory(arm.clone(), vms));
        }
        for views in reads.join_all().await {
            out.extend(views);
        }
        out
    }
}

async fn group_inventory(arm: Arc<ArmClient>, vms: Vec<AzureData>) -> Vec<(String, CloudView)> {
    let group = vms[0].group_path();
    let mut instance_views = tokio::task::JoinSet::new();
    for (i, d) in vms.iter().enumerate() {
        let (arm, path) = (arm.clone(), format!("{}/instanceView", d.vm_path()));
        instance_views
            .spawn(async move { (i, arm.get_opt::<InstanceView>(&path, api::COMPUTE).await) });
    }
    let vms_path = format!("{group}/providers/Microsoft.Compute/virtualMachines");
    let ips_path = format!("{group}/providers/Microsoft.Network/publicIPAddresses");
    let (listed, ips, mut views) = tokio::join!(
        arm.list::<VirtualMachine>(&vms_path, api::COMPUTE),
        arm.list::<PublicIpAddress>(&ips_path, api::NETWORK),
        instance_views.join_all(),
    );
    views.sort_by_key(|(i, _)| *i);
    let (listed, ips) = match (listed, ips) {
        (Ok(l), Ok(i)) => (l, i),
        (Err(e), _) | (_, Err(e)) => {
            return vms
                .iter()
                .map(|d| (d.vm.clone(), unknown(e.to_string())))
                .collect();
        }
    };
    let named = |name: &str| {
        listed.iter().find(|v| {
            v.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    };
    let address = |name: &str| {
        ips.iter()
            .find(|i| {
                i.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .and_then(|i| i.properties.ip_address.clone())
    };
    vms.iter()
        .zip(views)
        .map(|(d, (_, view))| {
            let Some(vm) = named(&d.vm) else {
                return (
                    d.vm.clone(),
                    CloudView {
                        power: "missing".into(),
                        error: Some(format!(
                            "ARM has no VM {} in resource group {}: deleted outside azlin? \
                             `azlin kill {}` removes what is left",
                            d.vm, d.resource_group, d.vm
                        )),
                        ..CloudView::default()
                    },
                );
            };
            let (power, error) = match view {
                Ok(Some(v)) => (v.power_state().unwrap_or("unknown").to_string(), None),
                Ok(None) => ("missing".to_string(), None),
                Err(e) => ("unknown".to_string(), Some(e.to_string())),
            };
            let view = CloudView {
                power,
                size: vm
                    .properties
                    .hardware_profile
                    .as_ref()
                    .map(|h| h.vm_size.clone()),
                location: Some(vm.location.clone()),
                public_ip: address(&d.public_ip),
                private_ip: d.private_address.clone(),
                tags: vm.tags.clone(),
                error,
                ..CloudView::default()
            };
            (d.vm.clone(), view)
        })
        .collect()
}

fn unknown(error: String) -> CloudView {
    CloudView {
        power: "unknown".into(),
        error: Some(error),
        ..CloudView::default()
    }
}
