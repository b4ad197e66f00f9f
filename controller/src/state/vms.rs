//! The `vms` table: every VM the controller manages.

use anyhow::{Context, Result, bail};
use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{Db, now_unix};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VmState {
    Provisioning,
    Running,
    Stopped,
    Failed,
}

impl VmState {
    pub fn as_str(self) -> &'static str {
        match self {
            VmState::Provisioning => "provisioning",
            VmState::Running => "running",
            VmState::Stopped => "stopped",
            VmState::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "provisioning" => VmState::Provisioning,
            "running" => VmState::Running,
            "stopped" => VmState::Stopped,
            _ => VmState::Failed,
        }
    }
}

/// Who dials whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectMode {
    /// The agent listens; the daemon dials `address`.
    Listen,
    /// The agent dials the daemon's listener.
    Dial,
}

impl ConnectMode {
    fn as_str(self) -> &'static str {
        match self {
            ConnectMode::Listen => "listen",
            ConnectMode::Dial => "dial",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VmRow {
    pub name: String,
    pub provider: String,
    pub state: VmState,
    pub connect_mode: ConnectMode,
    pub address: Option<String>,
    pub created_at: i64,
    pub cert_serial: Option<String>,
    pub provider_data: String,
}

impl VmRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            name: r.get(0)?,
            provider: r.get(1)?,
            state: VmState::parse(&r.get::<_, String>(2)?),
            connect_mode: if r.get::<_, String>(3)? == "dial" {
                ConnectMode::Dial
            } else {
                ConnectMode::Listen
            },
            address: r.get(4)?,
            created_at: r.get(5)?,
            cert_serial: r.get(6)?,
            provider_data: r.get(7)?,
        })
    }
}

const COLUMNS: &str =
    "name, provider, state, connect_mode, address, created_at, cert_serial, provider_data";

/// Add `vm`'s row on `conn` (a connection or a transaction); a name in use
/// is an error.
pub(super) fn insert_row(conn: &rusqlite::Connection, vm: &VmRow) -> Result<()> {
    let inserted = conn.execute(
        &format!("INSERT OR IGNORE INTO vms ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            vm.name,
            vm.provider,
            vm.state.as_str(),
            vm.connect_mode.as_str(),
            vm.address,
            vm.created_at,
            vm.cert_serial,
            vm.provider_data
        ],
    )?;
    if inserted == 0 {
        bail!("a VM named {} already exists", vm.name);
    }
    Ok(())
}

impl Db {
    pub fn insert_vm(&mut self, vm: &VmRow) -> Result<()> {
        insert_row(&self.conn, vm)
    }

    pub fn vm(&self, name: &str) -> Result<Option<VmRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM vms WHERE name = ?1"),
                [name],
                VmRow::from_row,
            )
            .optional()?)
    }

    pub fn vms(&self) -> Result<Vec<VmRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM vms ORDER BY name"))?;
        let rows = stmt.query_map([], VmRow::from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn set_vm_state(&mut self, name: &str, state: VmState) -> Result<()> {
        self.conn.execute(
            "UPDATE vms SET state = ?2 WHERE name = ?1",
            params![name, state.as_str()],
        )?;
        Ok(())
    }

    pub fn set_vm_provider_data(&mut self, name: &str, data: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE vms SET provider_data = ?2 WHERE name = ?1",
            params![name, data],
        )?;
        Ok(())
    }

    /// Forget a VM: its row and unused tokens go, its certificates are
    /// revoked (kept, so a returning agent is refused with a reason).
    pub fn remove_vm(&mut self, name: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        let now = now_unix();
        tx.execute(
            "UPDATE certs SET revoked_at = ?2 WHERE vm = ?1 AND revoked_at IS NULL",
            params![name, now],
        )?;
        tx.execute("DELETE FROM tokens WHERE vm = ?1", [name])?;
        tx.execute("DELETE FROM metrics WHERE vm = ?1", [name])?;
        tx.execute("DELETE FROM vm_tags WHERE vm = ?1", [name])?;
        // Its alerts end with it; their history stays.
        tx.execute("DELETE FROM alerts_active WHERE vm = ?1", [name])?;
        // No more snapshots of it; those it has are kept (and listed).
        tx.execute("DELETE FROM snapshot_schedules WHERE vm = ?1", [name])?;
        tx.execute("DELETE FROM vms WHERE name = ?1", [name])?;
        tx.commit().context("cannot remove VM from state.db")?;
        Ok(())
    }
}

impl Db {
    /// A VM its provider made, adopted or started: its provider data, its
    /// address when it has a (new) one, and running, in one transaction.
    pub fn set_vm_running(
        &mut self,
        name: &str,
        provider_data: &str,
        address: Option<&str>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE vms SET provider_data = ?2, state = ?3 WHERE name = ?1",
            params![name, provider_data, VmState::Running.as_str()],
        )?;
        if let Some(address) = address {
            tx.execute(
                "UPDATE vms SET address = ?2 WHERE name = ?1",
                params![name, address],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn set_vm_address(&mut self, name: &str, address: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE vms SET address = ?2 WHERE name = ?1",
            params![name, address],
        )?;
        Ok(())
    }
}
