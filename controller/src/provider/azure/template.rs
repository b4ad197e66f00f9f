//! The ARM template that makes one VM's own resources in one deployment,
//! as `az vm create` does: its NSG (SSH and the agent's UDP port from the
//! allowed CIDR only), a static public IP, the NIC joining them to the
//! shared subnet, and the VM. One PUT and its polls replace four PUTs with
//! four sets of polls and leave the ordering to ARM (`dependsOn`); the
//! outputs carry the addresses, so nothing has to be read back.
//!
//! Pure: builds the request body; [`super::create`] sends it. Values are
//! literal (full resource ids, no parameters), so nothing the user typed is
//! ever evaluated as a template expression: names and the CIDR are checked
//! before they get here, and strings ARM would read as an expression
//! (starting with `[`) are escaped as the template language says.

use azlin_protocol::DEFAULT_AGENT_PORT;
use serde::Serialize;
use serde_json::{Value, json};

use super::AzureData;
use crate::azure::{
    api,
    models::{
        Sku, SubResource, Tags,
        compute::{
            DataDisk, HardwareProfile, ImageReference, LinuxConfiguration, ManagedDisk,
            NetworkProfile, OsDisk, OsProfile, SshConfiguration, SshPublicKey, StorageProfile,
            VirtualMachine, VirtualMachineProperties, nic_reference,
        },
        network::{
            IpConfiguration, IpConfigurationProperties, NetworkInterface,
            NetworkInterfaceProperties, NetworkSecurityGroup, NetworkSecurityGroupProperties,
            PublicIpAddress, PublicIpAddressProperties, SecurityRule, SecurityRuleProperties,
        },
        resources::{Deployment, DeploymentProperties},
    },
    settings::ImageUrn,
};

/// The output holding the VM's public address.
pub const PUBLIC_IP_OUTPUT: &str = "publicIpAddress";
/// The output holding the VM's private address.
pub const PRIVATE_IP_OUTPUT: &str = "privateIpAddress";

/// Everything the VM's resources are made from.
pub struct VmTemplate<'a> {
    pub data: &'a AzureData,
    pub tags: &'a Tags,
    pub subnet_id: &'a str,
    /// The only source the NSG admits (`ADDRESS/NN`).
    pub allowed: &'a str,
    pub boot: VmBoot<'a>,
}

/// What the VM boots.
pub enum VmBoot<'a> {
    /// A new system from a marketplace image, which cloud-init sets up
    /// from the custom data.
    Image {
        image: &'a ImageUrn,
        admin: &'a str,
        /// The OS disk's size, GB; `None`: the image's.
        disk_gb: Option<u32>,
        ssh_public_key: &'a str,
        /// Base64 of the cloud-init user-data.
        custom_data: &'a str,
    },
    /// Disks made already (a clone's copies of another VM's): the OS
    /// disk's id, and each data disk's LUN and id. Azure takes no OS
    /// profile (so no custom data) for a VM whose OS disk is attached.
    Disks {
        os_disk: &'a str,
        data_disks: &'a [(i32, String)],
    },
}

