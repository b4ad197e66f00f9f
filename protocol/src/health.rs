//! What an agent reports of its VM's health (`azlin health`): facts only,
//! each `None` when the VM cannot say (no systemd, no cloud-init, no
//! apt); the controller grades them.
//!
//! Not here: gathering them (the agent's `health`), grading (the
//! controller's `health`).

use serde::{Deserialize, Serialize};

/// Most failed units, mounts or file systems one report carries.
pub const MAX_ITEMS: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// The agent's software version and how long it has run.
    pub agent_version: String,
    pub agent_uptime_secs: u64,
    /// Seconds since the VM booted.
    pub uptime_secs: Option<u64>,
    /// The agent's clock when it answered (unix milliseconds).
    pub now_ms: u64,
    /// cloud-init's status: `done`, `running`, `error`, `disabled`…
    pub cloud_init: Option<String>,
    /// The development tools' sections that failed (empty: all ok), or
    /// `None` when they were not installed (yet).
    pub dev_tools_failed: Option<Vec<String>>,
    /// systemd units in the failed state.
    pub failed_units: Option<Vec<String>>,
    pub file_systems: Vec<FileSystemUse>,
    /// Memory: percent available, and the PSI share of the last 10 s
    /// some task stalled on memory.
    pub memory_available_percent: Option<f64>,
    pub memory_pressure_avg10: Option<f64>,
    /// `/var/run/reboot-required` is there.
    pub reboot_required: bool,
    /// Upgrades from a security suite that apt would install.
    pub security_updates: Option<u32>,
    /// NFS mounts, each answering a stat within the agent's limit or not.
    pub nfs_mounts: Vec<(String, bool)>,
    /// sshd accepts connections on its port.
    pub sshd_up: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileSystemUse {
    pub mount: String,
    pub used_percent: f64,
    pub inodes_used_percent: Option<f64>,
}
