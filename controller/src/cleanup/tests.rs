use serde_json::{Value, json};

use super::*;

const RG: &str = "/subscriptions/s/resourceGroups/rg";
const NOW: i64 = 1_800_000_000;
const OLD: i64 = NOW - 3 * 86400;

fn id(kind: &str, name: &str) -> String {
    format!("{RG}/providers/{kind}/{name}")
}

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn tagged() -> Value {
    json!({"managed-by": "azlin"})
}

fn rules() -> Rules {
    Rules {
        now: NOW,
        older_than_secs: 0,
        include_untagged: false,
    }
}

/// A group with an abandoned VM's NIC, IP and NSG, a loose disk and IP,
/// and every in-use look-alike the original tool listed as orphans.
fn listing() -> Listing {
    let nic = |name: &str, extra: Value| -> NetworkInterface {
        let mut v = json!({"id": id("Microsoft.Network/networkInterfaces", name), "name": name,
                           "tags": tagged(), "properties": {"ipConfigurations": []}});
        for (k, x) in extra.as_object().unwrap() {
            v["properties"][k] = x.clone();
        }
        parse(v)
    };
    let ip = |name: &str, extra: Value| -> PublicIpAddress {
        let mut v = json!({"id": id("Microsoft.Network/publicIPAddresses", name), "name": name,
                           "tags": tagged(), "sku": {"name": "Standard"},
                           "properties": {"publicIPAllocationMethod": "Static"}});
        for (k, x) in extra.as_object().unwrap() {
            v["properties"][k] = x.clone();
        }
        parse(v)
    };
    let dead_nic = id("Microsoft.Network/networkInterfaces", "dead-nic");
    let mut l = Listing {
        vms: vec![parse(
            json!({"id": id("Microsoft.Compute/virtualMachines", "live"),
                                "name": "live", "location": "westus2", "properties": {}}),
        )],
        nics: vec![
            nic("dead-nic", json!({})),
            nic(
                "live-nic",
                json!({"virtualMachine": {"id": id("Microsoft.Compute/virtualMachines", "live")}}),
            ),
            nic(
                "pe-nic",
                json!({"privateEndpoint": {"id": id("Microsoft.Network/privateEndpoints", "pe")}}),
            ),
        ],
        ips: vec![
            ip("loose-ip", json!({})),
            ip(
                "dead-ip",
                json!({"ipConfiguration": {"id": format!("{dead_nic}/ipConfigurations/ipconfig1")}}),
            ),
            ip(
                "live-ip",
                json!({"ipConfiguration": {"id": format!("{}/ipConfigurations/ipconfig1", id("Microsoft.Network/networkInterfaces", "live-nic"))}}),
            ),
            ip(
                "nat-ip",
                json!({"natGateway": {"id": id("Microsoft.Network/natGateways", "nat")}}),
            ),
            ip(
                "lb-ip",
                json!({"ipConfiguration": {"id": format!("{}/frontendIPConfigurations/fe", id("Microsoft.Network/loadBalancers", "lb"))}}),
            ),
        ],
        nsgs: vec![
            parse(
                json!({"id": id("Microsoft.Network/networkSecurityGroups", "dead-nsg"), "name": "dead-nsg",
                         "tags": tagged(), "properties": {"networkInterfaces": [{"id": dead_nic}]}}),
            ),
            parse(
                json!({"id": id("Microsoft.Network/networkSecurityGroups", "subnet-nsg"), "name": "subnet-nsg",
                         "tags": tagged(), "properties": {"subnets": [{"id": "x"}]}}),
            ),
        ],
        disks: vec![
            parse(
                json!({"id": id("Microsoft.Compute/disks", "loose-disk"), "name": "loose-disk",
                         "location": "westus2", "tags": tagged(), "sku": {"name": "Premium_LRS"},
                         "properties": {"diskState": "Unattached", "diskSizeGB": 100,
                                        "timeCreated": "2026-12-01T08:00:00Z"}}),
            ),
            parse(
                json!({"id": id("Microsoft.Compute/disks", "fresh-disk"), "name": "fresh-disk",
                         "location": "westus2", "tags": tagged(),
                         "properties": {"diskState": "Unattached",
                                        "timeCreated": jiff::Timestamp::from_second(NOW - 600).unwrap().to_string()}}),
            ),
            parse(
                json!({"id": id("Microsoft.Compute/disks", "theirs"), "name": "theirs",
                         "location": "westus2", "properties": {"diskState": "Unattached",
                                        "timeCreated": "2026-12-01T08:00:00Z"}}),
            ),
            parse(
                json!({"id": id("Microsoft.Compute/disks", "reserved"), "name": "reserved",
                         "location": "westus2", "tags": tagged(),
                         "properties": {"diskState": "Reserved", "timeCreated": "2026-12-01T08:00:00Z"}}),
            ),
            parse(
                json!({"id": id("Microsoft.Compute/disks", "live-os"), "name": "live-os",
                         "location": "westus2", "tags": tagged(),
                         "managedBy": id("Microsoft.Compute/virtualMachines", "live"),
                         "properties": {"diskState": "Attached", "timeCreated": "2026-12-01T08:00:00Z"}}),
            ),
        ],
        deployments: vec![
            parse(
                json!({"id": id("Microsoft.Resources/deployments", "azlin-gone"), "name": "azlin-gone",
                         "properties": {"provisioningState": "Succeeded", "timestamp": "2026-12-01T08:00:00Z"}}),
            ),
            parse(
                json!({"id": id("Microsoft.Resources/deployments", "azlin-live"), "name": "azlin-live",
                         "properties": {"provisioningState": "Succeeded", "timestamp": "2026-12-01T08:00:00Z"}}),
            ),
            parse(
                json!({"id": id("Microsoft.Resources/deployments", "someone-elses"), "name": "someone-elses",
                         "properties": {"provisioningState": "Succeeded", "timestamp": "2026-12-01T08:00:00Z"}}),
            ),
        ],
        created: BTreeMap::new(),
        agent_blobs: Vec::new(),
        current_agent_blob: None,
    };
    for name in ["dead-nic", "live-nic", "pe-nic"] {
        l.created
            .insert(lower(&id("Microsoft.Network/networkInterfaces", name)), OLD);
    }
    for name in ["loose-ip", "dead-ip", "live-ip", "nat-ip", "lb-ip"] {
        l.created
            .insert(lower(&id("Microsoft.Network/publicIPAddresses", name)), OLD);
    }
    for name in ["dead-nsg", "subnet-nsg"] {
        l.created.insert(
            lower(&id("Microsoft.Network/networkSecurityGroups", name)),
            OLD,
        );
    }
    l
}

