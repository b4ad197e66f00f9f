//! Providers bring VMs into the fleet and act on them: every provider
//! creates (or registers), starts, stops and deletes VMs; everything else
//! is an optional capability ([`capability`]), refused before anything
//! happens when the VM's provider lacks it ([`Providers::require`]). Each
//! VM's agent is set up with the same inputs whatever the provider: its
//! name, the fleet CA, a one-time join token and which side dials.
//!
//! - [`local`]: each VM is an agent process on this machine.
//! - [`docker`]: each VM is a container booted by systemd and the real
//!   cloud-init, which installs and enrolls the agent.
//! - [`azure`]: each VM is an Azure VM made through ARM, booted with the
//!   same cloud-init as custom data.
//! - [`external`]: machines the user runs; azlin only records them.
//!
//! [`Providers::of`] is the one place a VM's provider name becomes its
//! provider. What is not here: the fleet's state (`state`), the agents'
//! connections (`daemon`).

pub mod azure;
pub mod capability;
pub mod cleanup;
pub mod docker;
pub mod external;
pub mod local;
pub mod snapshots;
pub mod storage;
pub mod subscription_check;

use std::{collections::BTreeMap, future::Future, pin::Pin, time::Duration};

use anyhow::Result;
use azlin_protocol::enroll::JoinToken;

pub use capability::{Capabilities, Kind, NewStyle, Operation};

use crate::{
    azure::context::{AzureContext, Target},
    cost::dates::Day,
    ipc::{CloudView, new::Machine},
    state::VmRow,
};

/// A provider's work in progress (boxed, so providers are one trait object).
pub type Work<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Told each step of a creation as it ends.
pub type Stage<'a> = &'a (dyn Fn(String) + Send + Sync);

/// How the new VM's agent reaches the controller.
#[derive(Debug, Clone)]
pub enum AgentConnect {
    /// The agent listens; the provider picks the address.
    Listen,
    /// The agent dials the daemon at this address.
    Dial { controller: String },
}

/// Everything a provider needs to bring up one VM.
pub struct VmSpec {
    /// The fleet name (`crate::vm_key`): the agent's identity.
    pub name: String,
    /// The name the cloud gives the VM and its resources (the fleet name,
    /// unless that is qualified).
    pub cloud_name: String,
    pub token: JoinToken,
    pub ca_pem: String,
    pub connect: AgentConnect,
    /// Install the development tools (cloud-init providers).
    pub dev_tools: bool,
    /// The name the user gave the VM, for the cloud's tags.
    pub session_name: Option<String>,
    /// Size, region, image, admin user, disk (providers whose
    /// capabilities have `machine`; empty for the others).
    pub machine: Machine,
    /// The NFS export the agent mounts as the user's home
    /// (`new --nfs-storage`; providers with `storage`).
    pub shared_home: Option<String>,
    /// What the VM is made from when it is a clone: the provider's own
    /// description ([`snapshots::Snapshots::clone_source`]); `None`: a
    /// new VM from the provider's image.
    pub source: Option<String>,
    /// The user's own `#cloud-config`, merged after azlin's parts
    /// (providers with `cloud_init`).
    pub cloud_init_extra: Option<String>,
}

/// Where a bill is read: an Azure resource group or subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingScope {
    /// In words: "resource group rg of subscription s".
    pub words: String,
    /// As the cloud names it (an ARM path): the key days are kept under.
    pub path: String,
    pub subscription: String,
    /// `None`: the whole subscription.
    pub resource_group: Option<String>,
}

/// A monthly budget as the cloud keeps it (see [`Provider::put_budget`]):
/// it notifies `emails` when actual cost passes each percentage.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudBudget {
    pub amount: f64,
    pub percents: Vec<u32>,
    pub emails: Vec<String>,
    /// The first of a month.
    pub start: Day,
    pub end: Day,
}

/// A resource paid for and used by nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Idle {
    pub id: String,
    pub name: String,
    /// When it was made (unix seconds), if the cloud says.
    pub created: Option<i64>,
}

