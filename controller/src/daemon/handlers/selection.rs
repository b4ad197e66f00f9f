//! Resolve a [`Selector`] against the daemon's fleet: names, session names,
//! tags and whether each VM is running right now; and ask each chosen VM
//! something at once ([`each`]).

use anyhow::Result;

use crate::daemon::Daemon;
use crate::{
    selector::{Candidate, Selector, select},
    state::VmState,
};

/// The chosen VMs' names, in fleet order.
pub fn choose(d: &Daemon, sel: &Selector) -> Result<Vec<String>> {
    let (rows, mut tags) = {
        let db = d.db.lock().expect("db lock");
        (db.vms()?, db.all_tags()?)
    };
    let fleet: Vec<Candidate> = rows
        .iter()
        .map(|row| Candidate {
            session_name: d.session_name(&row.name),
            running: d.state_of(row) == VmState::Running,
            tags: tags.remove(&row.name).unwrap_or_default(),
            name: row.name.clone(),
        })
        .collect();
    Ok(select(sel, &fleet)?)
}

/// `ask(d, vm)` for every VM of `vms` at once; the answers in the order
/// of `vms`, however they arrive.
pub async fn each<T, Fut>(
    d: &std::sync::Arc<Daemon>,
    vms: Vec<String>,
    ask: impl Fn(std::sync::Arc<Daemon>, String) -> Fut,
) -> Vec<T>
where
    T: Send + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let mut asks = tokio::task::JoinSet::new();
    for (i, vm) in vms.into_iter().enumerate() {
        let answer = ask(d.clone(), vm);
        asks.spawn(async move { (i, answer.await) });
    }
    let mut out: Vec<(usize, T)> = asks.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}
