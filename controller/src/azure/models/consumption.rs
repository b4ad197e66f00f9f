//! Microsoft.Consumption budgets: a monthly cost budget at a subscription
//! or resource group, with its notifications (at most five, each a
//! percentage of the amount sent to contact e-mails), as azlin writes it
//! with `cost budget set --azure`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Budget {
    #[serde(default, skip_serializing)]
    pub id: Option<String>,
    pub properties: BudgetProperties,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetProperties {
    /// `Cost`.
    pub category: String,
    pub amount: f64,
    /// `Monthly`.
    pub time_grain: String,
    pub time_period: BudgetTimePeriod,
    #[serde(default)]
    pub notifications: BTreeMap<String, BudgetNotification>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetTimePeriod {
    /// The first of a month, `YYYY-MM-DDT00:00:00Z`.
    pub start_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetNotification {
    pub enabled: bool,
    /// `GreaterThan`, `GreaterThanOrEqualTo`…
    pub operator: String,
    /// Percent of the amount.
    pub threshold: f64,
    #[serde(default)]
    pub contact_emails: Vec<String>,
    /// `Actual` or `Forecasted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_type: Option<String>,
}
