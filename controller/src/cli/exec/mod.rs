//! `azlin -- CMD`, `azlin exec`, and the commands built on them (`w`,
//! `os-update`, `update`): send the command to the daemon, print each VM's
//! output as it arrives, and exit with a status that says how it went (see
//! [`status`]).
//!
//! Ctrl-C (or SIGTERM, SIGHUP) cancels the run everywhere: the daemon tells
//! every agent to kill the command's process group, and azlin waits for
//! them to confirm; a second Ctrl-C quits at once. stdin is forwarded when
//! exactly one VM runs the command.
//!
//! - [`lines`]: cutting output into lines for prefixing.
//! - [`spool`]: one VM's output held for `--group` and `--json`.
//! - [`print`]: the four ways of printing.
//! - [`status`]: each VM's result and azlin's exit status.

pub mod lines;
pub mod print;
pub mod spool;
pub mod status;

use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    sync::{Arc, Mutex},
};

use anyhow::{Result, bail};
use azlin_protocol::exec::{ExecEvent, ExecInput, ExecStatus, MAX_EXEC_FRAME, OUTPUT_CHUNK};
use clap::Args;
use nix::sys::signal::{SigSet, Signal};

use self::{
    print::{Mode, Printer, Stream},
    status::VmResult,
};
use crate::{
    home::Home,
    ipc::{ExecSpec, Reply, client::Client},
    selector::Selector,
};

/// How a fleet command's output is shown and bounded.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputArgs {
    /// Print each VM's output together when it finishes.
    #[arg(long, conflicts_with = "json")]
    pub group: bool,
    /// Print one JSON object per VM (vm, exit_code, stdout, stderr,
    /// duration_ms, error) when it finishes.
    #[arg(long)]
    pub json: bool,
    /// Kill the command's process group on each VM after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
    /// Do not forward stdin, even to a single VM.
    #[arg(long, short = 'n')]
    pub no_stdin: bool,
    /// Text from the VM rather than the user's program (`azlin logs`):
    /// line by line, control characters escaped.
    #[arg(skip)]
    pub text: bool,
}

/// Which VMs: with none of these, a command that allows it means every
/// running VM.
#[derive(Debug, Clone, Default, Args)]
pub struct SelectArgs {
    /// A VM by name or session name (repeatable).
    #[arg(long = "vm", value_name = "NAME")]
    pub vms: Vec<String>,
    /// Every running VM whose name starts with this.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Only VMs carrying this tag (repeatable: all must match).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Every running VM.
    #[arg(long)]
    pub all: bool,
    /// VM names, or globs such as 'test-*' (quote them from your shell).
    #[arg(value_name = "VM|GLOB")]
    pub targets: Vec<String>,
}

impl SelectArgs {
    /// The selector; `default_all` makes "nothing chosen" mean every VM.
    pub fn selector(&self, default_all: bool) -> Result<Selector> {
        let mut sel = Selector {
            names: self.vms.clone(),
            prefix: self.prefix.clone(),
            all: self.all,
            ..Selector::default()
        };
        for t in &self.targets {
            sel.add_positional(t.clone());
        }
        for t in &self.tags {
            sel.tags.push(crate::state::tags::parse_tag(t)?);
        }
        if default_all && sel == Selector::default() {
            sel.all = true;
        }
        Ok(sel)
    }
}

/// Run `command` on the VMs `selector` chooses; returns azlin's exit status.
pub fn run(home: &Home, selector: Selector, command: String, output: &OutputArgs) -> u8 {
    match run_inner(home, selector, command, output) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("azlin: error: {e:#}");
            status::OWN_ERROR
        }
    }
}

