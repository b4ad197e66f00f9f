//! The Azure a request acts in, as one explicit value passed down from the
//! CLI's request to every ARM call: which ARM server and token
//! ([`ArmAccess`]: the CLI's `AZLIN_ARM_ENDPOINT` and `AZLIN_ARM_TOKEN`,
//! not the daemon's, since a daemon outlives many shells) and which
//! subscription and resource group the user named ([`Target`]: the
//! `--subscription` / `--resource-group` flags).
//!
//! What this is not: the resolution of those choices against
//! `config.toml` (the Azure provider does that) or the sign-in itself
//! ([`super::credentials`]). Work the daemon does on its own, with no
//! request behind it, uses [`AzureContext::from_env`].

use serde::{Deserialize, Serialize};

/// An ARM endpoint override and a static token; `None`: Azure itself, and
/// the sign-in chain of [`super::credentials`]. The Retail Prices API's
/// endpoint travels with them (it is Azure too, unauthenticated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArmAccess {
    pub endpoint: Option<String>,
    pub token: Option<String>,
    pub prices: Option<String>,
}

impl ArmAccess {
    /// This process's `AZLIN_ARM_ENDPOINT`, `AZLIN_ARM_TOKEN` and
    /// `AZLIN_RETAIL_PRICES_ENDPOINT`.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Self {
            endpoint: var("AZLIN_ARM_ENDPOINT"),
            token: var("AZLIN_ARM_TOKEN"),
            prices: var("AZLIN_RETAIL_PRICES_ENDPOINT"),
        }
    }
}

/// The subscription and resource group the user named on the command
/// line. On `new` they choose where the VMs go (over `config.toml`); on
/// the commands that act on VMs they are the only place those commands
/// touch. Empty: no choice made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub subscription: Option<String>,
    pub resource_group: Option<String>,
}

impl Target {
    /// Neither a subscription nor a resource group named.
    pub fn is_empty(&self) -> bool {
        self.subscription.is_none() && self.resource_group.is_none()
    }
}

/// Everything about Azure that one request carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureContext {
    pub access: ArmAccess,
    pub target: Target,
}

impl AzureContext {
    /// This process's own ARM access and no target: for the CLI building
    /// a request, and for the daemon's work that no request asked for.
    pub fn from_env() -> Self {
        Self {
            access: ArmAccess::from_env(),
            target: Target::default(),
        }
    }
}
