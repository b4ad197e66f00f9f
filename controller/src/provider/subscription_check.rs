//! The subscription-check capability: a provider whose VMs live in
//! subscriptions says whether the one a request names is reachable with
//! the request's credentials (`azlin context use` proves a context before
//! switching to it). Only Azure has it
//! ([`super::Provider::subscription_check`] is `None` elsewhere).
//!
//! Not here: the contexts file (`crate::contexts`).

use anyhow::Result;

use super::Work;
use crate::{azure::context::AzureContext, ipc::context::SubscriptionSeen};

pub trait SubscriptionCheck: Send + Sync {
    /// The subscription `azure` resolves to, as the cloud describes it; an
    /// error saying why when it cannot be reached or is not usable.
    fn check<'a>(&'a self, azure: &'a AzureContext) -> Work<'a, Result<SubscriptionSeen>>;
}
