//! Ask one agent a question on a stream of its own, so a slow answer never
//! holds up telemetry or other questions; and the same question of many
//! agents at once: their process tables, their SSH host keys.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use azlin_protocol::{
    exec::clean_reason,
    stream::{MAX_QUERY_FRAME, ProcessSort, Query, QueryReply, check_host_keys, check_processes},
    transport::{self, FramedRecv},
};

use super::{Daemon, counters::Counters, selection};
use crate::{
    ipc::{ProcessTable, Response, SshEndpoint, SshTarget},
    selector::Selector,
};

/// Longest wait for an answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn ask(d: &Daemon, vm: &str, query: Query) -> Result<QueryReply> {
    let conn = d
        .fleet
        .connection(vm)
        .ok_or_else(|| anyhow!("{vm} is not connected; `azlin status {vm}` says why"))?;
    Counters::bump(&d.counters.queries);
    let exchange = async {
        let (mut send, recv) = conn.open_bi().await.context("cannot open a stream")?;
        transport::send(&mut send, &query, MAX_QUERY_FRAME).await?;
        let _ = send.finish();
        let mut recv = FramedRecv::new(recv, MAX_QUERY_FRAME);
        match recv.tagged::<QueryReply>().await? {
            Some(reply) => Ok(reply),
            None => bail!("{vm} closed the stream without answering"),
        }
    };
    tokio::time::timeout(ANSWER_TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow!("{vm} did not answer within {ANSWER_TIMEOUT:?}"))?
}

/// Every chosen VM's busiest processes, asked of all agents at once.
pub async fn process_tables(
    d: &std::sync::Arc<Daemon>,
    selector: &Selector,
    sort: ProcessSort,
    limit: u32,
) -> Result<Response> {
    let vms = selection::choose(d, selector)?;
    let mut asks = tokio::task::JoinSet::new();
    for (i, vm) in vms.iter().enumerate() {
        let (d, vm) = (d.clone(), vm.clone());
        asks.spawn(async move {
            let result = match ask(&d, &vm, Query::Processes { sort, limit }).await {
                Ok(QueryReply::Processes(list)) => Ok(check_processes(list, limit)),
                Ok(QueryReply::Error { reason }) => Err(clean_reason(reason)),
                Ok(_) => Err("the agent answered another question".into()),
                Err(e) => Err(format!("{e:#}")),
            };
            (i, ProcessTable { vm, result })
        });
    }
    let mut tables: Vec<(usize, ProcessTable)> = asks.join_all().await;
    tables.sort_by_key(|(i, _)| *i);
    Ok(Response::ProcessTables(
        tables.into_iter().map(|(_, t)| t).collect(),
    ))
}

/// How to reach each chosen VM with OpenSSH: its address from the fleet,
/// and the sshd port, user and host keys its agent reports over the
/// authenticated connection (so the keys can be pinned, no trust on first
/// use).
pub async fn ssh_targets(d: &std::sync::Arc<Daemon>, selector: &Selector) -> Result<Response> {
    let vms = selection::choose(d, selector)?;
    let mut asks = tokio::task::JoinSet::new();
    for (i, vm) in vms.into_iter().enumerate() {
        let d = d.clone();
        asks.spawn(async move {
            let result = ssh_endpoint(&d, &vm).await.map_err(|e| format!("{e:#}"));
            let session_name = d.session_name(&vm);
            (
                i,
                SshTarget {
                    vm,
                    session_name,
                    result,
                },
            )
        });
    }
    let mut targets: Vec<(usize, SshTarget)> = asks.join_all().await;
    targets.sort_by_key(|(i, _)| *i);
    Ok(Response::SshTargets(
        targets.into_iter().map(|(_, t)| t).collect(),
    ))
}

async fn ssh_endpoint(d: &Daemon, vm: &str) -> Result<SshEndpoint> {
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
