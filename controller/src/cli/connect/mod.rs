//! `azlin connect`: a terminal in the VM's tmux session over its agent's
//! connection, through the daemon.
//!
//! The local terminal is put in raw mode, keys go to the VM as typed, the
//! screen comes back as tmux draws it, and window size changes follow
//! (SIGWINCH). Detaching or ending the session exits, leaving tmux as it
//! is on the VM.
//!
//! When the VM cannot be reached (its connection dropped, the daemon
//! restarted), a status line says so and azlin asks the daemon again until
//! the agent is back, then reattaches the same tmux session: no prompt, and
//! nothing tmux holds is lost. Ctrl-C while waiting gives up.
//! `--no-reconnect` exits instead. A change of this machine's address needs
//! none of that: QUIC migrates the daemon's connection.
//!
//! - [`raw`]: raw mode, window size, the status line.

pub mod new_window;
pub mod raw;

use std::{
    io::{Read, Write},
    net::Shutdown,
    os::unix::net::UnixStream,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI32, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use azlin_protocol::terminal::{MAX_TERMINAL_FRAME, TerminalEvent, TerminalInput};
use nix::sys::signal::{SigSet, Signal};

use crate::{
    home::Home,
    ipc::{ConnectSpec, Reply, Request, client::Client},
};

/// How long the first attempt waits for the VM's agent (a daemon that just
/// started needs a moment to dial its fleet).
const FIRST_WAIT_SECS: u32 = 15;
/// How long each reattach attempt waits for the agent to be back.
const RETRY_WAIT_SECS: u32 = 30;
/// Least time between two attempts, so a VM that fails fast is not hammered.
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// Ctrl-C, as raw mode delivers it.
const CTRL_C: u8 = 3;

pub struct Options {
    pub vm: String,
    pub tmux: Option<String>,
    pub reconnect: bool,
}

/// Most typeahead kept before the first attach.
const MAX_TYPEAHEAD: usize = 64 * 1024;

/// What the input threads and the main loop share.
struct Shared {
    /// The current daemon conversation, for sending keys and sizes.
    socket: Mutex<Option<UnixStream>>,
    keys: Mutex<Keys>,
    /// Set when the user gave up (Ctrl-C while waiting, or a signal).
    quit: AtomicI32,
}

/// Where keys go. Keys typed before the first attach are kept and sent on
/// attach, as ssh does with typeahead; keys typed while a lost session
/// waits to reattach are dropped, since nobody can see what they would do.
struct Keys {
    /// A terminal is attached right now: keys go to it.
    attached: bool,
    typeahead: Option<Vec<u8>>,
}

impl Shared {
    fn send(&self, input: &TerminalInput) {
        if let Some(s) = self.socket.lock().expect("socket lock").as_mut()
            && let Ok(frame) = azlin_protocol::message::encode_frame(input, MAX_TERMINAL_FRAME)
        {
            let _ = s.write_all(&frame);
        }
    }

    /// Give up with `status`: wake the main loop by closing the socket.
    fn give_up(&self, status: i32) {
        self.quit.store(status, Ordering::SeqCst);
        if let Some(s) = self.socket.lock().expect("socket lock").as_ref() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Run the session; returns azlin's exit status: tmux's own when it exits,
/// 255 when the VM cannot be reached (and reconnecting is off) or refuses,
/// 130 when the user gives up waiting.
pub fn run(home: &Home, opts: Options) -> Result<i32> {
    if !raw::is_terminal() {
        bail!(
            "azlin connect needs a terminal: stdin and stdout must both be a TTY. \
             To run a command without one, use `azlin exec --vm {} -- CMD`",
            opts.vm
        );
    }
    // Signals are taken by one thread (below); block them everywhere first.
    let signals = handled_signals();
    signals.thread_block()?;
    let shared = Arc::new(Shared {
        socket: Mutex::new(None),
        keys: Mutex::new(Keys {
            attached: false,
            typeahead: Some(Vec::new()),
        }),
        quit: AtomicI32::new(0),
    });
    let _raw = raw::RawMode::enable()?;
    spawn_signal_thread(signals, shared.clone());
    spawn_keyboard_thread(shared.clone());
    let status = session(home, &opts, &shared);
    drop(_raw);
    status
}

fn session(home: &Home, opts: &Options, shared: &Shared) -> Result<i32> {
    let term = std::env::var("TERM")
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "xterm-256color".into());
    let mut first = true;
    loop {
        let started = Instant::now();
        let spec = ConnectSpec {
            vm: opts.vm.clone(),
            tmux: opts.tmux.clone(),
            term: term.clone(),
            size: raw::size(),
            wait_secs: if first {
                FIRST_WAIT_SECS
            } else {
                RETRY_WAIT_SECS
            },
        };
        let outcome = attempt(home, spec, shared);
        shared.keys.lock().expect("keys lock").attached = false;
        shared.socket.lock().expect("socket lock").take();
        let quit = shared.quit.load(Ordering::SeqCst);
        if quit != 0 {
            raw::status_line("gave up; the tmux session is still on the VM");
            return Ok(quit);
        }
        let (reason, was_attached) = match outcome {
            Attempt::Ended(code) => return Ok(code),
            Attempt::Refused(message) => {
                eprint!("\r\nazlin: {message}\r\n");
                return Ok(255);
            }
            Attempt::Lost { reason, attached } => (reason, attached),
        };
        if !opts.reconnect {
            eprint!("\r\nazlin: {reason}\r\n");
            return Ok(255);
        }
        // Once per loss: when a session drops, or the first try fails.
        if first || was_attached {
            raw::status_line(&format!(
                "{reason}; reattaching when it is back (Ctrl-C gives up)"
            ));
        }
        first = false;
        if let Some(left) = RETRY_PAUSE.checked_sub(started.elapsed()) {
            std::thread::sleep(left);
        }
    }
}

enum Attempt {
    /// tmux exited with this status.
    Ended(i32),
    /// The daemon or the agent refused; trying again would not help.
    Refused(String),
    /// Not reachable now; `attached` if a terminal was open before.
    Lost { reason: String, attached: bool },
}

/// One conversation with the daemon: open the terminal and carry it until
/// it ends or is lost.
fn attempt(home: &Home, spec: ConnectSpec, shared: &Shared) -> Attempt {
    let lost = |reason: String, attached: bool| Attempt::Lost { reason, attached };
    let client = match Client::connect_or_start(home) {
        Ok(c) => c,
        Err(e) => return lost(format!("cannot reach the azlin daemon: {e:#}"), false),
    };
    let mut talk = match client.converse(Request::Connect(spec)) {
        Ok(t) => t,
        Err(e) => return lost(format!("{e:#}"), false),
    };
    match talk.writer() {
        Ok(w) => *shared.socket.lock().expect("socket lock") = Some(w),
        Err(e) => return lost(format!("{e:#}"), false),
    }
    if shared.quit.load(Ordering::SeqCst) != 0 {
        return lost("given up".into(), false);
    }
    let mut out = std::io::stdout().lock();
    let mut attached = false;
    loop {
        let reply = match talk.next_reply() {
            Ok(r) => r,
            Err(e) => return lost(format!("{e:#}"), attached),
        };
        match reply {
            Reply::TerminalOpen { .. } => {
                attached = true;
                let mut keys = shared.keys.lock().expect("keys lock");
                keys.attached = true;
                // The window may have changed while we were away.
                shared.send(&TerminalInput::Resize(raw::size()));
                if let Some(typed) = keys.typeahead.take().filter(|t| !t.is_empty()) {
                    shared.send(&TerminalInput::Keys(typed));
                }
            }
            Reply::Terminal(TerminalEvent::Screen(bytes)) => {
                if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
                    return Attempt::Refused("cannot write to the terminal".into());
                }
            }
            Reply::Terminal(_) => {}
            Reply::TerminalEnded { exit_code } => return Attempt::Ended(exit_code),
            Reply::TerminalLost { reason } => return lost(reason, attached),
            Reply::Err { message, .. } => return Attempt::Refused(message),
            Reply::Ok(_)
            | Reply::Progress { .. }
            | Reply::ExecPlan { .. }
            | Reply::Exec { .. }
            | Reply::ExecDone
            | Reply::Alert { .. }
            | Reply::CopyProgress { .. } => {
                return Attempt::Refused(
                    "the daemon answered something else; run `azlin daemon stop` and retry".into(),
                );
            }
        }
    }
}

fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGWINCH,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGINT,
    ] {
        set.add(s);
    }
    set
}

/// Window changes go to the VM; a termination signal gives up.
fn spawn_signal_thread(signals: SigSet, shared: Arc<Shared>) {
    std::thread::spawn(move || {
        while let Ok(signal) = signals.wait() {
            match signal {
                Signal::SIGWINCH => {
                    if shared.keys.lock().expect("keys lock").attached {
                        shared.send(&TerminalInput::Resize(raw::size()));
                    }
                }
                other => shared.give_up(128 + other as i32),
            }
        }
    });
}

/// Keys go to the VM while attached (see [`Keys`]); Ctrl-C while waiting
/// gives up.
fn spawn_keyboard_thread(shared: Arc<Shared>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let mut keys = shared.keys.lock().expect("keys lock");
            if keys.attached {
                shared.send(&TerminalInput::Keys(buf[..n].to_vec()));
            } else if buf[..n].contains(&CTRL_C) {
                drop(keys);
                shared.give_up(130);
            } else if let Some(typed) = keys.typeahead.as_mut()
                && typed.len() + n <= MAX_TYPEAHEAD
            {
                typed.extend_from_slice(&buf[..n]);
            }
        }
    });
}
