//! `azlin daemon status|stop|rebind`: the daemon about itself.

use anyhow::{Context, Result, bail};

use super::{Ctx, Handle};
use crate::ipc::{
    Done,
    daemon::{DaemonInfo, DaemonStatus, Rebind, Shutdown},
};

impl Handle for DaemonStatus {
    async fn handle(self, cx: &Ctx) -> Result<DaemonInfo> {
        let d = &cx.d;
        let (vms, certificates_issued) = {
            let db = d.db.lock().expect("db lock");
            (
                db.vms().map(|v| v.len()).unwrap_or(0),
                db.cert_count().unwrap_or(0),
            )
        };
        Ok(DaemonInfo {
            pid: std::process::id(),
            version: azlin_protocol::SOFTWARE_VERSION.to_string(),
            started_at: d.started_at,
            home: d.home.root().display().to_string(),
            vms,
            connected: d.fleet.connected_count(),
            listen: d.listening.map(|a| a.to_string()),
            certificates_issued,
            config_error: d.config_error.lock().expect("config error lock").clone(),
        })
    }
}

impl Handle for Shutdown {
    /// The socket stops the daemon once this answer is written.
    async fn handle(self, _cx: &Ctx) -> Result<Done> {
        Ok(Done {
            message: "daemon stopping".into(),
        })
    }
}

impl Handle for Rebind {
    /// Move every QUIC connection to a fresh local UDP socket. The agents
    /// see the daemon's address change and QUIC migrates each connection,
    /// so open terminals and commands carry on without a reconnect.
    async fn handle(self, cx: &Ctx) -> Result<Done> {
        let d = &cx.d;
        if let Some(listen) = d.listening {
            bail!(
                "this daemon listens on {listen} for agents that dial in, and they would lose it; \
                 rebinding is for a daemon that only dials (no [daemon] listen)"
            );
        }
        let old = d.endpoint.local_addr().context("the daemon's socket")?;
        let socket = std::net::UdpSocket::bind(std::net::SocketAddr::new(old.ip(), 0))
            .context("cannot open a new UDP socket")?;
        d.endpoint
            .rebind(socket)
            .context("cannot move to the new socket")?;
        let new = d.endpoint.local_addr().context("the daemon's new socket")?;
        tracing::info!(%old, %new, "rebound the fleet's connections");
        Ok(Done {
            message: format!(
                "moved {} connection(s) from UDP {old} to {new}",
                d.fleet.connected_count()
            ),
        })
    }
}
