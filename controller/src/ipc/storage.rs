//! `azlin storage create|list|status|delete|mount|unmount`: shared NFS
//! 4.1 storage for the VMs, made by the provider named (`None`:
//! config.toml's `default_provider`) where the request looks, with its
//! price a month, and mounted on a VM by its agent.

use serde::{Deserialize, Serialize};

use super::{Call, Done};
use crate::storage::StorageInfo;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageCreate {
    pub name: String,
    pub size_gib: u32,
    /// `Premium` (NFS 4.1 needs it) or `Standard` (refused, saying why).
    pub tier: String,
    pub provider: Option<String>,
}

impl Call for StorageCreate {
    type Reply = StorageView;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageList {
    pub provider: Option<String>,
}

impl Call for StorageList {
    type Reply = Vec<StorageView>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageStatus {
    pub name: String,
    pub provider: Option<String>,
}

impl Call for StorageStatus {
    type Reply = StorageView;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageDelete {
    pub name: String,
    pub provider: Option<String>,
    /// Say what would be deleted; delete nothing.
    pub dry_run: bool,
    /// Delete it even while VMs have it mounted (or cannot be asked).
    pub force: bool,
}

impl Call for StorageDelete {
    type Reply = Done;
}

/// Mount a storage on a VM (or, `unmount`, take it off), through the
/// VM's agent; the storage is the VM's provider's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageMount {
    pub name: String,
    pub vm: String,
    /// The folder on the VM; `None`: `/mnt/NAME`.
    pub path: Option<String>,
    pub unmount: bool,
}

impl Call for StorageMount {
    type Reply = Done;
}

impl super::NamesVm for StorageMount {
    fn vm(&self) -> &str {
        &self.vm
    }
}

/// A storage, its provider and what it costs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageView {
    pub provider: String,
    pub storage: StorageInfo,
    /// Its provisioned size's price a month (`None`: no price; see
    /// `price_note`).
    pub per_month: Option<f64>,
    pub currency: Option<String>,
    /// Where the price comes from, or why there is none.
    pub price_note: String,
    /// The running VMs whose agents say they have it mounted now:
    /// `VM at DIR`.
    pub mounted_on: Vec<String>,
    /// Running VMs of its provider that could not be asked.
    pub not_asked: Vec<String>,
}
