//! The cloud's own view of its VMs, merged into `list` and `status` beside
//! the agents' live data: what Azure says now (power, size, region,
//! addresses, tags), which can differ from what azlin last did. Only VMs of
//! a cloud provider cost a request; a fleet without any answers at once.
//! A cloud that does not answer in time leaves each VM's view `unknown`
//! with the reason, never a failed list. A running VM with a size gets its
//! pay-as-you-go price ([`super::prices`]), or the reason it has none.

use std::{collections::BTreeMap, time::Duration};

use super::{Ctx, prices};
use crate::{
    ipc::{CloudView, VmView},
    provider::Kind,
    state::{VmRow, VmState},
};

/// How long `list` waits for ARM.
const LIMIT: Duration = Duration::from_secs(20);
/// How long `list` waits for one size's price.
const PRICE_LIMIT: Duration = Duration::from_secs(10);

/// Fill in `cloud` for the VMs among `views` whose provider has a cloud
/// to ask (the others' providers answer with nothing, at once).
pub async fn merge(cx: &Ctx, views: &mut [VmView]) {
    let d = &cx.d;
    let mut by_kind: BTreeMap<Kind, Vec<VmRow>> = BTreeMap::new();
    {
        let db = d.db.lock().expect("db lock");
        for v in views.iter() {
            let Ok(kind) = Kind::parse(&v.provider) else {
                continue;
            };
            // Still being made: nothing recorded to ask the cloud about yet.
            if let Some(row) = db.vm(&v.name).ok().flatten()
                && row.state != VmState::Provisioning
            {
                by_kind.entry(kind).or_default().push(row);
            }
        }
    }
    let mut found: BTreeMap<String, CloudView> = BTreeMap::new();
    for (kind, rows) in &by_kind {
        let refs: Vec<&VmRow> = rows.iter().collect();
        let provider = d.providers.get(*kind);
        match tokio::time::timeout(LIMIT, provider.cloud_views(&refs, &cx.azure)).await {
            Ok(views) => found.extend(views),
            Err(_) => found.extend(rows.iter().map(|r| {
                let view = CloudView {
                    power: "unknown".into(),
                    error: Some(format!("the {kind} cloud did not answer within {LIMIT:?}")),
                    ..CloudView::default()
                };
                (r.name.clone(), view)
            })),
        }
    }
    price(cx, &mut found).await;
    for v in views.iter_mut() {
        if let Some(c) = found.get(&v.name) {
            v.cloud = Some(c.clone());
        }
    }
}

/// The price of each running VM's size, asked once per size and region.
async fn price(cx: &Ctx, found: &mut BTreeMap<String, CloudView>) {
    let mut asked: BTreeMap<(String, String), prices::Lookup> = BTreeMap::new();
    for view in found.values_mut() {
        let (Some(size), Some(region)) = (&view.size, &view.location) else {
            continue;
        };
        if view.power != "running" {
            continue;
        }
        let key = (region.to_ascii_lowercase(), size.clone());
        if !asked.contains_key(&key) {
            let lookup = prices::per_hour(&cx.d, &cx.azure.access, region, size);
            let answer = tokio::time::timeout(PRICE_LIMIT, lookup)
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "the Retail Prices API did not answer within {PRICE_LIMIT:?}"
                    ))
                });
            asked.insert(key.clone(), answer);
        }
        match &asked[&key] {
            Ok(p) => view.price = Some(p.clone()),
            Err(why) => view.no_price = Some(why.clone()),
        }
    }
}
