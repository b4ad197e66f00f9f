//! The Azure a request acts in, as one explicit value passed down from the
//! CLI's request to every ARM call: which ARM server and token
//! ([`ArmAccess`]: the CLI's `AZLIN_ARM_ENDPOINT` and `AZLIN_ARM_TOKEN`,
//! not the daemon's, since a daemon outlives many shells, and the tenant
//! of the context in use) and which subscription and resource group the
//! user named ([`Target`]: the `--subscription` / `--resource-group`
//! flags, and the context in use beneath them).
//!
//! What this is not: the resolution of those choices against
//! `config.toml` (the Azure provider does that) or the sign-in itself
//! ([`super::credentials`]). Work the daemon does on its own, with no
//! request behind it, uses [`AzureContext::from_env`].

use serde::{Deserialize, Serialize};

use crate::contexts::Chosen;

/// An ARM endpoint override and a static token; `None`: Azure itself, and
/// the sign-in chain of [`super::credentials`]. The Retail Prices API's
/// endpoint travels with them (it is Azure too, unauthenticated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArmAccess {
    pub endpoint: Option<String>,
    pub token: Option<String>,
    pub prices: Option<String>,
    /// The tenant to sign in to (the context's `tenant`); `None`: the
    /// sign-in's own default.
    pub tenant: Option<String>,
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
            tenant: None,
        }
    }
}

/// The subscription and resource group the user named on the command
/// line. On `new` they choose where the VMs go (over the context and
/// `config.toml`); on the commands that act on VMs they are the only
/// place those commands touch. Empty: no choice made.
///
/// Beneath them, the context in use (`--context`, else the current one):
/// its subscription, resource group and region are where azlin works when
/// the flags leave them out, and the commands that act on VMs see only its
/// Azure VMs ([`Target::context_holds`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub subscription: Option<String>,
    pub resource_group: Option<String>,
    pub context: Option<Chosen>,
}

impl Target {
    /// Neither a subscription nor a resource group named on the command
    /// line (a context may still be in use).
    pub fn is_empty(&self) -> bool {
        self.subscription.is_none() && self.resource_group.is_none()
    }

    /// The subscription the flag names, else the context's.
    pub fn subscription(&self) -> Option<&str> {
        self.subscription.as_deref().or_else(|| {
            self.context
                .as_ref()
                .map(|c| c.context.subscription.as_str())
        })
    }

    /// The resource group the flag names, else the context's.
    pub fn resource_group(&self) -> Option<&str> {
        self.resource_group.as_deref().or_else(|| {
            self.context
                .as_ref()
                .and_then(|c| c.context.resource_group.as_deref())
        })
    }

    /// The context's region, if it names one.
    pub fn region(&self) -> Option<&str> {
        self.context
            .as_ref()
            .and_then(|c| c.context.region.as_deref())
    }

    /// Whether an Azure VM in `subscription` / `resource_group` is in the
    /// context in use (always, with none): in its subscription and, when
    /// it names one, its resource group.
    pub fn context_holds(&self, subscription: &str, resource_group: &str) -> bool {
        let Some(c) = &self.context else {
            return true;
        };
        c.context.subscription.eq_ignore_ascii_case(subscription)
            && c.context
                .resource_group
                .as_deref()
                .is_none_or(|rg| rg.eq_ignore_ascii_case(resource_group))
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
