//! Shared NFS 4.1 storage on Azure Files: one FileStorage (Premium_LRS)
//! account per storage, named as the user named it, holding one NFS share
//! `home` with root squash, tagged `managed-by=azlin` and
//! `azlin-role=nfs-storage`, in the request's resource group and region.
//! It is locked down as it is made: no public blob access, a firewall
//! that denies everyone but azlin's subnet (admitted through a
//! `Microsoft.Storage` service endpoint on that subnet, added here), and
//! secure transfer off on this account alone, because the kernel's NFS
//! client speaks plain NFS 4.1 (Azure's encrypted alternative, its mount
//! helper with stunnel, comes from a package repository azlin does not
//! assume; see the README).
//!
//! As a VM's home (`new --nfs-storage`): a fresh share's root folder
//! belongs to root, and with root squash no VM can give it to the user.
//! So, once per share, root squash is lifted while the first such VM's
//! agent gives it to the user's uid, then put back, and the account is
//! tagged `azlin-home-uid` (Azure's own advice for changing the owner of
//! a root-squashed share's root). Only azlin's subnet reaches the share
//! meanwhile.
//!
//! Not here: names and sizes (`crate::storage::name`), the price (the
//! daemon's `prices`), mounting (the agent).

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{
    AzureProvider, GroupPlace,
    create::{SUBNET, VNET},
};
use crate::{
    azure::{
        api,
        client::ArmClient,
        context::AzureContext,
        models::{
            Sku, Tags,
            resources::TagsResource,
            storage::{
                FileShare, FileShareProperties, NameAvailability, NameCheck, NetworkRuleSet,
                StorageAccount, StorageAccountProperties, VirtualNetworkRule,
            },
        },
    },
    ipc::new::Machine,
    provider::{
        Stage, Work,
        storage::{HomeShare, SharedStorage, StorageSpec},
    },
    storage::StorageInfo,
};

/// The one share of an azlin storage account.
pub const SHARE: &str = "home";
/// The tag that tells azlin's NFS storage from the user's own accounts.
pub const ROLE_TAG: (&str, &str) = ("azlin-role", "nfs-storage");
const SERVICE_ENDPOINT: &str = "Microsoft.Storage";
/// Set on an account once its share's root folder was given to this uid
/// (so root squash is not lifted again for the next VM).
pub const HOME_UID_TAG: &str = "azlin-home-uid";

/// `eastus` and `East US` are one region.
fn same_region(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.replace(' ', "").to_ascii_lowercase();
    norm(a) == norm(b)
}

fn account_path(place: &GroupPlace, name: &str) -> String {
    place.path("Microsoft.Storage/storageAccounts", name)
}

fn share_path(place: &GroupPlace, name: &str) -> String {
    format!(
        "{}/fileServices/default/shares/{SHARE}",
        account_path(place, name)
    )
}

fn is_ours(account: &StorageAccount) -> bool {
    account.tags.get(ROLE_TAG.0).map(String::as_str) == Some(ROLE_TAG.1)
        && account.tags.get("managed-by").map(String::as_str) == Some("azlin")
}

/// What an account and its share say, as `storage list` shows it.
fn info(place: &GroupPlace, account: &StorageAccount, share: Option<&FileShare>) -> StorageInfo {
    let name = account.name.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let reachable_from = match &account.properties.network_acls {
        Some(acls) if acls.default_action.eq_ignore_ascii_case("Deny") => {
            let subnets: Vec<String> = acls
                .virtual_network_rules
                .iter()
                .map(|r| {
                    let mut parts = r.id.rsplit('/');
                    let subnet = parts.next().unwrap_or_default();
                    let vnet = parts.nth(1).unwrap_or_default();
                    format!("subnet {subnet} of {vnet}")
                })
                .collect();
            if !acls.ip_rules.is_empty() {
                notes.push(format!(
                    "the firewall also admits {} IP range(s) azlin did not add",
                    acls.ip_rules.len()
                ));
            }
            if subnets.is_empty() {
                "nowhere (no subnet is admitted)".to_string()
            } else {
                format!("only {}", subnets.join(", "))
            }
        }
        _ => {
            notes.push(
                "its firewall admits every network: azlin makes it deny all but its subnet".into(),
            );
            "any network".to_string()
        }
    };
    if account.properties.allow_blob_public_access == Some(true) {
        notes.push("public blob access is on: azlin makes it off".into());
    }
    let squash = share.and_then(|s| s.properties.root_squash.clone());
    if share.is_none() {
        notes.push(format!(
            "it has no share {SHARE:?}: `azlin storage create {name}` makes it"
        ));
    }
    StorageInfo {
        export: format!("{name}.file.core.windows.net:/{name}/{SHARE}"),
        place: format!(
            "resource group {}, {}",
            place.resource_group, account.location
        ),
        region: Some(account.location.clone()),
        size_gib: share.and_then(|s| s.properties.share_quota).unwrap_or(0),
        used_bytes: share.and_then(|s| s.properties.share_usage_bytes),
        root_squash: matches!(squash.as_deref(), Some("RootSquash" | "AllSquash")),
        reachable_from,
        notes,
        name,
    }
}

