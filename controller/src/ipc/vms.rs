//! What the CLI shows about VMs: the fleet ([`List`]) and one VM
//! ([`VmStatus`]), durable state merged with the live link and, when
//! asked, the cloud's own view.

use std::collections::BTreeMap;

use azlin_protocol::telemetry::Sample;
use serde::{Deserialize, Serialize};

use super::Call;
use crate::{
    state::{ConnectMode, VmState},
    telemetry::live::Freshness,
};

/// The fleet (in the request's Azure target, if it names one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct List {
    /// Also ask each cloud VM's cloud what it says now (`azlin list`,
    /// `azlin status`): slower.
    pub cloud: bool,
}

impl Call for List {
    type Reply = Vec<VmView>;
}

/// One VM in detail.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VmStatus {
    pub vm: String,
    /// Also ask the VM's cloud what it says now (`azlin status`).
    pub cloud: bool,
}

impl Call for VmStatus {
    type Reply = VmView;
}

impl super::NamesVm for VmStatus {
    fn vm(&self) -> &str {
        &self.vm
    }
}

/// What the CLI shows about one VM: durable state merged with the live link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VmView {
    pub name: String,
    pub provider: String,
    pub state: VmState,
    pub connect_mode: ConnectMode,
    pub connected: bool,
    pub address: Option<String>,
    pub enrolled: bool,
    pub agent_version: Option<String>,
    pub agent_started_at: Option<i64>,
    pub connected_since: Option<i64>,
    pub reconnects: u64,
    pub last_error: Option<String>,
    pub created_at: i64,
    /// The name the user gave the VM's session, if any.
    pub session_name: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The newest telemetry sample, how long ago it arrived, and what that
    /// age means for this agent's interval.
    pub sample: Option<Sample>,
    pub sample_age_ms: Option<u64>,
    pub freshness: Option<Freshness>,
    /// The cloud's own view of the VM (Azure VMs), read when asked.
    /// (Always written: the IPC encoding has no optional fields.)
    #[serde(default)]
    pub cloud: Option<CloudView>,
    /// A cloud VM azlin did not make: no agent, nothing recorded; shown
    /// from the cloud's view, and acted on by name by `start`, `stop`,
    /// `restart`, `resize`, `tag` and `destroy`.
    #[serde(default)]
    pub no_agent: bool,
    /// `[cost] notional_per_hour`, for a VM with no bill (local, docker,
    /// external): a figure the user set, never a price. (No
    /// `skip_serializing_if`: postcard needs every field.)
    pub notional_per_hour: Option<f64>,
    /// The VM user's home on shared storage, as its agent says
    /// (`azlin status VM` only; `None` when the home is local or the
    /// agent could not be asked).
    pub home: Option<azlin_protocol::mount::HomeState>,
}

/// What the cloud says of a VM now: it can differ from what azlin last
/// did (a VM stopped in the portal, resized with `az`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CloudView {
    /// `running`, `deallocated`, `stopped`, `starting`…; `missing` when
    /// the cloud has no such VM, `unknown` when it could not be asked.
    pub power: String,
    pub size: Option<String>,
    pub location: Option<String>,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Why the cloud's view is missing or partial.
    pub error: Option<String>,
    /// What the VM costs while it runs (running VMs with a known size).
    pub price: Option<Price>,
    /// Why a running VM has no price ("the Retail Prices API has none for
    /// this size", or that the API did not answer).
    pub no_price: Option<String>,
}

/// A pay-as-you-go price, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub per_hour: f64,
    pub currency: String,
    /// "Retail Prices API, pay-as-you-go Linux" (never a guess).
    pub source: String,
}

/// Hours in an average month, as Azure's pricing calculator counts them.
pub const HOURS_PER_MONTH: f64 = 730.0;

impl Price {
    pub fn per_month(&self) -> f64 {
        self.per_hour * HOURS_PER_MONTH
    }
}

impl VmView {
    /// What the user calls this VM: its session name, else its name.
    pub fn display_name(&self) -> &str {
        self.session_name.as_deref().unwrap_or(&self.name)
    }

    /// Its session name with its VM name beside it (`main (dev-1)`), else
    /// its name: how tables and prompts name it.
    pub fn labelled_name(&self) -> String {
        match &self.session_name {
            Some(s) => format!("{s} ({})", self.name),
            None => self.name.clone(),
        }
    }
}
