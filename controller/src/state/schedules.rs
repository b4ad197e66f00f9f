//! The `schedules` table: one power schedule per VM (stop time, optional
//! start time, days as a Monday-first bit mask, the start's own days when
//! they differ, IANA zone), the latest
//! stop and start events already handled (unix seconds; an event at or
//! before them is never acted on again, so a restart neither repeats nor
//! runs late what was handled), and the ARM id of the VM's Azure
//! auto-shutdown resource when one was written.

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

use super::Db;

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRow {
    pub vm: String,
    /// `HH:MM`.
    pub stop: String,
    pub start: Option<String>,
    pub days: u8,
    /// The start's days; `None`: `days`.
    pub start_days: Option<u8>,
    pub tz: String,
    pub done_stop: i64,
    pub done_start: i64,
    pub auto_shutdown: Option<String>,
}

const COLUMNS: &str = "vm, stop, start, days, tz, done_stop, done_start, auto_shutdown, start_days";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScheduleRow> {
    Ok(ScheduleRow {
        vm: r.get(0)?,
        stop: r.get(1)?,
        start: r.get(2)?,
        days: r.get::<_, i64>(3)? as u8,
        tz: r.get(4)?,
        done_stop: r.get(5)?,
        done_start: r.get(6)?,
        auto_shutdown: r.get(7)?,
        start_days: r.get::<_, Option<i64>>(8)?.map(|d| d as u8),
    })
}

impl Db {
    pub fn set_schedule(&self, s: &ScheduleRow) -> Result<()> {
        self.conn
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO schedules ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?
            .execute(params![
                s.vm,
                s.stop,
                s.start,
                i64::from(s.days),
                s.tz,
                s.done_stop,
                s.done_start,
                s.auto_shutdown,
                s.start_days.map(i64::from)
            ])?;
        Ok(())
    }

    pub fn schedule(&self, vm: &str) -> Result<Option<ScheduleRow>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM schedules WHERE vm = ?1"))?
            .query_row(params![vm], row)
            .optional()?)
    }

    pub fn schedules(&self) -> Result<Vec<ScheduleRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM schedules ORDER BY vm"))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Record the stop (`start == false`) or start event at `at` handled.
    pub fn schedule_done(&self, vm: &str, start: bool, at: i64) -> Result<()> {
        let sql = if start {
            "UPDATE schedules SET done_start = max(done_start, ?2) WHERE vm = ?1"
        } else {
            "UPDATE schedules SET done_stop = max(done_stop, ?2) WHERE vm = ?1"
        };
        self.conn.prepare_cached(sql)?.execute(params![vm, at])?;
        Ok(())
    }

    pub fn clear_schedule(&self, vm: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM schedules WHERE vm = ?1")?
            .execute(params![vm])?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_is_kept_marked_done_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("state.db")).unwrap();
        let s = ScheduleRow {
            vm: "web".into(),
            stop: "19:00".into(),
            start: Some("08:00".into()),
            days: 0b11111,
            start_days: Some(1),
            tz: "Europe/Berlin".into(),
            done_stop: 10,
            done_start: 10,
            auto_shutdown: None,
        };
        db.set_schedule(&s).unwrap();
        db.schedule_done("web", false, 100).unwrap();
        db.schedule_done("web", false, 50).unwrap();
        let got = db.schedule("web").unwrap().unwrap();
        assert_eq!((got.done_stop, got.done_start), (100, 10));
        assert_eq!(got.start_days, Some(1));
        assert_eq!(db.schedules().unwrap().len(), 1);
        assert!(db.clear_schedule("web").unwrap());
        assert!(db.schedule("web").unwrap().is_none());
    }
}
