//! What each provider can do beyond the five things every provider does
//! (create or register, list, start, stop, delete), and the one place an
//! operation or flag a provider lacks is refused: before anything happens,
//! with a message naming the provider, the operation and where it does
//! apply. Nothing a provider lacks is accepted and quietly ignored.
//!
//! Pure data and a pure function ([`refusal`]); the daemon asks
//! [`super::Providers::require`], which feeds it every provider's table.
//! Not here: how a provider does what it can (its own module).

use std::fmt;

use crate::{azure::context::Target, ipc::new::Machine};

/// The providers this build has, as stored in `state.db` (`vms.provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Local,
    Docker,
    Azure,
    External,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Local, Kind::Docker, Kind::Azure, Kind::External];

    /// The name on the command line and in `state.db`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Local => "local",
            Kind::Docker => "docker",
            Kind::Azure => "azure",
            Kind::External => "external",
        }
    }

    /// What the user calls this provider's VMs, in a sentence.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Local => "local VMs",
            Kind::Docker => "docker VMs",
            Kind::Azure => "Azure VMs",
            Kind::External => "external machines",
        }
    }

    /// The provider named `name`, or an error listing the ones there are.
    pub fn parse(name: &str) -> anyhow::Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "provider {name:?} is not available in this build; use --provider local, \
                     docker or azure, or --provider external to register machines you run \
                     yourself"
                )
            })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How `azlin new` brings a provider's VMs into the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewStyle {
    /// The provider makes the VM and boots its agent.
    Provision,
    /// The machine is the user's: azlin records it and hands out a join
    /// token for its agent, which dials in.
    Register,
}

/// One provider's optional capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub new: NewStyle,
    /// Most VMs one `new --pool` makes.
    pub max_pool: u32,
    /// `start`, `stop` and `restart` act on the machine.
    pub power: bool,
    /// `stop --no-deallocate`: power off but keep the hardware (and the bill).
    pub keep_allocated: bool,
    /// `resize VM SIZE`.
    pub resize: bool,
    /// `new --dial`: the agent dials the daemon instead of listening.
    pub dial: bool,
    /// `new --no-dev-tools` means something: the development tools are
    /// installed at first boot otherwise.
    pub dev_tools: bool,
    /// VMs live in an Azure subscription and resource group
    /// (`--subscription` / `--resource-group` on `new`).
    pub azure_target: bool,
    /// `new --size/--region/--image/--admin-user/--disk-size` choose the
    /// machine.
    pub machine: bool,
    /// `adopt VM`: a VM of the cloud's that azlin did not make gets the
    /// agent without SSH.
    pub adopt: bool,
    /// `agent upgrade`: the agent runs under systemd, which starts a new
    /// binary sent over its connection and rolls it back (local VMs run
    /// this azlin's own binary).
    pub agent_upgrade: bool,
    /// `cost`: the cloud bills the VMs and says what it billed.
    pub cost: bool,
    /// `storage`: shared NFS 4.1 storage for the VMs
    /// (`super::storage::SharedStorage`).
    pub storage: bool,
    /// VMs boot with azlin's cloud-init, so `new --cloud-init-extra`
    /// means something.
    pub cloud_init: bool,
    /// `snapshot`: point-in-time copies of a VM, restored in place
    /// (`super::snapshots::Snapshots`).
    pub snapshots: bool,
    /// `clone`: new VMs made from one as it is now
    /// (`super::snapshots::Snapshots::clone_source`).
    pub clone: bool,
    /// The VM runs an sshd of its own, so `keys rotate` can prove a new
    /// key with a login there (a local VM's `connect --ssh` reaches this
    /// machine's sshd).
    pub own_sshd: bool,
}

/// What a request asks of a provider, with its provider-specific flags.
#[derive(Debug, Clone, Copy)]
pub enum Operation<'a> {
    New {
        pool: u32,
        dial: bool,
        no_dev_tools: bool,
        /// `--nfs-storage`: the VM's home on the provider's storage.
        nfs_storage: bool,
        /// `--cloud-init-extra`: the user's cloud-config after azlin's.
        cloud_init_extra: bool,
        target: &'a Target,
        machine: &'a Machine,
    },
    Start,
    Stop {
        keep_allocated: bool,
    },
    Restart,
    Resize,
    AgentUpgrade,
    Cost,
    /// `azlin storage`, looking where `target` says (Azure only).
    Storage {
        target: &'a Target,
    },
    /// `azlin snapshot` on one of the provider's VMs.
    Snapshot,
    /// `azlin clone` of one of the provider's VMs.
    Clone,
    /// `azlin keys rotate` on one of the provider's VMs.
    KeysRotate,
}

impl Operation<'_> {
    fn command(&self) -> &'static str {
        match self {
            Operation::New { .. } => "new",
            Operation::Start => "start",
            Operation::Stop { .. } => "stop",
            Operation::Restart => "restart",
            Operation::Resize => "resize",
            Operation::AgentUpgrade => "agent upgrade",
            Operation::Cost => "cost",
            Operation::Storage { .. } => "storage",
            Operation::Snapshot => "snapshot",
            Operation::Clone => "clone",
            Operation::KeysRotate => "keys rotate",
        }
    }
}