fn names(found: &[Orphan]) -> Vec<&str> {
    found.iter().map(|o| o.name.as_str()).collect()
}

#[test]
fn only_real_orphans_are_listed_nics_first() {
    let (found, passed) = orphans(&listing(), rules());
    assert_eq!(
        names(&found),
        [
            "dead-nic",
            "dead-ip",
            "loose-ip",
            "dead-nsg",
            "loose-disk",
            "azlin-gone"
        ]
    );
    let why = |n: &str| found.iter().find(|o| o.name == n).unwrap().why.clone();
    assert_eq!(why("dead-ip"), "a public IP only on orphan NIC dead-nic");
    assert_eq!(why("dead-nsg"), "an NSG only on orphan NICs");
    for reason in [
        "in use: public IP of NAT gateway nat",
        "in use: public IP of load balancer lb",
        "in use: public IP of NIC live-nic",
        "in use: NIC of a private endpoint",
        "in use: NIC on VM live",
        "in use: NSG of a subnet",
        "in use: disk Reserved",
        "in use: disk of VM live",
        "in use: deployment record of a VM that exists",
        UNTAGGED,
        YOUNG,
    ] {
        assert_eq!(passed.get(reason), Some(&1), "{reason}: {passed:?}");
    }
}

#[test]
fn untagged_resources_are_listed_only_when_asked() {
    let (found, passed) = orphans(
        &listing(),
        Rules {
            include_untagged: true,
            ..rules()
        },
    );
    assert!(names(&found).contains(&"theirs"));
    assert!(!passed.contains_key(UNTAGGED));
}

