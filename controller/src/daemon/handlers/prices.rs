//! What a VM size costs per hour in a region, as `new`, `list` and
//! `status` show it: `state.db`'s answers of the last day, else the Azure
//! Retail Prices API (whose endpoint the request's Azure context names),
//! whose answer is kept. A size the API has no pay-as-you-go Linux price
//! for is "no price", never zero; an API that does not answer is said so.

use std::sync::OnceLock;

use crate::{
    azure::{
        context::ArmAccess,
        retail_prices::{self, RETAIL_PRICES_ENDPOINT},
    },
    daemon::Daemon,
    ipc::vms::Price,
    state::retail_prices::FILES_PREMIUM_LRS,
};

/// The currency prices are asked in.
pub const CURRENCY: &str = "USD";

/// Where a price came from, as shown beside it.
pub const SOURCE: &str = "pay-as-you-go Linux, Azure Retail Prices API";

/// How long one size's price is waited for (a slow or unreachable API
/// leaves prices out; it never holds up `new` or `list` for long).
pub const LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The answer for one size: a price, or why there is none.
pub type Lookup = Result<Price, String>;

fn http() -> &'static reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    HTTP.get_or_init(|| {
        azlin_protocol::install_crypto_provider();
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("a default HTTP client builds")
    })
}

/// The price of `size` in `region`.
pub async fn per_hour(d: &Daemon, access: &ArmAccess, region: &str, size: &str) -> Lookup {
    let endpoint = access.prices.as_deref().unwrap_or(RETAIL_PRICES_ENDPOINT);
    let url = retail_prices::query_url(endpoint, region, size, CURRENCY);
    let price = kept_or_asked(d, region, size, url, |items| {
        retail_prices::pay_as_you_go_linux(items, region, size)
    })
    .await?;
    price
        .map(|per_hour| Price {
            per_hour,
            currency: CURRENCY.into(),
            source: SOURCE.into(),
        })
        .ok_or_else(|| {
            format!("the Retail Prices API has no pay-as-you-go Linux price for {size} in {region}")
        })
}

/// What a provisioned GB of a Premium (LRS) file share costs a month in
/// `region`, in [`CURRENCY`].
pub async fn files_per_gb_month(
    d: &Daemon,
    access: &ArmAccess,
    region: &str,
) -> Result<f64, String> {
    let endpoint = access.prices.as_deref().unwrap_or(RETAIL_PRICES_ENDPOINT);
    let url = retail_prices::files_query_url(endpoint, region, CURRENCY);
    kept_or_asked(d, region, FILES_PREMIUM_LRS, url, |items| {
        retail_prices::premium_files_per_gb_month(items, region)
    })
    .await?
    .ok_or_else(|| format!("the Retail Prices API has no Premium Files price in {region}"))
}

/// What one managed disk of tier `sku_name` (`P10 LRS`) costs a month in
/// `region`, in [`CURRENCY`].
pub async fn disk_per_month(
    d: &Daemon,
    access: &ArmAccess,
    region: &str,
    sku_name: &str,
) -> Result<f64, String> {
    let endpoint = access.prices.as_deref().unwrap_or(RETAIL_PRICES_ENDPOINT);
    let url = retail_prices::disk_query_url(endpoint, region, sku_name, CURRENCY);
    kept_or_asked(d, region, &format!("disk {sku_name}"), url, |items| {
        retail_prices::disk_per_month(items, region, sku_name)
    })
    .await?
    .ok_or_else(|| format!("the Retail Prices API has no price for a {sku_name} disk in {region}"))
}

/// What a GB of hot LRS block blob data costs a month in `region`, in
/// [`CURRENCY`].
pub async fn hot_blob_per_gb_month(
    d: &Daemon,
    access: &ArmAccess,
    region: &str,
) -> Result<f64, String> {
    let endpoint = access.prices.as_deref().unwrap_or(RETAIL_PRICES_ENDPOINT);
    let url = retail_prices::hot_blob_query_url(endpoint, region, CURRENCY);
    kept_or_asked(d, region, "Hot LRS Data Stored", url, |items| {
        retail_prices::hot_blob_per_gb_month(items, region)
    })
    .await?
    .ok_or_else(|| format!("the Retail Prices API has no hot LRS blob price in {region}"))
}

/// What one public IP billed by `meter` costs an hour in `region`, in
/// [`CURRENCY`].
pub async fn public_ip_per_hour(
    d: &Daemon,
    access: &ArmAccess,
    region: &str,
    meter: &str,
) -> Result<f64, String> {
    let endpoint = access.prices.as_deref().unwrap_or(RETAIL_PRICES_ENDPOINT);
    let url = retail_prices::public_ip_query_url(endpoint, region, CURRENCY);
    kept_or_asked(d, region, meter, url, |items| {
        retail_prices::public_ip_per_hour(items, region, meter)
    })
    .await?
    .ok_or_else(|| format!("the Retail Prices API has no {meter} price in {region}"))
}

/// The kept answer for `meter` in `region`, else the API's at `url` (the
/// price `choose` picks from its items), kept: `None` when it has none.
async fn kept_or_asked(
    d: &Daemon,
    region: &str,
    meter: &str,
    url: String,
    choose: impl FnOnce(&[retail_prices::PriceItem]) -> Option<f64>,
) -> Result<Option<f64>, String> {
    let kept =
        d.db.lock()
            .expect("db lock")
            .retail_price(region, meter, CURRENCY);
    if let Ok(Some(p)) = kept {
        return Ok(p);
    }
    let items = tokio::time::timeout(LIMIT, retail_prices::fetch_url(http(), url))
        .await
        .map_err(|_| format!("the Retail Prices API did not answer within {LIMIT:?}"))?
        .map_err(|e| e.to_string())?;
    let p = choose(&items);
    if let Err(e) =
        d.db.lock()
            .expect("db lock")
            .set_retail_price(region, meter, CURRENCY, p)
    {
        tracing::warn!("cannot keep the price of {meter} in {region}: {e:#}");
    }
    Ok(p)
}
