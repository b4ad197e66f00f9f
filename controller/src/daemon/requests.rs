//! What the daemon does for each CLI request.

use std::{collections::BTreeMap, sync::Arc};

use anyhow::{Context, Result, anyhow, bail};
use azlin_protocol::{
    enroll::JoinToken,
    pki,
    stream::{ProcessSort, Query, QueryReply, check_processes},
};
use tokio::sync::mpsc::UnboundedSender;

use super::{
    Daemon, azure_scope, link, query,
    register::{self, EXTERNAL},
};
use crate::{
    azure::access::ArmAccess,
    ipc::{DaemonInfo, NewRequest, Reply, Request, Response, VmView},
    provider::azure::Target,
    state::{ConnectMode, VmRow, VmState, tags},
    telemetry::live::freshness,
};

/// Largest `--pool` of agent processes on this machine.
const MAX_POOL: u32 = 100;
/// Largest `--pool` of registered machines (they cost only rows here).
const MAX_EXTERNAL_POOL: u32 = 10_000;

pub async fn handle(d: Arc<Daemon>, request: Request, scope: Target, tx: UnboundedSender<Reply>) {
    let progress = |vm: &str, message: String| {
        let _ = tx.send(Reply::Progress {
            vm: vm.to_string(),
            message,
        });
    };
    let in_scope = |request: Request| -> Result<Request> {
        if let Some(name) = azure_scope::named_vm(&request) {
            azure_scope::check(&scope, &row_named(&d, name)?)?;
        }
        Ok(request)
    };
    let request = match canonical_names(&d, request).and_then(in_scope) {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Reply::Err {
                message: format!("{e:#}"),
                exit: None,
            });
            return;
        }
    };
    let result = match request {
        Request::DaemonStatus => Ok(Response::Daemon(daemon_info(&d))),
        // The IPC server stops the daemon once this answer is written.
        Request::Shutdown => Ok(Response::Done {
            message: "daemon stopping".into(),
        }),
        Request::List => list(&d).map(Response::Vms),
        Request::ListWithCloud => match list_in(&d, &scope) {
            Ok(mut vms) => {
                super::cloud_view::merge(&d, &mut vms).await;
                Ok(Response::Vms(vms))
            }
            Err(e) => Err(e),
        },
        Request::VmStatus { name } => match view_named(&d, &name) {
            Ok(v) => {
                let mut one = [v];
                super::cloud_view::merge(&d, &mut one).await;
                let [v] = one;
                Ok(Response::Vm(Box::new(v)))
            }
            Err(e) => Err(e),
        },
        Request::New(req) if req.provider == EXTERNAL => {
            check_tags(&req.tags).and_then(|()| register::register(&d, &req))
        }
        Request::New(req) => super::create::new(&d, req, tx.clone())
            .await
            .map(Response::Vms),
        Request::Start { name } => start(&d, &name).await,
        Request::Stop {
            name,
            keep_allocated,
        } => stop(&d, &name, keep_allocated).await,
        Request::Kill { name } => kill(&d, &name).await,
        Request::DestroyPlan { name } => destroy_plan(&d, &name),
        Request::Restart { name } => restart(&d, &name).await,
        Request::Resize { name, size } => resize(&d, &name, &size).await,
        Request::KillAll => kill_all(&d, &scope, &progress).await,
        Request::Token { name, ttl_secs } => token(&d, &name, ttl_secs),
        Request::Processes { name, sort, limit } => processes(&d, &name, sort, limit).await,
        Request::ProcessTables {
            selector,
            sort,
            limit,
        } => query::process_tables(&d, &selector, sort, limit).await,
        Request::Tag { name, set, remove } => tag(&d, &name, &set, &remove).await,
        Request::Session { name, session: s } => session(&d, &name, s.as_deref()),
        // Served by the IPC server itself, which keeps the socket open both ways.
        Request::Exec(_) | Request::Connect(_) | Request::AlertsFollow => Err(anyhow!(
            "exec, connect and alerts --follow must go through a streaming session"
        )),
        Request::Push(spec) => push(&d, spec, tx.clone()).await,
        Request::Fetch(spec) => fetch(&d, spec).await,
        Request::Sync {
            selector,
            plan,
            requested_by,
        } => super::files::sync(&d, &selector, plan, requested_by)
            .await
            .map(Response::Synced),
        Request::Alerts { history } => super::alerts::view(&d, history).map(Response::Alerts),
        Request::Rebind => rebind(&d),
        Request::SshTargets { selector } => query::ssh_targets(&d, &selector).await,
    };
    let reply = match result {
        Ok(r) => Reply::Ok(r),
        Err(e) => Reply::Err {
            message: format!("{e:#}"),
            exit: crate::provider::exit_code(&e),
        },
    };
    let _ = tx.send(reply);
}

