//! `azlin snapshot` on Azure VMs against the emulated ARM (strict on
//! snapshots and disks, see `arm::emulator::disks`): incremental
//! snapshots of the OS disk tagged with the VM and the snapshot; a
//! restore deallocates, makes a disk from the snapshot, swaps it in and
//! starts the VM, whose agent comes back with the certificate it had; the
//! old disk is kept unattached, or deleted with --delete-old; Azure's 7
//! snapshots a disk in 5 minutes is refused before anything is made;
//! delete removes the snapshot resources.

use std::time::Duration;

use azlin_e2e::arm::azure_env::AzureEnv;
use serde_json::Value;

const SUB: &str = "00000000-0000-0000-0000-0000000000c1";

#[test]
fn azure_vms_are_snapshotted_incrementally_and_restored_by_a_disk_swap() {
    let az = AzureEnv::new(SUB, "snaps", "");
    let (env, fake) = (&az.env, &az.fake);
    let rg = az.rg();
    env.ok(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "az1",
        "--no-dev-tools",
    ]);
    env.wait("connected", Duration::from_secs(60), || {
        env.connected("az1")
    });
    let get = |path: &str| fake.emulator(|e| e.resource(path));
    let vm_path = format!("{rg}/providers/Microsoft.Compute/virtualMachines/az1");
    let os_disk = |vm: &Value| {
        vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first_disk = os_disk(&get(&vm_path).unwrap());
    let serial_before = env.cert_serial("az1");

    let out = env.ok(&["snapshot", "create", "az1", "--name", "s1", "--json"]);
    let view: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(view[0]["provider"], "azure");
    assert!(
        view[0]["holds"].as_str().unwrap().contains("s1-os"),
        "{out}"
    );
    let snap = get(&format!("{rg}/providers/Microsoft.Compute/snapshots/s1-os")).unwrap();
    assert_eq!(snap["tags"]["azlin-vm"], "az1");
    assert_eq!(snap["tags"]["azlin-snapshot"], "s1");
    assert_eq!(snap["tags"]["managed-by"], "azlin");
    assert_eq!(snap["properties"]["incremental"], true);
    assert_eq!(
        snap["properties"]["creationData"]["sourceResourceId"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        first_disk.to_ascii_lowercase()
    );
    assert_eq!(get(&vm_path).unwrap()["powerState"], "running");

    let plan = env.ok(&["snapshot", "restore", "az1", "s1", "--dry-run"]);
    assert!(plan.contains("deallocate az1"), "{plan}");
    assert_eq!(os_disk(&get(&vm_path).unwrap()), first_disk);

    let out = env.ok(&["snapshot", "restore", "az1", "s1", "--yes"]);
    assert!(out.contains("same certificate"), "{out}");
    let vm = get(&vm_path).unwrap();
    let second_disk = os_disk(&vm);
    assert!(second_disk.contains("/disks/s1-os-"), "{second_disk}");
    assert_eq!(vm["powerState"], "running");
    let old = get(&first_disk).expect("the old disk is kept");
    assert_eq!(old["properties"]["diskState"], "Unattached");
    assert_eq!(env.cert_serial("az1"), serial_before, "enrolled again");
    assert!(env.connected("az1"));

    // Azure's limit: 7 of a disk in 5 minutes, refused before any is made.
    for n in 2..=8 {
        env.ok(&["snapshot", "create", "az1", "--name", &format!("s{n}")]);
    }
    let err = env.fails(&["snapshot", "create", "az1", "--name", "s9"]);
    assert!(
        err.contains("7 incremental snapshots of a disk in 5 minutes"),
        "{err}"
    );
    assert!(get(&format!("{rg}/providers/Microsoft.Compute/snapshots/s9-os")).is_none());

    // --delete-old: the disk it ran on goes.
    env.ok(&["snapshot", "restore", "az1", "s2", "--yes", "--delete-old"]);
    assert!(get(&second_disk).is_none(), "the old disk is still there");
    assert!(env.connected("az1"));

    env.ok(&["snapshot", "delete", "s1", "--yes"]);
    assert!(get(&format!("{rg}/providers/Microsoft.Compute/snapshots/s1-os")).is_none());
    let listed: Vec<Value> =
        serde_json::from_str(&env.ok(&["snapshot", "list", "az1", "--json"])).unwrap();
    assert_eq!(listed.len(), 7);
    // A schedule takes fewer than Azure's limit allows.
    let err = env.fails(&["snapshot", "schedule", "az1", "--every", "30s"]);
    assert!(err.contains("at least 43s for azure VMs"), "{err}");
    env.ok(&[
        "snapshot", "schedule", "az1", "--every", "1h", "--keep", "3",
    ]);
    // The process standing in for az1 has no machine UUID, so its agent
    // cannot tell a copy of its disk from az1: no clone of it (clones of
    // Azure VMs are tested in azure_clone.rs).
    let err = env.fails(&["clone", "az1"]);
    assert!(
        err.contains("does not bind its key to az1's machine"),
        "{err}"
    );
}
