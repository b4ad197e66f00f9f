//! The `vm_tags` table: `key=value` labels on VMs, for `--tag` selection
//! (and, on Azure, the resource tags).

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result, bail};
use rusqlite::params;

use super::Db;

/// Longest tag key and value (Azure's limits for resource tags).
const MAX_KEY: usize = 512;
const MAX_VALUE: usize = 256;

/// Parse `key=value`, refusing what no provider could store.
pub fn parse_tag(text: &str) -> Result<(String, String)> {
    let Some((key, value)) = text.split_once('=') else {
        bail!("tag {text:?} is not key=value");
    };
    check_key(key)?;
    if key
        .chars()
        .any(|c| c.is_control() || "<>%&\\?/".contains(c))
    {
        bail!("tag key {key:?} may not contain control characters or any of <>%&\\?/");
    }
    if value.len() > MAX_VALUE || value.chars().any(char::is_control) {
        bail!(
            "tag value {value:?} must be at most {MAX_VALUE} characters, none of them control characters"
        );
    }
    Ok((key.to_string(), value.to_string()))
}

/// A key's length, and no `=` (which would split `key=value` elsewhere).
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY || key.contains('=') {
        bail!("tag key {key:?} must be 1 to {MAX_KEY} characters without '='");
    }
    Ok(())
}

impl Db {
    pub fn tags(&self, vm: &str) -> Result<BTreeMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value FROM vm_tags WHERE vm = ?1")?;
        let rows = stmt.query_map([vm], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn all_tags(&self) -> Result<HashMap<String, BTreeMap<String, String>>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT vm, key, value FROM vm_tags")?;
        let mut out: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?;
        for row in rows {
            let (vm, k, v) = row?;
            out.entry(vm).or_default().insert(k, v);
        }
        Ok(out)
    }

    /// Set and remove tags on `vm` in one transaction.
    pub fn update_tags(
        &mut self,
        vm: &str,
        set: &[(String, String)],
        remove: &[String],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        for key in remove {
            tx.execute(
                "DELETE FROM vm_tags WHERE vm = ?1 AND key = ?2",
                params![vm, key],
            )?;
        }
        set_rows(&tx, vm, set)?;
        tx.commit().context("cannot save tags to state.db")
    }
}

/// Set `vm`'s tags on `conn` (a connection or a transaction).
pub(super) fn set_rows(
    conn: &rusqlite::Connection,
    vm: &str,
    set: &[(String, String)],
) -> Result<()> {
    for (k, v) in set {
        conn.execute(
            "INSERT INTO vm_tags (vm, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (vm, key) DO UPDATE SET value = excluded.value",
            params![vm, k, v],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_set_replaced_and_removed() {
        let mut db = Db::in_memory();
        let t = |k: &str, v: &str| (k.to_string(), v.to_string());
        db.update_tags("a", &[t("team", "web"), t("gpu", "yes")], &[])
            .unwrap();
        db.update_tags("a", &[t("team", "infra")], &["gpu".into()])
            .unwrap();
        assert_eq!(db.tags("a").unwrap(), BTreeMap::from([t("team", "infra")]));
        assert_eq!(db.all_tags().unwrap().len(), 1);
    }

    #[test]
    fn bad_tags_are_refused() {
        assert_eq!(
            parse_tag("team=a=b").unwrap(),
            ("team".into(), "a=b".into())
        );
        assert_eq!(
            parse_tag("empty=").unwrap(),
            ("empty".into(), String::new())
        );
        for bad in ["noequals", "=v", "a/b=1", "k=\x1b[2J"] {
            assert!(parse_tag(bad).is_err(), "{bad}");
        }
    }
}