/// Why `kind` (with `caps`) cannot do `op`, or `None` when it can. `all`
/// is every provider's table, to say where the operation does apply.
pub fn refusal(
    kind: Kind,
    caps: &Capabilities,
    op: &Operation<'_>,
    all: &[(Kind, Capabilities)],
) -> Option<String> {
    let noun = kind.noun();
    let applies = |has: fn(&Capabilities) -> bool| -> String {
        let names: Vec<&str> = all
            .iter()
            .filter(|(_, c)| has(c))
            .map(|(k, _)| k.noun())
            .collect();
        match names.as_slice() {
            [] => "no provider of this build".to_string(),
            [one] => one.to_string(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    };
    // --subscription/--resource-group given to a provider not in Azure.
    let not_in_azure = |target: &Target| -> Option<String> {
        if target.is_empty() || caps.azure_target {
            return None;
        }
        let flag = match (&target.subscription, &target.resource_group) {
            (Some(_), Some(_)) => "--subscription and --resource-group apply",
            (Some(_), None) => "--subscription applies",
            _ => "--resource-group applies",
        };
        Some(format!(
            "{noun} are not in Azure: {flag} to {}; nothing done",
            applies(|c| c.azure_target)
        ))
    };
    match *op {
        Operation::New {
            pool,
            dial,
            no_dev_tools,
            nfs_storage,
            cloud_init_extra,
            target,
            machine,
        } => {
            if pool == 0 || pool > caps.max_pool {
                return Some(format!(
                    "--pool must be between 1 and {} for provider {kind}",
                    caps.max_pool
                ));
            }
            if let Some(why) = not_in_azure(target) {
                return Some(why);
            }
            if dial && !caps.dial {
                return Some(match caps.new {
                    NewStyle::Register => {
                        format!("{noun} always dial in: leave out --dial; nothing done")
                    }
                    NewStyle::Provision => format!(
                        "{noun} are dialled by the daemon: --dial applies to {}; leave out \
                         --dial (nothing done)",
                        applies(|c| c.dial && c.new == NewStyle::Provision)
                    ),
                });
            }
            let chosen = machine.flags();
            if !chosen.is_empty() && !caps.machine {
                let (flags, verb) = match chosen.as_slice() {
                    [one] => (one.to_string(), "applies"),
                    [rest @ .., last] => (format!("{} and {last}", rest.join(", ")), "apply"),
                    [] => unreachable!("not empty"),
                };
                return Some(format!(
                    "{noun} have no size, region or image to choose: {flags} {verb} to {}; \
                     nothing done",
                    applies(|c| c.machine)
                ));
            }
            if nfs_storage && !caps.storage {
                return Some(format!(
                    "{noun} have no shared storage to make a home on: --nfs-storage applies to \
                     {}; nothing done",
                    applies(|c| c.storage)
                ));
            }
            if cloud_init_extra && !caps.cloud_init {
                return Some(format!(
                    "{noun} do not boot with cloud-init: --cloud-init-extra applies to {}; \
                     nothing done",
                    applies(|c| c.cloud_init)
                ));
            }
            if no_dev_tools && !caps.dev_tools {
                return Some(format!(
                    "{noun} get no development tools installed: --no-dev-tools applies to {}; \
                     nothing done",
                    applies(|c| c.dev_tools)
                ));
            }
            None
        }
        Operation::Start | Operation::Stop { .. } | Operation::Restart if !caps.power => {
            Some(format!(
                "{noun} are powered by you, not azlin: `azlin {}` applies to {} (`azlin kill` \
                 removes a machine from the fleet); nothing done",
                op.command(),
                applies(|c| c.power)
            ))
        }
        Operation::Stop {
            keep_allocated: true,
        } if !caps.keep_allocated => Some(format!(
            "{noun} have no allocation: --no-deallocate applies to {}; nothing done",
            applies(|c| c.keep_allocated)
        )),
        Operation::Resize if !caps.resize => Some(format!(
            "{noun} have no size: `azlin resize` applies to {}; nothing done",
            applies(|c| c.resize)
        )),
        Operation::AgentUpgrade if !caps.agent_upgrade => Some(format!(
            "{noun} do not take an agent over the connection: `azlin {}` applies to {} ({}); \
             nothing done",
            op.command(),
            applies(|c| c.agent_upgrade),
            match kind {
                Kind::Local => "local VMs run this azlin's own azlin-agent",
                _ => "upgrade the agent the way it was installed",
            }
        )),
        Operation::Cost if !caps.cost => Some(format!(
            "{noun} have no bill to read: `azlin {}` applies to {}; nothing done",
            op.command(),
            applies(|c| c.cost)
        )),
        Operation::Storage { .. } if !caps.storage => Some(format!(
            "{noun} have no shared storage: `azlin {}` applies to {}; nothing done",
            op.command(),
            applies(|c| c.storage)
        )),
        Operation::Storage { target } => not_in_azure(target),
        Operation::Snapshot if !caps.snapshots => Some(format!(
            "azlin does not snapshot {noun}: `azlin {}` applies to {}; nothing done",
            op.command(),
            applies(|c| c.snapshots)
        )),
        Operation::Clone if !caps.clone => Some(format!(
            "azlin does not clone {noun}: `azlin {}` applies to {}; nothing done",
            op.command(),
            applies(|c| c.clone)
        )),
        Operation::KeysRotate if !caps.own_sshd => Some(format!(
            "{noun} have no sshd of their own (`connect --ssh` reaches this machine's): `azlin {}` \
             applies to {}; nothing done",
            op.command(),
            applies(|c| c.own_sshd)
        )),
        Operation::Start
        | Operation::Stop { .. }
        | Operation::Restart
        | Operation::Resize
        | Operation::AgentUpgrade
        | Operation::Cost
        | Operation::Snapshot
        | Operation::Clone
        | Operation::KeysRotate => None,
    }
}

#[cfg(test)]
mod tests;
