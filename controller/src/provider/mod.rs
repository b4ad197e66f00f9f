//! Providers create, start, stop and delete VMs. Each VM's agent is set up
//! with the same inputs whatever the provider: its name, the fleet CA, a
//! one-time join token and which side dials.
//!
//! - [`local`]: each VM is an agent process on this machine.
//! - [`docker`]: each VM is a container booted by systemd and the real
//!   cloud-init, which installs and enrolls the agent.
//! - [`azure`]: each VM is an Azure VM made through ARM, booted with the
//!   same cloud-init as custom data.
//! - `external` (machines the user runs; see `daemon::register`): azlin
//!   only records them.
//!
//! [`Providers`] sends each request to the VM's own provider.

pub mod azure;
pub mod docker;
pub mod local;

use std::time::Duration;

use anyhow::{Result, bail};
use azlin_protocol::enroll::JoinToken;

use crate::state::VmRow;

pub const LOCAL: &str = "local";
pub const DOCKER: &str = "docker";
pub const AZURE: &str = "azure";
pub const EXTERNAL: &str = "external";

/// How the new VM's agent reaches the controller.
#[derive(Debug, Clone)]
pub enum AgentConnect {
    /// The agent listens; the provider picks the address.
    Listen,
    /// The agent dials the daemon at this address.
    Dial { controller: String },
}

/// Everything a provider needs to bring up one VM.
pub struct VmSpec {
    pub name: String,
    pub token: JoinToken,
    pub ca_pem: String,
    pub connect: AgentConnect,
    /// Install the development tools (cloud-init providers).
    pub dev_tools: bool,
    /// The name the user gave the VM, for the cloud's tags.
    pub session_name: Option<String>,
    /// Subscription and resource group chosen on the command line.
    pub target: azure::Target,
}

/// What a provider reports about a VM it created.
pub struct Provisioned {
    /// Where the daemon dials the agent (listen mode).
    pub address: Option<String>,
    /// Provider-specific facts, as JSON, kept in `state.db`.
    pub provider_data: String,
}

/// Something the user must set up before a VM can be made (config,
/// tools); `azlin new` exits 2 for it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Prerequisite(pub String);

/// VMs were made but their agents did not connect in time; exit 5.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotReady(pub String);

/// The exit status for an error, as the original azlin used them: 2 a
/// prerequisite is missing, 3 Azure sign-in, 4 Azure refused or failed
/// (provisioning), 5 not ready in time; `None` for anything else (1).
pub fn exit_code(e: &anyhow::Error) -> Option<u8> {
    use crate::azure::error::{ArmError, ErrorKind};
    e.chain().find_map(|cause| {
        if cause.downcast_ref::<Prerequisite>().is_some() {
            Some(2)
        } else if let Some(arm) = cause.downcast_ref::<ArmError>() {
            Some(if arm.kind == ErrorKind::Authentication {
                3
            } else {
                4
            })
        } else if cause.downcast_ref::<NotReady>().is_some() {
            Some(5)
        } else {
            None
        }
    })
}

/// What a provider reports when it starts a VM again.
pub struct Started {
    pub provider_data: String,
    /// A new address for the agent, when it moved.
    pub address: Option<String>,
}

/// Every provider this build has, by name.
pub struct Providers {
    pub local: local::LocalProvider,
    pub docker: docker::DockerProvider,
    pub azure: azure::AzureProvider,
}

impl Providers {
    /// Refuse a provider name `azlin new` cannot create VMs with.
    pub fn check_creatable(name: &str) -> Result<()> {
        match name {
            LOCAL | DOCKER | AZURE => Ok(()),
            other => bail!(
                "provider {other:?} is not available in this build; use --provider local, \
                 docker or azure, or --provider external to register machines you run yourself"
            ),
        }
    }

    /// How long `azlin new` waits for a new VM's agent: a local agent is
    /// up at once, a container boots and runs cloud-init first.
    pub fn ready_timeout(name: &str, pool: u32) -> Duration {
        match name {
            DOCKER => Duration::from_secs(120 + 4 * u64::from(pool)),
            // Boot, cloud-init and the agent download on a cloud VM.
            AZURE => Duration::from_secs(600),
            _ => Duration::from_secs(30),
        }
    }

