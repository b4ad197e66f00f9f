//! The Azure provider: each VM is an Azure VM made through ARM with its own
//! NSG, public IP and NIC in a shared resource group and VNet, booted with
//! the cloud-init user-data of `azlin-cloud-init` as custom data. The agent
//! listens on its default UDP port at the public IP, which the VM's NSG
//! admits (with SSH) only from the allowed CIDR, never from everywhere.
//!
//! What azlin made for a VM is recorded in `state.db` ([`AzureData`]), so
//! `kill` removes exactly that: the VM, its NIC, public IP, OS disk and NSG.

mod create;
mod inventory;
mod lifecycle;
mod public_ip;
mod template;

use std::{collections::HashMap, sync::Arc};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::{
    azure::{
        access::ArmAccess,
        client::{AZURE_ENDPOINT, ArmClient},
        credentials::Credentials,
        settings::{AzureConfig, DEFAULT_LOCATION, DEFAULT_RESOURCE_GROUP, DEFAULT_VM_SIZE},
        subscription,
    },
    home::Home,
};

pub use lifecycle::PowerAction;

/// Where one VM lives and what azlin made for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureData {
    pub subscription: String,
    pub resource_group: String,
    pub location: String,
    pub vm_size: String,
    pub vm: String,
    pub nic: String,
    pub public_ip: String,
    pub nsg: String,
    pub os_disk: String,
    #[serde(default)]
    pub public_address: Option<String>,
    #[serde(default)]
    pub private_address: Option<String>,
}

impl AzureData {
    fn group_path(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription, self.resource_group
        )
    }

    fn path(&self, provider_type: &str, name: &str) -> String {
        format!("{}/providers/{provider_type}/{name}", self.group_path())
    }

    pub fn vm_path(&self) -> String {
        self.path("Microsoft.Compute/virtualMachines", &self.vm)
    }

    /// The template deployment that made the VM's resources (ARM keeps it
    /// in the group's deployment history; `kill` removes it too).
    pub fn deployment_path(&self) -> String {
        self.path(
            "Microsoft.Resources/deployments",
            &format!("azlin-{}", self.vm),
        )
    }
}

/// Per-request choices that override config.toml (and, on the commands
/// that act on VMs, the only subscription and resource group they touch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub subscription: Option<String>,
    pub resource_group: Option<String>,
}

pub struct AzureProvider {
    home: Home,
    config: AzureConfig,
    /// The original azlin tool's top-level keys, read as defaults.
    legacy: toml::Table,
    /// One client per endpoint and token the requests have named.
    clients: tokio::sync::Mutex<HashMap<ArmAccess, Arc<ArmClient>>>,
    /// Held while the shared resource group and VNet are checked or made.
    shared_setup: tokio::sync::Mutex<()>,
    /// The local azlin-agent's sha256, when `agent_sha256` is not set.
    agent_sha256: tokio::sync::OnceCell<String>,
}

impl AzureProvider {
    pub fn new(home: Home, config: AzureConfig, legacy: toml::Table) -> Self {
        Self {
            home,
            config,
            legacy,
            clients: Default::default(),
            shared_setup: tokio::sync::Mutex::new(()),
            agent_sha256: tokio::sync::OnceCell::new(),
        }
    }

    /// The ARM client for the request being served: its
    /// `AZLIN_ARM_ENDPOINT` or Azure's, with its `AZLIN_ARM_TOKEN` or the
    /// sign-in chain `azure::credentials` documents. Made on first use and
    /// kept, so its sign-in and write cap last across requests.
    pub async fn client(&self) -> Result<Arc<ArmClient>> {
        let access = ArmAccess::current();
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(&access) {
            return Ok(c.clone());
        }
        let endpoint = access.endpoint.as_deref().unwrap_or(AZURE_ENDPOINT);
        let credentials = Credentials::with_token(access.token.clone())?;
        let client = Arc::new(
            ArmClient::new(endpoint, credentials)?
                .with_write_cap(self.config.writes_per_second.unwrap_or(10.0)),
        );
        clients.insert(access, client.clone());
        Ok(client)
    }

    fn legacy(&self, key: &str) -> Option<String> {
        self.legacy
            .get(key)
            .and_then(|v| v.as_str())
            .map(String::from)
    }

    pub fn resource_group(&self, target: &Target) -> String {
        target
            .resource_group
            .clone()
            .or_else(|| self.config.resource_group.clone())
            .or_else(|| self.legacy("default_resource_group"))
            .unwrap_or_else(|| DEFAULT_RESOURCE_GROUP.into())
    }

    pub fn location(&self) -> String {
        self.config
            .location
            .clone()
            .or_else(|| self.legacy("default_region"))
            .unwrap_or_else(|| DEFAULT_LOCATION.into())
    }

    pub fn vm_size(&self) -> String {
        self.config
            .vm_size
            .clone()
            .or_else(|| self.legacy("default_vm_size"))
            .unwrap_or_else(|| DEFAULT_VM_SIZE.into())
    }

    pub async fn subscription(&self, target: &Target) -> Result<String> {
        let s = subscription::resolve(
            target.subscription.as_deref(),
            self.config.subscription.as_deref(),
        )
        .await?;
        Ok(s.id)
    }
}

pub fn data_of(vm: &crate::state::VmRow) -> Result<AzureData> {
    serde_json::from_str(&vm.provider_data).with_context(|| {
        format!(
            "{} has no Azure resources recorded; remove it with azlin kill",
            vm.name
        )
    })
}

/// The names azlin gives a VM's resources.
pub fn resource_names(vm: &str) -> (String, String, String, String) {
    (
        format!("{vm}-nic"),
        format!("{vm}-ip"),
        format!("{vm}-nsg"),
        format!("{vm}-osdisk"),
    )
}
