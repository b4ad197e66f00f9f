//! `state.db`: the controller's durable state in SQLite — VMs, join tokens,
//! issued certificates, metrics history, tags, alert history. WAL with `synchronous = FULL`: once a call returns,
//! its change survives a `kill -9` or a power cut. Each operation that
//! touches several rows is one transaction.
//!
//! Only the daemon opens this database for writing.

pub mod alerts;
mod certs;
pub mod metrics;
mod new_vms;
pub mod tags;
mod tokens;
mod vms;

pub use certs::CertRow;
pub use new_vms::NewVm;
pub use tokens::{TokenCheck, TokenRow};
pub use vms::{ConnectMode, VmRow, VmState};

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::Connection;

pub struct Db {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS vms (
    name TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    state TEXT NOT NULL,
    connect_mode TEXT NOT NULL,
    address TEXT,
    created_at INTEGER NOT NULL,
    cert_serial TEXT,
    provider_data TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    vm TEXT NOT NULL,
    verifier BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE TABLE IF NOT EXISTS certs (
    serial TEXT PRIMARY KEY,
    vm TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    revoked_at INTEGER,
    pem TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS certs_by_vm ON certs(vm);
";

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Db {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open state database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)
            .and_then(|()| conn.execute_batch(metrics::SCHEMA))
            .and_then(|()| conn.execute_batch(tags::SCHEMA))
            .and_then(|()| conn.execute_batch(alerts::SCHEMA))
            .with_context(|| format!("cannot prepare {}", path.display()))?;
        Ok(Self { conn })
    }

    #[cfg(test)]
    pub fn in_memory() -> Self {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(metrics::SCHEMA).unwrap();
        conn.execute_batch(tags::SCHEMA).unwrap();
        conn.execute_batch(alerts::SCHEMA).unwrap();
        Self { conn }
    }
}
