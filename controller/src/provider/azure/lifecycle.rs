//! An Azure VM after it exists: power actions, resize, its state as ARM
//! has it, and deletion of everything azlin made for it.

use anyhow::{Context, Result};

use super::{AzureData, AzureProvider, data_of};
use crate::{
    azure::{
        api,
        models::{compute::VirtualMachine, network::PublicIpAddress},
    },
    state::VmRow,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    Start,
    /// Stop; deallocating also stops the compute billing.
    Stop {
        deallocate: bool,
    },
    Restart,
}

/// ARM's view of one VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmState {
    /// `running`, `stopped`, `deallocated`, `starting`… (`unknown` if
    /// ARM reports none).
    pub power: String,
    pub size: String,
    pub public_address: Option<String>,
}

impl AzureProvider {
    pub async fn power(&self, vm: &VmRow, action: PowerAction) -> Result<()> {
        let data = data_of(vm)?;
        let arm = self.client().await?;
        let verb = match action {
            PowerAction::Start => "start",
            PowerAction::Stop { deallocate: true } => "deallocate",
            PowerAction::Stop { deallocate: false } => "powerOff",
            PowerAction::Restart => "restart",
        };
        arm.action(&format!("{}/{verb}", data.vm_path()), api::COMPUTE)
            .await
            .with_context(|| format!("cannot {verb} {}", vm.name))
    }

    /// Change the VM's size; returns the new provider data.
    pub async fn resize(&self, vm: &VmRow, size: &str) -> Result<String> {
        let data = data_of(vm)?;
        let arm = self.client().await?;
        let mut body: VirtualMachine = arm.get(&data.vm_path(), api::COMPUTE).await?;
        let profile = body
            .properties
            .hardware_profile
            .get_or_insert_with(Default::default);
        profile.vm_size = size.to_string();
        // Read-only parts ARM refuses back.
        body.properties.instance_view = None;
        arm.put::<_, VirtualMachine>(&data.vm_path(), api::COMPUTE, &body)
            .await
            .with_context(|| format!("cannot resize {} to {size}", vm.name))?;
        Ok(serde_json::to_string(&AzureData {
            vm_size: size.to_string(),
            ..data
        })?)
    }

    /// Power state, size and address as ARM has them now.
    pub async fn arm_state(&self, vm: &VmRow) -> Result<ArmState> {
        let data = data_of(vm)?;
        let arm = self.client().await?;
        let path = format!("{}?$expand=instanceView", data.vm_path());
        let body: VirtualMachine = arm.get(&path, api::COMPUTE).await?;
        let power = body
            .properties
            .instance_view
            .as_ref()
            .and_then(|v| v.power_state())
            .unwrap_or("unknown")
            .to_string();
        let size = body
            .properties
            .hardware_profile
            .map(|h| h.vm_size)
            .unwrap_or(data.vm_size.clone());
        let ip: Option<PublicIpAddress> = arm
            .get_opt(
                &data.path("Microsoft.Network/publicIPAddresses", &data.public_ip),
                api::NETWORK,
            )
            .await?;
        Ok(ArmState {
            power,
            size,
            public_address: ip.and_then(|i| i.properties.ip_address),
        })
    }

    /// What `kill` removes, in order: ids for `destroy --dry-run`.
    pub fn planned_deletions(vm: &VmRow) -> Result<Vec<String>> {
        Ok(Self::deletions(&data_of(vm)?))
    }

    fn deletions(d: &AzureData) -> Vec<String> {
        vec![
            d.vm_path(),
            d.path("Microsoft.Network/networkInterfaces", &d.nic),
            d.path("Microsoft.Network/publicIPAddresses", &d.public_ip),
            d.path("Microsoft.Network/networkSecurityGroups", &d.nsg),
            d.path("Microsoft.Compute/disks", &d.os_disk),
            d.deployment_path(),
        ]
    }

    /// Delete the VM, then its NIC, and then its public IP, NSG, OS disk
    /// and the deployment record together. What is already gone is fine, so a second `kill` after a
    /// failed one finishes the job.
    pub async fn delete(&self, vm: &VmRow) -> Result<()> {
        self.delete_resources(&data_of(vm)?).await
    }

    /// Delete a VM's resources by name (also after a create that failed
    /// half-way, before anything was recorded).
    pub(super) async fn delete_resources(&self, data: &AzureData) -> Result<()> {
        let arm = self.client().await?;
        let ids = Self::deletions(data);
        let api_of = |id: &str| {
            if id.contains("/Microsoft.Compute/disks/") {
                api::DISKS
            } else if id.contains("/Microsoft.Resources/") {
                api::RESOURCES
            } else if id.contains("/Microsoft.Compute/") {
                api::COMPUTE
            } else {
                api::NETWORK
            }
        };
        for id in &ids[..2] {
            arm.delete(id, api_of(id))
                .await
                .with_context(|| format!("cannot delete {id}"))?;
        }
        let (a, b, c, d) = tokio::join!(
            arm.delete(&ids[2], api_of(&ids[2])),
            arm.delete(&ids[3], api_of(&ids[3])),
            arm.delete(&ids[4], api_of(&ids[4])),
            arm.delete(&ids[5], api_of(&ids[5])),
        );
        for (id, r) in ids[2..].iter().zip([a, b, c, d]) {
            r.with_context(|| format!("cannot delete {id}"))?;
        }
        Ok(())
    }
}
