//! The machine a new Azure VM is: size, region, image, admin user and OS
//! disk size, from `new`'s flags, else `[azure]` in `config.toml` (and the
//! original tool's keys), else azlin's defaults; each checked before
//! anything is made ([`AzureProvider::choose`]). [`AzureProvider::plan_new`]
//! adds what only Azure can say: that the size is offered in the region
//! and the quotas have room ([`super::capacity`]).

use anyhow::Result;

use super::AzureProvider;
use crate::{
    azure::{
        context::{AzureContext, Target},
        settings::ImageUrn,
    },
    ipc::new::Machine,
    provider::{MachineChoice, Prerequisite},
};

/// The smallest and largest OS disk Azure makes for a Linux image, GB.
pub const DISK_GB: std::ops::RangeInclusive<u32> = 30..=4095;

/// A new VM's machine, every part checked.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub size: String,
    pub region: String,
    pub image: ImageUrn,
    pub admin: String,
    pub disk_gb: Option<u32>,
}

impl AzureProvider {
    /// `machine`'s choices over the configured ones, each checked; a bad
    /// one is a [`Prerequisite`] (exit 2) naming the flag.
    pub(super) fn choose(
        &self,
        machine: &Machine,
        target: &Target,
    ) -> Result<Chosen, Prerequisite> {
        let size = machine.size.clone().unwrap_or_else(|| self.vm_size());
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(Prerequisite(format!(
                "--size {size:?} is not a VM size such as Standard_D2s_v5"
            )));
        }
        let region = machine
            .region
            .clone()
            .unwrap_or_else(|| self.location(target));
        if region.is_empty() || !region.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Prerequisite(format!(
                "--region {region:?} is not a region name such as westus2"
            )));
        }
        let image = match &machine.image {
            Some(i) => ImageUrn::resolve(i).map_err(|e| Prerequisite(format!("--image: {e}")))?,
            None => ImageUrn::resolve(
                self.config
                    .image
                    .as_deref()
                    .unwrap_or(crate::azure::settings::DEFAULT_IMAGE),
            )
            .map_err(|e| Prerequisite(format!("azure.image in config.toml: {e}")))?,
        };
        let admin = machine
            .admin_user
            .clone()
            .unwrap_or_else(|| self.admin_user());
        azlin_cloud_init::check_user(&admin)
            .map_err(|e| Prerequisite(format!("--admin-user: {e}")))?;
        if let Some(gb) = machine.disk_gb
            && !DISK_GB.contains(&gb)
        {
            return Err(Prerequisite(format!(
                "--disk-size {gb}: an OS disk is {} to {} GB",
                DISK_GB.start(),
                DISK_GB.end()
            )));
        }
        Ok(Chosen {
            size,
            region: region.to_ascii_lowercase(),
            image,
            admin,
            disk_gb: machine.disk_gb,
        })
    }

    /// The machine `pool` VMs would be, once Azure says it can make them.
    pub(super) async fn plan_new(
        &self,
        machine: &Machine,
        pool: u32,
        azure: &AzureContext,
    ) -> Result<Option<MachineChoice>> {
        let chosen = self.choose(machine, &azure.target)?;
        let subscription = self.subscription(&azure.target).await?;
        let arm = self.client(&azure.access).await?;
        self.check_capacity(&arm, &subscription, &chosen.size, &chosen.region, pool)
            .await?;
        Ok(Some(MachineChoice {
            size: chosen.size,
            region: chosen.region,
        }))
    }
}
