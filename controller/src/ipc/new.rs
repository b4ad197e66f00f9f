//! `azlin new`: VMs a provider makes, or machines registered for their
//! own agents to dial in. Where in Azure (subscription, resource group)
//! comes with the envelope's Azure context, as for every request.

use serde::{Deserialize, Serialize};

use super::{
    Call,
    vms::{Price, VmView},
};
use crate::state::ConnectMode;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct New {
    pub provider: String,
    pub name: Option<String>,
    pub pool: u32,
    pub connect: ConnectMode,
    pub tags: Vec<(String, String)>,
    /// Skip the development tools (cloud-init providers).
    pub no_dev_tools: bool,
    /// The user's home on this storage of the provider's
    /// (`--nfs-storage`).
    pub nfs_storage: Option<String>,
    /// The user's own `#cloud-config`, merged after azlin's parts
    /// (providers whose VMs boot with cloud-init).
    pub cloud_init_extra: Option<String>,
    /// Size, region, image, admin user and disk (providers that choose
    /// the machine; see `Capabilities::machine`).
    pub machine: Machine,
}

/// What `new --size/--region/--image/--admin-user/--disk-size` chose; what
/// is left out comes from `config.toml`, then the provider's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub size: Option<String>,
    pub region: Option<String>,
    /// A URN (`PUBLISHER:OFFER:SKU:VERSION`) or a short alias
    /// (`ubuntu-24.04`).
    pub image: Option<String>,
    pub admin_user: Option<String>,
    pub disk_gb: Option<u32>,
}

impl Machine {
    /// The flags set, as the user typed them, for refusals.
    pub fn flags(&self) -> Vec<&'static str> {
        [
            (self.size.is_some(), "--size"),
            (self.region.is_some(), "--region"),
            (self.image.is_some(), "--image"),
            (self.admin_user.is_some(), "--admin-user"),
            (self.disk_gb.is_some(), "--disk-size"),
        ]
        .into_iter()
        .filter(|(set, _)| *set)
        .map(|(_, f)| f)
        .collect()
    }
}

/// What `new` would make and what it would cost, asked before `New` so the
/// CLI can show the price and ask: the provider checks what it can first
/// (for Azure: the size in the region, the quotas, the price).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanNew {
    pub provider: String,
    pub pool: u32,
    pub machine: Machine,
}

impl Call for PlanNew {
    type Reply = NewPlan;
}

/// The machine `new` would make and its price, when the provider has one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewPlan {
    /// "Standard_D2s_v5 in westus2", or empty for providers without sizes.
    pub machine: String,
    pub price: Option<Price>,
    /// Why there is no price for a machine that has a size.
    pub no_price: Option<String>,
}

impl Call for New {
    type Reply = NewReply;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum NewReply {
    /// Made, enrolled and connected.
    Created(Vec<VmView>),
    /// Machines registered for their own agents to dial in and enroll.
    Joined {
        controller: String,
        ca_pem: String,
        vms: Vec<JoinInfo>,
    },
}

/// What an agent on a registered machine needs to join.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinInfo {
    pub name: String,
    pub token: String,
}
