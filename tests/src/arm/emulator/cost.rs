//! The Cost Management Query API in the emulator, strict where Azure is:
//! `POST {scope}/providers/Microsoft.CostManagement/query` with the
//! pinned api-version, a `Custom` timeframe whose `timePeriod` has both
//! ends, `Daily` granularity, a sum aggregation, and grouping by
//! `ResourceId`. It answers from rows the test sets ([`CostData::rows`]),
//! those of resources inside the scope and days inside the period, a few
//! per page with a `nextLink` (`$skiptoken`) that is POSTed the same
//! body. It throttles as Azure documents: a `429` carrying only
//! `x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after`, and a
//! request that comes back before that wait is throttled again and
//! counted ([`CostData::early`]). A period longer than 31 days is refused
//! here (Azure allows longer; azlin promises to split), so a test sees
//! azlin's splitting. Budgets (`Microsoft.Consumption/budgets`) are
//! checked as the Budgets API documents them ([`check_budget`]).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Answer, arm_error};

/// What the emulated Cost Management holds and has seen.
#[derive(Debug, Default)]
pub struct CostData {
    /// (UsageDate `YYYYMMDD`, resource id, cost, currency).
    pub rows: Vec<(u32, String, f64, String)>,
    /// Rows per page (0: 3).
    pub page_size: usize,
    /// How many queries answer `429` before one is served.
    pub throttled: u32,
    /// Queries asked (pages and throttled ones included).
    pub requests: u32,
    /// Queries that came back before the wait a `429` asked.
    pub early: u32,
    /// The bodies asked, in order.
    pub bodies: Vec<Value>,
    /// The forecast's days: (UsageDate `YYYYMMDD`, cost, currency).
    pub forecast: Vec<(u32, f64, String)>,
    /// Forecasts asked.
    pub forecasts: u32,
    not_before: Option<Instant>,
}

const API: &str = "2023-11-01";
const WAIT_SECS: u64 = 1;

fn day_of(iso: &str) -> Option<u32> {
    let d = iso.get(..10)?;
    let digits: String = d.chars().filter(|c| *c != '-').collect();
    (digits.len() == 8).then(|| digits.parse().ok()).flatten()
}

fn days_between(a: u32, b: u32) -> i64 {
    let to_days = |n: u32| {
        let (y, m, d) = ((n / 10000) as i64, (n / 100 % 100) as i64, (n % 100) as i64);
        // Days from a fixed epoch (civil calendar).
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe
    };
    to_days(b) - to_days(a)
}

/// A Cost Management request's body, when its api-version is the pinned
/// one and the body is JSON; otherwise Azure's 400.
fn request_body(query: &str, body: &str) -> Result<Value, Answer> {
    let q = crate::arm::parse_query(query);
    if q.get("api-version").map(String::as_str) != Some(API) {
        return Err(arm_error(
            400,
            "InvalidApiVersion",
            "api-version 2023-11-01 is served here",
        ));
    }
    serde_json::from_str::<Value>(body)
        .map_err(|_| arm_error(400, "BadRequest", "the body is not JSON"))
}

/// The body's `timePeriod` as day numbers.
fn period(body: &Value) -> Result<(u32, u32), Answer> {
    match (
        body["timePeriod"]["from"].as_str().and_then(day_of),
        body["timePeriod"]["to"].as_str().and_then(day_of),
    ) {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(arm_error(400, "BadRequest", "timePeriod needs from and to")),
    }
}

