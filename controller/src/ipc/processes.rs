//! The busiest processes, measured by the agents themselves: of one VM
//! ([`Processes`], the dashboard's detail view) or of each chosen VM
//! ([`ProcessTables`], `azlin ps`).

use azlin_protocol::stream::{ProcessInfo, ProcessSort};
use serde::{Deserialize, Serialize};

use super::{Call, NamesVm};
use crate::selector::Selector;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Processes {
    pub vm: String,
    pub sort: ProcessSort,
    pub limit: u32,
}

impl Call for Processes {
    type Reply = Vec<ProcessInfo>;
}

impl NamesVm for Processes {
    fn vm(&self) -> &str {
        &self.vm
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessTables {
    pub selector: Selector,
    pub sort: ProcessSort,
    pub limit: u32,
}

impl Call for ProcessTables {
    type Reply = Vec<ProcessTable>;
}

/// One chosen VM's busiest processes, or why not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessTable {
    pub vm: String,
    pub session_name: Option<String>,
    pub result: Result<Vec<ProcessInfo>, String>,
}
