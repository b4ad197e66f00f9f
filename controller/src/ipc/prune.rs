//! `azlin prune`: the fleet's VMs unused (stopped, or idle) for the last
//! N days by the history, proposed for deletion; and deleting the ones the
//! user confirmed, each only if it is still a candidate.

use serde::{Deserialize, Serialize};

use super::Call;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PruneFind {
    pub idle_days: u32,
}

impl Call for PruneFind {
    type Reply = PruneCandidates;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PruneCandidates {
    pub candidates: Vec<PruneCandidate>,
    /// VMs left out, each with why.
    pub passed: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PruneCandidate {
    pub vm: String,
    pub provider: String,
    pub why: String,
    pub unused_since: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PruneDelete {
    pub vms: Vec<String>,
    pub idle_days: u32,
}

impl Call for PruneDelete {
    type Reply = Vec<PruneOutcome>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PruneOutcome {
    pub vm: String,
    /// `None`: deleted; else why not.
    pub failure: Option<String>,
}
