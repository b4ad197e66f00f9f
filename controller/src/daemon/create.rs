//! `azlin new` for the providers that make VMs: every VM of a pool is made
//! at once (a cloud VM takes minutes; a pool of ten should take the time
//! of one), each with its own one-time join token, then the daemon waits
//! for every agent to enroll and connect. A VM whose creation fails is
//! removed again, with whatever its provider had made; the others stay.

use std::{sync::Arc, time::Instant};

use anyhow::{Result, anyhow};
use azlin_protocol::enroll::JoinToken;
use tokio::{sync::mpsc::UnboundedSender, task::JoinSet};

use super::{
    Daemon, link,
    requests::{check_tags, list, pick_names},
};
use crate::{
    azure::access::ArmAccess,
    ipc::{NewRequest, Reply, VmView},
    provider::{AgentConnect, NotReady, Providers, VmSpec, azure::Target},
    state::{ConnectMode, NewVm, VmRow, VmState, now_unix},
};

pub(super) async fn new(
    d: &Arc<Daemon>,
    req: NewRequest,
    tx: UnboundedSender<Reply>,
) -> Result<Vec<VmView>> {
    Providers::check_creatable(&req.provider)?;
    let connect = match req.connect {
        ConnectMode::Listen => AgentConnect::Listen,
        ConnectMode::Dial => {
            let addr = d.config.daemon.listen.ok_or_else(|| {
                anyhow!("dial mode needs the daemon to listen: set [daemon] listen in config.toml")
            })?;
            AgentConnect::Dial {
                controller: addr.to_string(),
            }
        }
    };
    let names = pick_names(d, &req)?;
    check_tags(&req.tags)?;
    let started = Instant::now();
    let req = Arc::new(req);
    let mut tasks = JoinSet::new();
    // Each VM's task makes its ARM calls with the request's access.
    let arm = ArmAccess::current();
    for name in names {
        let (d, req, tx, connect) = (d.clone(), req.clone(), tx.clone(), connect.clone());
        tasks.spawn(arm.clone().scope(async move {
            let result = create_one(&d, &req, &name, connect, &tx, started).await;
            (name, result)
        }));
    }
    let mut created = Vec::new();
    let mut failed: Vec<(String, anyhow::Error)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, Ok(()))) => created.push(name),
            Ok((name, Err(e))) => failed.push((name, e)),
            Err(e) => failed.push(("?".into(), anyhow!("a VM's creation task failed: {e}"))),
        }
    }
    created.sort();
    if !failed.is_empty() {
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        let kept = if created.is_empty() {
            String::new()
        } else {
            format!(" (created and kept: {})", created.join(", "))
        };
        let others: Vec<String> = failed[1..]
            .iter()
            .map(|(n, e)| format!("\ncannot create {n}: {e:#}"))
            .collect();
        // The first error keeps its type (for the exit status); the
        // others are told in its message.
        let (name, first) = failed.swap_remove(0);
        return Err(first.context(format!("cannot create {name}{kept}{}", others.concat())));
    }
    wait_until_connected(d, &req.provider, req.pool, &created, &tx, started).await?;
    Ok(list(d)?
        .into_iter()
        .filter(|v| created.contains(&v.name))
        .collect())
}

async fn create_one(
    d: &Arc<Daemon>,
    req: &NewRequest,
    name: &str,
    connect: AgentConnect,
    tx: &UnboundedSender<Reply>,
    started: Instant,
) -> Result<()> {
    let progress = |message: String| {
        let _ = tx.send(Reply::Progress {
            vm: name.to_string(),
            message,
        });
    };
    let token = JoinToken::generate()?;
    d.db.lock().expect("db lock").add_vms(&[NewVm {
        row: VmRow {
            name: name.to_string(),
            provider: req.provider.clone(),
            state: VmState::Provisioning,
            connect_mode: req.connect,
            address: None,
            created_at: now_unix(),
            cert_serial: None,
            provider_data: "{}".into(),
        },
        tags: &req.tags,
        token_id: token.id_hex(),
        verifier: token.verifier(),
        ttl_secs: d.config.daemon.token_ttl_secs,
    }])?;
    let spec = VmSpec {
        name: name.to_string(),
        token,
        ca_pem: d.pki.ca.cert_pem().to_string(),
        connect,
        dev_tools: !req.no_dev_tools,
        session_name: d.session_name(name),
        target: Target {
            subscription: req.subscription.clone(),
            resource_group: req.resource_group.clone(),
        },
    };
    progress(format!("creating ({} provider)", req.provider));
    let stage = |what: String| {
        let _ = tx.send(Reply::Progress {
            vm: name.to_string(),
            message: what,
        });
    };
    match d.providers.create(&req.provider, &spec, &stage).await {
        Ok(p) => {
            {
                let mut db = d.db.lock().expect("db lock");
                db.set_vm_provider_data(name, &p.provider_data)?;
                if let Some(addr) = &p.address {
                    db.set_vm_address(name, addr)?;
                }
                db.set_vm_state(name, VmState::Running)?;
            }
            progress(format!(
                "{}{} ({:.1} s)",
                if req.provider == crate::provider::LOCAL {
                    "agent started"
                } else {
                    "VM created"
                },
                p.address.map(|a| format!(" at {a}")).unwrap_or_default(),
                started.elapsed().as_secs_f64()
            ));
            match req.connect {
                ConnectMode::Listen => link::spawn(d.clone(), name.to_string()),
                ConnectMode::Dial => {
                    d.fleet.track(name);
                }
            }
            Ok(())
        }
        Err(e) => {
            // Nothing half-made stays: whatever the provider got as far as
            // creating goes, and so do the row and its token.
            let row = d.db.lock().expect("db lock").vm(name)?;
            if let Some(row) = row
                && let Err(cleanup) = d.providers.delete(&row).await
                && row.provider_data != "{}"
            {
                tracing::warn!(vm = %name, "cleaning up after a failed create: {cleanup:#}");
            }
            d.db.lock().expect("db lock").remove_vm(name)?;
            Err(e)
        }
    }
}

async fn wait_until_connected(
    d: &Arc<Daemon>,
    provider: &str,
    pool: u32,
    created: &[String],
    tx: &UnboundedSender<Reply>,
    started: Instant,
) -> Result<()> {
    let ready_timeout = Providers::ready_timeout(provider, pool);
    let ready = d
        .fleet
        .wait_until(ready_timeout, |f| {
            created.iter().all(|n| f.status(n).connected)
        })
        .await;
    for name in created {
        if d.fleet.status(name).connected {
            let _ = tx.send(Reply::Progress {
                vm: name.clone(),
                message: format!(
                    "enrolled and connected ({} ms)",
                    started.elapsed().as_millis()
                ),
            });
        }
    }
    if ready {
        return Ok(());
    }
    let mut late = Vec::new();
    for n in created.iter().filter(|n| !d.fleet.status(n).connected) {
        let status = d.fleet.status(n);
        let row = d.db.lock().expect("db lock").vm(n)?;
        let tail = match &row {
            Some(row) => d.providers.log_tail(row).await,
            None => String::new(),
        };
        late.push(format!(
            "{n}: {}\n{tail}",
            status
                .last_error
                .unwrap_or_else(|| "no connection yet".into()),
        ));
    }
    Err(NotReady(format!(
        "not connected within {ready_timeout:?} (the VMs exist; `azlin list` shows when they \
         join, `azlin kill VM` removes one):\n{}",
        late.join("\n")
    ))
    .into())
}
