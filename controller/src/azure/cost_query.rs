//! The Cost Management Query API (`POST {scope}/providers/
//! Microsoft.CostManagement/query`), as azlin asks it: actual cost, by
//! day, grouped by resource id, for a custom range of at most
//! [`MAX_QUERY_DAYS`] days. [`QueryDefinition::daily_by_resource`] builds
//! the request; [`rows`] reads an answer's columns by name (their order
//! is not fixed), so a row is a day, a resource and an amount in a
//! currency. Pure: the requests are sent by [`super::client`], which
//! follows `nextLink` and the API's own `Retry-After` headers.
//!
//! Not here: which resource belongs to which VM (the Azure provider's
//! `cost`), or days kept (`state::cost_days`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cost::dates::{Day, MAX_QUERY_DAYS};

/// The query's body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryDefinition {
    #[serde(rename = "type")]
    pub kind: String,
    pub timeframe: String,
    pub time_period: TimePeriod,
    pub dataset: Dataset,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimePeriod {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub granularity: String,
    pub aggregation: serde_json::Map<String, Value>,
    pub grouping: Vec<Grouping>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Grouping {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
}

impl QueryDefinition {
    /// Actual cost, per day and resource id, `from` to `to` (UTC days,
    /// both included; at most [`MAX_QUERY_DAYS`]).
    pub fn daily_by_resource(from: Day, to: Day) -> QueryDefinition {
        debug_assert!(from.days_until(to) < MAX_QUERY_DAYS);
        let mut aggregation = serde_json::Map::new();
        aggregation.insert(
            "totalCost".into(),
            serde_json::json!({"name": "Cost", "function": "Sum"}),
        );
        QueryDefinition {
            kind: "ActualCost".into(),
            timeframe: "Custom".into(),
            time_period: TimePeriod {
                from: format!("{from}T00:00:00Z"),
                to: format!("{to}T23:59:59Z"),
            },
            dataset: Dataset {
                granularity: "Daily".into(),
                aggregation,
                grouping: vec![Grouping {
                    kind: "Dimension".into(),
                    name: "ResourceId".into(),
                }],
            },
        }
    }
}

/// The forecast's body (`POST {scope}/providers/Microsoft.CostManagement/
/// forecast`): actual cost, by day, `from` to `to`, Azure's forecast only
/// (no actual cost mixed in).
pub fn daily_forecast(from: Day, to: Day) -> serde_json::Value {
    serde_json::json!({
        "type": "ActualCost",
        "timeframe": "Custom",
        "timePeriod": {"from": format!("{from}T00:00:00Z"), "to": format!("{to}T23:59:59Z")},
        "dataset": {
            "granularity": "Daily",
            "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}}
        },
        "includeActualCost": false,
        "includeFreshPartialCost": false
    })
}

/// One page of an answer (of a query or a forecast: the same shape).
#[derive(Debug, Clone, Deserialize)]
pub struct QueryResult {
    #[serde(default)]
    pub properties: QueryProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryProperties {
    #[serde(default)]
    pub next_link: Option<String>,
    #[serde(default)]
    pub columns: Vec<Column>,
    #[serde(default)]
    pub rows: Vec<Vec<Value>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: String,
}

/// One resource's cost on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct CostRow {
    pub day: Day,
    /// Lower-case, as Cost Management writes it; empty when the row has
    /// no resource (a charge of the whole scope).
    pub resource_id: String,
    pub cost: f64,
    pub currency: String,
}

/// The names the amount's column goes by (`PreTaxCost` in older and
/// `Usage` answers; the aggregation's alias in some).
const COST_COLUMNS: [&str; 5] = [
    "Cost",
    "PreTaxCost",
    "CostUSD",
    "totalCost",
    "PreTaxCostUSD",
];

/// The rows of one page, read by column name.
pub fn rows(page: &QueryResult) -> Result<Vec<CostRow>, String> {
    let p = &page.properties;
    let find = |names: &[&str]| {
        p.columns
            .iter()
            .position(|c| names.iter().any(|n| c.name.eq_ignore_ascii_case(n)))
    };
    if p.rows.is_empty() {
        return Ok(Vec::new());
    }
    let cost = find(&COST_COLUMNS).ok_or("no cost column in the answer")?;
    let date = find(&["UsageDate"]).ok_or("no UsageDate column in the answer")?;
    let resource = find(&["ResourceId"]);
    let currency = find(&["Currency", "BillingCurrency"]);
    p.rows
        .iter()
        .map(|row| {
            let cell = |i: usize| row.get(i).ok_or_else(|| format!("a row is short: {row:?}"));
            let amount = cell(cost)?
                .as_f64()
                .filter(|c| c.is_finite())
                .ok_or_else(|| format!("a cost is not a number: {row:?}"))?;
            let day = cell(date)?
                .as_u64()
                .and_then(Day::from_number)
                .ok_or_else(|| format!("a UsageDate is not a date: {row:?}"))?;
            let text = |i: Option<usize>| {
                i.and_then(|i| row.get(i))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            Ok(CostRow {
                day,
                resource_id: text(resource).to_ascii_lowercase(),
                cost: amount,
                currency: text(currency),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
