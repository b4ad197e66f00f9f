//! The `budgets` table: one monthly budget per scope (an Azure resource
//! group or subscription, by its lower-case ARM path), its amount in the
//! bill's currency and its thresholds (`50:notify,80:alert,100:stop`),
//! and the ARM id of the budget written to Azure too, if one was; how long
//! a `stop` waits after its notice, and when the notice of a stop still
//! to be carried out went (kept, so a restart neither loses nor repeats
//! it; replacing a budget keeps it: the check then decides). Which
//! thresholds have fired this month is not here: each crossing is an
//! alert event whose (vm, epoch, seq) is unique, so it is stored, and
//! sent, once.

use anyhow::{Result, anyhow};
use rusqlite::{OptionalExtension, params};

use super::{Db, now_unix};
use crate::cost::budget::{Threshold, parse_threshold};

/// One budget as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetRow {
    pub scope: String,
    pub words: String,
    pub subscription: String,
    /// `None`: the whole subscription.
    pub resource_group: Option<String>,
    pub amount: f64,
    pub thresholds: Vec<Threshold>,
    pub azure_budget: Option<String>,
    /// Seconds between a `stop` threshold's notice and the deallocation.
    pub stop_grace: i64,
    /// When the notice of a pending stop went (unix seconds).
    pub stop_noticed: Option<i64>,
}

fn thresholds_text(t: &[Threshold]) -> String {
    t.iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(BudgetRow, String)> {
    Ok((
        BudgetRow {
            scope: r.get(0)?,
            words: r.get(1)?,
            subscription: r.get(2)?,
            resource_group: r.get(3)?,
            amount: r.get(4)?,
            thresholds: Vec::new(),
            azure_budget: r.get(6)?,
            stop_grace: r.get(7)?,
            stop_noticed: r.get(8)?,
        },
        r.get(5)?,
    ))
}

fn parsed((mut b, text): (BudgetRow, String)) -> Result<BudgetRow> {
    b.thresholds = text
        .split(',')
        .filter(|t| !t.is_empty())
        .map(parse_threshold)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("the budget of {} in state.db: {e}", b.words))?;
    Ok(b)
}

const COLUMNS: &str = "scope, words, subscription, resource_group, amount, thresholds, \
                       azure_budget, stop_grace, stop_noticed";

impl Db {
    /// Set the budget of `b.scope`, replacing the one there.
    pub fn set_budget(&self, b: &BudgetRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO budgets (scope, words, subscription, resource_group, amount,
                   thresholds, azure_budget, created_at, stop_grace)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (scope) DO UPDATE SET words = excluded.words,
                   subscription = excluded.subscription, resource_group = excluded.resource_group,
                   amount = excluded.amount, thresholds = excluded.thresholds,
                   azure_budget = excluded.azure_budget, stop_grace = excluded.stop_grace",
            )?
            .execute(params![
                b.scope.to_ascii_lowercase(),
                b.words,
                b.subscription,
                b.resource_group,
                b.amount,
                thresholds_text(&b.thresholds),
                b.azure_budget,
                now_unix(),
                b.stop_grace
            ])?;
        Ok(())
    }

    /// Record the notice of a pending stop (`Some(at)`), or that none is
    /// pending any more.
    pub fn set_budget_stop_noticed(&self, scope: &str, at: Option<i64>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE budgets SET stop_noticed = ?2 WHERE scope = ?1")?
            .execute(params![scope.to_ascii_lowercase(), at])?;
        Ok(())
    }

    pub fn budget(&self, scope: &str) -> Result<Option<BudgetRow>> {
        let found = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM budgets WHERE scope = ?1"))?
            .query_row(params![scope.to_ascii_lowercase()], row)
            .optional()?;
        found.map(parsed).transpose()
    }

    pub fn budgets(&self) -> Result<Vec<BudgetRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM budgets ORDER BY scope"))?;
        let rows = stmt.query_map([], row)?;
        rows.map(|r| parsed(r?)).collect()
    }

    /// Remove the budget of `scope`; whether there was one.
    pub fn clear_budget(&self, scope: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM budgets WHERE scope = ?1")?
            .execute(params![scope.to_ascii_lowercase()])?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::budget::thresholds;

    #[test]
    fn a_budget_is_set_replaced_read_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("state.db")).unwrap();
        let mut b = BudgetRow {
            scope: "/subscriptions/S/resourceGroups/RG".into(),
            words: "resource group RG".into(),
            subscription: "S".into(),
            resource_group: Some("RG".into()),
            amount: 100.0,
            thresholds: thresholds(&["80:alert".into(), "100:stop".into()]).unwrap(),
            azure_budget: None,
            stop_grace: 600,
            stop_noticed: None,
        };
        db.set_budget(&b).unwrap();
        // A pending stop outlives replacing the budget.
        db.set_budget_stop_noticed(&b.scope, Some(42)).unwrap();
        b.amount = 150.0;
        db.set_budget(&b).unwrap();
        let got = db
            .budget("/subscriptions/s/resourcegroups/rg")
            .unwrap()
            .unwrap();
        assert_eq!(got.amount, 150.0);
        assert_eq!(got.thresholds, b.thresholds);
        assert_eq!((got.stop_grace, got.stop_noticed), (600, Some(42)));
        db.set_budget_stop_noticed(&b.scope, None).unwrap();
        assert_eq!(db.budgets().unwrap()[0].stop_noticed, None);
        assert_eq!(db.budgets().unwrap().len(), 1);
        assert!(db.clear_budget(&b.scope).unwrap());
        assert!(!db.clear_budget(&b.scope).unwrap());
        assert!(db.budget(&b.scope).unwrap().is_none());
    }
}
