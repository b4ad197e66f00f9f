//! The agent's QUIC endpoint in either direction: listen for the controller,
//! or dial out to it with capped exponential backoff. What runs over the
//! connection ([`crate::session`]) is the same either way.

use std::{net::SocketAddr, sync::Arc};

use anyhow::{Context, Result};
use azlin_protocol::{
    admission::{Gate, Limits, PRE_AUTH_DEADLINE},
    backoff::{Backoff, random_unit},
    pki::{self, ClientAuth, ServerAuth},
    transport::{self, DIAL_TIMEOUT},
};

use crate::session::{self, Agent, Outcome};

pub(crate) async fn server_config(agent: &Agent) -> Result<quinn::ServerConfig> {
    let creds = agent.creds.lock().await;
    let identity = match creds.fleet()? {
        Some(fleet) => fleet,
        None => creds.bootstrap(&agent.config.name)?,
    };
    let tls = pki::server_config(identity, &creds.ca, ClientAuth::Fleet)?;
    Ok(transport::quic_server_config(tls, transport::Side::Agent)?)
}

async fn client_config(agent: &Agent) -> Result<quinn::ClientConfig> {
    let creds = agent.creds.lock().await;
    let tls = pki::client_config(creds.fleet()?, &creds.ca, &ServerAuth::Fleet)?;
    Ok(transport::quic_client_config(tls, transport::Side::Agent)?)
}

/// Wait for the controller to dial in, forever.
pub async fn listen(agent: Arc<Agent>, addr: SocketAddr) -> Result<()> {
    let endpoint = azlin_protocol::endpoint::bind(addr, Some(server_config(&agent).await?))
        .with_context(|| format!("cannot listen on UDP {addr}"))?;
    let _ = agent.endpoint.set(endpoint.clone());
    tracing::info!(
        addr = %endpoint.local_addr()?,
        enrolled = agent.creds.lock().await.enrolled(),
        "agent listening"
    );
    // Until a peer has authenticated it holds one of a few places, and
    // has a deadline (`azlin_protocol::admission`).
    let gate = Gate::new(Limits::AGENT);
    while let Some(incoming) = endpoint.accept().await {
        let remote = incoming.remote_address();
        let Ok((incoming, ticket)) = gate
            .admit_incoming(incoming)
            .inspect_err(|why| tracing::debug!(%remote, "refused connection: {why}"))
        else {
            continue;
        };
        let agent = agent.clone();
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let conn = match tokio::time::timeout(PRE_AUTH_DEADLINE, incoming).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => {
                    tracing::warn!(%remote, "refused connection: {e}");
                    return;
                }
                Err(_) => {
                    tracing::warn!(%remote, "no handshake within {PRE_AUTH_DEADLINE:?}");
                    return;
                }
            };
            match session::serve(agent.clone(), conn, Some(ticket)).await {
                Ok(Outcome::Enrolled) => match server_config(&agent).await {
                    Ok(cfg) => endpoint.set_server_config(Some(cfg)),
                    Err(e) => tracing::error!("cannot switch to the fleet certificate: {e:#}"),
                },
                Ok(Outcome::SessionEnded) => {}
                Err(e) => tracing::warn!(%remote, "refused connection: {e:#}"),
            }
        });
    }
    Ok(())
}

/// Dial the controller, and redial whenever the connection ends.
pub async fn dial(agent: Arc<Agent>, controller: String) -> Result<()> {
    let bind: SocketAddr = "[::]:0".parse().expect("valid address");
    let endpoint = azlin_protocol::endpoint::bind(bind, None)
        .or_else(|_| {
            azlin_protocol::endpoint::bind("0.0.0.0:0".parse().expect("valid address"), None)
        })
        .context("cannot open a UDP socket")?;
    let _ = agent.endpoint.set(endpoint.clone());
    let mut backoff = Backoff::redial();
    tracing::info!(%controller, "agent dialling controller");
    loop {
        match dial_once(&agent, &endpoint, &controller).await {
            Ok(Outcome::Enrolled) => {
                backoff.reset();
                continue;
            }
            Ok(Outcome::SessionEnded) => backoff.reset(),
            Err(e) => tracing::warn!(%controller, "connection failed: {e:#}"),
        }
        tokio::time::sleep(backoff.next_delay(random_unit())).await;
    }
}

async fn dial_once(
    agent: &Arc<Agent>,
    endpoint: &quinn::Endpoint,
    target: &str,
) -> Result<Outcome> {
    let addr = tokio::net::lookup_host(target)
        .await
        .with_context(|| format!("cannot resolve {target}"))?
        .next()
        .with_context(|| format!("{target} resolves to no address"))?;
    let connecting =
        endpoint.connect_with(client_config(agent).await?, addr, pki::CONTROLLER_DNS)?;
    let conn = tokio::time::timeout(DIAL_TIMEOUT, connecting)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {DIAL_TIMEOUT:?}"))??;
    session::serve(agent.clone(), conn, None).await
}
