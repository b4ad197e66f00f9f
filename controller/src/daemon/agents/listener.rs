//! Agents in dial mode connect to the daemon: accept their connections and
//! run the same session as for a dialled agent. An agent with no certificate
//! may only enroll. Until a peer has authenticated it holds one of a
//! capped number of places (`azlin_protocol::admission`): one over the cap
//! is refused before its handshake, one that stalls is dropped.

use std::sync::Arc;

use azlin_protocol::admission::{Gate, Limits, PRE_AUTH_DEADLINE};

use super::session::{self, Peer};
use crate::daemon::Daemon;

pub fn spawn(d: Arc<Daemon>) {
    let gate = Gate::new(Limits::DAEMON);
    tokio::spawn(async move {
        while let Some(incoming) = d.endpoint.accept().await {
            let remote = incoming.remote_address();
            let Ok((incoming, ticket)) = gate
                .admit_incoming(incoming)
                .inspect_err(|why| tracing::debug!(%remote, "refused connection: {why}"))
            else {
                continue;
            };
            let d = d.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(PRE_AUTH_DEADLINE, incoming).await {
                    // session::run logs its own refusals.
                    Ok(Ok(conn)) => {
                        let _ = session::run(&d, conn, Peer::Incoming, None, Some(ticket)).await;
                    }
                    Ok(Err(e)) => tracing::warn!(%remote, "refused connection: {e}"),
                    Err(_) => tracing::warn!(%remote, "no handshake within {PRE_AUTH_DEADLINE:?}"),
                }
            });
        }
    });
}
