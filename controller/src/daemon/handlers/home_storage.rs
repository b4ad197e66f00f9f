//! `new --nfs-storage NAME`: the VM user's home on shared storage. Before
//! any VM is made, the provider's storage checks the storage is there and
//! reachable from the VM's network and sees to its root folder becoming
//! the user's ([`SharedStorage::home_for`]); nothing is made when that
//! fails. Each VM's cloud-init then has its agent mount it as the home.
//! Once the VMs have joined, each agent is asked how that went (it may be
//! installing the NFS client; nothing waits past [`HOME_WITHIN`]), each
//! outcome is told as progress, and a root squash lifted for the first VM
//! is put back whatever happened. A home that failed to mount does not
//! fail `new`: the VM is up with its local home, and `status` shows why.
//!
//! Not here: the mount itself (the agent's `mount::home`).

use std::time::{Duration, Instant};

use anyhow::Result;
use azlin_protocol::{
    mount::HomeState,
    stream::{Query, QueryReply},
};

use super::Ctx;
use crate::{
    daemon::{Daemon, agents::query},
    ipc::new::New,
    provider::{
        Provider,
        storage::{HomeShare, SharedStorage},
    },
};

/// How long the agents have to say how their home mount went (an NFS
/// client install from the distribution's mirror included).
pub const HOME_WITHIN: Duration = Duration::from_secs(900);
const ASK_EVERY: Duration = Duration::from_secs(2);

/// The uid of the VM user on VMs whose home is shared (cloud-init makes
/// them with it, so every VM sharing the home agrees).
pub use azlin_cloud_init::SHARED_HOME_UID;

/// The storage `req` names as the home, checked, its root folder seen to;
/// `None` when it names none.
pub async fn prepare(
    cx: &Ctx,
    provider: &dyn Provider,
    req: &New,
) -> Result<Option<(String, HomeShare)>> {
    let Some(name) = &req.nfs_storage else {
        return Ok(None);
    };
    crate::storage::name::check_name(name)?;
    let storage = storage(provider)?;
    let share = storage
        .home_for(name, SHARED_HOME_UID, &req.machine, &cx.azure)
        .await?;
    if share.squash_lifted {
        cx.progress(
            name,
            format!(
                "root squash lifted on {name} until the new VM gives its root folder to uid \
                 {SHARED_HOME_UID} (only azlin's subnet reaches it)"
            ),
        );
    }
    Ok(Some((name.clone(), share)))
}

fn storage(provider: &dyn Provider) -> Result<&dyn SharedStorage> {
    // `Operation::New { nfs_storage }` was checked first: a provider
    // without storage never gets here.
    provider.storage().ok_or_else(|| {
        anyhow::anyhow!(
            "provider {} says it has storage but serves none (a bug)",
            provider.kind()
        )
    })
}

/// Ask `vms` how their home mount went until each has said (or
/// [`HOME_WITHIN`] passed), telling each outcome; then put back a root
/// squash `prepare` lifted.
pub async fn settle(
    cx: &Ctx,
    provider: &dyn Provider,
    name: &str,
    share: &HomeShare,
    vms: &[String],
) -> Result<()> {
    let started = Instant::now();
    let mut given = false;
    let mut waiting: Vec<&String> = vms.iter().collect();
    while !waiting.is_empty() {
        let mut still = Vec::new();
        for vm in waiting {
            match home_of(&cx.d, vm).await {
                Some(HomeState::Pending { .. }) | None => still.push(vm),
                Some(state) => {
                    given |= matches!(state, HomeState::Mounted { .. });
                    let word = if matches!(state, HomeState::Mounted { .. }) {
                        "home"
                    } else {
                        "home (the VM runs on with its local home)"
                    };
                    cx.progress(vm, format!("{word}: {}", state.describe()));
                }
            }
        }
        waiting = still;
        if waiting.is_empty() {
            break;
        }
        if started.elapsed() > HOME_WITHIN {
            for vm in &waiting {
                cx.progress(
                    vm,
                    format!(
                        "home: not reported within {HOME_WITHIN:?}; `azlin status {vm}` shows it \
                         when it is"
                    ),
                );
            }
            break;
        }
        tokio::time::sleep(ASK_EVERY).await;
    }
    restore(cx, provider, name, share, given).await
}

/// Root squash back on, if `prepare` lifted it (after a failed `new` too).
pub async fn restore(
    cx: &Ctx,
    provider: &dyn Provider,
    name: &str,
    share: &HomeShare,
    given: bool,
) -> Result<()> {
    if !share.squash_lifted {
        return Ok(());
    }
    storage(provider)?
        .home_settled(name, SHARED_HOME_UID, given, &cx.azure)
        .await?;
    cx.progress(name, "root squash is back on");
    Ok(())
}

/// What `vm`'s agent says of its home on shared storage (`None`: it could
/// not be asked, or its agent predates the question); only a clean
/// answer, as it may reach a terminal.
pub async fn home_of(d: &Daemon, vm: &str) -> Option<HomeState> {
    match query::ask(d, vm, Query::Home).await {
        Ok(QueryReply::Home(state)) if state.is_clean() => Some(state),
        _ => None,
    }
}
