//! `azlin new --provider external`: register machines the user runs
//! themselves (a workstation, a VM in another cloud, a simulator). The
//! controller creates nothing; it records each machine, issues a one-time
//! join token, and waits for the agent to dial in and enroll.

use anyhow::{Result, anyhow};
use azlin_protocol::enroll::JoinToken;

use super::new::pick_names;
use crate::{
    daemon::Daemon,
    ipc::new::{JoinInfo, New, NewReply},
    provider::Kind,
    state::{ConnectMode, NewVm, VmRow, VmState, now_unix},
};

pub fn register(d: &Daemon, req: &New) -> Result<NewReply> {
    let controller = d.listening.ok_or_else(|| {
        anyhow!(
            "registered machines dial the daemon: set [daemon] listen in config.toml \
             (e.g. listen = \"0.0.0.0:47801\") and restart the daemon"
        )
    })?;
    let names: Vec<String> = pick_names(d, req, None)?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let ttl = d.config().daemon.token_ttl_secs;
    let mut joined = Vec::with_capacity(names.len());
    let mut new = Vec::with_capacity(names.len());
    for name in &names {
        let token = JoinToken::generate()?;
        new.push(NewVm {
            row: VmRow {
                name: name.clone(),
                provider: Kind::External.as_str().into(),
                state: VmState::Running,
                connect_mode: ConnectMode::Dial,
                address: None,
                created_at: now_unix(),
                cert_serial: None,
                provider_data: "{}".into(),
            },
            tags: &req.tags,
            token_id: token.id_hex(),
            verifier: token.verifier().to_stored(),
            ttl_secs: ttl,
        });
        joined.push(JoinInfo {
            name: name.clone(),
            token: token.to_string(),
        });
    }
    // The whole pool, or none of it.
    d.db.lock().expect("db lock").add_vms(&new)?;
    for name in &names {
        d.fleet.track(name);
    }
    Ok(NewReply::Joined {
        controller: controller.to_string(),
        ca_pem: d.pki().ca.cert_pem().to_string(),
        vms: joined,
    })
}
