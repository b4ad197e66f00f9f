//! `azlin agent upgrade`: the chosen VMs get a new agent binary over their
//! own connections, at most `parallel` at a time. Each VM: its running
//! binary's sha256 is asked first (already there: skipped), the binary is
//! sent with its sha256 (the agent checks it, keeps the old one, renames
//! the new one in and restarts under systemd), then the daemon waits for
//! the VM to connect again and asks which binary runs. The new one: done.
//! The old one, or no connection within the timeout: that VM rolled back
//! (or will, on its own, at its deadline) and the upgrade stops there,
//! saying which VMs moved, which did not, and which were not tried.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use azlin_protocol::{
    stream::{MAX_QUERY_FRAME, Query, QueryReply},
    transport::{self, FramedRecv},
    upgrade::{CHUNK, DRAIN_LIMIT, MAX_AGENT_BINARY, UpgradeChunk, UpgradeRequest},
};

use super::{Ctx, Handle, selection};
use crate::{
    daemon::agents::query,
    ipc::{Done, agent_upgrade::AgentUpgrade},
    provider::{Kind, Operation, docker::agent_download::sha256_file, local::find_agent_binary},
};

/// Longest a VM's upgrade stream may take (sending a large binary to a
/// slow link).
const SEND_LIMIT: Duration = Duration::from_secs(600);

/// How one VM's upgrade ended.
enum Moved {
    Upgraded,
    AlreadyThere,
}

