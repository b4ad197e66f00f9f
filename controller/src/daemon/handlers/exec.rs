//! Fan one command out to the chosen VMs, each on a stream of its own, and
//! pass their output to the CLI as it arrives.
//!
//! Memory stays bounded however much a command writes: the CLI's replies go
//! through a small channel, so a slow terminal holds back the per-VM tasks,
//! which stop reading their streams, and QUIC flow control stops the agents.
//!
//! Every VM ends with exactly one `Finished` or `Failed` event: a VM that is
//! offline fails at once, one that drops mid-command fails when its
//! connection times out, so the run never hangs on a lost VM. A cancel from
//! the CLI, or the CLI going away, reaches every agent, which kills the
//! command's process group.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use azlin_protocol::{
    audit::{Event, Record},
    exec::{
        CAP_EXEC, ExecEvent, ExecInput, ExecRequest, ExecStatus, MAX_EXEC_FRAME, check_request,
        clean_reason,
    },
    stream::{MAX_QUERY_FRAME, Query},
    transport::{self, FramedRecv, StreamError},
};
use tokio::sync::{mpsc, watch};

use super::selection;
use crate::{
    daemon::{Daemon, counters::Counters},
    ipc::{ExecSpec, Reply},
};

/// Longest wait for an agent to accept the command's stream.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// After a cancel, how long an agent has to confirm before we give up on it.
const CANCEL_GRACE: Duration = Duration::from_secs(5);
/// Past a command's timeout, how long its agent has to report the kill.
const TIMEOUT_GRACE: Duration = Duration::from_secs(10);

/// Run `spec` for the CLI user `who`; `replies` go to the CLI, `input`
/// comes from it and closes when the CLI goes away.
pub async fn run(
    d: Arc<Daemon>,
    spec: ExecSpec,
    who: String,
    replies: mpsc::Sender<Reply>,
    mut input: mpsc::Receiver<ExecInput>,
) {
    let vms = match selection::choose(&d, &spec.selector) {
        Ok(vms) => vms,
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
    let req = ExecRequest {
        id: next_id(),
        command: spec.command,
        timeout_secs: spec.timeout_secs,
        stdin: spec.stdin && vms.len() == 1,
        requested_by: format!("{who}@{}", d.host_name),
    };
    if let Err(e) = check_request(&req) {
        let message = format!("{e}");
        let _ = replies
            .send(Reply::Err {
                message,
                exit: None,
            })
            .await;
        return;
    }
    let mut record = Record::new(req.id, Event::Start);
    record.vm = Some(vms.join(","));
    record.by = Some(req.requested_by.clone());
    record.command = Some(req.command.clone());
    audit(&d, &record);
    let display: Vec<crate::ipc::VmName> = vms
        .iter()
        .map(|vm| crate::ipc::VmName {
            vm: vm.clone(),
            session_name: d.session_name(vm),
        })
        .collect();
    if replies
        .send(Reply::ExecPlan { vms: display })
        .await
        .is_err()
    {
        return;
    }
    let (cancel_tx, cancel) = watch::channel(false);
    let (stdin_tx, stdin_rx) = mpsc::channel::<ExecInput>(4);
    let mut stdin_rx = Some(stdin_rx).filter(|_| req.stdin);
    let mut runs = tokio::task::JoinSet::new();
    for (i, vm) in vms.into_iter().enumerate() {
        let job = Job {
            d: d.clone(),
            index: i as u32,
            vm,
            req: req.clone(),
            replies: replies.clone(),
            cancel: cancel.clone(),
        };
        runs.spawn(job.run(stdin_rx.take()));
    }
    let mut input_open = true;
    loop {
        tokio::select! {
            done = runs.join_next() => if done.is_none() { break },
            msg = input.recv(), if input_open => match msg {
                Some(ExecInput::Cancel) => { let _ = cancel_tx.send(true); }
                Some(other) => { let _ = stdin_tx.send(other).await; }
                None => {
                    // The CLI is gone: nobody will read the output.
                    input_open = false;
                    let _ = cancel_tx.send(true);
                }
            },
        }
    }
    let _ = replies.send(Reply::ExecDone).await;
}

pub(super) fn next_id() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // Strictly increasing, so two runs in one nanosecond still differ.
    let prev = LAST.fetch_max(now, Ordering::Relaxed);
    if prev >= now {
        LAST.fetch_add(1, Ordering::Relaxed) + 1
    } else {
        now
    }
}

pub(super) fn audit(d: &Daemon, record: &Record) {
    let path = d.home.logs_dir().join("audit.log");
    if let Err(e) = record.append(&path) {
        tracing::error!("cannot write the audit log {}: {e}", path.display());
    }
}

/// The command on one VM.
struct Job {
    d: Arc<Daemon>,
    index: u32,
    vm: String,
    req: ExecRequest,
    replies: mpsc::Sender<Reply>,
    cancel: watch::Receiver<bool>,
}

