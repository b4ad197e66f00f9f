//! The snapshot capability: a provider that can copy a VM as it is now
//! takes, deletes and restores those copies here (an Azure disk
//! snapshot, a docker image, a copy of a local VM's folder). A provider
//! without it has none ([`super::Provider::snapshots`] is `None`) and
//! `azlin snapshot` is refused for it in one place, by
//! [`super::capability::refusal`].
//!
//! Not here: names (`crate::snapshot`), the record (`state::snapshots`),
//! holding the VM still (its agent, asked by the daemon).

use anyhow::Result;

use super::{Stage, Started, Work};
use crate::{
    azure::context::AzureContext,
    state::{VmRow, snapshots::SnapshotRow},
};

/// What a clone's source VM holds that no clone may get: the VM user's
/// home (absolute, on the VM) and the files in it the security filter
/// blocks, relative to it, checked (`crate::snapshot::secrets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeSecrets {
    pub home: String,
    pub paths: Vec<String>,
}

/// A provider's snapshots.
pub trait Snapshots: Send + Sync {
    /// Whether the VM's agent should hold the VM still (freeze its other
    /// processes) while [`Snapshots::take`] runs: the copy is then of one
    /// moment. A provider whose copy is already of one moment (or that
    /// copies only files nothing runs from) says no.
    fn holds_still(&self) -> bool;

    /// The shortest interval a snapshot schedule may have on this
    /// provider (a cloud's limit on snapshots of a disk), in seconds.
    fn min_interval_secs(&self) -> i64 {
        10
    }

    /// Copy `vm` as it is now as snapshot `name`: what the provider needs
    /// to find it again (JSON, kept in `state.db`).
    fn take<'a>(
        &'a self,
        vm: &'a VmRow,
        name: &'a str,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<String>>;

    /// What the snapshot holds, in words (`snapshot list`).
    fn holds(&self, snapshot: &SnapshotRow) -> String;

    /// What restoring `vm` to `snapshot` does, a line each
    /// (`snapshot restore --dry-run`).
    fn restore_plan(&self, vm: &VmRow, snapshot: &SnapshotRow, delete_old: bool) -> Vec<String>;

    /// Put `vm` back to `snapshot`, keeping its agent identity (key and
    /// certificate) as it is now, and start it. What it ran on before is
    /// kept (and said, through `stage`) unless `delete_old`.
    fn restore<'a>(
        &'a self,
        vm: &'a VmRow,
        snapshot: &'a SnapshotRow,
        delete_old: bool,
        azure: &'a AzureContext,
        stage: Stage<'a>,
    ) -> Work<'a, Result<Started>>;

    /// Delete what the provider keeps for `snapshot` (already gone: done).
    fn delete<'a>(
        &'a self,
        snapshot: &'a SnapshotRow,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<()>>;

    /// Make what clones of `src` are made from (a copy of `src` now,
    /// without its agent's identity, its SSH host keys, its machine id and
    /// `secrets`): the provider's own description of it, for
    /// `VmSpec::source`. Called while `src` is held still, when the
    /// provider [`Snapshots::holds_still`].
    /// Only asked of providers with `clone` (the default refuses).
    fn clone_source<'a>(
        &'a self,
        _src: &'a VmRow,
        _secrets: &'a HomeSecrets,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<String>> {
        Box::pin(async { anyhow::bail!("this provider does not clone VMs") })
    }

    /// Whether a clone boots a copy of the source's disk as it was, its
    /// agent's key on it, before the provider gives it its own identity.
    /// The source's agent must then have bound its key to its machine
    /// (`azlin_protocol::enroll::CAP_MACHINE_BOUND`), so that the copy's
    /// agent never comes up as the source; a provider that clears the
    /// identity before the clone boots says no.
    fn clone_boots_a_copy(&self) -> bool {
        false
    }

    /// Remove what [`Snapshots::clone_source`] made, once the clones are
    /// made (what they run on stays theirs).
    fn drop_clone_source<'a>(&'a self, _source: &'a str, _azure: &'a AzureContext) -> Work<'a, ()> {
        Box::pin(async {})
    }
}