impl CostData {
    pub(super) fn query(&mut self, scope: &str, query: &str, body: &str, base: &str) -> Answer {
        self.requests += 1;
        let now = Instant::now();
        if let Some(at) = self.not_before
            && now < at
        {
            self.early += 1;
            return self.throttle(now);
        }
        if self.throttled > 0 {
            self.throttled -= 1;
            return self.throttle(now);
        }
        let body = match request_body(query, body) {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        self.bodies.push(body.clone());
        if !matches!(
            body["type"].as_str(),
            Some("ActualCost" | "AmortizedCost" | "Usage")
        ) {
            return arm_error(
                400,
                "BadRequest",
                "type must be ActualCost, AmortizedCost or Usage",
            );
        }
        if body["timeframe"] != "Custom" {
            return arm_error(400, "BadRequest", "only a Custom timeframe is served here");
        }
        let (from, to) = match period(&body) {
            Ok(p) => p,
            Err(answer) => return answer,
        };
        if from > to {
            return arm_error(400, "BadRequest", "timePeriod.from is after timePeriod.to");
        }
        if days_between(from, to) > 30 {
            return arm_error(
                400,
                "BadRequest",
                "the emulator serves at most 31 days a query",
            );
        }
        if body["dataset"]["granularity"] != "Daily" {
            return arm_error(400, "BadRequest", "granularity must be Daily here");
        }
        let aggregations = body["dataset"]["aggregation"].as_object();
        if !aggregations.is_some_and(|a| {
            !a.is_empty()
                && a.values()
                    .all(|v| v["function"] == "Sum" && v["name"].is_string())
        }) {
            return arm_error(400, "BadRequest", "aggregation must sum a column");
        }
        if body["dataset"]["grouping"] != json!([{"type": "Dimension", "name": "ResourceId"}]) {
            return arm_error(400, "BadRequest", "grouping must be by ResourceId here");
        }
        let prefix = format!("{}/", scope.to_ascii_lowercase());
        let matching: Vec<&(u32, String, f64, String)> = self
            .rows
            .iter()
            .filter(|(day, id, _, _)| {
                (from..=to).contains(day) && id.to_ascii_lowercase().starts_with(&prefix)
            })
            .collect();
        let size = if self.page_size == 0 {
            3
        } else {
            self.page_size
        };
        let skip: usize = crate::arm::parse_query(query)
            .get("$skiptoken")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let rows: Vec<Value> = matching
            .iter()
            .skip(skip)
            .take(size)
            .map(|(day, id, cost, currency)| json!([cost, day, id.to_ascii_lowercase(), currency]))
            .collect();
        let next = (skip + size < matching.len()).then(|| {
            format!(
                "{base}{scope}/providers/Microsoft.CostManagement/query?api-version={API}&$skiptoken={}",
                skip + size
            )
        });
        (
            200,
            vec![],
            json!({
                "id": format!("{scope}/providers/Microsoft.CostManagement/query/emulated"),
                "name": "emulated",
                "type": "Microsoft.CostManagement/query",
                "properties": {
                    "nextLink": next,
                    "columns": [
                        {"name": "Cost", "type": "Number"},
                        {"name": "UsageDate", "type": "Number"},
                        {"name": "ResourceId", "type": "String"},
                        {"name": "Currency", "type": "String"}
                    ],
                    "rows": rows
                }
            })
            .to_string(),
        )
    }

    /// `POST {scope}/providers/Microsoft.CostManagement/forecast`: the
    /// forecast days inside the period, Azure's forecast only.
    pub(super) fn forecast(&mut self, query: &str, body: &str) -> Answer {
        self.forecasts += 1;
        let body = match request_body(query, body) {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        let (from, to) = match period(&body) {
            Ok(p) => p,
            Err(answer) => return answer,
        };
        if body["timeframe"] != "Custom" || from > to || body["dataset"]["granularity"] != "Daily" {
            return arm_error(
                400,
                "BadRequest",
                "a Custom, Daily forecast with from <= to",
            );
        }
        let rows: Vec<Value> = self
            .forecast
            .iter()
            .filter(|(d, _, _)| (from..=to).contains(d))
            .map(|(d, c, cur)| json!([c, d, "Forecast", cur]))
            .collect();
        (
            200,
            vec![],
            json!({"properties": {"nextLink": null, "columns": [
                {"name": "Cost", "type": "Number"}, {"name": "UsageDate", "type": "Number"},
                {"name": "CostStatus", "type": "String"}, {"name": "Currency", "type": "String"}],
                "rows": rows}})
            .to_string(),
        )
    }

    fn throttle(&mut self, now: Instant) -> Answer {
        self.not_before = Some(now + Duration::from_secs(WAIT_SECS));
        (
            429,
            vec![(
                "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after".into(),
                WAIT_SECS.to_string(),
            )],
            json!({"error": {"code": "429", "message": "Too many requests. Please retry."}})
                .to_string(),
        )
    }
}

/// A budget body as Azure takes it: category `Cost`, an amount above
/// zero, a time grain, a start on the first of a month (and an end date,
/// which azlin always gives), at most five notifications, each enabled
/// with an operator, a threshold and a contact e-mail.
pub fn check_budget(b: &Value) -> Result<(), String> {
    let p = &b["properties"];
    if p["category"] != "Cost" {
        return Err("category must be Cost".into());
    }
    if !p["amount"].as_f64().is_some_and(|a| a > 0.0) {
        return Err("amount must be above zero".into());
    }
    if !matches!(
        p["timeGrain"].as_str(),
        Some("Monthly" | "Quarterly" | "Annually")
    ) {
        return Err("timeGrain must be Monthly, Quarterly or Annually".into());
    }
    let start = p["timePeriod"]["startDate"].as_str().unwrap_or_default();
    if start.get(8..10) != Some("01") {
        return Err("the start date must be the first of a month".into());
    }
    let end = p["timePeriod"]["endDate"].as_str().unwrap_or_default();
    if end.len() < 10 || end <= start {
        return Err("azlin's budgets end: endDate after startDate".into());
    }
    let notifications = p["notifications"].as_object().cloned().unwrap_or_default();
    if notifications.len() > 5 {
        return Err("a budget has at most 5 notifications".into());
    }
    for (name, n) in &notifications {
        let threshold = n["threshold"].as_f64().unwrap_or(-1.0);
        if !(0.0..=1000.0).contains(&threshold)
            || n["operator"].as_str().is_none()
            || n["contactEmails"].as_array().is_none_or(|e| e.is_empty())
        {
            return Err(format!(
                "notification {name}: threshold 0-1000, an operator and a contact e-mail"
            ));
        }
    }
    Ok(())
}

/// A VM's auto-shutdown (`Microsoft.DevTestLab/schedules`) as Azure takes
/// it: named `shutdown-computevm-{vm}` for a VM that exists, a daily time
/// `HHMM`, a time-zone ID, the `ComputeVmShutdownTask` task type.
pub fn check_auto_shutdown(
    resources: &std::collections::BTreeMap<String, Value>,
    name: &str,
    body: &Value,
) -> Result<(), String> {
    let p = &body["properties"];
    let target = p["targetResourceId"].as_str().unwrap_or_default();
    let vm = target.rsplit('/').next().unwrap_or_default();
    if name != format!("shutdown-computevm-{vm}")
        || !resources.contains_key(&target.to_ascii_lowercase())
    {
        return Err("the schedule must be shutdown-computevm-{vm} of an existing VM".into());
    }
    if p["taskType"] != "ComputeVmShutdownTask" {
        return Err("taskType must be ComputeVmShutdownTask".into());
    }
    let time = p["dailyRecurrence"]["time"].as_str().unwrap_or_default();
    if time.len() != 4 || !time.bytes().all(|b| b.is_ascii_digit()) {
        return Err("dailyRecurrence.time must be HHMM".into());
    }
    if p["timeZoneId"].as_str().is_none_or(str::is_empty) {
        return Err("timeZoneId is required".into());
    }
    Ok(())
}
