//! The `tokens` table: one-time join tokens, stored as verifiers only.

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

use super::{Db, now_unix};

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub vm: String,
    pub verifier: [u8; 32],
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

/// Add a token's row on `conn` (a connection or a transaction).
pub(super) fn insert_row(
    conn: &rusqlite::Connection,
    id: &str,
    vm: &str,
    verifier: &[u8; 32],
    ttl_secs: u64,
) -> Result<()> {
    let now = now_unix();
    conn.execute(
        "INSERT INTO tokens (id, vm, verifier, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, vm, verifier.as_slice(), now, now + ttl_secs as i64],
    )?;
    Ok(())
}

impl Db {
    pub fn insert_token(
        &mut self,
        id: &str,
        vm: &str,
        verifier: &[u8; 32],
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
                    let v: Vec<u8> = r.get(2)?;
                    Ok(TokenRow {
                        id: r.get(0)?,
                        vm: r.get(1)?,
                        verifier: v.try_into().unwrap_or([0u8; 32]),
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