fn daemon_info(d: &Daemon) -> DaemonInfo {
    let (vms, certificates_issued) = {
        let db = d.db.lock().expect("db lock");
        (
            db.vms().map(|v| v.len()).unwrap_or(0),
            db.cert_count().unwrap_or(0),
        )
    };
    DaemonInfo {
        pid: std::process::id(),
        version: azlin_protocol::SOFTWARE_VERSION.to_string(),
        started_at: d.started_at,
        home: d.home.root().display().to_string(),
        vms,
        connected: d.fleet.connected_count(),
        listen: d.config.daemon.listen.map(|a| a.to_string()),
        certificates_issued,
    }
}

pub(super) fn view(d: &Daemon, row: &VmRow, tags: BTreeMap<String, String>) -> VmView {
    let link = d.fleet.status(&row.name);
    let state = d.state_of(row);
    let latest = d.live.latest(&row.name);
    VmView {
        session_name: d.session_name(&row.name),
        tags,
        sample_age_ms: latest.as_ref().map(|l| l.age().as_millis() as u64),
        freshness: latest
            .as_ref()
            .map(|l| freshness(l.age(), l.interval(), link.connected)),
        sample: latest.map(|l| l.sample),
        name: row.name.clone(),
        provider: row.provider.clone(),
        state,
        connect_mode: row.connect_mode,
        connected: link.connected,
        address: row.address.clone().or(link.remote),
        enrolled: row.cert_serial.is_some(),
        agent_version: link.agent_version,
        agent_started_at: link.agent_started_at,
        connected_since: link.connected_since.filter(|_| link.connected),
        reconnects: link.reconnects,
        last_error: link.last_error,
        created_at: row.created_at,
        cloud: None,
    }
}

pub(super) fn list(d: &Daemon) -> Result<Vec<VmView>> {
    list_in(d, &Target::default())
}

/// The VMs in `scope` (see [`azure_scope`]).
fn list_in(d: &Daemon, scope: &Target) -> Result<Vec<VmView>> {
    let (rows, mut tags) = {
        let db = d.db.lock().expect("db lock");
        (db.vms()?, db.all_tags()?)
    };
    Ok(rows
        .iter()
        .filter(|r| azure_scope::holds(scope, r))
        .map(|r| view(d, r, tags.remove(&r.name).unwrap_or_default()))
        .collect())
}

/// Every command takes a session name wherever it takes a VM name: turn
/// them into VM names before anything else looks at the request.
fn canonical_names(d: &Daemon, request: Request) -> Result<Request> {
    Ok(match request {
        Request::VmStatus { name } => Request::VmStatus {
            name: vm_name(d, &name)?,
        },
        Request::Start { name } => Request::Start {
            name: vm_name(d, &name)?,
        },
        Request::Stop {
            name,
            keep_allocated,
        } => Request::Stop {
            name: vm_name(d, &name)?,
            keep_allocated,
        },
        Request::Kill { name } => Request::Kill {
            name: vm_name(d, &name)?,
        },
        Request::DestroyPlan { name } => Request::DestroyPlan {
            name: vm_name(d, &name)?,
        },
        Request::Restart { name } => Request::Restart {
            name: vm_name(d, &name)?,
        },
        Request::Resize { name, size } => Request::Resize {
            name: vm_name(d, &name)?,
            size,
        },
        Request::Token { name, ttl_secs } => Request::Token {
            name: vm_name(d, &name)?,
            ttl_secs,
        },
        Request::Processes { name, sort, limit } => Request::Processes {
            name: vm_name(d, &name)?,
            sort,
            limit,
        },
        Request::Tag { name, set, remove } => Request::Tag {
            name: vm_name(d, &name)?,
            set,
            remove,
        },
        Request::Session { name, session } => Request::Session {
            name: vm_name(d, &name)?,
            session,
        },
        other => other,
    })
}

