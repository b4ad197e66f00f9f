//! Every recorded ARM response in `shared/fixtures/azure` (Azure CLI
//! recordings and the REST specs' examples) parses into azlin's typed
//! models, and every recorded error body becomes a clear error. A response
//! the models cannot read fails here with its file and request.

use std::collections::BTreeMap;

use azlin_controller::azure::{
    error::ArmError,
    models::{
        OperationStatus, Page,
        compute::{Disk, InstanceView, Snapshot, VirtualMachine},
        network::{
            NetworkInterface, NetworkSecurityGroup, PublicIpAddress, SecurityRule, Subnet,
            VirtualNetwork,
        },
        resources::{Deployment, ResourceGroup, TagsResource},
        storage::{FileShare, StorageAccount},
    },
};
use azlin_e2e::arm::{cassette, fixtures};
use serde::de::DeserializeOwned;

/// The model a response body at `path` is, by ARM's URL shape.
fn kind_of(path: &str) -> Option<&'static str> {
    let p = path.to_ascii_lowercase();
    let segs: Vec<&str> = p.trim_matches('/').split('/').collect();
    let last_pair = |collection: &str| {
        // …/collection/{name}: one resource; …/collection: a list.
        match segs.iter().rposition(|s| *s == collection) {
            Some(i) if i + 2 == segs.len() => Some(true),
            Some(i) if i + 1 == segs.len() => Some(false),
            _ => None,
        }
    };
    let pick = |collection: &str, one: &'static str, many: &'static str| {
        last_pair(collection).map(|single| if single { one } else { many })
    };
    if p.contains("/operations/")
        || p.contains("/operationstatuses/")
        || p.contains("/asyncoperations/")
        || p.contains("/diskoperations/")
    {
        return Some("status");
    }
    if p.ends_with("/instanceview") {
        return Some("instance-view");
    }
    pick("tags", "tags", "tags")
        .or_else(|| pick("deployments", "deployment", "deployments"))
        .or_else(|| pick("securityrules", "security-rule", "security-rules"))
        .or_else(|| pick("subnets", "subnet", "subnets"))
        .or_else(|| pick("shares", "file-share", "file-shares"))
        .or_else(|| pick("virtualmachines", "vm", "vms"))
        .or_else(|| pick("networksecuritygroups", "nsg", "nsgs"))
        .or_else(|| pick("publicipaddresses", "public-ip", "public-ips"))
        .or_else(|| pick("networkinterfaces", "nic", "nics"))
        .or_else(|| pick("virtualnetworks", "vnet", "vnets"))
        .or_else(|| pick("snapshots", "snapshot", "snapshots"))
        .or_else(|| pick("disks", "disk", "disks"))
        .or_else(|| pick("storageaccounts", "storage-account", "storage-accounts"))
        .or_else(|| {
            (segs.len() == 4 && segs[0] == "subscriptions" && segs[2] == "resourcegroups")
                .then_some("resource-group")
        })
}

