//! The `budgets` table: one monthly budget per scope (an Azure resource
//! group or subscription, by its lower-case ARM path), its amount in the
//! bill's currency and its thresholds (`50:notify,80:alert,100:stop`),
//! and the ARM id of the budget written to Azure too, if one was. Which
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

const COLUMNS: &str =
    "scope, words, subscription, resource_group, amount, thresholds, azure_budget";

impl Db {
    /// Set the budget of `b.scope`, replacing the one there.
    pub fn set_budget(&self, b: &BudgetRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO budgets (scope, words, subscription, resource_group, amount,
                   thresholds, azure_budget, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (scope) DO UPDATE SET words = excluded.words,
                   subscription = excluded.subscription, resource_group = excluded.resource_group,
                   amount = excluded.amount, thresholds = excluded.thresholds,
                   azure_budget = excluded.azure_budget",
            )?
            .execute(params![
                b.scope.to_ascii_lowercase(),
                b.words,
                b.subscription,
                b.resource_group,
                b.amount,
                thresholds_text(&b.thresholds),
                b.azure_budget,
                now_unix()
            ])?;
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
        };
        db.set_budget(&b).unwrap();
        b.amount = 150.0;
        db.set_budget(&b).unwrap();
        let got = db
            .budget("/subscriptions/s/resourcegroups/rg")
            .unwrap()
            .unwrap();
        assert_eq!(got.amount, 150.0);
        assert_eq!(got.thresholds, b.thresholds);
        assert_eq!(db.budgets().unwrap().len(), 1);
        assert!(db.clear_budget(&b.scope).unwrap());
        assert!(!db.clear_budget(&b.scope).unwrap());
        assert!(db.budget(&b.scope).unwrap().is_none());
    }
}
