//! The `metrics` table: each VM's figures over time, for graphs and for
//! answering "what was it doing an hour ago".
//!
//! Two resolutions keep a week of a large fleet a modest file: points every
//! [`RAW_STEP`] seconds (averages of the samples in that window) for the
//! last [`RAW_KEEP`] seconds, then [`COARSE_STEP`]-second averages until
//! the retention setting (7 days by default) drops them. [`Db::downsample`]
//! moves points from the first to the second in one transaction, so a
//! crash in between never loses or doubles a point.

use anyhow::{Context, Result};
use rusqlite::params;

use super::Db;
use crate::telemetry::live::Point;

/// Seconds between stored raw points.
pub const RAW_STEP: i64 = 10;
/// Seconds between downsampled points.
pub const COARSE_STEP: i64 = 300;
/// How long raw points are kept before being downsampled.
pub const RAW_KEEP: i64 = 6 * 3600;

/// What one [`Db::downsample`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Downsampled {
    pub merged: usize,
    pub expired: usize,
}

impl Db {
    /// Store one raw point per VM for the window starting at `t`.
    pub fn insert_points(&mut self, t: i64, points: &[(String, Point)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO metrics VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for (vm, p) in points {
                stmt.execute(params![
                    vm,
                    RAW_STEP,
                    t,
                    p.cpu,
                    p.load1,
                    p.memory_used,
                    p.memory_total,
                    p.disk_used,
                    p.disk_total,
                    p.rx,
                    p.tx,
                    p.tmux_sessions
                ])?;
            }
        }
        tx.commit().context("cannot store metrics")?;
        Ok(())
    }

    /// Average raw points older than [`RAW_KEEP`] into [`COARSE_STEP`]
    /// buckets, and drop everything older than `retention_secs`.
    pub fn downsample(&mut self, now: i64, retention_secs: i64) -> Result<Downsampled> {
        // Only whole buckets: the cut is aligned, so a bucket is merged once
        // with all its raw points.
        let cut = (now - RAW_KEEP).div_euclid(COARSE_STEP) * COARSE_STEP;
        let tx = self.conn.transaction()?;
        let merged = tx.execute(
            "INSERT OR REPLACE INTO metrics
             SELECT vm, ?1, (t / ?1) * ?1, avg(cpu), avg(load1), CAST(avg(memory_used) AS INTEGER),
                    max(memory_total), CAST(avg(disk_used) AS INTEGER), max(disk_total),
                    CAST(avg(rx) AS INTEGER), CAST(avg(tx) AS INTEGER), max(tmux_sessions)
             FROM metrics WHERE step = ?2 AND t < ?3 GROUP BY vm, t / ?1",
            params![COARSE_STEP, RAW_STEP, cut],
        )?;
        tx.execute(
            "DELETE FROM metrics WHERE step = ?1 AND t < ?2",
            params![RAW_STEP, cut],
        )?;
        let expired = tx.execute(
            "DELETE FROM metrics WHERE t < ?1",
            params![now - retention_secs],
        )?;
        tx.commit().context("cannot downsample metrics")?;
        Ok(Downsampled { merged, expired })
    }

    /// A VM's stored points since `since`, oldest first: (t, step, cpu,
    /// memory used).
    pub fn history(&self, vm: &str, since: i64) -> Result<Vec<(i64, i64, f64, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT t, step, cpu, memory_used FROM metrics WHERE vm = ?1 AND t >= ?2 ORDER BY t, step",
        )?;
        let rows = stmt
            .query_map(params![vm, since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A VM's stored points since `since`: (t, CPU percent, memory used
    /// percent).
    pub fn utilisation(&self, vm: &str, since: i64) -> Result<Vec<(i64, f64, f64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT t, cpu, memory_used, memory_total FROM metrics
             WHERE vm = ?1 AND t >= ?2 ORDER BY t",
        )?;
        let rows = stmt
            .query_map(params![vm, since], |r| {
                let (used, total): (i64, i64) = (r.get(2)?, r.get(3)?);
                let memory = if total > 0 {
                    100.0 * used as f64 / total as f64
                } else {
                    0.0
                };
                Ok((r.get(0)?, r.get(1)?, memory))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A VM's latest stored sample, and its latest with CPU at or above
    /// `busy_cpu` (unix seconds; `None`: there is none).
    pub fn activity(&self, vm: &str, busy_cpu: f64) -> Result<(Option<i64>, Option<i64>)> {
        Ok(self.conn.query_row(
            "SELECT max(t), max(CASE WHEN cpu >= ?2 THEN t END) FROM metrics WHERE vm = ?1",
            params![vm, busy_cpu],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    pub fn metrics_rows(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM metrics", [], |r| r.get(0))?)
    }

    /// Shrink the file after a large expiry (used by the size benchmark).
    pub fn vacuum(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(cpu: f64) -> Point {
        Point {
            cpu,
            load1: 0.0,
            memory_used: (cpu * 10.0) as i64,
            memory_total: 1000,
            disk_used: 1,
            disk_total: 2,
            rx: 0,
            tx: 0,
            tmux_sessions: 1,
        }
    }

    #[test]
    fn old_raw_points_become_bucket_averages_and_expire() {
        let mut db = Db::in_memory();
        let now = 1_000_000 * COARSE_STEP;
        let old = now - RAW_KEEP - 2 * COARSE_STEP;
        // Two whole old buckets of raw points (cpu 10 and 30, then 50).
        for i in 0..(COARSE_STEP / RAW_STEP) {
            let cpu = if i % 2 == 0 { 10.0 } else { 30.0 };
            db.insert_points(old + i * RAW_STEP, &[("a".into(), point(cpu))])
                .unwrap();
            db.insert_points(
                old + COARSE_STEP + i * RAW_STEP,
                &[("a".into(), point(50.0))],
            )
            .unwrap();
        }
        db.insert_points(now - 60, &[("a".into(), point(70.0))])
            .unwrap();
        db.insert_points(now - 8 * 86_400, &[("a".into(), point(1.0))])
            .unwrap();
        let done = db.downsample(now, 7 * 86_400).unwrap();
        assert_eq!(done.merged, 3, "two old buckets and the expired one");
        let h = db.history("a", 0).unwrap();
        assert_eq!(
            h,
            vec![
                (old, COARSE_STEP, 20.0, 200),
                (old + COARSE_STEP, COARSE_STEP, 50.0, 500),
                (now - 60, RAW_STEP, 70.0, 700),
            ]
        );
        // Running it again changes nothing.
        db.downsample(now, 7 * 86_400).unwrap();
        assert_eq!(db.history("a", 0).unwrap(), h);
    }
}
