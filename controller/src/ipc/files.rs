//! `azlin cp` and `azlin sync`: local files to a VM ([`Push`]), a VM's
//! files to here or to another VM ([`Fetch`]), one plan to many VMs
//! ([`Sync`]), and what each copy did ([`CopyReport`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Call;
use crate::{files::plan::Plan, selector::Selector};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushSpec {
    pub vm: String,
    pub plan: Plan,
    pub requested_by: String,
    /// Relative names to remove below the plan's root first (mirrored
    /// deletions, `sync --watch`).
    pub deletes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CopyReport {
    /// The destination folder as the agent resolved it.
    pub root: String,
    /// Files written (whole or resumed).
    pub sent: u64,
    /// Bytes sent (a resumed file counts only what was still missing).
    pub bytes: u64,
    /// Files the VM already had, identical.
    pub unchanged: u64,
    /// Files resumed from an earlier, interrupted run.
    pub resumed: u64,
    /// Files or folders removed (mirrored deletions).
    pub deleted: u64,
    /// Secrets, refused: (name, reason). The plan's own come first.
    pub blocked: Vec<(String, String)>,
    /// Noise or excluded: (name, reason).
    pub skipped: Vec<(String, String)>,
    /// Files that could not be sent or stored: (name, reason).
    pub failed: Vec<(String, String)>,
}

impl CopyReport {
    /// One file written from `offset` on, `bytes` of it sent now.
    pub fn stored(&mut self, bytes: u64, offset: u64) {
        self.sent += 1;
        self.bytes += bytes;
        self.resumed += u64::from(offset > 0);
    }

    /// One file not taken: by the security filter when `blocked`, else
    /// it failed.
    pub fn refused(&mut self, rel: String, reason: String, blocked: bool) {
        let list = if blocked {
            &mut self.blocked
        } else {
            &mut self.failed
        };
        list.push((rel, reason));
    }

    /// Another stream's report of the same copy, added in.
    pub fn absorb(&mut self, other: CopyReport) {
        if self.root.is_empty() {
            self.root = other.root;
        }
        self.sent += other.sent;
        self.bytes += other.bytes;
        self.unchanged += other.unchanged;
        self.resumed += other.resumed;
        self.deleted += other.deleted;
        self.blocked.extend(other.blocked);
        self.skipped.extend(other.skipped);
        self.failed.extend(other.failed);
    }
}

/// One VM's outcome of `azlin sync`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncResult {
    pub vm: String,
    pub result: Result<CopyReport, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchSpec {
    pub vm: String,
    /// On the VM: absolute or `~`-based.
    pub path: String,
    pub recursive: bool,
    pub dest: FetchDest,
    /// The first name of every file becomes this (a file or folder copied
    /// under a new name).
    pub rename: Option<String>,
    pub requested_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FetchDest {
    /// An absolute folder on this machine.
    Local(PathBuf),
    /// A folder on another VM; `force` sends noise too (never secrets).
    Vm {
        vm: String,
        root: String,
        force: bool,
    },
}

/// Send planned local files to a VM; [`super::Reply::CopyProgress`]
/// frames come before the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Push(pub PushSpec);

impl Call for Push {
    type Reply = CopyReport;
}

/// Copy from a VM, to this machine or to another VM.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fetch(pub FetchSpec);

impl Call for Fetch {
    type Reply = CopyReport;
}

/// Send one plan (the dotfiles) to every chosen VM at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sync {
    pub selector: Selector,
    pub plan: Plan,
    pub requested_by: String,
}

impl Call for Sync {
    type Reply = Vec<SyncResult>;
}

impl super::NamesVm for Push {
    fn vm(&self) -> &str {
        &self.0.vm
    }
}

impl super::NamesVm for Fetch {
    fn vm(&self) -> &str {
        &self.0.vm
    }
}
