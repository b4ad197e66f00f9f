//! `azlin ssh-config` and `connect --ssh`: how to reach each chosen VM
//! with OpenSSH.

use anyhow::{Result, anyhow, bail};
use azlin_protocol::{
    exec::clean_reason,
    stream::{Query, QueryReply, check_host_keys},
};

use super::{Ctx, Handle, selection};
use crate::{
    daemon::{Daemon, agents::query::ask},
    ipc::ssh::{SshEndpoint, SshTarget, SshTargets},
};

/// How to reach each chosen VM with OpenSSH: its address from the fleet,
/// and the sshd port, user and host keys its agent reports over the
/// authenticated connection (so the keys can be pinned, no trust on first
/// use).
impl Handle for SshTargets {
    async fn handle(self, cx: &Ctx) -> Result<Vec<SshTarget>> {
        let d = &cx.d;
        let vms = selection::choose(d, &self.selector)?;
        Ok(selection::each(d, vms, |d, vm| async move {
            let result = ssh_endpoint(&d, &vm).await.map_err(|e| format!("{e:#}"));
            let session_name = d.session_name(&vm);
            SshTarget {
                vm,
                session_name,
                result,
            }
        })
        .await)
    }
}

/// How to reach `vm` with OpenSSH, host keys from its agent.
pub(super) async fn ssh_endpoint(d: &Daemon, vm: &str) -> Result<SshEndpoint> {
    let keys = match ask(d, vm, Query::SshHostKeys).await? {
        QueryReply::SshHostKeys(k) => k,
        QueryReply::Error { reason } => bail!("{}", clean_reason(reason)),
        _ => bail!("{vm}'s agent answered another question"),
    };
    let address =
        d.db.lock()
            .expect("db lock")
            .vm(vm)?
            .and_then(|row| row.address)
            .or_else(|| d.fleet.status(vm).remote)
            .ok_or_else(|| anyhow!("{vm} has no known address"))?;
    let host = address
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| {
            address
                .rsplit_once(':')
                .map_or(address.clone(), |(h, _)| h.to_string())
        });
    let host_keys = check_host_keys(keys.keys);
    if host_keys.is_empty() {
        bail!("{vm}'s agent reported no usable SSH host key");
    }
    let user_ok = !keys.user.is_empty()
        && keys.user.len() <= 32
        && keys
            .user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !user_ok {
        bail!("{vm}'s agent reported an unusable user name");
    }
    Ok(SshEndpoint {
        host,
        port: keys.port,
        user: keys.user,
        host_keys,
    })
}
