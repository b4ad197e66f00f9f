//! `state.db`: the controller's durable state in SQLite — VMs, join tokens,
//! issued certificates, metrics history, tags, alert history. WAL with
//! `synchronous = FULL`: once a call returns, its change survives a
//! `kill -9` or a power cut. Each operation that touches several rows is one
//! transaction.
//!
//! The file carries its schema version in `PRAGMA user_version`.
//! [`Db::open`] first reads it without writing anything (from the header, or
//! through a read-only connection when a write-ahead log is there) and
//! refuses a file from a newer azlin (a version past [`migrations::LATEST`]),
//! leaving it exactly as it was; only then does it set WAL mode and apply the missing forward migrations of
//! [`migrations`] in order, each in one transaction with its version bump.
//! A file written before versions existed (version 0 with the tables) is
//! adopted as version 1 with no data changed. The tables themselves are
//! defined only there; the submodules here read and write them.
//!
//! Only the daemon opens this database for writing.

pub mod alerts;
pub mod autostop;
pub mod budgets;
mod certs;
pub mod cost_days;
pub mod metrics;
pub mod migrations;
mod new_vms;
pub mod retail_prices;
pub mod schedules;
pub mod snapshots;
pub mod tags;
pub mod tokens;
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

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Db {
    /// Open (or create) `path` and bring its schema up to date; a file
    /// from a newer azlin is refused and left as it is.
    pub fn open(path: &Path) -> Result<Self> {
        // Before anything writes: WAL mode alone rewrites the header.
        migrations::refuse_newer(path)?;
        let mut conn = Connection::open(path)
            .with_context(|| format!("cannot open state database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(
            &mut conn,
            &path.display().to_string(),
            migrations::MIGRATIONS,
        )?;
        Ok(Self { conn })
    }

    #[cfg(test)]
    pub fn in_memory() -> Self {
        let mut conn = Connection::open_in_memory().unwrap();
        migrations::migrate(&mut conn, ":memory:", migrations::MIGRATIONS).unwrap();
        Self { conn }
    }
}
