//! Ask one agent a question on a stream of its own, so a slow answer never
//! holds up telemetry or other questions; and the same question of many
//! agents at once.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use azlin_protocol::{
    stream::{MAX_QUERY_FRAME, ProcessSort, Query, QueryReply, check_processes},
    transport::{self, FramedRecv},
};

use super::{Daemon, counters::Counters, selection};
use crate::{
    ipc::{ProcessTable, Response},
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
                Ok(QueryReply::Error { reason }) => Err(reason),
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