#[test]
fn older_than_and_unknown_ages_leave_resources_alone() {
    let (found, passed) = orphans(
        &listing(),
        Rules {
            older_than_secs: 10 * 86400,
            ..rules()
        },
    );
    // The disk and record of 2026-12-01 are older than ten days; the
    // NIC and IP (three days old) are not, and the IP and NSG on that NIC
    // are then in use by it.
    assert_eq!(names(&found), ["loose-disk", "azlin-gone"]);
    assert_eq!(passed[NOT_OLD_ENOUGH], 2, "{passed:?}");

    // Without the resource lists' times, NICs and IPs have no age.
    let mut l = listing();
    l.created.clear();
    let (found, passed) = orphans(&l, rules());
    assert_eq!(names(&found), ["loose-disk", "azlin-gone"]);
    assert_eq!(passed[AGE_UNKNOWN], 2, "{passed:?}");
}

#[test]
fn a_running_deployment_is_never_an_orphan() {
    let mut l = listing();
    l.deployments[0].properties.provisioning_state = Some("Running".into());
    let (found, _) = orphans(&l, rules());
    assert!(!names(&found).contains(&"azlin-gone"));
}

#[test]
fn disk_tiers_follow_the_size_table() {
    assert_eq!(disk_tier("Premium_LRS", 30).as_deref(), Some("P4"));
    assert_eq!(disk_tier("Premium_LRS", 100).as_deref(), Some("P10"));
    assert_eq!(disk_tier("Premium_ZRS", 128).as_deref(), Some("P10"));
    assert_eq!(disk_tier("StandardSSD_LRS", 129).as_deref(), Some("E15"));
    assert_eq!(disk_tier("Standard_LRS", 8).as_deref(), Some("S4"));
    assert_eq!(disk_tier("UltraSSD_LRS", 128), None);
    assert_eq!(disk_tier("PremiumV2_LRS", 128), None);
    assert_eq!(disk_tier("Premium_LRS", 40000), None);
    assert_eq!(disk_redundancy("Premium_ZRS"), "ZRS");
}

const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SHA_C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

fn agent_blob(name: &str, created: Option<i64>) -> AgentBlob {
    AgentBlob {
        id: format!(
            "{RG}/providers/Microsoft.Storage/storageAccounts/azlinx/blobServices/default/\
             containers/azlin-agents/blobs/{name}"
        ),
        name: name.into(),
        created,
        bytes: Some(9 << 20),
        location: Some("westus2".into()),
    }
}

/// A store holding the current build, an old one, one uploaded an hour
/// ago, one of unknown age and a blob that is no build.
fn store_listing(current: Option<&str>) -> Listing {
    Listing {
        agent_blobs: vec![
            agent_blob(&format!("azlin-agent-{SHA_A}"), Some(OLD)),
            agent_blob(&format!("azlin-agent-{SHA_B}"), Some(OLD)),
            agent_blob(&format!("azlin-agent-{SHA_C}"), Some(NOW - 3600)),
            agent_blob("azlin-agent-notes.txt", Some(OLD)),
            agent_blob(&format!("azlin-agent-{}", &SHA_C[..63]), None),
        ],
        current_agent_blob: current.map(|s| format!("azlin-agent-{s}")),
        ..Listing::default()
    }
}

#[test]
fn only_agent_builds_no_vm_needs_are_orphans() {
    let (found, passed) = orphans(&store_listing(Some(SHA_A)), rules());
    assert_eq!(names(&found), [format!("azlin-agent-{SHA_B}")]);
    assert_eq!(found[0].kind, Kind::AgentBlob);
    assert_eq!(
        found[0].billing,
        Billing::Blob {
            bytes: Some(9 << 20)
        }
    );
    assert_eq!(found[0].location.as_deref(), Some("westus2"));
    assert_eq!(passed["in use: the agent build new VMs get"], 1);
    assert_eq!(
        passed["agent build uploaded less than two hours ago (a new VM may be downloading it)"],
        1
    );
    assert_eq!(
        passed["not an agent build azlin uploaded (in its agent store)"],
        2
    );

    // Without a build of its own here, azlin cannot say which build VMs
    // get: none is an orphan.
    let (found, passed) = orphans(&store_listing(None), rules());
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(
        passed["agent build: this machine has no azlin-agent to say which one VMs get"],
        3
    );

    // --older-than holds for builds too.
    let (found, _) = orphans(
        &store_listing(Some(SHA_A)),
        Rules {
            older_than_secs: 4 * 86400,
            ..rules()
        },
    );
    assert!(found.is_empty(), "{found:?}");
}
