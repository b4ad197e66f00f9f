//! The Azure provider: each VM is an Azure VM made through ARM with its own
//! NSG, public IP and NIC in a shared resource group and VNet, booted with
//! the cloud-init user-data of `azlin-cloud-init` as custom data. The agent
//! listens on its default UDP port at the public IP, which the VM's NSG
//! admits (with SSH) only from the allowed CIDR, never from everywhere.
//!
//! What azlin made for a VM is recorded in `state.db` ([`AzureData`]), so
//! `kill` removes exactly that: the VM, its NIC, public IP, OS disk and NSG.

mod adopt;
mod agent_store;
mod auto_shutdown;
mod budget;
mod capacity;
mod cleanup;
mod clone;
mod cost;
mod create;
mod inventory;
mod lifecycle;
mod machine;
mod public_ip;
mod snapshot;
pub mod storage;
mod subscription_check;
mod template;
mod unmanaged;
mod waste;

use std::{collections::HashMap, sync::Arc};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::{
    azure::{
        client::{AZURE_ENDPOINT, ArmClient},
        context::{ArmAccess, Target},
        credentials::Credentials,
        settings::{AzureConfig, DEFAULT_LOCATION, DEFAULT_RESOURCE_GROUP, DEFAULT_VM_SIZE},
        subscription,
    },
    home::Home,
};

pub use agent_store::{BLOB_PREFIX, account_name};
pub use lifecycle::PowerAction;

use super::{
    Adoption, Billed, BillingScope, Capabilities, CloudBudget, CloudViews, Kind, MachineChoice,
    NewStyle, Provider, Provisioned, Stage, Started, VmSpec, Work,
};
use crate::{azure::context::AzureContext, cost::dates::Day, ipc::new::Machine, state::VmRow};

/// An Azure VM can be powered off and keep its hardware, be resized, and
/// lives in a subscription and resource group. The daemon dials it.
pub const CAPABILITIES: Capabilities = Capabilities {
    new: NewStyle::Provision,
    max_pool: 100,
    power: true,
    keep_allocated: true,
    resize: true,
    dial: false,
    dev_tools: true,
    azure_target: true,
    machine: true,
    adopt: true,
    agent_upgrade: true,
    cost: true,
    storage: true,
    snapshots: true,
    clone: true,
    own_sshd: true,
    cloud_init: true,
};

