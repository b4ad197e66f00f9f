use super::*;

fn fixture(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/azure/specs-examples/cost-management")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_documented_answers_read_as_days_and_amounts() {
    for name in ["ResourceGroupQuery.json", "ResourceGroupQueryGrouping.json"] {
        let example = fixture(name);
        let page: QueryResult =
            serde_json::from_value(example["responses"]["200"]["body"].clone()).unwrap();
        let rows = rows(&page).unwrap();
        assert_eq!(rows.len(), 2, "{name}");
        assert_eq!(rows[0].day, Day::parse("2018-04-17").unwrap());
        assert!((rows[1].cost - 20.10333307059661).abs() < 1e-12);
        assert_eq!(rows[0].currency, "USD");
        assert!(page.properties.next_link.is_none());
    }
}

#[test]
fn columns_are_found_by_name_in_any_order() {
    let page: QueryResult = serde_json::from_value(serde_json::json!({"properties": {
        "nextLink": "https://x/next",
        "columns": [
            {"name": "ResourceId", "type": "String"},
            {"name": "Currency", "type": "String"},
            {"name": "UsageDate", "type": "Number"},
            {"name": "Cost", "type": "Number"}
        ],
        "rows": [["/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/DISKS/D", "EUR", 20261201, 1.25]]
    }}))
    .unwrap();
    let rows = rows(&page).unwrap();
    assert_eq!(
        rows[0].resource_id,
        "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/disks/d"
    );
    assert_eq!(rows[0].currency, "EUR");
    assert_eq!(rows[0].cost, 1.25);
}

#[test]
fn an_answer_azlin_cannot_read_is_said_so() {
    let bad = |v: serde_json::Value| rows(&serde_json::from_value(v).unwrap()).unwrap_err();
    let cols = serde_json::json!([{"name": "Cost"}, {"name": "UsageDate"}]);
    assert!(
        bad(serde_json::json!({"properties": {"columns": cols, "rows": [["x", 20260101]]}}))
            .contains("not a number")
    );
    assert!(
        bad(serde_json::json!({"properties": {"columns": cols, "rows": [[1.0, 20261399]]}}))
            .contains("not a date")
    );
    assert!(
        bad(serde_json::json!({"properties": {"columns": [{"name": "Cost"}], "rows": [[1.0]]}}))
            .contains("UsageDate")
    );
    // No rows is no data, not an error.
    assert!(
        rows(&serde_json::from_value(serde_json::json!({"properties": {}})).unwrap())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_request_asks_actual_cost_by_day_and_resource_for_whole_days() {
    let q = QueryDefinition::daily_by_resource(
        Day::parse("2026-11-01").unwrap(),
        Day::parse("2026-11-30").unwrap(),
    );
    let v = serde_json::to_value(&q).unwrap();
    assert_eq!(v["type"], "ActualCost");
    assert_eq!(v["timeframe"], "Custom");
    assert_eq!(v["timePeriod"]["from"], "2026-11-01T00:00:00Z");
    assert_eq!(v["timePeriod"]["to"], "2026-11-30T23:59:59Z");
    assert_eq!(v["dataset"]["granularity"], "Daily");
    assert_eq!(v["dataset"]["grouping"][0]["name"], "ResourceId");
    assert_eq!(v["dataset"]["aggregation"]["totalCost"]["function"], "Sum");
}