/// The VM that `name` means: a VM name, or a session name the user gave
/// one. An unknown name is an error listing the closest known ones.
pub(super) fn vm_name(d: &Daemon, name: &str) -> Result<String> {
    row_named(d, name).map(|row| row.name)
}

/// The row of the VM that `name` means (see [`vm_name`]).
pub(super) fn row_named(d: &Daemon, name: &str) -> Result<VmRow> {
    let db = d.db.lock().expect("db lock");
    if let Some(row) = db.vm(name)? {
        return Ok(row);
    }
    if let Some(vm) = d.vm_for_session(name)
        && let Some(row) = db.vm(&vm)?
    {
        return Ok(row);
    }
    let mut names: Vec<String> = db.vms()?.into_iter().map(|v| v.name).collect();
    names.extend(
        d.session_names
            .read()
            .expect("session names lock")
            .values()
            .cloned(),
    );
    let close = crate::names::closest(name, &names);
    if close.is_empty() {
        bail!("no VM or session named {name:?}; `azlin list` shows the fleet");
    }
    bail!(
        "no VM or session named {name:?}; did you mean {}?",
        close.join(", ")
    )
}

/// Move every QUIC connection to a fresh local UDP socket. The agents see
/// the daemon's address change and QUIC migrates each connection, so open
/// terminals and commands carry on without a reconnect.
fn rebind(d: &Daemon) -> Result<Response> {
    if let Some(listen) = d.config.daemon.listen {
        bail!(
            "this daemon listens on {listen} for agents that dial in, and they would lose it; \
             rebinding is for a daemon that only dials (no [daemon] listen)"
        );
    }
    let old = d.endpoint.local_addr().context("the daemon's socket")?;
    let socket = std::net::UdpSocket::bind(std::net::SocketAddr::new(old.ip(), 0))
        .context("cannot open a new UDP socket")?;
    d.endpoint
        .rebind(socket)
        .context("cannot move to the new socket")?;
    let new = d.endpoint.local_addr().context("the daemon's new socket")?;
    tracing::info!(%old, %new, "rebound the fleet's connections");
    Ok(Response::Done {
        message: format!(
            "moved {} connection(s) from UDP {old} to {new}",
            d.fleet.connected_count()
        ),
    })
}

/// Give `vm` a session name, or clear it; stored in `config.toml`.
fn session(d: &Daemon, vm: &str, session: Option<&str>) -> Result<Response> {
    if let Some(s) = session {
        crate::config::check_session_label(s)?;
        if s != vm && d.db.lock().expect("db lock").vm(s)?.is_some() {
            bail!("{s:?} is already the name of a VM; pick another session name");
        }
        if let Some(other) = d.vm_for_session(s).filter(|o| o != vm) {
            bail!(
                "{s:?} is already the session name of {other}; clear it there first (`azlin session {other} --clear`)"
            );
        }
    }
    let names = crate::config::Config::write_session_name(&d.home.config_file(), vm, session)?;
    *d.session_names.write().expect("session names lock") = names;
    d.alerts.retarget();
    let message = match session {
        Some(s) => format!("{vm} is now also called {s}"),
        None => format!("{vm} has no session name now"),
    };
    Ok(Response::Done { message })
}

fn view_named(d: &Daemon, name: &str) -> Result<VmView> {
    let row = row_named(d, name)?;
    let tags = d.db.lock().expect("db lock").tags(name)?;
    Ok(view(d, &row, tags))
}

async fn tag(
    d: &Daemon,
    name: &str,
    set: &[(String, String)],
    remove: &[String],
) -> Result<Response> {
    let row = row_named(d, name)?;
    check_tags(set)?;
    for key in remove {
        tags::check_key(key)?;
    }
    // The cloud first: if it refuses, nothing changes here either.
    d.providers.set_tags(&row, set, remove).await?;
    d.db.lock()
        .expect("db lock")
        .update_tags(name, set, remove)?;
    d.alerts.retarget();
    view_named(d, name).map(|v| Response::Vm(Box::new(v)))
}

