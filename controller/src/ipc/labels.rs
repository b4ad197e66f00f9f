//! What the user calls and labels a VM: tags ([`Tag`]) and a session name
//! ([`Session`]).

use serde::{Deserialize, Serialize};

use super::{Call, Done, NamesVm, vms::VmView};

/// Set and remove tags on a VM (and in its cloud, where it has tags).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tag {
    pub vm: String,
    pub set: Vec<(String, String)>,
    pub remove: Vec<String>,
}

impl Call for Tag {
    type Reply = VmView;
}

impl NamesVm for Tag {
    fn vm(&self) -> &str {
        &self.vm
    }
}

/// Give a VM a session name (`None`: clear it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub vm: String,
    pub session: Option<String>,
}

impl Call for Session {
    type Reply = Done;
}

impl NamesVm for Session {
    fn vm(&self) -> &str {
        &self.vm
    }
}
