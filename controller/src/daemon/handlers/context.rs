//! `azlin context use`: prove the context's subscription is reachable
//! (the Azure provider asks ARM once); the CLI switches only then.

use anyhow::{Result, anyhow};

use super::{Ctx, Handle};
use crate::{
    ipc::context::{ContextCheck, SubscriptionSeen},
    provider::Kind,
};

impl Handle for ContextCheck {
    async fn handle(self, cx: &Ctx) -> Result<SubscriptionSeen> {
        let checker =
            cx.d.providers
                .get(Kind::Azure)
                .subscription_check()
                .ok_or_else(|| {
                    anyhow!("this build's Azure provider cannot check subscriptions (a bug)")
                })?;
        if cx.azure.target.context.is_none() {
            anyhow::bail!("name the context to check (`azlin context use NAME`)");
        }
        checker.check(&cx.azure).await
    }
}
