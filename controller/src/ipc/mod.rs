//! The CLI ↔ daemon conversation over `daemon.sock` (mode 0600): the types
//! both sides share, and the CLI's side ([`client`]). The daemon's side is
//! `daemon::handlers`; this module imports nothing from `daemon` or `cli`.
//!
//! The CLI sends one [`Envelope`] frame; the daemon answers with zero or
//! more [`Reply::Progress`] frames and one final reply. Frames are the
//! protocol crate's length-prefixed postcard frames. Each request is a
//! type of its own that names its reply type ([`Call`]), so the client
//! hands back exactly that type ([`client::Client::call`]) and nobody
//! re-checks what came back.
//!
//! [`Request::Exec`] keeps the conversation open both ways: the CLI goes on
//! sending [`azlin_protocol::exec::ExecInput`] frames (stdin, cancel), the
//! daemon sends [`Reply::ExecPlan`], then [`Reply::Exec`] frames as output
//! arrives, then [`Reply::ExecDone`]. The CLI closing the socket cancels
//! the run.
//!
//! [`Request::Connect`] works the same way for a terminal: the CLI sends
//! [`azlin_protocol::terminal::TerminalInput`] frames (keys, window sizes),
//! the daemon sends [`Reply::TerminalOpen`], [`Reply::Terminal`] frames with
//! screen bytes, then [`Reply::TerminalEnded`] when tmux exits or
//! [`Reply::TerminalLost`] when the VM could not be reached, which the
//! CLI answers by asking again. The CLI closing the socket hangs up.
//!
//! [`Request::AlertsFollow`] streams [`Reply::Alert`] frames until the CLI
//! closes the socket.
//!
//! The envelope starts with [`IPC_VERSION`] so a CLI and a daemon from
//! different builds tell each other so instead of misreading each other.

pub mod adopt;
pub mod agent_upgrade;
pub mod alerts;
pub mod autostop;
pub mod budget;
pub mod ca;
pub mod certs;
pub mod cleanup;
pub mod client;
pub mod clone;
pub mod context;
pub mod cost;
pub mod cost_dashboard;
pub mod cost_recommend;
pub mod daemon;
pub mod env;
pub mod files;
pub mod health;
pub mod keys;
pub mod labels;
pub mod lifecycle;
pub mod new;
pub mod notice;
pub mod processes;
pub mod prune;
pub mod schedule;
pub mod snapshot;
pub mod ssh;
pub mod storage;
pub mod streams;
pub mod token;
pub mod vms;

use azlin_protocol::{exec::ExecEvent, terminal::TerminalEvent};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use self::{
    alerts::AlertsView,
    files::{CopyReport, FetchDest, FetchSpec, PushSpec, SyncResult},
    new::JoinInfo,
    processes::ProcessTable,
    ssh::{SshEndpoint, SshTarget},
    streams::{ConnectSpec, ExecSpec},
    vms::{CloudView, VmView},
};
use crate::{alerts::record::AlertRecord, azure::context::AzureContext};

/// Frame a reply for the socket.
pub fn encode_reply(reply: &Reply) -> anyhow::Result<Vec<u8>> {
    let payload = postcard::to_stdvec(reply)?;
    Ok(azlin_protocol::frame::encode(&payload, MAX_IPC_FRAME)?)
}

/// Bumped whenever a type of this module changes shape.
pub const IPC_VERSION: u32 = 19;
/// Largest IPC frame (fleet listings grow with the fleet).
pub const MAX_IPC_FRAME: usize = 16 * 1024 * 1024;

/// A request that gets one answer, of type `Reply`.
pub trait Call: Serialize + DeserializeOwned + Into<Request> {
    type Reply: Serialize + DeserializeOwned;
}

/// A request that names one VM (by name or session name), which the
/// daemon resolves once before handling it.
pub trait NamesVm {
    fn vm(&self) -> &str;
}

/// The reply of requests that only report what they did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Done {
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub version: u32,
    pub request: Request,
    /// The CLI's ARM access and `--subscription` / `--resource-group`
    /// (see `azure::context`).
    pub azure: AzureContext,
}

macro_rules! requests {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// Every request, as it crosses the socket.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        pub enum Request {
            $($variant($ty),)*
            /// Run a command on the chosen VMs (see the module docs).
            Exec(ExecSpec),
            /// Open a terminal on a VM (see the module docs).
            Connect(ConnectSpec),
            /// Every alert event from now on, as [`Reply::Alert`] frames.
            AlertsFollow,
        }

        $(impl From<$ty> for Request {
            fn from(r: $ty) -> Request {
                Request::$variant(r)
            }
        })*
    };
}

