//! `azlin new`: VMs a provider makes, or machines registered for their
//! own agents to dial in. Where in Azure (subscription, resource group)
//! comes with the envelope's Azure context, as for every request.

use serde::{Deserialize, Serialize};

use super::{Call, vms::VmView};
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
