//! `azlin cost`: what Azure billed in a range, by day and (for
//! `--by-vm`) by VM, and with `estimate` the month's projection from the
//! VMs running now; `azlin cost history`: the days kept in `state.db`
//! with their trend. Where to look comes with the envelope's Azure
//! context. Amounts are Azure's own figures ("actual cost", Cost
//! Management) or pay-as-you-go prices (Retail Prices API), each labelled;
//! a range Azure has no figures for yet has `total: None`, never zero.

use serde::{Deserialize, Serialize};

use super::Call;
use crate::cost::{attribution::VmCost, trend::Trend};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cost {
    /// `YYYY-MM-DD`; default: the first of `to`'s month.
    pub from: Option<String>,
    /// `YYYY-MM-DD`; default: today (UTC).
    pub to: Option<String>,
    /// The whole subscription, not only the resource group.
    pub whole_subscription: bool,
    /// Add the month's projection at the current burn.
    pub estimate: bool,
}

impl Call for Cost {
    type Reply = CostReport;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CostReport {
    /// Where, in words.
    pub scope: String,
    pub from: String,
    pub to: String,
    /// Azure's total for the range; `None`: no data yet.
    pub total: Option<f64>,
    pub currency: Option<String>,
    /// Each day Azure has figures for (others are absent: no data).
    pub days: Vec<(String, f64)>,
    /// Each VM with everything it owns, most expensive first.
    pub by_vm: Vec<VmCost>,
    /// What no VM owns.
    pub shared: f64,
    pub estimate: Option<Estimate>,
    /// Cost Management queries this answer took (0: from the cache).
    pub queries: u32,
    /// How old the figures are, in seconds (they are kept 5 minutes).
    pub age_secs: u64,
}

/// The month: what Azure billed so far plus the rest at the current burn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Estimate {
    pub month: String,
    /// Azure's actual cost from the first of the month to today; `None`:
    /// no data yet.
    pub month_to_date: Option<f64>,
    /// The running VMs' pay-as-you-go prices per hour, summed.
    pub burn_per_hour: f64,
    pub price_currency: String,
    pub price_source: String,
    /// Running VMs priced.
    pub running: Vec<String>,
    /// Running VMs with no price, and why (left out of the burn).
    pub unpriced: Vec<(String, String)>,
    pub hours_left: f64,
    /// `burn_per_hour * hours_left`.
    pub rest_of_month: f64,
    /// `month_to_date + rest_of_month`, when both are in one currency.
    pub projected: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CostHistory {
    /// The last `days` days, today included.
    pub days: u32,
    pub whole_subscription: bool,
}

impl Call for CostHistory {
    type Reply = HistoryReport;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryReport {
    pub scope: String,
    pub from: String,
    pub to: String,
    /// Kept days (a day with no figure from Azure is absent).
    pub days: Vec<(String, f64)>,
    pub currency: Option<String>,
    /// `None` with fewer than three days.
    pub trend: Option<Trend>,
    /// Why the kept days could not be brought up to date, if they could
    /// not (they are shown as kept).
    pub stale: Option<String>,
}
