//! Clones of Azure VMs: new VMs that boot copies of a VM's disks, each
//! then given an identity of its own through Run Command.
//!
//! The source ([`AzureProvider::clone_snapshots`]) is an incremental
//! snapshot of each of SRC's disks, taken while SRC runs (it is not
//! deallocated), tagged `azlin-clone-of`. Each clone
//! ([`AzureProvider::create_clone`]) gets a disk copied from each
//! snapshot, and its own NSG, public IP and NIC, in one template
//! deployment with the VM, which attaches the disks. Azure takes no OS
//! profile for an attached OS disk, so no custom data: the clone boots
//! SRC's system as it was, SRC's agent key included. SRC's agent bound
//! that key to SRC's machine (the agent's `machine`; the daemon refuses
//! to clone a VM whose agent does not say so), so on the clone it waits
//! unused. Run Command then clears what is SRC's (agent identity, config
//! and join token, the home's secrets, SSH host keys, machine id, host
//! name) and installs the agent with the clone's own join token
//! (`azlin_cloud_init::clone_script`). The snapshots go once the clones
//! are made ([`AzureProvider::drop_clone_snapshots`]).
//!
//! Not here: what the agent lists as secrets or waiting for the clones to
//! enroll (the daemon's `clone` handler).

use anyhow::{Context, Result, bail};
use azlin_cloud_init::{UserData, clone_script};
use azlin_protocol::DEFAULT_AGENT_PORT;
use serde::{Deserialize, Serialize};

use super::{
    AzureData, AzureProvider,
    adopt::run_install,
    create::deploy,
    create::vm_tags,
    data_of, resource_names,
    snapshot::{DiskSnapshot, disk_from_snapshot, role},
    template::{VmBoot, VmTemplate},
};
use crate::{
    azure::{
        api,
        client::ArmClient,
        context::AzureContext,
        models::{Tags, compute::VirtualMachine},
    },
    provider::{AgentConnect, Prerequisite, Provisioned, VmSpec, snapshots::HomeSecrets},
    state::{VmRow, now_unix},
};

/// What the clones of an Azure VM are made from.
#[derive(Debug, Serialize, Deserialize)]
struct AzureCloneSource {
    /// SRC's fleet name.
    src: String,
    /// SRC's region (its snapshots' too: the clones' disks are made there).
    location: String,
    vm_size: String,
    /// The VM user on SRC's disk, whom the clones' agents run commands as.
    user: String,
    disks: Vec<DiskSnapshot>,
    /// The home's files the security filter blocks, absolute.
    secrets: Vec<String>,
}

impl AzureProvider {
    /// Snapshot `src`'s disks for its clones.
    pub(super) async fn clone_snapshots(
        &self,
        src: &VmRow,
        secrets: &HomeSecrets,
        azure: &AzureContext,
    ) -> Result<String> {
        let data = data_of(src)?;
        let arm = self.client(&azure.access).await?;
        let vm: VirtualMachine = arm
            .get(&data.vm_path(), api::COMPUTE)
            .await
            .with_context(|| format!("cannot read {} from Azure", src.name))?;
        let user = vm
            .properties
            .os_profile
            .as_ref()
            .and_then(|o| o.admin_username.clone())
            .unwrap_or_else(|| self.admin_user());
        let mut tags = Tags::new();
        tags.insert("azlin-clone-of".into(), src.name.clone());
        let name = format!("azlin-clone-{}-{:x}", data.vm, now_unix());
        let disks = self.snapshot_disks(src, &name, tags, azure).await?;
        let home = secrets.home.trim_end_matches('/');
        Ok(serde_json::to_string(&AzureCloneSource {
            src: src.name.clone(),
            location: data.location,
            vm_size: data.vm_size,
            user,
            disks,
            secrets: secrets
                .paths
                .iter()
                .map(|rel| format!("{home}/{rel}"))
                .collect(),
        })?)
    }

    /// Delete the snapshots [`AzureProvider::clone_snapshots`] took.
    pub(super) async fn drop_clone_snapshots(&self, source: &str, azure: &AzureContext) {
        let Ok(source) = serde_json::from_str::<AzureCloneSource>(source) else {
            return;
        };
        let arm = match self.client(&azure.access).await {
            Ok(arm) => arm,
            Err(e) => {
                tracing::warn!("cannot delete the snapshots clones were made from: {e:#}");
                return;
            }
        };
        for d in &source.disks {
            if let Err(e) = arm.delete(&d.snapshot, api::DISKS).await {
                tracing::warn!("cannot delete {}: {e:#}", d.snapshot);
            }
        }
    }

