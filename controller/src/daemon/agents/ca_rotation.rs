//! Rotating the fleet's CA with no connection dropped (`azlin ca rotate`):
//!
//! 1. a new CA is made;
//! 2. every connected agent is told to trust the old CAs and the new one
//!    (`Query::Trust`), so whichever certificate the other side shows at
//!    the next handshake is accepted;
//! 3. the daemon trusts them too and shows a controller certificate of
//!    the new CA from its next handshake on (`FleetPki::install_rotation`,
//!    `Daemon::install_pki`); connections up now stay up, since TLS is
//!    only checked when a connection is made;
//! 4. every agent that took the new trust gets a certificate of the new CA
//!    over its live connection (`renew`);
//! 5. once every VM in the fleet holds a certificate of the new CA, the
//!    old ones are retired: agents are told to trust only the new CA, and
//!    so is the daemon.
//!
//! A VM offline during the rotation keeps its old certificate and trust;
//! the daemon still trusts its CA, so it comes back as usual, and the
//! certificate-renewal job brings it up to the new CA at once
//! ([`catch_up`]), retiring the old CA after the last one. `azlin ca
//! retire` retires it at once instead; a VM still on the old CA must
//! then enrol again (`azlin token VM`, see the README).
//!
//! Not here: the certificate renewal itself (`renew`), the files
//! (`crate::fleet_pki`).

use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use azlin_protocol::{
    exec::clean_reason,
    pki::{self, FleetCa},
    stream::{Query, QueryReply},
};

use super::{query::ask, renew};
use crate::daemon::Daemon;

/// One rotation or retirement at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a rotation did.
#[derive(Debug, Clone, Default)]
pub struct Rotated {
    /// VMs now on the new CA.
    pub renewed: Vec<String>,
    /// VMs not brought over now (offline, or their agent refused), with
    /// why: they are brought over when they are next connected.
    pub pending: Vec<(String, String)>,
    /// Whether the old CA is retired already (every VM was brought over).
    pub retired: bool,
}

/// Tell `vm`'s agent to trust the CAs of `bundle`.
async fn push_trust(d: &Daemon, vm: &str, bundle: &str) -> Result<()> {
    match ask(
        d,
        vm,
        Query::Trust {
            ca_pem: bundle.to_string(),
        },
    )
    .await?
    {
        QueryReply::Trusted { .. } => Ok(()),
        QueryReply::Error { reason } => bail!("{vm}: {}", clean_reason(reason)),
        _ => bail!("{vm}'s agent answered another question"),
    }
}

/// The fleet's VMs with a certificate, and whether it is the current CA's.
fn fleet_certificates(d: &Daemon) -> Result<Vec<(String, bool)>> {
    let ca = d.pki().ca_der().clone();
    let db = d.db.lock().expect("db lock");
    let mut out = Vec::new();
    for row in db.vms()? {
        let Some(serial) = &row.cert_serial else {
            continue;
        };
        let current = match db.cert_pem(serial)? {
            Some(pem) => pki::pem_to_der(&pem).is_ok_and(|der| pki::issued_by(&der, &ca)),
            None => false,
        };
        out.push((row.name, current));
    }
    Ok(out)
}

/// The VMs whose certificate is not of the current CA.
pub fn behind(d: &Daemon) -> Result<Vec<String>> {
    Ok(fleet_certificates(d)?
        .into_iter()
        .filter(|(_, current)| !current)
        .map(|(vm, _)| vm)
        .collect())
}

