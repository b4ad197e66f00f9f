//! `azlin snapshot create|list|delete|restore`: point-in-time copies of a
//! VM, made by its provider (an Azure disk snapshot, a docker image, a
//! copy of a local VM's folder) and kept in `state.db`.

use serde::{Deserialize, Serialize};

use super::{Call, Done, NamesVm};

/// Take a snapshot of `vm` now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotCreate {
    pub vm: String,
    /// `None`: `VM-YYYYMMDD-HHMMSS` (UTC).
    pub name: Option<String>,
}

impl Call for SnapshotCreate {
    type Reply = SnapshotView;
}

impl NamesVm for SnapshotCreate {
    fn vm(&self) -> &str {
        &self.vm
    }
}

/// The snapshots azlin keeps, of one VM or all, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotList {
    pub vm: Option<String>,
}

impl Call for SnapshotList {
    type Reply = Vec<SnapshotView>;
}

/// Delete a snapshot (what its provider keeps, then the record).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotDelete {
    pub name: String,
    /// Say what would be deleted; delete nothing.
    pub dry_run: bool,
}

impl Call for SnapshotDelete {
    type Reply = Done;
}

/// Put `vm` back to snapshot `name` of it, keeping its agent identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotRestore {
    pub vm: String,
    pub name: String,
    /// Say what would happen; change nothing.
    pub dry_run: bool,
    /// Delete what the VM ran on before (kept otherwise, and named).
    pub delete_old: bool,
}

impl Call for SnapshotRestore {
    type Reply = Done;
}

impl NamesVm for SnapshotRestore {
    fn vm(&self) -> &str {
        &self.vm
    }
}

/// One snapshot as azlin keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotView {
    pub name: String,
    pub vm: String,
    pub provider: String,
    /// Unix seconds.
    pub created_at: i64,
    /// `manual` or `schedule`.
    pub origin: String,
    /// What the provider keeps, in words (an image, a folder, disks).
    pub holds: String,
    /// How the VM was held still while it was taken, if it was.
    pub held: Option<String>,
}

/// Take a snapshot of `vm` every `every_secs`, keeping the newest `keep`
/// the schedule took (snapshots taken by hand are never pruned).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotScheduleSet {
    pub vm: String,
    /// `1d`, `6h`, `30m`: at least 10 s.
    pub every: String,
    pub keep: u32,
}

impl Call for SnapshotScheduleSet {
    type Reply = Done;
}

impl NamesVm for SnapshotScheduleSet {
    fn vm(&self) -> &str {
        &self.vm
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotScheduleList;

impl Call for SnapshotScheduleList {
    type Reply = Vec<SnapshotScheduleView>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotScheduleClear {
    pub vm: String,
}

impl Call for SnapshotScheduleClear {
    type Reply = Done;
}

/// One VM's snapshot schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotScheduleView {
    pub vm: String,
    pub every_secs: i64,
    pub keep: u32,
    /// Unix seconds; `None`: not run yet.
    pub last_run: Option<i64>,
    /// Unix seconds.
    pub next_due: i64,
}
