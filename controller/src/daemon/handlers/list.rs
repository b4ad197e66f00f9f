//! `azlin list` and `azlin status VM`: the VMs as the daemon knows them
//! (state, live link, newest sample), with the cloud's own view merged in
//! when asked ([`super::cloud_view`]).

use std::collections::BTreeMap;

use anyhow::Result;

use super::{Ctx, Handle, HandleVm, cloud_view, resolve::Resolved};
use crate::{
    azure::context::Target,
    daemon::Daemon,
    ipc::vms::{CloudView, List, VmStatus, VmView},
    state::VmRow,
    telemetry::live::freshness,
};

impl Handle for List {
    /// The fleet; with the cloud's view, also the cloud's VMs azlin did
    /// not make where it looks (after azlin's own, by name).
    async fn handle(self, cx: &Ctx) -> Result<Vec<VmView>> {
        let mut vms = list_in(&cx.d, &cx.azure.target)?;
        if self.cloud {
            let mut others = cloud_view::merge(cx, &mut vms).await;
            others.sort_by(|a, b| a.name.cmp(&b.name));
            vms.extend(others);
        }
        Ok(vms)
    }
}

impl HandleVm for VmStatus {
    const UNMANAGED: bool = true;

    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<VmView> {
        if vm.unmanaged {
            return Ok(cloud_view::unmanaged(cx, &vm).await);
        }
        let mut one = [view_of(&cx.d, &vm.row)?];
        if self.cloud {
            cloud_view::merge(cx, &mut one).await;
        }
        // Only a VM whose provider serves storage can have its home there.
        let storage =
            cx.d.providers
                .of(&vm.row.provider)
                .is_ok_and(|p| p.capabilities().storage);
        if one[0].connected && storage {
            one[0].home = super::home_storage::home_of(&cx.d, &vm.row.name)
                .await
                .filter(|h| *h != azlin_protocol::mount::HomeState::Local);
        }
        let [v] = one;
        Ok(v)
    }
}

/// One VM as the CLI shows it.
pub fn view(d: &Daemon, row: &VmRow, tags: BTreeMap<String, String>) -> VmView {
    let link = d.fleet.status(&row.name);
    let state = d.state_of(row);
    let latest = d.live.latest(&row.name);
    VmView {
        session_name: d.session_name(&row.name),
        tags,
        sample_age_ms: latest.as_ref().map(|l| l.age().as_millis() as u64),
        freshness: latest
            .as_ref()
            .map(|l| freshness(l.age(), l.interval(), link.connected)),
        sample: latest.map(|l| l.sample),
        name: row.name.clone(),
        provider: row.provider.clone(),
        state,
        connect_mode: row.connect_mode,
        connected: link.connected,
        address: row.address.clone().or(link.remote),
        enrolled: row.cert_serial.is_some(),
        agent_version: link.agent_version,
        agent_started_at: link.agent_started_at,
        connected_since: link.connected_since.filter(|_| link.connected),
        reconnects: link.reconnects,
        last_error: link.last_error,
        created_at: row.created_at,
        cloud: None,
        no_agent: false,
        notional_per_hour: d
            .providers
            .of(&row.provider)
            .is_ok_and(|p| !p.capabilities().cost)
            .then_some(d.config().cost.notional_per_hour)
            .flatten(),
        home: None,
    }
}

/// A cloud VM azlin did not make, as the CLI shows it: its power as its
/// state, no agent, the cloud's view.
pub fn unmanaged_view(row: &VmRow, cloud: CloudView) -> VmView {
    VmView {
        name: row.name.clone(),
        provider: row.provider.clone(),
        state: row.state,
        connect_mode: row.connect_mode,
        connected: false,
        address: cloud.public_ip.clone(),
        enrolled: false,
        agent_version: None,
        agent_started_at: None,
        connected_since: None,
        reconnects: 0,
        last_error: None,
        created_at: row.created_at,
        session_name: None,
        tags: BTreeMap::new(),
        sample: None,
        sample_age_ms: None,
        freshness: None,
        cloud: Some(cloud),
        no_agent: true,
        notional_per_hour: None,
        home: None,
    }
}

/// The named VM as the CLI shows it (tags read now).
pub fn view_of(d: &Daemon, row: &VmRow) -> Result<VmView> {
    let tags = d.db.lock().expect("db lock").tags(&row.name)?;
    Ok(view(d, row, tags))
}

/// The VMs in `target` (see [`super::resolve::in_target`]).
pub fn list_in(d: &Daemon, target: &Target) -> Result<Vec<VmView>> {
    let (rows, mut tags) = {
        let db = d.db.lock().expect("db lock");
        (db.vms()?, db.all_tags()?)
    };
    Ok(rows
        .iter()
        .filter(|r| super::resolve::in_target(d, target, r))
        .map(|r| view(d, r, tags.remove(&r.name).unwrap_or_default()))
        .collect())
}
