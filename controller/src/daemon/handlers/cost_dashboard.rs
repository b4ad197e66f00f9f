//! `azlin cost dashboard`: one query of the bill covering this month and
//! the last fourteen days (through the same five-minute cache as `azlin
//! cost`, so a dashboard open on a warm cache asks Azure nothing), summed
//! into the screen's figures, and the month's projection.

use std::collections::BTreeMap;

use anyhow::Result;

use super::{Ctx, Handle, cost};
use crate::{
    cost::dates::Day,
    ipc::cost_dashboard::{CostDashboard, DashboardReport, TopResource},
    state::now_unix,
};

/// Resources shown in the top list.
const TOP: usize = 5;

impl Handle for CostDashboard {
    async fn handle(self, cx: &Ctx) -> Result<DashboardReport> {
        let today = Day::of_unix(now_unix());
        let from = today.first_of_month().min(today.plus(-13));
        let scope = cost::scope_of(cx, self.whole_subscription).await?;
        let (bill, age) = cost::billed(cx, &scope, (from, today)).await?;
        let currency = cost::currency(&bill)?;
        cost::keep_days(cx, &scope, &bill, today)?;
        // A sum over days Azure has rows for; none: no data.
        let sum = |a: Day, b: Day| -> Option<f64> {
            let rows: Vec<f64> = bill
                .rows
                .iter()
                .filter(|r| r.day >= a && r.day <= b)
                .map(|r| r.cost)
                .collect();
            (!rows.is_empty()).then(|| rows.iter().sum())
        };
        let first = today.first_of_month();
        let mut by_resource: BTreeMap<&str, f64> = BTreeMap::new();
        for r in bill.rows.iter().filter(|r| r.day >= first) {
            *by_resource.entry(r.resource_id.as_str()).or_default() += r.cost;
        }
        let mut top: Vec<TopResource> = by_resource
            .into_iter()
            .map(|(id, cost)| TopResource {
                name: id
                    .rsplit('/')
                    .next()
                    .unwrap_or(id)
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect(),
                kind: id
                    .split_once("/providers/")
                    .map(|(_, rest)| {
                        let kind = rest.split('/').take(2).collect::<Vec<_>>().join("/");
                        kind.chars().filter(|c| !c.is_control()).collect()
                    })
                    .unwrap_or_else(|| "(no resource)".into()),
                vm: bill.owners.get(id).cloned(),
                cost,
            })
            .collect();
        top.sort_by(|a, b| b.cost.total_cmp(&a.cost).then_with(|| a.name.cmp(&b.name)));
        top.truncate(TOP);
        Ok(DashboardReport {
            scope: scope.words.clone(),
            currency,
            month_to_date: sum(first, today),
            today: sum(today, today),
            yesterday: sum(today.plus(-1), today.plus(-1)),
            week: sum(today.plus(-6), today),
            previous_week: sum(today.plus(-13), today.plus(-7)),
            estimate: cost::estimate(cx, &scope, today).await?,
            top,
            age_secs: age.as_secs(),
        })
    }
}
