//! The controller's side of one agent connection, whichever side dialled:
//! identify the agent by its certificate (or let it enroll if it has none),
//! greet, send `Ready`, and hold the session until it ends.

use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use azlin_protocol::{
    admission::{PRE_AUTH_DEADLINE, Ticket},
    frame::MAX_CONTROL_FRAME,
    handshake::{self, ControlStream},
    message::{Control, Role},
    pki::{self, PeerIdentity},
    transport::{self, StreamError, close},
};
use tokio::sync::watch;

use super::enroll;
use crate::daemon::Daemon;

/// What the caller knows about the peer before the session starts.
pub enum Peer<'a> {
    /// We dialled this VM's unenrolled agent; it must enroll.
    Enrolling { vm: &'a str },
    /// We dialled this VM's enrolled agent; TLS verified its name.
    Dialled { vm: &'a str },
    /// The agent dialled us; its certificate (or lack of one) says who.
    Incoming,
}

#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Enrolled,
    SessionEnded,
    Cancelled,
}

/// Run a connection to its end. A refusal is logged with its reason and
/// the connection closed with a code; nothing about the fleet changes.
/// `ticket` is the place a listener gave a peer that had not
/// authenticated yet (`azlin_protocol::admission`), given back as soon
/// as it has.
pub async fn run(
    d: &Arc<Daemon>,
    conn: quinn::Connection,
    peer: Peer<'_>,
    cancel: Option<watch::Receiver<bool>>,
    ticket: Option<Ticket>,
) -> Result<End> {
    let remote = conn.remote_address();
    let result = serve(d, &conn, peer, cancel, ticket).await;
    if let Err(e) = &result {
        let mut reason = format!("{e:#}");
        tracing::warn!(%remote, "refused agent: {reason}");
        reason.truncate(400);
        conn.close(close::PROTOCOL, reason.as_bytes());
    }
    result
}

async fn serve(
    d: &Arc<Daemon>,
    conn: &quinn::Connection,
    peer: Peer<'_>,
    cancel: Option<watch::Receiver<bool>>,
    ticket: Option<Ticket>,
) -> Result<End> {
    let identity = match (&peer, transport::peer_certificate(conn)) {
        (Peer::Enrolling { .. }, _) | (Peer::Incoming, None) => None,
        (_, Some(der)) => Some(pki::peer_identity(&der).context("peer certificate")?),
        (Peer::Dialled { .. }, None) => bail!("agent presented no certificate"),
    };
    let vm = match (&peer, identity) {
        (Peer::Enrolling { .. }, _) | (_, None) => None,
        (_, Some(PeerIdentity::Agent { vm, serial })) => {
            check_certificate(d, &vm, &serial)?;
            if let Peer::Dialled { vm: dialled } = peer
                && dialled != vm
            {
                bail!("dialled {dialled} but the certificate is for {vm}");
            }
            Some(vm)
        }
        (_, Some(PeerIdentity::Controller { .. })) => {
            conn.close(
                close::UNAUTHORIZED,
                b"controllers do not connect to controllers",
            );
            bail!("peer presented a controller certificate");
        }
    };
    let ours = handshake::hello(
        Role::Controller,
        &d.host_name,
        vec![],
        d.started_at as u64,
        true,
    );
    // Before it has authenticated, a peer has a deadline to greet and
    // to enroll, and only small frames (`azlin_protocol::admission`).
    let mut control = tokio::time::timeout(
        PRE_AUTH_DEADLINE,
        handshake::greet_as_controller(conn, ours),
    )
    .await
    .map_err(|_| anyhow!("no greeting within {PRE_AUTH_DEADLINE:?}"))?
    .context("greeting")?;
    let Some(vm) = vm else {
        let dialled = match peer {
            Peer::Enrolling { vm } => Some(vm),
            _ => None,
        };
        tokio::time::timeout(
            PRE_AUTH_DEADLINE,
            enroll_peer(d, conn, &mut control, dialled),
        )
        .await
        .map_err(|_| anyhow!("no enrollment within {PRE_AUTH_DEADLINE:?}"))??;
        return Ok(End::Enrolled);
    };
    // Authenticated by its certificate and greeted: a peer of the fleet.
    control.recv.set_max(MAX_CONTROL_FRAME);
    transport::authenticated(conn);
    drop(ticket);
    if control.peer.name != vm {
        bail!(
            "agent calls itself {:?} but its certificate says {vm}",
            control.peer.name
        );
    }
    transport::send(
        &mut control.send,
        &Control::Ready { vm: vm.clone() },
        MAX_CONTROL_FRAME,
    )
    .await?;
    d.fleet.connected(&vm, conn, &control.peer);
    tracing::info!(%vm, remote = %conn.remote_address(), agent = %control.peer.software, "agent connected");
    if d.pki().overlapping() {
        // Back after a rotation of the fleet's CA it missed: brought over
        // now (the old CA is retired after the last one).
        let (d, vm) = (d.clone(), vm.clone());
        tokio::spawn(async move {
            if let Err(e) = super::ca_rotation::catch_up(&d, &vm).await {
                tracing::warn!(%vm, "cannot bring it over to the current fleet CA: {e:#}");
            }
        });
    }
    let streams = tokio::spawn(super::telemetry_stream::accept(
        d.clone(),
        vm.clone(),
        conn.clone(),
    ));
    let alerts = tokio::spawn(crate::daemon::jobs::alerts::stream::run(
        d.clone(),
        vm.clone(),
        conn.clone(),
    ));
    let end = hold(conn, &mut control, cancel, streams).await;
    alerts.abort();
    let reason = match &end {
        Ok(_) => conn
            .close_reason()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "closed".into()),
        Err(e) => format!("{e:#}"),
    };
    tracing::info!(%vm, %reason, "agent disconnected");
    d.fleet.disconnected(&vm, conn, reason);
    end
}

