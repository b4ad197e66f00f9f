//! Binding the agent's identity to the machine it was made on, so that a
//! copy of the VM's disk booted elsewhere (an Azure VM made by attaching a
//! disk copied from a snapshot: `azlin clone`) never comes up as the VM it
//! was copied from.
//!
//! The machine is named by its hardware: the DMI product UUID, which Azure
//! gives each VM and which a disk does not carry ([`DMI_UUID`]; a host
//! whose hypervisor exposes none may name another file in
//! [`UUID_FILE_ENV`]). The state folder records the UUID its key was made
//! under (`machine`). An agent that finds a key made under another UUID
//! does not use it: it parks ([`Copied`]), connecting to nothing, until the
//! VM is given an identity of its own (Run Command clears the state folder
//! and writes a new join token) and the agent is started again.
//!
//! A machine with no readable UUID (a container, or an agent not running
//! as root) is not bound: its agent says so by not announcing
//! [`CAP_MACHINE_BOUND`], and the controller then copies no disk of it.
//!
//! Not here: the key itself (`credentials`), what the controller does
//! with a copy (its `clone`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use azlin_protocol::secret_file::write_atomic;

pub use azlin_protocol::enroll::CAP_MACHINE_BOUND;

/// Where Linux shows the machine's hardware UUID (root only).
pub const DMI_UUID: &str = "/sys/class/dmi/id/product_uuid";
/// Names another file to read the machine's UUID from, for hosts whose
/// hypervisor exposes no DMI.
pub const UUID_FILE_ENV: &str = "AZLIN_MACHINE_UUID_FILE";
/// The state folder's record of the UUID its key was made under.
const RECORD: &str = "machine";
/// Longer than any UUID: a file this long names no machine.
const MAX_UUID: usize = 128;

/// The agent's key was made on another machine than this one.
#[derive(Debug, thiserror::Error)]
#[error(
    "this disk was copied from another machine (its agent key was made on machine {recorded}, \
     this is {current}): the key belongs to the VM it was copied from and is not used here. \
     The VM needs an identity of its own (`azlin clone` gives it one through Run Command)"
)]
pub struct Copied {
    pub recorded: String,
    pub current: String,
}

/// This machine's UUID, lower-case, if it has a readable one.
pub fn current() -> Option<String> {
    let path = std::env::var_os(UUID_FILE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DMI_UUID));
    read_uuid(&path)
}

fn read_uuid(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let uuid = text.trim().to_ascii_lowercase();
    (!uuid.is_empty()
        && uuid.len() <= MAX_UUID
        && uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
    .then_some(uuid)
}

/// Check the state folder's key against `machine` (this machine's UUID,
/// [`current`]) before the key is used: `Ok(true)` when the key is this
/// machine's (recorded now if it was not), `Ok(false)` when the machine
/// has no UUID, [`Copied`] when the key was made on another machine.
pub fn bind(state_dir: &Path, machine: Option<&str>) -> Result<bool> {
    let Some(machine) = machine else {
        return Ok(false);
    };
    let record = state_dir.join(RECORD);
    let recorded = read_uuid(&record);
    let has_key = state_dir.join("agent.key").exists();
    if let Some(recorded) = recorded.as_deref()
        && recorded != machine
        && has_key
    {
        return Err(Copied {
            recorded: recorded.to_string(),
            current: machine.to_string(),
        }
        .into());
    }
    if recorded.as_deref() != Some(machine) {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("cannot create state folder {}", state_dir.display()))?;
        write_atomic(&record, format!("{machine}\n").as_bytes(), 0o600)
            .with_context(|| format!("cannot write {}", record.display()))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    const B: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn a_key_is_bound_to_the_machine_it_was_first_seen_on() {
        let dir = tempfile::tempdir().unwrap();
        assert!(bind(dir.path(), Some(A)).unwrap());
        std::fs::write(dir.path().join("agent.key"), "key").unwrap();
        assert!(bind(dir.path(), Some(A)).unwrap());
        let err = bind(dir.path(), Some(B)).unwrap_err();
        let copied = err.downcast_ref::<Copied>().expect("a copy is told apart");
        assert_eq!((copied.recorded.as_str(), copied.current.as_str()), (A, B));
        // Refused, the record stays the original machine's.
        assert_eq!(read_uuid(&dir.path().join(RECORD)).as_deref(), Some(A));
    }

    #[test]
    fn a_cleared_identity_is_bound_afresh_and_an_old_one_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        // A key from before binding: the first machine seen owns it.
        std::fs::write(dir.path().join("agent.key"), "key").unwrap();
        assert!(bind(dir.path(), Some(A)).unwrap());
        // The identity cleared (as a clone's Run Command does): the new
        // machine's from now on.
        std::fs::remove_file(dir.path().join("agent.key")).unwrap();
        assert!(bind(dir.path(), Some(B)).unwrap());
        assert_eq!(read_uuid(&dir.path().join(RECORD)).as_deref(), Some(B));
    }

    #[test]
    fn no_machine_uuid_binds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!bind(dir.path(), None).unwrap());
        assert!(!dir.path().join(RECORD).exists());
        let bad = dir.path().join("uuid");
        for text in ["", "\n", "not a uuid!", &"a".repeat(MAX_UUID + 1)] {
            std::fs::write(&bad, text).unwrap();
            assert_eq!(read_uuid(&bad), None, "{text:?}");
        }
        std::fs::write(&bad, format!("{}\n", A.to_ascii_uppercase())).unwrap();
        assert_eq!(read_uuid(&bad).as_deref(), Some(A));
    }
}
