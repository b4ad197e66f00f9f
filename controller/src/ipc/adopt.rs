//! `azlin adopt VM…`: bring cloud VMs azlin did not make into the fleet
//! (the agent installed without SSH), or with `dry_run` say what that
//! would change. Where to look comes with the envelope's Azure context.

use serde::{Deserialize, Serialize};

use super::{Call, vms::VmView};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Adopt {
    pub vms: Vec<String>,
    pub dry_run: bool,
}

impl Call for Adopt {
    type Reply = AdoptReply;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AdoptReply {
    /// What adopting each VM would change, in words.
    Plan(Vec<(String, Vec<String>)>),
    /// Adopted, enrolled and connected.
    Adopted(Vec<VmView>),
}
