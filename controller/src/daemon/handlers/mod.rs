//! The daemon's answers to the CLI: one module per command (or close
//! family of commands), each implementing [`Handle`] (or [`HandleVm`] when
//! the request names a VM) for its request types from `ipc`, so the reply
//! type is the request's own. [`socket`] reads requests off `daemon.sock`;
//! [`dispatch`] hands each to its handler; a VM a request names is
//! resolved once, in [`resolve`], before its handler runs.
//!
//! Not here: the agents' connections (`daemon::agents`) and the work the
//! daemon does on its own (`daemon::jobs`).

pub mod adopt;
pub mod agent_upgrade;
pub mod alerts;
pub mod autostop;
pub mod budget;
pub mod ca;
pub mod certs;
pub mod cleanup;
pub mod clone;
pub mod cloud_view;
pub mod context;
pub mod cost;
pub mod cost_dashboard;
pub mod cost_recommend;
pub mod daemon_status;
pub mod env;
pub mod exec;
pub mod fetch;
pub mod files;
pub mod health;
pub mod home_storage;
pub mod keys;
pub mod labels;
pub mod lifecycle;
pub mod list;
pub mod new;
pub mod notice;
pub mod prices;
pub mod processes;
pub mod prune;
pub mod register;
pub mod resolve;
pub mod schedule;
pub mod selection;
pub mod snapshot;
pub mod snapshot_schedule;
pub mod socket;
pub mod ssh;
pub mod storage;
pub mod terminal;
pub mod token;

use std::{future::Future, sync::Arc};

use anyhow::{Result, anyhow};
use tokio::sync::mpsc::UnboundedSender;

use self::resolve::Resolved;
use super::Daemon;
use crate::{
    azure::context::AzureContext,
    ipc::{Call, NamesVm, Reply, Request},
    provider::Provider,
};

/// What every handler gets: the daemon, the request's Azure context, and
/// the way to tell the CLI how it goes.
#[derive(Clone)]
pub struct Ctx {
    pub d: Arc<Daemon>,
    pub azure: AzureContext,
    tx: UnboundedSender<Reply>,
}

impl Ctx {
    /// For the daemon's own work, which no CLI asked for: progress goes
    /// nowhere.
    pub fn background(d: Arc<Daemon>, azure: AzureContext) -> Ctx {
        let (tx, _) = tokio::sync::mpsc::unbounded_channel();
        Ctx { d, azure, tx }
    }

    /// A line of progress for the CLI.
    pub fn progress(&self, vm: &str, message: impl Into<String>) {
        let _ = self.tx.send(Reply::Progress {
            vm: vm.to_string(),
            message: message.into(),
        });
    }

    /// Where frames before the answer go (copy progress).
    pub fn replies(&self) -> UnboundedSender<Reply> {
        self.tx.clone()
    }

    /// The provider of a VM.
    pub fn provider(&self, vm: &Resolved) -> &dyn Provider {
        self.d.providers.get(vm.kind)
    }
}

/// A request that names no VM, answered with its own reply type.
pub trait Handle: Call {
    fn handle(self, cx: &Ctx) -> impl Future<Output = Result<Self::Reply>> + Send;
}

/// A request that names one VM: the handler gets it resolved.
pub trait HandleVm: Call + NamesVm {
    /// Whether the request also acts on a cloud VM azlin did not make
    /// (found by name where the request looks; it has no agent).
    const UNMANAGED: bool = false;

    fn handle(self, cx: &Ctx, vm: Resolved) -> impl Future<Output = Result<Self::Reply>> + Send;
}

async fn answer<C: Handle>(request: C, cx: &Ctx) -> Result<Vec<u8>> {
    let reply = request.handle(cx).await?;
    Ok(postcard::to_stdvec(&reply)?)
}

async fn answer_vm<C: HandleVm>(request: C, cx: &Ctx) -> Result<Vec<u8>> {
    let vm = if C::UNMANAGED {
        resolve::vm_or_unmanaged(cx, request.vm()).await?
    } else {
        resolve::vm(cx, request.vm())?
    };
    let reply = request.handle(cx, vm).await?;
    Ok(postcard::to_stdvec(&reply)?)
}

