//! The cloud's own view of its VMs, merged into `list` and `status` beside
//! the agents' live data: what Azure says now (power, size, region,
//! addresses, tags), which can differ from what azlin last did. Only VMs of
//! a cloud provider cost a request; a fleet without any answers at once.
//! A cloud that does not answer in time leaves each VM's view `unknown`
//! with the reason, never a failed list.

use std::{collections::BTreeMap, time::Duration};

use super::Ctx;
use crate::{
    ipc::{CloudView, VmView},
    provider::Kind,
    state::{VmRow, VmState},
};

/// How long `list` waits for ARM.
const LIMIT: Duration = Duration::from_secs(20);

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
    for v in views.iter_mut() {
        if let Some(c) = found.get(&v.name) {
            v.cloud = Some(c.clone());
        }
    }
}
