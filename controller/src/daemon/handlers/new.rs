//! `azlin new`: the provider's capabilities are checked first (nothing is
//! made for a flag it lacks); machines the user runs are registered
//! ([`super::register`]). For the providers that make VMs, every VM of a
//! pool is made at once (a cloud VM takes minutes; a pool of ten should take the time
//! of one), each with its own one-time join token, then the daemon waits
//! for every agent to enroll and connect. A VM whose creation fails is
//! removed again, with whatever its provider had made; the others stay.
//! A home on shared storage (`--nfs-storage`) is checked before anything
//! is made and reported after ([`super::home_storage`]).

use std::{sync::Arc, time::Instant};

use anyhow::{Result, anyhow, bail};
use azlin_protocol::{enroll::JoinToken, pki};
use tokio::task::JoinSet;

use super::{Ctx, Handle, home_storage, labels::check_tags, list::list_in, prices};
use crate::{
    azure::context::Target,
    daemon::{Daemon, agents::link},
    ipc::new::{New, NewPlan, NewReply, PlanNew},
    provider::{AgentConnect, NewStyle, NotReady, Operation, Provider, Provisioned, VmSpec},
    state::{ConnectMode, NewVm, VmRow, VmState, now_unix},
};

impl Handle for New {
    async fn handle(self, cx: &Ctx) -> Result<NewReply> {
        let provider = cx.d.providers.of(&self.provider)?;
        let op = Operation::New {
            pool: self.pool,
            dial: self.connect == ConnectMode::Dial,
            no_dev_tools: self.no_dev_tools,
            nfs_storage: self.nfs_storage.is_some(),
            cloud_init_extra: self.cloud_init_extra.is_some(),
            target: &cx.azure.target,
            machine: &self.machine,
        };
        cx.d.providers.require(provider, &op)?;
        check_tags(&self.tags)?;
        match provider.capabilities().new {
            NewStyle::Register => super::register::register(&cx.d, &self),
            NewStyle::Provision => {
                // The size, region and quotas again: the plan the CLI showed
                // may be minutes old, and nothing is made if they fail now.
                provider.plan(&self.machine, self.pool, &cx.azure).await?;
                // The home's storage too, before anything is made.
                let Some((name, share)) = home_storage::prepare(cx, provider, &self).await? else {
                    return create(cx, provider, self, None, None)
                        .await
                        .map(NewReply::Created);
                };
                let made = create(cx, provider, self, Some(&share.export), None).await;
                match &made {
                    Ok(vms) => {
                        let names: Vec<String> = vms.iter().map(|v| v.name.clone()).collect();
                        home_storage::settle(cx, provider, &name, &share, &names).await?;
                    }
                    Err(_) => home_storage::restore(cx, provider, &name, &share, false).await?,
                }
                made.map(NewReply::Created)
            }
        }
    }
}

impl Handle for PlanNew {
    async fn handle(self, cx: &Ctx) -> Result<NewPlan> {
        let provider = cx.d.providers.of(&self.provider)?;
        let op = Operation::New {
            pool: self.pool,
            dial: false,
            no_dev_tools: false,
            nfs_storage: false,
            cloud_init_extra: false,
            target: &cx.azure.target,
            machine: &self.machine,
        };
        cx.d.providers.require(provider, &op)?;
        let Some(choice) = provider.plan(&self.machine, self.pool, &cx.azure).await? else {
            return Ok(NewPlan::default());
        };
        let price = prices::per_hour(&cx.d, &cx.azure.access, &choice.region, &choice.size).await;
        Ok(NewPlan {
            machine: format!("{} in {}", choice.size, choice.region),
            no_price: price.as_ref().err().cloned(),
            price: price.ok(),
        })
    }
}

/// The names of a new pool: `NAME`, or `NAME-1` … `NAME-N`; a random
/// `azlin-xxxxxx` without a name. Each comes as (fleet name, cloud name):
/// the same, unless a VM in another place has that fleet name, when the
/// fleet name is `NAME--XXXXXX` (`crate::vm_key`). `place` is where the
/// new VMs go, as their provider keys it (`None`: a provider without
/// places). A name taken in the same place (or where either place is
/// unknown) is refused: a cloud would update that VM, not make one.
pub fn pick_names(d: &Daemon, req: &New, place: Option<&str>) -> Result<Vec<(String, String)>> {
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
    names
        .into_iter()
        .map(|n| Ok((fleet_name(d, &n, place)?, n)))
        .collect()
}

/// The fleet name a new VM named `name` in `place` gets (see
/// [`pick_names`]), or why it cannot be made.
pub fn fleet_name(d: &Daemon, name: &str, place: Option<&str>) -> Result<String> {
    pki::check_vm_name(name)?;
    let db = d.db.lock().expect("db lock");
    for row in db.vms()? {
        if row.name != name && super::resolve::cloud_name(d, &row) != name {
            continue;
        }
        let theirs = d
            .providers
            .of(&row.provider)
            .ok()
            .and_then(|p| p.place_key(&row));
        let elsewhere = matches!((place, theirs.as_deref()), (Some(p), Some(t)) if p != t);
        if !elsewhere {
            if row.name == name {
                bail!("a VM named {name} already exists");
            }
            bail!("a VM named {name} already exists there (as {})", row.name);
        }
    }
    let key = match (db.vm(name)?, place) {
        (None, _) => name.to_string(),
        (Some(_), Some(p)) => crate::vm_key::qualified(name, p),
        (Some(_), None) => bail!("a VM named {name} already exists"),
    };
    if key != name && db.vm(&key)?.is_some() {
        bail!("a VM named {key} already exists");
    }
    for n in [name, key.as_str()] {
        if let Some(vm) = d.vm_for_session(n) {
            bail!("{n} is the session name of {vm}; pick another VM name");
        }
    }
    Ok(key)
}

