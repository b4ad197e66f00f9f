//! `azlin cleanup`: the orphans in azlin's resource groups (disks, NICs,
//! public IPs, NSGs, deployment records, agent builds that nothing uses), each with its
//! age and price a month, and deleting the ones the user confirmed.
//! Orphans are worked out again before deleting, so one that has since
//! come into use (or gone) is not touched.

use serde::{Deserialize, Serialize};

use super::Call;

/// What the user chose to look for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct CleanupRules {
    /// Only what is at least this many days old (everything is at least
    /// an hour old).
    pub older_than_days: u32,
    pub include_untagged: bool,
}

/// List the orphans.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CleanupFind {
    pub rules: CleanupRules,
}

impl Call for CleanupFind {
    type Reply = Orphans;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Orphans {
    /// Where azlin looked ("resource group rg of subscription S").
    pub place: String,
    pub orphans: Vec<OrphanView>,
    /// Looked at and left alone, by reason, with how many.
    pub passed: Vec<(String, u32)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrphanView {
    /// The ARM id: what [`CleanupDelete`] names.
    pub id: String,
    /// `disk`, `nic`, `public-ip`, `nsg`, `deployment`.
    pub kind: String,
    pub name: String,
    pub age_secs: i64,
    pub why: String,
    /// What it costs a month: `None` when there is no figure (said in
    /// `price_source`), never a zero for "unknown".
    pub per_month: Option<f64>,
    pub currency: Option<String>,
    /// "pay-as-you-go price, Azure Retail Prices API (P10 LRS)", "not
    /// billed by Azure", or why there is no price.
    pub price_source: String,
}

/// Delete these orphans (ids from [`CleanupFind`]'s answer), each only if
/// it is still an orphan under the same rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CleanupDelete {
    pub ids: Vec<String>,
    pub rules: CleanupRules,
}

impl Call for CleanupDelete {
    type Reply = Vec<CleanupOutcome>;
}

/// What happened to one orphan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CleanupOutcome {
    pub id: String,
    pub name: String,
    /// `None`: deleted; else why not.
    pub failure: Option<String>,
}
