//! `azlin cost dashboard`: the figures of one screen: this month so far
//! and its projection, today and yesterday, the last seven days against
//! the seven before, and the resources that cost most this month. Every
//! figure Azure has not reported is `None` (shown as no data), never zero.

use serde::{Deserialize, Serialize};

use super::{Call, cost::Estimate};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CostDashboard {
    pub whole_subscription: bool,
}

impl Call for CostDashboard {
    type Reply = DashboardReport;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DashboardReport {
    pub scope: String,
    pub currency: Option<String>,
    pub month_to_date: Option<f64>,
    pub today: Option<f64>,
    pub yesterday: Option<f64>,
    /// The last seven days, today included.
    pub week: Option<f64>,
    /// The seven days before those.
    pub previous_week: Option<f64>,
    /// This month's projection at the current burn.
    pub estimate: Estimate,
    /// This month's most expensive resources, most first.
    pub top: Vec<TopResource>,
    /// How old the figures are, in seconds (kept 5 minutes).
    pub age_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopResource {
    pub name: String,
    /// `microsoft.compute/disks`…
    pub kind: String,
    /// The VM that owns it, if one does.
    pub vm: Option<String>,
    pub cost: f64,
}