    /// Make one clone from `source` (what [`AzureProvider::clone_snapshots`]
    /// gave); whatever was made for it goes again if it fails.
    pub(super) async fn create_clone(
        &self,
        spec: &VmSpec,
        source: &str,
        azure: &AzureContext,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Provisioned> {
        let source: AzureCloneSource =
            serde_json::from_str(source).context("the clone's source is not an Azure VM's")?;
        if !matches!(spec.connect, AgentConnect::Listen) {
            return Err(Prerequisite(
                "Azure VMs are dialled by the daemon: leave out --dial".into(),
            )
            .into());
        }
        let (nic, public_ip, nsg, os_disk) = resource_names(&spec.cloud_name);
        let data = AzureData {
            subscription: self.subscription(&azure.target).await?,
            resource_group: self.resource_group(&azure.target),
            location: source.location.clone(),
            vm_size: source.vm_size.clone(),
            vm: spec.cloud_name.clone(),
            nic,
            public_ip,
            nsg,
            os_disk,
            data_disks: source
                .disks
                .iter()
                .filter(|d| d.lun.is_some())
                .map(|d| format!("{}-{}", spec.cloud_name, role(d.lun)))
                .collect(),
            public_address: None,
            private_address: None,
            made_by_azlin: true,
        };
        let allowed = self.allowed_cidr(stage).await?;
        let arm = self.client(&azure.access).await?;
        let made = self
            .make_clone(&arm, spec, &source, data.clone(), &allowed, stage)
            .await;
        self.removed_if_failed(made, &data, &azure.access, stage)
            .await
    }

    async fn make_clone(
        &self,
        arm: &ArmClient,
        spec: &VmSpec,
        source: &AzureCloneSource,
        data: AzureData,
        allowed: &str,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Provisioned> {
        let tags = vm_tags(spec);
        let subnet_id = self.shared_network(arm, &data, &tags).await?;
        let mut os = None;
        let mut data_disks = Vec::new();
        for d in &source.disks {
            let name = match d.lun {
                None => data.os_disk.clone(),
                Some(_) => format!("{}-{}", data.vm, role(d.lun)),
            };
            let path = data.path("Microsoft.Compute/disks", &name);
            let id = disk_from_snapshot(arm, &data, &path, &d.snapshot, tags.clone()).await?;
            match d.lun {
                None => os = Some(id),
                Some(lun) => data_disks.push((lun, id)),
            }
        }
        let Some(os_disk) = os else {
            bail!("the clone's source has no OS disk snapshot");
        };
        stage(format!(
            "{} disk(s) copied from {}'s snapshots",
            source.disks.len(),
            source.src
        ));
        let body = VmTemplate {
            data: &data,
            tags: &tags,
            subnet_id: &subnet_id,
            allowed,
            boot: VmBoot::Disks {
                os_disk: &os_disk,
                data_disks: &data_disks,
            },
        }
        .deployment();
        let data = deploy(arm, data, &body).await?;
        stage(format!("booted from {}'s disks", source.src));
        let delivery = self.deliver_agent(arm, &data, stage).await?;
        let script = clone_script(
            &UserData {
                name: spec.name.clone(),
                user: source.user.clone(),
                ssh_public_key: crate::ssh_key::ensure(&self.home)?,
                agent_url: delivery.url,
                agent_sha256: delivery.sha256,
                ca_pem: spec.ca_pem.clone(),
                join_token: spec.token.clone(),
                connect: azlin_cloud_init::AgentConnect::Listen {
                    port: DEFAULT_AGENT_PORT,
                },
                dev_tools: false,
                shared_home: None,
                extra: None,
            },
            &source.secrets,
        )
        .context("cannot write the clone's script")?;
        stage(format!(
            "clearing {}'s identity and {} secret file(s), installing the agent (Run Command)",
            source.src,
            source.secrets.len()
        ));
        run_install(arm, &data, script).await?;
        let public = data.public_address.clone().unwrap_or_default();
        Ok(Provisioned {
            address: Some(format!("{public}:{DEFAULT_AGENT_PORT}")),
            provider_data: serde_json::to_string(&data)?,
        })
    }
}
