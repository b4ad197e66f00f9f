//! Ask one agent a question on a stream of its own, so a slow answer never
//! holds up telemetry or other questions. The questions asked of many
//! agents at once are the handlers' (`handlers::processes`,
//! `handlers::ssh`).

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use azlin_protocol::{
    stream::{MAX_QUERY_FRAME, Query, QueryReply},
    transport::{self, FramedRecv},
};

use crate::daemon::{Daemon, counters::Counters};

/// Longest wait for an answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn ask(d: &Daemon, vm: &str, query: Query) -> Result<QueryReply> {
    ask_within(d, vm, query, ANSWER_TIMEOUT).await
}

/// [`ask`], for a question whose answer takes up to `limit` (a mount that
/// installs the NFS client first).
pub async fn ask_within(d: &Daemon, vm: &str, query: Query, limit: Duration) -> Result<QueryReply> {
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
    tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| anyhow!("{vm} did not answer within {limit:?}"))?
}