/// What a scope pays for and does not use (see [`Provider::waste`]).
#[derive(Debug, Clone, Default)]
pub struct Waste {
    /// VMs stopped but still allocated (billed as running): each as a
    /// row to act on, with its size and region.
    pub stopped_allocated: Vec<(VmRow, String, String)>,
    pub disks: Vec<Idle>,
    pub ips: Vec<Idle>,
    pub snapshots: Vec<Idle>,
}

/// What a cloud billed in a range (see [`Provider::billed`]).
#[derive(Debug, Clone, Default)]
pub struct Billed {
    /// One resource's cost on one day, as the cloud reported it.
    pub rows: Vec<crate::azure::cost_query::CostRow>,
    /// Lower-case resource id → the VM that owns it.
    pub owners: BTreeMap<String, String>,
    /// Queries the cloud answered (pages included, retries not).
    pub queries: u32,
}

/// A cloud VM azlin did not make, checked for `azlin adopt`.
#[derive(Debug, Clone)]
pub struct Adoption {
    /// The VM as a row (not stored until it is adopted).
    pub row: VmRow,
    /// Where the daemon can dial its agent; `None`: the agent must dial in.
    pub public_address: Option<String>,
    /// The VM's login user, which the agent runs commands as.
    pub user: Option<String>,
    /// What adopting it changes, in words (`adopt --dry-run`).
    pub changes: Vec<String>,
}

/// What a cloud says of its VMs now.
#[derive(Debug, Default)]
pub struct CloudViews {
    /// azlin's VMs, by name.
    pub views: BTreeMap<String, CloudView>,
    /// VMs azlin did not make, in the places it looks (shown as `no
    /// agent`), each as a row that is never stored.
    pub unmanaged: Vec<(VmRow, CloudView)>,
}

/// The size and region a provider would make, once it has checked it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineChoice {
    pub size: String,
    pub region: String,
}

/// What a provider reports about a VM it created.
pub struct Provisioned {
    /// Where the daemon dials the agent (listen mode).
    pub address: Option<String>,
    /// Provider-specific facts, as JSON, kept in `state.db`.
    pub provider_data: String,
}

/// What a provider reports when it starts a VM again.
pub struct Started {
    pub provider_data: String,
    /// A new address for the agent, when it moved.
    pub address: Option<String>,
}

/// Something the user must set up before a VM can be made (config,
/// tools); `azlin new` exits 2 for it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Prerequisite(pub String);

/// The VM's provider cannot do what was asked; refused before anything
/// happened. Exits 2, as a usage error does.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

/// The cloud will not make what was asked (a size not offered or
/// restricted, a quota without room); found before anything is made.
/// Exits 4, as Azure's own refusals do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// VMs were made but their agents did not connect in time; exit 5.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotReady(pub String);

/// The exit status for an error, as the original azlin used them: 2 a
/// prerequisite is missing (or the provider cannot do it), 3 Azure
/// sign-in, 4 Azure refused or failed (provisioning), 5 not ready in time;
/// `None` for anything else (1).
pub fn exit_code(e: &anyhow::Error) -> Option<u8> {
    use crate::azure::error::{ArmError, ErrorKind};
    e.chain().find_map(|cause| {
        if cause.downcast_ref::<Prerequisite>().is_some()
            || cause.downcast_ref::<Unsupported>().is_some()
        {
            Some(2)
        } else if let Some(arm) = cause.downcast_ref::<ArmError>() {
            Some(if arm.kind == ErrorKind::Authentication {
                3
            } else {
                4
            })
        } else if cause.downcast_ref::<Refused>().is_some() {
            Some(4)
        } else if cause.downcast_ref::<NotReady>().is_some() {
            Some(5)
        } else {
            None
        }
    })
}

/// One provider. The optional operations are only called when
/// [`Provider::capabilities`] says the provider has them (the daemon asks
/// [`Providers::require`] first); the defaults are for providers without
/// them.
pub trait Provider: Send + Sync {
    fn kind(&self) -> Kind;

    fn capabilities(&self) -> Capabilities;

