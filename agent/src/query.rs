//! Answer the controller's questions, one bidirectional stream each: read
//! one [`Query`], write one [`QueryReply`], finish; or, for
//! [`Query::Exec`], [`Query::Terminal`] and [`Query::Alerts`], hand the
//! stream to [`crate::exec`], [`crate::terminal`] or [`crate::alerts`]. A malformed
//! question gets its stream stopped; the session carries on.

use azlin_protocol::{
    files::wire::FilesOp,
    stream::{MAX_QUERY_FRAME, Query, QueryReply, SshHostKeys, check_host_keys},
    transport::{self, FramedRecv},
};

use crate::{alerts::Alerts, exec::ExecContext, processes};

/// Serve one question stream to its end. `controller` names the peer.
pub async fn answer(
    agent: &crate::session::Agent,
    exec: &ExecContext,
    alerts: std::sync::Arc<Alerts>,
    controller: &str,
    mut send: quinn::SendStream,
    recv: quinn::RecvStream,
) {
    let mut recv = FramedRecv::new(recv, MAX_QUERY_FRAME);
    let query = match recv.tagged::<Query>().await {
        Ok(Some(q)) => q,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!("bad query from controller: {e}");
            recv.reject();
            let reply = QueryReply::Error {
                reason: format!("bad query: {e}"),
            };
            let _ = transport::send(&mut send, &reply, MAX_QUERY_FRAME).await;
            let _ = send.finish();
            return;
        }
    };
    let reply = match query {
        Query::Processes { sort, limit } => {
            match tokio::task::spawn_blocking(move || processes::top(sort, limit)).await {
                Ok(Ok(list)) => QueryReply::Processes(list),
                Ok(Err(reason)) => QueryReply::Error { reason },
                Err(e) => QueryReply::Error {
                    reason: format!("process scan failed: {e}"),
                },
            }
        }
        Query::Exec(req) => return crate::exec::run(exec, controller, req, send, recv).await,
        Query::Terminal(req) => {
            return crate::terminal::run(exec, controller, req, send, recv).await;
        }
        Query::SshHostKeys => ssh_host_keys(exec),
        Query::Files(req) => {
            return match req.op {
                FilesOp::Receive => {
                    crate::files::receive::run(exec, controller, req, send, recv).await
                }
                FilesOp::Send { recursive } => {
                    let how = crate::files::offer::Offering::OneByOne;
                    crate::files::offer::run(exec, controller, req, recursive, how, send, recv)
                        .await
                }
                FilesOp::SendByManifest {
                    recursive,
                    shard,
                    shards,
                } => {
                    let how = crate::files::offer::Offering::ByManifest { shard, shards };
                    crate::files::offer::run(exec, controller, req, recursive, how, send, recv)
                        .await
                }
            };
        }
        Query::Alerts(rules) => {
            return crate::alerts::stream::serve(alerts, rules, send, recv).await;
        }
        Query::Upgrade(req) => return crate::upgrade::serve(controller, req, send, recv).await,
        Query::Mount(req) => crate::mount::serve(req).await,
        Query::Mounts => match crate::mount::nfs_mounts() {
            Ok(mounts) => QueryReply::Mounts(mounts),
            Err(reason) => QueryReply::Error { reason },
        },
        Query::Home => QueryReply::Home(crate::mount::home::state()),
        Query::Quiesce { hold_ms } => crate::quiesce::quiesce(exec, hold_ms).await,
        Query::Thaw => crate::quiesce::thaw().await,
        Query::Secrets => crate::secrets::serve(exec).await,
        Query::CertificateRequest => crate::renew::request(agent).await,
        Query::InstallCertificate { cert_der } => crate::renew::install(agent, cert_der).await,
        Query::Trust { ca_pem } => crate::renew::trust(agent, ca_pem).await,
        Query::Env(req) => crate::env_file::serve(exec, req).await,
        Query::Health => crate::health::serve(agent, exec).await,
        Query::AgentBinary => {
            match tokio::task::spawn_blocking(crate::upgrade::running_sha256).await {
                Ok(Ok(sha256)) => QueryReply::AgentBinary { sha256 },
                Ok(Err(reason)) => QueryReply::Error { reason },
                Err(e) => QueryReply::Error {
                    reason: format!("cannot hash the agent binary: {e}"),
                },
            }
        }
    };
    if let Err(e) = transport::send(&mut send, &reply, MAX_QUERY_FRAME).await {
        tracing::debug!("could not answer query: {e}");
    }
    let _ = send.finish();
}

/// This VM's sshd port and public host keys, from the files the config
/// names; missing files are skipped (not every VM has every key type).
fn ssh_host_keys(ctx: &ExecContext) -> QueryReply {
    let ssh = &ctx.ssh;
    let user = match crate::account::Account::resolve(ctx.user.as_deref()) {
        Ok(a) => a.name,
        Err(reason) => return QueryReply::Error { reason },
    };
    let keys: Vec<String> = ssh
        .host_keys
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|text| text.lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let keys = check_host_keys(keys);
    if keys.is_empty() {
        return QueryReply::Error {
            reason: format!(
                "no SSH host key found in {}: is openssh-server installed on the VM?",
                ssh.host_keys
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    }
    QueryReply::SshHostKeys(SshHostKeys {
        port: ssh.port,
        keys,
        user,
    })
}
