//! The emulator's Azure Files, strict where Azure is: the storage account
//! name check (`checkNameAvailability`: the naming rule, then every
//! account any subscription holds, and names a test marks taken
//! elsewhere in Azure), a FileStorage account only on a Premium SKU, a
//! firewall's subnet rules only for subnets that exist and carry the
//! `Microsoft.Storage` service endpoint (Azure's
//! `NetworkAclsValidationFailure`), an NFS share only on a FileStorage
//! account, and share stats (`$expand=stats`) from sizes a test sets.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// What the emulator's Azure Files holds beside the resources.
#[derive(Debug, Default)]
pub struct FilesData {
    /// Names taken by someone else somewhere in Azure.
    pub taken: BTreeSet<String>,
    /// Bytes each share holds, by its lower-case ARM path.
    pub usage: BTreeMap<String, u64>,
    /// `checkNameAvailability` calls answered.
    pub name_checks: u32,
    /// Each share PUT's `rootSquash`, in order (`-` when it had none).
    pub squashes: Vec<String>,
}

/// Why a request is refused: (status, code, message).
pub type Refusal = (u16, &'static str, String);

fn valid_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl FilesData {
    /// `POST …/providers/Microsoft.Storage/checkNameAvailability`.
    pub fn name_availability(
        &mut self,
        resources: &BTreeMap<String, Value>,
        body: &str,
    ) -> Result<Value, Refusal> {
        self.name_checks += 1;
        let body: Value = serde_json::from_str(body)
            .map_err(|e| (400, "InvalidRequestContent", e.to_string()))?;
        if body["type"] != "Microsoft.Storage/storageAccounts" {
            return Err((
                400,
                "InvalidRequestContent",
                "type must be Microsoft.Storage/storageAccounts".into(),
            ));
        }
        let Some(name) = body["name"].as_str() else {
            return Err((400, "InvalidRequestContent", "name is required".into()));
        };
        if !valid_name(name) {
            return Ok(
                json!({"nameAvailable": false, "reason": "AccountNameInvalid",
                "message": format!("{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.")}),
            );
        }
        let suffix = format!("/providers/microsoft.storage/storageaccounts/{name}");
        let held = resources.keys().any(|k| k.ends_with(&suffix));
        Ok(if held || self.taken.contains(name) {
            json!({"nameAvailable": false, "reason": "AlreadyExists",
                   "message": format!("The storage account named {name} is already taken.")})
        } else {
            json!({"nameAvailable": true})
        })
    }

    /// A storage account PUT as Azure checks it.
    pub fn check_account(
        resources: &BTreeMap<String, Value>,
        account: &Value,
    ) -> Result<(), Refusal> {
        let sku = account["sku"]["name"].as_str().unwrap_or_default();
        if account["kind"] == "FileStorage" && !sku.starts_with("Premium_") {
            return Err((
                400,
                "InvalidRequestPropertyValue",
                format!("The SKU {sku} is not supported for kind FileStorage."),
            ));
        }
        let rules = account["properties"]["networkAcls"]["virtualNetworkRules"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for rule in rules {
            let id = rule["id"].as_str().unwrap_or_default();
            let subnet = resources.get(&id.to_ascii_lowercase());
            let has_endpoint = subnet.is_some_and(|s| {
                s["properties"]["serviceEndpoints"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["service"] == "Microsoft.Storage"))
            });
            if !has_endpoint {
                let (vnet, name) = id.rsplit_once("/subnets/").unwrap_or((id, ""));
                return Err((
                    400,
                    "NetworkAclsValidationFailure",
                    format!(
                        "Validation of network acls failure: SubnetsHaveNoServiceEndpointsConfigured:Subnets {name} of virtual network {vnet} do not have ServiceEndpoints for Microsoft.Storage resources configured. Add Microsoft.Storage to subnet's ServiceEndpoints collection before trying to ACL Microsoft.Storage resources to these subnets.."
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A file share PUT: its account must exist, and NFS needs FileStorage.
    pub fn check_share(
        resources: &BTreeMap<String, Value>,
        account_key: &str,
        share: &Value,
    ) -> Result<(), Refusal> {
        let Some(account) = resources.get(account_key) else {
            return Err((
                404,
                "ParentResourceNotFound",
                format!("the storage account {account_key} does not exist"),
            ));
        };
        if share["properties"]["enabledProtocols"] == "NFS" && account["kind"] != "FileStorage" {
            return Err((
                400,
                "FeatureNotSupportedForAccount",
                "NfsFileShares is not supported for the account.".into(),
            ));
        }
        let squash = &share["properties"]["rootSquash"];
        if !squash.is_null()
            && !matches!(
                squash.as_str(),
                Some("NoRootSquash" | "RootSquash" | "AllSquash")
            )
        {
            return Err((
                400,
                "InvalidRequestPropertyValue",
                "rootSquash must be NoRootSquash, RootSquash or AllSquash".into(),
            ));
        }
        Ok(())
    }

    /// A share as GET shows it: with `$expand=stats`, its usage.
    pub fn shown(&self, key: &str, share: &mut Value, query: &str) {
        if query.to_ascii_lowercase().contains("expand=stats") {
            share["properties"]["shareUsageBytes"] =
                json!(self.usage.get(key).copied().unwrap_or(0));
        }
    }
}

/// The account a share's key belongs to.
pub fn account_of_share(key: &str) -> Option<&str> {
    key.find("/fileservices/default/shares/").map(|i| &key[..i])
}