impl Job {
    async fn run(self, stdin: Option<mpsc::Receiver<ExecInput>>) {
        let started = Instant::now();
        let _counted = self.d.running_commands.enter(&self.vm);
        let last = match self.exchange(stdin).await {
            Ok(Some(event)) => event,
            // The CLI is gone; the agent's output was refused, so it kills
            // the command.
            Ok(None) => ExecEvent::Failed {
                reason: "abandoned: the CLI went away".into(),
            },
            Err(reason) => {
                let event = ExecEvent::Failed { reason };
                let _ = self
                    .replies
                    .send(Reply::Exec {
                        vm: self.index,
                        event: event.clone(),
                    })
                    .await;
                event
            }
        };
        let mut record = Record::new(self.req.id, Event::End);
        record.vm = Some(self.vm.clone());
        match last {
            ExecEvent::Finished(ExecStatus {
                outcome,
                duration_ms,
            }) => {
                record.outcome = Some(outcome.describe());
                record.exit_code = Some(outcome.exit_code());
                record.duration_ms = Some(duration_ms);
            }
            ExecEvent::Failed { reason } => {
                record.outcome = Some("failed".into());
                record.reason = Some(reason);
                record.duration_ms = Some(started.elapsed().as_millis() as u64);
            }
            _ => {}
        }
        audit(&self.d, &record);
    }

    /// Run the command and forward its events; `Ok(Some(last))` once the
    /// agent reported the end (already forwarded), `Ok(None)` if the CLI
    /// went away, `Err` when this VM could not run it or was lost.
    async fn exchange(
        &self,
        stdin: Option<mpsc::Receiver<ExecInput>>,
    ) -> Result<Option<ExecEvent>, String> {
        let vm = &self.vm;
        let link = self.d.fleet.status(vm);
        let conn = self.d.fleet.connection(vm).ok_or_else(|| {
            let why = link
                .last_error
                .as_deref()
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default();
            format!("offline: not connected{why}")
        })?;
        if !link.capabilities.iter().any(|c| c == CAP_EXEC) {
            return Err(format!(
                "its agent ({}) cannot run commands: upgrade azlin-agent on it",
                link.agent_version.as_deref().unwrap_or("unknown version")
            ));
        }
        Counters::bump(&self.d.counters.queries);
        let (mut send, recv) = tokio::time::timeout(OPEN_TIMEOUT, conn.open_bi())
            .await
            .map_err(|_| format!("the agent did not accept the command within {OPEN_TIMEOUT:?}"))?
            .map_err(|e| format!("connection lost: {e}"))?;
        transport::send(&mut send, &Query::Exec(self.req.clone()), MAX_QUERY_FRAME)
            .await
            .map_err(|e| format!("cannot send the command: {e}"))?;
        let forward = tokio::spawn(forward_input(send, stdin, self.cancel.clone()));
        let result = self.relay(FramedRecv::new(recv, MAX_EXEC_FRAME)).await;
        forward.abort();
        result
    }

    /// Pass the agent's events to the CLI until the last one.
    async fn relay(&self, mut recv: FramedRecv) -> Result<Option<ExecEvent>, String> {
        let mut cancel = self.cancel.clone();
        let mut grace: Option<tokio::time::Instant> = None;
        // The agent enforces the timeout; this only catches an agent that
        // stopped answering while its connection stays up.
        let overdue = self.req.timeout_secs.map(|s| {
            tokio::time::Instant::now() + Duration::from_secs(u64::from(s)) + TIMEOUT_GRACE
        });
        loop {
            let next = tokio::select! {
                next = recv.tagged::<ExecEvent>() => next,
                () = sleep_until(overdue) => {
                    recv.reject();
                    return Err("the agent did not report the end of the command after its timeout".into());
                }
                () = cancelled(&mut cancel), if grace.is_none() => {
                    grace = Some(tokio::time::Instant::now() + CANCEL_GRACE);
                    continue;
                }
                () = sleep_until(grace) => {
                    return Err("cancelled, but the agent did not confirm the kill".into());
                }
            };
            let event = match next {
                Ok(Some(ExecEvent::Failed { reason })) => ExecEvent::Failed {
                    reason: clean_reason(reason),
                },
                Ok(Some(event)) => event,
                Ok(None) => return Err("the agent ended the stream without a result".into()),
                Err(StreamError::Lost(e)) => return Err(format!("connection lost: {e}")),
                Err(e) => {
                    if e.is_peer_fault() {
                        recv.reject();
                    }
                    return Err(format!("the agent's answer was unusable: {e}"));
                }
            };
            let last = matches!(event, ExecEvent::Finished(_) | ExecEvent::Failed { .. });
            let reply = Reply::Exec {
                vm: self.index,
                event: event.clone(),
            };
            if self.replies.send(reply).await.is_err() {
                recv.reject();
                return Ok(None);
            }
            if last {
                return Ok(Some(event));
            }
        }
    }
}

/// Resolves once the run is cancelled (never, if the run is over).
async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Own the stream's sending half: stdin frames for a single-VM run, then
/// the cancel if it comes.
async fn forward_input(
    mut send: quinn::SendStream,
    mut stdin: Option<mpsc::Receiver<ExecInput>>,
    mut cancel: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            msg = recv_or_pending(&mut stdin) => match msg {
                Some(input) => {
                    if transport::send(&mut send, &input, MAX_EXEC_FRAME).await.is_err() {
                        return;
                    }
                }
                None => stdin = None,
            },
            () = cancelled(&mut cancel) => {
                let _ = transport::send(&mut send, &ExecInput::Cancel, MAX_EXEC_FRAME).await;
                let _ = send.finish();
                return std::future::pending().await;
            }
        }
    }
}

async fn recv_or_pending(rx: &mut Option<mpsc::Receiver<ExecInput>>) -> Option<ExecInput> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