pub(super) fn check_tags(set: &[(String, String)]) -> Result<()> {
    for (k, v) in set {
        tags::parse_tag(&format!("{k}={v}"))?;
    }
    Ok(())
}

pub(super) fn pick_names(d: &Daemon, req: &NewRequest) -> Result<Vec<String>> {
    let max = if req.provider == EXTERNAL {
        MAX_EXTERNAL_POOL
    } else {
        MAX_POOL
    };
    if req.pool == 0 || req.pool > max {
        bail!(
            "--pool must be between 1 and {max} for provider {}",
            req.provider
        );
    }
    let base = match &req.name {
        Some(n) => n.clone(),
        None => {
            let token = JoinToken::generate()?.id_hex();
            format!("azlin-{}", &token[..6])
        }
    };
    let names: Vec<String> = if req.pool == 1 {
        vec![base]
    } else {
        (1..=req.pool).map(|i| format!("{base}-{i}")).collect()
    };
    let db = d.db.lock().expect("db lock");
    for n in &names {
        pki::check_vm_name(n)?;
        if db.vm(n)?.is_some() {
            bail!("a VM named {n} already exists");
        }
        if let Some(vm) = d.vm_for_session(n) {
            bail!("{n} is the session name of {vm}; pick another VM name");
        }
    }
    Ok(names)
}

async fn start(d: &Arc<Daemon>, name: &str) -> Result<Response> {
    let row = row_named(d, name)?;
    let started = d.providers.start(&row).await?;
    running_again(d, &row, &started)?;
    Ok(Response::Done {
        message: format!("{name} started"),
    })
}

/// Record a VM its provider started (again) and have the daemon reach it.
fn running_again(d: &Arc<Daemon>, row: &VmRow, started: &crate::provider::Started) -> Result<()> {
    let name = row.name.as_str();
    {
        let mut db = d.db.lock().expect("db lock");
        db.set_vm_provider_data(name, &started.provider_data)?;
        if let Some(address) = &started.address {
            db.set_vm_address(name, address)?;
        }
        db.set_vm_state(name, VmState::Running)?;
    }
    if row.connect_mode == ConnectMode::Listen && row.state != VmState::Running {
        link::spawn(d.clone(), name.to_string());
    } else {
        d.fleet.track(name);
    }
    Ok(())
}

async fn stop(d: &Arc<Daemon>, name: &str, keep_allocated: bool) -> Result<Response> {
    let row = row_named(d, name)?;
    d.db.lock()
        .expect("db lock")
        .set_vm_state(name, VmState::Stopped)?;
    // Keep the VM tracked (it is still in the fleet) but stop dialling it.
    d.fleet.untrack(name, "VM stopped");
    d.fleet.track(name);
    d.providers.stop(&row, keep_allocated).await?;
    Ok(Response::Done {
        message: format!("{name} stopped"),
    })
}

async fn kill(d: &Arc<Daemon>, name: &str) -> Result<Response> {
    let row = row_named(d, name)?;
    d.fleet.untrack(name, "VM deleted");
    d.providers
        .delete(&row)
        .await
        .with_context(|| format!("cannot delete {name}"))?;
    d.db.lock().expect("db lock").remove_vm(name)?;
    d.live.forget(name);
    if d.session_name(name).is_some() {
        // The name goes with the VM, so a new VM may take it.
        match crate::config::Config::write_session_name(&d.home.config_file(), name, None) {
            Ok(names) => *d.session_names.write().expect("session names lock") = names,
            Err(e) => tracing::warn!(vm = %name, "cannot clear its session name: {e:#}"),
        }
    }
    tracing::info!(vm = %name, "VM deleted and its certificate revoked");
    Ok(Response::Done {
        message: format!("{name} deleted; its certificate is revoked"),
    })
}

