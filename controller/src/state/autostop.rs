//! The `autostop` table: VMs deallocated after being idle for a while,
//! with the CPU figure below which they count as idle, until when a
//! `keepalive` holds them, when they were last seen in use, and whether
//! the warning for this idle stretch went out (so a daemon restart
//! neither forgets the stretch nor warns twice).

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

use super::Db;

#[derive(Debug, Clone, PartialEq)]
pub struct AutostopRow {
    pub vm: String,
    pub idle_secs: i64,
    pub cpu_below: f64,
    pub keepalive_until: i64,
    pub last_busy: i64,
    pub warned: bool,
}

const COLUMNS: &str = "vm, idle_secs, cpu_below, keepalive_until, last_busy, warned";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AutostopRow> {
    Ok(AutostopRow {
        vm: r.get(0)?,
        idle_secs: r.get(1)?,
        cpu_below: r.get(2)?,
        keepalive_until: r.get(3)?,
        last_busy: r.get(4)?,
        warned: r.get::<_, i64>(5)? != 0,
    })
}

impl Db {
    pub fn set_autostop(&self, a: &AutostopRow) -> Result<()> {
        self.conn
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO autostop ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?
            .execute(params![
                a.vm,
                a.idle_secs,
                a.cpu_below,
                a.keepalive_until,
                a.last_busy,
                i64::from(a.warned)
            ])?;
        Ok(())
    }

    pub fn autostop(&self, vm: &str) -> Result<Option<AutostopRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM autostop WHERE vm = ?1"))?
            .query_row(params![vm], row)
            .optional()?)
    }

    pub fn autostops(&self) -> Result<Vec<AutostopRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM autostop ORDER BY vm"))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn clear_autostop(&self, vm: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM autostop WHERE vm = ?1")?
            .execute(params![vm])?
            > 0)
    }
}
