//! `azlin connect` in the daemon: open a terminal stream to one VM's agent
//! and relay keystrokes in and screen bytes out for the CLI.
//!
//! The daemon holds no terminal state of its own. When the VM cannot be
//! reached, or its connection drops, the CLI is told
//! [`Reply::TerminalLost`] and asks again; tmux on the VM keeps the
//! session in between, so asking again is a reattach. When the CLI goes
//! away, the stream is reset and the agent hangs tmux up (it detaches).

use std::{sync::Arc, time::Duration};

use azlin_protocol::{
    audit::{Event, Record},
    exec::clean_reason,
    stream::{MAX_QUERY_FRAME, Query},
    terminal::{
        CAP_TERMINAL, MAX_TERMINAL_FRAME, TerminalEvent, TerminalInput, TerminalRequest,
        check_request,
    },
    transport::{self, FramedRecv, StreamError},
};
use tokio::sync::mpsc;

use super::{exec::next_id, resolve};
use crate::daemon::{Daemon, counters::Counters};
use crate::{
    ipc::{ConnectSpec, Reply},
    state::VmState,
};

/// Longest wait for an agent to accept the terminal's stream.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait a CLI may ask for before a VM counts as unreachable.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Application error code on a stream reset because the CLI went away.
const HANGUP: u32 = 1;

/// How one attempt ended, for the CLI and the audit log.
enum End {
    Reply(Reply),
    /// The CLI went away.
    Abandoned,
}

pub async fn run(
    d: Arc<Daemon>,
    spec: ConnectSpec,
    who: String,
    replies: mpsc::Sender<Reply>,
    input: mpsc::Receiver<TerminalInput>,
) {
    let vm = match resolve::row(&d, &spec.vm).map(|row| row.name) {
        Ok(vm) => vm,
        Err(e) => {
            let message = format!("{e:#}");
            let _ = replies
                .send(Reply::Err {
                    message,
                    exit: None,
                })
                .await;
            return;
        }
    };
    let req = TerminalRequest {
        id: next_id(),
        session: spec
            .tmux
            .clone()
            .unwrap_or_else(|| d.config().connect.tmux_session.clone()),
        term: spec.term.clone(),
        size: spec.size,
        requested_by: format!("{who}@{}", d.host_name),
    };
    if let Err(e) = check_request(&req) {
        let _ = replies
            .send(Reply::Err {
                message: e.to_string(),
                exit: None,
            })
            .await;
        return;
    }
    let end = match open(&d, &vm, &spec, &req).await {
        Ok((send, recv)) => {
            let mut record = Record::new(req.id, Event::Start);
            record.vm = Some(vm.clone());
            record.by = Some(req.requested_by.clone());
            record.command = Some(format!("tmux new-session -A -s {} (terminal)", req.session));
            super::exec::audit(&d, &record);
            let shown = d.session_name(&vm).unwrap_or_else(|| vm.clone());
            let open = Reply::TerminalOpen {
                vm: shown,
                tmux: req.session.clone(),
            };
            if replies.send(open).await.is_err() {
                return;
            }
            let end = relay(&vm, send, recv, &replies, input).await;
            let mut record = Record::new(req.id, Event::End);
            record.vm = Some(vm.clone());
            record.outcome = Some(match &end {
                End::Reply(Reply::TerminalEnded { .. }) => "tmux exited".into(),
                End::Reply(Reply::TerminalLost { reason }) => {
                    format!("lost: {reason}")
                }
                End::Reply(Reply::Err { message, .. }) => format!("failed: {message}"),
                _ => "hung up: the CLI went away".into(),
            });
            super::exec::audit(&d, &record);
            end
        }
        Err(end) => end,
    };
    if let End::Reply(reply) = end {
        let _ = replies.send(reply).await;
    }
}

