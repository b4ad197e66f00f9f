//! What a VM size costs per hour, from the Azure Retail Prices API
//! (`https://prices.azure.com/api/retail/prices`): unauthenticated, paged
//! by `NextPageLink`. Only the pay-as-you-go Linux meter counts: items of
//! type `Consumption`, per hour, whose product is not Windows and whose
//! SKU is not Spot or Low Priority ([`pay_as_you_go_linux`] is that
//! choice, pure); reservations and DevTest prices are left out by the
//! query itself.
//!
//! Not here: caching (`state.db` keeps answers for a day; see
//! `daemon::prices`) or showing prices.

use std::time::Duration;

use serde::Deserialize;

use super::{
    retry::{self, Outcome},
    sas::encode,
};

/// Azure's public Retail Prices endpoint.
pub const RETAIL_PRICES_ENDPOINT: &str = "https://prices.azure.com";

/// Pages followed at most (a filtered query has one or two).
const MAX_PAGES: usize = 50;

/// One page of the API's answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PricePage {
    #[serde(default)]
    pub items: Vec<PriceItem>,
    #[serde(default)]
    pub next_page_link: Option<String>,
}

/// One meter's price.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceItem {
    #[serde(default)]
    pub currency_code: String,
    #[serde(default)]
    pub retail_price: f64,
    #[serde(default)]
    pub arm_region_name: String,
    #[serde(default)]
    pub arm_sku_name: String,
    #[serde(default)]
    pub product_name: String,
    #[serde(default)]
    pub sku_name: String,
    #[serde(default)]
    pub meter_name: String,
    #[serde(default)]
    pub unit_of_measure: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub is_primary_meter_region: Option<bool>,
    /// The usage this price starts at (tiered meters: 0, then 51,200 GB…).
    #[serde(default)]
    pub tier_minimum_units: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("the Retail Prices API did not answer ({0}); prices are left out")]
    Unreachable(String),
    #[error("the Retail Prices API answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the Retail Prices API sent what azlin cannot read: {0}")]
    Malformed(String),
    #[error("the Retail Prices API kept sending pages (more than {MAX_PAGES})")]
    TooManyPages,
}

/// The API's URL for the items `filter` (OData) chooses, priced in
/// `currency`.
fn filtered_url(endpoint: &str, filter: &str, currency: &str) -> String {
    format!(
        "{}/api/retail/prices?currencyCode={}&$filter={}",
        endpoint.trim_end_matches('/'),
        encode(&format!("'{currency}'")),
        encode(filter)
    )
}

/// The query for one size's meters in one region.
pub fn query_url(endpoint: &str, region: &str, size: &str, currency: &str) -> String {
    let filter = format!(
        "serviceName eq 'Virtual Machines' and armRegionName eq '{}' and armSkuName eq '{}' and \
         priceType eq 'Consumption'",
        region.to_ascii_lowercase(),
        size
    );
    filtered_url(endpoint, &filter, currency)
}

/// The query for Premium Files' provisioned LRS meter in one region.
pub fn files_query_url(endpoint: &str, region: &str, currency: &str) -> String {
    let filter = format!(
        "serviceName eq 'Storage' and armRegionName eq '{}' and productName eq 'Premium Files' \
         and skuName eq 'Premium LRS' and priceType eq 'Consumption'",
        region.to_ascii_lowercase()
    );
    filtered_url(endpoint, &filter, currency)
}

/// The price of a provisioned GB a month of a Premium (LRS) file share in
/// `region` among `items`: the `Premium LRS Provisioned` meter (not
/// snapshots, not burst), by the GB (or GiB) a month.
pub fn premium_files_per_gb_month(items: &[PriceItem], region: &str) -> Option<f64> {
    items
        .iter()
        .filter(|i| {
            i.kind.eq_ignore_ascii_case("Consumption")
                && i.arm_region_name.eq_ignore_ascii_case(region)
                && i.product_name.eq_ignore_ascii_case("Premium Files")
                && i.meter_name.eq_ignore_ascii_case("Premium LRS Provisioned")
                && matches!(
                    i.unit_of_measure.to_ascii_lowercase().as_str(),
                    "1 gb/month" | "1 gib/month"
                )
        })
        .min_by_key(|i| i.is_primary_meter_region != Some(true))
        .map(|i| i.retail_price)
}

/// The query for a managed disk tier's meters in one region
/// (`sku_name` as the API spells it: `P10 LRS`, `E10 ZRS`, `S4 LRS`).
pub fn disk_query_url(endpoint: &str, region: &str, sku_name: &str, currency: &str) -> String {
    let filter = format!(
        "serviceName eq 'Storage' and armRegionName eq '{}' and skuName eq '{sku_name}' and \
         priceType eq 'Consumption'",
        region.to_ascii_lowercase()
    );
    filtered_url(endpoint, &filter, currency)
}

/// The price a month of one managed disk of tier `sku_name` in `region`
/// among `items`: its `{sku_name} Disk` meter by the month (not its
/// snapshots, mounts or operations).
pub fn disk_per_month(items: &[PriceItem], region: &str, sku_name: &str) -> Option<f64> {
    let meter = format!("{sku_name} Disk");
    items
        .iter()
        .filter(|i| {
            i.kind.eq_ignore_ascii_case("Consumption")
                && i.arm_region_name.eq_ignore_ascii_case(region)
                && i.meter_name.eq_ignore_ascii_case(&meter)
                && i.unit_of_measure.eq_ignore_ascii_case("1/Month")
        })
        .min_by_key(|i| i.is_primary_meter_region != Some(true))
        .map(|i| i.retail_price)
}

