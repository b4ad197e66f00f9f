//! `azlin cost budget set|show|clear`: one monthly budget per scope (the
//! request's resource group, or its whole subscription), kept in
//! `state.db` and checked by the daemon whenever cost data refreshes; with
//! `azure` also written to Azure, whose budgets e-mail but never stop.

use serde::{Deserialize, Serialize};

use super::{Call, Done};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BudgetSet {
    /// In the bill's currency, as typed.
    pub amount: String,
    /// `PERCENT:ACTION`; none: 50:notify, 80:alert, 100:alert.
    pub thresholds: Vec<String>,
    /// Write it to Azure too (`Microsoft.Consumption/budgets`).
    pub azure: bool,
    /// Where Azure's budget e-mails go (`azure` only).
    pub emails: Vec<String>,
    pub whole_subscription: bool,
    /// How long a `stop` threshold's notice comes before the deallocation
    /// (`10m`, `0`); `None`: the budget's own, or 10 minutes.
    pub stop_grace: Option<String>,
}

impl Call for BudgetSet {
    type Reply = BudgetView;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BudgetShow {
    pub whole_subscription: bool,
}

impl Call for BudgetShow {
    type Reply = Option<BudgetView>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BudgetClear {
    pub whole_subscription: bool,
}

impl Call for BudgetClear {
    type Reply = Done;
}

/// A budget and where this month stands against it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BudgetView {
    pub scope: String,
    pub amount: f64,
    /// `50:notify`…
    pub thresholds: Vec<String>,
    /// The budget's id in Azure, when written there.
    pub azure_budget: Option<String>,
    /// This month's actual cost so far (`None`: no data yet, or Azure
    /// could not be asked: see `notes`).
    pub spent: Option<f64>,
    pub currency: Option<String>,
    /// The thresholds this month has reached.
    pub crossed: Vec<String>,
    /// Seconds between a stop's notice and the deallocation.
    pub stop_grace_secs: i64,
    /// When a stop already noticed deallocates (`YYYY-MM-DD HH:MM:SS UTC`).
    pub stop_due: Option<String>,
    /// The day this month reaches the amount, if it does.
    pub exceeds_on: Option<String>,
    /// What `exceeds_on` comes from: "Cost Management forecast" (with 28
    /// days of history kept) or "linear projection of this month so far".
    pub forecast_source: String,
    /// What the user should know (a `stop` that acts only through the
    /// daemon; why figures are missing).
    pub notes: Vec<String>,
}
