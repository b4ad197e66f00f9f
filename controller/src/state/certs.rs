//! The `certs` table: every certificate the fleet CA issued, and its
//! revocation. Enrollment burns the token and records the certificate in one
//! transaction; a renewal records the new certificate first and makes it
//! the VM's current one once its agent has taken it.

use anyhow::{Result, bail};
use rusqlite::{OptionalExtension, params};

use super::{Db, now_unix};

#[derive(Debug, Clone)]
pub struct CertRow {
    pub serial: String,
    pub vm: String,
    pub issued_at: i64,
    pub not_after: i64,
    pub revoked_at: Option<i64>,
}

impl Db {
    /// Burn `token_id`, record the certificate, attach it to the VM — all or
    /// nothing. Fails if the token was used in the meantime.
    pub fn complete_enrollment(
        &mut self,
        token_id: &str,
        vm: &str,
        serial: &str,
        not_after: i64,
        pem: &str,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let now = now_unix();
        let burned = tx.execute(
            "UPDATE tokens SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![token_id, now],
        )?;
        if burned != 1 {
            bail!("join token was used or expired concurrently");
        }
        tx.execute(
            "INSERT INTO certs (serial, vm, issued_at, not_after, pem) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![serial, vm, now, not_after, pem],
        )?;
        let updated = tx.execute(
            "UPDATE vms SET cert_serial = ?2 WHERE name = ?1",
            params![vm, serial],
        )?;
        if updated != 1 {
            bail!("VM {vm} no longer exists");
        }
        tx.commit()?;
        Ok(())
    }

    /// The certificate `serial` as issued (PEM).
    pub fn cert_pem(&self, serial: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT pem FROM certs WHERE serial = ?1", [serial], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?
            .flatten())
    }

    pub fn cert(&self, serial: &str) -> Result<Option<CertRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT serial, vm, issued_at, not_after, revoked_at FROM certs WHERE serial = ?1",
                [serial],
                |r| {
                    Ok(CertRow {
                        serial: r.get(0)?,
                        vm: r.get(1)?,
                        issued_at: r.get(2)?,
                        not_after: r.get(3)?,
                        revoked_at: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Record a renewed certificate of `vm`, not yet its current one (its
    /// agent has not taken it yet).
    pub fn record_renewal(
        &mut self,
        vm: &str,
        serial: &str,
        not_after: i64,
        pem: &str,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO certs (serial, vm, issued_at, not_after, pem) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![serial, vm, now_unix(), not_after, pem],
        )?;
        Ok(())
    }

    /// Make `serial` (issued to `vm`, not revoked) the certificate `vm`'s
    /// agent must present from now on.
    pub fn make_current(&mut self, vm: &str, serial: &str) -> Result<()> {
        let updated = self.conn.execute(
            "UPDATE vms SET cert_serial = ?2 WHERE name = ?1 AND EXISTS
             (SELECT 1 FROM certs WHERE serial = ?2 AND vm = ?1 AND revoked_at IS NULL)",
            params![vm, serial],
        )?;
        if updated != 1 {
            bail!("certificate {serial} cannot be made {vm}'s (VM gone, or not its certificate)");
        }
        Ok(())
    }

    pub fn cert_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM certs", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ConnectMode, TokenCheck, VmRow, VmState};

    fn vm(name: &str) -> VmRow {
        VmRow {
            name: name.into(),
            provider: "local".into(),
            state: VmState::Running,
            connect_mode: ConnectMode::Listen,
            address: Some("127.0.0.1:1".into()),
            created_at: 1,
            cert_serial: None,
            provider_data: "{}".into(),
        }
    }

    #[test]
    fn enrollment_burns_token_once_and_kill_revokes() {
        let mut db = Db::in_memory();
        db.insert_vm(&vm("a")).unwrap();
        assert!(db.insert_vm(&vm("a")).is_err(), "duplicate name");
        db.insert_token("t1", "a", &[1; 32], 60).unwrap();
        assert_eq!(db.check_token("t1").unwrap().0, TokenCheck::Usable);
        db.complete_enrollment("t1", "a", "s1", 99, "pem").unwrap();
        assert_eq!(db.check_token("t1").unwrap().0, TokenCheck::Used);
        assert!(db.complete_enrollment("t1", "a", "s2", 99, "pem").is_err());
        assert_eq!(
            db.cert_count().unwrap(),
            1,
            "failed enrollment left nothing"
        );
        assert_eq!(
            db.vm("a").unwrap().unwrap().cert_serial.as_deref(),
            Some("s1")
        );
        db.set_snapshot_schedule("a", 3600, 7).unwrap();
        db.remove_vm("a").unwrap();
        assert!(db.vm("a").unwrap().is_none());
        assert!(db.snapshot_schedules().unwrap().is_empty());
        assert!(db.cert("s1").unwrap().unwrap().revoked_at.is_some());
        assert_eq!(db.check_token("t1").unwrap().0, TokenCheck::Unknown);
    }

    #[test]
    fn expired_token_cannot_enroll() {
        let mut db = Db::in_memory();
        db.insert_vm(&vm("a")).unwrap();
        db.insert_token("t1", "a", &[1; 32], 60).unwrap();
        db.expire_token("t1").unwrap();
        assert!(matches!(
            db.check_token("t1").unwrap().0,
            TokenCheck::Expired { .. }
        ));
        assert!(db.complete_enrollment("t1", "a", "s1", 99, "pem").is_err());
    }
}
