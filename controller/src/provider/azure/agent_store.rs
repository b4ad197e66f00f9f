//! Where new Azure VMs download azlin-agent from when `[azure] agent_url`
//! is not set: a private blob container in the user's own subscription.
//! One storage account per subscription and region, named from both (so
//! it is found again), tagged `managed-by=azlin`, public blob access off;
//! the binary is kept under its sha256 and uploaded only when missing;
//! each VM gets a read-only SAS URL for that one blob that expires within
//! two hours, signed with a key from ARM's `listKeys` (Contributor is
//! enough).
//!
//! For `azlin cleanup` it also lists a store's agent builds and deletes
//! one (with a container SAS that lists, a blob SAS that deletes); which
//! builds are orphans is `crate::cleanup`'s to say.
//!
//! Not here: the signature itself ([`crate::azure::sas`]) or the Blob
//! requests ([`crate::azure::blob`]).

use anyhow::{Context, Result, bail};
use time::OffsetDateTime;

use super::{AzureData, AzureProvider};
use crate::{
    azure::{
        api,
        blob::{BlobClient, SignedBlob},
        client::ArmClient,
        models::{
            Sku, Tags,
            storage::{
                AccountKeys, BlobContainer, BlobContainerProperties, StorageAccount,
                StorageAccountProperties,
            },
        },
        sas::{BlobSas, MAX_LIFETIME, Permissions},
    },
    cleanup::AgentBlob,
    provider::{docker::agent_download::sha256_file, local::find_agent_binary},
};

/// The container that holds agent binaries.
pub const CONTAINER: &str = "azlin-agents";
/// The tag that tells azlin's agent store from the user's own accounts.
pub const ROLE_TAG: (&str, &str) = ("azlin-role", "agent-store");

/// A storage account's name from its subscription and region: `azlin` and
/// 19 hex digits of their hash (names are 3-24 lower-case letters and
/// digits, unique across Azure).
pub fn account_name(subscription: &str, location: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!(
            "{}/{}",
            subscription.to_ascii_lowercase(),
            location.to_ascii_lowercase()
        )
        .as_bytes(),
    );
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("azlin{}", &hex[..19])
}

/// What every agent build's blob name starts with.
pub const BLOB_PREFIX: &str = "azlin-agent-";

/// The blob an agent build is kept under.
pub fn blob_name(sha256: &str) -> String {
    format!("{BLOB_PREFIX}{}", sha256.to_ascii_lowercase())
}

/// A found or made agent store.
#[derive(Debug, Clone)]
pub struct Store {
    /// The account's ARM path.
    path: String,
    account: String,
    /// `https://{account}.blob.core.windows.net/` on Azure.
    endpoint: String,
}

impl Store {
    /// The store `account` (at ARM path `path`, named `name`) is.
    fn of(path: String, name: String, account: &StorageAccount) -> Self {
        let endpoint = account
            .properties
            .primary_endpoints
            .as_ref()
            .and_then(|e| e.blob.clone())
            .unwrap_or_else(|| format!("https://{name}.blob.core.windows.net/"));
        let endpoint = if endpoint.ends_with('/') {
            endpoint
        } else {
            format!("{endpoint}/")
        };
        Store {
            path,
            account: name,
            endpoint,
        }
    }

    /// The account's first key (base64), from ARM's `listKeys`.
    async fn key(&self, arm: &ArmClient) -> Result<String> {
        let keys: AccountKeys = arm
            .post::<(), _>(&format!("{}/listKeys", self.path), api::STORAGE, None)
            .await
            .with_context(|| format!("cannot read the keys of storage account {}", self.account))?;
        match keys.keys.into_iter().next() {
            Some(k) => Ok(k.value),
            None => bail!(
                "storage account {} returned no keys; azlin signs its blob requests with one \
                 (is shared-key access turned off on it?)",
                self.account
            ),
        }
    }
}

/// What a VM's cloud-init downloads: a read-only SAS URL and the hash it
/// must have.
pub struct Delivery {
    pub url: String,
    pub sha256: String,
}