impl Provider for AzureProvider {
    fn kind(&self) -> Kind {
        Kind::Azure
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn ready_timeout(&self, _pool: u32) -> std::time::Duration {
        // Boot, cloud-init and the agent download on a cloud VM.
        std::time::Duration::from_secs(600)
    }

    fn plan<'a>(
        &'a self,
        machine: &'a Machine,
        pool: u32,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<Option<MachineChoice>>> {
        Box::pin(self.plan_new(machine, pool, azure))
    }

    fn create<'a>(
        &'a self,
        spec: &'a VmSpec,
        azure: &'a AzureContext,
        stage: Stage<'a>,
    ) -> Work<'a, Result<Provisioned>> {
        Box::pin(self.create(spec, azure, stage))
    }

    fn start<'a>(&'a self, vm: &'a VmRow, azure: &'a AzureContext) -> Work<'a, Result<Started>> {
        Box::pin(async move {
            self.power(vm, PowerAction::Start, &azure.access).await?;
            Ok(Started {
                provider_data: vm.provider_data.clone(),
                address: None,
            })
        })
    }

    fn stop<'a>(
        &'a self,
        vm: &'a VmRow,
        keep_allocated: bool,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        let deallocate = !keep_allocated;
        Box::pin(self.power(vm, PowerAction::Stop { deallocate }, &azure.access))
    }

    /// An Azure VM reboots in place.
    fn restart<'a>(&'a self, vm: &'a VmRow, azure: &'a AzureContext) -> Work<'a, Result<Started>> {
        Box::pin(async move {
            self.power(vm, PowerAction::Restart, &azure.access).await?;
            Ok(Started {
                provider_data: vm.provider_data.clone(),
                address: None,
            })
        })
    }

    fn delete<'a>(&'a self, vm: &'a VmRow, azure: &'a AzureContext) -> Work<'a, Result<()>> {
        Box::pin(self.delete(vm, &azure.access))
    }

    fn deletions(&self, vm: &VmRow) -> Result<Vec<String>> {
        Self::planned_deletions(vm)
    }

    fn resize<'a>(
        &'a self,
        vm: &'a VmRow,
        size: &'a str,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<String>> {
        Box::pin(self.resize(vm, size, &azure.access))
    }

    fn set_tags<'a>(
        &'a self,
        vm: &'a VmRow,
        set: &'a [(String, String)],
        remove: &'a [String],
        azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(self.set_tags(vm, set, remove, &azure.access))
    }

    fn cloud_views<'a>(
        &'a self,
        rows: &'a [&'a VmRow],
        azure: &'a AzureContext,
    ) -> Work<'a, CloudViews> {
        Box::pin(self.inventory(rows, azure))
    }

    fn adoption<'a>(
        &'a self,
        name: &'a str,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<Adoption>> {
        Box::pin(self.adoption(name, azure))
    }

    fn adopt<'a>(
        &'a self,
        adoption: &'a Adoption,
        spec: &'a VmSpec,
        azure: &'a AzureContext,
        stage: Stage<'a>,
    ) -> Work<'a, Result<Provisioned>> {
        Box::pin(self.adopt(adoption, spec, azure, stage))
    }

    fn find_unmanaged<'a>(
        &'a self,
        name: &'a str,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<Option<VmRow>>> {
        Box::pin(self.find_unmanaged(name, azure))
    }

    fn billing_scope<'a>(
        &'a self,
        whole_subscription: bool,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<BillingScope>> {
        Box::pin(self.billing_scope(whole_subscription, azure))
    }

    fn forecast<'a>(
        &'a self,
        scope: &'a BillingScope,
        range: (Day, Day),
        azure: &'a AzureContext,
    ) -> Work<'a, Result<Vec<(Day, f64)>>> {
        Box::pin(self.forecast(scope, range, azure))
    }

    fn waste<'a>(
        &'a self,
        scope: &'a BillingScope,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<super::Waste>> {
        Box::pin(self.waste(scope, azure))
    }

    fn sizes<'a>(
        &'a self,
        region: &'a str,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<Vec<crate::cost::recommend::SizeInfo>>> {
        Box::pin(self.sizes(region, azure))
    }

    fn delete_resource<'a>(&'a self, id: &'a str, azure: &'a AzureContext) -> Work<'a, Result<()>> {
        Box::pin(self.delete_resource(id, azure))
    }

    fn put_auto_shutdown<'a>(
        &'a self,
        vm: &'a VmRow,
        clock: crate::cost::schedule::Clock,
        windows_zone: &'a str,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<Option<String>>> {
        Box::pin(async move {
            self.put_auto_shutdown(vm, clock, windows_zone, azure)
                .await
                .map(Some)
        })
    }

    fn delete_auto_shutdown<'a>(
        &'a self,
        id: &'a str,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(self.delete_auto_shutdown(id, azure))
    }

    fn put_budget<'a>(
        &'a self,
        scope: &'a BillingScope,
        budget: &'a CloudBudget,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<String>> {
        Box::pin(self.put_budget(scope, budget, azure))
    }

    fn delete_budget<'a>(&'a self, id: &'a str, azure: &'a AzureContext) -> Work<'a, Result<()>> {
        Box::pin(self.delete_budget(id, azure))
    }

    fn snapshots(&self) -> Option<&dyn crate::provider::snapshots::Snapshots> {
        Some(self)
    }

    fn cleanup(&self) -> Option<&dyn crate::provider::cleanup::Cleanup> {
        Some(self)
    }

    fn subscription_check(
        &self,
    ) -> Option<&dyn crate::provider::subscription_check::SubscriptionCheck> {
        Some(self)
    }

    fn storage(&self) -> Option<&dyn crate::provider::storage::SharedStorage> {
        Some(self)
    }

    fn billed<'a>(
        &'a self,
        scope: &'a BillingScope,
        range: (Day, Day),
        azure: &'a AzureContext,
    ) -> Work<'a, Result<Billed>> {
        Box::pin(self.billed(scope, range, azure))
    }

    fn made_by_azlin(&self, vm: &VmRow) -> bool {
        data_of(vm).is_ok_and(|d| d.made_by_azlin)
    }

    fn place(&self, vm: &VmRow) -> String {
        match data_of(vm) {
            Ok(data) => format!(
                "in resource group {} of subscription {}",
                data.resource_group, data.subscription
            ),
            Err(_) => "an Azure VM with no resources recorded".into(),
        }
    }

    fn cloud_name(&self, vm: &VmRow) -> Option<String> {
        data_of(vm).ok().map(|d| d.vm)
    }

    fn place_key(&self, vm: &VmRow) -> Option<String> {
        data_of(vm)
            .ok()
            .map(|d| place_key(&d.subscription, &d.resource_group))
    }

    fn new_place_key<'a>(&'a self, azure: &'a AzureContext) -> Work<'a, Result<Option<String>>> {
        Box::pin(async move {
            let subscription = self.subscription(&azure.target).await?;
            Ok(Some(place_key(
                &subscription,
                &self.resource_group(&azure.target),
            )))
        })
    }

    fn in_target(&self, vm: &VmRow, target: &Target) -> bool {
        let Ok(data) = data_of(vm) else {
            return false;
        };
        if target.is_empty() {
            return target.context_holds(&data.subscription, &data.resource_group);
        }
        // Flags given: the subscription named (else the context's), and
        // the resource group named, if one is.
        let same =
            |want: Option<&str>, have: &str| want.is_none_or(|w| w.eq_ignore_ascii_case(have));
        same(target.subscription(), &data.subscription)
            && same(target.resource_group.as_deref(), &data.resource_group)
    }
}

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
    /// Data disks azlin made for the VM (a clone's copies of its
    /// source's), deleted with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_disks: Vec<String>,
    #[serde(default)]
    pub public_address: Option<String>,
    #[serde(default)]
    pub private_address: Option<String>,
    /// `false` for a VM azlin found in a resource group but did not make:
    /// only what it owns is deleted, and no template deployment is.
    #[serde(default = "made_by_azlin")]
    pub made_by_azlin: bool,
}