fn check_certificate(d: &Daemon, vm: &str, serial: &str) -> Result<()> {
    let db = d.db.lock().expect("db lock");
    let cert = db
        .cert(serial)?
        .ok_or_else(|| anyhow!("certificate {serial} was not issued to any VM of this fleet"))?;
    if cert.revoked_at.is_some() {
        bail!("certificate {serial} of {vm} is revoked (the VM was removed)");
    }
    if cert.vm != vm {
        bail!("certificate {serial} belongs to {}, not {vm}", cert.vm);
    }
    let row = db
        .vm(vm)?
        .ok_or_else(|| anyhow!("VM {vm} is not in the fleet"))?;
    if row.cert_serial.as_deref() == Some(serial) {
        return Ok(());
    }
    // A renewal the agent took but the daemon did not get to record (it
    // stopped in between): a newer certificate of this VM becomes current
    // on first use. An older one never does.
    let current = row
        .cert_serial
        .as_deref()
        .map(|s| db.cert(s))
        .transpose()?
        .flatten();
    if current.is_some_and(|c| cert.issued_at >= c.issued_at) {
        drop(db);
        d.db.lock().expect("db lock").make_current(vm, serial)?;
        tracing::info!(%vm, %serial, "the renewed certificate is now current");
        return Ok(());
    }
    bail!("certificate {serial} is not the current one of {vm}")
}

async fn enroll_peer(
    d: &Arc<Daemon>,
    conn: &quinn::Connection,
    control: &mut ControlStream,
    dialled: Option<&str>,
) -> Result<()> {
    let (token_id, csr_der, proof) = match control.recv.control().await {
        Ok(Some(Control::EnrollRequest {
            token_id,
            csr_der,
            proof,
        })) => (token_id, csr_der, proof),
        Ok(Some(other)) => bail!("expected an enrollment request, got {other:?}"),
        Ok(None) => bail!("agent closed the stream before enrolling"),
        Err(e) => {
            control.recv.reject();
            return Err(e).context("enrollment request");
        }
    };
    let exporter =
        transport::enrollment_exporter(conn).ok_or_else(|| anyhow!("TLS exporter unavailable"))?;
    match enroll::enroll(d, &exporter, &token_id, &csr_der, &proof, dialled) {
        Ok(enrolled) => {
            let msg = Control::EnrollAccepted {
                cert_der: enrolled.cert_der,
            };
            transport::send(&mut control.send, &msg, MAX_CONTROL_FRAME).await?;
            let _ = control.send.finish();
            // The agent closes once it has stored the certificate.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), conn.closed()).await;
            d.fleet.failed(
                &enrolled.vm,
                "enrolled; reconnecting with its certificate".into(),
            );
            Ok(())
        }
        Err(reason) => {
            let msg = Control::EnrollRefused {
                reason: reason.clone(),
            };
            let _ = transport::send(&mut control.send, &msg, MAX_CONTROL_FRAME).await;
            conn.close(close::ENROLL_REFUSED, reason.as_bytes());
            if let Some(vm) = dialled {
                d.fleet.failed(vm, format!("enrollment refused: {reason}"));
            }
            bail!("enrollment refused: {reason}")
        }
    }
}

/// Hold a live session until the connection closes, the agent misbehaves,
/// or the VM is removed.
async fn hold(
    conn: &quinn::Connection,
    control: &mut ControlStream,
    cancel: Option<watch::Receiver<bool>>,
    mut streams: tokio::task::JoinHandle<Result<()>>,
) -> Result<End> {
    let cancelled = async move {
        match cancel {
            Some(mut rx) => {
                let _ = rx.wait_for(|c| *c).await;
            }
            None => std::future::pending().await,
        }
    };
    // Protocol version 1 sends nothing on the control stream after Ready:
    // a message is the agent's parting error or a violation; both end it.
    let end = tokio::select! {
        done = &mut streams => match done {
            Ok(Err(e)) => Err(e),
            // The connection ended under the stream reader.
            _ => Ok(End::SessionEnded),
        },
        _ = cancelled => {
            conn.close(close::SHUTDOWN, b"VM removed from the fleet");
            Ok(End::Cancelled)
        }
        msg = control.recv.control() => match msg {
            Ok(None) | Err(StreamError::Lost(_)) => Ok(End::SessionEnded),
            Ok(Some(Control::Error { reason })) => bail!("agent reported: {reason}"),
            Ok(Some(other)) => bail!("unexpected message from agent: {other:?}"),
            Err(e) => {
                control.recv.reject();
                Err(e).context("control stream")
            }
        },
    };
    streams.abort();
    end
}
