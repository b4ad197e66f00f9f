//! Replacing an agent's binary over its own connection ([`crate::stream::
//! Query::Upgrade`]): the controller sends an [`UpgradeRequest`], then the
//! binary as [`UpgradeChunk`] frames, in order, `size` bytes in all; the
//! agent checks the sha256, keeps the running binary as `PATH.previous`,
//! writes `PATH.pending` (the deadline by which the new one must reach the
//! controller), puts the new one in place with a rename, answers, and
//! exits for systemd to start the new one. A new agent that connects
//! removes `PATH.pending` (the upgrade is committed); one that has not by
//! the deadline exits, and the unit's guard (`agent-guard`, run before
//! each start) puts `PATH.previous` back once the deadline has passed, so
//! a build that cannot even start is rolled back on the VM itself.
//!
//! [`binary_paths`] names those files; the rest is the agent's and the
//! controller's.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Largest agent binary taken.
pub const MAX_AGENT_BINARY: u64 = 512 * 1024 * 1024;

/// Bytes in one [`UpgradeChunk`] (frames stay under
/// [`crate::stream::MAX_QUERY_FRAME`]).
pub const CHUNK: usize = 1024 * 1024;

/// Longest time a new agent may take to reach the controller.
pub const MAX_COMMIT_WITHIN_SECS: u32 = 3600;

/// Longest an agent waits for its running commands after it has the new
/// binary and before it restarts into it (the controller waits as long
/// for it to go).
pub const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeRequest {
    /// The new binary's sha256, hex.
    pub sha256: String,
    pub size: u64,
    /// How long the new binary has to reach the controller before it is
    /// rolled back.
    pub commit_within_secs: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeChunk {
    pub bytes: Vec<u8>,
}

impl UpgradeRequest {
    /// Refuse what no upgrade can be.
    pub fn check(&self) -> Result<(), String> {
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("the upgrade's sha256 is not 64 hex digits".into());
        }
        if self.size == 0 || self.size > MAX_AGENT_BINARY {
            return Err(format!(
                "an agent binary of {} bytes is not taken (1 to {MAX_AGENT_BINARY})",
                self.size
            ));
        }
        if self.commit_within_secs == 0 || self.commit_within_secs > MAX_COMMIT_WITHIN_SECS {
            return Err(format!(
                "commit_within_secs must be 1 to {MAX_COMMIT_WITHIN_SECS}"
            ));
        }
        Ok(())
    }
}

/// The files beside the agent binary at `exe`: the new one while it
/// arrives, the previous one, and the pending marker (its deadline, Unix
/// seconds, as text).
pub struct BinaryPaths {
    pub incoming: PathBuf,
    pub previous: PathBuf,
    pub pending: PathBuf,
}

pub fn binary_paths(exe: &Path) -> BinaryPaths {
    let with = |suffix: &str| {
        let mut p = exe.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    BinaryPaths {
        incoming: with(".incoming"),
        previous: with(".previous"),
        pending: with(".pending"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_outside_the_limits_are_refused() {
        let ok = UpgradeRequest {
            sha256: "ab".repeat(32),
            size: 10,
            commit_within_secs: 30,
        };
        assert!(ok.check().is_ok());
        for bad in [
            UpgradeRequest {
                sha256: "zz".repeat(32),
                ..ok.clone()
            },
            UpgradeRequest {
                sha256: "ab".into(),
                ..ok.clone()
            },
            UpgradeRequest {
                size: 0,
                ..ok.clone()
            },
            UpgradeRequest {
                size: MAX_AGENT_BINARY + 1,
                ..ok.clone()
            },
            UpgradeRequest {
                commit_within_secs: 0,
                ..ok.clone()
            },
            UpgradeRequest {
                commit_within_secs: MAX_COMMIT_WITHIN_SECS + 1,
                ..ok.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_files_sit_beside_the_binary() {
        let p = binary_paths(Path::new("/usr/local/bin/azlin-agent"));
        assert_eq!(p.previous, Path::new("/usr/local/bin/azlin-agent.previous"));
        assert_eq!(p.pending, Path::new("/usr/local/bin/azlin-agent.pending"));
        assert_eq!(p.incoming, Path::new("/usr/local/bin/azlin-agent.incoming"));
    }
}
