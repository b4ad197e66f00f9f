//! Microsoft.Storage: storage accounts, their keys, blob containers (where
//! the agent binary is kept) and file shares (NFS homes).

use serde::{Deserialize, Serialize};

use super::{Sku, Tags};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageAccount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    #[serde(default)]
    pub properties: StorageAccountProperties,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageAccountProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_nfs_v3_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_hns_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_blob_public_access: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supports_https_traffic_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_tls_version: Option<String>,
    #[serde(default, skip_serializing)]
    pub primary_endpoints: Option<Endpoints>,
    /// Who may reach the account (`None`: everyone, Azure's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_acls: Option<NetworkRuleSet>,
}

/// `networkAcls`: the account's firewall.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRuleSet {
    /// `Allow` or `Deny`: what happens to a caller no rule names.
    pub default_action: String,
    /// `AzureServices`, `None`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass: Option<String>,
    #[serde(default)]
    pub virtual_network_rules: Vec<VirtualNetworkRule>,
    #[serde(default)]
    pub ip_rules: Vec<IpRule>,
}

/// A subnet admitted through its `Microsoft.Storage` service endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualNetworkRule {
    /// The subnet's ARM id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpRule {
    pub value: String,
}

/// `POST /subscriptions/{s}/providers/Microsoft.Storage/checkNameAvailability`.
#[derive(Debug, Clone, Serialize)]
pub struct NameCheck<'a> {
    pub name: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameAvailability {
    pub name_available: bool,
    /// `AccountNameInvalid` or `AlreadyExists`.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// The answer of `POST …/storageAccounts/{name}/listKeys`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccountKeys {
    #[serde(default)]
    pub keys: Vec<AccountKey>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountKey {
    #[serde(default)]
    pub key_name: String,
    pub value: String,
}

/// Never printed: the key signs SAS tokens.
impl std::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccountKey({}, <hidden>)", self.key_name)
    }
}

/// A blob container (`…/blobServices/default/containers/{name}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobContainer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub properties: BlobContainerProperties,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobContainerProperties {
    /// `None` (private), `Blob` or `Container`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub blob: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileShare {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub properties: FileShareProperties,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileShareProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_protocols: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_squash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_quota: Option<u32>,
    /// With `$expand=stats`: about how many bytes the share holds.
    #[serde(default, skip_serializing)]
    pub share_usage_bytes: Option<u64>,
}
