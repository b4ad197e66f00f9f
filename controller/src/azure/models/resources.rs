//! Resource groups and template deployments.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Tags;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub location: String,
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<ResourceGroupProperties>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
}

/// A template deployment (`Microsoft.Resources/deployments`): how one VM's
/// resources are made in a single request, as `az vm create` does.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub properties: DeploymentProperties,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentProperties {
    /// The template, sent; ARM does not echo it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<serde_json::Value>,
    /// `Incremental` (what is not in the template stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    /// When it last ran (read-only), RFC 3339.
    #[serde(default, skip_serializing)]
    pub timestamp: Option<String>,
    /// The template's outputs, evaluated: name → `{type, value}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<BTreeMap<String, DeploymentOutput>>,
}

/// One evaluated output (`{"type": …, "value": …}`; the type is not used).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentOutput {
    #[serde(default)]
    pub value: serde_json::Value,
}

/// The Tags API's view of one resource's tags
/// (`{resource id}/providers/Microsoft.Resources/tags/default`): a PUT of
/// it replaces them all, so one tag set changes without touching the rest
/// of the resource (and without its write lock or long operation).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagsResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub properties: TagsProperties,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TagsProperties {
    #[serde(default)]
    pub tags: Tags,
}

/// One resource of a group's resource list
/// (`{group}/resources?$expand=createdTime`): the only place ARM says when
/// a NIC, public IP or NSG was made (their own models carry no time).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenericResource {
    #[serde(default)]
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    /// RFC 3339; only with `$expand=createdTime`.
    #[serde(default)]
    pub created_time: Option<String>,
}

/// A subscription as `GET /subscriptions/{id}` describes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionInfo {
    #[serde(default)]
    pub subscription_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// `Enabled`, `Warned`, `PastDue`, `Disabled`, `Deleted`.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
}
