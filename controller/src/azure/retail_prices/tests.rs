use serde_json::json;

use super::*;

fn fixture(name: &str) -> PricePage {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/azure/specs-examples/retail-prices")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// A pay-as-you-go Linux meter in the documented shape (the fixtures hold
/// none), with its Windows, Spot and Low Priority siblings.
fn d2s_v5_meters() -> Vec<PriceItem> {
    let item = |product: &str, sku: &str, kind: &str, price: f64| {
        json!({
            "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": price, "unitPrice": price,
            "armRegionName": "westus2", "location": "US West 2",
            "effectiveStartDate": "2021-11-01T00:00:00Z", "meterId": "x", "meterName": sku,
            "productId": "DZH318Z0CSHR", "skuId": "DZH318Z0CSHR/0017", "productName": product,
            "skuName": sku, "serviceName": "Virtual Machines", "serviceId": "DZH313Z7MMC8",
            "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": kind,
            "isPrimaryMeterRegion": true, "armSkuName": "Standard_D2s_v5"
        })
    };
    serde_json::from_value(json!([
        item(
            "Virtual Machines Dsv5 Series Windows",
            "D2s v5",
            "Consumption",
            0.188
        ),
        item(
            "Virtual Machines Dsv5 Series",
            "D2s v5 Spot",
            "Consumption",
            0.0193
        ),
        item(
            "Virtual Machines Dsv5 Series",
            "D2s v5 Low Priority",
            "Consumption",
            0.0192
        ),
        item(
            "Virtual Machines Dsv5 Series",
            "D2s v5",
            "DevTestConsumption",
            0.05
        ),
        item(
            "Virtual Machines Dsv5 Series",
            "D2s v5",
            "Consumption",
            0.096
        ),
    ]))
    .unwrap()
}

#[test]
fn the_linux_pay_as_you_go_meter_is_chosen_over_windows_spot_low_priority_and_devtest() {
    assert_eq!(
        pay_as_you_go_linux(&d2s_v5_meters(), "WestUS2", "standard_d2s_v5"),
        Some(0.096)
    );
    assert_eq!(
        pay_as_you_go_linux(&d2s_v5_meters(), "eastus", "Standard_D2s_v5"),
        None
    );
    let without_linux: Vec<PriceItem> = d2s_v5_meters().into_iter().take(4).collect();
    assert_eq!(
        pay_as_you_go_linux(&without_linux, "westus2", "Standard_D2s_v5"),
        None,
        "no data is no price, never a guess"
    );
}

#[test]
fn the_documented_pages_parse_and_hold_no_linux_pay_as_you_go_price() {
    let page = fixture("retail_prices_page1_usd.json");
    assert!(!page.items.is_empty());
    assert!(
        page.next_page_link
            .as_deref()
            .unwrap()
            .contains("$skip=100")
    );
    for item in &page.items {
        assert_eq!(
            pay_as_you_go_linux(&page.items, &item.arm_region_name, &item.arm_sku_name),
            None,
            "{item:?}"
        );
    }
    let last = fixture("retail_prices_last_page_eur.json");
    assert!(last.next_page_link.is_none_or(|l| l.is_empty()));
}

#[test]
fn the_query_filters_on_the_server_and_encodes_everything() {
    let url = query_url(
        "https://prices.azure.com/",
        "WestUS2",
        "Standard_D2s_v5",
        "USD",
    );
    assert!(
        url.starts_with(
            "https://prices.azure.com/api/retail/prices?currencyCode=%27USD%27&$filter="
        )
    );
    assert!(url.contains("armRegionName%20eq%20%27westus2%27"), "{url}");
    assert!(
        url.contains("armSkuName%20eq%20%27Standard_D2s_v5%27"),
        "{url}"
    );
    assert!(url.contains("priceType%20eq%20%27Consumption%27"), "{url}");
    assert!(!url.contains(' ') && !url.contains('\''));
}

#[test]
fn the_premium_files_provisioned_meter_is_chosen_over_snapshots_burst_and_reservations() {
    let item = |product: &str, meter: &str, unit: &str, kind: &str, price: f64| {
        json!({
            "currencyCode": "USD", "retailPrice": price, "unitPrice": price,
            "armRegionName": "westus2", "location": "US West 2", "meterName": meter,
            "productName": product, "skuName": "Premium LRS", "serviceName": "Storage",
            "serviceFamily": "Storage", "unitOfMeasure": unit, "type": kind,
            "isPrimaryMeterRegion": true, "armSkuName": ""
        })
    };
    let items: Vec<PriceItem> = serde_json::from_value(json!([
        item(
            "Premium Files",
            "Premium LRS Snapshots",
            "1 GB/Month",
            "Consumption",
            0.136
        ),
        item(
            "Premium Files",
            "Premium LRS Burst Transactions",
            "10K",
            "Consumption",
            0.01
        ),
        item(
            "Premium Files Reserved Capacity",
            "Provisioned",
            "1 GB/Month",
            "Reservation",
            0.1
        ),
        item(
            "Premium Files",
            "Premium LRS Provisioned",
            "1 GB/Month",
            "Consumption",
            0.16
        ),
    ]))
    .unwrap();
    assert_eq!(premium_files_per_gb_month(&items, "westus2"), Some(0.16));
    assert_eq!(premium_files_per_gb_month(&items, "eastus"), None);
    assert_eq!(premium_files_per_gb_month(&items[..3], "westus2"), None);
    let url = files_query_url("https://prices.azure.com/", "WestUS2", "USD");
    assert!(
        url.contains("productName%20eq%20%27Premium%20Files%27"),
        "{url}"
    );
    assert!(url.contains("armRegionName%20eq%20%27westus2%27"), "{url}");
}

fn meter(product: &str, sku: &str, meter: &str, unit: &str, kind: &str, price: f64) -> PriceItem {
    serde_json::from_value(json!({
        "currencyCode": "USD", "retailPrice": price, "armRegionName": "westus2",
        "productName": product, "skuName": sku, "meterName": meter,
        "unitOfMeasure": unit, "type": kind, "isPrimaryMeterRegion": true
    }))
    .unwrap()
}

#[test]
fn a_disk_tier_is_priced_by_its_monthly_disk_meter_alone() {
    let items = vec![
        meter(
            "Premium SSD Managed Disks",
            "P10 LRS",
            "P10 LRS Disk Mount",
            "1/Month",
            "Consumption",
            1.0,
        ),
        meter(
            "Premium SSD Managed Disks",
            "P10 LRS",
            "P10 LRS Disk",
            "1/Month",
            "Reservation",
            5.0,
        ),
        meter(
            "Premium SSD Managed Disks",
            "P10 LRS",
            "P10 LRS Disk",
            "1/Month",
            "Consumption",
            19.71,
        ),
        meter(
            "Premium SSD Managed Disks",
            "P10 LRS",
            "P10 LRS Disk",
            "1/Month",
            "Consumption",
            25.0,
        ),
    ];
    // The primary region's first; here all are, so the first consumption one.
    assert_eq!(disk_per_month(&items, "westus2", "P10 LRS"), Some(19.71));
    assert_eq!(disk_per_month(&items, "eastus", "P10 LRS"), None);
    assert_eq!(disk_per_month(&items, "westus2", "P15 LRS"), None);
}

#[test]
fn a_public_ip_is_priced_by_its_sku_and_allocation() {
    assert_eq!(
        public_ip_meter(Some("Standard"), Some("Static")),
        "Standard IPv4 Static Public IP"
    );
    assert_eq!(
        public_ip_meter(None, Some("Dynamic")),
        "Standard IPv4 Static Public IP"
    );
    assert_eq!(
        public_ip_meter(Some("Basic"), Some("Dynamic")),
        "Basic IPv4 Dynamic Public IP"
    );
    assert_eq!(
        public_ip_meter(Some("basic"), None),
        "Basic IPv4 Static Public IP"
    );
    let items = vec![
        meter(
            "IP Addresses",
            "Standard",
            "Standard IPv4 Static Public IP",
            "1 Hour",
            "Consumption",
            0.005,
        ),
        meter(
            "IP Addresses",
            "Basic",
            "Basic IPv4 Dynamic Public IP",
            "1 Hour",
            "Consumption",
            0.004,
        ),
    ];
    assert_eq!(
        public_ip_per_hour(&items, "westus2", "Standard IPv4 Static Public IP"),
        Some(0.005)
    );
    assert_eq!(
        public_ip_per_hour(&items, "westus2", "Basic IPv4 Static Public IP"),
        None
    );
}

#[test]
fn hot_blob_storage_is_priced_by_its_first_tier_data_stored_meter() {
    let tier = |min: f64, price: f64| {
        let mut m = meter(
            "General Block Blob v2",
            "Hot LRS",
            "Hot LRS Data Stored",
            "1 GB/Month",
            "Consumption",
            price,
        );
        m.tier_minimum_units = min;
        m
    };
    let items = vec![
        // Operations and later tiers are other meters of the same SKU.
        meter(
            "General Block Blob v2",
            "Hot LRS",
            "Hot LRS Write Operations",
            "10K",
            "Consumption",
            0.055,
        ),
        tier(51200.0, 0.0177),
        tier(0.0, 0.0184),
        tier(512000.0, 0.017),
    ];
    assert_eq!(hot_blob_per_gb_month(&items, "westus2"), Some(0.0184));
    assert_eq!(hot_blob_per_gb_month(&items, "eastus"), None);
    assert_eq!(hot_blob_per_gb_month(&items[..2], "westus2"), None);
    let url = hot_blob_query_url("https://prices.azure.com", "WestUS2", "USD");
    assert!(
        url.contains("productName%20eq%20%27General%20Block%20Blob%20v2%27")
            && url.contains("skuName%20eq%20%27Hot%20LRS%27"),
        "{url}"
    );
}