fn parse<T: DeserializeOwned>(body: &str) -> Result<(), String> {
    serde_json::from_str::<T>(body)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn parse_as(kind: &str, body: &str) -> Result<(), String> {
    match kind {
        "status" => {
            // Some status URLs answer with the finished resource instead.
            let v: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
            if v.get("status").is_some() {
                parse::<OperationStatus>(body)
            } else {
                Ok(())
            }
        }
        "instance-view" => parse::<InstanceView>(body),
        "vm" => parse::<VirtualMachine>(body),
        "vms" => parse::<Page<VirtualMachine>>(body),
        "nsg" => parse::<NetworkSecurityGroup>(body),
        "nsgs" => parse::<Page<NetworkSecurityGroup>>(body),
        "security-rule" => parse::<SecurityRule>(body),
        "security-rules" => parse::<Page<SecurityRule>>(body),
        "public-ip" => parse::<PublicIpAddress>(body),
        "public-ips" => parse::<Page<PublicIpAddress>>(body),
        "nic" => parse::<NetworkInterface>(body),
        "nics" => parse::<Page<NetworkInterface>>(body),
        "vnet" => parse::<VirtualNetwork>(body),
        "vnets" => parse::<Page<VirtualNetwork>>(body),
        "subnet" => parse::<Subnet>(body),
        "subnets" => parse::<Page<Subnet>>(body),
        "snapshot" => parse::<Snapshot>(body),
        "snapshots" => parse::<Page<Snapshot>>(body),
        "disk" => parse::<Disk>(body),
        "disks" => parse::<Page<Disk>>(body),
        "storage-account" => parse::<StorageAccount>(body),
        "storage-accounts" => parse::<Page<StorageAccount>>(body),
        "file-share" => parse::<FileShare>(body),
        "file-shares" => parse::<Page<FileShare>>(body),
        "resource-group" => parse::<ResourceGroup>(body),
        "tags" => parse::<TagsResource>(body),
        "deployment" => parse::<Deployment>(body),
        "deployments" => parse::<Page<Deployment>>(body),
        other => Err(format!("no model for {other}")),
    }
}

#[test]
fn every_recorded_response_parses_into_the_models() {
    let mut parsed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut errors = 0;
    let mut failures = Vec::new();
    for (file, interactions) in cassette::all() {
        for (i, x) in interactions.iter().enumerate() {
            let body = x.body.trim();
            if x.status >= 400 {
                let e = ArmError::from_response(x.status, body.as_bytes(), x.path());
                assert!(!e.code.is_empty() && !e.to_string().is_empty());
                errors += 1;
                continue;
            }
            if body.is_empty() || !(200..300).contains(&x.status) {
                continue;
            }
            let Some(kind) = kind_of(x.path()) else {
                continue;
            };
            match parse_as(kind, body) {
                Ok(()) => {
                    *parsed.entry(kind).or_default() += 1;
                    // `$expand=instanceView` puts the power state in the VM.
                    if kind == "vm"
                        && let Ok(vm) = serde_json::from_str::<VirtualMachine>(body)
                        && let Some(view) = vm.properties.instance_view
                    {
                        assert!(
                            view.power_state().is_some() || view.provisioning_state().is_some()
                        );
                        *parsed.entry("instance-view").or_default() += 1;
                    }
                }
                Err(e) => failures.push(format!(
                    "{file} #{i} {} {}: {kind}: {e}",
                    x.method,
                    x.path()
                )),
            }
        }
    }
    println!("parsed {parsed:?}; {errors} error bodies");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for kind in [
        "vm",
        "vms",
        "instance-view",
        "nsg",
        "security-rule",
        "public-ip",
        "nic",
        "vnet",
        "subnet",
        "snapshot",
        "storage-account",
        "file-share",
        "resource-group",
        "tags",
        "deployment",
        "status",
    ] {
        assert!(
            parsed.get(kind).copied().unwrap_or(0) > 0,
            "no recorded {kind} was checked: {parsed:?}"
        );
    }
}

/// The REST specs' examples: `{"responses": {"200": {"body": …}}}`.
#[test]
fn every_spec_example_parses_into_the_models() {
    let root = fixtures().join("specs-examples");
    let by_prefix: [(&str, &str, &str); 15] = [
        (
            "VirtualMachine_Get_InstanceView",
            "instance-view",
            "instance-view",
        ),
        ("VirtualMachine_Get", "vm", "vm"),
        ("VirtualMachine_Create", "vm", "vm"),
        ("VirtualMachine_List_", "vms", "vms"),
        ("NetworkInterface", "nic", "nic"),
        ("NetworkSecurityGroupRule", "security-rule", "security-rule"),
        ("NetworkSecurityGroup", "nsg", "nsg"),
        ("PublicIpAddress", "public-ip", "public-ip"),
        ("VirtualNetworkCreateSubnet", "subnet", "subnet"),
        ("VirtualNetworkCreate", "vnet", "vnet"),
        ("Snapshot_ListByResourceGroup", "snapshots", "snapshots"),
        ("Snapshot_Create", "snapshot", "snapshot"),
        ("Snapshot_Get", "snapshot", "snapshot"),
        ("StorageAccountCreate", "storage-account", "storage-account"),
        ("FileShares", "file-share", "file-share"),
    ];
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in [
        "compute/virtualMachineExamples",
        "compute/snapshotExamples",
        "network",
        "storage",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let Some((_, kind, _)) = by_prefix.iter().find(|(p, _, _)| name.starts_with(p)) else {
                continue;
            };
            let example: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            for (code, response) in example["responses"].as_object().unwrap() {
                let Some(body) = response.get("body") else {
                    continue;
                };
                match parse_as(kind, &body.to_string()) {
                    Ok(()) => checked += 1,
                    Err(e) => failures.push(format!("{name} {code}: {kind}: {e}")),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 20, "only {checked} example bodies checked");
}
