//! Serve a terminal for `azlin connect` on the stream the controller opened
//! (see [`azlin_protocol::terminal`]): check the request, record it, start
//! tmux on a PTY as the VM user, and carry keystrokes in and screen bytes
//! out until tmux exits or the controller goes away.
//!
//! - [`pty`]: the PTY pair, starting tmux on it, and its non-blocking I/O.
//!
//! When the controller goes away (the user's laptop lost its network, the
//! CLI was killed) tmux gets SIGHUP, exactly as when an ssh connection
//! drops: its client detaches and the session with everything in it stays,
//! for the next `connect` to reattach.

pub mod pty;

use std::time::{Duration, Instant};

use azlin_protocol::{
    audit::{Event, Record},
    terminal::{
        MAX_TERMINAL_FRAME, SCREEN_CHUNK, TerminalEvent, TerminalInput, TerminalRequest,
        check_request,
    },
    transport::{self, FramedRecv},
};
use nix::sys::signal::Signal;
use tokio::sync::mpsc;

use crate::exec::{ExecContext, audit, runnable_account, spawn_writer};

/// After a hangup, how long tmux has to exit before it is killed.
const HANGUP_GRACE: Duration = Duration::from_secs(2);
/// After tmux exits, how long we keep reading what it drew last.
const FINAL_DRAIN: Duration = Duration::from_millis(300);

/// Serve one terminal stream to its end. `controller` names the peer.
pub async fn run(
    ctx: &ExecContext,
    controller: &str,
    req: TerminalRequest,
    mut send: quinn::SendStream,
    recv: FramedRecv,
) {
    let by = format!("{} via {controller}", req.requested_by);
    let command = format!("tmux new-session -A -s {} (terminal)", req.session);
    let account = check_request(&req)
        .map_err(|e| e.to_string())
        .and_then(|()| runnable_account(ctx));
    let started = account.and_then(|account| {
        let mut record = Record::new(req.id, Event::Start);
        record.by = Some(by.clone());
        record.user = Some(account.name.clone());
        record.command = Some(command.clone());
        audit(ctx, &record);
        pty::spawn(&account, &ctx.tmux, &req)
            .map_err(|e| format!("cannot start tmux ({}): {e}", ctx.tmux.bin.display()))
    });
    let pty = match started {
        Ok(p) => p,
        Err(reason) => {
            tracing::warn!(id = req.id, "refused a terminal: {reason}");
            let mut record = Record::new(req.id, Event::Refused);
            record.by = Some(by);
            record.command = Some(command);
            record.reason = Some(reason.clone());
            audit(ctx, &record);
            let failed = TerminalEvent::Failed { reason };
            let _ = transport::send(&mut send, &failed, MAX_TERMINAL_FRAME).await;
            let _ = send.finish();
            return;
        }
    };
    let began = Instant::now();
    // Screen frames go out through their own task, so a slow link holds
    // back reading the PTY (and so tmux), never the input side.
    let (events, writer) = spawn_writer::<TerminalEvent>(send, MAX_TERMINAL_FRAME, 4);
    let ended = supervise(pty, recv, events.clone()).await;
    let exit_code = ended.unwrap_or(255);
    if ended.is_some() {
        let _ = events.send(TerminalEvent::Ended { exit_code }).await;
    }
    drop(events);
    let _ = writer.await;
    let mut record = Record::new(req.id, Event::End);
    record.outcome = Some(match ended {
        Some(_) => "tmux exited (detached or its session ended)".into(),
        None => "hung up: the controller went away; the tmux session stays".into(),
    });
    record.exit_code = Some(exit_code);
    record.duration_ms = Some(began.elapsed().as_millis() as u64);
    audit(ctx, &record);
}

/// Carry bytes both ways until tmux exits (`Some(exit code)`) or the
/// controller is gone (`None`, after hanging tmux up).
async fn supervise(
    mut pty: pty::Pty,
    mut recv: FramedRecv,
    events: mpsc::Sender<TerminalEvent>,
) -> Option<i32> {
    let mut buf = vec![0u8; SCREEN_CHUNK];
    let mut input_open = true;
    loop {
        tokio::select! {
            status = pty.child.wait() => {
                drain(&pty, &events, &mut buf).await;
                return Some(status.ok().and_then(|s| s.code()).unwrap_or(255));
            }
            n = pty::read(&pty.master, &mut buf) => match n {
                Ok(0) | Err(_) => {
                    // The far side closed: tmux is exiting; wait for it.
                    let status = pty.child.wait().await;
                    return Some(status.ok().and_then(|s| s.code()).unwrap_or(255));
                }
                Ok(n) => {
                    if events.send(TerminalEvent::Screen(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            },
            input = recv.tagged::<TerminalInput>(), if input_open => match input {
                Ok(Some(TerminalInput::Keys(keys))) => {
                    if let Err(e) = pty::write_all(&pty.master, &keys).await {
                        tracing::debug!("terminal input not delivered: {e}");
                    }
                }
                Ok(Some(TerminalInput::Resize(size))) => {
                    if azlin_protocol::terminal::check_size(size).is_ok()
                        && let Err(e) = pty::resize(&pty.master, size)
                    {
                        tracing::debug!("cannot resize the terminal: {e}");
                    }
                }
                // The controller finished its side: no more keys; the
                // screen still goes out until tmux exits.
                Ok(None) => input_open = false,
                Err(e) => {
                    if e.is_peer_fault() {
                        tracing::warn!("bad terminal input from controller: {e}");
                        recv.reject();
                    }
                    break;
                }
            },
            () = events.closed() => break,
        }
    }
    hang_up(&mut pty).await;
    None
}

/// What tmux wrote just before exiting (its "[detached]" line).
async fn drain(pty: &pty::Pty, events: &mpsc::Sender<TerminalEvent>, buf: &mut [u8]) {
    let until = tokio::time::Instant::now() + FINAL_DRAIN;
    while let Ok(Ok(n)) = tokio::time::timeout_at(until, pty::read(&pty.master, buf)).await {
        if n == 0
            || events
                .send(TerminalEvent::Screen(buf[..n].to_vec()))
                .await
                .is_err()
        {
            return;
        }
    }
}

async fn hang_up(pty: &mut pty::Pty) {
    pty::signal(pty.pgid, Signal::SIGHUP);
    if tokio::time::timeout(HANGUP_GRACE, pty.child.wait())
        .await
        .is_err()
    {
        tracing::warn!("tmux ignored SIGHUP; killing its client");
        pty::signal(pty.pgid, Signal::SIGKILL);
        let _ = pty.child.wait().await;
    }
}
