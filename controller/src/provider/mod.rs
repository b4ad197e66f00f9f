//! Providers create, start, stop and delete VMs. Each VM's agent is set up
//! with the same inputs whatever the provider: its name, the fleet CA, a
//! one-time join token and which side dials.
//!
//! - [`local`]: each VM is an agent process on this machine.

pub mod local;

use azlin_protocol::enroll::JoinToken;

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
}

/// What a provider reports about a VM it created.
pub struct Provisioned {
    /// Where the daemon dials the agent (listen mode).
    pub address: Option<String>,
    /// Provider-specific facts, as JSON, kept in `state.db`.
    pub provider_data: String,
}
