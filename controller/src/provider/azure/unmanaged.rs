//! Azure VMs azlin did not make, acted on by name: `start`, `stop`,
//! `restart`, `resize`, `tag` and `destroy` find such a VM in the request's
//! resource group (or the configured one) when `state.db` has no VM of
//! that name, as a row that is never stored. What `destroy` removes of it
//! is only what it owns ([`super::inventory::Snapshot::owned`]; its NSG
//! only when no subnet and no other NIC uses it).
//!
//! Not here: listing them (`inventory`), or bringing them into the fleet.

use anyhow::Result;

use super::{
    AzureProvider,
    inventory::{name_of, unmanaged_row},
};
use crate::{
    azure::{api, context::AzureContext, models::network::NetworkSecurityGroup},
    state::VmRow,
};

impl AzureProvider {
    /// The VM `name` in the request's resource group, when Azure is set up
    /// (a subscription or group named, or configured) and has one.
    pub(super) async fn find_unmanaged(
        &self,
        name: &str,
        azure: &AzureContext,
    ) -> Result<Option<VmRow>> {
        if !self.looks_in_azure(&azure.target) {
            return Ok(None);
        }
        let super::inventory::GroupRead {
            arm,
            subscription,
            group,
            snapshot: snap,
        } = self.read_group(azure).await?;
        let Some(vm) = snap.vm(&group, name) else {
            return Ok(None);
        };
        let mut data = snap.owned(vm, &subscription);
        // The NSG goes with the VM only if nothing else uses it: no other
        // NIC (checked in the snapshot) and no subnet (asked of the NSG,
        // which lists both).
        if !data.nsg.is_empty() {
            let path = format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/networkSecurityGroups/{}",
                data.subscription, data.resource_group, data.nsg
            );
            let nsg: Option<NetworkSecurityGroup> = arm.get_opt(&path, api::NETWORK).await?;
            let own_nic = |id: &str| name_of(id).eq_ignore_ascii_case(&data.nic);
            let shared = nsg.is_some_and(|n| {
                !n.properties.subnets.is_empty()
                    || n.properties
                        .network_interfaces
                        .iter()
                        .any(|r| !own_nic(&r.id))
            });
            if shared {
                data.nsg.clear();
            }
        }
        let power = snap.view(vm).power;
        Ok(Some(unmanaged_row(&data, &power)))
    }
}
