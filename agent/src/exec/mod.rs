//! Run one command for the controller on the stream it opened (see
//! [`azlin_protocol::exec`]): check it, record it, run it as the VM user,
//! stream its output back as it comes, and report how it ended.
//!
//! - [`child`]: spawning the shell in its own process group, and killing
//!   the group.
//!
//! Output is read only as fast as the stream drains (a two-frame channel in
//! between), so a command writing gigabytes is held back by QUIC flow
//! control instead of filling memory. The timeout, a cancel, and a
//! controller that goes away all kill the process group.

pub mod child;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use azlin_protocol::{
    audit::{Event, Record},
    exec::{
        ExecEvent, ExecInput, ExecRequest, ExecStatus, MAX_EXEC_FRAME, OUTPUT_CHUNK, Outcome,
        check_request,
    },
    transport::{self, FramedRecv},
};
use serde::Serialize;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    process::ChildStdin,
    sync::mpsc,
};

use crate::account::Account;

/// After a kill, how long output from processes that escaped the group
/// may keep the command's pipes open before we stop reading them.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(2);

/// What every command, terminal and question served by this agent shares.
pub struct ExecContext {
    /// The agent config's `user`.
    pub user: Option<String>,
    pub audit_log: PathBuf,
    /// The tmux terminals run, and its server.
    pub tmux: crate::tmux_server::TmuxServer,
    /// The config's `home`: the VM user's `~` when not their passwd home.
    pub home: Option<PathBuf>,
    /// The folder of the private tmux server's wrapper, first on commands'
    /// `PATH` (see [`crate::tmux_server`]).
    pub path_first: Option<PathBuf>,
    pub ssh: crate::config::SshConfig,
    pub files: crate::config::FilesConfig,
    /// Puts received files in place durably, many at once.
    pub commits: crate::files::commit::Committer,
}

impl ExecContext {}

/// Commands running now (an upgrade waits for them before it restarts
/// the agent, so none is cut off).
static RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many commands are running now.
pub fn running() -> usize {
    RUNNING.load(std::sync::atomic::Ordering::SeqCst)
}

struct Counted;

impl Counted {
    fn new() -> Self {
        RUNNING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Counted
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Serve one exec stream to its end. `controller` names the peer, for the
/// audit log.
pub async fn run(
    ctx: &ExecContext,
    controller: &str,
    req: ExecRequest,
    mut send: quinn::SendStream,
    recv: FramedRecv,
) {
    let _counted = Counted::new();
    let by = format!("{} via {controller}", req.requested_by);
    let account = check_request(&req)
        .map_err(|e| e.to_string())
        .and_then(|()| runnable_account(ctx));
    let running = account.and_then(|account| {
        let mut record = Record::new(req.id, Event::Start);
        record.by = Some(by.clone());
        record.user = Some(account.name.clone());
        record.command = Some(req.command.clone());
        audit(ctx, &record);
        child::spawn(&account, &req.command, req.stdin)
            .map_err(|e| format!("cannot start {}: {e}", account.shell.display()))
    });
    let running = match running {
        Ok(r) => r,
        Err(reason) => {
            tracing::warn!(id = req.id, "refused a command: {reason}");
            let mut record = Record::new(req.id, Event::Refused);
            record.by = Some(by);
            record.command = Some(req.command.clone());
            record.reason = Some(reason.clone());
            audit(ctx, &record);
            let _ = transport::send(&mut send, &ExecEvent::Failed { reason }, MAX_EXEC_FRAME).await;
            let _ = send.finish();
            return;
        }
    };
    let started = Instant::now();
    let (events, writer) = spawn_writer::<ExecEvent>(send, MAX_EXEC_FRAME, 2);
    let outcome = supervise(running, &req, recv, events.clone()).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let _ = events
        .send(ExecEvent::Finished(ExecStatus {
            outcome,
            duration_ms,
        }))
        .await;
    drop(events);
    let _ = writer.await;
    let mut record = Record::new(req.id, Event::End);
    record.outcome = Some(outcome.describe());
    record.exit_code = Some(outcome.exit_code());
    record.duration_ms = Some(duration_ms);
    audit(ctx, &record);
}

pub(crate) fn audit(ctx: &ExecContext, record: &Record) {
    if let Err(e) = record.append(&ctx.audit_log) {
        tracing::error!(
            "cannot write the audit log {}: {e}",
            ctx.audit_log.display()
        );
    }
}

/// The account to run as; an agent running as root runs commands only for
/// a user its config names.
pub(crate) fn runnable_account(ctx: &ExecContext) -> Result<Account, String> {
    let account = Account::resolve(ctx.user.as_deref())?
        .for_vm(ctx.home.as_deref(), ctx.path_first.as_deref());
    if ctx.user.is_none() && account.uid.is_root() {
        return Err(
            "this agent runs as root and its config names no `user`, so it runs no \
                    commands: set `user = \"NAME\"` in the agent config (or `user = \"root\"` \
                    to run them as root)"
                .into(),
        );
    }
    Ok(account)
}

/// Frames go out through one task so that a blocked stream holds back the
/// readers, never the supervisor (which must still see timeouts and
/// input). `depth` frames may wait; the stream is finished when the
/// sender is dropped. Terminals use it too.
pub(crate) fn spawn_writer<T: Serialize + Send + Sync + 'static>(
    mut send: quinn::SendStream,
    max_frame: usize,
    depth: usize,
) -> (mpsc::Sender<T>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<T>(depth);
    let task = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if let Err(e) = transport::send(&mut send, &frame, max_frame).await {
                tracing::debug!("stream closed: {e}");
                return;
            }
        }
        let _ = send.finish();
    });
    (tx, task)
}

