//! The cloud's own view of its VMs, merged into `list` and `status` beside
//! the agents' live data: what Azure says now (power, size, region,
//! addresses, tags), which can differ from what azlin last did. Only VMs of
//! a cloud provider cost a request; a fleet without any answers at once.
//! A cloud that does not answer in time leaves each VM's view `unknown`
//! with the reason, never a failed list.

use std::{collections::BTreeMap, time::Duration};

use super::Daemon;
use crate::{
    ipc::{CloudView, VmView},
    provider::AZURE,
    state::{VmRow, VmState},
};

/// How long `list` waits for ARM.
const LIMIT: Duration = Duration::from_secs(20);

/// Fill in `cloud` for the Azure VMs among `views`.
pub async fn merge(d: &Daemon, views: &mut [VmView]) {
    let rows: Vec<VmRow> = {
        let db = d.db.lock().expect("db lock");
        views
            .iter()
            .filter(|v| v.provider == AZURE)
            .filter_map(|v| db.vm(&v.name).ok().flatten())
            // Still being made: nothing recorded to ask Azure about yet.
            .filter(|r| r.state != VmState::Provisioning)
            .collect()
    };
    if rows.is_empty() {
        return;
    }
    let refs: Vec<&VmRow> = rows.iter().collect();
    let found: BTreeMap<String, CloudView> =
        match tokio::time::timeout(LIMIT, d.providers.azure.inventory(&refs)).await {
            Ok(found) => found,
            Err(_) => rows
                .iter()
                .map(|r| {
                    let view = CloudView {
                        power: "unknown".into(),
                        error: Some(format!("ARM did not answer within {LIMIT:?}")),
                        ..CloudView::default()
                    };
                    (r.name.clone(), view)
                })
                .collect(),
        };
    for v in views.iter_mut() {
        if let Some(c) = found.get(&v.name) {
            v.cloud = Some(c.clone());
        }
    }
}