impl AzureProvider {
    async fn storage_place(
        &self,
        azure: &AzureContext,
    ) -> Result<(std::sync::Arc<ArmClient>, GroupPlace)> {
        let place = GroupPlace {
            subscription: self.subscription(&azure.target).await?,
            resource_group: self.resource_group(&azure.target),
            location: self.location(&azure.target),
        };
        Ok((self.client(&azure.access).await?, place))
    }

    async fn storage_check_free(&self, spec: &StorageSpec, azure: &AzureContext) -> Result<()> {
        let (arm, place) = self.storage_place(azure).await?;
        // One of ours by that name here: making it again is idempotent.
        if let Some(account) = arm
            .get_opt::<StorageAccount>(&account_path(&place, &spec.name), api::STORAGE)
            .await?
        {
            if is_ours(&account) {
                return Ok(());
            }
            bail!(
                "storage account {} in resource group {} is not one azlin made for NFS storage; \
                 choose another name (nothing done)",
                spec.name,
                place.resource_group
            );
        }
        let answer: NameAvailability = arm
            .post(
                &format!(
                    "/subscriptions/{}/providers/Microsoft.Storage/checkNameAvailability",
                    place.subscription
                ),
                api::STORAGE,
                Some(&NameCheck {
                    name: &spec.name,
                    kind: "Microsoft.Storage/storageAccounts",
                }),
            )
            .await
            .context("cannot ask Azure whether the name is free")?;
        if !answer.name_available {
            bail!(
                "the name {} is not available in Azure ({}): storage account names are unique \
                 across all of Azure; choose another (nothing done)",
                spec.name,
                answer
                    .message
                    .or(answer.reason)
                    .unwrap_or_else(|| "taken".into())
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(300)
                    .collect::<String>()
            );
        }
        Ok(())
    }

    /// Add the `Microsoft.Storage` service endpoint to the subnet, keeping
    /// everything else the subnet has (read and written back whole).
    async fn storage_endpoint(&self, arm: &ArmClient, subnet_id: &str) -> Result<bool> {
        let mut subnet: Value = arm.get(subnet_id, api::NETWORK).await?;
        let endpoints = &mut subnet["properties"]["serviceEndpoints"];
        let has = endpoints.as_array().is_some_and(|a| {
            a.iter()
                .any(|e| e["service"].as_str() == Some(SERVICE_ENDPOINT))
        });
        if has {
            return Ok(false);
        }
        match endpoints.as_array_mut() {
            Some(list) => list.push(serde_json::json!({ "service": SERVICE_ENDPOINT })),
            None => *endpoints = serde_json::json!([{ "service": SERVICE_ENDPOINT }]),
        }
        let _: Value = arm
            .put(subnet_id, api::NETWORK, &subnet)
            .await
            .context("cannot add the Microsoft.Storage service endpoint to azlin's subnet")?;
        Ok(true)
    }

