//! The CLI's side: find the daemon, start it if it is not running, send one
//! request and read the replies. Plain blocking I/O: the CLI is short-lived
//! and a Unix socket round trip needs no runtime.

use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use azlin_protocol::frame::FrameDecoder;

use super::{Call, Envelope, IPC_VERSION, MAX_IPC_FRAME, Reply, Request};
use crate::{
    azure::context::{AzureContext, Target},
    contexts::{self, Chosen},
    home::Home,
};

/// `azure` in the context this process chose (`--context`, else the
/// current one), if any: its tenant to sign in to, its defaults beneath
/// the flags.
fn in_chosen_context(mut azure: AzureContext) -> AzureContext {
    if let Some(chosen) = contexts::chosen() {
        azure.access.tenant = chosen.context.tenant.clone();
        azure.target.context = Some(chosen.clone());
    }
    azure
}

/// How long to wait for a freshly started daemon to answer.
const START_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Client {
    stream: UnixStream,
    decoder: FrameDecoder,
    azure: AzureContext,
}

impl Client {
    /// Connect to a running daemon; `None` if there is none.
    pub fn connect(home: &Home) -> Result<Option<Self>> {
        match UnixStream::connect(home.socket()) {
            Ok(stream) => Ok(Some(Self {
                stream,
                decoder: FrameDecoder::new(MAX_IPC_FRAME),
                azure: in_chosen_context(AzureContext::from_env()),
            })),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e)
                .with_context(|| format!("cannot reach the daemon at {}", home.socket().display())),
        }
    }

    /// Give up on a daemon that does not answer within `limit` (a shell's
    /// TAB must never hang).
    pub fn with_timeout(self, limit: Duration) -> Self {
        let _ = self.stream.set_read_timeout(Some(limit));
        let _ = self.stream.set_write_timeout(Some(limit));
        self
    }

    /// Connect, starting the daemon first if it is not running.
    pub fn connect_or_start(home: &Home) -> Result<Self> {
        if let Some(c) = Self::connect(home)? {
            return Ok(c);
        }
        let mut daemon = start_daemon(home)?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(c) = Self::connect(home)? {
                return Ok(c);
            }
            // A daemon that exits at once (bad config, another one won the
            // race) is reported now, not after the timeout.
            if let Ok(Some(status)) = daemon.try_wait() {
                if let Some(c) = Self::connect(home)? {
                    return Ok(c);
                }
                bail!(
                    "the daemon exited ({status}) instead of starting{}",
                    log_tail(&home.daemon_log())
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "the daemon did not start within {START_TIMEOUT:?}; see {}{}",
                    home.daemon_log().display(),
                    log_tail(&home.daemon_log())
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The subscription and resource group the user named (`new`: where;
    /// the commands acting on VMs: the only place they touch).
    pub fn targeting(mut self, target: Target) -> Self {
        let context = self.azure.target.context.take();
        self.azure.target = Target { context, ..target };
        self
    }

    /// Work in `context` instead of the one chosen for this process
    /// (`context use` proving the one it switches to).
    pub fn in_context(mut self, context: Option<Chosen>) -> Self {
        self.azure.access.tenant = context.as_ref().and_then(|c| c.context.tenant.clone());
        self.azure.target.context = context;
        self
    }

    /// Send a request; `on_progress` sees each progress line; returns the
    /// request's own reply or the daemon's error.
    pub fn call<C: Call>(
        self,
        request: C,
        mut on_progress: impl FnMut(&str, &str),
    ) -> Result<C::Reply> {
        let mut talk = self.converse(request.into())?;
        loop {
            match talk.next_reply()? {
                Reply::Progress { vm, message } => on_progress(&vm, &message),
                // Byte counts are for progress bars; callers here show none.
                Reply::CopyProgress { .. } => {}
                Reply::Ok(bytes) => return Conversation::decode(&bytes),
                Reply::Err { message, exit } => {
                    return Err(DaemonError { message, exit }.into());
                }
                Reply::ExecPlan { .. }
                | Reply::Exec { .. }
                | Reply::ExecDone
                | Reply::TerminalOpen { .. }
                | Reply::Terminal(_)
                | Reply::TerminalEnded { .. }
                | Reply::TerminalLost { .. }
                | Reply::Alert { .. } => {
                    bail!("the daemon sent a stream to a request that wants one answer")
                }
            }
        }
    }

    /// Send a request and keep the conversation open (for exec: replies
    /// keep coming, input frames may follow).
    pub fn converse(mut self, request: Request) -> Result<Conversation> {
        let envelope = Envelope {
            version: IPC_VERSION,
            request,
            azure: self.azure,
        };
        let bytes = azlin_protocol::message::encode_frame(&envelope, MAX_IPC_FRAME)?;
        self.stream
            .write_all(&bytes)
            .context("cannot send to the daemon")?;
        Ok(Conversation {
            stream: self.stream,
            decoder: self.decoder,
            buf: vec![0u8; 64 * 1024],
        })
    }
}

/// A request in flight: read replies, and write input frames through
/// [`Conversation::writer`].
pub struct Conversation {
    stream: UnixStream,
    decoder: FrameDecoder,
    buf: Vec<u8>,
}

impl Conversation {
    /// A second handle on the socket for sending input frames.
    pub fn writer(&self) -> Result<UnixStream> {
        self.stream
            .try_clone()
            .context("cannot share the daemon socket")
    }

    pub fn next_reply(&mut self) -> Result<Reply> {
        let payload = self.read_frame()?;
        Self::decode(&payload)
    }

    /// Decode what the daemon sent: a reply frame, or the answer inside
    /// [`Reply::Ok`].
    pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
        postcard::from_bytes(bytes).map_err(|e| {
            anyhow!(
                "cannot read the daemon's answer ({e}); it may be another azlin version: \
                 run `azlin daemon stop` and retry"
            )
        })
    }

    fn read_frame(&mut self) -> Result<Vec<u8>> {
        loop {
            if let Some(f) = self.decoder.next_frame()? {
                return Ok(f);
            }
            let n = self
                .stream
                .read(&mut self.buf)
                .map_err(|e| DaemonGone(format!("lost the connection to the daemon: {e}")))?;
            if n == 0 {
                return Err(DaemonGone(
                    "the daemon closed the connection; see `azlin daemon status` and its log"
                        .into(),
                )
                .into());
            }
            self.decoder.push(&self.buf[..n])?;
        }
    }
}

/// Start `azlin daemon run` in the background, detached from this terminal,
/// logging to `logs/daemon.log`.
fn start_daemon(home: &Home) -> Result<std::process::Child> {
    use std::os::unix::{fs::OpenOptionsExt, process::CommandExt};
    home.ensure()?;
    let exe = std::env::current_exe().context("cannot find the azlin executable")?;
    // What the daemon prints before its log is set up goes there too.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(home.daemon_log())
        .with_context(|| format!("cannot open {}", home.daemon_log().display()))?;
    Command::new(exe)
        .args(["daemon", "run"])
        .env("AZLIN_HOME", home.root())
        .env(azlin_protocol::log_file::LOG_FILE_ENV, home.daemon_log())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start the azlin daemon")
}

fn log_tail(path: &Path) -> String {
    let lines = crate::log_tail::last_lines(path, 10);
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nlast lines of the daemon log:\n");
    for l in lines {
        out.push_str("  ");
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// The daemon went away in the middle of a request (it stopped, or was
/// killed): what the request had done by then is unknown to the caller.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DaemonGone(pub String);

/// The daemon refused a request; `exit` is the status the CLI ends with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DaemonError {
    pub message: String,
    pub exit: Option<u8>,
}
