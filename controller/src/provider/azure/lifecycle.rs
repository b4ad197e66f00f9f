//! An Azure VM after it exists: power actions, resize, tags, and deletion
//! of everything azlin made for it. (Its state as ARM has it is read in
//! [`super::inventory`].)

use anyhow::{Context, Result, bail};

use super::{AzureData, AzureProvider, data_of};
use crate::{
    azure::{
        api,
        context::ArmAccess,
        models::{compute::VirtualMachine, resources::TagsResource},
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

impl AzureProvider {
    pub async fn power(&self, vm: &VmRow, action: PowerAction, access: &ArmAccess) -> Result<()> {
        let data = data_of(vm)?;
        let arm = self.client(access).await?;
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
    pub async fn resize(&self, vm: &VmRow, size: &str, access: &ArmAccess) -> Result<String> {
        let data = data_of(vm)?;
        let arm = self.client(access).await?;
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

    /// What `kill` removes, in order: ids for `destroy --dry-run`.
    pub fn planned_deletions(vm: &VmRow) -> Result<Vec<String>> {
        Ok(Self::deletions(&data_of(vm)?))
    }

    /// What deleting the VM deletes, in order: the VM, its NIC, then the
    /// rest. A VM azlin did not make has no deployment of azlin's, and may
    /// have no public IP or an NSG others use (left out of `d`).
    fn deletions(d: &AzureData) -> Vec<String> {
        let mut out = vec![
            d.vm_path(),
            d.path("Microsoft.Network/networkInterfaces", &d.nic),
        ];
        for (kind, name) in [
            ("Microsoft.Network/publicIPAddresses", &d.public_ip),
            ("Microsoft.Network/networkSecurityGroups", &d.nsg),
            ("Microsoft.Compute/disks", &d.os_disk),
        ] {
            if !name.is_empty() {
                out.push(d.path(kind, name));
            }
        }
        for disk in &d.data_disks {
            out.push(d.path("Microsoft.Compute/disks", disk));
        }
        if d.made_by_azlin {
            out.push(d.deployment_path());
        }
        out
    }

    /// Delete the VM, then its NIC, and then its public IP, NSG, OS disk
    /// and the deployment record together. What is already gone is fine, so a second `kill` after a
    /// failed one finishes the job.
    pub async fn delete(&self, vm: &VmRow, access: &ArmAccess) -> Result<()> {
        self.delete_resources(&data_of(vm)?, access).await
    }

    /// Delete a VM's resources by name (also after a create that failed
    /// half-way, before anything was recorded).
    pub(super) async fn delete_resources(
        &self,
        data: &AzureData,
        access: &ArmAccess,
    ) -> Result<()> {
        let arm = self.client(access).await?;
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
        // The VM before its NIC, the NIC before what it holds.
        for id in &ids[..2] {
            arm.delete(id, api_of(id))
                .await
                .with_context(|| format!("cannot delete {id}"))?;
        }
        let mut rest = tokio::task::JoinSet::new();
        for id in ids.into_iter().skip(2) {
            let (arm, api) = (arm.clone(), api_of(&id));
            rest.spawn(async move {
                arm.delete(&id, api)
                    .await
                    .with_context(|| format!("cannot delete {id}"))
            });
        }
        for r in rest.join_all().await {
            r?;
        }
        Ok(())
    }
}

/// Tags azlin puts on every Azure resource it makes and finds them by.
const OWN_TAGS: [&str; 3] = ["managed-by", "azlin-vm", "azlin-session"];

impl AzureProvider {
    /// Set and remove tags on the VM in Azure (through the Tags API, so
    /// nothing else of the VM is written); azlin's own tags stay.
    pub async fn set_tags(
        &self,
        vm: &VmRow,
        set: &[(String, String)],
        remove: &[String],
        access: &ArmAccess,
    ) -> Result<()> {
        let own = set
            .iter()
            .map(|(k, _)| k)
            .chain(remove)
            .find(|k| OWN_TAGS.iter().any(|o| o.eq_ignore_ascii_case(k)));
        if let Some(k) = own {
            bail!(
                "{k} is azlin's own tag on Azure resources (it finds them by it); pick another key"
            );
        }
        let data = data_of(vm)?;
        let arm = self.client(access).await?;
        let path = format!(
            "{}/providers/Microsoft.Resources/tags/default",
            data.vm_path()
        );
        let mut tags: TagsResource = arm.get(&path, api::RESOURCES).await?;
        for (k, v) in set {
            tags.properties.tags.insert(k.clone(), v.clone());
        }
        for k in remove {
            tags.properties.tags.remove(k);
        }
        let body = TagsResource {
            id: None,
            properties: tags.properties,
        };
        arm.put::<_, TagsResource>(&path, api::RESOURCES, &body)
            .await
            .with_context(|| format!("cannot tag {} in Azure", vm.name))?;
        Ok(())
    }
}