fn made_by_azlin() -> bool {
    true
}

/// A resource group of a subscription, and the region azlin makes
/// things in there: where the shared network and storage live.
#[derive(Debug, Clone)]
pub struct GroupPlace {
    pub subscription: String,
    pub resource_group: String,
    pub location: String,
}

impl GroupPlace {
    fn group_path(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription, self.resource_group
        )
    }

    fn path(&self, provider_type: &str, name: &str) -> String {
        format!("{}/providers/{provider_type}/{name}", self.group_path())
    }
}

impl AzureData {
    fn place(&self) -> GroupPlace {
        GroupPlace {
            subscription: self.subscription.clone(),
            resource_group: self.resource_group.clone(),
            location: self.location.clone(),
        }
    }

    fn group_path(&self) -> String {
        self.place().group_path()
    }

    fn path(&self, provider_type: &str, name: &str) -> String {
        self.place().path(provider_type, name)
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
    /// The agent stores found or made, by subscription and region.
    agent_stores: tokio::sync::Mutex<HashMap<(String, String), agent_store::Store>>,
    /// Held from checking for the agent's blob to committing it: a pool's
    /// VMs would otherwise upload it together, and Azure discards one
    /// upload's blocks when the other commits.
    agent_upload: tokio::sync::Mutex<()>,
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
            agent_stores: Default::default(),
            agent_upload: Default::default(),
        }
    }

    /// The ARM client for `access` (the request's): its
    /// `AZLIN_ARM_ENDPOINT` or Azure's, with its `AZLIN_ARM_TOKEN` or the
    /// sign-in chain `azure::credentials` documents. Made on first use and
    /// kept, so its sign-in and write cap last across requests.
    pub async fn client(&self, access: &ArmAccess) -> Result<Arc<ArmClient>> {
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(access) {
            return Ok(c.clone());
        }
        let endpoint = access.endpoint.as_deref().unwrap_or(AZURE_ENDPOINT);
        let credentials = Credentials::with_token(access.token.clone(), access.tenant.clone())?;
        let client = Arc::new(
            ArmClient::new(endpoint, credentials)?
                .with_write_cap(self.config.writes_per_second.unwrap_or(10.0)),
        );
        clients.insert(access.clone(), client.clone());
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
            .resource_group()
            .map(str::to_string)
            .or_else(|| self.config.resource_group.clone())
            .or_else(|| self.legacy("default_resource_group"))
            .unwrap_or_else(|| DEFAULT_RESOURCE_GROUP.into())
    }

    /// The region new things go in: the context's, else `[azure]
    /// location`, else the original tool's default.
    pub fn location(&self, target: &Target) -> String {
        target
            .region()
            .map(str::to_string)
            .or_else(|| self.config.location.clone())
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

    /// Whether azlin looks in Azure for this request at all: a subscription
    /// or resource group named on the command line, or a subscription
    /// configured (without one, no `az` is asked for a default).
    pub fn looks_in_azure(&self, target: &Target) -> bool {
        !target.is_empty() || target.context.is_some() || self.config.subscription.is_some()
    }

    pub async fn subscription(&self, target: &Target) -> Result<String> {
        let context = target
            .context
            .as_ref()
            .map(|c| (c.name.as_str(), c.context.subscription.as_str()));
        let s = subscription::resolve(
            target.subscription.as_deref(),
            context,
            self.config.subscription.as_deref(),
        )
        .await?;
        Ok(s.id)
    }
}

/// A resource group's place key (`crate::vm_key`): `subscription/group`,
/// lower case, as ARM compares them.
pub fn place_key(subscription: &str, resource_group: &str) -> String {
    format!(
        "{}/{}",
        subscription.to_ascii_lowercase(),
        resource_group.to_ascii_lowercase()
    )
}

pub fn data_of(vm: &VmRow) -> Result<AzureData> {
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
