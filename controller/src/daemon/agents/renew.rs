//! Renewing an agent's certificate over its live connection: the agent
//! makes a CSR for its own key (`Query::CertificateRequest`), the fleet
//! CA signs it for the VM's name with `[daemon] agent_cert_secs` of life,
//! the certificate is recorded (not yet current), the agent keeps it
//! (`Query::InstallCertificate`), and only then it becomes the VM's
//! current one. The connection is not dropped; the agent presents the new
//! certificate at its next handshake. Should the daemon stop between the
//! agent taking it and its recording as current, the agent's first
//! handshake with it makes it current (`session::check_certificate`).
//!
//! Not here: when to renew (`jobs::cert_renewal`, `azlin certs rotate`).

use anyhow::{Result, anyhow, bail};
use azlin_protocol::{
    exec::clean_reason,
    stream::{Query, QueryReply},
};

use super::{enroll::agent_cert_lifetime, query::ask};
use crate::daemon::Daemon;

/// The old and new serials of a renewal.
#[derive(Debug, Clone)]
pub struct Renewed {
    pub old: Option<String>,
    pub new: String,
    pub not_after: i64,
}

/// Renew `vm`'s certificate now.
pub async fn renew(d: &Daemon, vm: &str) -> Result<Renewed> {
    let old =
        d.db.lock()
            .expect("db lock")
            .vm(vm)?
            .ok_or_else(|| anyhow!("{vm} is not in the fleet"))?
            .cert_serial;
    let csr_der = match ask(d, vm, Query::CertificateRequest).await? {
        QueryReply::CertificateRequest { csr_der } => csr_der,
        QueryReply::Error { reason } => bail!("{vm}: {}", clean_reason(reason)),
        _ => bail!("{vm}'s agent answered another question"),
    };
    let issued = d
        .pki()
        .ca
        .sign_agent_csr(&csr_der, vm, agent_cert_lifetime(d))
        .map_err(|e| anyhow!("{vm}'s certificate request refused: {e}"))?;
    d.db.lock().expect("db lock").record_renewal(
        vm,
        &issued.serial,
        issued.not_after_unix,
        &issued.pem,
    )?;
    let installed = ask(
        d,
        vm,
        Query::InstallCertificate {
            cert_der: issued.der,
        },
    )
    .await?;
    match installed {
        QueryReply::CertificateInstalled { serial } if serial == issued.serial => {}
        QueryReply::CertificateInstalled { serial } => bail!(
            "{vm}'s agent says it installed {}, not {}",
            clean_reason(serial),
            issued.serial
        ),
        QueryReply::Error { reason } => bail!("{vm}: {}", clean_reason(reason)),
        _ => bail!("{vm}'s agent answered another question"),
    }
    d.db.lock()
        .expect("db lock")
        .make_current(vm, &issued.serial)?;
    tracing::info!(%vm, serial = %issued.serial, "renewed the agent's certificate");
    Ok(Renewed {
        old,
        new: issued.serial,
        not_after: issued.not_after_unix,
    })
}
