//! `azlin keys rotate`: how to reach each chosen VM with OpenSSH to prove
//! a new key there, or why it is left out (a provider without an sshd of
//! its own, a VM that cannot be asked). The rotation itself (authorize
//! through the agent, log in, remove the old key) is the CLI's, as
//! `ssh-config`'s authorizing is.

use serde::{Deserialize, Serialize};

use super::{Call, SshTarget};
use crate::selector::Selector;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeysRotatePlan {
    pub selector: Selector,
}

impl Call for KeysRotatePlan {
    type Reply = Vec<SshTarget>;
}
