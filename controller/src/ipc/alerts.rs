//! `azlin alerts`: the rules in force, active alerts and recent events
//! ([`Alerts`]); `--follow` streams [`super::Reply::Alert`] frames
//! ([`super::Request::AlertsFollow`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Call;
use crate::alerts::record::AlertRecord;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alerts {
    /// How many of the newest events.
    pub history: u32,
}

impl Call for Alerts {
    type Reply = AlertsView;
}

/// What `azlin alerts` shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertsView {
    pub file: String,
    /// Why the file is not in force (the last good rules are), if so.
    pub file_error: Option<String>,
    /// Rule names in force on the agents, built-ins included.
    pub rules: Vec<String>,
    pub agent_lost_after_ms: Option<u64>,
    pub channels: Vec<String>,
    pub active: Vec<AlertRecord>,
    pub history: Vec<AlertRecord>,
    /// VM → session name, to show what the user calls each VM.
    pub session_names: BTreeMap<String, String>,
}
