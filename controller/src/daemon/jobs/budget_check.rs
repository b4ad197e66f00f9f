//! The budgets, checked by the daemon on its own: shortly after it starts
//! (a crossing while it was down is noticed, and one already sent is not
//! sent again: see `handlers::budget`) and then every hour, with the
//! daemon's own Azure sign-in. The month-to-date figure comes through the
//! same five-minute cache as `azlin cost`. Between checks, every few
//! seconds, a noticed stop whose grace is over is carried out (no Azure
//! query needed: whether the spend crosses was judged by the checks).

use std::{sync::Arc, time::Duration};

use crate::{
    azure::context::AzureContext,
    daemon::{
        Daemon,
        handlers::{Ctx, budget},
    },
    provider::BillingScope,
    state::budgets::BudgetRow,
};

/// How often the budgets are checked.
const EVERY: Duration = Duration::from_secs(3600);
/// How often pending stops are looked at.
const STOPS_EVERY: Duration = Duration::from_secs(5);
/// How long after the start the first check waits (the daemon answers
/// the CLI first).
const FIRST_AFTER: Duration = Duration::from_secs(5);

pub fn spawn(d: Arc<Daemon>) {
    let stops = d.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(STOPS_EVERY);
        loop {
            tick.tick().await;
            stop_due(&stops).await;
        }
    });
    tokio::spawn(async move {
        tokio::time::sleep(FIRST_AFTER).await;
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            check_all(&d).await;
        }
    });
}

async fn stop_due(d: &Arc<Daemon>) {
    let Some(rows) = budgets(d) else { return };
    for row in rows.into_iter().filter(|r| r.stop_noticed.is_some()) {
        let cx = context(d, &row);
        for note in budget::stop_when_due(&cx, &row).await {
            tracing::warn!("budget of {}: {note}", row.words);
        }
    }
}

fn budgets(d: &Daemon) -> Option<Vec<BudgetRow>> {
    d.db.lock()
        .expect("db lock")
        .budgets()
        .inspect_err(|e| tracing::warn!("cannot read the budgets: {e:#}"))
        .ok()
}

fn context(d: &Arc<Daemon>, row: &BudgetRow) -> Ctx {
    Ctx::background(
        d.clone(),
        AzureContext {
            target: budget::target_of(row),
            ..AzureContext::from_env()
        },
    )
}

async fn check_all(d: &Arc<Daemon>) {
    let Some(rows) = budgets(d) else { return };
    for row in rows {
        let cx = context(d, &row);
        let scope = BillingScope {
            words: row.words.clone(),
            path: row.scope.clone(),
            subscription: row.subscription.clone(),
            resource_group: row.resource_group.clone(),
        };
        let view = budget::check(&cx, &scope, &row).await;
        for note in &view.notes {
            tracing::info!("budget of {}: {note}", row.words);
        }
    }
}
