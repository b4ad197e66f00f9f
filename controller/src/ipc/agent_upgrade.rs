//! `azlin agent upgrade [SELECTORS]`: a new agent binary for the chosen
//! VMs, over their connections, a few at a time; a VM whose new agent does
//! not come back is rolled back (on the VM) and the upgrade stops.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Call, Done};
use crate::selector::Selector;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentUpgrade {
    pub selector: Selector,
    /// The binary to send; `None`: the azlin-agent beside this azlin.
    pub binary: Option<PathBuf>,
    /// Most VMs upgrading at once.
    pub parallel: u32,
    /// How long a new agent has to reach the controller before its VM
    /// puts the previous one back.
    pub timeout_secs: u32,
}

impl Call for AgentUpgrade {
    type Reply = Done;
}
