//! The `snapshots` table: every snapshot azlin took and still keeps, with
//! the VM it is of, its provider, when and why it was taken (`manual` or
//! `schedule`), what the provider needs to find it again (JSON), and how
//! the VM was held still meanwhile. A row is written only once the
//! provider has made the snapshot, and removed only once the provider
//! has deleted it: a crash in between leaves a snapshot azlin still knows.
//!
//! And the `snapshot_schedules` table: one per VM, a snapshot every
//! `every_secs` keeping the newest `keep` the schedule took, and when it
//! last ran (unix seconds; the next is due `every_secs` after, so one
//! missed while the daemon was down is due at its next start).

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

use super::Db;

#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRow {
    pub name: String,
    pub vm: String,
    pub provider: String,
    pub created_at: i64,
    pub origin: String,
    pub provider_data: String,
    pub held: Option<String>,
}

const COLUMNS: &str = "name, vm, provider, created_at, origin, provider_data, held";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SnapshotRow> {
    Ok(SnapshotRow {
        name: r.get(0)?,
        vm: r.get(1)?,
        provider: r.get(2)?,
        created_at: r.get(3)?,
        origin: r.get(4)?,
        provider_data: r.get(5)?,
        held: r.get(6)?,
    })
}

impl Db {
    /// Record a snapshot; a name already taken is refused.
    pub fn add_snapshot(&self, s: &SnapshotRow) -> Result<()> {
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO snapshots ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?
            .execute(params![
                s.name,
                s.vm,
                s.provider,
                s.created_at,
                s.origin,
                s.provider_data,
                s.held
            ])?;
        Ok(())
    }

    pub fn snapshot(&self, name: &str) -> Result<Option<SnapshotRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM snapshots WHERE name = ?1"))?
            .query_row(params![name], row)
            .optional()?)
    }

    /// Every snapshot (of `vm` only, when given), oldest first.
    pub fn snapshots(&self, vm: Option<&str>) -> Result<Vec<SnapshotRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM snapshots WHERE ?1 IS NULL OR vm = ?1 \
             ORDER BY created_at, name"
        ))?;
        let rows = stmt.query_map(params![vm], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn delete_snapshot(&self, name: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM snapshots WHERE name = ?1")?
            .execute(params![name])?;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotScheduleRow {
    pub vm: String,
    pub every_secs: i64,
    pub keep: u32,
    pub last_run: i64,
}

impl SnapshotScheduleRow {
    /// When the next snapshot is due (unix seconds).
    pub fn due(&self) -> i64 {
        self.last_run.saturating_add(self.every_secs)
    }
}

impl Db {
    /// Set `vm`'s schedule; one set again keeps when it last ran.
    pub fn set_snapshot_schedule(&self, vm: &str, every_secs: i64, keep: u32) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO snapshot_schedules (vm, every_secs, keep) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (vm) DO UPDATE SET every_secs = ?2, keep = ?3",
            )?
            .execute(params![vm, every_secs, keep])?;
        Ok(())
    }

    pub fn snapshot_schedules(&self) -> Result<Vec<SnapshotScheduleRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT vm, every_secs, keep, last_run FROM snapshot_schedules ORDER BY vm",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SnapshotScheduleRow {
                vm: r.get(0)?,
                every_secs: r.get(1)?,
                keep: r.get(2)?,
                last_run: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn snapshot_schedule_ran(&self, vm: &str, at: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE snapshot_schedules SET last_run = ?2 WHERE vm = ?1")?
            .execute(params![vm, at])?;
        Ok(())
    }

    /// Remove `vm`'s schedule; whether it had one.
    pub fn clear_snapshot_schedule(&self, vm: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM snapshot_schedules WHERE vm = ?1")?
            .execute(params![vm])?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(name: &str, vm: &str, at: i64) -> SnapshotRow {
        SnapshotRow {
            name: name.into(),
            vm: vm.into(),
            provider: "local".into(),
            created_at: at,
            origin: "manual".into(),
            provider_data: "{}".into(),
            held: None,
        }
    }

    #[test]
    fn snapshots_are_kept_by_name_listed_oldest_first_and_deleted() {
        let db = Db::in_memory();
        db.add_snapshot(&snap("b", "dev", 20)).unwrap();
        db.add_snapshot(&snap("a", "dev", 10)).unwrap();
        db.add_snapshot(&snap("c", "other", 5)).unwrap();
        assert!(db.add_snapshot(&snap("a", "other", 30)).is_err());
        let names = |rows: Vec<SnapshotRow>| rows.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(names(db.snapshots(Some("dev")).unwrap()), ["a", "b"]);
        assert_eq!(names(db.snapshots(None).unwrap()), ["c", "a", "b"]);
        db.delete_snapshot("a").unwrap();
        assert_eq!(db.snapshot("a").unwrap(), None);
        assert_eq!(db.snapshot("b").unwrap().unwrap().vm, "dev");
    }

    #[test]
    fn a_schedule_set_again_keeps_when_it_last_ran() {
        let db = Db::in_memory();
        db.set_snapshot_schedule("dev", 60, 3).unwrap();
        db.snapshot_schedule_ran("dev", 1000).unwrap();
        db.set_snapshot_schedule("dev", 120, 5).unwrap();
        let rows = db.snapshot_schedules().unwrap();
        assert_eq!(
            rows,
            [SnapshotScheduleRow {
                vm: "dev".into(),
                every_secs: 120,
                keep: 5,
                last_run: 1000
            }]
        );
        assert_eq!(rows[0].due(), 1120);
        assert!(db.clear_snapshot_schedule("dev").unwrap());
        assert!(!db.clear_snapshot_schedule("dev").unwrap());
    }
}
