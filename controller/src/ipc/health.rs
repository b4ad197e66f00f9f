//! `azlin health`: each chosen VM green, yellow or red with the reasons,
//! and the facts its agent reported (none when it could not be asked).

use azlin_protocol::health::HealthReport;
use serde::{Deserialize, Serialize};

use super::Call;
use crate::{health::Verdict, selector::Selector};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub selector: Selector,
}

impl Call for Health {
    type Reply = Vec<HealthView>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthView {
    pub vm: String,
    pub verdict: Verdict,
    /// The agent's facts; `None`: it could not be asked.
    pub report: Option<HealthReport>,
    /// The VM's clock minus this machine's, measured around the question.
    pub skew_ms: Option<i64>,
    /// When the VM's newest sample was taken (unix seconds).
    pub last_sample_unix: Option<i64>,
}