    /// How long `azlin new` waits for a new VM's agent to connect.
    fn ready_timeout(&self, pool: u32) -> Duration;

    /// Check, before anything is made, that `pool` VMs of `machine` can be
    /// made (for a cloud: the size in the region and the quotas), and say
    /// which size and region they would be. Providers without sizes have
    /// nothing to check.
    fn plan<'a>(
        &'a self,
        _machine: &'a Machine,
        _pool: u32,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<Option<MachineChoice>>> {
        Box::pin(async { Ok(None) })
    }

    /// Make the VM (providers whose [`NewStyle`] is `Provision`); `stage`
    /// hears of each step that ends.
    fn create<'a>(
        &'a self,
        spec: &'a VmSpec,
        azure: &'a AzureContext,
        stage: Stage<'a>,
    ) -> Work<'a, Result<Provisioned>>;

    fn start<'a>(&'a self, vm: &'a VmRow, azure: &'a AzureContext) -> Work<'a, Result<Started>>;

    /// Stop the VM; keep its hardware allocated when `keep_allocated`
    /// (only asked of providers with that capability).
    fn stop<'a>(
        &'a self,
        vm: &'a VmRow,
        keep_allocated: bool,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<()>>;

    /// Stop and start again.
    fn restart<'a>(&'a self, vm: &'a VmRow, azure: &'a AzureContext) -> Work<'a, Result<Started>> {
        Box::pin(async move {
            self.stop(vm, false, azure).await?;
            self.start(vm, azure).await
        })
    }

    /// Delete the VM and everything azlin made for it.
    fn delete<'a>(&'a self, vm: &'a VmRow, azure: &'a AzureContext) -> Work<'a, Result<()>>;

    /// What deleting the VM removes, one line each (`destroy --dry-run`).
    fn deletions(&self, vm: &VmRow) -> Result<Vec<String>>;

    /// A new size; returns new provider data. Only for providers that
    /// resize.
    fn resize<'a>(
        &'a self,
        vm: &'a VmRow,
        _size: &'a str,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<String>> {
        let kind = self.kind();
        Box::pin(async move {
            Err(Unsupported(format!(
                "{} is one of the {}: they have no size",
                vm.name,
                kind.noun()
            ))
            .into())
        })
    }

    /// Mirror azlin's tags where the provider keeps tags too (Azure).
    fn set_tags<'a>(
        &'a self,
        _vm: &'a VmRow,
        _set: &'a [(String, String)],
        _remove: &'a [String],
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// What the cloud says of these VMs now, by VM name, and the cloud's
    /// other VMs where azlin looks (cloud providers).
    fn cloud_views<'a>(
        &'a self,
        _rows: &'a [&'a VmRow],
        _azure: &'a AzureContext,
    ) -> Work<'a, CloudViews> {
        Box::pin(async { CloudViews::default() })
    }

    /// Whether the cloud VM `name` (where the request looks, not azlin's)
    /// can be adopted, and what that changes (providers with `adopt`).
    fn adoption<'a>(
        &'a self,
        _name: &'a str,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<Adoption>> {
        Box::pin(async { anyhow::bail!("this provider cannot adopt VMs") })
    }

    /// Install the agent on the VM `adoption` describes, to enroll with
    /// `spec`'s token (providers with `adopt`).
    fn adopt<'a>(
        &'a self,
        _adoption: &'a Adoption,
        _spec: &'a VmSpec,
        _azure: &'a AzureContext,
        _stage: Stage<'a>,
    ) -> Work<'a, Result<Provisioned>> {
        Box::pin(async { anyhow::bail!("this provider cannot adopt VMs") })
    }

    /// Where the request's bill is: its resource group, or its whole
    /// subscription (providers with `cost`).
    fn billing_scope<'a>(
        &'a self,
        _whole_subscription: bool,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<BillingScope>> {
        Box::pin(async { anyhow::bail!("this provider has no bill to read") })
    }

    /// What the cloud billed in `scope` from `from` to `to` (UTC days,
    /// both included), by day and resource, with the VM each resource
    /// belongs to (providers with `cost`).
    fn billed<'a>(
        &'a self,
        _scope: &'a BillingScope,
        _range: (Day, Day),
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<Billed>> {
        Box::pin(async { anyhow::bail!("this provider has no bill to read") })
    }

    /// The cloud's own forecast of `scope`'s cost per day, `from` to `to`
    /// (providers with `cost`).
    fn forecast<'a>(
        &'a self,
        _scope: &'a BillingScope,
        _range: (Day, Day),
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<Vec<(Day, f64)>>> {
        Box::pin(async { anyhow::bail!("this provider has no bill to forecast") })
    }

    /// What `scope` pays for and does not use (providers with `cost`).
    fn waste<'a>(
        &'a self,
        _scope: &'a BillingScope,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<Waste>> {
        Box::pin(async { anyhow::bail!("this provider has no bill to read") })
    }

    /// The VM sizes `region` offers (providers with `resize`).
    fn sizes<'a>(
        &'a self,
        _region: &'a str,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<Vec<crate::cost::recommend::SizeInfo>>> {
        Box::pin(async { anyhow::bail!("this provider has no sizes") })
    }

    /// Delete one resource [`Provider::waste`] named.
    fn delete_resource<'a>(
        &'a self,
        _id: &'a str,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(async { anyhow::bail!("this provider has no such resources") })
    }

    /// Have the cloud itself stop `vm` daily at `clock` in the Windows time
    /// zone `windows_zone` (so it happens while this machine sleeps): the
    /// resource's id, or `None` when this provider has no such thing.
    fn put_auto_shutdown<'a>(
        &'a self,
        _vm: &'a VmRow,
        _clock: crate::cost::schedule::Clock,
        _windows_zone: &'a str,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<Option<String>>> {
        Box::pin(async { Ok(None) })
    }

    /// Remove what [`Provider::put_auto_shutdown`] wrote.
    fn delete_auto_shutdown<'a>(
        &'a self,
        _id: &'a str,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Write `budget` to the cloud at `scope`, replacing azlin's budget
    /// there; its id (providers with `cost`).
    fn put_budget<'a>(
        &'a self,
        _scope: &'a BillingScope,
        _budget: &'a CloudBudget,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<String>> {
        Box::pin(async { anyhow::bail!("this provider keeps no budgets") })
    }

    /// Remove the budget `id` that [`Provider::put_budget`] wrote.
    fn delete_budget<'a>(&'a self, _id: &'a str, _azure: &'a AzureContext) -> Work<'a, Result<()>> {
        Box::pin(async { anyhow::bail!("this provider keeps no budgets") })
    }

    /// The provider's shared storage (providers with `storage`).
    fn storage(&self) -> Option<&dyn storage::SharedStorage> {
        None
    }

    /// The provider's snapshots (providers with `snapshots`).
    fn snapshots(&self) -> Option<&dyn snapshots::Snapshots> {
        None
    }

    /// The provider's orphan finder (a cloud that keeps disks, NICs and
    /// addresses apart from its VMs).
    fn cleanup(&self) -> Option<&dyn cleanup::Cleanup> {
        None
    }

    /// The provider's subscription check (a cloud with subscriptions).
    fn subscription_check(&self) -> Option<&dyn subscription_check::SubscriptionCheck> {
        None
    }

    /// A VM named `name` that the cloud has where the request looks, but
    /// that azlin did not make (so `state.db` has no row for it): a row to
    /// act on it by name, never stored (cloud providers).
    fn find_unmanaged<'a>(
        &'a self,
        _name: &'a str,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<Option<VmRow>>> {
        Box::pin(async { Ok(None) })
    }

    /// Whether the VM is in `target` (an Azure subscription and resource
    /// group); VMs outside Azure are in none.
    fn in_target(&self, _vm: &VmRow, _target: &Target) -> bool {
        false
    }

    /// The VM's name in its cloud when that can differ from its fleet
    /// name (`crate::vm_key`); `None`: they are the same.
    fn cloud_name(&self, _vm: &VmRow) -> Option<String> {
        None
    }

    /// The place the VM lives in, as a key (Azure: subscription and
    /// resource group, lower case); `None` outside clouds with places.
    fn place_key(&self, _vm: &VmRow) -> Option<String> {
        None
    }

    /// The place a new VM of this request would go, as [`Self::place_key`]
    /// says it.
    fn new_place_key<'a>(&'a self, _azure: &'a AzureContext) -> Work<'a, Result<Option<String>>> {
        Box::pin(async { Ok(None) })
    }

    /// Whether azlin made the VM (an adopted one it did not): what azlin
    /// did not make is never stopped or deleted on its own initiative.
    fn made_by_azlin(&self, _vm: &VmRow) -> bool {
        true
    }

    /// Where the VM lives, for a message that says it is not where the
    /// request's Azure target is.
    fn place(&self, _vm: &VmRow) -> String {
        format!("a {} VM, not in Azure", self.kind())
    }

    /// Whether the VM's machine is alive, where the provider can tell at
    /// no cost (a local agent's process); `None`: it cannot.
    fn is_alive(&self, _vm: &VmRow) -> Option<bool> {
        None
    }

    /// Where the VM's agent listens now, for VMs that can move (`None`:
    /// unknown, or the recorded address holds).
    fn current_address<'a>(&'a self, _vm: &'a VmRow) -> Work<'a, Option<String>> {
        Box::pin(async { None })
    }

    /// The end of the VM's own log, to explain why it did not come up.
    fn log_tail<'a>(&'a self, _vm: &'a VmRow) -> Work<'a, String> {
        Box::pin(async { String::new() })
    }

    /// The word for a VM this provider has just brought up.
    fn created_word(&self) -> &'static str {
        "VM created"
    }
}