impl AzureProvider {
    /// The agent for a new VM in `data`'s subscription and region: found
    /// or uploaded to the store, with a read-only SAS URL for it. The
    /// resource group must exist (a new store is made in it).
    pub(super) async fn deliver_agent(
        &self,
        arm: &ArmClient,
        data: &AzureData,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Delivery> {
        let binary = find_agent_binary()?;
        let sha256 = self.local_agent_sha256().await?;
        let store = self.store(arm, data, stage).await?;
        let key = store.key(arm).await?;
        let blobs = BlobClient::new()?;
        let name = blob_name(&sha256);
        let url = format!("{}{CONTAINER}/{name}", store.endpoint);
        let https = url.starts_with("https://");
        let now = OffsetDateTime::now_utc();
        // Five minutes back for clocks that run behind Azure's.
        let start = now - time::Duration::minutes(5);
        let sign = |permissions, expiry| {
            BlobSas {
                account: &store.account,
                container: CONTAINER,
                blob: Some(&name),
                permissions,
                start,
                expiry,
                https_only: https,
            }
            .query(&key)
        };
        let read = SignedBlob {
            url: url.clone(),
            sas: sign(Permissions::READ, start + MAX_LIFETIME)?,
        };
        let _one_upload = self.agent_upload.lock().await;
        if !blobs.exists(&read).await? {
            let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
            stage(format!(
                "uploading azlin-agent ({:.1} MiB) to storage account {}",
                size as f64 / (1024.0 * 1024.0),
                store.account
            ));
            let bytes = tokio::fs::read(&binary)
                .await
                .with_context(|| format!("cannot read {}", binary.display()))?;
            // What is uploaded must be what was hashed.
            let bin = binary.clone();
            let uploaded_sha = tokio::task::spawn_blocking(move || sha256_file(&bin)).await??;
            if uploaded_sha != sha256 {
                bail!(
                    "{} changed while azlin was using it (rebuilt?); run the command again",
                    binary.display()
                );
            }
            let write = SignedBlob {
                url: url.clone(),
                sas: sign(Permissions::CREATE_WRITE, start + MAX_LIFETIME)?,
            };
            blobs.upload(&write, &bytes).await?;
        }
        Ok(Delivery {
            url: format!("{}?{}", read.url, read.sas),
            sha256,
        })
    }

    /// The store of `data`'s subscription and region: known to this
    /// daemon, else found by name among the subscription's accounts, else
    /// made in `data`'s resource group with its private container.
    async fn store(
        &self,
        arm: &ArmClient,
        data: &AzureData,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Store> {
        let key = (
            data.subscription.to_ascii_lowercase(),
            data.location.to_ascii_lowercase(),
        );
        let mut stores = self.agent_stores.lock().await;
        if let Some(s) = stores.get(&key) {
            return Ok(s.clone());
        }
        let name = account_name(&data.subscription, &data.location);
        let accounts: Vec<StorageAccount> = arm
            .list(
                &format!(
                    "/subscriptions/{}/providers/Microsoft.Storage/storageAccounts",
                    data.subscription
                ),
                api::STORAGE,
            )
            .await
            .context("cannot list the subscription's storage accounts")?;
        let found = accounts.into_iter().find(|a| {
            a.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&name))
        });
        let account = match found {
            Some(a) => a,
            None => {
                stage(format!(
                    "making storage account {name} in {} for the agent binary (once per \
                     subscription and region)",
                    data.resource_group
                ));
                self.make_store(arm, data, &name).await?
            }
        };
        let path = account.id.clone().unwrap_or_else(|| {
            format!(
                "{}/providers/Microsoft.Storage/storageAccounts/{name}",
                data.group_path()
            )
        });
        let store = Store::of(path, name.clone(), &account);
        // The container, every time this daemon first uses the store: PUT
        // is idempotent, and it may have been removed by hand.
        let container: BlobContainer = arm
            .put(
                &format!("{}/blobServices/default/containers/{CONTAINER}", store.path),
                api::STORAGE,
                &BlobContainer {
                    properties: BlobContainerProperties {
                        public_access: Some("None".into()),
                    },
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("cannot make container {CONTAINER} in {name}"))?;
        if container
            .properties
            .public_access
            .as_deref()
            .is_some_and(|p| !p.eq_ignore_ascii_case("None"))
        {
            bail!(
                "container {CONTAINER} in storage account {name} allows public access; azlin \
                 keeps the agent only in a private container: set its access level to private"
            );
        }
        stores.insert(key, store.clone());
        Ok(store)
    }

    /// The agent builds in `account`'s container, if it is azlin's agent
    /// store (by its tag); others hold none. A store without the
    /// container holds none.
    pub(super) async fn agent_blobs(
        &self,
        arm: &ArmClient,
        account: &StorageAccount,
    ) -> Result<Vec<AgentBlob>> {
        let (Some(path), Some(name)) = (&account.id, &account.name) else {
            return Ok(Vec::new());
        };
        if account.tags.get(ROLE_TAG.0).map(String::as_str) != Some(ROLE_TAG.1) {
            return Ok(Vec::new());
        }
        let store = Store::of(path.clone(), name.clone(), account);
        let key = store.key(arm).await?;
        let start = OffsetDateTime::now_utc() - time::Duration::minutes(5);
        let sas = BlobSas {
            account: &store.account,
            container: CONTAINER,
            blob: None,
            permissions: Permissions::LIST,
            start,
            expiry: start + time::Duration::minutes(30),
            https_only: store.endpoint.starts_with("https://"),
        }
        .query(&key)?;
        let container = SignedBlob {
            url: format!("{}{CONTAINER}", store.endpoint),
            sas,
        };
        let items = match BlobClient::new()?.list(&container, BLOB_PREFIX).await {
            Ok(items) => items,
            Err(e) if e.status == Some(404) => Vec::new(),
            Err(e) => return Err(e).context("cannot list the agent store's builds"),
        };
        Ok(items
            .into_iter()
            .map(|i| AgentBlob {
                id: format!(
                    "{path}/blobServices/default/containers/{CONTAINER}/blobs/{}",
                    i.name
                ),
                name: i.name,
                created: i.created,
                bytes: i.bytes,
                location: Some(account.location.clone()),
            })
            .collect())
    }

    /// Delete the agent build `id` names (as [`Self::agent_blobs`] gave
    /// it); already gone: done.
    pub(super) async fn delete_agent_blob(&self, arm: &ArmClient, id: &str) -> Result<()> {
        let Some((path, rest)) = id.split_once("/blobServices/default/containers/") else {
            bail!("{id} is not an agent build's id");
        };
        let Some(name) = rest
            .strip_prefix(CONTAINER)
            .and_then(|r| r.strip_prefix("/blobs/"))
        else {
            bail!("{id} is not in azlin's agent container");
        };
        let account: StorageAccount = arm
            .get(path, api::STORAGE)
            .await
            .with_context(|| format!("cannot read storage account {path}"))?;
        let store = Store::of(
            path.to_string(),
            crate::azure::models::name_of(path).into(),
            &account,
        );
        let key = store.key(arm).await?;
        let start = OffsetDateTime::now_utc() - time::Duration::minutes(5);
        let sas = BlobSas {
            account: &store.account,
            container: CONTAINER,
            blob: Some(name),
            permissions: Permissions::DELETE,
            start,
            expiry: start + time::Duration::minutes(30),
            https_only: store.endpoint.starts_with("https://"),
        }
        .query(&key)?;
        BlobClient::new()?
            .delete(&SignedBlob {
                url: format!("{}{CONTAINER}/{name}", store.endpoint),
                sas,
            })
            .await?;
        Ok(())
    }

    async fn make_store(
        &self,
        arm: &ArmClient,
        data: &AzureData,
        name: &str,
    ) -> Result<StorageAccount> {
        let mut tags = Tags::new();
        tags.insert("managed-by".into(), "azlin".into());
        tags.insert(ROLE_TAG.0.into(), ROLE_TAG.1.into());
        let path = format!(
            "{}/providers/Microsoft.Storage/storageAccounts/{name}",
            data.group_path()
        );
        arm.put(
            &path,
            api::STORAGE,
            &StorageAccount {
                location: data.location.clone(),
                kind: Some("StorageV2".into()),
                sku: Some(Sku {
                    name: "Standard_LRS".into(),
                    tier: None,
                }),
                tags,
                properties: StorageAccountProperties {
                    allow_blob_public_access: Some(false),
                    supports_https_traffic_only: Some(true),
                    minimum_tls_version: Some("TLS1_2".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .with_context(|| {
            format!(
                "cannot make storage account {name} in {} for the agent binary (set [azure] \
                 agent_url to serve it yourself instead)",
                data.resource_group
            )
        })
    }
}
