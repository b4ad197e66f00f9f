//! `azlin clone SRC [--name N] [--num-replicas K]`: K new VMs made from
//! SRC as it is now, by SRC's provider, each a new identity.

use serde::{Deserialize, Serialize};

use super::{Call, VmView};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloneVm {
    pub src: String,
    /// `None`: `SRC-clone` (with `-1` … `-K` for several).
    pub name: Option<String>,
    pub replicas: u32,
}

/// The clones, made, enrolled and connected.
impl Call for CloneVm {
    type Reply = Vec<VmView>;
}
