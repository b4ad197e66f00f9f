//! The `tokens` table: one-time join tokens, stored as verifiers only.

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

use super::{Db, now_unix};

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub vm: String,
    /// As `azlin_protocol::enroll::Verifier::to_stored` made it.
    pub verifier: Vec<u8>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Why a token may not be used, or that it may.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenCheck {
    Usable,
    Unknown,
    Used,
    Expired { at: i64 },
}

/// The longest a join token may live: 30 days.
pub const MAX_TOKEN_TTL_SECS: i64 = 30 * 86400;

/// Add a token's row on `conn` (a connection or a transaction); a
/// lifetime outside 1 s to [`MAX_TOKEN_TTL_SECS`] is refused, never
/// wrapped.
pub(super) fn insert_row(
    conn: &rusqlite::Connection,
    id: &str,
    vm: &str,
    verifier: &[u8],
    ttl_secs: u64,
) -> Result<()> {
    let now = now_unix();
    let expires_at = i64::try_from(ttl_secs)
        .ok()
        .filter(|t| (1..=MAX_TOKEN_TTL_SECS).contains(t))
        .and_then(|t| now.checked_add(t))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "a token's lifetime must be 1 s to {} days ({ttl_secs} s asked)",
                MAX_TOKEN_TTL_SECS / 86400
            )
        })?;
    conn.execute(
        "INSERT INTO tokens (id, vm, verifier, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, vm, verifier, now, expires_at],
    )?;
    Ok(())
}

impl Db {
    pub fn insert_token(
        &mut self,
        id: &str,
        vm: &str,
        verifier: &[u8],
        ttl_secs: u64,
    ) -> Result<()> {
        insert_row(&self.conn, id, vm, verifier, ttl_secs)
    }

    pub fn token(&self, id: &str) -> Result<Option<TokenRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, vm, verifier, expires_at, used_at FROM tokens WHERE id = ?1",
                [id],
                |r| {
                    Ok(TokenRow {
                        id: r.get(0)?,
                        vm: r.get(1)?,
                        verifier: r.get(2)?,
                        expires_at: r.get(3)?,
                        used_at: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn check_token(&self, id: &str) -> Result<(TokenCheck, Option<TokenRow>)> {
        let Some(row) = self.token(id)? else {
            return Ok((TokenCheck::Unknown, None));
        };
        let check = if row.used_at.is_some() {
            TokenCheck::Used
        } else if row.expires_at <= now_unix() {
            TokenCheck::Expired { at: row.expires_at }
        } else {
            TokenCheck::Usable
        };
        Ok((check, Some(row)))
    }

    /// For tests and tools: age a token so it has expired.
    pub fn expire_token(&mut self, id: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE tokens SET expires_at = ?2 WHERE id = ?1",
            params![id, now_unix() - 1],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lifetime_that_would_wrap_or_never_end_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("state.db")).unwrap();
        for ttl in [0, u64::MAX, i64::MAX as u64, MAX_TOKEN_TTL_SECS as u64 + 1] {
            let e = db.insert_token("t", "vm", &[0; 32], ttl).unwrap_err();
            assert!(e.to_string().contains("1 s to 30 days"), "{ttl}: {e}");
        }
        db.insert_token("t", "vm", &[0; 32], 60).unwrap();
    }
}