    /// Make the VM; `stage` hears of each step that ends.
    pub async fn create(
        &self,
        provider: &str,
        spec: &VmSpec,
        stage: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Provisioned> {
        match provider {
            LOCAL => self.local.create(spec).await,
            DOCKER => self.docker.create(spec).await,
            AZURE => self.azure.create(spec, &spec.target, stage).await,
            other => bail!("provider {other:?} cannot create VMs"),
        }
    }

    pub async fn start(&self, vm: &VmRow) -> Result<Started> {
        match vm.provider.as_str() {
            LOCAL => Ok(Started {
                provider_data: self.local.start(vm)?,
                address: None,
            }),
            DOCKER => {
                let (provider_data, address) = self.docker.start(vm).await?;
                Ok(Started {
                    provider_data,
                    address,
                })
            }
            AZURE => {
                self.azure.power(vm, azure::PowerAction::Start).await?;
                Ok(Started {
                    provider_data: vm.provider_data.clone(),
                    address: None,
                })
            }
            _ => Ok(Started {
                provider_data: vm.provider_data.clone(),
                address: None,
            }),
        }
    }

    /// Stop the VM; an Azure VM is deallocated unless `keep_allocated`.
    pub async fn stop(&self, vm: &VmRow, keep_allocated: bool) -> Result<()> {
        match vm.provider.as_str() {
            LOCAL => self.local.stop(vm).await,
            DOCKER => self.docker.stop(vm).await,
            AZURE => {
                let deallocate = !keep_allocated;
                self.azure
                    .power(vm, azure::PowerAction::Stop { deallocate })
                    .await
            }
            _ => Ok(()),
        }
    }

    pub async fn delete(&self, vm: &VmRow) -> Result<()> {
        match vm.provider.as_str() {
            LOCAL => self.local.delete(vm).await,
            DOCKER => self.docker.delete(vm).await,
            AZURE => self.azure.delete(vm).await,
            _ => Ok(()),
        }
    }

    /// Stop and start again (an Azure VM reboots in place).
    pub async fn restart(&self, vm: &VmRow) -> Result<Started> {
        match vm.provider.as_str() {
            AZURE => {
                self.azure.power(vm, azure::PowerAction::Restart).await?;
                Ok(Started {
                    provider_data: vm.provider_data.clone(),
                    address: None,
                })
            }
            EXTERNAL => bail!("{} is a machine you run: restart it yourself", vm.name),
            _ => {
                self.stop(vm, false).await?;
                self.start(vm).await
            }
        }
    }

    /// A new size; only cloud VMs have one. Returns new provider data.
    pub async fn resize(&self, vm: &VmRow, size: &str) -> Result<String> {
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            bail!("{size:?} is not a VM size such as Standard_D4s_v5");
        }
        match vm.provider.as_str() {
            AZURE => self.azure.resize(vm, size).await,
            other => bail!("{} is a {other} VM: only Azure VMs have a size", vm.name),
        }
    }

    /// Tag the VM where its provider keeps tags too (Azure); the others
    /// keep azlin's own tags only.
    pub async fn set_tags(
        &self,
        vm: &VmRow,
        set: &[(String, String)],
        remove: &[String],
    ) -> Result<()> {
        match vm.provider.as_str() {
            AZURE => self.azure.set_tags(vm, set, remove).await,
            _ => Ok(()),
        }
    }

    /// What deleting the VM removes, one line each.
    pub fn deletions(&self, vm: &VmRow) -> Result<Vec<String>> {
        Ok(match vm.provider.as_str() {
            AZURE => azure::AzureProvider::planned_deletions(vm)?,
            DOCKER => vec![
                format!("container {}", self.docker.container_name(&vm.name)),
                format!(
                    "cloud-init seed {}",
                    self.docker.vm_dir(&vm.name)?.display()
                ),
            ],
            LOCAL => vec![
                format!("agent process of {}", vm.name),
                format!("folder {}", self.local.vm_dir(&vm.name)?.display()),
            ],
            _ => vec![format!(
                "the record of {} (the machine itself is yours)",
                vm.name
            )],
        })
    }

    /// Where the VM's agent listens now, for providers whose VMs can move
    /// (`None`: unknown, or the recorded address holds).
    pub async fn current_address(&self, vm: &VmRow) -> Option<String> {
        match vm.provider.as_str() {
            DOCKER => self.docker.current_address(vm).await,
            _ => None,
        }
    }

    /// The end of the VM's own log, to explain why it did not come up.
    pub async fn log_tail(&self, vm: &VmRow) -> String {
        match vm.provider.as_str() {
            LOCAL => self.local.log_tail(&vm.name),
            DOCKER => self.docker.log_tail(vm).await,
            _ => String::new(),
        }
    }
}
