//! Resolve a [`Selector`] against the daemon's fleet: names, session names,
//! tags and whether each VM is running right now.

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
