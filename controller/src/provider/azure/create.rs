//! Making one Azure VM: the shared resource group and VNet (reused when
//! present), then the VM's own NSG and public IP (in parallel), its NIC,
//! and the VM with the cloud-init user-data as custom data. Each stage's
//! time is reported as it ends.

use std::time::Instant;

use anyhow::{Context, Result};
use azlin_cloud_init::{UserData, render};
use azlin_protocol::DEFAULT_AGENT_PORT;
use base64::Engine as _;

use super::{AzureData, AzureProvider, Target, missing, resource_names};
use crate::{
    azure::{
        api,
        models::{
            Sku, SubResource, Tags,
            compute::{
                HardwareProfile, ImageReference, LinuxConfiguration, ManagedDisk, NetworkProfile,
                OsDisk, OsProfile, SshConfiguration, SshPublicKey, StorageProfile, VirtualMachine,
                VirtualMachineProperties, nic_reference,
            },
            network::{
                AddressSpace, IpConfiguration, IpConfigurationProperties, NetworkInterface,
                NetworkInterfaceProperties, NetworkSecurityGroup, NetworkSecurityGroupProperties,
                PublicIpAddress, PublicIpAddressProperties, SecurityRule, SecurityRuleProperties,
                Subnet, SubnetProperties, VirtualNetwork, VirtualNetworkProperties,
            },
            resources::ResourceGroup,
        },
        settings::{DEFAULT_IMAGE, ImageUrn, check_cidr},
    },
    provider::{
        AgentConnect, Prerequisite, Provisioned, VmSpec, docker::agent_download::sha256_file,
        local::find_agent_binary,
    },
};

const VNET: &str = "azlin-vnet";

/// What a VM needs that is checked before anything is made.
struct Plan {
    image: ImageUrn,
    allowed: String,
    user_data: String,
}
const SUBNET: &str = "azlin-subnet";