/// Make `req`'s VMs (homes on `shared_home`, made from `source` when
/// they are clones), wait until every one has joined, and show them.
pub(super) async fn create(
    cx: &Ctx,
    provider: &dyn Provider,
    req: New,
    shared_home: Option<&str>,
    source: Option<&str>,
) -> Result<Vec<crate::ipc::VmView>> {
    let d = &cx.d;
    let connect = match req.connect {
        ConnectMode::Listen => AgentConnect::Listen,
        ConnectMode::Dial => {
            let addr = d.listening.ok_or_else(|| {
                anyhow!("dial mode needs the daemon to listen: set [daemon] listen in config.toml")
            })?;
            AgentConnect::Dial {
                controller: addr.to_string(),
            }
        }
    };
    let place = provider.new_place_key(&cx.azure).await?;
    let names = pick_names(d, &req, place.as_deref())?;
    let started = Instant::now();
    let req = Arc::new(req);
    let mut tasks = JoinSet::new();
    let kind = provider.kind();
    for (name, cloud_name) in names {
        let (cx, req, connect) = (cx.clone(), req.clone(), connect.clone());
        let shared_home = shared_home.map(str::to_string);
        let source = source.map(str::to_string);
        tasks.spawn(async move {
            let provider = cx.d.providers.get(kind);
            let made = Made {
                shared_home,
                source,
                started,
                cloud_name,
            };
            let result = create_one(&cx, provider, &req, &name, connect, made).await;
            (name, result)
        });
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
    wait_until_connected(
        cx,
        provider,
        req.pool,
        &created,
        started,
        "enrolled and connected",
    )
    .await?;
    Ok(list_in(d, &Target::default())?
        .into_iter()
        .filter(|v| created.contains(&v.name))
        .collect())
}

/// How one VM of a `new` (or a clone) is made, beside the request.
struct Made {
    shared_home: Option<String>,
    source: Option<String>,
    started: Instant,
    /// The VM's name in its cloud (its fleet name may be qualified).
    cloud_name: String,
}

async fn create_one(
    cx: &Ctx,
    provider: &dyn Provider,
    req: &New,
    name: &str,
    connect: AgentConnect,
    made: Made,
) -> Result<()> {
    let Made {
        shared_home,
        source,
        started,
        cloud_name,
    } = made;
    let d = &cx.d;
    let progress = |message: String| cx.progress(name, message);
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
        verifier: token.verifier().to_stored(),
        ttl_secs: d.config().daemon.token_ttl_secs,
    }])?;
    let spec = VmSpec {
        name: name.to_string(),
        cloud_name,
        token,
        ca_pem: d.pki().ca.cert_pem().to_string(),
        connect,
        dev_tools: !req.no_dev_tools,
        session_name: d.session_name(name),
        machine: req.machine.clone(),
        shared_home,
        source,
        cloud_init_extra: req.cloud_init_extra.clone(),
    };
    progress(format!("creating ({} provider)", req.provider));
    let stage = |what: String| cx.progress(name, what);
    match provider.create(&spec, &cx.azure, &stage).await {
        Ok(p) => {
            record_made(d, name, &p, req.connect)?;
            progress(format!(
                "{}{} ({:.1} s)",
                provider.created_word(),
                p.address.map(|a| format!(" at {a}")).unwrap_or_default(),
                started.elapsed().as_secs_f64()
            ));
            Ok(())
        }
        Err(e) => {
            // Nothing half-made stays: whatever the provider got as far as
            // creating goes, and so do the row and its token.
            let row = d.db.lock().expect("db lock").vm(name)?;
            if let Some(row) = row
                && let Err(cleanup) = provider.delete(&row, &cx.azure).await
                && row.provider_data != "{}"
            {
                tracing::warn!(vm = %name, "cleaning up after a failed create: {cleanup:#}");
            }
            d.db.lock().expect("db lock").remove_vm(name)?;
            Err(e)
        }
    }
}

/// Record a VM its provider made (or adopted) as running, and have the
/// daemon reach it: dial it (listen mode), or expect its agent (dial mode).
pub(super) fn record_made(
    d: &Arc<Daemon>,
    name: &str,
    made: &Provisioned,
    mode: ConnectMode,
) -> Result<()> {
    d.db.lock().expect("db lock").set_vm_running(
        name,
        &made.provider_data,
        made.address.as_deref(),
    )?;
    match mode {
        ConnectMode::Listen => link::spawn(d.clone(), name.to_string()),
        ConnectMode::Dial => {
            d.fleet.track(name);
        }
    }
    Ok(())
}

/// Wait (as long as `provider` says a pool of `pool` takes) until every
/// VM of `created` has its agent connected; each is told `joined` with
/// the time since `started`. Late ones are a [`NotReady`] error with the
/// end of each one's log. `start` waits the same way for one VM.
pub(super) async fn wait_until_connected(
    cx: &Ctx,
    provider: &dyn Provider,
    pool: u32,
    created: &[String],
    started: Instant,
    joined: &str,
) -> Result<()> {
    let d = &cx.d;
    let ready_timeout = provider.ready_timeout(pool);
    let ready = d
        .fleet
        .wait_until(ready_timeout, |f| {
            created.iter().all(|n| f.status(n).connected)
        })
        .await;
    for name in created {
        if d.fleet.status(name).connected {
            cx.progress(
                name,
                format!("{joined} ({} ms)", started.elapsed().as_millis()),
            );
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
            Some(row) => provider.log_tail(row).await,
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
