//! `azlin schedule VM --stop HH:MM [--start HH:MM] [--days D]
//! [--start-days D] [--tz Z]`,
//! `schedule list` and `schedule clear VM`: a VM's power schedule, run by
//! the daemon (and for a daily stop of an Azure VM by Azure too).

use serde::{Deserialize, Serialize};

use super::{Call, Done, NamesVm};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleSet {
    pub vm: String,
    pub stop: String,
    pub start: Option<String>,
    /// The days of the stop (and of the start, unless `start_days`).
    pub days: String,
    /// The days of the start, when not those of the stop (a weekend off:
    /// stop Fri, start Mon).
    pub start_days: Option<String>,
    pub tz: String,
}

impl Call for ScheduleSet {
    type Reply = ScheduleView;
}

impl NamesVm for ScheduleSet {
    fn vm(&self) -> &str {
        &self.vm
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleList;

impl Call for ScheduleList {
    type Reply = Vec<ScheduleView>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleClear {
    pub vm: String,
}

impl Call for ScheduleClear {
    type Reply = Done;
}

impl NamesVm for ScheduleClear {
    fn vm(&self) -> &str {
        &self.vm
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleView {
    pub vm: String,
    pub stop: String,
    pub start: Option<String>,
    /// `daily`, `Mon,Tue,…`.
    pub days: String,
    /// The start's days, when not `days`.
    pub start_days: Option<String>,
    pub tz: String,
    /// The cloud's own auto-shutdown resource, when there is one.
    pub auto_shutdown: Option<String>,
    /// What the user should know (what depends on the daemon).
    pub notes: Vec<String>,
}
