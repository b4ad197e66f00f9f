//! `azlin adopt`: a VM azlin did not make (a systemd container from the VM
//! image stands in for it, on the docker test network, with its own user)
//! is listed as `no agent`, then adopted through the emulated ARM's Run
//! Command, which really runs azlin's script in the container: the agent
//! comes from the subscription's blob store through a read-only SAS (the
//! fake Blob endpoint listens on the network's gateway), is checked,
//! installed and started by systemd, enrolls, and runs `exec`; its agent
//! is then upgraded over the connection. A VM with no public IP is
//! adopted in dial mode (the daemon listens on the network's gateway),
//! and one that reaches nothing fails with the VM's words and a hint.
//! Windows, deallocated and unreachable VMs are refused with the reason
//! and nothing changed.

use azlin_e2e::{
    arm::stand_in::{StandIns, emulated_azure},
    docker::{self, DockerEnv, TEST_NETWORK, docker_ok},
};

const SUB: &str = "00000000-0000-0000-0000-0000000000ad";

#[test]
fn a_vm_azlin_did_not_make_is_adopted_through_run_command_and_runs_exec() {
    let Some(image) = docker::image() else {
        return;
    };
    let mut env = DockerEnv::new(&image);
    // The VM: the image booted by systemd, with the admin user its owner
    // made; no agent.
    let stand_ins = StandIns::new(&env, TEST_NETWORK);
    let (container, vm_ip) = stand_ins.boot(&image, "legacy", None, false);
    // One with no public IP, which can only dial in; one that reaches
    // nothing at all (so not Azure Storage either).
    stand_ins.boot(&image, "quiet", None, false);
    stand_ins.boot(&image, "offline", Some("none"), false);
    let (fake, blob, gateway) = emulated_azure(&mut env, SUB, &stand_ins);
    let rg = format!("/subscriptions/{SUB}/resourceGroups/theirs");
    fake.emulator(|e| {
        e.plant_vm(&rg, "legacy", "Standard_D2s_v5", "legacy-nsg", true);
        e.set_public_ip(
            &format!("{rg}/providers/Microsoft.Network/publicIPAddresses/legacy-ip"),
            &vm_ip,
        );
        e.plant_vm(&rg, "win", "Standard_D2s_v5", "win-nsg", true);
        e.edit(
            &format!("{rg}/providers/Microsoft.Compute/virtualMachines/win"),
            |vm| vm["properties"]["storageProfile"]["osDisk"]["osType"] = "Windows".into(),
        );
        e.plant_vm(&rg, "sleepy", "Standard_D2s_v5", "sleepy-nsg", true);
        e.set_power(
            &format!("{rg}/providers/Microsoft.Compute/virtualMachines/sleepy"),
            "deallocated",
        );
        e.plant_vm(&rg, "private", "Standard_D2s_v5", "private-nsg", false);
        e.plant_vm(&rg, "quiet", "Standard_D2s_v5", "quiet-nsg", false);
        e.plant_vm(&rg, "offline", "Standard_D2s_v5", "offline-nsg", true);
        e.set_public_ip(
            &format!("{rg}/providers/Microsoft.Network/publicIPAddresses/offline-ip"),
            "192.0.2.9",
        );
        // legacy's subnet has an NSG of its own: both must admit the agent.
        e.plant_subnet_nsg(&rg, "subnet-nsg");
    });
    let nsg_rules = |nsg: &str| {
        fake.emulator(|e| {
            e.paths()
                .into_iter()
                .filter(|p| p.contains(&format!("/networksecuritygroups/{nsg}/securityrules/")))
                .count()
        })
    };
    let listed = |vm: &str| env.list().into_iter().find(|v| v["name"] == vm).unwrap();
    let legacy = || listed("legacy");
    assert_eq!(legacy()["no_agent"], true);

    // --dry-run says what would change, and changes nothing.
    let plan = env.ok(&["adopt", "--dry-run", "legacy"]);
    assert!(
        plan.contains("admit UDP 47800 from the allowed address in NSG legacy-nsg"),
        "{plan}"
    );
    assert!(plan.contains("Run Command on legacy"), "{plan}");
    assert_eq!(nsg_rules("legacy-nsg"), 0);
    assert!(blob.seen().is_empty());

    // What cannot be adopted says why and changes nothing.
    let err = env.fails(&["adopt", "win"]);
    assert!(err.contains("runs Windows"), "{err}");
    let err = env.fails(&["adopt", "sleepy"]);
    assert!(
        err.contains("deallocated") && err.contains("azlin start sleepy"),
        "{err}"
    );
    let err = env.fails(&["adopt", "private"]);
    assert!(
        err.contains("no public IP") && err.contains("[daemon] listen"),
        "{err}"
    );
    assert_eq!(nsg_rules("private-nsg"), 0);
    assert!(
        env.fails(&["adopt", "nowhere"])
            .contains("no VM named \"nowhere\"")
    );

    // Adopted: the NSG admits the agent from the allowed address only, the
    // agent came through the SAS, enrolled, and runs commands as the VM's
    // own user.
    let out = env.ok(&["adopt", "legacy"]);
    assert!(out.contains("legacy"), "{out}");
    for nsg in ["legacy-nsg", "subnet-nsg"] {
        assert_eq!(nsg_rules(nsg), 1, "{nsg}");
        let rule = fake
            .emulator(|e| {
                e.resource(&format!(
                    "{rg}/providers/Microsoft.Network/networkSecurityGroups/{nsg}/securityRules/azlin-agent"
                ))
            })
            .unwrap();
        assert_eq!(rule["properties"]["sourceAddressPrefix"], "203.0.113.7/32");
        assert_eq!(rule["properties"]["protocol"], "Udp");
        assert_eq!(rule["properties"]["destinationPortRange"], "47800");
        assert_eq!(rule["properties"]["access"], "Allow");
    }
    assert!(
        blob.seen().iter().any(|s| s.method == "GET"
            && s.status == 200
            && s.params.get("sp").is_some_and(|p| p == "r")),
        "the VM downloaded the agent through a read-only SAS"
    );
    let v = legacy();
    assert_eq!(v["no_agent"], false);
    assert_eq!(v["connected"], true, "{v}");
    assert_eq!(
        env.ok(&["exec", "--vm", "legacy", "--", "whoami"]),
        "them\n"
    );
    assert!(
        env.fails(&["adopt", "legacy"])
            .contains("in the fleet already")
    );
    // The unit is systemd's: it runs again after a restart of the service.
    docker_ok(&[
        "exec",
        &container,
        "systemctl",
        "is-enabled",
        "azlin-agent.service",
    ]);

    // An Azure VM's agent is upgraded over its connection like any other.
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("azlin-agent-new");
    let mut bytes = std::fs::read(azlin_e2e::bin("azlin-agent")).unwrap();
    bytes.extend_from_slice(b"\nazlin test build 2\n");
    std::fs::write(&new, &bytes).unwrap();
    let out = env.ok(&[
        "agent",
        "upgrade",
        "--vm",
        "legacy",
        "--binary",
        new.to_str().unwrap(),
    ]);
    assert!(out.contains("upgraded legacy"), "{out}");
    let running = docker_ok(&[
        "exec",
        &container,
        "sh",
        "-c",
        "sha256sum /usr/local/bin/azlin-agent | cut -d' ' -f1",
    ]);
    assert_eq!(
        running.trim(),
        azlin_controller::provider::docker::agent_download::sha256_file(&new).unwrap(),
        "legacy runs the new build"
    );
    assert_eq!(
        env.ok(&["exec", "--vm", "legacy", "--", "whoami"]),
        "them\n"
    );

    // A VM that cannot reach Azure Storage: its own words, a hint at the
    // cause, and it stays a VM without an agent.
    let err = env.fails(&["adopt", "offline"]);
    assert!(
        err.contains("cannot download the agent")
            && err.contains("no outbound access to Azure Storage"),
        "{err}"
    );
    assert!(!err.contains("sig="), "no SAS in the error: {err}");
    assert_eq!(listed("offline")["no_agent"], true);

    // No public IP, but the daemon listens where the VM reaches it: the
    // agent dials in, and no NSG is opened for it.
    env.configure(&format!(
        "[daemon]\nlisten = \"{gateway}:{}\"\n",
        azlin_e2e::free_udp().port()
    ));
    env.ok(&["daemon", "stop"]);
    env.ok(&["adopt", "quiet"]);
    assert_eq!(nsg_rules("quiet-nsg"), 0);
    env.wait(
        "quiet to dial in",
        std::time::Duration::from_secs(60),
        || env.connected("quiet"),
    );
    assert_eq!(listed("quiet")["no_agent"], false);
    assert_eq!(env.ok(&["exec", "--vm", "quiet", "--", "whoami"]), "them\n");
}
