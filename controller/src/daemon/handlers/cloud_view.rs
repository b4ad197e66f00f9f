//! The cloud's own view of its VMs, merged into `list` and `status` beside
//! the agents' live data: what Azure says now (power, size, region,
//! addresses, tags), which can differ from what azlin last did. Only VMs of
//! a cloud provider cost a request; a fleet without any answers at once.
//! A cloud that does not answer in time leaves each VM's view `unknown`
//! with the reason, never a failed list. A running VM with a size gets its
//! pay-as-you-go price ([`super::prices`]), or the reason it has none.

use std::{collections::BTreeMap, time::Duration};

use super::{Ctx, list, prices, resolve::Resolved};
use crate::{
    ipc::{CloudView, VmView},
    provider::Kind,
    state::{VmRow, VmState},
};

/// How long `list` waits for ARM.
const LIMIT: Duration = Duration::from_secs(20);

/// Fill in `cloud` for the VMs among `views` whose provider has a cloud
/// to ask (the others' providers answer with nothing, at once); the
/// cloud's VMs azlin did not make, where it looks, are returned as views.
pub async fn merge(cx: &Ctx, views: &mut [VmView]) -> Vec<VmView> {
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
    // Cloud providers look where the request does even without VMs of
    // azlin's there: VMs it did not make are shown too.
    for kind in Kind::ALL {
        if d.providers.get(kind).capabilities().azure_target {
            by_kind.entry(kind).or_default();
        }
    }
    let mut found: BTreeMap<String, CloudView> = BTreeMap::new();
    let mut unmanaged: Vec<(VmRow, CloudView)> = Vec::new();
    for (kind, rows) in &by_kind {
        let refs: Vec<&VmRow> = rows.iter().collect();
        let provider = d.providers.get(*kind);
        match tokio::time::timeout(LIMIT, provider.cloud_views(&refs, &cx.azure)).await {
            Ok(views) => {
                found.extend(views.views);
                unmanaged.extend(views.unmanaged);
            }
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
    // A name azlin uses is azlin's VM, whatever the cloud has elsewhere.
    unmanaged.retain(|(row, _)| !views.iter().any(|v| v.name == row.name));
    let mut others: BTreeMap<String, CloudView> = unmanaged
        .iter()
        .map(|(row, view)| (row.name.clone(), view.clone()))
        .collect();
    price(cx, &mut found).await;
    price(cx, &mut others).await;
    for v in views.iter_mut() {
        if let Some(c) = found.get(&v.name) {
            v.cloud = Some(c.clone());
        }
    }
    unmanaged
        .iter()
        .map(|(row, _)| list::unmanaged_view(row, others[&row.name].clone()))
        .collect()
}

/// A VM azlin did not make, as `status` shows it: the cloud's view now.
pub async fn unmanaged(cx: &Ctx, vm: &Resolved) -> VmView {
    let provider = cx.d.providers.get(vm.kind);
    let rows = [&vm.row];
    let mut views = match tokio::time::timeout(LIMIT, provider.cloud_views(&rows, &cx.azure)).await
    {
        Ok(v) => v.views,
        Err(_) => BTreeMap::new(),
    };
    let view = views.remove(vm.name()).unwrap_or_else(|| CloudView {
        power: "unknown".into(),
        error: Some(format!(
            "the {} cloud did not answer within {LIMIT:?}",
            vm.kind
        )),
        ..CloudView::default()
    });
    let mut one = BTreeMap::from([(vm.name().to_string(), view)]);
    price(cx, &mut one).await;
    list::unmanaged_view(&vm.row, one.remove(vm.name()).expect("just put"))
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
            let answer = prices::per_hour(&cx.d, &cx.azure.access, region, size).await;
            asked.insert(key.clone(), answer);
        }
        match &asked[&key] {
            Ok(p) => view.price = Some(p.clone()),
            Err(why) => view.no_price = Some(why.clone()),
        }
    }
}
