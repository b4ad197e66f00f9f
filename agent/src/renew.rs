//! The agent's side of certificate renewal over the live connection: a
//! CSR for its own key (the key never changes, never leaves the VM), and
//! installing the certificate the controller signed after checking it is
//! for this VM and this key. The new certificate is written atomically
//! and presented from the next handshake on (a listening agent's endpoint
//! takes it at once); the connection it came over stays up.
//!
//! The same goes for the fleet CAs it trusts, when the controller rotates
//! the fleet's CA ([`trust`]).
//!
//! Not here: when to renew (the controller decides, at two thirds of the
//! certificate's lifetime, or when asked: `azlin certs rotate`).

use azlin_protocol::{pki, stream::QueryReply};

use crate::{config::Connect, session::Agent};

/// A CSR for the agent's key, naming its VM.
pub async fn request(agent: &Agent) -> QueryReply {
    let creds = agent.creds.lock().await;
    match pki::csr_for_agent(&creds.key, &agent.config.name) {
        Ok(csr_der) => QueryReply::CertificateRequest { csr_der },
        Err(e) => QueryReply::Error {
            reason: format!("cannot make a certificate request: {e}"),
        },
    }
}

/// Keep `cert_der` as the agent's certificate.
pub async fn install(agent: &Agent, cert_der: Vec<u8>) -> QueryReply {
    let serial = match pki::peer_identity(&cert_der) {
        Ok(id) => id.serial().to_string(),
        Err(e) => {
            return QueryReply::Error {
                reason: format!("not a fleet certificate: {e}"),
            };
        }
    };
    {
        let mut creds = agent.creds.lock().await;
        if let Err(e) = creds.store_certificate(cert_der, &agent.config.name) {
            return QueryReply::Error {
                reason: format!("{e:#}"),
            };
        }
    }
    if let Err(reason) = present(agent).await {
        return QueryReply::Error {
            reason: format!("kept the certificate but cannot present it: {reason}"),
        };
    }
    tracing::info!(%serial, "installed a renewed certificate");
    QueryReply::CertificateInstalled { serial }
}

/// Trust the fleet CAs of `ca_pem` from the next handshake on.
pub async fn trust(agent: &Agent, ca_pem: String) -> QueryReply {
    let count = {
        let mut creds = agent.creds.lock().await;
        match creds.store_trust(&ca_pem) {
            Ok(n) => n,
            Err(e) => {
                return QueryReply::Error {
                    reason: format!("{e:#}"),
                };
            }
        }
    };
    if let Err(reason) = present(agent).await {
        return QueryReply::Error {
            reason: format!("kept the CAs but cannot use them: {reason}"),
        };
    }
    tracing::info!(count, "now trusting the fleet CAs the controller sent");
    QueryReply::Trusted {
        count: count as u32,
    }
}

/// A listening agent's endpoint takes the credentials and CAs now kept
/// (a dialling agent builds its configuration at each dial).
async fn present(agent: &Agent) -> Result<(), String> {
    if matches!(agent.config.connect, Connect::Listen { .. })
        && let Some(endpoint) = agent.endpoint.get()
    {
        let cfg = crate::endpoint::server_config(agent)
            .await
            .map_err(|e| format!("{e:#}"))?;
        endpoint.set_server_config(Some(cfg));
    }
    Ok(())
}
