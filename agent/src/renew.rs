//! The agent's side of certificate renewal over the live connection: a
//! CSR for its own key (the key never changes, never leaves the VM), and
//! installing the certificate the controller signed after checking it is
//! for this VM and this key. The new certificate is written atomically
//! and presented from the next handshake on (a listening agent's endpoint
//! takes it at once); the connection it came over stays up.
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
    if matches!(agent.config.connect, Connect::Listen { .. })
        && let Some(endpoint) = agent.endpoint.get()
    {
        match crate::endpoint::server_config(agent).await {
            Ok(cfg) => endpoint.set_server_config(Some(cfg)),
            Err(e) => {
                return QueryReply::Error {
                    reason: format!("kept the certificate but cannot present it: {e:#}"),
                };
            }
        }
    }
    tracing::info!(%serial, "installed a renewed certificate");
    QueryReply::CertificateInstalled { serial }
}
