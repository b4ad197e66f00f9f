//! `azlin adopt VM…`: a cloud VM azlin did not make joins the fleet. The
//! provider that has it checks it can be adopted ([`Provider::adoption`]:
//! running, Linux) and says what would change; then the daemon records it
//! with a one-time join token and the provider installs the agent
//! ([`Provider::adopt`]), which enrolls as a new VM's does. The daemon
//! dials an agent at a public address; one without waits for the agent to
//! dial in, which needs `[daemon] listen`, or is refused saying so. A VM
//! whose adoption fails is forgotten again (what changed on it is said in
//! the error).

use std::time::Instant;

use anyhow::{Result, anyhow, bail};
use azlin_protocol::enroll::JoinToken;

use super::{
    Ctx, Handle,
    list::list_in,
    new::{record_made, wait_until_connected},
};
use crate::{
    azure::context::Target,
    ipc::adopt::{Adopt, AdoptReply},
    provider::{Adoption, AgentConnect, Kind, Provider, VmSpec},
    state::{ConnectMode, NewVm, VmRow, VmState, now_unix},
};

impl Handle for Adopt {
    async fn handle(self, cx: &Ctx) -> Result<AdoptReply> {
        if self.vms.is_empty() {
            bail!("name the VMs to adopt: azlin adopt VM…");
        }
        let mut found: Vec<(Kind, Adoption)> = Vec::new();
        for name in &self.vms {
            let (kind, mut a) = adoption(cx, name).await?;
            // Its fleet name: its own, or qualified when a VM elsewhere
            // has that one (`crate::vm_key`); the same VM twice is refused.
            let provider = cx.d.providers.get(kind);
            let place = provider.place_key(&a.row);
            let rows = cx.d.db.lock().expect("db lock").vms()?;
            if rows.iter().any(|r| {
                r.provider == a.row.provider
                    && provider.place_key(r) == place
                    && provider.cloud_name(r).as_deref() == Some(a.row.name.as_str())
            }) {
                bail!("{name} is in the fleet already; nothing done");
            }
            a.row.name = super::new::fleet_name(&cx.d, &a.row.name, place.as_deref())
                .map_err(|e| e.context(format!("{name} cannot join the fleet; nothing done")))?;
            if found.iter().any(|(_, f)| f.row.name == a.row.name) {
                bail!("{name} is named twice; nothing done");
            }
            found.push((kind, a));
        }
        if self.dry_run {
            return Ok(AdoptReply::Plan(
                found
                    .into_iter()
                    .map(|(_, a)| (a.row.name.clone(), a.changes))
                    .collect(),
            ));
        }
        let started = Instant::now();
        let mut adopted = Vec::new();
        for (kind, a) in &found {
            let provider = cx.d.providers.get(*kind);
            adopt_one(cx, provider, a).await?;
            adopted.push(a.row.name.clone());
        }
        // Every adopted VM's provider is one that adopts; its timeout holds.
        if let Some((kind, _)) = found.first() {
            let provider = cx.d.providers.get(*kind);
            let n = adopted.len() as u32;
            wait_until_connected(
                cx,
                provider,
                n,
                &adopted,
                started,
                "adopted, enrolled and connected",
            )
            .await?;
        }
        Ok(AdoptReply::Adopted(
            list_in(&cx.d, &Target::default())?
                .into_iter()
                .filter(|v| adopted.contains(&v.name))
                .collect(),
        ))
    }
}

/// The VM `name` checked by the provider that has it.
async fn adoption(cx: &Ctx, name: &str) -> Result<(Kind, Adoption)> {
    let mut reasons = Vec::new();
    for kind in Kind::ALL {
        let provider = cx.d.providers.get(kind);
        if !provider.capabilities().adopt {
            continue;
        }
        match provider.adoption(name, &cx.azure).await {
            Ok(a) => return Ok((kind, a)),
            Err(e) => reasons.push(format!("{e:#}")),
        }
    }
    Err(anyhow!(
        "cannot adopt {name}: {}",
        if reasons.is_empty() {
            "no provider of this build adopts VMs".to_string()
        } else {
            reasons.join("; ")
        }
    ))
}

/// Record the VM, install its agent, and have the daemon reach it; on a
/// failure the record goes again.
async fn adopt_one(cx: &Ctx, provider: &dyn Provider, a: &Adoption) -> Result<()> {
    let d = &cx.d;
    let name = a.row.name.as_str();
    let (mode, connect) = match (&a.public_address, d.listening) {
        (Some(_), _) => (ConnectMode::Listen, AgentConnect::Listen),
        (None, Some(listen)) => (
            ConnectMode::Dial,
            AgentConnect::Dial {
                controller: listen.to_string(),
            },
        ),
        (None, None) => bail!(
            "{name} has no public IP, so the daemon cannot reach its agent, and [daemon] listen \
             is not set, so the agent cannot dial in; set [daemon] listen to an address the VM \
             reaches (nothing done)"
        ),
    };
    let token = JoinToken::generate()?;
    d.db.lock().expect("db lock").add_vms(&[NewVm {
        row: VmRow {
            state: VmState::Provisioning,
            connect_mode: mode,
            created_at: now_unix(),
            ..a.row.clone()
        },
        tags: &[],
        token_id: token.id_hex(),
        verifier: token.verifier().to_stored(),
        ttl_secs: d.config().daemon.token_ttl_secs,
    }])?;
    let cloud_name = provider
        .cloud_name(&a.row)
        .unwrap_or_else(|| name.to_string());
    let spec = VmSpec {
        name: name.to_string(),
        cloud_name,
        token,
        ca_pem: d.pki().ca.cert_pem().to_string(),
        connect,
        dev_tools: false,
        session_name: None,
        machine: Default::default(),
        shared_home: None,
        source: None,
        cloud_init_extra: None,
    };
    let stage = |what: String| cx.progress(name, what);
    match provider.adopt(a, &spec, &cx.azure, &stage).await {
        Ok(p) => record_made(d, name, &p, mode),
        Err(e) => {
            d.db.lock().expect("db lock").remove_vm(name)?;
            Err(e.context(format!("{name} was not adopted")))
        }
    }
}