/// Every provider this build has.
pub struct Providers {
    pub local: local::LocalProvider,
    pub docker: docker::DockerProvider,
    pub azure: azure::AzureProvider,
    pub external: external::ExternalProvider,
}

impl Providers {
    /// The provider of that kind: the one dispatch point.
    pub fn get(&self, kind: Kind) -> &dyn Provider {
        match kind {
            Kind::Local => &self.local,
            Kind::Docker => &self.docker,
            Kind::Azure => &self.azure,
            Kind::External => &self.external,
        }
    }

    /// The provider named `name` (a `vms.provider` value, a `--provider`).
    pub fn of(&self, name: &str) -> Result<&dyn Provider> {
        Ok(self.get(Kind::parse(name)?))
    }

    /// Every provider's capabilities, by kind.
    pub fn table(&self) -> Vec<(Kind, Capabilities)> {
        Kind::ALL
            .into_iter()
            .map(|k| (k, self.get(k).capabilities()))
            .collect()
    }

    /// The shared storage of `kind`, or the refusal saying where storage
    /// applies.
    pub fn storage(&self, kind: Kind, target: &Target) -> Result<&dyn storage::SharedStorage> {
        let provider = self.get(kind);
        self.require(provider, &Operation::Storage { target })?;
        provider.storage().ok_or_else(|| {
            anyhow::anyhow!("provider {kind} says it has storage but serves none (a bug)")
        })
    }

    /// The snapshots of `kind`, or the refusal saying where snapshots
    /// apply.
    pub fn snapshots(&self, kind: Kind) -> Result<&dyn snapshots::Snapshots> {
        let provider = self.get(kind);
        self.require(provider, &Operation::Snapshot)?;
        provider.snapshots().ok_or_else(|| {
            anyhow::anyhow!("provider {kind} says it has snapshots but keeps none (a bug)")
        })
    }

    /// Refuse `op` on a provider that lacks it, saying so ([`Unsupported`]).
    pub fn require(&self, provider: &dyn Provider, op: &Operation<'_>) -> Result<()> {
        match capability::refusal(provider.kind(), &provider.capabilities(), op, &self.table()) {
            None => Ok(()),
            Some(why) => Err(Unsupported(why).into()),
        }
    }
}
