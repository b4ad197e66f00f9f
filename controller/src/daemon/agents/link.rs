//! The daemon dialling one listen-mode agent, for as long as the VM is in the
//! fleet and running: connect, run the session, and on any loss redial with
//! capped exponential backoff plus jitter.

use std::{net::SocketAddr, sync::Arc};

use anyhow::{Context, Result, anyhow};
use azlin_protocol::{
    backoff::{Backoff, random_unit},
    pki,
    transport::DIAL_TIMEOUT,
};
use tokio::sync::watch;

use super::session::{self, End, Peer};
use crate::daemon::Daemon;

/// Spawn the dialler for `vm`.
pub fn spawn(d: Arc<Daemon>, vm: String) {
    let cancel = d.fleet.track(&vm);
    tokio::spawn(async move { run(d, vm, cancel).await });
}

async fn run(d: Arc<Daemon>, vm: String, mut cancel: watch::Receiver<bool>) {
    let mut backoff = Backoff::redial();
    while !*cancel.borrow() {
        let attempt = attempt(&d, &vm, cancel.clone());
        let outcome = tokio::select! {
            r = attempt => r,
            _ = cancel.wait_for(|c| *c) => break,
        };
        match outcome {
            Ok(End::Enrolled) => {
                backoff.reset();
                continue;
            }
            Ok(End::SessionEnded) => backoff.reset(),
            Ok(End::Cancelled) => break,
            Err(e) => {
                tracing::debug!(%vm, "dial failed: {e:#}");
                d.fleet.failed(&vm, format!("{e:#}"));
                refresh_address(&d, &vm).await;
            }
        }
        let delay = backoff.next_delay(random_unit());
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.wait_for(|c| *c) => break,
        }
    }
    tracing::debug!(%vm, "dialler stopped");
}

/// A VM whose provider can move it (a container started again gets a new
/// address) is looked up again after a failed dial.
async fn refresh_address(d: &Daemon, vm: &str) {
    let Ok(Some(row)) = d.db.lock().expect("db lock").vm(vm) else {
        return;
    };
    let Ok(provider) = d.providers.of(&row.provider) else {
        return;
    };
    let Some(now) = provider.current_address(&row).await else {
        return;
    };
    if row.address.as_deref() != Some(now.as_str()) {
        tracing::info!(%vm, from = ?row.address, to = %now, "the VM has a new address");
        if let Err(e) = d.db.lock().expect("db lock").set_vm_address(vm, &now) {
            tracing::warn!(%vm, "cannot record its new address: {e:#}");
        }
    }
}

async fn attempt(d: &Arc<Daemon>, vm: &str, cancel: watch::Receiver<bool>) -> Result<End> {
    let row =
        d.db.lock()
            .expect("db lock")
            .vm(vm)?
            .ok_or_else(|| anyhow!("VM {vm} is no longer in the fleet"))?;
    let address = row
        .address
        .as_deref()
        .ok_or_else(|| anyhow!("VM {vm} has no address to dial"))?;
    let addr: SocketAddr = address
        .parse()
        .with_context(|| format!("VM {vm} has an invalid address {address}"))?;
    let enrolling = row.cert_serial.is_none();
    let config = if enrolling {
        d.tls().enrolling
    } else {
        d.tls().verified
    };
    let connecting = d
        .endpoint
        .connect_with(config, addr, &pki::agent_dns(vm))
        .context("cannot start connecting")?;
    let conn = tokio::time::timeout(DIAL_TIMEOUT, connecting)
        .await
        .map_err(|_| anyhow!("no answer from {addr} within {DIAL_TIMEOUT:?}"))?
        .with_context(|| format!("handshake with {addr} failed"))?;
    let peer = if enrolling {
        Peer::Enrolling { vm }
    } else {
        Peer::Dialled { vm }
    };
    session::run(d, conn, peer, Some(cancel), None).await
}
