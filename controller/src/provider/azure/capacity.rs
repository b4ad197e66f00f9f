//! Whether Azure can make a pool before anything is made: the size exists
//! in the region and is not restricted there for this subscription
//! (Resource SKUs API), and both the vCPU quota of its family and the
//! region's total (`cores`, "Total Regional vCPUs") have room for the
//! whole pool (Usages API). [`check`] is the pure decision;
//! [`AzureProvider::check_capacity`] fetches the two lists.
//!
//! Not here: prices ([`crate::azure::retail_prices`]) or the VM itself.

use anyhow::{Context, Result};

use super::AzureProvider;
use crate::{
    azure::{
        api,
        client::ArmClient,
        models::compute::{ResourceSku, Usage},
    },
    provider::Refused,
};

/// What one VM of the size takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    pub family: String,
    pub vcpus: i64,
}

/// The size's footprint, or why it cannot be made in `region`.
pub fn check(
    skus: &[ResourceSku],
    usages: &[Usage],
    size: &str,
    region: &str,
    pool: u32,
) -> Result<Footprint, String> {
    let in_region = |s: &&ResourceSku| {
        s.resource_type.eq_ignore_ascii_case("virtualMachines")
            && s.name.eq_ignore_ascii_case(size)
            && (s.locations.is_empty()
                || s.locations.iter().any(|l| l.eq_ignore_ascii_case(region)))
    };
    let Some(sku) = skus.iter().find(in_region) else {
        let mut sizes: Vec<String> = skus
            .iter()
            .filter(|s| s.resource_type.eq_ignore_ascii_case("virtualMachines"))
            .map(|s| s.name.clone())
            .collect();
        sizes.sort();
        sizes.dedup();
        let near = crate::names::closest(size, &sizes);
        let hint = if near.is_empty() {
            "; `az vm list-sizes --location REGION` lists them".to_string()
        } else {
            format!("; did you mean {}?", near.join(", "))
        };
        return Err(format!("size {size} is not offered in {region}{hint}"));
    };
    if let Some(r) = sku.restrictions.iter().find(|r| {
        r.kind.eq_ignore_ascii_case("Location")
            && (r.values.is_empty() || r.values.iter().any(|v| v.eq_ignore_ascii_case(region)))
    }) {
        return Err(format!(
            "size {} is restricted in {region} for this subscription ({}); pick another size or \
             region, or ask Azure support to lift it",
            sku.name,
            r.reason_code.as_deref().unwrap_or("no reason given")
        ));
    }
    let vcpus: i64 = sku
        .capability("vCPUs")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("Azure lists size {} without its vCPUs", sku.name))?;
    let family = sku
        .family
        .clone()
        .ok_or_else(|| format!("Azure lists size {} without its quota family", sku.name))?;
    let need = vcpus * i64::from(pool);
    let vms = if pool == 1 {
        "this VM needs".to_string()
    } else {
        format!("these {pool} VMs need")
    };
    for (quota, shown) in [
        (family.as_str(), family.as_str()),
        ("cores", "Total Regional vCPUs"),
    ] {
        let Some(u) = usages
            .iter()
            .find(|u| u.name.value.eq_ignore_ascii_case(quota))
        else {
            continue;
        };
        if u.current_value + need > u.limit {
            return Err(format!(
                "{shown} in {region}: {} of {} vCPUs used, {vms} {need}; free some, or request \
                 more in the Azure portal (Subscriptions > Usage + quotas)",
                u.current_value, u.limit
            ));
        }
    }
    Ok(Footprint { family, vcpus })
}

/// The Resource SKUs list of `region` for the subscription.
pub async fn list_skus(
    arm: &ArmClient,
    subscription: &str,
    region: &str,
) -> Result<Vec<ResourceSku>> {
    let filter = crate::azure::sas::encode(&format!("location eq '{region}'"));
    arm.list(
        &format!("/subscriptions/{subscription}/providers/Microsoft.Compute/skus?$filter={filter}"),
        api::SKUS,
    )
    .await
    .with_context(|| format!("cannot list the VM sizes of {region}"))
}

impl AzureProvider {
    /// [`check`] against what Azure lists now for the subscription; a
    /// refusal is [`Refused`] (exit 4).
    pub(super) async fn check_capacity(
        &self,
        arm: &ArmClient,
        subscription: &str,
        size: &str,
        region: &str,
        pool: u32,
    ) -> Result<Footprint> {
        let skus = list_skus(arm, subscription, region).await?;
        let usages: Vec<Usage> = arm
            .list(
                &format!(
                    "/subscriptions/{subscription}/providers/Microsoft.Compute/locations/{region}/usages"
                ),
                api::COMPUTE,
            )
            .await
            .with_context(|| format!("cannot read the compute quota of {region}"))?;
        check(&skus, &usages, size, region, pool).map_err(|why| Refused(why).into())
    }
}

#[cfg(test)]
mod tests;
