//! `azlin cleanup`: the orphans the Azure provider finds in azlin's
//! resource groups (`crate::cleanup` decides what is one), each priced a
//! month at pay-as-you-go (Retail Prices API: a disk by its tier, a
//! public IP by its meter, an agent blob by its size; NICs, NSGs and
//! deployment records are not billed); and deleting the confirmed ones, each only if it is still an
//! orphan now, NICs before the addresses and NSGs they held. Every
//! failure is reported; one does not stop the rest.

use anyhow::{Result, anyhow};

use super::{Ctx, Handle, prices};
use crate::{
    azure::retail_prices,
    cleanup::{self, Billing, Orphan, Rules},
    ipc::{
        cleanup::{CleanupDelete, CleanupFind, CleanupOutcome, CleanupRules, OrphanView, Orphans},
        vms::HOURS_PER_MONTH,
    },
    provider::{
        Kind,
        cleanup::{Cleanup, Found},
    },
    state::{VmRow, now_unix},
};

fn cleaner(cx: &Ctx) -> Result<&dyn Cleanup> {
    cx.d.providers
        .get(Kind::Azure)
        .cleanup()
        .ok_or_else(|| anyhow!("this build's Azure provider has no cleanup (a bug)"))
}

async fn find(cx: &Ctx, rules: CleanupRules) -> Result<Found> {
    let fleet: Vec<VmRow> =
        cx.d.db
            .lock()
            .expect("db lock")
            .vms()?
            .into_iter()
            .filter(|r| r.provider == Kind::Azure.as_str())
            .collect();
    let rules = Rules {
        now: now_unix(),
        older_than_secs: i64::from(rules.older_than_days) * 86400,
        include_untagged: rules.include_untagged,
    };
    cleaner(cx)?.find(&fleet, rules, &cx.azure).await
}

/// `(per month, source)` of one orphan: a price, or why there is none.
async fn price(cx: &Ctx, o: &Orphan) -> (Option<f64>, String) {
    let d = &cx.d;
    let access = &cx.azure.access;
    let Some(region) = o.location.as_deref() else {
        return (None, "no region to price it in".into());
    };
    match &o.billing {
        Billing::Free => (None, "not billed by Azure".into()),
        Billing::Disk { sku, tier, size_gb } => {
            let Some(sku) = sku else {
                return (None, "no price: ARM gave the disk no SKU".into());
            };
            let tier = tier
                .clone()
                .or_else(|| size_gb.and_then(|gb| cleanup::disk_tier(sku, gb)));
            let Some(tier) = tier else {
                return (
                    None,
                    format!("no price: {sku} disks are not billed by a tier"),
                );
            };
            let meter = format!("{tier} {}", cleanup::disk_redundancy(sku));
            match prices::disk_per_month(d, access, region, &meter).await {
                Ok(p) => (
                    Some(p),
                    format!("pay-as-you-go, Azure Retail Prices API ({meter} disk)"),
                ),
                Err(e) => (None, format!("no price: {e}")),
            }
        }
        Billing::PublicIp { sku, allocation } => {
            let meter = retail_prices::public_ip_meter(sku.as_deref(), allocation.as_deref());
            match prices::public_ip_per_hour(d, access, region, &meter).await {
                Ok(p) => (
                    Some(p * HOURS_PER_MONTH),
                    format!("pay-as-you-go, Azure Retail Prices API ({meter})"),
                ),
                Err(e) => (None, format!("no price: {e}")),
            }
        }
        Billing::Blob { bytes } => {
            let Some(bytes) = bytes else {
                return (None, "no price: the Blob service gave no size".into());
            };
            match prices::hot_blob_per_gb_month(d, access, region).await {
                // Azure bills storage by the binary GB (GiB).
                Ok(p) => (
                    Some(p * *bytes as f64 / (1u64 << 30) as f64),
                    "pay-as-you-go, Azure Retail Prices API (Hot LRS Data Stored, by size)".into(),
                ),
                Err(e) => (None, format!("no price: {e}")),
            }
        }
    }
}

impl Handle for CleanupFind {
    async fn handle(self, cx: &Ctx) -> Result<Orphans> {
        let found = find(cx, self.rules).await?;
        let now = now_unix();
        let mut orphans = Vec::new();
        for o in &found.orphans {
            let (per_month, price_source) = price(cx, o).await;
            orphans.push(OrphanView {
                id: o.id.clone(),
                kind: o.kind.as_str().into(),
                name: o.name.clone(),
                age_secs: now - o.created,
                why: o.why.clone(),
                per_month,
                currency: per_month.map(|_| prices::CURRENCY.to_string()),
                price_source,
            });
        }
        let place = match &cx.azure.target.context {
            Some(c) => format!("{} (context {})", found.place, c.name),
            None => found.place,
        };
        Ok(Orphans {
            place,
            orphans,
            passed: found
                .passed
                .into_iter()
                .map(|(why, n)| (why, u32::try_from(n).unwrap_or(u32::MAX)))
                .collect(),
        })
    }
}

impl Handle for CleanupDelete {
    async fn handle(self, cx: &Ctx) -> Result<Vec<CleanupOutcome>> {
        if self.ids.is_empty() {
            anyhow::bail!("name the orphans to delete (`azlin cleanup --dry-run` lists them)");
        }
        let found = find(cx, self.rules).await?;
        let cleaner = cleaner(cx)?;
        let wanted = |id: &str| self.ids.iter().any(|w| w.eq_ignore_ascii_case(id));
        let mut out = Vec::new();
        // In the finder's order: NICs before what they held.
        for o in found.orphans.iter().filter(|o| wanted(&o.id)) {
            cx.progress(&o.name, format!("deleting {} {}", o.kind.as_str(), o.name));
            let failure = cleaner
                .delete(o, &cx.azure)
                .await
                .err()
                .map(|e| format!("{e:#}"));
            out.push(CleanupOutcome {
                id: o.id.clone(),
                name: o.name.clone(),
                failure,
            });
        }
        for id in &self.ids {
            if !found.orphans.iter().any(|o| o.id.eq_ignore_ascii_case(id)) {
                out.push(CleanupOutcome {
                    id: id.clone(),
                    name: crate::azure::models::name_of(id).to_string(),
                    failure: Some(
                        "not an orphan now (in use, gone, or outside the rules): left alone".into(),
                    ),
                });
            }
        }
        Ok(out)
    }
}
