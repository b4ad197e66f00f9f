//! `azlin context use` on Azure: one `GET /subscriptions/{id}` with the
//! request's credentials (the context's tenant), and a clear refusal when
//! the subscription is not there, not this sign-in's, or not usable.

use anyhow::{Result, bail};

use super::AzureProvider;
use crate::{
    azure::{api, context::AzureContext, error::ArmError, models::resources::SubscriptionInfo},
    ipc::context::SubscriptionSeen,
    provider::{Work, subscription_check::SubscriptionCheck},
};

impl AzureProvider {
    async fn check_subscription(&self, azure: &AzureContext) -> Result<SubscriptionSeen> {
        let id = self.subscription(&azure.target).await?;
        let arm = self.client(&azure.access).await?;
        let tenant = match &azure.access.tenant {
            Some(t) => format!(" in tenant {t}"),
            None => String::new(),
        };
        let info: SubscriptionInfo = match arm
            .get(&format!("/subscriptions/{id}"), api::SUBSCRIPTIONS)
            .await
        {
            Ok(info) => info,
            Err(ArmError {
                status: 401 | 403 | 404,
                message,
                ..
            }) => bail!(
                "subscription {id} cannot be reached with your Azure sign-in{tenant} ({}); \
                 check the id (`az account list -o table`) and the tenant (--tenant)",
                message
            ),
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot ask Azure about subscription {id}")));
            }
        };
        let state = info.state.clone().unwrap_or_default();
        if !state.is_empty()
            && !state.eq_ignore_ascii_case("Enabled")
            && !state.eq_ignore_ascii_case("Warned")
        {
            bail!("subscription {id} is {state}: azlin cannot work in it");
        }
        Ok(SubscriptionSeen {
            id,
            // Shown by the CLI with its control characters escaped.
            display_name: info.display_name,
            state: info.state,
            tenant_id: info.tenant_id,
        })
    }
}

impl SubscriptionCheck for AzureProvider {
    fn check<'a>(&'a self, azure: &'a AzureContext) -> Work<'a, Result<SubscriptionSeen>> {
        Box::pin(self.check_subscription(azure))
    }
}
