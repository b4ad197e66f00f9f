//! `azlin new --provider azure` and the VM's lifecycle, end to end: the
//! real CLI and daemon against the fake ARM (`AZLIN_ARM_ENDPOINT`), which
//! keeps what the provider makes and answers in the recorded shapes. When
//! ARM "creates" a VM, this test boots it the only way it can here: it
//! reads the VM's custom data (the real cloud-init user-data), writes the
//! agent's config, CA and join token as cloud-init would, and starts the
//! real agent at the VM's (loopback) public address; deallocating stops
//! it, starting runs it again.

use std::time::Duration;

use azlin_e2e::{
    Env,
    arm::{
        boot::{Boot, Halt},
        emulator::Emulator,
        fake::{FakeArm, Fault},
    },
    bin,
};

const SUB: &str = "00000000-0000-0000-0000-0000000000aa";

/// An environment whose `[azure]` config adds `extra` lines.
fn setup(extra: &str) -> (Env, FakeArm, Boot, Halt) {
    let boot = Boot::default();
    let emulator = Emulator::new(1, Some(Box::new(boot.clone())));
    let fake = FakeArm::emulating(emulator);
    let mut env = Env::new();
    // The VMs' folders live in the home, so its cleanup covers them too.
    boot.set_root(env.home().join("azure-vms"));
    let extra = extra.replace("{ARM}", &fake.base());
    env.configure(&format!(
        "[azure]\nsubscription = \"{SUB}\"\nresource_group = \"azlin-e2e\"\nlocation = \"westus2\"\n\
         agent_url = \"https://example.invalid/azlin-agent\"\n{extra}"
    ));
    // The daemon starts under other ARM settings (nothing listens there):
    // each request uses the settings of the CLI that sends it.
    env.set_var("AZLIN_ARM_ENDPOINT", "http://127.0.0.1:9");
    env.set_var("AZLIN_ARM_TOKEN", "the-daemon's-own");
    env.ok(&["daemon", "status"]);
    env.set_var("AZLIN_ARM_ENDPOINT", fake.base());
    env.set_var("AZLIN_ARM_TOKEN", "test-token");
    let halt = Halt(boot.clone());
    (env, fake, boot, halt)
}

fn group() -> String {
    format!("/subscriptions/{SUB}/resourcegroups/azlin-e2e")
}

fn vm_resources(fake: &FakeArm, vm: &str) -> Vec<String> {
    fake.emulator(|e| e.paths())
        .into_iter()
        .filter(|p| {
            p.rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(&format!("{vm}-")) || n == vm)
        })
        .collect()
}

