//! `azlin cost recommend` and `azlin cost apply ID…`: what to cut in the
//! request's scope, each with the saving a month and where that figure
//! comes from, and carrying out chosen ones (`dry_run`: what would be
//! done, nothing done). Recommendations are worked out again on apply, so
//! an ID that no longer applies is refused.

use serde::{Deserialize, Serialize};

use super::Call;
use crate::cost::recommend::Priority;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CostRecommend {
    pub whole_subscription: bool,
    /// Snapshots older than this many days are recommended for deletion.
    pub snapshot_days: u32,
}

impl Call for CostRecommend {
    type Reply = Recommendations;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recommendations {
    /// Most urgent first.
    pub recommendations: Vec<Recommendation>,
    /// What the user should know (Azure not asked, and why).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// Resize the VM to the size.
    Resize { vm: String, to: String },
    /// Deallocate the VM (stopped, still billed).
    Deallocate { vm: String },
    /// Delete the resource (an ARM id).
    Delete { id: String },
    /// Give the VM a power schedule: stop at `stop` on `days`, start at
    /// `start` on `start_days` (as `azlin schedule` takes them).
    Schedule {
        vm: String,
        stop: String,
        start: String,
        days: String,
        start_days: String,
        tz: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recommendation {
    /// What `cost apply` takes: `resize:VM`, `deallocate:VM`,
    /// `schedule:VM`, `delete-disk:NAME`, `delete-ip:NAME`,
    /// `delete-snapshot:NAME`.
    pub id: String,
    pub change: Change,
    /// Why, in words, with the evidence.
    pub reason: String,
    /// `None`: no figure to say it by (not a zero).
    pub saving_per_month: Option<f64>,
    pub currency: Option<String>,
    /// "pay-as-you-go prices", "actual cost, last 30 days" or "notional
    /// price, …" (a VM with no bill, by config.toml).
    pub saving_source: String,
    pub priority: Priority,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CostApply {
    pub ids: Vec<String>,
    pub dry_run: bool,
    pub whole_subscription: bool,
    pub snapshot_days: u32,
}

impl Call for CostApply {
    /// One line per recommendation: done, or what would be done.
    type Reply = Vec<String>;
}
