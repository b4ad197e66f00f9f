use serde_json::json;

use super::*;

fn skus() -> Vec<ResourceSku> {
    serde_json::from_value(json!([
        {"resourceType": "virtualMachines", "name": "Standard_D2s_v5", "family": "standardDSv5Family",
         "locations": ["westus2"], "capabilities": [{"name": "vCPUs", "value": "2"}], "restrictions": []},
        {"resourceType": "virtualMachines", "name": "Standard_D4s_v5", "family": "standardDSv5Family",
         "locations": ["westus2"], "capabilities": [{"name": "vCPUs", "value": "4"}],
         "restrictions": [{"type": "Location", "values": ["westus2"], "reasonCode": "NotAvailableForSubscription"}]},
        {"resourceType": "virtualMachines", "name": "Standard_E2s_v5", "family": "standardESv5Family",
         "locations": ["westus2"], "capabilities": [{"name": "vCPUs", "value": "2"}],
         "restrictions": [{"type": "Zone", "values": ["westus2"], "reasonCode": "NotAvailableForSubscription"}]},
        {"resourceType": "disks", "name": "Premium_LRS", "locations": ["westus2"]}
    ]))
    .unwrap()
}

fn usages(family_used: i64, cores_used: i64) -> Vec<Usage> {
    serde_json::from_value(json!([
        {"currentValue": cores_used, "limit": 20, "name": {"value": "cores", "localizedValue": "Total Regional vCPUs"}},
        {"currentValue": family_used, "limit": 10, "name": {"value": "standardDSv5Family"}},
        {"currentValue": 0, "limit": 10, "name": {"value": "standardESv5Family"}}
    ]))
    .unwrap()
}

#[test]
fn a_size_with_room_in_both_quotas_passes_with_its_footprint() {
    let f = check(&skus(), &usages(4, 4), "standard_d2s_v5", "WestUS2", 3).unwrap();
    assert_eq!(
        f,
        Footprint {
            family: "standardDSv5Family".into(),
            vcpus: 2
        }
    );
    // A zone restriction does not stop a VM that names no zone.
    check(&skus(), &usages(0, 0), "Standard_E2s_v5", "westus2", 1).unwrap();
}

#[test]
fn a_full_family_quota_is_refused_with_both_figures() {
    let err = check(&skus(), &usages(10, 10), "Standard_D2s_v5", "westus2", 1).unwrap_err();
    assert!(
        err.starts_with("standardDSv5Family in westus2: 10 of 10 vCPUs used, this VM needs 2"),
        "{err}"
    );
    assert!(err.contains("Usage + quotas"), "{err}");
    // The pool counts as a whole.
    let err = check(&skus(), &usages(6, 6), "Standard_D2s_v5", "westus2", 3).unwrap_err();
    assert!(
        err.contains("6 of 10 vCPUs used, these 3 VMs need 6"),
        "{err}"
    );
}

#[test]
fn a_full_regional_total_is_refused_even_with_family_room() {
    let err = check(&skus(), &usages(0, 19), "Standard_D2s_v5", "westus2", 1).unwrap_err();
    assert!(
        err.starts_with("Total Regional vCPUs in westus2: 19 of 20 vCPUs used, this VM needs 2"),
        "{err}"
    );
}

#[test]
fn unknown_and_restricted_sizes_are_refused_saying_why() {
    let err = check(&skus(), &usages(0, 0), "Standard_D2s_v6", "westus2", 1).unwrap_err();
    assert!(err.contains("not offered in westus2"), "{err}");
    assert!(err.contains("did you mean Standard_D2s_v5"), "{err}");
    let err = check(&skus(), &usages(0, 0), "Standard_D4s_v5", "westus2", 1).unwrap_err();
    assert!(err.contains("restricted in westus2"), "{err}");
    assert!(err.contains("NotAvailableForSubscription"), "{err}");
    let err = check(&skus(), &usages(0, 0), "Standard_D2s_v5", "eastus", 1).unwrap_err();
    assert!(err.contains("not offered in eastus"), "{err}");
}
