//! The shared-storage capability: a provider that can serve NFS 4.1
//! shares to its VMs makes, lists, describes and deletes them here. A
//! provider without it has none ([`super::Provider::storage`] is `None`)
//! and `azlin storage` is refused for it in one place, by
//! [`super::capability::refusal`].
//!
//! Not here: names and sizes (`crate::storage`), prices (the daemon's
//! `prices`), mounting on a VM (the agent).

use anyhow::Result;

use super::{Stage, Work};
use crate::{azure::context::AzureContext, ipc::new::Machine, storage::StorageInfo};

/// What `storage create` asks for, checked (`crate::storage::name`).
#[derive(Debug, Clone)]
pub struct StorageSpec {
    pub name: String,
    pub size_gib: u32,
}

/// A storage checked as a new VM's home (`new --nfs-storage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeShare {
    /// What the VM mounts: `HOST:/PATH`.
    pub export: String,
    /// Root squash was lifted, so that the new VM's root (its agent) can
    /// give the share's root folder to the user: [`SharedStorage::home_settled`]
    /// puts it back.
    pub squash_lifted: bool,
}

/// A provider's shared NFS storage.
pub trait SharedStorage: Send + Sync {
    /// Check `spec.name` is free where names must be unique, before
    /// anything is made (so a taken name fails first, alone).
    fn check_free<'a>(
        &'a self,
        spec: &'a StorageSpec,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<()>>;

    /// Make the storage and its share, locked down; again for one that
    /// exists only brings it to what azlin makes (idempotent). `stage` is
    /// told each step.
    fn create<'a>(
        &'a self,
        spec: &'a StorageSpec,
        azure: &'a AzureContext,
        stage: Stage<'a>,
    ) -> Work<'a, Result<StorageInfo>>;

    /// Every storage azlin made where the request looks.
    fn list<'a>(&'a self, azure: &'a AzureContext) -> Work<'a, Result<Vec<StorageInfo>>>;

    /// One storage azlin made, by name (an error naming the ones there
    /// are when it is not there).
    fn status<'a>(
        &'a self,
        name: &'a str,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<StorageInfo>>;

    /// Check `name` can be the home of a VM made with `machine` (it is
    /// there and that VM's network reaches it) before the VM is made, and
    /// see that the share's root folder becomes `uid`'s: the provider
    /// does that itself when it can; else it lifts root squash until the
    /// VM's agent has done it (a fresh share's root belongs to root, and a
    /// squashed root cannot give it away).
    fn home_for<'a>(
        &'a self,
        name: &'a str,
        uid: u32,
        machine: &'a Machine,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<HomeShare>>;

    /// After the VMs whose home `name` is have reported, for a share
    /// whose root squash [`SharedStorage::home_for`] lifted: root squash
    /// is put back, and, when `given` (the root folder is now `uid`'s),
    /// that is remembered so it is not lifted again.
    fn home_settled<'a>(
        &'a self,
        name: &'a str,
        uid: u32,
        given: bool,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<()>>;

    /// Delete it and its data.
    fn delete<'a>(&'a self, name: &'a str, azure: &'a AzureContext) -> Work<'a, Result<()>>;
}
