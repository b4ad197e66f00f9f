//! The cleanup capability: a provider whose cloud keeps resources apart
//! from its VMs (disks, NICs, public IPs, NSGs, deployment records) lists
//! the ones in azlin's places that nothing uses, and deletes one. Only
//! Azure has it ([`super::Provider::cleanup`] is `None` elsewhere).
//!
//! Not here: what counts as an orphan (`crate::cleanup`, pure), prices
//! and the prompt (the daemon and the CLI).

use anyhow::Result;

use super::Work;
use crate::{
    azure::context::AzureContext,
    cleanup::{Orphan, Passed, Rules},
    state::VmRow,
};

/// What one look found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Where it looked, in words ("resource groups a, b of subscription
    /// S"), for the prompt and the output.
    pub place: String,
    pub orphans: Vec<Orphan>,
    pub passed: Passed,
}

pub trait Cleanup: Send + Sync {
    /// The orphans in the request's resource group and those of `fleet`'s
    /// VMs in the same subscription, by `rules`.
    fn find<'a>(
        &'a self,
        fleet: &'a [VmRow],
        rules: Rules,
        azure: &'a AzureContext,
    ) -> Work<'a, Result<Found>>;

    /// Delete one orphan (already gone: done).
    fn delete<'a>(&'a self, orphan: &'a Orphan, azure: &'a AzureContext) -> Work<'a, Result<()>>;
}
