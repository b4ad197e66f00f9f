//! The CLI ↔ daemon conversation over `daemon.sock` (mode 0600): the CLI
//! sends one [`Envelope`] frame; the daemon answers with zero or more
//! [`Reply::Progress`] frames and one final reply. Frames are the protocol
//! crate's length-prefixed postcard frames.
//!
//! [`Request::Exec`] keeps the conversation open both ways: the CLI goes on
//! sending [`azlin_protocol::exec::ExecInput`] frames (stdin, cancel), the
//! daemon sends [`Reply::ExecPlan`], then [`Reply::Exec`] frames as output
//! arrives, then the final reply. The CLI closing the socket cancels the run.
//!
//! [`Request::Connect`] works the same way for a terminal: the CLI sends
//! [`azlin_protocol::terminal::TerminalInput`] frames (keys, window sizes),
//! the daemon sends [`Reply::TerminalOpen`], [`Reply::Terminal`] frames with
//! screen bytes, then [`Response::TerminalEnded`] when tmux exits or
//! [`Response::TerminalLost`] when the VM could not be reached, which the
//! CLI answers by asking again. The CLI closing the socket hangs up.
//!
//! [`Request::AlertsFollow`] streams [`Reply::Alert`] frames until the CLI
//! closes the socket.
//!
//! The envelope starts with [`IPC_VERSION`] so a CLI and a daemon from
//! different builds tell each other so instead of misreading each other.

pub mod client;
pub mod server;

use std::collections::BTreeMap;

use azlin_protocol::{
    exec::ExecEvent,
    stream::{ProcessInfo, ProcessSort},
    telemetry::Sample,
    terminal::{TerminalEvent, WindowSize},
};
use serde::{Deserialize, Serialize};

use crate::{
    alerts::record::AlertRecord,
    selector::Selector,
    state::{ConnectMode, VmState},
    telemetry::live::Freshness,
};

/// Frame a reply for the socket.
pub fn encode_reply(reply: &Reply) -> anyhow::Result<Vec<u8>> {
    let payload = postcard::to_stdvec(reply)?;
    Ok(azlin_protocol::frame::encode(&payload, MAX_IPC_FRAME)?)
}