impl Handle for AgentUpgrade {
    async fn handle(self, cx: &Ctx) -> Result<Done> {
        let d = &cx.d;
        let names = selection::choose(d, &self.selector)?;
        if names.is_empty() {
            bail!("no VM chosen; nothing upgraded");
        }
        // Every chosen VM's provider must take an agent this way; refused
        // before anything is sent.
        for name in &names {
            let row =
                d.db.lock()
                    .expect("db lock")
                    .vm(name)?
                    .ok_or_else(|| anyhow!("{name} left the fleet"))?;
            let provider = d.providers.get(Kind::parse(&row.provider)?);
            d.providers
                .require(provider, &Operation::AgentUpgrade)
                .with_context(|| format!("{name} cannot be upgraded this way"))?;
        }
        if self.parallel == 0 || self.timeout_secs == 0 {
            bail!("--parallel and --timeout must be above 0");
        }
        let binary = match self.binary {
            Some(p) => p,
            None => find_agent_binary()?,
        };
        let bytes = tokio::fs::read(&binary)
            .await
            .with_context(|| format!("cannot read {}", binary.display()))?;
        if bytes.is_empty() || bytes.len() as u64 > MAX_AGENT_BINARY {
            bail!(
                "{} is not an agent binary ({} bytes)",
                binary.display(),
                bytes.len()
            );
        }
        let path = binary.clone();
        let sha256 = tokio::task::spawn_blocking(move || sha256_file(&path)).await??;
        let bytes = std::sync::Arc::new(bytes);
        let (mut upgraded, mut already) = (Vec::new(), Vec::new());
        for (wave, names_now) in names.chunks(self.parallel as usize).enumerate() {
            let mut tasks = tokio::task::JoinSet::new();
            for name in names_now {
                let (cx, name, bytes, sha) =
                    (cx.clone(), name.clone(), bytes.clone(), sha256.clone());
                let timeout = self.timeout_secs;
                tasks.spawn(async move {
                    let r = upgrade_one(&cx, &name, &bytes, &sha, timeout).await;
                    (name, r)
                });
            }
            let mut failed = Vec::new();
            for (name, r) in tasks.join_all().await {
                match r {
                    Ok(Moved::Upgraded) => upgraded.push(name),
                    Ok(Moved::AlreadyThere) => already.push(name),
                    Err(e) => failed.push(format!("{name}: {e:#}")),
                }
            }
            if !failed.is_empty() {
                failed.sort();
                let untried: Vec<&String> = names
                    .iter()
                    .skip((wave + 1) * self.parallel as usize)
                    .collect();
                bail!(
                    "upgrade stopped:\n{}\nupgraded: {}; not tried: {}",
                    failed.join("\n"),
                    list(&upgraded),
                    if untried.is_empty() {
                        "none".to_string()
                    } else {
                        untried
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                );
            }
        }
        let short = &sha256[..12];
        Ok(Done {
            message: format!(
                "agent {short} on {}: upgraded {}, already there {}",
                names.len(),
                list(&upgraded),
                list(&already)
            ),
        })
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        let mut sorted = names.to_vec();
        sorted.sort();
        sorted.join(", ")
    }
}

/// The sha256 of the binary `vm`'s agent runs.
async fn running(cx: &Ctx, vm: &str) -> Result<String> {
    match query::ask(&cx.d, vm, Query::AgentBinary).await? {
        QueryReply::AgentBinary { sha256 } => Ok(sha256),
        QueryReply::Error { reason } => bail!(
            "{vm}'s agent cannot say which binary it runs ({}); an agent this old is upgraded \
             the way it was installed",
            azlin_protocol::exec::clean_reason(reason)
        ),
        other => bail!("{vm} answered {other:?}"),
    }
}

async fn upgrade_one(
    cx: &Ctx,
    vm: &str,
    bytes: &[u8],
    sha256: &str,
    timeout_secs: u32,
) -> Result<Moved> {
    let d = &cx.d;
    let before = running(cx, vm).await?;
    if before == sha256 {
        cx.progress(vm, "already runs this agent");
        return Ok(Moved::AlreadyThere);
    }
    let reconnects = d.fleet.status(vm).reconnects;
    let started = Instant::now();
    cx.progress(
        vm,
        format!(
            "sending the agent ({:.1} MiB)",
            bytes.len() as f64 / 1048576.0
        ),
    );
    let conn = d
        .fleet
        .connection(vm)
        .ok_or_else(|| anyhow!("{vm} is not connected"))?;
    let exchange = async {
        let (mut send, recv) = conn.open_bi().await.context("cannot open a stream")?;
        let req = UpgradeRequest {
            sha256: sha256.to_string(),
            size: bytes.len() as u64,
            commit_within_secs: timeout_secs,
        };
        transport::send(&mut send, &Query::Upgrade(req), MAX_QUERY_FRAME).await?;
        for chunk in bytes.chunks(CHUNK) {
            transport::send(
                &mut send,
                &UpgradeChunk {
                    bytes: chunk.to_vec(),
                },
                MAX_QUERY_FRAME,
            )
            .await?;
        }
        let _ = send.finish();
        let mut recv = FramedRecv::new(recv, MAX_QUERY_FRAME);
        match recv.tagged::<QueryReply>().await? {
            Some(reply) => Ok(reply),
            None => bail!("{vm} closed the stream without answering"),
        }
    };
    // The agent answers once the binary is in place; it restarts after
    // its running commands end.
    let reply = tokio::time::timeout(SEND_LIMIT, exchange)
        .await
        .map_err(|_| anyhow!("sending the agent to {vm} took over {SEND_LIMIT:?}"))??;
    match reply {
        QueryReply::Upgraded { .. } => {}
        QueryReply::Error { reason } => bail!(
            "{vm} refused the new agent: {}",
            azlin_protocol::exec::clean_reason(reason)
        ),
        other => bail!("{vm} answered {other:?}"),
    }
    cx.progress(
        vm,
        "new agent in place; restarting (after its running commands end)",
    );
    // Gone: the old agent leaves once its running commands end.
    let gone = d
        .fleet
        .wait_until(DRAIN_LIMIT + Duration::from_secs(30), |f| {
            let s = f.status(vm);
            !s.connected || s.reconnects > reconnects
        })
        .await;
    if !gone {
        bail!(
            "its agent has the new binary but has not restarted after {DRAIN_LIMIT:?} (commands              still running?); it restarts into it on its own"
        );
    }
    // Back: connected again, with a new connection, within the trial. A
    // rolled-back VM comes back too, after its deadline, so the binary is
    // asked, not assumed.
    let wait = Duration::from_secs(u64::from(timeout_secs) + 30);
    let back = d
        .fleet
        .wait_until(wait, |f| {
            let s = f.status(vm);
            s.connected && s.reconnects > reconnects
        })
        .await;
    if !back {
        bail!(
            "not back within {wait:?} of restarting; its VM puts the previous agent back on its \
             own once the new one misses its {timeout_secs} s deadline"
        );
    }
    let now = running(cx, vm).await?;
    if now == sha256 {
        cx.progress(
            vm,
            format!("upgraded ({:.1} s)", started.elapsed().as_secs_f64()),
        );
        Ok(Moved::Upgraded)
    } else if now == before {
        bail!(
            "the new agent did not reach the controller within {timeout_secs} s; the VM put the \
             previous agent back"
        )
    } else {
        bail!(
            "{vm} now runs a third binary ({}); look at it before going on",
            &now[..12.min(now.len())]
        )
    }
}
