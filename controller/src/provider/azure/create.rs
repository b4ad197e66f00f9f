//! Making one Azure VM: the shared resource group and VNet (reused when
//! present), then one template deployment ([`super::template`]) with the
//! VM's own NSG, public IP, NIC and the VM, whose custom data is the
//! cloud-init user-data. Each stage's time is reported as it ends.

use std::time::Instant;

use anyhow::{Context, Result};
use azlin_cloud_init::{UserData, render};
use azlin_protocol::DEFAULT_AGENT_PORT;
use base64::Engine as _;

use super::{
    AzureData, AzureProvider, GroupPlace,
    machine::Chosen,
    public_ip, resource_names,
    template::{PRIVATE_IP_OUTPUT, PUBLIC_IP_OUTPUT, VmBoot, VmTemplate},
};
use crate::{
    azure::{
        api,
        client::ArmClient,
        context::{ArmAccess, AzureContext},
        models::{
            Tags,
            network::{
                AddressSpace, Subnet, SubnetProperties, VirtualNetwork, VirtualNetworkProperties,
            },
            resources::{Deployment, ResourceGroup},
        },
        settings::{DEFAULT_PUBLIC_IP_URL, check_cidr},
    },
    provider::{
        AgentConnect, Prerequisite, Provisioned, VmSpec, docker::agent_download::sha256_file,
        local::find_agent_binary,
    },
};

/// The VNet and subnet all of a resource group's VMs share.
pub(super) const VNET: &str = "azlin-vnet";
pub(super) const SUBNET: &str = "azlin-subnet";

/// What a VM needs that is checked before anything is made.
struct Plan {
    chosen: Chosen,
    allowed: String,
    ssh_public_key: String,
}