requests! {
    DaemonStatus(daemon::DaemonStatus),
    Shutdown(daemon::Shutdown),
    Rebind(daemon::Rebind),
    List(vms::List),
    VmStatus(vms::VmStatus),
    New(new::New),
    PlanNew(new::PlanNew),
    Adopt(adopt::Adopt),
    AgentUpgrade(agent_upgrade::AgentUpgrade),
    Cost(cost::Cost),
    CostHistory(cost::CostHistory),
    CostDashboard(cost_dashboard::CostDashboard),
    CostRecommend(cost_recommend::CostRecommend),
    CostApply(cost_recommend::CostApply),
    ScheduleSet(schedule::ScheduleSet),
    ScheduleList(schedule::ScheduleList),
    ScheduleClear(schedule::ScheduleClear),
    AutostopSet(autostop::AutostopSet),
    Keepalive(autostop::Keepalive),
    AutostopList(autostop::AutostopList),
    BudgetSet(budget::BudgetSet),
    BudgetShow(budget::BudgetShow),
    BudgetClear(budget::BudgetClear),
    StorageCreate(storage::StorageCreate),
    StorageList(storage::StorageList),
    StorageStatus(storage::StorageStatus),
    StorageDelete(storage::StorageDelete),
    StorageMount(storage::StorageMount),
    Start(lifecycle::Start),
    Stop(lifecycle::Stop),
    Restart(lifecycle::Restart),
    Resize(lifecycle::Resize),
    Kill(lifecycle::Kill),
    DestroyPlan(lifecycle::DestroyPlan),
    KillAll(lifecycle::KillAll),
    Token(token::Token),
    Processes(processes::Processes),
    ProcessTables(processes::ProcessTables),
    Tag(labels::Tag),
    Session(labels::Session),
    SshTargets(ssh::SshTargets),
    Alerts(alerts::Alerts),
    Push(files::Push),
    Fetch(files::Fetch),
    Sync(files::Sync),
    SnapshotCreate(snapshot::SnapshotCreate),
    SnapshotList(snapshot::SnapshotList),
    SnapshotDelete(snapshot::SnapshotDelete),
    SnapshotRestore(snapshot::SnapshotRestore),
    SnapshotScheduleSet(snapshot::SnapshotScheduleSet),
    SnapshotScheduleList(snapshot::SnapshotScheduleList),
    SnapshotScheduleClear(snapshot::SnapshotScheduleClear),
    CloneVm(clone::CloneVm),
    CleanupFind(cleanup::CleanupFind),
    CleanupDelete(cleanup::CleanupDelete),
    PruneFind(prune::PruneFind),
    PruneDelete(prune::PruneDelete),
    KeysRotatePlan(keys::KeysRotatePlan),
    CertsList(certs::CertsList),
    CertsRotate(certs::CertsRotate),
    EnvChange(env::EnvChange),
    Health(health::Health),
    Notice(notice::Notice),
    ContextCheck(context::ContextCheck),
    CaRotate(ca::CaRotate),
    CaShow(ca::CaShow),
    CaRetire(ca::CaRetire),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// A line of progress for the user.
    Progress { vm: String, message: String },
    /// The answer: the postcard encoding of the request's
    /// [`Call::Reply`].
    Ok(Vec<u8>),
    Err {
        message: String,
        /// The exit status the CLI should end with (default 1).
        exit: Option<u8>,
    },
    /// The VMs an exec runs on; later frames index it.
    ExecPlan { vms: Vec<VmName> },
    /// Output from, or the end of, the command on `vms[vm]`.
    Exec { vm: u32, event: ExecEvent },
    /// Every VM of an exec has reported how it ended.
    ExecDone,
    /// The terminal is open on `vm` (display name).
    TerminalOpen { vm: String, tmux: String },
    /// Screen bytes from the terminal.
    Terminal(TerminalEvent),
    /// tmux exited: the user detached or ended the session.
    TerminalEnded { exit_code: i32 },
    /// The VM is not reachable now (offline, or the connection dropped);
    /// the tmux session is still there for the next attempt.
    TerminalLost { reason: String },
    /// How far a copy to `vm` has got (bytes already there count as done).
    CopyProgress { vm: String, done: u64, total: u64 },
    /// An alert event, as it is stored (`alerts --follow`).
    Alert {
        record: AlertRecord,
        display: String,
    },
}

/// A VM as commands name it: its name, and the session name the user gave
/// it. Machine output carries both (`vm`, `session_name`); people see
/// [`VmName::labelled`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmName {
    pub vm: String,
    pub session_name: Option<String>,
}

impl VmName {
    /// `main (dev-1)`, or `dev-1` without a session name: the same in
    /// every command's human output.
    pub fn labelled(&self) -> String {
        match &self.session_name {
            Some(s) => format!("{s} ({})", self.vm),
            None => self.vm.clone(),
        }
    }
}
