//! `cost budget set --azure`: the budget written to Azure as well
//! (`Microsoft.Consumption/budgets/azlin` at the resource group or
//! subscription), so its e-mails go out while this machine is off. Azure
//! budgets only notify: a `stop` threshold acts through the daemon alone.
//! The budget starts on the first of a month and has an end date; Azure
//! takes at most five notifications.

use anyhow::{Context, Result, bail};

use super::AzureProvider;
use crate::{
    azure::{
        api,
        context::AzureContext,
        models::consumption::{Budget, BudgetNotification, BudgetProperties, BudgetTimePeriod},
    },
    provider::{BillingScope, CloudBudget},
};

/// The name of azlin's budget in a scope.
pub const BUDGET_NAME: &str = "azlin";

/// Azure's limit on notifications per budget.
const MAX_NOTIFICATIONS: usize = 5;

/// The budget's body.
pub fn body(b: &CloudBudget) -> Result<Budget> {
    if b.percents.len() > MAX_NOTIFICATIONS {
        bail!(
            "an Azure budget takes at most {MAX_NOTIFICATIONS} thresholds, and {} are given; \
             leave out --azure or give fewer",
            b.percents.len()
        );
    }
    if b.emails.is_empty() {
        bail!("an Azure budget notifies by e-mail: add --email ADDRESS (nothing written)");
    }
    if let Some(bad) = b
        .emails
        .iter()
        .find(|e| !e.contains('@') || e.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        bail!("{bad:?} is not an e-mail address (nothing written)");
    }
    let notifications = b
        .percents
        .iter()
        .map(|p| {
            (
                format!("actual_greaterthan_{p}_percent"),
                BudgetNotification {
                    enabled: true,
                    operator: "GreaterThanOrEqualTo".into(),
                    threshold: f64::from(*p),
                    contact_emails: b.emails.clone(),
                    threshold_type: Some("Actual".into()),
                },
            )
        })
        .collect();
    Ok(Budget {
        id: None,
        properties: BudgetProperties {
            category: "Cost".into(),
            amount: b.amount,
            time_grain: "Monthly".into(),
            time_period: BudgetTimePeriod {
                start_date: format!("{}T00:00:00Z", b.start),
                end_date: Some(format!("{}T00:00:00Z", b.end)),
            },
            notifications,
        },
    })
}

impl AzureProvider {
    pub(super) async fn put_budget(
        &self,
        scope: &BillingScope,
        budget: &CloudBudget,
        azure: &AzureContext,
    ) -> Result<String> {
        let body = body(budget)?;
        let arm = self.client(&azure.access).await?;
        let path = format!(
            "{}/providers/Microsoft.Consumption/budgets/{BUDGET_NAME}",
            scope.path
        );
        let made: Budget = arm
            .put(&path, api::CONSUMPTION, &body)
            .await
            .with_context(|| format!("cannot write the budget to Azure at {}", scope.words))?;
        Ok(made.id.unwrap_or(path))
    }

    pub(super) async fn delete_budget(&self, id: &str, azure: &AzureContext) -> Result<()> {
        let arm = self.client(&azure.access).await?;
        arm.delete(id, api::CONSUMPTION)
            .await
            .with_context(|| format!("cannot remove the Azure budget {id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::dates::Day;

    fn budget() -> CloudBudget {
        CloudBudget {
            amount: 200.0,
            percents: vec![50, 80, 100],
            emails: vec!["dev@example.com".into()],
            start: Day::parse("2026-12-01").unwrap(),
            end: Day::parse("2027-11-30").unwrap(),
        }
    }

    #[test]
    fn the_body_starts_on_the_first_ends_and_notifies_by_email() {
        let v = serde_json::to_value(body(&budget()).unwrap()).unwrap();
        let p = &v["properties"];
        assert_eq!(p["timeGrain"], "Monthly");
        assert_eq!(p["timePeriod"]["startDate"], "2026-12-01T00:00:00Z");
        assert_eq!(p["timePeriod"]["endDate"], "2027-11-30T00:00:00Z");
        let n = &p["notifications"]["actual_greaterthan_80_percent"];
        assert_eq!(n["threshold"], 80.0);
        assert_eq!(n["contactEmails"][0], "dev@example.com");
        assert!(v.get("id").is_none());
    }

    #[test]
    fn what_azure_would_refuse_is_refused_first() {
        let mut b = budget();
        b.percents = vec![10, 20, 30, 40, 50, 60];
        assert!(body(&b).unwrap_err().to_string().contains("at most 5"));
        let mut b = budget();
        b.emails.clear();
        assert!(body(&b).unwrap_err().to_string().contains("--email"));
        let mut b = budget();
        b.emails = vec!["not an address".into()];
        assert!(body(&b).is_err());
    }
}
