//! Agents in dial mode connect to the daemon: accept their connections and
//! run the same session as for a dialled agent. An agent with no certificate
//! may only enroll.

use std::sync::Arc;

use super::session::{self, Peer};
use crate::daemon::Daemon;

pub fn spawn(d: Arc<Daemon>) {
    tokio::spawn(async move {
        while let Some(incoming) = d.endpoint.accept().await {
            let d = d.clone();
            tokio::spawn(async move {
                let remote = incoming.remote_address();
                match incoming.await {
                    // session::run logs its own refusals.
                    Ok(conn) => {
                        let _ = session::run(&d, conn, Peer::Incoming, None).await;
                    }
                    Err(e) => tracing::warn!(%remote, "refused connection: {e}"),
                }
            });
        }
    });
}
