//! Recording VMs as they are created or registered: each VM's row, its
//! tags and its first join token go in together or not at all, so a crash
//! or a refused name never leaves a VM without its token (it could never
//! enroll) or a token for no VM. A pool is one transaction.

use anyhow::{Context, Result};

use super::{Db, VmRow, tags, tokens, vms};

/// A VM to record, with its tags and join token (stored as its verifier).
pub struct NewVm<'a> {
    pub row: VmRow,
    pub tags: &'a [(String, String)],
    pub token_id: String,
    pub verifier: Vec<u8>,
    pub ttl_secs: u64,
}

impl Db {
    /// Record all of `new`, or none of it (a name in use refuses them all).
    pub fn add_vms(&mut self, new: &[NewVm]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for v in new {
            vms::insert_row(&tx, &v.row)?;
            tags::set_rows(&tx, &v.row.name, v.tags)?;
            tokens::insert_row(&tx, &v.token_id, &v.row.name, &v.verifier, v.ttl_secs)?;
        }
        tx.commit().context("cannot save the new VMs to state.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ConnectMode, VmState};

    fn new_vm<'a>(name: &str, tags: &'a [(String, String)]) -> NewVm<'a> {
        NewVm {
            row: VmRow {
                name: name.into(),
                provider: "local".into(),
                state: VmState::Provisioning,
                connect_mode: ConnectMode::Listen,
                address: None,
                created_at: 0,
                cert_serial: None,
                provider_data: "{}".into(),
            },
            tags,
            token_id: format!("token-of-{name}"),
            verifier: vec![7; 32],
            ttl_secs: 600,
        }
    }

    #[test]
    fn a_pool_is_recorded_whole_or_not_at_all() {
        let mut db = Db::in_memory();
        let tags = [("team".to_string(), "web".to_string())];
        db.add_vms(&[new_vm("a", &tags), new_vm("b", &tags)])
            .unwrap();
        assert_eq!(db.tags("b").unwrap()["team"], "web");
        assert_eq!(db.token("token-of-a").unwrap().unwrap().vm, "a");
        // "a" is taken: nothing of "c" stays either.
        let err = db
            .add_vms(&[new_vm("c", &tags), new_vm("a", &tags)])
            .unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert!(db.vm("c").unwrap().is_none());
        assert!(db.tags("c").unwrap().is_empty());
        assert!(db.token("token-of-c").unwrap().is_none());
    }
}