/// Bumped whenever a type below changes shape.
pub const IPC_VERSION: u32 = 7;
/// Largest IPC frame (fleet listings grow with the fleet).
pub const MAX_IPC_FRAME: usize = 16 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub version: u32,
    pub request: Request,
    /// The CLI's `AZLIN_ARM_ENDPOINT` / `AZLIN_ARM_TOKEN`, which the
    /// request uses (see `azure::access`).
    pub arm: crate::azure::access::ArmAccess,
    /// `--subscription` / `--resource-group` of a command acting on VMs:
    /// only Azure VMs there count (see `daemon::azure_scope`).
    pub scope: crate::provider::azure::Target,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    DaemonStatus,
    Shutdown,
    List,
    /// [`Request::List`] with each cloud VM's view as its cloud has it now
    /// (`azlin list`, `azlin status`): slower, as it asks the cloud.
    ListWithCloud,
    VmStatus {
        name: String,
    },
    New(NewRequest),
    Start {
        name: String,
    },
    Stop {
        name: String,
        /// Azure: power off but keep the VM allocated (and billed).
        #[serde(default)]
        keep_allocated: bool,
    },
    Kill {
        name: String,
    },
    /// What deleting the VM would remove (`destroy --dry-run`).
    DestroyPlan {
        name: String,
    },
    Restart {
        name: String,
    },
    Resize {
        name: String,
        size: String,
    },
    KillAll,
    /// Issue a new join token for an existing VM (re-enrollment).
    Token {
        name: String,
        ttl_secs: Option<u64>,
    },
    /// Ask a VM's agent for its busiest processes.
    Processes {
        name: String,
        sort: ProcessSort,
        limit: u32,
    },
    /// Run a command on the chosen VMs (see the module docs).
    Exec(ExecSpec),
    /// The busiest processes on each chosen VM.
    ProcessTables {
        selector: Selector,
        sort: ProcessSort,
        limit: u32,
    },
    /// Set and remove tags on a VM.
    Tag {
        name: String,
        set: Vec<(String, String)>,
        remove: Vec<String>,
    },
    /// Give a VM a session name (`None`: clear it).
    Session {
        name: String,
        session: Option<String>,
    },
    /// Open a terminal on a VM (see the module docs).
    Connect(ConnectSpec),
    /// Move the daemon's QUIC connections to a new local UDP socket, as a
    /// laptop's network change would; they migrate without reconnecting.
    Rebind,
    /// SSH details of the chosen VMs, host keys pinned via their agents.
    SshTargets {
        selector: Selector,
    },
    /// Active alerts, the newest `history` events and the rules' state.
    Alerts {
        history: u32,
    },
    /// Every alert event from now on, as [`Reply::Alert`] frames, until
    /// the CLI closes the socket.
    AlertsFollow,
    /// Send planned local files to a VM (`azlin cp`).
    Push(crate::daemon::files::PushSpec),
    /// Copy from a VM, to this machine or to another VM (`azlin cp`).
    Fetch(crate::daemon::fetch::FetchSpec),
    /// Send one plan (the dotfiles) to every chosen VM at once.
    Sync {
        selector: Selector,
        plan: crate::files::plan::Plan,
        requested_by: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectSpec {
    /// VM or session name.
    pub vm: String,
    /// The tmux session; `None`: `connect.tmux_session` from config.toml.
    pub tmux: Option<String>,
    pub term: String,
    pub size: WindowSize,
    /// How long to wait for the VM's agent to be connected.
    pub wait_secs: u32,
}

/// How to reach one VM with OpenSSH, or why not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshTarget {
    pub vm: String,
    pub session_name: Option<String>,
    pub result: Result<SshEndpoint, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshEndpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// `TYPE BASE64` lines, as the VM's agent reported them.
    pub host_keys: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecSpec {
    pub selector: Selector,
    /// Run through each VM user's `$SHELL -c`.
    pub command: String,
    pub timeout_secs: Option<u32>,
    /// Forward the CLI's stdin (honoured only when one VM is chosen).
    pub stdin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewRequest {
    pub provider: String,
    pub name: Option<String>,
    pub pool: u32,
    pub connect: ConnectMode,
    pub tags: Vec<(String, String)>,
    /// Skip the development tools (cloud-init providers).
    #[serde(default)]
    pub no_dev_tools: bool,
    /// Azure: the subscription and resource group, over config.toml's.
    #[serde(default)]
    pub subscription: Option<String>,
    #[serde(default)]
    pub resource_group: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// A line of progress for the user.
    Progress {
        vm: String,
        message: String,
    },
    Ok(Response),
    Err {
        message: String,
        /// The exit status the CLI should end with (default 1).
        #[serde(default)]
        exit: Option<u8>,
    },
    /// The VMs an exec runs on, by display name; later frames index it.
    ExecPlan {
        vms: Vec<String>,
    },
    /// Output from, or the end of, the command on `vms[vm]`.
    Exec {
        vm: u32,
        event: ExecEvent,
    },
    /// The terminal is open on `vm` (display name).
    TerminalOpen {
        vm: String,
        tmux: String,
    },
    /// Screen bytes from the terminal.
    Terminal(TerminalEvent),
    /// How far a copy to `vm` has got (bytes already there count as done).
    CopyProgress {
        vm: String,
        done: u64,
        total: u64,
    },
    /// An alert event, as it is stored (`alerts --follow`).
    Alert {
        record: AlertRecord,
        display: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    Daemon(DaemonInfo),
    Vms(Vec<VmView>),
    Vm(Box<VmView>),
    Done {
        message: String,
    },
    Token {
        token: String,
    },
    Processes {
        vm: String,
        list: Vec<ProcessInfo>,
    },
    /// One entry per chosen VM: its busiest processes, or why not.
    ProcessTables(Vec<ProcessTable>),
    /// Every VM of an exec has reported how it ended.
    ExecDone,
    /// tmux exited: the user detached or ended the session.
    TerminalEnded {
        exit_code: i32,
    },
    /// The VM is not reachable now (offline, or the connection dropped);
    /// the tmux session is still there for the next attempt.
    TerminalLost {
        reason: String,
    },
    SshTargets(Vec<SshTarget>),
    Alerts(AlertsView),
    Copied(crate::daemon::files::CopyReport),
    Synced(Vec<crate::daemon::files::SyncResult>),
    /// Machines registered for their own agents to dial in and enroll.
    Joined {
        controller: String,
        ca_pem: String,
        vms: Vec<JoinInfo>,
    },
}

/// What `azlin alerts` shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertsView {
    pub file: String,
    /// Why the file is not in force (the last good rules are), if so.
    pub file_error: Option<String>,
    /// Rule names in force on the agents, built-ins included.
    pub rules: Vec<String>,
    pub agent_lost_after_ms: Option<u64>,
    pub channels: Vec<String>,
    pub active: Vec<AlertRecord>,
    pub history: Vec<AlertRecord>,
    /// VM → session name, to show what the user calls each VM.
    pub session_names: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessTable {
    pub vm: String,
    pub result: Result<Vec<ProcessInfo>, String>,
}

/// What an agent on a registered machine needs to join.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinInfo {
    pub name: String,
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonInfo {
    pub pid: u32,
    pub version: String,
    pub started_at: i64,
    pub home: String,
    pub vms: usize,
    pub connected: usize,
    pub listen: Option<String>,
    pub certificates_issued: i64,
}

/// What the CLI shows about one VM: durable state merged with the live link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VmView {
    pub name: String,
    pub provider: String,
    pub state: VmState,
    pub connect_mode: ConnectMode,
    pub connected: bool,
    pub address: Option<String>,
    pub enrolled: bool,
    pub agent_version: Option<String>,
    pub agent_started_at: Option<i64>,
    pub connected_since: Option<i64>,
    pub reconnects: u64,
    pub last_error: Option<String>,
    pub created_at: i64,
    /// The name the user gave the VM's session, if any.
    pub session_name: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The newest telemetry sample, how long ago it arrived, and what that
    /// age means for this agent's interval.
    pub sample: Option<Sample>,
    pub sample_age_ms: Option<u64>,
    pub freshness: Option<Freshness>,
    /// The cloud's own view of the VM (Azure VMs), read when asked.
    /// (Always written: the IPC encoding has no optional fields.)
    #[serde(default)]
    pub cloud: Option<CloudView>,
}

/// What the cloud says of a VM now: it can differ from what azlin last
/// did (a VM stopped in the portal, resized with `az`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudView {
    /// `running`, `deallocated`, `stopped`, `starting`…; `missing` when
    /// the cloud has no such VM, `unknown` when it could not be asked.
    pub power: String,
    pub size: Option<String>,
    pub location: Option<String>,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Why the cloud's view is missing or partial.
    pub error: Option<String>,
}

impl VmView {
    /// What the user calls this VM: its session name, else its name.
    pub fn display_name(&self) -> &str {
        self.session_name.as_deref().unwrap_or(&self.name)
    }
}
