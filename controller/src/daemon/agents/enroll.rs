//! The controller's side of enrollment: check the token and the agent's
//! channel-bound proof, sign its CSR, and burn the token, in that order. A
//! refusal changes nothing in `state.db`.

use azlin_protocol::enroll::{EXPORTER_LEN, Verifier, verify_proof};

use crate::daemon::Daemon;
use crate::state::TokenCheck;

/// A signed certificate for the VM, or the reason enrollment is refused.
pub struct Enrolled {
    pub vm: String,
    pub cert_der: Vec<u8>,
}

pub fn enroll(
    d: &Daemon,
    exporter: &[u8; EXPORTER_LEN],
    token_id: &str,
    csr_der: &[u8],
    proof: &[u8],
    dialled_vm: Option<&str>,
) -> Result<Enrolled, String> {
    let mut db = d.db.lock().expect("db lock");
    let (check, row) = db
        .check_token(token_id)
        .map_err(|e| format!("state database error: {e}"))?;
    let row = match (check, row) {
        (TokenCheck::Usable, Some(row)) => row,
        (TokenCheck::Unknown, _) | (_, None) => {
            return Err(format!("unknown join token {token_id}"));
        }
        (TokenCheck::Used, _) => return Err(format!("join token {token_id} was already used")),
        (TokenCheck::Expired { at }, _) => {
            return Err(format!("join token {token_id} expired at unix time {at}"));
        }
    };
    if let Some(vm) = dialled_vm
        && vm != row.vm
    {
        return Err(format!("join token is for VM {}, not {vm}", row.vm));
    }
    // What is stored checks a proof; it cannot make one.
    verify_proof(
        &Verifier::from_stored(&row.verifier),
        exporter,
        csr_der,
        proof,
    )
    .map_err(|e| e.to_string())?;
    let issued = d
        .pki()
        .ca
        .sign_agent_csr(csr_der, &row.vm, agent_cert_lifetime(d))
        .map_err(|e| format!("certificate request refused: {e}"))?;
    db.complete_enrollment(
        &row.id,
        &row.vm,
        &issued.serial,
        issued.not_after_unix,
        &issued.pem,
    )
    .map_err(|e| format!("enrollment not recorded: {e}"))?;
    tracing::info!(vm = %row.vm, serial = %issued.serial, "enrolled agent");
    Ok(Enrolled {
        vm: row.vm,
        cert_der: issued.der,
    })
}

/// How long an agent certificate is issued for: `[daemon]
/// agent_cert_secs`.
pub fn agent_cert_lifetime(d: &Daemon) -> time::Duration {
    time::Duration::seconds(i64::try_from(d.config().daemon.agent_cert_secs).unwrap_or(i64::MAX))
}