impl AzureProvider {
    /// Create the VM; returns once ARM says it exists (its agent enrolls
    /// after boot, which the daemon waits for).
    pub async fn create(
        &self,
        spec: &VmSpec,
        target: &Target,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Provisioned> {
        if !matches!(spec.connect, AgentConnect::Listen) {
            return Err(Prerequisite(
                "Azure VMs are dialled by the daemon: leave out --dial".into(),
            )
            .into());
        }
        let subscription = self.subscription(target).await?;
        let (nic, public_ip, nsg, os_disk) = resource_names(&spec.name);
        let data = AzureData {
            subscription,
            resource_group: self.resource_group(target),
            location: self.location(),
            vm_size: self.vm_size(),
            vm: spec.name.clone(),
            nic,
            public_ip,
            nsg,
            os_disk,
            public_address: None,
            private_address: None,
        };
        // Prerequisites first: nothing is made unless all of them hold.
        let image = ImageUrn::parse(self.config.image.as_deref().unwrap_or(DEFAULT_IMAGE))
            .map_err(Prerequisite)?;
        let allowed = self.allowed_cidr()?;
        let user_data = self.user_data(spec)?;
        let plan = Plan {
            image,
            allowed,
            user_data,
        };
        match self.make(spec, data.clone(), plan, stage).await {
            Ok(p) => Ok(p),
            Err(e) => {
                // Whatever was made goes again; what never was is fine.
                stage("removing what was made for it".into());
                if let Err(cleanup) = self.delete_resources(&data).await {
                    tracing::warn!(vm = %spec.name, "cleanup after a failed create: {cleanup:#}");
                }
                Err(e)
            }
        }
    }

    async fn make(
        &self,
        spec: &VmSpec,
        data: AzureData,
        plan: Plan,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Provisioned> {
        let arm = self.client().await?;
        let Plan {
            image,
            allowed,
            user_data,
        } = plan;
        let mut tags = Tags::new();
        tags.insert("managed-by".into(), "azlin".into());
        tags.insert("azlin-vm".into(), spec.name.clone());
        if let Some(session) = &spec.session_name {
            tags.insert("azlin-session".into(), session.clone());
        }

        let timed = |name: &str, started: Instant| {
            stage(format!("{name} ({:.1} s)", started.elapsed().as_secs_f64()));
        };
        let t = Instant::now();
        let subnet_id = {
            // One VM of a pool makes the shared resources; the others find them.
            let _shared = self.shared_setup.lock().await;
            self.ensure_group(&arm, &data, &tags).await?;
            self.ensure_network(&arm, &data, &tags).await?
        };
        timed("resource group and network ready", t);

        let t = Instant::now();
        let nsg_body = NetworkSecurityGroup {
            location: Some(data.location.clone()),
            tags: tags.clone(),
            properties: NetworkSecurityGroupProperties {
                security_rules: vec![
                    rule("allow-ssh", "Tcp", "22", 1000, &allowed),
                    rule(
                        "allow-azlin-agent",
                        "Udp",
                        &DEFAULT_AGENT_PORT.to_string(),
                        1010,
                        &allowed,
                    ),
                ],
                ..Default::default()
            },
            ..Default::default()
        };
        let ip_body = PublicIpAddress {
            location: Some(data.location.clone()),
            tags: tags.clone(),
            sku: Some(Sku {
                name: "Standard".into(),
                tier: None,
            }),
            properties: PublicIpAddressProperties {
                allocation_method: Some("Static".into()),
                version: Some("IPv4".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let nsg_path = data.path("Microsoft.Network/networkSecurityGroups", &data.nsg);
        let ip_path = data.path("Microsoft.Network/publicIPAddresses", &data.public_ip);
        let (nsg, ip) = tokio::join!(
            arm.put::<_, NetworkSecurityGroup>(&nsg_path, api::NETWORK, &nsg_body),
            arm.put::<_, PublicIpAddress>(&ip_path, api::NETWORK, &ip_body),
        );
        let (nsg, ip) = (nsg?, ip?);
        timed("network security group and public IP", t);

        let t = Instant::now();
        let nic_body = NetworkInterface {
            location: Some(data.location.clone()),
            tags: tags.clone(),
            properties: NetworkInterfaceProperties {
                ip_configurations: vec![IpConfiguration {
                    name: Some("ipconfig1".into()),
                    properties: IpConfigurationProperties {
                        private_ip_allocation_method: Some("Dynamic".into()),
                        subnet: Some(SubResource::new(subnet_id)),
                        public_ip_address: Some(SubResource::new(
                            ip.id.clone().unwrap_or_else(|| ip_path.clone()),
                        )),
                        primary: Some(true),
                        ..Default::default()
                    },
                    ..Default::default()
                }],
                network_security_group: Some(SubResource::new(
                    nsg.id.clone().unwrap_or_else(|| nsg_path.clone()),
                )),
                ..Default::default()
            },
            ..Default::default()
        };
        let nic_path = data.path("Microsoft.Network/networkInterfaces", &data.nic);
        let nic = arm
            .put::<_, NetworkInterface>(&nic_path, api::NETWORK, &nic_body)
            .await?;
        timed("network interface", t);

        let t = Instant::now();
        let admin = self.admin_user();
        let vm_body = VirtualMachine {
            location: data.location.clone(),
            tags,
            properties: VirtualMachineProperties {
                hardware_profile: Some(HardwareProfile {
                    vm_size: data.vm_size.clone(),
                }),
                storage_profile: Some(StorageProfile {
                    image_reference: Some(ImageReference {
                        publisher: Some(image.publisher),
                        offer: Some(image.offer),
                        sku: Some(image.sku),
                        version: Some(image.version),
                    }),
                    os_disk: Some(OsDisk {
                        name: Some(data.os_disk.clone()),
                        create_option: "FromImage".into(),
                        delete_option: Some("Delete".into()),
                        managed_disk: Some(ManagedDisk {
                            id: None,
                            storage_account_type: Some("StandardSSD_LRS".into()),
                        }),
                        ..Default::default()
                    }),
                }),
                os_profile: Some(OsProfile {
                    computer_name: Some(spec.name.clone()),
                    admin_username: Some(admin.clone()),
                    custom_data: Some(
                        base64::engine::general_purpose::STANDARD.encode(user_data.as_bytes()),
                    ),
                    linux_configuration: Some(LinuxConfiguration {
                        disable_password_authentication: true,
                        ssh: Some(SshConfiguration {
                            public_keys: vec![SshPublicKey {
                                path: format!("/home/{admin}/.ssh/authorized_keys"),
                                key_data: crate::ssh_key::ensure(&self.home)?,
                            }],
                        }),
                    }),
                }),
                network_profile: Some(NetworkProfile {
                    network_interfaces: vec![nic_reference(nic.id.as_deref().unwrap_or(&nic_path))],
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        arm.put::<_, VirtualMachine>(&data.vm_path(), api::COMPUTE, &vm_body)
            .await?;
        timed("virtual machine", t);

        // A static address is there from the IP's creation; read it back
        // only if ARM had not said it then.
        let ip = match ip.properties.ip_address {
            Some(_) => ip,
            None => arm.get::<PublicIpAddress>(&ip_path, api::NETWORK).await?,
        };
        let public = ip
            .properties
            .ip_address
            .clone()
            .ok_or_else(|| missing("the VM's public IP has no address yet"))?;
        let private = nic
            .properties
            .ip_configurations
            .first()
            .and_then(|c| c.properties.private_ip_address.clone());
        let data = AzureData {
            public_address: Some(public.clone()),
            private_address: private,
            ..data
        };
        Ok(Provisioned {
            address: Some(format!("{public}:{DEFAULT_AGENT_PORT}")),
            provider_data: serde_json::to_string(&data)?,
        })
    }

    async fn ensure_group(
        &self,
        arm: &crate::azure::client::ArmClient,
        data: &AzureData,
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
    async fn ensure_network(
        &self,
        arm: &crate::azure::client::ArmClient,
        data: &AzureData,
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

    fn admin_user(&self) -> String {
        self.config
            .admin_user
            .clone()
            .unwrap_or_else(|| "azureuser".into())
    }

    fn allowed_cidr(&self) -> Result<String> {
        let cidr = self.config.allowed_cidr.clone().ok_or_else(|| {
            Prerequisite(
                "set [azure] allowed_cidr in config.toml to your public address (ADDRESS/32) or \
                 network: the VM's NSG admits SSH and the agent's port only from there"
                    .into(),
            )
        })?;
        check_cidr(&cidr).map_err(Prerequisite)?;
        Ok(if cidr.contains('/') {
            cidr
        } else {
            format!("{cidr}/32")
        })
    }

    fn user_data(&self, spec: &VmSpec) -> Result<String> {
        let url = self.config.agent_url.clone().ok_or_else(|| {
            Prerequisite(
                "set [azure] agent_url in config.toml: where new VMs download azlin-agent (a \
                 release download or your own HTTPS server)"
                    .into(),
            )
        })?;
        let sha256 = match &self.config.agent_sha256 {
            Some(s) => s.clone(),
            None => sha256_file(&find_agent_binary()?)
                .context("cannot hash the local azlin-agent for [azure] agent_url")?,
        };
        render(&UserData {
            name: spec.name.clone(),
            user: self.admin_user(),
            ssh_public_key: crate::ssh_key::ensure(&self.home)?,
            agent_url: url,
            agent_sha256: sha256,
            ca_pem: spec.ca_pem.clone(),
            join_token: spec.token.clone(),
            connect: azlin_cloud_init::AgentConnect::Listen {
                port: DEFAULT_AGENT_PORT,
            },
            dev_tools: spec.dev_tools && self.config.dev_tools.unwrap_or(true),
        })
        .context("cannot render the VM's cloud-init user-data")
    }
}

fn rule(name: &str, protocol: &str, port: &str, priority: u32, source: &str) -> SecurityRule {
    SecurityRule {
        name: Some(name.into()),
        properties: SecurityRuleProperties {
            protocol: protocol.into(),
            source_address_prefix: Some(source.into()),
            source_port_range: Some("*".into()),
            destination_address_prefix: Some("*".into()),
            destination_port_range: Some(port.into()),
            access: "Allow".into(),
            priority: Some(priority),
            direction: "Inbound".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}
