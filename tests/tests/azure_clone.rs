//! `azlin clone` of an Azure VM against the emulated ARM, with systemd
//! containers standing in for the VMs (`arm::stand_in`): a snapshot of
//! SRC's OS disk is an image committed from SRC's container while it
//! runs, each clone's disk a copy of it, and each clone a container booted
//! from it with a machine UUID of its own. So a clone really boots SRC's
//! system with SRC's agent key on it: the test checks that SRC's agent,
//! bound to SRC's machine, waited unused on each clone until Run Command
//! came; that each clone then came up as itself (its own certificate,
//! host keys, machine id and name), with SRC's home less its secrets;
//! that SRC stayed connected throughout on one link; that the snapshots
//! are gone once the clones are made; and that a clone's disks go with it.
//! A VM whose agent is not bound to its machine is refused, with nothing
//! made.

use std::collections::HashSet;

use serde_json::json;

use azlin_e2e::{
    arm::stand_in::{StandIns, emulated_azure},
    docker::{self, DockerEnv, TEST_NETWORK, docker_ok},
};

const SUB: &str = "00000000-0000-0000-0000-0000000000c1";

#[test]
fn an_azure_clone_boots_a_copy_of_the_disk_and_comes_up_as_itself() {
    let Some(image) = docker::image() else {
        return;
    };
    let mut env = DockerEnv::new(&image);
    let stand_ins = StandIns::new(&env, TEST_NETWORK);
    // SRC has a machine UUID (as every Azure VM has); `unbound` has none,
    // so its agent cannot bind its key to it.
    let (src, src_ip) = stand_ins.boot(&image, "src", None, true);
    let (_, unbound_ip) = stand_ins.boot(&image, "unbound", None, false);
    let (fake, _blob, _) = emulated_azure(&mut env, SUB, &stand_ins);
    let rg = format!("/subscriptions/{SUB}/resourceGroups/theirs");
    fake.emulator(|e| {
        for (vm, ip) in [("src", &src_ip), ("unbound", &unbound_ip)] {
            e.plant_vm(&rg, vm, "Standard_D2s_v5", &format!("{vm}-nsg"), true);
            e.set_public_ip(
                &format!("{rg}/providers/Microsoft.Network/publicIPAddresses/{vm}-ip"),
                ip,
            );
        }
    });
    // SRC's home is on a data disk of its own (the original tool's clones
    // lost it): the clones get a copy of it, at the same LUN.
    let src_vm = format!("{rg}/providers/Microsoft.Compute/virtualMachines/src");
    let home_disk = format!("{rg}/providers/Microsoft.Compute/disks/src-home");
    fake.emulator(|e| {
        e.plant(
            &home_disk,
            json!({"location": "westus2", "managedBy": src_vm,
                   "properties": {"diskSizeGB": 64, "diskState": "Attached"}}),
        );
        e.edit(&src_vm, |vm| {
            vm["properties"]["storageProfile"]["dataDisks"] = json!([{"lun": 0, "name": "src-home",
                "createOption": "Attach", "managedDisk": {"id": home_disk}}]);
        });
    });
    env.ok(&["adopt", "src"]);
    env.ok(&["adopt", "unbound"]);
    let on = |container: &str, script: &str| {
        docker_ok(&["exec", container, "sh", "-c", script])
            .trim()
            .to_string()
    };
    on(
        &src,
        "su them -c 'mkdir -p ~/.ssh ~/work ~/notes && echo hello > ~/work/readme.md && \
         echo secret > ~/.ssh/id_ed25519 && \
         printf -- \"-----BEGIN OPENSSH PRIVATE KEY-----\\nabc\\n\" > ~/notes/keep-this.txt' && \
         echo from-src > /opt/marker",
    );
    let src_keys = on(&src, "cat /etc/ssh/ssh_host_ed25519_key.pub");
    let src_machine = on(&src, "cat /etc/machine-id");
    let src_serial = env.cert_serial("src").unwrap();
    assert_eq!(env.links("src"), 1);
    let snapshots = || {
        fake.emulator(|e| {
            e.paths()
                .into_iter()
                .filter(|p| p.contains("/microsoft.compute/snapshots/"))
                .count()
        })
    };

    // An agent that cannot tell a copy of its disk from its own VM: no
    // clone of it, and nothing made.
    let err = env.fails(&["clone", "unbound"]);
    assert!(
        err.contains("does not bind its key") && err.contains("azlin agent upgrade --vm unbound"),
        "{err}"
    );
    assert_eq!(snapshots(), 0);

    let out = env.ok(&["clone", "src", "--num-replicas", "2", "--json"]);
    let made: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = made.iter().map(|v| v["vm"].as_str().unwrap()).collect();
    assert_eq!(names, ["src-clone-1", "src-clone-2"], "{out}");
    let mut serials = HashSet::from([src_serial.clone()]);
    let mut machines = HashSet::from([src_machine.clone()]);
    for vm in &names {
        let container = stand_ins
            .container(vm)
            .expect("a stand-in booted the clone");
        // SRC's agent came up on the copy and, bound to SRC's machine,
        // used nothing: it waited for Run Command.
        let before = stand_ins.agent_before_run_command(vm).unwrap();
        assert!(
            before.contains("this disk was copied from another machine"),
            "{vm}: {before}"
        );
        assert!(env.connected(vm), "{vm}");
        assert!(
            serials.insert(env.cert_serial(vm).unwrap()),
            "{vm} shares a certificate"
        );
        assert_eq!(
            env.ok(&[
                "exec",
                "--vm",
                vm,
                "--",
                "whoami; hostname; cat ~/work/readme.md /opt/marker; \
                 for f in ~/.ssh/id_ed25519 ~/notes/keep-this.txt; do \
                 test -e $f && echo \"$f is here\"; done; true"
            ]),
            format!("them\n{vm}\nhello\nfrom-src\n"),
            "{vm}"
        );
        let keys = on(&container, "cat /etc/ssh/ssh_host_ed25519_key.pub");
        assert!(
            keys.starts_with("ssh-ed25519 ") && keys != src_keys,
            "{vm}: {keys}"
        );
        let machine = on(&container, "cat /etc/machine-id");
        assert!(machines.insert(machine.clone()), "{vm}: {machine:?}");
        // The copied disk is the clone's, attached, with no OS profile.
        let vm_body = fake
            .emulator(|e| {
                e.resource(&format!(
                    "{rg}/providers/Microsoft.Compute/virtualMachines/{vm}"
                ))
            })
            .unwrap();
        let storage = &vm_body["properties"]["storageProfile"];
        assert_eq!(storage["osDisk"]["createOption"], "Attach", "{vm_body}");
        assert!(vm_body["properties"].get("osProfile").is_none());
        let data = &storage["dataDisks"][0];
        assert_eq!(data["lun"], 0, "{vm_body}");
        let copy = data["managedDisk"]["id"].as_str().unwrap();
        assert!(copy.ends_with(&format!("/disks/{vm}-data0")), "{copy}");
        let copy = fake.emulator(|e| e.resource(copy)).unwrap();
        let from = copy["properties"]["creationData"]["sourceResourceId"]
            .as_str()
            .unwrap();
        assert!(from.contains("/snapshots/azlin-clone-src-"), "{from}");
        assert_eq!(
            copy["managedBy"].as_str(),
            Some(vm_body["id"].as_str().unwrap())
        );
    }
    // SRC ran throughout, on the same link, as itself, secrets and all.
    assert!(env.connected("src"));
    assert_eq!(env.links("src"), 1);
    assert_eq!(env.cert_serial("src").unwrap(), src_serial);
    assert_eq!(
        env.ok(&["exec", "--vm", "src", "--", "cat ~/.ssh/id_ed25519"]),
        "secret\n"
    );
    // The snapshots were the clones' source only.
    assert_eq!(snapshots(), 0);

    // A clone's disks go with it; SRC's stay SRC's.
    let disks = ["src-clone-1-osdisk", "src-clone-1-data0"]
        .map(|d| format!("{rg}/providers/Microsoft.Compute/disks/{d}"));
    for disk in &disks {
        assert!(fake.emulator(|e| e.resource(disk)).is_some(), "{disk}");
    }
    env.ok(&["kill", "src-clone-1"]);
    for disk in &disks {
        assert!(fake.emulator(|e| e.resource(disk)).is_none(), "{disk}");
    }
    let home = fake.emulator(|e| e.resource(&home_disk)).unwrap();
    assert_eq!(home["managedBy"].as_str(), Some(src_vm.as_str()));
    assert!(stand_ins.container("src-clone-1").is_none());
}
