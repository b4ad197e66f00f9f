//! `azlin env`: the VM user's variables azlin manages, changed (or read)
//! on each chosen VM by its agent in one atomic write
//! (`azlin_protocol::env`).

use azlin_protocol::env::EnvRequest;
use serde::{Deserialize, Serialize};

use super::Call;
use crate::selector::Selector;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvChange {
    pub selector: Selector,
    pub request: EnvRequest,
}

impl Call for EnvChange {
    type Reply = Vec<EnvOutcome>;
}

/// One VM's variables after the change, or why not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvOutcome {
    pub vm: String,
    pub result: Result<Vec<(String, String)>, String>,
}
