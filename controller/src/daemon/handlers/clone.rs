//! `azlin clone SRC [--name N] [--num-replicas K]`: K VMs made in
//! parallel from one copy of SRC as it is now, each a new identity.
//!
//! SRC must be running with its agent connected: its agent lists the
//! files of its home the security filter blocks (`Query::Secrets`, asked
//! while SRC is held still, so the list is of what is copied), and its
//! provider makes one source from SRC without them, without SRC's agent
//! key, certificate, config or join token, SSH host keys and machine id
//! (`Snapshots::clone_source`). Then the clones are made as `new` makes
//! VMs (a join token each, enrolled under their own names) from that
//! source, which is removed once they are made. SRC keeps running
//! throughout.

use anyhow::{Result, bail};
use azlin_protocol::{
    enroll::CAP_MACHINE_BOUND,
    exec::clean_reason,
    stream::{Query, QueryReply},
};

use super::{
    Ctx, Handle,
    snapshot::{Busy, held_still},
};
use crate::{
    daemon::agents::query,
    ipc::{VmView, clone::CloneVm, new::New},
    provider::Operation,
    snapshot::secrets,
    state::VmState,
};

impl Handle for CloneVm {
    async fn handle(self, cx: &Ctx) -> Result<Vec<VmView>> {
        let d = &cx.d;
        let src = super::resolve::vm(cx, &self.src)?;
        let provider = cx.provider(&src);
        d.providers.require(provider, &Operation::Clone)?;
        let snapshots = d.providers.snapshots(src.kind)?;
        let caps = provider.capabilities();
        let req = New {
            provider: src.row.provider.clone(),
            name: Some(
                self.name
                    .clone()
                    .unwrap_or_else(|| format!("{}-clone", src.name())),
            ),
            pool: self.replicas,
            connect: src.row.connect_mode,
            tags: d
                .db
                .lock()
                .expect("db lock")
                .tags(src.name())?
                .into_iter()
                .collect(),
            // The source has the tools SRC has.
            no_dev_tools: caps.dev_tools,
            nfs_storage: None,
            cloud_init_extra: None,
            machine: Default::default(),
        };
        let op = Operation::New {
            pool: req.pool,
            dial: req.connect == crate::state::ConnectMode::Dial,
            no_dev_tools: req.no_dev_tools,
            nfs_storage: false,
            cloud_init_extra: false,
            target: &cx.azure.target,
            machine: &req.machine,
        };
        d.providers.require(provider, &op)?;
        // Names taken are refused before SRC is touched.
        let place = provider.new_place_key(&cx.azure).await?;
        super::new::pick_names(d, &req, place.as_deref())?;
        if d.state_of(&src.row) != VmState::Running || d.fleet.connection(src.name()).is_none() {
            bail!(
                "{} must be running with its agent connected to be cloned (its agent lists the \
                 secrets its clones leave behind): `azlin start {}`",
                src.name(),
                src.name()
            );
        }
        if snapshots.clone_boots_a_copy() && !d.fleet.announces(src.name(), CAP_MACHINE_BOUND) {
            bail!(
                "{0}'s agent does not bind its key to {0}'s machine, so a clone booting a copy of \
                 its disk could come up as {0}: update it (`azlin agent upgrade --vm {0}`) and \
                 clone again; nothing done",
                src.name()
            );
        }
        let source = {
            let _busy = Busy::claim(d, src.name())?;
            let (made, _held) = held_still(cx, &src.row, snapshots.holds_still(), async {
                cx.progress(src.name(), "listing the secrets its clones leave behind");
                let found = match query::ask(d, src.name(), Query::Secrets).await? {
                    QueryReply::Secrets { home, paths } => secrets(home, paths)?,
                    QueryReply::Error { reason } => {
                        bail!(
                            "{} cannot list its secrets: {}",
                            src.name(),
                            clean_reason(reason)
                        )
                    }
                    _ => bail!(
                        "{} answered another question than a secrets scan",
                        src.name()
                    ),
                };
                cx.progress(
                    src.name(),
                    format!(
                        "copying it for its clones, less {} secret file(s) of its home",
                        found.paths.len()
                    ),
                );
                snapshots.clone_source(&src.row, &found, &cx.azure).await
            })
            .await?;
            made?
        };
        let made = super::new::create(cx, provider, req, None, Some(&source)).await;
        snapshots.drop_clone_source(&source, &cx.azure).await;
        made
    }
}
