//! Every recorded ARM response in `tests/fixtures/azure` (Azure CLI
//! recordings and the REST specs' examples; another folder of the same
//! layout with `AZLIN_ARM_FIXTURES=DIR`, see `azlin_e2e::arm::fixtures_dir`)
//! parses into azlin's typed models, and every recorded error body becomes
//! a clear error. A response the models cannot read, or an error body that
//! gives no clear error, fails here with its file and request.

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
use azlin_e2e::arm::{FIXTURES_ENV, cassette, fixtures_dir};
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
                if e.code.is_empty() || e.to_string().is_empty() {
                    failures.push(format!(
                        "{file} #{i} {} {}: error {} gives no clear error (code {:?}, message {:?})",
                        x.method,
                        x.path(),
                        x.status,
                        e.code,
                        e.to_string()
                    ));
                }
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
    let root = fixtures_dir().join("specs-examples");
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
        let dir = root.join(dir);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let Some((_, kind, _)) = by_prefix.iter().find(|(p, _, _)| name.starts_with(p)) else {
                continue;
            };
            let example: serde_json::Value = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
                .unwrap_or_else(|e| panic!("{} is not a JSON example: {e}", path.display()));
            let Some(responses) = example["responses"].as_object() else {
                failures.push(format!("{name}: no \"responses\" object"));
                continue;
            };
            for (code, response) in responses {
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

/// Runs one test of this file again in a child process with
/// `AZLIN_ARM_FIXTURES` set to `dir`: whether it passed, and what it said.
fn run_with_fixtures(test: &str, dir: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(FIXTURES_ENV, dir)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `AZLIN_ARM_FIXTURES` names another folder of the same layout, read
/// instead of the repository's: a copy elsewhere passes both checks.
#[test]
fn another_fixtures_folder_is_read_instead() {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&fixtures_dir(), copy.path());
    for test in [
        "every_recorded_response_parses_into_the_models",
        "every_spec_example_parses_into_the_models",
    ] {
        let (passed, said) = run_with_fixtures(test, copy.path());
        assert!(passed, "{test} on a copy of the fixtures failed:\n{said}");
    }
}

/// A recording whose response the models cannot read, or whose error body
/// gives no error code, fails the check naming its file and request; a
/// file that is not a cassette fails naming the file.
#[test]
fn a_broken_recording_fails_naming_its_file_and_request() {
    const CASSETTE: &str = r#"interactions:
- request:
    method: GET
    uri: https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2023-09-01
  response:
    body:
      string: '<html>not a VM</html>'
    headers: {}
    status:
      code: 200
- request:
    method: DELETE
    uri: https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg1?api-version=2023-09-01
  response:
    body:
      string: '{"error": {"code": "", "message": ""}}'
    headers: {}
    status:
      code: 409
"#;
    let test = "every_recorded_response_parses_into_the_models";

    let broken = tempfile::tempdir().unwrap();
    let vm = broken.path().join("recordings/azure-cli/vm");
    std::fs::create_dir_all(&vm).unwrap();
    std::fs::write(vm.join("test_broken.yaml"), CASSETTE).unwrap();
    let (passed, said) = run_with_fixtures(test, broken.path());
    assert!(!passed, "a broken recording passed:\n{said}");
    for needle in [
        "azure-cli/vm/test_broken.yaml #0 GET /subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1: vm: expected value",
        "azure-cli/vm/test_broken.yaml #1 DELETE /subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg1: error 409 gives no clear error",
    ] {
        assert!(said.contains(needle), "no {needle:?} in:\n{said}");
    }

    let garbled = tempfile::tempdir().unwrap();
    let vm = garbled.path().join("recordings/azure-cli/vm");
    std::fs::create_dir_all(&vm).unwrap();
    std::fs::write(vm.join("test_garbled.yaml"), "interactions: [ {request: \n").unwrap();
    let (passed, said) = run_with_fixtures(test, garbled.path());
    assert!(!passed, "a file that is not a cassette passed:\n{said}");
    let needle = format!(
        "{} is not a cassette",
        vm.join("test_garbled.yaml").display()
    );
    assert!(said.contains(&needle), "no {needle:?} in:\n{said}");
}
