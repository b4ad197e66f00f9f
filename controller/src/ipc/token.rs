//! `azlin token VM`: a new one-time join token to re-enroll an agent that
//! lost its key.

use serde::{Deserialize, Serialize};

use super::{Call, NamesVm};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub vm: String,
    pub ttl_secs: Option<u64>,
}

impl Call for Token {
    /// The token, `azj1.<id>.<secret>`.
    type Reply = String;
}

impl NamesVm for Token {
    fn vm(&self) -> &str {
        &self.vm
    }
}