fn run_inner(home: &Home, selector: Selector, command: String, output: &OutputArgs) -> Result<u8> {
    let spec = ExecSpec {
        selector,
        command,
        timeout_secs: output.timeout,
        stdin: !output.no_stdin,
    };
    let client = Client::connect_or_start(home)?;
    // From here on signals are taken by one thread, which turns them into
    // a cancel instead of killing azlin mid-run.
    let signals = catchable_signals();
    signals.thread_block()?;
    let mut talk = client.converse(crate::ipc::Request::Exec(spec.clone()))?;
    let writer = Arc::new(Mutex::new(talk.writer()?));
    let names = match talk.next_reply()? {
        Reply::ExecPlan { vms } => vms,
        Reply::Err { message, .. } => bail!("{message}"),
        other => bail!("unexpected answer from the daemon: {other:?}"),
    };
    spawn_signal_thread(signals, writer.clone(), names.len());
    if spec.stdin && names.len() == 1 {
        spawn_stdin_thread(writer);
    }
    let mode = match (output.json, output.group, names.len()) {
        _ if output.text => Mode::Text,
        (true, _, _) => Mode::Json,
        (_, true, _) => Mode::Group,
        (_, _, 1) => Mode::Raw,
        _ => Mode::Prefixed,
    };
    let mut printer = Printer::new(mode, names);
    loop {
        match talk.next_reply()? {
            Reply::Exec { vm, event } => {
                let vm = vm as usize;
                if vm >= printer.results.len() {
                    bail!("the daemon sent output for an unknown VM #{vm}");
                }
                let printed = match event {
                    ExecEvent::Stdout(bytes) => printer.output(vm, Stream::Out, &bytes),
                    ExecEvent::Stderr(bytes) => printer.output(vm, Stream::Err, &bytes),
                    ExecEvent::Finished(ExecStatus {
                        outcome,
                        duration_ms,
                    }) => printer.finished(
                        vm,
                        VmResult::Ran {
                            outcome,
                            duration_ms,
                        },
                    ),
                    ExecEvent::Failed { reason } => {
                        printer.finished(vm, VmResult::Failed { reason })
                    }
                };
                if let Err(e) = printed {
                    // Our own output is gone (a closed pipe): nobody is
                    // reading, so stop; closing the socket cancels the run.
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(141);
                    }
                    return Err(e.into());
                }
            }
            Reply::ExecDone => break,
            Reply::Err { message, .. } => bail!("{message}"),
            Reply::Progress { vm, message } => eprintln!("{vm}: {message}"),
            other => bail!("unexpected answer from the daemon: {other:?}"),
        }
    }
    printer.summary();
    let results: Vec<VmResult> = printer
        .results
        .into_iter()
        .map(|r| {
            r.unwrap_or(VmResult::Failed {
                reason: "no result".into(),
            })
        })
        .collect();
    Ok(status::exit_code(&results))
}

fn catchable_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set
}

fn send_input(writer: &Mutex<UnixStream>, input: &ExecInput) -> std::io::Result<()> {
    let frame = azlin_protocol::message::encode_frame(input, MAX_EXEC_FRAME)
        .map_err(std::io::Error::other)?;
    writer.lock().expect("socket lock").write_all(&frame)
}

fn spawn_signal_thread(signals: SigSet, writer: Arc<Mutex<UnixStream>>, vms: usize) {
    std::thread::spawn(move || {
        let mut cancelled = false;
        while let Ok(signal) = signals.wait() {
            if cancelled {
                eprintln!("azlin: {signal}: quitting without waiting for the VMs");
                std::process::exit(130);
            }
            cancelled = true;
            eprintln!(
                "azlin: cancelling on {vms} VM{} (press Ctrl-C again to quit at once)",
                if vms == 1 { "" } else { "s" }
            );
            if send_input(&writer, &ExecInput::Cancel).is_err() {
                std::process::exit(130);
            }
        }
    });
}

fn spawn_stdin_thread(writer: Arc<Mutex<UnixStream>>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; OUTPUT_CHUNK];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if send_input(&writer, &ExecInput::Stdin(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = send_input(&writer, &ExecInput::StdinEnd);
    });
}

/// Join `CMD ARGS…` into one command line, as ssh does: the words are
/// separated by spaces and the remote shell parses the result.
pub fn command_line(words: &[String]) -> String {
    words.join(" ")
}
