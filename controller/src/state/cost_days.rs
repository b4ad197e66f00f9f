//! The `cost_days` table: each day's total cost of a scope (an Azure
//! resource group or subscription, by its lower-case ARM path) as Azure
//! last reported it, for `azlin cost history`. A day is written again
//! whenever it is fetched (the latest figure wins; writing the same day
//! twice changes nothing else), days older than [`KEEP_DAYS`] go, and a
//! day Azure reported nothing for has no row: "no data", never zero.

use anyhow::Result;
use rusqlite::params;

use super::{Db, now_unix};
use crate::cost::dates::Day;

/// How long days are kept.
pub const KEEP_DAYS: i64 = 400;

impl Db {
    /// Keep `days` (day, cost) of `scope`, in one transaction, and drop
    /// what is older than [`KEEP_DAYS`] before `today`.
    pub fn keep_cost_days(
        &mut self,
        scope: &str,
        currency: &str,
        days: &[(Day, f64)],
        today: Day,
    ) -> Result<()> {
        let scope = scope.to_ascii_lowercase();
        let tx = self.conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO cost_days (scope, day, cost, currency, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (scope, day) DO UPDATE SET
                   cost = excluded.cost, currency = excluded.currency,
                   fetched_at = excluded.fetched_at",
            )?;
            for (day, cost) in days {
                put.execute(params![scope, day.to_string(), cost, currency, now_unix()])?;
            }
            tx.execute(
                "DELETE FROM cost_days WHERE day < ?1",
                params![today.plus(-KEEP_DAYS).to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The kept days of `scope` from `from` on, oldest first, with their
    /// currency.
    pub fn cost_days(&self, scope: &str, from: Day) -> Result<Vec<(Day, f64, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT day, cost, currency FROM cost_days
             WHERE scope = ?1 AND day >= ?2 ORDER BY day",
        )?;
        let rows = stmt.query_map(params![scope.to_ascii_lowercase(), from.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, f64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (day, cost, currency) = row?;
            // A row this build cannot read is skipped, not fatal.
            if let Ok(day) = Day::parse(&day) {
                out.push((day, cost, currency));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_kept_once_updated_in_place_and_dropped_when_old() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("state.db")).unwrap();
        let d = |s: &str| Day::parse(s).unwrap();
        let today = d("2026-12-04");
        let scope = "/subscriptions/S/resourceGroups/RG";
        db.keep_cost_days(
            scope,
            "USD",
            &[(d("2026-12-01"), 1.0), (d("2026-12-02"), 2.0)],
            today,
        )
        .unwrap();
        db.keep_cost_days(scope, "USD", &[(d("2026-12-02"), 2.5)], today)
            .unwrap();
        db.keep_cost_days(scope, "USD", &[(d("2025-10-01"), 9.0)], today)
            .unwrap();
        let kept = db
            .cost_days(&scope.to_ascii_lowercase(), d("2020-01-01"))
            .unwrap();
        assert_eq!(
            kept,
            vec![
                (d("2026-12-01"), 1.0, "USD".to_string()),
                (d("2026-12-02"), 2.5, "USD".to_string())
            ]
        );
        assert!(db.cost_days("/other", d("2020-01-01")).unwrap().is_empty());
    }
}
