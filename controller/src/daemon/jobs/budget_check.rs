//! The budgets, checked by the daemon on its own: shortly after it starts
//! (a crossing while it was down is noticed, and one already sent is not
//! sent again: see `handlers::budget`) and then every hour, with the
//! daemon's own Azure sign-in. The month-to-date figure comes through the
//! same five-minute cache as `azlin cost`.

use std::{sync::Arc, time::Duration};

use crate::{
    azure::context::AzureContext,
    daemon::{
        Daemon,
        handlers::{Ctx, budget},
    },
    provider::BillingScope,
};

/// How often the budgets are checked.
const EVERY: Duration = Duration::from_secs(3600);
/// How long after the start the first check waits (the daemon answers
/// the CLI first).
const FIRST_AFTER: Duration = Duration::from_secs(5);

pub fn spawn(d: Arc<Daemon>) {
    tokio::spawn(async move {
        tokio::time::sleep(FIRST_AFTER).await;
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            check_all(&d).await;
        }
    });
}

async fn check_all(d: &Arc<Daemon>) {
    let rows = match d.db.lock().expect("db lock").budgets() {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!("cannot read the budgets: {e:#}");
            return;
        }
    };
    for row in rows {
        let cx = Ctx::background(
            d.clone(),
            AzureContext {
                target: budget::target_of(&row),
                ..AzureContext::from_env()
            },
        );
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
