//! Agents' certificates renewed before they expire: every connected VM
//! whose current certificate is past two thirds of its life gets a new
//! one over its live connection (`agents::renew`), so no agent ever has
//! to enrol again while it is in touch; and, while a rotation of the
//! fleet's CA is under way, every connected VM still on the old CA is
//! brought over (`agents::ca_rotation::catch_up`; a VM is also brought
//! over as soon as it connects). One that could not be renewed is tried
//! at the next look; a failure is logged.
//!
//! Not here: renewing on request (`azlin certs rotate`, the `certs`
//! handler).

use std::{sync::Arc, time::Duration};

use crate::{
    daemon::{
        Daemon,
        agents::{ca_rotation, renew},
    },
    state::{CertRow, now_unix},
};

/// The longest gap between looks; a short certificate life is looked at
/// more often (a tenth of it).
const EVERY_AT_MOST: Duration = Duration::from_secs(60);

/// When a certificate is due for renewal: two thirds into its life.
pub fn due_at(cert: &CertRow) -> i64 {
    cert.issued_at + (cert.not_after - cert.issued_at) * 2 / 3
}

pub fn spawn(d: Arc<Daemon>) {
    tokio::spawn(async move {
        loop {
            let life = d.config().daemon.agent_cert_secs;
            let every = Duration::from_secs((life / 10).max(1)).min(EVERY_AT_MOST);
            tokio::time::sleep(every).await;
            let rows = match d.db.lock().expect("db lock").vms() {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!("cannot read the fleet: {e:#}");
                    continue;
                }
            };
            let behind = if d.pki().overlapping() {
                ca_rotation::behind(&d).unwrap_or_default()
            } else {
                Vec::new()
            };
            for row in rows {
                let Some(serial) = &row.cert_serial else {
                    continue;
                };
                if d.fleet.connection(&row.name).is_none() {
                    continue;
                }
                if behind.contains(&row.name) {
                    if let Err(e) = ca_rotation::catch_up(&d, &row.name).await {
                        tracing::warn!(vm = %row.name, "cannot bring it over to the current fleet CA: {e:#}");
                    }
                    continue;
                }
                let cert = match d.db.lock().expect("db lock").cert(serial) {
                    Ok(Some(c)) => c,
                    _ => continue,
                };
                if now_unix() < due_at(&cert) {
                    continue;
                }
                if let Err(e) = renew::renew(&d, &row.name).await {
                    tracing::warn!(vm = %row.name, "cannot renew the agent's certificate: {e:#}");
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_two_thirds_into_the_life() {
        let c = CertRow {
            serial: "s".into(),
            vm: "v".into(),
            issued_at: 1000,
            not_after: 1000 + 300,
            revoked_at: None,
        };
        assert_eq!(due_at(&c), 1200);
    }
}