#[test]
fn azure_vms_are_created_enrolled_stopped_started_and_deleted_without_leftovers() {
    // No allowed_cidr: the NSG admits this machine's public address, as a
    // what-is-my-IP service (here the fake's /myip) reports it.
    let (env, fake, boot, _halt) = setup("public_ip_url = \"{ARM}/myip\"\n");
    fake.can("GET", "/myip", vec![(200, vec![], "203.0.113.7\n")]);
    let out = env.run(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "az",
        "--pool",
        "2",
        "--no-dev-tools",
    ]);
    let stages = String::from_utf8_lossy(&out.stderr);
    println!("{stages}");
    assert!(out.status.success());
    assert!(stages.contains("admit only 203.0.113.7/32"), "{stages}");
    // Each stage says how long it took.
    for vm in ["az-1", "az-2"] {
        for stage in [
            "resource group and network ready (",
            "NSG, public IP, NIC and virtual machine deployed (",
            "enrolled and connected (",
        ] {
            assert!(stages.contains(&format!("{vm}: {stage}")), "{stages}");
        }
    }
    assert!(
        fake.seen()
            .iter()
            .filter(|s| s.path != "/myip")
            .all(|s| s.authorization.as_deref() == Some("Bearer test-token")),
        "every request carries the CLI's token"
    );
    let list = env.list();
    assert_eq!(list.len(), 2);
    for vm in &list {
        assert_eq!(vm["provider"], "azure");
        assert_eq!(vm["connected"], true, "{vm}");
        assert!(vm["address"].as_str().unwrap().starts_with("127."), "{vm}");
    }
    // What ARM holds: the shared group and network, and per VM an NSG
    // that admits only the allowed CIDR, a public IP, a NIC, the VM, its disk.
    let nsg = fake
        .emulator(|e| {
            e.resource(&format!(
                "{}/providers/microsoft.network/networksecuritygroups/az-1-nsg",
                group()
            ))
        })
        .expect("the VM's NSG");
    let rules = nsg["properties"]["securityRules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    for r in rules {
        assert_eq!(
            r["properties"]["sourceAddressPrefix"], "203.0.113.7/32",
            "{r}"
        );
        assert_eq!(r["properties"]["access"], "Allow");
    }
    let ports: Vec<_> = rules
        .iter()
        .map(|r| {
            (
                r["properties"]["protocol"].as_str().unwrap(),
                r["properties"]["destinationPortRange"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(ports, [("Tcp", "22"), ("Udp", "47800")]);
    assert_eq!(
        vm_resources(&fake, "az-1").len(),
        5,
        "{:?}",
        vm_resources(&fake, "az-1")
    );
    let vm = fake
        .emulator(|e| {
            e.resource(&format!(
                "{}/providers/microsoft.compute/virtualmachines/az-1",
                group()
            ))
        })
        .unwrap();
    assert_eq!(vm["tags"]["managed-by"], "azlin");
    let key = std::fs::read_to_string(env.home().join("ssh/id_ed25519.pub")).unwrap();
    assert_eq!(
        vm["properties"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"],
        key.trim()
    );
    // The custom data installs this build's agent from the configured URL.
    let user_data = boot.user_data.lock().unwrap()["az-1"].clone();
    let sha = azlin_controller::provider::docker::agent_download::sha256_file(&bin("azlin-agent"))
        .unwrap();
    assert!(user_data.contains(&format!(
        "[/usr/local/lib/azlin/install-agent, \"https://example.invalid/azlin-agent\", \"{sha}\"]"
    )));
    assert!(!user_data.contains("install-dev-tools"), "--no-dev-tools");
    assert_eq!(env.ok(&["exec", "--vm", "az-1", "--", "echo up"]), "up\n");

    // list shows what ARM says now beside the agents' data: power, size,
    // region, addresses, tags; a VM stopped behind azlin's back shows so.
    let vm_path = |vm: &str| {
        format!(
            "{}/providers/microsoft.compute/virtualmachines/{vm}",
            group()
        )
    };
    let cloud =
        |vm: &str| env.list().into_iter().find(|v| v["name"] == vm).unwrap()["cloud"].clone();
    let c = cloud("az-1");
    assert_eq!(c["power"], "running", "{c}");
    assert_eq!(c["size"], "Standard_D2s_v5");
    assert_eq!(c["location"], "westus2");
    assert_eq!(c["tags"]["managed-by"], "azlin");
    assert_eq!(
        Some(format!("{}:47800", c["public_ip"].as_str().unwrap())),
        env.vm("az-1")["address"].as_str().map(String::from)
    );
    assert!(
        c["private_ip"].as_str().unwrap().starts_with("10.42.0."),
        "{c}"
    );
    fake.emulator(|e| e.set_power(&vm_path("az-2"), "deallocated"));
    assert_eq!(cloud("az-2")["power"], "deallocated");
    let table = env.ok(&["list"]);
    assert!(
        table.contains("POWER") && table.contains("deallocated"),
        "{table}"
    );
    assert!(
        env.ok(&["status", "az-2"])
            .contains("power:       deallocated")
    );
    fake.emulator(|e| e.set_power(&vm_path("az-2"), "running"));

    // tag writes the VM's tags in Azure too; azlin's own tags stay put.
    env.ok(&["tag", "az-1", "team=core", "cost=dev"]);
    let arm_tags = |vm: &str| fake.emulator(|e| e.resource(&vm_path(vm))).unwrap()["tags"].clone();
    assert_eq!(arm_tags("az-1")["team"], "core");
    assert_eq!(arm_tags("az-1")["cost"], "dev");
    assert_eq!(arm_tags("az-1")["managed-by"], "azlin");
    env.ok(&["tag", "az-1", "--remove", "cost"]);
    assert!(
        arm_tags("az-1").get("cost").is_none(),
        "{}",
        arm_tags("az-1")
    );
    assert_eq!(env.vm("az-1")["tags"]["team"], "core");
    let err = env.fails(&["tag", "az-1", "managed-by=me"]);
    assert!(err.contains("azlin's own tag"), "{err}");
    assert_eq!(arm_tags("az-1")["managed-by"], "azlin");
    // A refusal from Azure changes nothing here either.
    fake.inject(
        "/tags/default",
        vec![Fault::Body {
            status: 403,
            body: r#"{"error":{"code":"AuthorizationFailed","message":"no write on tags"}}"#.into(),
        }],
    );
    let err = env.fails(&["tag", "az-1", "team=infra"]);
    assert!(err.contains("Contributor"), "{err}");
    assert_eq!(env.vm("az-1")["tags"]["team"], "core");

    // Stop deallocates; start brings the same agent back, no new enrollment.
    let issued = env.daemon_status()["certificates_issued"].clone();
    env.ok(&["stop", "az-1"]);
    let power = |vm: &str| {
        fake.emulator(|e| {
            e.resource(&format!(
                "{}/providers/microsoft.compute/virtualmachines/{vm}",
                group()
            ))
        })
        .unwrap()["powerState"]
            .clone()
    };
    assert_eq!(power("az-1"), "deallocated");
    assert_eq!(env.vm("az-1")["state"], "stopped");
    env.ok(&["start", "az-1"]);
    assert_eq!(power("az-1"), "running");
    env.wait("az-1 back", Duration::from_secs(30), || {
        env.connected("az-1")
    });
    assert_eq!(env.daemon_status()["certificates_issued"], issued);
    env.ok(&["stop", "--no-deallocate", "az-2"]);
    assert_eq!(power("az-2"), "stopped");
    // The daemon dials Azure VMs: --dial is refused before anything is made.
    let err = env.fails(&["new", "--name", "az-dial", "--dial"]);
    assert!(
        err.contains("Azure VMs are dialled by the daemon") && err.contains("--dial"),
        "{err}"
    );
    assert!(
        env.fails(&["status", "az-dial"])
            .contains("no VM or session named")
    );

    // destroy --dry-run lists what kill would remove, and removes nothing.
    let plan = env.ok(&["destroy", "--dry-run", "az-2"]);
    for part in [
        "virtualMachines/az-2",
        "networkInterfaces/az-2-nic",
        "publicIPAddresses/az-2-ip",
        "networkSecurityGroups/az-2-nsg",
        "disks/az-2-osdisk",
    ] {
        assert!(plan.contains(part), "{part}: {plan}");
    }
    assert_eq!(vm_resources(&fake, "az-2").len(), 5);
    // resize and restart go through ARM.
    env.ok(&["start", "az-2"]);
    env.ok(&["resize", "az-2", "Standard_D4s_v5"]);
    let size = fake
        .emulator(|e| {
            e.resource(&format!(
                "{}/providers/microsoft.compute/virtualmachines/az-2",
                group()
            ))
        })
        .unwrap()["properties"]["hardwareProfile"]["vmSize"]
        .clone();
    assert_eq!(size, "Standard_D4s_v5");
    let reconnects = env.vm("az-2")["reconnects"].as_u64().unwrap();
    env.ok(&["restart", "az-2"]);
    env.wait("az-2 back after restart", Duration::from_secs(30), || {
        env.vm("az-2")["reconnects"].as_u64().unwrap() > reconnects && env.connected("az-2")
    });
    assert!(
        env.fails(&["resize", "az-2", "Standard D4"])
            .contains("not a VM size")
    );

    // --subscription / --resource-group keep a command to the VMs there: a
    // VM elsewhere is refused untouched, and lists and killall keep to them.
    let err = env.fails(&["stop", "az-2", "--resource-group", "elsewhere"]);
    assert!(err.contains("resource group azlin-e2e"), "{err}");
    assert_eq!(power("az-2"), "running");
    let names = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["list", "--json"];
        full.extend_from_slice(args);
        let out: Vec<serde_json::Value> = serde_json::from_str(&env.ok(&full)).unwrap();
        out.iter()
            .map(|v| v["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&["--resource-group", "AZLIN-E2E"]), ["az-1", "az-2"]);
    assert!(names(&["--resource-group", "elsewhere"]).is_empty());
    assert!(names(&["--subscription", "00000000-0000-0000-0000-000000000001"]).is_empty());
    env.ok(&["killall", "--yes", "--resource-group", "elsewhere"]);
    assert_eq!(env.list().len(), 2);
    assert_eq!(vm_resources(&fake, "az-2").len(), 5);

    // kill removes everything azlin made for the VM, and only that.
    env.ok(&["kill", "az-1"]);
    assert!(
        vm_resources(&fake, "az-1").is_empty(),
        "{:?}",
        vm_resources(&fake, "az-1")
    );
    assert_eq!(vm_resources(&fake, "az-2").len(), 5);
    // killall asks first; without a terminal (and without --yes) it deletes
    // nothing.
    assert!(env.fails(&["killall"]).contains("nothing deleted"));
    assert_eq!(env.list().len(), 1);
    env.ok(&["killall", "--yes"]);
    let left = fake.emulator(|e| e.paths());
    assert!(
        left.iter()
            .all(|p| p.ends_with("/azlin-e2e") || p.contains("/virtualnetworks/azlin-vnet")),
        "only the shared group and network stay: {left:?}"
    );
}

#[test]
fn a_refused_vm_says_why_and_leaves_nothing_behind() {
    let (env, fake, _boot, _halt) = setup("allowed_cidr = \"203.0.113.7/32\"\n");
    // ARM makes the NSG, IP and NIC, then refuses the VM: the deployment
    // fails with the quota error nested inside, as on Azure.
    fake.emulator(|e| {
        e.refuse(
            "big",
            serde_json::json!({"code": "OperationNotAllowed", "message": "Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota."}),
        )
    });
    let err = env.fails(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "big",
        "--no-dev-tools",
    ]);
    assert!(err.contains("quota"), "{err}");
    assert!(err.contains("Usage + quotas"), "says what to do: {err}");
    assert!(env.list().is_empty());
    assert!(
        vm_resources(&fake, "big").is_empty(),
        "{:?}\n{}",
        vm_resources(&fake, "big"),
        fake.seen()
            .iter()
            .map(|s| format!("{} {} {}", s.method, s.path, s.status))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // An expired sign-in exits 3 and says to sign in again.
    fake.inject(
        "/resourcegroups/azlin-e2e",
        vec![Fault::Body {
            status: 401,
            body: r#"{"error":{"code":"ExpiredAuthenticationToken","message":"The access token expiry UTC time is earlier than current UTC time."}}"#.into(),
        }],
    );
    let out = env.run(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "late",
        "--no-dev-tools",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("az login"));
    assert!(env.list().is_empty());

    // Without an allowed CIDR, and no public address to be had, nothing is
    // made at all: the service answers a private address here.
    let (env, fake, _boot, _halt) = setup("public_ip_url = \"{ARM}/myip\"\n");
    fake.can("GET", "/myip", vec![(200, vec![], "192.168.1.20")]);
    let out = env.run(&["new", "--provider", "azure", "--name", "open"]);
    assert_eq!(out.status.code(), Some(2), "a missing prerequisite exits 2");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("192.168.1.20 is not a public address"),
        "{err}"
    );
    assert!(err.contains("allowed_cidr"), "{err}");
    assert!(
        fake.emulator(|e| e.paths()).is_empty(),
        "{:?}",
        fake.emulator(|e| e.paths())
    );
    let env = Env::new();
    env.configure("[azure]\nallowed_cidr = \"0.0.0.0/0\"\n");
    let err = env.fails(&["list"]);
    assert!(err.contains("too much of the"), "{err}");
}