impl VmTemplate<'_> {
    /// The deployment's request body.
    pub fn deployment(&self) -> Deployment {
        let d = self.data;
        let nsg_id = d.path("Microsoft.Network/networkSecurityGroups", &d.nsg);
        let ip_id = d.path("Microsoft.Network/publicIPAddresses", &d.public_ip);
        let nic_id = d.path("Microsoft.Network/networkInterfaces", &d.nic);
        let resources = vec![
            resource(
                "Microsoft.Network/networkSecurityGroups",
                &d.nsg,
                api::NETWORK,
                &[],
                &self.nsg(),
            ),
            resource(
                "Microsoft.Network/publicIPAddresses",
                &d.public_ip,
                api::NETWORK,
                &[],
                &self.public_ip(),
            ),
            resource(
                "Microsoft.Network/networkInterfaces",
                &d.nic,
                api::NETWORK,
                &[&nsg_id, &ip_id],
                &self.nic(&nsg_id, &ip_id),
            ),
            resource(
                "Microsoft.Compute/virtualMachines",
                &d.vm,
                api::COMPUTE,
                &[&nic_id],
                &self.vm(&nic_id),
            ),
        ];
        let template = json!({
            "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "resources": resources,
            "outputs": {
                PUBLIC_IP_OUTPUT: {
                    "type": "string",
                    "value": format!("[reference('{ip_id}').ipAddress]"),
                },
                PRIVATE_IP_OUTPUT: {
                    "type": "string",
                    "value": format!(
                        "[reference('{nic_id}').ipConfigurations[0].properties.privateIPAddress]"
                    ),
                },
            },
        });
        Deployment {
            properties: DeploymentProperties {
                template: Some(template),
                mode: Some("Incremental".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn nsg(&self) -> NetworkSecurityGroup {
        NetworkSecurityGroup {
            location: Some(self.data.location.clone()),
            tags: self.tags.clone(),
            properties: NetworkSecurityGroupProperties {
                security_rules: vec![
                    rule("allow-ssh", "Tcp", "22", 1000, self.allowed),
                    rule(
                        "allow-azlin-agent",
                        "Udp",
                        &DEFAULT_AGENT_PORT.to_string(),
                        1010,
                        self.allowed,
                    ),
                ],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn public_ip(&self) -> PublicIpAddress {
        PublicIpAddress {
            location: Some(self.data.location.clone()),
            tags: self.tags.clone(),
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
        }
    }

    fn nic(&self, nsg_id: &str, ip_id: &str) -> NetworkInterface {
        NetworkInterface {
            location: Some(self.data.location.clone()),
            tags: self.tags.clone(),
            properties: NetworkInterfaceProperties {
                ip_configurations: vec![IpConfiguration {
                    name: Some("ipconfig1".into()),
                    properties: IpConfigurationProperties {
                        private_ip_allocation_method: Some("Dynamic".into()),
                        subnet: Some(SubResource::new(self.subnet_id)),
                        public_ip_address: Some(SubResource::new(ip_id)),
                        primary: Some(true),
                        ..Default::default()
                    },
                    ..Default::default()
                }],
                network_security_group: Some(SubResource::new(nsg_id)),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn vm(&self, nic_id: &str) -> VirtualMachine {
        let d = self.data;
        VirtualMachine {
            location: d.location.clone(),
            tags: self.tags.clone(),
            properties: VirtualMachineProperties {
                hardware_profile: Some(HardwareProfile {
                    vm_size: d.vm_size.clone(),
                }),
                storage_profile: Some(self.storage_profile()),
                os_profile: self.os_profile(),
                network_profile: Some(NetworkProfile {
                    network_interfaces: vec![nic_reference(nic_id)],
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

impl VmTemplate<'_> {
    fn storage_profile(&self) -> StorageProfile {
        match &self.boot {
            VmBoot::Image { image, disk_gb, .. } => StorageProfile {
                image_reference: Some(ImageReference {
                    publisher: Some(image.publisher.clone()),
                    offer: Some(image.offer.clone()),
                    sku: Some(image.sku.clone()),
                    version: Some(image.version.clone()),
                }),
                os_disk: Some(OsDisk {
                    name: Some(self.data.os_disk.clone()),
                    create_option: "FromImage".into(),
                    delete_option: Some("Delete".into()),
                    managed_disk: Some(ManagedDisk {
                        id: None,
                        storage_account_type: Some("StandardSSD_LRS".into()),
                    }),
                    disk_size_gb: *disk_gb,
                    ..Default::default()
                }),
                data_disks: Vec::new(),
            },
            VmBoot::Disks {
                os_disk,
                data_disks,
            } => StorageProfile {
                image_reference: None,
                os_disk: Some(OsDisk {
                    os_type: Some("Linux".into()),
                    create_option: "Attach".into(),
                    delete_option: Some("Delete".into()),
                    managed_disk: Some(ManagedDisk {
                        id: Some(os_disk.to_string()),
                        storage_account_type: None,
                    }),
                    ..Default::default()
                }),
                data_disks: data_disks
                    .iter()
                    .map(|(lun, id)| DataDisk {
                        lun: Some(*lun),
                        create_option: Some("Attach".into()),
                        name: None,
                        managed_disk: Some(ManagedDisk {
                            id: Some(id.clone()),
                            storage_account_type: None,
                        }),
                        delete_option: Some("Delete".into()),
                    })
                    .collect(),
            },
        }
    }

    fn os_profile(&self) -> Option<OsProfile> {
        let VmBoot::Image {
            admin,
            ssh_public_key,
            custom_data,
            ..
        } = &self.boot
        else {
            return None;
        };
        Some(OsProfile {
            computer_name: Some(self.data.vm.clone()),
            admin_username: Some(admin.to_string()),
            custom_data: Some(custom_data.to_string()),
            linux_configuration: Some(LinuxConfiguration {
                disable_password_authentication: true,
                ssh: Some(SshConfiguration {
                    public_keys: vec![SshPublicKey {
                        path: format!("/home/{admin}/.ssh/authorized_keys"),
                        key_data: ssh_public_key.to_string(),
                    }],
                }),
            }),
        })
    }
}

/// A template resource: the typed body with its type, name, API version
/// and the ids it waits for.
fn resource(
    kind: &str,
    name: &str,
    api_version: &str,
    depends_on: &[&str],
    body: &impl Serialize,
) -> Value {
    let mut v = serde_json::to_value(body).expect("models serialize");
    let o = v.as_object_mut().expect("a resource is an object");
    o.remove("id");
    o.insert("type".into(), kind.into());
    o.insert("name".into(), name.into());
    o.insert("apiVersion".into(), api_version.into());
    o.insert("dependsOn".into(), json!(depends_on));
    escape_expressions(&mut v);
    v
}

/// ARM evaluates any string value that starts with `[` and ends with `]`;
/// `[[` makes it a literal `[`. No value azlin sends is meant as an
/// expression.
fn escape_expressions(v: &mut Value) {
    match v {
        Value::String(s) if s.starts_with('[') && s.ends_with(']') => s.insert(0, '['),
        Value::Array(items) => items.iter_mut().for_each(escape_expressions),
        Value::Object(map) => map.values_mut().for_each(escape_expressions),
        _ => {}
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

#[cfg(test)]
mod tests;
