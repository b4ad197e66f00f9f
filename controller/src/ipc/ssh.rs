//! `azlin ssh-config` and `connect --ssh`: how to reach each chosen VM
//! with OpenSSH, host keys pinned through its agent.

use serde::{Deserialize, Serialize};

use super::Call;
use crate::selector::Selector;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshTargets {
    pub selector: Selector,
}

impl Call for SshTargets {
    type Reply = Vec<SshTarget>;
}

/// How to reach one VM with OpenSSH, or why not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshTarget {
    pub vm: String,
    pub session_name: Option<String>,
    pub result: Result<SshEndpoint, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshEndpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// `TYPE BASE64` lines, as the VM's agent reported them.
    pub host_keys: Vec<String>,
}
