//! The external provider: machines the user runs themselves (a
//! workstation, a VM in another cloud, a simulator). azlin makes nothing
//! and powers nothing: `new --provider external` records each machine and
//! issues a join token its agent dials in with (the daemon's `new`
//! handler does that), and deleting one forgets it and revokes its
//! certificate. Everything else is refused by [`CAPABILITIES`].

use std::time::Duration;

use anyhow::Result;

use super::{
    Capabilities, Kind, NewStyle, Provider, Provisioned, Stage, Started, Unsupported, VmSpec, Work,
};
use crate::{azure::context::AzureContext, state::VmRow};

/// Registered, always dialling in, powered by their owner.
pub const CAPABILITIES: Capabilities = Capabilities {
    new: NewStyle::Register,
    // They cost only rows here.
    max_pool: 10_000,
    power: false,
    keep_allocated: false,
    resize: false,
    dial: false,
    dev_tools: false,
    azure_target: false,
    machine: false,
    adopt: false,
    agent_upgrade: false,
    cost: false,
    storage: false,
    snapshots: false,
    clone: false,
    own_sshd: true,
    cloud_init: false,
};

pub struct ExternalProvider;

fn refused<T>(what: &str) -> Result<T> {
    Err(Unsupported(format!(
        "external machines are yours: azlin does not {what} them"
    ))
    .into())
}

impl Provider for ExternalProvider {
    fn kind(&self) -> Kind {
        Kind::External
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn ready_timeout(&self, _pool: u32) -> Duration {
        // Nothing waits: the user starts the agents when they like.
        Duration::ZERO
    }

    // Registration is not creation: the `new` handler records them
    // (NewStyle::Register), so these are never asked for.
    fn create<'a>(
        &'a self,
        _spec: &'a VmSpec,
        _azure: &'a AzureContext,
        _stage: Stage<'a>,
    ) -> Work<'a, Result<Provisioned>> {
        Box::pin(async { refused("create") })
    }

    fn start<'a>(&'a self, _vm: &'a VmRow, _azure: &'a AzureContext) -> Work<'a, Result<Started>> {
        Box::pin(async { refused("start") })
    }

    fn stop<'a>(
        &'a self,
        _vm: &'a VmRow,
        _keep_allocated: bool,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(async { refused("stop") })
    }

    fn restart<'a>(
        &'a self,
        _vm: &'a VmRow,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<Started>> {
        Box::pin(async { refused("restart") })
    }

    /// The machine stays; the fleet forgets it (its record and
    /// certificate go in the daemon).
    fn delete<'a>(&'a self, _vm: &'a VmRow, _azure: &'a AzureContext) -> Work<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn deletions(&self, vm: &VmRow) -> Result<Vec<String>> {
        Ok(vec![format!(
            "the record of {} (the machine itself is yours)",
            vm.name
        )])
    }
}
