//! Microsoft.Compute: virtual machines (with their instance view), managed
//! disks and snapshots.

use serde::{Deserialize, Serialize};

use super::{Sku, SubResource, Tags};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub location: String,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
    #[serde(default)]
    pub properties: VirtualMachineProperties,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_profile: Option<HardwareProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_profile: Option<StorageProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_profile: Option<OsProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_profile: Option<NetworkProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    /// Present with `$expand=instanceView`.
    #[serde(default, skip_serializing)]
    pub instance_view: Option<InstanceView>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HardwareProfile {
    pub vm_size: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_reference: Option<ImageReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_disk: Option<OsDisk>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_disks: Vec<DataDisk>,
}

/// A data disk attached to a VM (a clone's copy of its source's; a
/// restore swaps one for a disk made from its snapshot).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataDisk {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lun: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_option: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_disk: Option<ManagedDisk>,
    /// `Delete` or `Detach` when the VM is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_option: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OsDisk {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// `FromImage`, `Attach`, `Empty`.
    #[serde(default)]
    pub create_option: String,
    /// `Delete` or `Detach` when the VM is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_option: Option<String>,
    #[serde(
        default,
        rename = "diskSizeGB",
        skip_serializing_if = "Option::is_none"
    )]
    pub disk_size_gb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_disk: Option<ManagedDisk>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedDisk {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_account_type: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OsProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_username: Option<String>,
    /// Base64 cloud-init; ARM never returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux_configuration: Option<LinuxConfiguration>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxConfiguration {
    #[serde(default)]
    pub disable_password_authentication: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshConfiguration>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SshConfiguration {
    #[serde(default)]
    pub public_keys: Vec<SshPublicKey>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SshPublicKey {
    pub path: String,
    pub key_data: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkProfile {
    #[serde(default)]
    pub network_interfaces: Vec<NetworkInterfaceReference>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterfaceReference {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<NetworkInterfaceReferenceProperties>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterfaceReferenceProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_option: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceView {
    #[serde(default)]
    pub computer_name: Option<String>,
    #[serde(default)]
    pub statuses: Vec<InstanceStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceStatus {
    pub code: String,
    #[serde(default)]
    pub display_status: Option<String>,
    #[serde(default)]
    pub time: Option<String>,
}

impl InstanceView {
    /// `running`, `stopped`, `deallocated`, `starting`… from the
    /// `PowerState/…` status.
    pub fn power_state(&self) -> Option<&str> {
        self.statuses
            .iter()
            .find_map(|s| s.code.strip_prefix("PowerState/"))
    }

    /// `succeeded`, `creating`, `failed`… from `ProvisioningState/…`.
    pub fn provisioning_state(&self) -> Option<&str> {
        self.statuses
            .iter()
            .find_map(|s| s.code.strip_prefix("ProvisioningState/"))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub location: String,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    #[serde(default, skip_serializing)]
    pub managed_by: Option<String>,
    /// The VMs sharing it (a shared disk; read-only).
    #[serde(default, skip_serializing)]
    pub managed_by_extended: Vec<String>,
    #[serde(default)]
    pub properties: DiskProperties,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiskProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_data: Option<CreationData>,
    #[serde(
        default,
        rename = "diskSizeGB",
        skip_serializing_if = "Option::is_none"
    )]
    pub disk_size_gb: Option<u32>,
    #[serde(default, skip_serializing)]
    pub disk_state: Option<String>,
    #[serde(default, skip_serializing)]
    pub time_created: Option<String>,
    /// The performance tier (`P10`, `E10`, `S10`…) a disk is billed by.
    #[serde(default, skip_serializing)]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    /// Snapshots: only the changes since the disk's previous one are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationData {
    /// `Copy`, `Import`, `Empty`, `FromImage`…
    pub create_option: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_uri: Option<String>,
}

/// A snapshot has a disk's shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub location: String,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    #[serde(default)]
    pub properties: DiskProperties,
}

/// A NIC reference for a VM body.
pub fn nic_reference(id: &str) -> NetworkInterfaceReference {
    NetworkInterfaceReference {
        id: id.to_string(),
        properties: Some(NetworkInterfaceReferenceProperties {
            primary: Some(true),
            delete_option: Some("Delete".into()),
        }),
    }
}

impl From<&SubResource> for NetworkInterfaceReference {
    fn from(r: &SubResource) -> Self {
        nic_reference(&r.id)
    }
}

/// One entry of the Resource SKUs list (`GET /subscriptions/{s}/providers/
/// Microsoft.Compute/skus?$filter=location eq '{region}'`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSku {
    #[serde(default)]
    pub resource_type: String,
    #[serde(default)]
    pub name: String,
    /// The quota family its vCPUs count against (`standardDSv5Family`).
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub locations: Vec<String>,
    #[serde(default)]
    pub capabilities: Vec<SkuCapability>,
    #[serde(default)]
    pub restrictions: Vec<SkuRestriction>,
}

impl ResourceSku {
    pub fn capability(&self, name: &str) -> Option<&str> {
        self.capabilities
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map(|c| c.value.as_str())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SkuCapability {
    pub name: String,
    pub value: String,
}

/// Why a SKU cannot be had: `type` `Location` (not in that region for
/// this subscription) or `Zone` (not in some zones).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuRestriction {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub reason_code: Option<String>,
}

/// One line of a region's compute quota (`…/locations/{region}/usages`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    #[serde(default)]
    pub current_value: i64,
    #[serde(default)]
    pub limit: i64,
    pub name: UsageName,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageName {
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub localized_value: Option<String>,
}

/// The body of `POST …/virtualMachines/{vm}/runCommand`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunCommandInput {
    /// `RunShellScript` on Linux.
    pub command_id: String,
    /// One command a line.
    pub script: Vec<String>,
}

/// What a Run Command reports: on Linux one `ProvisioningState/…` status
/// whose message holds `[stdout]` and `[stderr]`; in the REST specs'
/// example, one `ComponentStatus/StdOut/…` and one `…/StdErr/…` status.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunCommandResult {
    #[serde(default)]
    pub value: Vec<RunCommandStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunCommandStatus {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl RunCommandResult {
    /// (stdout, stderr) in either shape.
    pub fn output(&self) -> (String, String) {
        let part = |kind: &str| {
            self.value
                .iter()
                .find(|s| s.code.contains(&format!("/{kind}/")))
                .map(|s| s.message.clone())
        };
        if let (Some(out), Some(err)) = (part("StdOut"), part("StdErr")) {
            return (out, err);
        }
        let all: String = self.value.iter().map(|s| s.message.as_str()).collect();
        let after = |tag: &str| all.split_once(tag).map(|(_, rest)| rest);
        let out = after("[stdout]")
            .map(|r| r.split("[stderr]").next().unwrap_or(r))
            .unwrap_or(&all);
        let err = after("[stderr]").unwrap_or("");
        (out.trim().to_string(), err.trim().to_string())
    }
}