/// Wait for the VM's connection (as long as the CLI allows), check it can
/// serve terminals, and ask for one.
async fn open(
    d: &Daemon,
    vm: &str,
    spec: &ConnectSpec,
    req: &TerminalRequest,
) -> Result<(quinn::SendStream, FramedRecv), End> {
    let lost = |reason: String| End::Reply(Reply::TerminalLost { reason });
    let fail = |message: String| {
        End::Reply(Reply::Err {
            message,
            exit: None,
        })
    };
    let row = d.db.lock().expect("db lock").vm(vm).ok().flatten();
    let state = row.map(|row| d.state_of(&row));
    match state {
        Some(VmState::Running | VmState::Provisioning) => {}
        Some(other) => {
            let other = other.as_str();
            return Err(fail(format!(
                "{vm} is {other}; start it with `azlin start {vm}`"
            )));
        }
        None => return Err(fail(format!("{vm} was deleted"))),
    }
    let wait = Duration::from_secs(u64::from(spec.wait_secs)).min(MAX_WAIT);
    d.fleet
        .wait_until(wait, |f| f.connection(vm).is_some())
        .await;
    let link = d.fleet.status(vm);
    let conn = d.fleet.connection(vm).ok_or_else(|| {
        let why = link
            .last_error
            .as_deref()
            .unwrap_or("its agent has not connected");
        lost(format!("{vm} is not reachable: {why}"))
    })?;
    if !link.capabilities.iter().any(|c| c == CAP_TERMINAL) {
        return Err(fail(format!(
            "{vm}'s agent ({}) cannot open terminals: upgrade azlin-agent on it, or use `azlin connect --ssh`",
            link.agent_version.as_deref().unwrap_or("unknown version")
        )));
    }
    Counters::bump(&d.counters.queries);
    let (mut send, recv) = tokio::time::timeout(OPEN_TIMEOUT, conn.open_bi())
        .await
        .map_err(|_| {
            lost(format!(
                "{vm}'s agent did not accept the terminal within {OPEN_TIMEOUT:?}"
            ))
        })?
        .map_err(|e| lost(format!("connection to {vm} lost: {e}")))?;
    transport::send(&mut send, &Query::Terminal(req.clone()), MAX_QUERY_FRAME)
        .await
        .map_err(|e| lost(format!("cannot ask {vm} for a terminal: {e}")))?;
    Ok((send, FramedRecv::new(recv, MAX_TERMINAL_FRAME)))
}

/// Carry the terminal both ways until one side ends it.
async fn relay(
    vm: &str,
    mut send: quinn::SendStream,
    mut recv: FramedRecv,
    replies: &mpsc::Sender<Reply>,
    mut input: mpsc::Receiver<TerminalInput>,
) -> End {
    let lost = |reason: String| End::Reply(Reply::TerminalLost { reason });
    let mut input_open = true;
    loop {
        tokio::select! {
            event = recv.tagged::<TerminalEvent>() => match event {
                Ok(Some(TerminalEvent::Screen(bytes))) => {
                    if replies.send(Reply::Terminal(TerminalEvent::Screen(bytes))).await.is_err() {
                        let _ = send.reset(HANGUP.into());
                        recv.reject();
                        return End::Abandoned;
                    }
                }
                Ok(Some(TerminalEvent::Ended { exit_code })) => {
                    return End::Reply(Reply::TerminalEnded { exit_code });
                }
                Ok(Some(TerminalEvent::Failed { reason })) => {
                    return End::Reply(Reply::Err {
                        message: format!("{vm}: {}", clean_reason(reason)),
                        exit: None,
                    });
                }
                Ok(None) => return lost(format!("{vm}'s agent ended the terminal without saying why")),
                Err(StreamError::Lost(e)) => return lost(format!("connection to {vm} lost: {e}")),
                Err(e) => {
                    if e.is_peer_fault() {
                        recv.reject();
                        let _ = send.reset(HANGUP.into());
                        return End::Reply(Reply::Err {
                            message: format!("{vm}'s agent sent something unusable: {e}"),
                            exit: None,
                        });
                    }
                    return lost(format!("terminal on {vm} interrupted: {e}"));
                }
            },
            keys = input.recv(), if input_open => match keys {
                Some(msg) => {
                    if let Err(e) = transport::send(&mut send, &msg, MAX_TERMINAL_FRAME).await {
                        tracing::debug!(vm, "terminal input not sent: {e}");
                        // The receive side reports what happened.
                        input_open = false;
                    }
                }
                None => {
                    let _ = send.reset(HANGUP.into());
                    recv.reject();
                    return End::Abandoned;
                }
            },
        }
    }
}
