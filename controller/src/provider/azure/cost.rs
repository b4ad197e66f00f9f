//! What Azure billed: the Cost Management Query API asked for actual
//! cost by day and resource, a range of at most 31 days per query (a
//! longer range is asked piece by piece, one after another, as the API
//! allows only a few queries per scope a minute), with every resource id
//! tied to the VM that owns it from one read of the subscription. The
//! number of requests does not grow with the number of VMs.
//!
//! Not here: sums by VM or day (`cost::attribution`), caching and
//! keeping days (the daemon's `cost` handler, `state::cost_days`).

use anyhow::{Context, Result};

use super::{AzureProvider, inventory::GroupRead};
use crate::{
    azure::{
        api,
        context::AzureContext,
        cost_query::{self, QueryDefinition, QueryResult},
        models::compute::Snapshot as DiskSnapshot,
    },
    cost::dates::{self, Day},
    provider::{Billed, BillingScope},
};

impl AzureProvider {
    pub(super) async fn billing_scope(
        &self,
        whole_subscription: bool,
        azure: &AzureContext,
    ) -> Result<BillingScope> {
        anyhow::ensure!(
            self.looks_in_azure(&azure.target),
            "azlin cost reads Azure's bill, and no subscription is set: `az login`, then set \
             [azure] subscription in config.toml or pass --subscription"
        );
        let subscription = self.subscription(&azure.target).await?;
        let group = self.resource_group(&azure.target);
        Ok(if whole_subscription {
            BillingScope {
                words: format!("subscription {subscription}"),
                path: format!("/subscriptions/{subscription}"),
                subscription,
                resource_group: None,
            }
        } else {
            BillingScope {
                words: format!("resource group {group} of subscription {subscription}"),
                path: format!("/subscriptions/{subscription}/resourceGroups/{group}"),
                subscription,
                resource_group: Some(group),
            }
        })
    }

    pub(super) async fn forecast(
        &self,
        scope: &BillingScope,
        (from, to): (Day, Day),
        azure: &AzureContext,
    ) -> Result<Vec<(Day, f64)>> {
        let arm = self.client(&azure.access).await?;
        let path = format!("{}/providers/Microsoft.CostManagement/forecast", scope.path);
        let pages: Vec<QueryResult> = arm
            .query_pages(
                &path,
                api::COST_MANAGEMENT,
                &cost_query::daily_forecast(from, to),
                |p: &QueryResult| p.properties.next_link.clone(),
            )
            .await
            .context("Cost Management did not forecast")?;
        let mut days = Vec::new();
        for page in &pages {
            days.extend(
                cost_query::rows(page)
                    .map_err(|e| anyhow::anyhow!("Cost Management sent {e}"))?
                    .into_iter()
                    .map(|r| (r.day, r.cost)),
            );
        }
        Ok(days)
    }

    pub(super) async fn billed(
        &self,
        scope: &BillingScope,
        (from, to): (Day, Day),
        azure: &AzureContext,
    ) -> Result<Billed> {
        let GroupRead {
            arm,
            subscription,
            group,
            snapshot,
        } = self.read_group(azure).await?;
        let mut billed = Billed::default();
        // Which VM owns what: every VM in the scope, and the snapshots of
        // their disks.
        let snaps: Vec<DiskSnapshot> = arm
            .list(
                &format!("/subscriptions/{subscription}/providers/Microsoft.Compute/snapshots"),
                api::DISKS,
            )
            .await
            .context("cannot list the subscription's snapshots")?;
        let in_scope = scope.resource_group.as_ref().map(|_| group.as_str());
        for vm in snapshot.vms_in(in_scope) {
            let name = vm.name.clone().unwrap_or_default();
            for id in snapshot.resources_of(vm) {
                billed.owners.insert(id, name.clone());
            }
        }
        for snap in &snaps {
            let source = snap
                .properties
                .creation_data
                .as_ref()
                .and_then(|c| c.source_resource_id.as_deref())
                .map(str::to_ascii_lowercase);
            if let (Some(id), Some(source)) = (&snap.id, source)
                && let Some(vm) = billed.owners.get(&source).cloned()
            {
                billed.owners.insert(id.to_ascii_lowercase(), vm);
            }
        }
        let path = format!("{}/providers/Microsoft.CostManagement/query", scope.path);
        for (a, b) in dates::split(from, to) {
            let pages: Vec<QueryResult> = arm
                .query_pages(
                    &path,
                    api::COST_MANAGEMENT,
                    &QueryDefinition::daily_by_resource(a, b),
                    |p: &QueryResult| p.properties.next_link.clone(),
                )
                .await
                .with_context(|| format!("Cost Management did not answer for {a} to {b}"))?;
            billed.queries += pages.len() as u32;
            for page in &pages {
                billed.rows.extend(
                    cost_query::rows(page)
                        .map_err(|e| anyhow::anyhow!("Cost Management sent {e}"))?,
                );
            }
        }
        Ok(billed)
    }
}