impl AzureProvider {
    /// Create the VM; returns once ARM says it exists (its agent enrolls
    /// after boot, which the daemon waits for).
    pub async fn create(
        &self,
        spec: &VmSpec,
        azure: &AzureContext,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Provisioned> {
        // Refused earlier for the user (see `provider::capability`); this
        // guards the template, which only knows listen mode.
        if !matches!(spec.connect, AgentConnect::Listen) {
            return Err(Prerequisite(
                "Azure VMs are dialled by the daemon: leave out --dial".into(),
            )
            .into());
        }
        if let Some(source) = &spec.source {
            return self.create_clone(spec, source, azure, stage).await;
        }
        let target = &azure.target;
        // Prerequisites first: nothing is made unless all of them hold.
        let chosen = self.choose(&spec.machine, target)?;
        let subscription = self.subscription(target).await?;
        let (nic, public_ip, nsg, os_disk) = resource_names(&spec.cloud_name);
        let data = AzureData {
            subscription,
            resource_group: self.resource_group(target),
            location: chosen.region.clone(),
            vm_size: chosen.size.clone(),
            vm: spec.cloud_name.clone(),
            nic,
            public_ip,
            nsg,
            os_disk,
            data_disks: Vec::new(),
            public_address: None,
            private_address: None,
            made_by_azlin: true,
        };
        let allowed = self.allowed_cidr(stage).await?;
        let ssh_public_key = crate::ssh_key::ensure(&self.home)?;
        let plan = Plan {
            chosen,
            allowed,
            ssh_public_key,
        };
        let made = self
            .make(spec, data.clone(), plan, &azure.access, stage)
            .await;
        self.removed_if_failed(made, &data, &azure.access, stage)
            .await
    }

    /// `made`, or, when it failed, its error once whatever was made for
    /// `data`'s VM is gone again (what never was is fine).
    pub(super) async fn removed_if_failed(
        &self,
        made: Result<Provisioned>,
        data: &AzureData,
        access: &ArmAccess,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Provisioned> {
        let Err(e) = made else {
            return made;
        };
        stage("removing what was made for it".into());
        if let Err(cleanup) = self.delete_resources(data, access).await {
            tracing::warn!(vm = %data.vm, "cleanup after a failed create: {cleanup:#}");
        }
        Err(e)
    }

    async fn make(
        &self,
        spec: &VmSpec,
        data: AzureData,
        plan: Plan,
        access: &ArmAccess,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Provisioned> {
        let arm = self.client(access).await?;
        let tags = vm_tags(spec);
        let timed = |name: &str, started: Instant| {
            stage(format!("{name} ({:.1} s)", started.elapsed().as_secs_f64()));
        };
        let t = Instant::now();
        let subnet_id = self.shared_network(&arm, &data, &tags).await?;
        timed("resource group and network ready", t);

        let admin = plan.chosen.admin.clone();
        let user_data = self
            .user_data(&arm, &data, spec, &admin, &plan.ssh_public_key, stage)
            .await?;
        let t = Instant::now();
        let custom_data = base64::engine::general_purpose::STANDARD.encode(user_data);
        let body = VmTemplate {
            data: &data,
            tags: &tags,
            subnet_id: &subnet_id,
            allowed: &plan.allowed,
            boot: VmBoot::Image {
                image: &plan.chosen.image,
                disk_gb: plan.chosen.disk_gb,
                admin: &admin,
                ssh_public_key: &plan.ssh_public_key,
                custom_data: &custom_data,
            },
        }
        .deployment();
        let data = deploy(&arm, data, &body).await?;
        timed("NSG, public IP, NIC and virtual machine deployed", t);
        let public = data.public_address.clone().unwrap_or_default();
        Ok(Provisioned {
            address: Some(format!("{public}:{DEFAULT_AGENT_PORT}")),
            provider_data: serde_json::to_string(&data)?,
        })
    }

    /// The resource group, VNet and subnet `data`'s VM joins, made when
    /// missing; the subnet's id.
    pub(super) async fn shared_network(
        &self,
        arm: &ArmClient,
        data: &AzureData,
        tags: &Tags,
    ) -> Result<String> {
        // One VM of a pool makes the shared resources; the others find them.
        let _shared = self.shared_setup.lock().await;
        self.ensure_group(arm, &data.place(), tags).await?;
        self.ensure_network(arm, &data.place(), tags).await
    }

    /// The resource group, made when missing.
    pub(super) async fn ensure_group(
        &self,
        arm: &ArmClient,
        data: &GroupPlace,
        tags: &Tags,
    ) -> Result<()> {
        let path = data.group_path();
        if arm
            .get_opt::<ResourceGroup>(&path, api::RESOURCES)
            .await?
            .is_none()
        {
            let mut group_tags = Tags::new();
            group_tags.insert("managed-by".into(), tags["managed-by"].clone());
            arm.put::<_, ResourceGroup>(
                &path,
                api::RESOURCES,
                &ResourceGroup {
                    location: data.location.clone(),
                    tags: group_tags,
                    ..Default::default()
                },
            )
            .await?;
        }
        Ok(())
    }

    /// The shared VNet and subnet, made when missing; the subnet's id.
    pub(super) async fn ensure_network(
        &self,
        arm: &ArmClient,
        data: &GroupPlace,
        tags: &Tags,
    ) -> Result<String> {
        let vnet_path = data.path("Microsoft.Network/virtualNetworks", VNET);
        let subnet_path = format!("{vnet_path}/subnets/{SUBNET}");
        if let Some(subnet) = arm.get_opt::<Subnet>(&subnet_path, api::NETWORK).await? {
            return Ok(subnet.id.unwrap_or(subnet_path));
        }
        let mut vnet_tags = Tags::new();
        vnet_tags.insert("managed-by".into(), tags["managed-by"].clone());
        let vnet = arm
            .put::<_, VirtualNetwork>(
                &vnet_path,
                api::NETWORK,
                &VirtualNetwork {
                    location: Some(data.location.clone()),
                    tags: vnet_tags,
                    properties: VirtualNetworkProperties {
                        address_space: Some(AddressSpace {
                            address_prefixes: vec!["10.42.0.0/16".into()],
                        }),
                        subnets: vec![Subnet {
                            name: Some(SUBNET.into()),
                            properties: SubnetProperties {
                                address_prefix: Some("10.42.0.0/24".into()),
                                ..Default::default()
                            },
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .await?;
        Ok(vnet
            .properties
            .subnets
            .iter()
            .find(|s| s.name.as_deref() == Some(SUBNET))
            .and_then(|s| s.id.clone())
            .unwrap_or(subnet_path))
    }

    pub(super) fn admin_user(&self) -> String {
        self.config
            .admin_user
            .clone()
            .unwrap_or_else(|| "azureuser".into())
    }

    /// The NSG's only source: the configured CIDR, else this machine's
    /// public address as a what-is-my-IP service sees it.
    pub(super) async fn allowed_cidr(
        &self,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<String> {
        let Some(cidr) = self.config.allowed_cidr.clone() else {
            let url = self
                .config
                .public_ip_url
                .as_deref()
                .unwrap_or(DEFAULT_PUBLIC_IP_URL);
            let cidr = public_ip::detect(url).await.map_err(Prerequisite)?;
            stage(format!(
                "SSH and the agent's port admit only {cidr} (this machine's public address, from {url})"
            ));
            return Ok(cidr);
        };
        check_cidr(&cidr).map_err(Prerequisite)?;
        Ok(if cidr.contains('/') {
            cidr
        } else {
            format!("{cidr}/32")
        })
    }

    /// The VM's cloud-init user-data. The agent comes from `[azure]
    /// agent_url` when set, else from the subscription's agent store
    /// ([`super::agent_store`]), which needs the resource group to exist.
    async fn user_data(
        &self,
        arm: &ArmClient,
        data: &AzureData,
        spec: &VmSpec,
        admin: &str,
        ssh_public_key: &str,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<String> {
        let (url, sha256) = match &self.config.agent_url {
            Some(url) => {
                let sha256 = match &self.config.agent_sha256 {
                    Some(s) => s.clone(),
                    None => self.local_agent_sha256().await?,
                };
                (url.clone(), sha256)
            }
            None => {
                let t = Instant::now();
                let d = self.deliver_agent(arm, data, stage).await?;
                stage(format!(
                    "agent binary ready in the subscription's store ({:.1} s)",
                    t.elapsed().as_secs_f64()
                ));
                (d.url, d.sha256)
            }
        };
        render(&UserData {
            name: spec.name.clone(),
            user: admin.to_string(),
            ssh_public_key: ssh_public_key.to_string(),
            agent_url: url,
            agent_sha256: sha256,
            ca_pem: spec.ca_pem.clone(),
            join_token: spec.token.clone(),
            connect: azlin_cloud_init::AgentConnect::Listen {
                port: DEFAULT_AGENT_PORT,
            },
            dev_tools: spec.dev_tools && self.config.dev_tools.unwrap_or(true),
            shared_home: spec.shared_home.clone(),
            extra: spec.cloud_init_extra.clone(),
        })
        .context("cannot render the VM's cloud-init user-data")
    }

    /// The sha256 of this machine's azlin-agent, hashed once per daemon
    /// (a pool's VMs all need it) and off the async threads.
    pub(super) async fn local_agent_sha256(&self) -> Result<String> {
        self.agent_sha256
            .get_or_try_init(|| async {
                let binary = find_agent_binary()?;
                tokio::task::spawn_blocking(move || sha256_file(&binary))
                    .await?
                    .context("cannot hash the local azlin-agent for [azure] agent_url")
            })
            .await
            .cloned()
    }
}

/// Run the VM's template deployment; `data` with the addresses ARM gave.
pub(super) async fn deploy(
    arm: &ArmClient,
    data: AzureData,
    body: &Deployment,
) -> Result<AzureData> {
    let done: Deployment = arm
        .put(&data.deployment_path(), api::RESOURCES, body)
        .await?;
    let output = |name: &str| {
        done.properties
            .outputs
            .as_ref()
            .and_then(|o| o.get(name))
            .and_then(|o| o.value.as_str())
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    // The template declares both outputs; ARM fills them in when the
    // deployment succeeds.
    let public = output(PUBLIC_IP_OUTPUT).ok_or_else(|| {
        anyhow::anyhow!(
            "the deployment of {} succeeded without the VM's public address",
            data.vm
        )
    })?;
    Ok(AzureData {
        public_address: Some(public),
        private_address: output(PRIVATE_IP_OUTPUT),
        ..data
    })
}

/// The tags on every resource azlin makes for the VM.
pub(super) fn vm_tags(spec: &VmSpec) -> Tags {
    let mut tags = Tags::new();
    tags.insert("managed-by".into(), "azlin".into());
    tags.insert("azlin-vm".into(), spec.name.clone());
    if let Some(session) = &spec.session_name {
        tags.insert("azlin-session".into(), session.clone());
    }
    tags
}