/// The query for hot LRS block blob storage's meters in one region (a
/// general-purpose v2 account's default tier and azlin's agent store's).
pub fn hot_blob_query_url(endpoint: &str, region: &str, currency: &str) -> String {
    let filter = format!(
        "serviceName eq 'Storage' and armRegionName eq '{}' and productName eq 'General Block \
         Blob v2' and skuName eq 'Hot LRS' and priceType eq 'Consumption'",
        region.to_ascii_lowercase()
    );
    filtered_url(endpoint, &filter, currency)
}

/// The price of a GB a month of hot LRS block blob data in `region` among
/// `items`: the `Hot LRS Data Stored` meter's first tier (from 0 GB; its
/// operations and later tiers are other items).
pub fn hot_blob_per_gb_month(items: &[PriceItem], region: &str) -> Option<f64> {
    items
        .iter()
        .filter(|i| {
            i.kind.eq_ignore_ascii_case("Consumption")
                && i.arm_region_name.eq_ignore_ascii_case(region)
                && i.meter_name.eq_ignore_ascii_case("Hot LRS Data Stored")
                && i.tier_minimum_units == 0.0
                && matches!(
                    i.unit_of_measure.to_ascii_lowercase().as_str(),
                    "1 gb/month" | "1 gib/month"
                )
        })
        .min_by_key(|i| i.is_primary_meter_region != Some(true))
        .map(|i| i.retail_price)
}

/// The query for public IP addresses' meters in one region.
pub fn public_ip_query_url(endpoint: &str, region: &str, currency: &str) -> String {
    let filter = format!(
        "serviceName eq 'Virtual Network' and armRegionName eq '{}' and productName eq 'IP \
         Addresses' and priceType eq 'Consumption'",
        region.to_ascii_lowercase()
    );
    filtered_url(endpoint, &filter, currency)
}

/// The meter a public IP is billed by: `Standard IPv4 Static Public IP`,
/// `Basic IPv4 Dynamic Public IP`… (a Standard IP is always static).
pub fn public_ip_meter(sku: Option<&str>, allocation: Option<&str>) -> String {
    let sku = match sku {
        Some(s) if s.eq_ignore_ascii_case("Basic") => "Basic",
        _ => "Standard",
    };
    let allocation = match allocation {
        Some(a) if a.eq_ignore_ascii_case("Dynamic") && sku == "Basic" => "Dynamic",
        _ => "Static",
    };
    format!("{sku} IPv4 {allocation} Public IP")
}

/// The price an hour of one public IP billed by `meter` in `region` among
/// `items`.
pub fn public_ip_per_hour(items: &[PriceItem], region: &str, meter: &str) -> Option<f64> {
    items
        .iter()
        .filter(|i| {
            i.kind.eq_ignore_ascii_case("Consumption")
                && i.arm_region_name.eq_ignore_ascii_case(region)
                && i.meter_name.eq_ignore_ascii_case(meter)
                && i.unit_of_measure.eq_ignore_ascii_case("1 Hour")
        })
        .min_by_key(|i| i.is_primary_meter_region != Some(true))
        .map(|i| i.retail_price)
}

/// The pay-as-you-go Linux price per hour of `size` in `region` among
/// `items`: a `Consumption` meter by the hour, not Windows, not Spot, not
/// Low Priority. When several remain, the primary meter region's.
pub fn pay_as_you_go_linux(items: &[PriceItem], region: &str, size: &str) -> Option<f64> {
    let lower = |s: &str| s.to_ascii_lowercase();
    let mut fitting: Vec<&PriceItem> = items
        .iter()
        .filter(|i| {
            i.kind.eq_ignore_ascii_case("Consumption")
                && i.arm_region_name.eq_ignore_ascii_case(region)
                && i.arm_sku_name.eq_ignore_ascii_case(size)
                && i.unit_of_measure.eq_ignore_ascii_case("1 Hour")
                && !lower(&i.product_name).contains("windows")
                && !lower(&i.sku_name).contains("spot")
                && !lower(&i.sku_name).contains("low priority")
                && !lower(&i.meter_name).contains("spot")
                && !lower(&i.meter_name).contains("low priority")
        })
        .collect();
    fitting.sort_by_key(|i| i.is_primary_meter_region != Some(true));
    fitting.first().map(|i| i.retail_price)
}

/// Every item of the query at `url` (one of this module's `*query_url`),
/// following `NextPageLink`; throttling and server errors are retried as
/// [`retry`] says.
pub async fn fetch_url(
    http: &reqwest::Client,
    mut url: String,
) -> Result<Vec<PriceItem>, PriceError> {
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        let page = get(http, &url).await?;
        items.extend(page.items);
        match page.next_page_link {
            Some(next) if !next.is_empty() => url = next,
            _ => return Ok(items),
        }
    }
    Err(PriceError::TooManyPages)
}

async fn get(http: &reqwest::Client, url: &str) -> Result<PricePage, PriceError> {
    let mut attempt = 1;
    loop {
        let (outcome, retry_after, failure) = match http.get(url).send().await {
            Ok(resp) if resp.status().is_success() => {
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| PriceError::Unreachable(e.without_url().to_string()))?;
                return serde_json::from_slice(&body)
                    .map_err(|e| PriceError::Malformed(e.to_string()));
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let body: String = resp
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                (
                    Outcome::Status(status),
                    retry_after,
                    PriceError::Status { status, body },
                )
            }
            Err(e) => (
                Outcome::NoResponse,
                None,
                PriceError::Unreachable(e.without_url().to_string()),
            ),
        };
        match retry::delay(attempt, outcome, retry_after, retry::jitter()) {
            Some(wait) => {
                tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
                attempt += 1;
            }
            None => return Err(failure),
        }
    }
}

#[cfg(test)]
mod tests;
