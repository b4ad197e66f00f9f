//! The CLI ↔ daemon conversation over `daemon.sock` (mode 0600): the CLI
//! sends one [`Envelope`] frame; the daemon answers with zero or more
//! [`Reply::Progress`] frames and one final reply. Frames are the protocol
//! crate's length-prefixed postcard frames.
//!
//! The envelope starts with [`IPC_VERSION`] so a CLI and a daemon from
//! different builds tell each other so instead of misreading each other.

pub mod client;
pub mod server;

use azlin_protocol::{
    stream::{ProcessInfo, ProcessSort},
    telemetry::Sample,
};
use serde::{Deserialize, Serialize};

use crate::{
    state::{ConnectMode, VmState},
    telemetry::live::Freshness,
};

/// Frame a reply for the socket.
pub fn encode_reply(reply: &Reply) -> anyhow::Result<Vec<u8>> {
    let payload = postcard::to_stdvec(reply)?;
    Ok(azlin_protocol::frame::encode(&payload, MAX_IPC_FRAME)?)
}

/// Bumped whenever a type below changes shape.
pub const IPC_VERSION: u32 = 2;
/// Largest IPC frame (fleet listings grow with the fleet).
pub const MAX_IPC_FRAME: usize = 16 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub version: u32,
    pub request: Request,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    DaemonStatus,
    Shutdown,
    List,
    VmStatus {
        name: String,
    },
    New(NewRequest),
    Start {
        name: String,
    },
    Stop {
        name: String,
    },
    Kill {
        name: String,
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewRequest {
    pub provider: String,
    pub name: Option<String>,
    pub pool: u32,
    pub connect: ConnectMode,
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
    /// Machines registered for their own agents to dial in and enroll.
    Joined {
        controller: String,
        ca_pem: String,
        vms: Vec<JoinInfo>,
    },
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
    /// The newest telemetry sample, how long ago it arrived, and what that
    /// age means for this agent's interval.
    pub sample: Option<Sample>,
    pub sample_age_ms: Option<u64>,
    pub freshness: Option<Freshness>,
}

impl VmView {
    /// What the user calls this VM: its session name, else its name.
    pub fn display_name(&self) -> &str {
        self.session_name.as_deref().unwrap_or(&self.name)
    }
}