/// Answer one request that gets one answer; the reply (or the error, with
/// the exit status it means) goes to `tx`.
pub async fn dispatch(
    d: Arc<Daemon>,
    request: Request,
    azure: AzureContext,
    tx: UnboundedSender<Reply>,
) {
    let cx = Ctx {
        d,
        azure,
        tx: tx.clone(),
    };
    let result = match request {
        Request::DaemonStatus(r) => answer(r, &cx).await,
        Request::Shutdown(r) => answer(r, &cx).await,
        Request::Rebind(r) => answer(r, &cx).await,
        Request::List(r) => answer(r, &cx).await,
        Request::VmStatus(r) => answer_vm(r, &cx).await,
        Request::New(r) => answer(r, &cx).await,
        Request::PlanNew(r) => answer(r, &cx).await,
        Request::Adopt(r) => answer(r, &cx).await,
        Request::AgentUpgrade(r) => answer(r, &cx).await,
        Request::Cost(r) => answer(r, &cx).await,
        Request::CostHistory(r) => answer(r, &cx).await,
        Request::CostDashboard(r) => answer(r, &cx).await,
        Request::CostRecommend(r) => answer(r, &cx).await,
        Request::CostApply(r) => answer(r, &cx).await,
        Request::ScheduleSet(r) => answer_vm(r, &cx).await,
        Request::ScheduleList(r) => answer(r, &cx).await,
        Request::ScheduleClear(r) => answer_vm(r, &cx).await,
        Request::AutostopSet(r) => answer_vm(r, &cx).await,
        Request::Keepalive(r) => answer_vm(r, &cx).await,
        Request::AutostopList(r) => answer(r, &cx).await,
        Request::BudgetSet(r) => answer(r, &cx).await,
        Request::BudgetShow(r) => answer(r, &cx).await,
        Request::BudgetClear(r) => answer(r, &cx).await,
        Request::StorageCreate(r) => answer(r, &cx).await,
        Request::StorageList(r) => answer(r, &cx).await,
        Request::StorageStatus(r) => answer(r, &cx).await,
        Request::StorageDelete(r) => answer(r, &cx).await,
        Request::StorageMount(r) => answer_vm(r, &cx).await,
        Request::Start(r) => answer_vm(r, &cx).await,
        Request::Stop(r) => answer_vm(r, &cx).await,
        Request::Restart(r) => answer_vm(r, &cx).await,
        Request::Resize(r) => answer_vm(r, &cx).await,
        Request::Kill(r) => answer_vm(r, &cx).await,
        Request::DestroyPlan(r) => answer_vm(r, &cx).await,
        Request::KillAll(r) => answer(r, &cx).await,
        Request::Token(r) => answer_vm(r, &cx).await,
        Request::Processes(r) => answer_vm(r, &cx).await,
        Request::ProcessTables(r) => answer(r, &cx).await,
        Request::Tag(r) => answer_vm(r, &cx).await,
        Request::Session(r) => answer_vm(r, &cx).await,
        Request::SshTargets(r) => answer(r, &cx).await,
        Request::Alerts(r) => answer(r, &cx).await,
        Request::Push(r) => answer_vm(r, &cx).await,
        Request::Fetch(r) => answer_vm(r, &cx).await,
        Request::Sync(r) => answer(r, &cx).await,
        Request::CleanupFind(r) => answer(r, &cx).await,
        Request::ContextCheck(r) => answer(r, &cx).await,
        Request::CaRotate(r) => answer(r, &cx).await,
        Request::CaShow(r) => answer(r, &cx).await,
        Request::CaRetire(r) => answer(r, &cx).await,
        Request::CleanupDelete(r) => answer(r, &cx).await,
        Request::PruneFind(r) => answer(r, &cx).await,
        Request::PruneDelete(r) => answer(r, &cx).await,
        Request::KeysRotatePlan(r) => answer(r, &cx).await,
        Request::CertsList(r) => answer(r, &cx).await,
        Request::CertsRotate(r) => answer(r, &cx).await,
        Request::EnvChange(r) => answer(r, &cx).await,
        Request::Health(r) => answer(r, &cx).await,
        Request::Notice(r) => answer(r, &cx).await,
        Request::SnapshotCreate(r) => answer_vm(r, &cx).await,
        Request::SnapshotList(r) => answer(r, &cx).await,
        Request::SnapshotDelete(r) => answer(r, &cx).await,
        Request::SnapshotRestore(r) => answer_vm(r, &cx).await,
        Request::SnapshotScheduleSet(r) => answer_vm(r, &cx).await,
        Request::SnapshotScheduleList(r) => answer(r, &cx).await,
        Request::SnapshotScheduleClear(r) => answer(r, &cx).await,
        Request::CloneVm(r) => answer(r, &cx).await,
        // Served by the socket itself, which keeps it open both ways.
        Request::Exec(_) | Request::Connect(_) | Request::AlertsFollow => Err(anyhow!(
            "exec, connect and alerts --follow must go through a streaming session"
        )),
    };
    let reply = match result {
        Ok(bytes) => Reply::Ok(bytes),
        Err(e) => Reply::Err {
            message: format!("{e:#}"),
            exit: crate::provider::exit_code(&e),
        },
    };
    let _ = tx.send(reply);
}
