//! `azlin autostop VM --idle 2h [--cpu 5]` (or `--off`), `azlin autostop
//! list` and `azlin keepalive VM 4h`: deallocate a VM that has been idle
//! that long, by its agent's evidence, after a warning.

use serde::{Deserialize, Serialize};

use super::{Call, Done, NamesVm};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AutostopSet {
    pub vm: String,
    /// `2h`, `90m`; `None` with `off`.
    pub idle: Option<String>,
    /// CPU percent below which the VM counts as idle.
    pub cpu_below: f64,
    pub off: bool,
}

impl Call for AutostopSet {
    type Reply = Done;
}

impl NamesVm for AutostopSet {
    fn vm(&self) -> &str {
        &self.vm
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Keepalive {
    pub vm: String,
    /// `4h`.
    pub for_: String,
}

impl Call for Keepalive {
    type Reply = Done;
}

impl NamesVm for Keepalive {
    fn vm(&self) -> &str {
        &self.vm
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AutostopList;

impl Call for AutostopList {
    type Reply = Vec<AutostopView>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AutostopView {
    pub vm: String,
    pub idle_secs: i64,
    pub cpu_below: f64,
    /// How long it has been idle now.
    pub idle_for_secs: i64,
    /// Unix seconds; 0: none.
    pub keepalive_until: i64,
}