/// Run a whole rotation (see the module docs).
pub async fn rotate(d: &Arc<Daemon>) -> Result<Rotated> {
    let _one = ONE_AT_A_TIME.lock().await;
    let old = d.pki();
    if old.trusted().len() >= pki::MAX_TRUSTED_CAS {
        bail!(
            "{} CAs are trusted already from earlier rotations; wait until every VM is brought \
             over (`azlin ca show`) or retire the old ones (`azlin ca retire`), then rotate \
             (nothing done)",
            old.trusted().len()
        );
    }
    // A name of its own: a path from an agent that trusts only the old
    // CA runs through the new one's cross-signed certificate, which must
    // not be mistaken for the old CA.
    let stamp = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
    let (new_ca, new_key_pem) = FleetCa::create(&format!("azlin fleet CA {stamp}"))?;
    let bundle = format!("{}{}", old.trusted_pem(), new_ca.cert_pem());
    let vms: Vec<String> = fleet_certificates(d)?
        .into_iter()
        .map(|(vm, _)| vm)
        .collect();
    let mut out = Rotated::default();
    // 2. Every connected agent trusts both, all at once.
    let mut asks = tokio::task::JoinSet::new();
    for vm in vms {
        if d.fleet.connection(&vm).is_none() {
            out.pending.push((vm, "not connected".into()));
            continue;
        }
        let (d, bundle) = (d.clone(), bundle.clone());
        asks.spawn(async move {
            let r = push_trust(&d, &vm, &bundle).await;
            (vm, r)
        });
    }
    let mut trusting = Vec::new();
    for (vm, r) in asks.join_all().await {
        match r {
            Ok(()) => trusting.push(vm),
            Err(e) => out.pending.push((vm, format!("{e:#}"))),
        }
    }
    // 3. The daemon trusts both and shows the new CA's certificate.
    let pki = old
        .install_rotation(&d.home, &new_ca, &new_key_pem)
        .context("cannot install the new fleet CA")?;
    d.install_pki(pki)?;
    tracing::info!(
        agents = trusting.len(),
        "fleet CA rotated; bringing the agents' certificates over"
    );
    // 4. Their certificates, of the new CA.
    let mut renewals = tokio::task::JoinSet::new();
    for vm in trusting {
        let d = d.clone();
        renewals.spawn(async move {
            let r = renew::renew(&d, &vm).await;
            (vm, r)
        });
    }
    for (vm, r) in renewals.join_all().await {
        match r {
            Ok(_) => out.renewed.push(vm),
            Err(e) => out.pending.push((vm, format!("{e:#}"))),
        }
    }
    out.renewed.sort();
    out.pending.sort();
    // 5. Retired if no VM is left behind.
    out.retired = retire_when_done(d).await?;
    Ok(out)
}

/// Retire the old CAs if a rotation is replacing some and every VM holds
/// a certificate of the current CA; whether they are retired now.
pub async fn retire_when_done(d: &Arc<Daemon>) -> Result<bool> {
    if !d.pki().overlapping() || !behind(d)?.is_empty() {
        return Ok(false);
    }
    retire(d).await?;
    Ok(true)
}

/// [`retire`], asked for (`azlin ca retire`): never during a rotation.
pub async fn retire_now(d: &Arc<Daemon>) -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    retire(d).await
}

/// Stop trusting the old CAs: connected agents first (each is told to
/// trust only the current CA), then the daemon. An agent that cannot be
/// told keeps trusting both, which does it no harm.
async fn retire(d: &Arc<Daemon>) -> Result<()> {
    let pki = d.pki();
    if !pki.overlapping() {
        bail!("no rotation is under way: the fleet trusts only its CA");
    }
    let only = pki::der_to_pem(pki.ca_der());
    for (vm, current) in fleet_certificates(d)? {
        if current
            && d.fleet.connection(&vm).is_some()
            && let Err(e) = push_trust(d, &vm, &only).await
        {
            tracing::warn!(%vm, "cannot tell it the old CA is retired: {e:#}");
        }
    }
    let retired = pki.retire_old(&d.home)?;
    d.install_pki(retired)?;
    tracing::info!("the CAs a rotation replaced are retired");
    Ok(())
}

/// Bring a connected VM left behind by a rotation over to the current CA:
/// its agent trusts every CA trusted now, then gets a certificate of the
/// current one; the old CA is retired after the last such VM.
pub async fn catch_up(d: &Arc<Daemon>, vm: &str) -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().await;
    if !behind(d)?.iter().any(|v| v == vm) {
        return Ok(());
    }
    let pki = d.pki();
    push_trust(d, vm, &pki.trusted_pem()).await?;
    renew::renew(d, vm).await.map_err(|e| anyhow!("{e:#}"))?;
    tracing::info!(%vm, "brought over to the current fleet CA");
    retire_when_done(d).await?;
    Ok(())
}
