//! `azlin cleanup` against the emulated ARM, which derives what uses what
//! as ARM does and refuses to delete what is in use. The resource group
//! holds a running azlin VM, real orphans (an abandoned VM's NIC with its
//! IP and NSG, a loose disk and IP, a deployment record of a gone VM) and
//! the look-alikes the original tool listed (#1086): a NAT gateway's IP, a
//! load balancer's frontend IP, a private endpoint's NIC, plus an untagged
//! disk and a disk ten minutes old. The agent store holds the build the
//! VM was made from (and new VMs get), an old build, and another build
//! uploaded ten minutes ago. Only the real orphans are listed,
//! priced (Retail Prices) and, when confirmed, deleted; a dry run and a
//! run without a terminal change nothing; a delete that fails is reported
//! and does not stop the rest.

use std::time::Duration;

use azlin_e2e::arm::azure_env::AzureEnv;
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-0000000000c7";

fn ago(secs: i64) -> String {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - secs)
        .unwrap()
        .to_string()
}

fn names(found: &Value) -> Vec<String> {
    found["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn only_real_orphans_are_listed_priced_and_deleted() {
    let az = AzureEnv::new(SUB, "tidy", "");
    let (env, fake) = (&az.env, &az.fake);
    let rg = az.rg();
    env.ok(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "live",
        "--no-dev-tools",
    ]);
    env.wait("connected", Duration::from_secs(60), || {
        env.connected("live")
    });

    let three_days = ago(3 * 86400);
    let net = |kind: &str, name: &str| format!("{rg}/providers/Microsoft.Network/{kind}/{name}");
    let disk = |name: &str| format!("{rg}/providers/Microsoft.Compute/disks/{name}");
    let ours = json!({"managed-by": "azlin"});
    fake.emulator(|e| {
        // An abandoned VM's NIC, holding its IP and NSG.
        e.plant(&net("publicIPAddresses", "lost-nic-ip"), json!({"location": "westus2",
            "tags": ours, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}));
        e.plant(&net("networkSecurityGroups", "lost-nsg"), json!({"location": "westus2", "tags": ours, "properties": {}}));
        e.plant(&net("networkInterfaces", "lost-nic"), json!({"location": "westus2", "tags": ours, "properties": {
            "ipConfigurations": [{"name": "ipconfig1", "properties": {
                "publicIPAddress": {"id": net("publicIPAddresses", "lost-nic-ip")}}}],
            "networkSecurityGroup": {"id": net("networkSecurityGroups", "lost-nsg")}}}));
        e.plant(&net("publicIPAddresses", "lost-ip"), json!({"location": "westus2",
            "tags": ours, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}));
        e.plant(&disk("lost-disk"), json!({"location": "westus2", "tags": ours, "sku": {"name": "Premium_LRS"},
            "properties": {"diskState": "Unattached", "diskSizeGB": 128, "timeCreated": three_days}}));
        e.plant(&format!("{rg}/providers/Microsoft.Resources/deployments/azlin-gone"),
            json!({"properties": {"timestamp": three_days}}));
        // Look-alikes: in use, untagged, or too new.
        e.plant(&net("publicIPAddresses", "nat-ip"), json!({"location": "westus2", "tags": ours,
            "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}));
        e.plant(&net("natGateways", "nat"), json!({"location": "westus2", "properties": {
            "publicIpAddresses": [{"id": net("publicIPAddresses", "nat-ip")}]}}));
        e.plant(&net("publicIPAddresses", "lb-ip"), json!({"location": "westus2", "tags": ours,
            "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}));
        e.plant(&net("loadBalancers", "lb"), json!({"location": "westus2", "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {
                "publicIPAddress": {"id": net("publicIPAddresses", "lb-ip")}}}]}}));
        e.plant(&net("privateEndpoints", "pe"), json!({"location": "westus2", "tags": ours, "properties": {}}));
        e.plant(&disk("their-disk"), json!({"location": "westus2", "sku": {"name": "Premium_LRS"},
            "properties": {"diskState": "Unattached", "diskSizeGB": 128, "timeCreated": three_days}}));
        e.plant(&disk("new-disk"), json!({"location": "westus2", "tags": ours, "sku": {"name": "Premium_LRS"},
            "properties": {"diskState": "Unattached", "diskSizeGB": 128, "timeCreated": ago(600)}}));
        for path in e.paths() {
            if !path.contains("/virtualmachines/") && !path.contains("live") {
                e.set_created(&path, &three_days);
            }
        }
        e.set_created(&disk("new-disk"), &ago(600));
    });
    // The agent store: the current build (uploaded by `new`), an old one
    // and one a VM may still be downloading.
    let store = azlin_controller::provider::azure::account_name(SUB, "westus2");
    let builds = az.blob.names_in(&store, "azlin-agents");
    assert_eq!(builds.len(), 1, "{builds:?}");
    let old_build = format!("azlin-agent-{}", "0".repeat(64));
    let young_build = format!("azlin-agent-{}", "1".repeat(64));
    let now = jiff::Timestamp::now().as_second();
    az.blob.plant(
        &store,
        "azlin-agents",
        &old_build,
        &vec![7u8; 1 << 20],
        now - 3 * 86400,
    );
    az.blob
        .plant(&store, "azlin-agents", &young_build, b"young", now - 600);
    let before = fake.emulator(|e| e.paths());

    // The dry run lists the real orphans, NICs first, and changes nothing.
    let found: Value = serde_json::from_str(&env.ok(&["cleanup", "--dry-run", "--json"])).unwrap();
    assert_eq!(
        names(&found),
        [
            "lost-nic",
            "lost-ip",
            "lost-nic-ip",
            "lost-nsg",
            "lost-disk",
            "azlin-gone",
            &old_build,
        ],
        "{found:#}"
    );
    assert_eq!(fake.emulator(|e| e.paths()), before);
    assert_eq!(az.blob.names_in(&store, "azlin-agents").len(), 3);
    let orphan = |n: &str| {
        found["orphans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(orphan("lost-disk")["per_month"], 19.71);
    assert!(
        orphan("lost-disk")["price_source"]
            .as_str()
            .unwrap()
            .contains("P10 LRS"),
        "{found:#}"
    );
    let ip_month = orphan("lost-ip")["per_month"].as_f64().unwrap();
    assert!((ip_month - 0.005 * 730.0).abs() < 1e-9, "{ip_month}");
    let blob_month = orphan(&old_build)["per_month"].as_f64().unwrap();
    assert!((blob_month - 0.0184 / 1024.0).abs() < 1e-12, "{blob_month}");
    assert_eq!(orphan(&old_build)["kind"], "agent-blob");
    assert_eq!(orphan("lost-nic")["per_month"], Value::Null);
    assert_eq!(orphan("lost-nic")["price_source"], "not billed by Azure");
    assert!(orphan("lost-disk")["age_secs"].as_i64().unwrap() >= 3 * 86400);
    let passed: Vec<String> = found["passed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["why"].as_str().unwrap().to_string())
        .collect();
    for why in [
        "in use: public IP of NAT gateway nat",
        "in use: public IP of load balancer lb",
        "in use: NIC of a private endpoint",
        "in use: NIC on VM live",
        "in use: disk of VM live",
        "in use: deployment record of a VM that exists",
        "in use: the agent build new VMs get",
        "agent build uploaded less than two hours ago (a new VM may be downloading it)",
    ] {
        assert!(passed.iter().any(|p| p == why), "{why}: {passed:?}");
    }
    assert!(
        passed.iter().any(|p| p.starts_with("not tagged")),
        "{passed:?}"
    );
    assert!(
        passed
            .iter()
            .any(|p| p.starts_with("made less than an hour")),
        "{passed:?}"
    );

    // --include-untagged adds the user's disk, never what is in use.
    let all: Value =
        serde_json::from_str(&env.ok(&["cleanup", "--dry-run", "--json", "--include-untagged"]))
            .unwrap();
    let all = names(&all);
    assert!(all.contains(&"their-disk".to_string()), "{all:?}");
    for kept in ["nat-ip", "lb-ip", "pe.nic.0", "new-disk", "live"] {
        assert!(!all.iter().any(|n| n.contains(kept)), "{kept}: {all:?}");
    }

    // The table names the subscription; without a terminal nothing is
    // deleted.
    let table = env.ok(&["cleanup", "--dry-run"]);
    assert!(
        table.contains(SUB) && table.contains("dry run: nothing deleted"),
        "{table}"
    );
    assert!(table.contains("total"), "{table}");
    let err = env.fails(&["cleanup"]);
    assert!(err.contains("no terminal to ask on"), "{err}");
    assert_eq!(fake.emulator(|e| e.paths()), before);

    // A delete Azure refuses is reported; the rest go.
    fake.emulator(|e| {
        e.delete_refusals.insert(
            "lost-ip".into(),
            json!({"status": 409, "error": {"code": "Conflict", "message": "held by a lock"}}),
        );
    });
    let out = env.run(&["cleanup", "--yes"]);
    assert!(!out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stderr.contains("NOT deleted lost-ip") && stderr.contains("held by a lock"),
        "{stderr}"
    );
    assert!(stderr.contains("1 of 7 not deleted"), "{stderr}");
    assert!(stdout.contains("deleted lost-disk"), "{stdout}");
    let get = |path: &str| fake.emulator(|e| e.resource(path));
    for gone in [
        net("networkInterfaces", "lost-nic"),
        net("publicIPAddresses", "lost-nic-ip"),
        net("networkSecurityGroups", "lost-nsg"),
        disk("lost-disk"),
        format!("{rg}/providers/Microsoft.Resources/deployments/azlin-gone"),
    ] {
        assert!(get(&gone).is_none(), "{gone} is still there");
    }
    // The old build is gone; the current one and the young one stay.
    let mut left = az.blob.names_in(&store, "azlin-agents");
    left.sort();
    let mut expected = vec![builds[0].clone(), young_build.clone()];
    expected.sort();
    assert_eq!(left, expected);
    for kept in [
        net("publicIPAddresses", "lost-ip"),
        net("publicIPAddresses", "nat-ip"),
        net("publicIPAddresses", "lb-ip"),
        net("networkInterfaces", "pe.nic.0"),
        disk("their-disk"),
        disk("new-disk"),
        format!("{rg}/providers/Microsoft.Compute/virtualMachines/live"),
        format!("{rg}/providers/Microsoft.Resources/deployments/azlin-live"),
    ] {
        assert!(get(&kept).is_some(), "{kept} was deleted");
    }
    assert!(env.connected("live"));

    // Once Azure lets go, the last one goes too.
    fake.emulator(|e| e.delete_refusals.clear());
    let out = env.ok(&["cleanup", "--yes"]);
    assert!(out.contains("deleted lost-ip"), "{out}");
    assert!(get(&net("publicIPAddresses", "lost-ip")).is_none());
    let found: Value = serde_json::from_str(&env.ok(&["cleanup", "--dry-run", "--json"])).unwrap();
    assert!(names(&found).is_empty(), "{found:#}");
}