/// What the input task tells the supervisor.
enum Stop {
    Cancel,
    /// The controller's side of the stream is gone (reset, lost link, or a
    /// frame we refuse).
    Gone,
}

async fn supervise(
    running: child::Running,
    req: &ExecRequest,
    recv: FramedRecv,
    events: mpsc::Sender<ExecEvent>,
) -> Outcome {
    let child::Running { mut child, pgid } = running;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut pumps = Box::pin(async {
        tokio::join!(
            pump(stdout, events.clone(), ExecEvent::Stdout),
            pump(stderr, events.clone(), ExecEvent::Stderr)
        )
    });
    let (stop_tx, mut stop_rx) = mpsc::channel::<Stop>(1);
    let input = tokio::spawn(forward_input(recv, child.stdin.take(), stop_tx));
    let deadline = req
        .timeout_secs
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(u64::from(s)));
    let mut killed: Option<Outcome> = None;
    let mut drain_until: Option<tokio::time::Instant> = None;
    let mut status = None;
    let mut pumps_done = false;
    while status.is_none() || !pumps_done {
        tokio::select! {
            s = child.wait(), if status.is_none() => status = Some(s),
            _ = &mut pumps, if !pumps_done => pumps_done = true,
            _ = sleep_until(deadline), if killed.is_none() => {
                child::kill_group(pgid);
                killed = Some(Outcome::TimedOut);
                drain_until = Some(tokio::time::Instant::now() + DRAIN_AFTER_KILL);
            }
            stop = stop_rx.recv(), if killed.is_none() => {
                if matches!(stop, Some(Stop::Gone)) {
                    tracing::info!(id = req.id, "controller went away; killing the command");
                }
                child::kill_group(pgid);
                killed = Some(Outcome::Cancelled);
                drain_until = Some(tokio::time::Instant::now() + DRAIN_AFTER_KILL);
            }
            () = events.closed(), if killed.is_none() => {
                child::kill_group(pgid);
                killed = Some(Outcome::Cancelled);
                drain_until = Some(tokio::time::Instant::now() + DRAIN_AFTER_KILL);
            }
            _ = sleep_until(drain_until), if status.is_some() => {
                // Only processes outside the group hold the pipes now.
                break;
            }
        }
    }
    input.abort();
    if let Some(outcome) = killed {
        return outcome;
    }
    match status {
        Some(Ok(s)) => {
            use std::os::unix::process::ExitStatusExt;
            match (s.code(), s.signal()) {
                (Some(code), _) => Outcome::Exited(code),
                (None, Some(sig)) => Outcome::Signalled(sig),
                (None, None) => Outcome::Exited(255),
            }
        }
        _ => Outcome::Exited(255),
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Copy one of the command's outputs into frames until it closes or the
/// stream is gone. Each read fills a fresh, unzeroed buffer that then moves
/// into its frame: nothing is copied, and a command that writes little
/// touches little memory.
async fn pump(
    mut source: impl AsyncRead + Unpin,
    events: mpsc::Sender<ExecEvent>,
    wrap: fn(Vec<u8>) -> ExecEvent,
) {
    loop {
        let mut buf = Vec::with_capacity(OUTPUT_CHUNK);
        match source.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if events.send(wrap(buf)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Feed stdin frames to the command; report a cancel or a vanished
/// controller to the supervisor.
async fn forward_input(
    mut recv: FramedRecv,
    mut stdin: Option<ChildStdin>,
    stop: mpsc::Sender<Stop>,
) {
    loop {
        match recv.tagged::<ExecInput>().await {
            Ok(Some(ExecInput::Stdin(bytes))) => {
                if let Some(pipe) = stdin.as_mut()
                    && pipe.write_all(&bytes).await.is_err()
                {
                    // The command closed its stdin; later input has nowhere to go.
                    stdin = None;
                }
            }
            Ok(Some(ExecInput::StdinEnd)) => stdin = None,
            Ok(Some(ExecInput::Cancel)) => {
                let _ = stop.send(Stop::Cancel).await;
                return;
            }
            // The controller finished its side: no more input, no cancel.
            Ok(None) => {
                drop(stdin);
                return std::future::pending().await;
            }
            Err(e) => {
                if e.is_peer_fault() {
                    tracing::warn!("bad exec input from controller: {e}");
                    recv.reject();
                }
                let _ = stop.send(Stop::Gone).await;
                return;
            }
        }
    }
}