fn destroy_plan(d: &Daemon, name: &str) -> Result<Response> {
    let row = row_named(d, name)?;
    let items = d.providers.deletions(&row)?;
    Ok(Response::Done {
        message: format!(
            "azlin destroy {name} would delete ({} provider):\n{}\nand revoke its certificate",
            row.provider,
            items
                .iter()
                .map(|i| format!("  {i}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    })
}

async fn restart(d: &Arc<Daemon>, name: &str) -> Result<Response> {
    let row = row_named(d, name)?;
    let started = d.providers.restart(&row).await?;
    running_again(d, &row, &started)?;
    Ok(Response::Done {
        message: format!("{name} restarted"),
    })
}

async fn resize(d: &Arc<Daemon>, name: &str, size: &str) -> Result<Response> {
    let row = row_named(d, name)?;
    let data = d.providers.resize(&row, size).await?;
    d.db.lock()
        .expect("db lock")
        .set_vm_provider_data(name, &data)?;
    Ok(Response::Done {
        message: format!("{name} is now {size}"),
    })
}

/// Delete the VMs in `scope`, all at once (the ARM client paces the
/// writes); every VM is tried, and the failures are reported together.
async fn kill_all(
    d: &Arc<Daemon>,
    scope: &Target,
    progress: &impl Fn(&str, String),
) -> Result<Response> {
    let rows = d.db.lock().expect("db lock").vms()?;
    let mut kills = tokio::task::JoinSet::new();
    let arm = ArmAccess::current();
    for row in rows.into_iter().filter(|r| azure_scope::holds(scope, r)) {
        let d = d.clone();
        kills.spawn(arm.clone().scope(async move {
            let result = kill(&d, &row.name).await;
            (row.name, result)
        }));
    }
    let (mut deleted, mut failed) = (0, Vec::new());
    while let Some(joined) = kills.join_next().await {
        match joined {
            Ok((name, Ok(_))) => {
                deleted += 1;
                progress(&name, "deleted".into());
            }
            Ok((name, Err(e))) => failed.push(format!("{name}: {e:#}")),
            Err(e) => failed.push(format!("a deletion task failed: {e}")),
        }
    }
    if !failed.is_empty() {
        bail!(
            "{deleted} VM(s) deleted, {} not (rerun killall to finish):\n{}",
            failed.len(),
            failed.join("\n")
        );
    }
    Ok(Response::Done {
        message: format!("{deleted} VM(s) deleted"),
    })
}

/// A fresh one-time token for an existing VM, for an agent that lost its
/// key. The VM's current certificate stays valid until the new one replaces
/// it at enrollment.
fn token(d: &Daemon, name: &str, ttl_secs: Option<u64>) -> Result<Response> {
    row_named(d, name)?;
    let ttl = ttl_secs.unwrap_or(d.config.daemon.token_ttl_secs);
    if ttl == 0 {
        bail!("--ttl must be at least 1 second");
    }
    let token = JoinToken::generate()?;
    d.db.lock()
        .expect("db lock")
        .insert_token(&token.id_hex(), name, &token.verifier(), ttl)?;
    Ok(Response::Token {
        token: token.to_string(),
    })
}

async fn processes(d: &Daemon, name: &str, sort: ProcessSort, limit: u32) -> Result<Response> {
    row_named(d, name)?;
    match query::ask(d, name, Query::Processes { sort, limit }).await? {
        QueryReply::Processes(list) => Ok(Response::Processes {
            vm: name.to_string(),
            list: check_processes(list, limit),
        }),
        QueryReply::Error { reason } => bail!("{name} could not list its processes: {reason}"),
        _ => bail!("{name} answered another question than the one asked"),
    }
}

async fn push(
    d: &Daemon,
    mut spec: super::files::PushSpec,
    tx: UnboundedSender<Reply>,
) -> Result<Response> {
    spec.vm = vm_name(d, &spec.vm)?;
    super::files::push(d, spec, Some(tx))
        .await
        .map(Response::Copied)
}

async fn fetch(d: &Daemon, mut spec: super::fetch::FetchSpec) -> Result<Response> {
    spec.vm = vm_name(d, &spec.vm)?;
    if let super::fetch::FetchDest::Vm { vm, .. } = &mut spec.dest {
        *vm = vm_name(d, vm)?;
    }
    super::fetch::fetch(d, spec).await.map(Response::Copied)
}