    async fn storage_create(
        &self,
        spec: &StorageSpec,
        azure: &AzureContext,
        stage: Stage<'_>,
    ) -> Result<StorageInfo> {
        self.storage_check_free(spec, azure).await?;
        let (arm, place) = self.storage_place(azure).await?;
        let mut tags = Tags::new();
        tags.insert("managed-by".into(), "azlin".into());
        tags.insert(ROLE_TAG.0.into(), ROLE_TAG.1.into());
        let subnet_id = {
            let _shared = self.shared_setup.lock().await;
            self.ensure_group(&arm, &place, &tags).await?;
            self.ensure_network(&arm, &place, &tags).await?
        };
        if self.storage_endpoint(&arm, &subnet_id).await? {
            stage(format!(
                "service endpoint {SERVICE_ENDPOINT} added to subnet {SUBNET} of {VNET}"
            ));
        }
        let account = StorageAccount {
            location: place.location.clone(),
            kind: Some("FileStorage".into()),
            sku: Some(Sku {
                name: "Premium_LRS".into(),
                tier: None,
            }),
            tags,
            properties: StorageAccountProperties {
                allow_blob_public_access: Some(false),
                // Plain NFS 4.1 from the kernel's client: see the module doc.
                supports_https_traffic_only: Some(false),
                minimum_tls_version: Some("TLS1_2".into()),
                network_acls: Some(NetworkRuleSet {
                    default_action: "Deny".into(),
                    bypass: Some("None".into()),
                    virtual_network_rules: vec![VirtualNetworkRule {
                        id: subnet_id.clone(),
                        action: Some("Allow".into()),
                    }],
                    ip_rules: Vec::new(),
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let account: StorageAccount = arm
            .put(&account_path(&place, &spec.name), api::STORAGE, &account)
            .await
            .with_context(|| format!("cannot make storage account {}", spec.name))?;
        stage(format!(
            "storage account {} (FileStorage, Premium_LRS) reachable only from {SUBNET}",
            spec.name
        ));
        let share: FileShare = arm
            .put(
                &share_path(&place, &spec.name),
                api::STORAGE,
                &FileShare {
                    properties: FileShareProperties {
                        enabled_protocols: Some("NFS".into()),
                        root_squash: Some("RootSquash".into()),
                        share_quota: Some(spec.size_gib),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("cannot make the NFS share of {}", spec.name))?;
        stage(format!(
            "NFS 4.1 share {SHARE} ({} GiB, root squashed)",
            spec.size_gib
        ));
        Ok(info(&place, &account, Some(&share)))
    }

    async fn share_of(
        &self,
        arm: &ArmClient,
        place: &GroupPlace,
        name: &str,
    ) -> Result<Option<FileShare>> {
        Ok(arm
            .get_opt(
                &format!("{}?$expand=stats", share_path(place, name)),
                api::STORAGE,
            )
            .await?)
    }

    async fn storage_list(&self, azure: &AzureContext) -> Result<Vec<StorageInfo>> {
        let (arm, place) = self.storage_place(azure).await?;
        let accounts: Vec<StorageAccount> = match arm
            .list(
                &format!(
                    "{}/providers/Microsoft.Storage/storageAccounts",
                    place.group_path()
                ),
                api::STORAGE,
            )
            .await
        {
            Ok(a) => a,
            Err(e) if e.kind == crate::azure::error::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for account in accounts.iter().filter(|a| is_ours(a)) {
            let name = account.name.clone().unwrap_or_default();
            let share = self.share_of(&arm, &place, &name).await?;
            out.push(info(&place, account, share.as_ref()));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn storage_status(&self, name: &str, azure: &AzureContext) -> Result<StorageInfo> {
        let (arm, place) = self.storage_place(azure).await?;
        let account = arm
            .get_opt::<StorageAccount>(&account_path(&place, name), api::STORAGE)
            .await?
            .filter(is_ours);
        let Some(account) = account else {
            let there: Vec<String> = self
                .storage_list(azure)
                .await
                .map(|l| l.into_iter().map(|s| s.name).collect())
                .unwrap_or_default();
            bail!(
                "no NFS storage {name} made by azlin in resource group {}{}",
                place.resource_group,
                if there.is_empty() {
                    " (it has none; `azlin storage create NAME` makes one)".to_string()
                } else {
                    format!(" (it has {})", there.join(", "))
                }
            );
        };
        let share = self.share_of(&arm, &place, name).await?;
        Ok(info(&place, &account, share.as_ref()))
    }

    /// The share with `root_squash`, keeping its size and protocol.
    async fn put_squash(
        &self,
        arm: &ArmClient,
        place: &GroupPlace,
        name: &str,
        share: &FileShare,
        root_squash: &str,
    ) -> Result<()> {
        let _: FileShare = arm
            .put(
                &share_path(place, name),
                api::STORAGE,
                &FileShare {
                    properties: FileShareProperties {
                        enabled_protocols: Some("NFS".into()),
                        root_squash: Some(root_squash.into()),
                        share_quota: share.properties.share_quota,
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("cannot set {name}'s share to {root_squash}"))?;
        Ok(())
    }

    /// `name` as the home of a VM made with `machine`: one of ours with
    /// its NFS share, in the VM's region, admitting azlin's subnet (which
    /// has the service endpoint); root squash lifted until the VM's agent
    /// has given the share's root folder to `uid`, unless that was done.
    async fn storage_home_for(
        &self,
        name: &str,
        uid: u32,
        machine: &Machine,
        azure: &AzureContext,
    ) -> Result<HomeShare> {
        let info = self.storage_status(name, azure).await?;
        let (arm, place) = self.storage_place(azure).await?;
        let account: StorageAccount = arm.get(&account_path(&place, name), api::STORAGE).await?;
        let region = machine
            .region
            .clone()
            .unwrap_or_else(|| place.location.clone());
        if !same_region(&account.location, &region) {
            bail!(
                "storage {name} is in {}, the VM would be in {region}: azlin's subnet reaches                  storage in its own region; give --region {} (no VM made)",
                account.location,
                account.location
            );
        }
        let subnet_id = format!(
            "{}/subnets/{SUBNET}",
            place.path("Microsoft.Network/virtualNetworks", VNET)
        );
        let again = format!("`azlin storage create {name}` again puts it back (no VM made)");
        if let Some(acls) = &account.properties.network_acls
            && acls.default_action.eq_ignore_ascii_case("Deny")
            && !acls
                .virtual_network_rules
                .iter()
                .any(|r| r.id.eq_ignore_ascii_case(&subnet_id))
        {
            bail!("storage {name} does not admit azlin's subnet {SUBNET} of {VNET}: {again}");
        }
        let subnet: Option<Value> = arm.get_opt(&subnet_id, api::NETWORK).await?;
        let endpoint = subnet.as_ref().is_some_and(|s| {
            s["properties"]["serviceEndpoints"]
                .as_array()
                .is_some_and(|a| {
                    a.iter()
                        .any(|e| e["service"].as_str() == Some(SERVICE_ENDPOINT))
                })
        });
        if !endpoint {
            bail!(
                "azlin's subnet {SUBNET} of {VNET} has no {SERVICE_ENDPOINT} service endpoint, so                  a VM there cannot reach storage {name}: {again}"
            );
        }
        let Some(share) = self.share_of(&arm, &place, name).await? else {
            bail!("storage {name} has no share {SHARE:?}: {again}");
        };
        if share.properties.enabled_protocols.as_deref() != Some("NFS") {
            bail!("storage {name}'s share {SHARE:?} is not an NFS share (no VM made)");
        }
        let given = account.tags.get(HOME_UID_TAG).map(String::as_str) == Some(&*uid.to_string());
        if !given {
            self.put_squash(&arm, &place, name, &share, "NoRootSquash")
                .await?;
        }
        Ok(HomeShare {
            export: info.export,
            squash_lifted: !given,
        })
    }

    /// Root squash back on `name`'s share; the account tagged with `uid`
    /// when its root folder was given.
    async fn storage_home_settled(
        &self,
        name: &str,
        uid: u32,
        given: bool,
        azure: &AzureContext,
    ) -> Result<()> {
        let (arm, place) = self.storage_place(azure).await?;
        let share = self
            .share_of(&arm, &place, name)
            .await?
            .with_context(|| format!("storage {name}'s share is gone"))?;
        self.put_squash(&arm, &place, name, &share, "RootSquash")
            .await?;
        if given {
            let path = format!(
                "{}/providers/Microsoft.Resources/tags/default",
                account_path(&place, name)
            );
            let mut tags: TagsResource = arm.get(&path, api::RESOURCES).await?;
            tags.properties
                .tags
                .insert(HOME_UID_TAG.into(), uid.to_string());
            let body = TagsResource {
                id: None,
                properties: tags.properties,
            };
            arm.put::<_, TagsResource>(&path, api::RESOURCES, &body)
                .await
                .with_context(|| format!("cannot tag storage {name} in Azure"))?;
        }
        Ok(())
    }

    async fn storage_delete(&self, name: &str, azure: &AzureContext) -> Result<()> {
        // Only one of ours: status refuses anything else, naming what is.
        self.storage_status(name, azure).await?;
        let (arm, place) = self.storage_place(azure).await?;
        arm.delete(&account_path(&place, name), api::STORAGE)
            .await
            .with_context(|| format!("cannot delete storage account {name}"))?;
        Ok(())
    }
}

impl SharedStorage for AzureProvider {
    fn check_free<'a>(
        &'a self,
        spec: &'a StorageSpec,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(self.storage_check_free(spec, azure))
    }

    fn create<'a>(
        &'a self,
        spec: &'a StorageSpec,
        azure: &'a AzureContext,
        stage: Stage<'a>,
    ) -> Work<'a, Result<StorageInfo>> {
        Box::pin(self.storage_create(spec, azure, stage))
    }

    fn list<'a>(&'a self, azure: &'a AzureContext) -> Work<'a, Result<Vec<StorageInfo>>> {
        Box::pin(self.storage_list(azure))
    }

    fn status<'a>(
        &'a self,
        name: &'a str,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<StorageInfo>> {
        Box::pin(self.storage_status(name, azure))
    }

    fn home_for<'a>(
        &'a self,
        name: &'a str,
        uid: u32,
        machine: &'a Machine,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<HomeShare>> {
        Box::pin(self.storage_home_for(name, uid, machine, azure))
    }

    fn home_settled<'a>(
        &'a self,
        name: &'a str,
        uid: u32,
        given: bool,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(self.storage_home_settled(name, uid, given, azure))
    }

    fn delete<'a>(&'a self, name: &'a str, azure: &'a AzureContext) -> Work<'a, Result<()>> {
        Box::pin(self.storage_delete(name, azure))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str, status: &str) -> serde_json::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/azure/specs-examples/storage")
            .join(name);
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        doc["responses"][status]["body"].clone()
    }

    fn place() -> GroupPlace {
        GroupPlace {
            subscription: "s".into(),
            resource_group: "rg".into(),
            location: "westus2".into(),
        }
    }

    #[test]
    fn an_account_and_share_are_described_from_azures_shapes() {
        let share: FileShare =
            serde_json::from_value(example("FileSharesGet.json", "200")).unwrap();
        let nfs: FileShare =
            serde_json::from_value(example("FileSharesPut_NFS.json", "201")).unwrap();
        assert_eq!(nfs.properties.enabled_protocols.as_deref(), Some("NFS"));
        let locked: StorageAccount = serde_json::from_value(serde_json::json!({
            "name": "teamhome", "location": "westus2", "kind": "FileStorage",
            "properties": {"networkAcls": {"defaultAction": "Deny", "virtualNetworkRules": [
                {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/azlin-vnet/subnets/azlin-subnet", "action": "Allow", "state": "Succeeded"}],
                "ipRules": []}}
        }))
        .unwrap();
        let i = info(&place(), &locked, Some(&share));
        assert_eq!(i.size_gib, 1024);
        assert_eq!(i.used_bytes, None);
        assert!(!i.root_squash, "the example share sets no squash");
        assert_eq!(i.reachable_from, "only subnet azlin-subnet of azlin-vnet");
        assert!(i.notes.is_empty(), "{:?}", i.notes);
        assert_eq!(i.export, "teamhome.file.core.windows.net:/teamhome/home");

        // An account open to every network, with no share: both said.
        let open: StorageAccount = serde_json::from_value(serde_json::json!({
            "name": "wideopen", "location": "westus2",
            "properties": {"allowBlobPublicAccess": true}
        }))
        .unwrap();
        let i = info(&place(), &open, None);
        assert_eq!(i.reachable_from, "any network");
        assert_eq!(i.notes.len(), 3, "{:?}", i.notes);
        let squashed: FileShare = serde_json::from_value(serde_json::json!({
            "properties": {"enabledProtocols": "NFS", "rootSquash": "AllSquash",
                           "shareQuota": 100, "shareUsageBytes": 652945}
        }))
        .unwrap();
        let i = info(&place(), &locked, Some(&squashed));
        assert!(i.root_squash);
        assert_eq!(i.used_bytes, Some(652945));
    }
}
