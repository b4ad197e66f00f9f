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
        blob::FakeBlob,
        boot::{Boot, Halt},
        emulator::Emulator,
        fake::{FakeArm, Fault},
    },
    bin,
};

const SUB: &str = "00000000-0000-0000-0000-0000000000aa";

/// An environment whose `[azure]` config adds `extra` lines.
fn setup(extra: &str) -> (Env, FakeArm, Boot, Halt, FakeBlob) {
    let boot = Boot::default();
    let blob = FakeBlob::start();
    let emulator = Emulator::new(1, Some(Box::new(boot.clone()))).with_blob(blob.clone());
    let fake = FakeArm::emulating(emulator);
    let mut env = Env::new();
    // The VMs' folders live in the home, so its cleanup covers them too.
    boot.set_root(env.home().join("azure-vms"));
    let extra = extra.replace("{ARM}", &fake.base());
    env.configure(&format!(
        "[azure]\nsubscription = \"{SUB}\"\nresource_group = \"azlin-e2e\"\nlocation = \"westus2\"\n{extra}"
    ));
    // The daemon starts under other ARM settings (nothing listens there):
    // each request uses the settings of the CLI that sends it.
    env.set_var("AZLIN_ARM_ENDPOINT", "http://127.0.0.1:9");
    env.set_var("AZLIN_ARM_TOKEN", "the-daemon's-own");
    env.ok(&["daemon", "status"]);
    env.set_var("AZLIN_ARM_ENDPOINT", fake.base());
    env.set_var("AZLIN_ARM_TOKEN", "test-token");
    env.set_var("AZLIN_RETAIL_PRICES_ENDPOINT", fake.base());
    let halt = Halt(boot.clone());
    (env, fake, boot, halt, blob)
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
    let (env, fake, boot, _halt, blob) = setup("public_ip_url = \"{ARM}/myip\"\n");
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
    // The price before anything is made: the pay-as-you-go Linux meter of
    // the size, not its Windows, Spot or Low Priority siblings.
    assert!(
        stages.contains(
            "Standard_D2s_v5 in westus2: $0.0960/h ($70.08/month) each, $0.1920/h ($140.16/month) \
             for 2 (pay-as-you-go Linux, Azure Retail Prices API)"
        ),
        "{stages}"
    );
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
            .filter(|s| s.path != "/myip" && s.path != "/api/retail/prices")
            .all(|s| s.authorization.as_deref() == Some("Bearer test-token")),
        "every ARM request carries the CLI's token"
    );
    assert!(
        fake.seen()
            .iter()
            .filter(|s| s.path == "/api/retail/prices")
            .all(|s| s.authorization.is_none()),
        "the Retail Prices API is asked without the token"
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
    // No agent_url: the agent went to a private container in the
    // subscription's own storage account, made once, named by its hash and
    // uploaded once for the pool; each VM downloaded it (as its install
    // script does) through a read-only SAS that ends within two hours.
    assert!(
        boot.failures.lock().unwrap().is_empty(),
        "{:?}",
        boot.failures
    );
    let sha = azlin_controller::provider::docker::agent_download::sha256_file(&bin("azlin-agent"))
        .unwrap();
    let accounts: Vec<String> = fake
        .emulator(|e| e.paths())
        .into_iter()
        .filter(|p| p.contains("/storageaccounts/") && !p.contains("/blobservices/"))
        .collect();
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    let account = fake.emulator(|e| e.resource(&accounts[0])).unwrap();
    assert_eq!(account["tags"]["managed-by"], "azlin");
    assert_eq!(account["properties"]["allowBlobPublicAccess"], false);
    assert_eq!(account["location"], "westus2");
    let container = fake
        .emulator(|e| {
            e.resource(&format!(
                "{}/blobservices/default/containers/azlin-agents",
                accounts[0]
            ))
        })
        .expect("the agents' container");
    assert_eq!(container["properties"]["publicAccess"], "None");
    let name = account["name"].as_str().unwrap().to_string();
    assert_eq!(
        blob.blobs(),
        [(
            name.clone(),
            "azlin-agents".to_string(),
            format!("azlin-agent-{sha}")
        )]
    );
    assert_eq!(
        blob.blob(&name, "azlin-agents", &format!("azlin-agent-{sha}"))
            .unwrap(),
        std::fs::read(bin("azlin-agent")).unwrap()
    );
    let commits = blob
        .seen()
        .iter()
        .filter(|s| s.params.get("comp").is_some_and(|c| c == "blocklist"))
        .count();
    assert_eq!(commits, 1, "uploaded once for a pool of two");
    for vm in ["az-1", "az-2"] {
        let user_data = boot.user_data.lock().unwrap()[vm].clone();
        let line = user_data
            .lines()
            .find(|l| l.contains("/usr/local/lib/azlin/install-agent,"))
            .unwrap();
        assert!(
            line.contains(&format!("/{name}/azlin-agents/azlin-agent-{sha}?")),
            "{line}"
        );
        assert!(line.contains(&format!("\"{sha}\"]")), "{line}");
        assert!(line.contains("&sp=r&"), "read only: {line}");
        let se = line
            .split("&se=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let se = se.replace("%3A", ":");
        let left = azlin_e2e::arm::blob::parse_time(&se).unwrap()
            - time::OffsetDateTime::now_utc().unix_timestamp();
        assert!(left <= 2 * 3600 && left > 3600, "{se}");
        assert!(!user_data.contains("install-dev-tools"), "--no-dev-tools");
    }
    // No secret in the daemon's log or the CLI's output.
    let sig_free = |text: &str| !text.contains("sig=");
    assert!(sig_free(&stages), "{stages}");
    assert!(sig_free(&env.daemon_log()));
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
    assert_eq!(c["price"]["per_hour"], 0.096, "{c}");
    assert_eq!(c["price"]["currency"], "USD");
    let table = env.ok(&["list"]);
    assert!(
        table.contains("$/H") && table.contains("$0.0960"),
        "{table}"
    );
    assert!(
        table.contains("running VMs with a price: $0.1920/h ($140.16/month) together"),
        "{table}"
    );
    assert!(
        env.ok(&["status", "az-1"])
            .contains("price:       $0.0960/h ($70.08/month) while running, pay-as-you-go Linux")
    );
    // top too: each running VM's $/h and the total.
    let top = env.ok(&["top", "--once"]);
    assert!(top.contains("$/H") && top.contains("$0.0960"), "{top}");
    assert!(top.contains("$0.1920/h ($140.16/month) together"), "{top}");
    let top: Vec<serde_json::Value> = serde_json::from_str(&env.ok(&["top", "--json"])).unwrap();
    assert!(
        top.iter().all(|v| v["price"]["per_hour"] == 0.096),
        "{top:?}"
    );
    // Asked once a day: the answers are kept in state.db.
    let asked = fake.emulator(|e| e.price_requests);
    env.ok(&["list"]);
    assert_eq!(fake.emulator(|e| e.price_requests), asked);
    fake.emulator(|e| e.set_power(&vm_path("az-2"), "deallocated"));
    assert_eq!(cloud("az-2")["power"], "deallocated");
    assert!(
        cloud("az-2")["price"].is_null(),
        "a deallocated VM costs no compute"
    );
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
        left.iter().all(|p| p.ends_with("/azlin-e2e")
            || p.contains("/virtualnetworks/azlin-vnet")
            || p.contains(&format!("/storageaccounts/{name}"))),
        "only the shared group, network and agent store stay: {left:?}"
    );
}

#[test]
fn a_refused_vm_says_why_and_leaves_nothing_behind() {
    let (env, fake, _boot, _halt, _blob) = setup("allowed_cidr = \"203.0.113.7/32\"\n");
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
    let (env, fake, _boot, _halt, _blob) = setup("public_ip_url = \"{ARM}/myip\"\n");
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

#[test]
fn agent_url_overrides_the_subscriptions_store() {
    // The agent served from this machine, as a release download would be.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let served = rt
        .block_on(
            azlin_controller::provider::docker::agent_download::AgentDownload::start(
                "127.0.0.1".parse().unwrap(),
                bin("azlin-agent"),
            ),
        )
        .unwrap();
    let (env, fake, boot, _halt, blob) = setup(&format!(
        "allowed_cidr = \"203.0.113.7/32\"\nagent_url = \"{}\"\n",
        served.url
    ));
    env.ok(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "own",
        "--no-dev-tools",
    ]);
    assert!(env.connected("own"));
    let user_data = boot.user_data.lock().unwrap()["own"].clone();
    assert!(
        user_data.contains(&format!(
            "[/usr/local/lib/azlin/install-agent, \"{}\", \"{}\"]",
            served.url, served.sha256
        )),
        "{user_data}"
    );
    assert!(
        !fake
            .emulator(|e| e.paths())
            .iter()
            .any(|p| p.contains("microsoft.storage")),
        "no storage account when agent_url is set"
    );
    assert!(blob.seen().is_empty());
}

#[test]
fn an_agent_store_that_cannot_be_made_stops_new_before_the_vm() {
    let (env, fake, _boot, _halt, _blob) = setup("allowed_cidr = \"203.0.113.7/32\"\n");
    // The subscription's agent store cannot be made (its name is taken
    // elsewhere in Azure): the error names it and the way out, and the
    // VM's resources are not made.
    let account = azlin_controller::provider::azure::account_name(SUB, "westus2");
    fake.emulator(|e| {
        e.refuse(
            &account,
            serde_json::json!({"code": "StorageAccountAlreadyTaken", "message": format!("The storage account named {account} is already taken.")}),
        )
    });
    let err = env.fails(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "store",
        "--no-dev-tools",
    ]);
    assert!(err.contains(&account) && err.contains("agent_url"), "{err}");
    assert!(err.contains("already taken"), "{err}");
    assert!(vm_resources(&fake, "store").is_empty());
    assert!(env.list().is_empty());
}

#[test]
fn new_checks_the_size_region_and_quotas_before_anything_is_made() {
    let (env, fake, _boot, _halt, _blob) = setup("allowed_cidr = \"203.0.113.7/32\"\n");
    let nothing_made = |what: &str| {
        assert!(
            fake.emulator(|e| e.paths()).is_empty(),
            "{what}: {:?}",
            fake.emulator(|e| e.paths())
        );
        assert!(env.list().is_empty(), "{what}");
    };
    let refused = |args: &[&str], code: i32, says: &[&str]| {
        let mut full = vec![
            "new",
            "--provider",
            "azure",
            "--name",
            "q",
            "--no-dev-tools",
        ];
        full.extend_from_slice(args);
        let out = env.run(&full);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        for s in says {
            assert!(err.contains(s), "{args:?}: {err}");
        }
        nothing_made(&format!("{args:?}"));
    };
    // A size the region does not offer, with the one probably meant.
    refused(
        &["--size", "Standard_D2s_v6"],
        4,
        &[
            "Standard_D2s_v6 is not offered in westus2",
            "did you mean Standard_D2s_v5",
        ],
    );
    // A family quota without room: both figures, and what to do.
    fake.emulator(|e| {
        e.quota_used
            .insert(("westus2".into(), "standardDSv5Family".into()), 10);
        e.quota_limits
            .insert(("westus2".into(), "standardDSv5Family".into()), 10);
    });
    refused(
        &[],
        4,
        &[
            "standardDSv5Family in westus2: 10 of 10 vCPUs used, this VM needs 2",
            "Usage + quotas",
        ],
    );
    fake.emulator(|e| {
        e.quota_used.clear();
        e.quota_limits.clear();
        e.quota_limits.insert(("westus2".into(), "cores".into()), 3);
    });
    // The regional total counts the whole pool.
    refused(
        &["--pool", "2"],
        4,
        &["Total Regional vCPUs in westus2: 0 of 3 vCPUs used, these 2 VMs need 4"],
    );
    fake.emulator(|e| e.quota_limits.clear());
    // A size restricted for this subscription.
    fake.emulator(|e| {
        for s in e.skus.iter_mut() {
            if s["name"] == "Standard_D4s_v5" {
                s["restrictions"] = serde_json::json!([{"type": "Location", "values": ["westus2"], "reasonCode": "NotAvailableForSubscription"}]);
            }
        }
    });
    refused(
        &["--size", "Standard_D4s_v5"],
        4,
        &["restricted in westus2", "NotAvailableForSubscription"],
    );
    // Bad flags are usage errors, caught before Azure is asked.
    refused(&["--disk-size", "10"], 2, &["--disk-size 10", "30 to 4095"]);
    refused(
        &["--image", "fedora"],
        2,
        &["--image", "ubuntu-24.04", "debian-12"],
    );
    refused(&["--admin-user", "root"], 2, &["--admin-user"]);
    refused(&["--region", "west us"], 2, &["--region"]);
    // Flags that choose an Azure machine are refused by name elsewhere.
    let err = env.fails(&[
        "new",
        "--provider",
        "local",
        "--name",
        "l",
        "--size",
        "x",
        "--disk-size",
        "40",
    ]);
    assert!(
        err.contains("--size and --disk-size apply to Azure VMs"),
        "{err}"
    );

    // Every choice on the command line reaches the VM; a size the Retail
    // Prices API has no price for says so (never $0.00), and a throttled
    // API is asked again after its Retry-After.
    fake.emulator(|e| e.prices_throttled = 1);
    let out = env.run(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "chosen",
        "--no-dev-tools",
        "--size",
        "Standard_B2s",
        "--location",
        "eastus",
        "--image",
        "debian-12",
        "--admin-user",
        "dev",
        "--disk-size",
        "64",
    ]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Standard_B2s in eastus: no price: the Retail Prices API has no pay-as-you-go Linux price for Standard_B2s in eastus"),
        "{err}"
    );
    assert!(!err.contains("$0.00"), "{err}");
    let vm = fake
        .emulator(|e| {
            e.resource(&format!(
                "{}/providers/microsoft.compute/virtualmachines/chosen",
                group()
            ))
        })
        .unwrap();
    let p = &vm["properties"];
    assert_eq!(vm["location"], "eastus");
    assert_eq!(p["hardwareProfile"]["vmSize"], "Standard_B2s");
    assert_eq!(p["storageProfile"]["imageReference"]["publisher"], "Debian");
    assert_eq!(p["storageProfile"]["imageReference"]["offer"], "debian-12");
    assert_eq!(p["storageProfile"]["osDisk"]["diskSizeGB"], 64);
    assert_eq!(p["osProfile"]["adminUsername"], "dev");
    let cloud = env.vm("chosen")["cloud"].clone();
    assert!(cloud["price"].is_null(), "{cloud}");
    assert!(
        cloud["no_price"]
            .as_str()
            .unwrap()
            .contains("no pay-as-you-go Linux price")
    );
    assert!(env.ok(&["list"]).contains("no price"));
    // The agent store is per region: eastus has its own account.
    let accounts = fake
        .emulator(|e| e.paths())
        .into_iter()
        .filter(|p| p.contains("/storageaccounts/") && !p.contains("/blobservices/"))
        .count();
    assert_eq!(accounts, 1);

    // On a terminal, more than one VM is asked about, with the price; no
    // is nothing made.
    let mut cmd = env.command(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "two",
        "--pool",
        "2",
        "--no-dev-tools",
    ]);
    cmd.env("TERM", "xterm");
    let mut pty = azlin_e2e::pty::Pty::spawn(cmd, 200, 24);
    pty.wait_for(
        0,
        "Create 2 VMs for $140.16/month? Type yes to go on:",
        Duration::from_secs(60),
    );
    pty.send("no\r");
    assert!(!pty.wait_exit(Duration::from_secs(30)).success());
    assert!(pty.screen().contains("nothing created"), "{}", pty.screen());
    assert!(vm_resources(&fake, "two-1").is_empty());
    assert_eq!(env.list().len(), 1);
}

#[test]
fn vms_azlin_did_not_make_are_listed_and_acted_on_by_name() {
    let (env, fake, _boot, _halt, _blob) = setup("allowed_cidr = \"203.0.113.7/32\"\n");
    let rg = format!("/subscriptions/{SUB}/resourceGroups/azlin-e2e");
    fake.emulator(|e| {
        // Two VMs share one NSG; another group's VM is not where azlin looks.
        e.plant_vm(&rg, "legacy", "Standard_D2s_v5", "team-nsg", true);
        e.plant_vm(&rg, "buddy", "Standard_B2s", "team-nsg", false);
        e.plant_vm(
            &format!("/subscriptions/{SUB}/resourceGroups/elsewhere"),
            "far",
            "Standard_B2s",
            "far-nsg",
            true,
        );
    });
    env.ok(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "ours",
        "--no-dev-tools",
    ]);

    // list shows azlin's VM and the group's other two, marked no agent,
    // with what Azure says of them; not the other group's.
    let before = fake.seen().len();
    let list = env.list();
    let listed = fake.seen()[before..]
        .iter()
        .filter(|s| s.path != "/api/retail/prices")
        .count();
    assert!(listed <= 5, "list costs {listed} ARM requests");
    let names: Vec<&str> = list.iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ours", "buddy", "legacy"]);
    let legacy = list.iter().find(|v| v["name"] == "legacy").unwrap();
    assert_eq!(legacy["no_agent"], true);
    assert_eq!(legacy["connected"], false);
    assert_eq!(legacy["cloud"]["power"], "running");
    assert_eq!(legacy["cloud"]["size"], "Standard_D2s_v5");
    assert_eq!(legacy["cloud"]["location"], "westus2");
    assert_eq!(legacy["cloud"]["tags"]["owner"], "someone-else");
    assert!(
        legacy["cloud"]["public_ip"]
            .as_str()
            .unwrap()
            .starts_with("127.")
    );
    assert!(
        legacy["cloud"]["private_ip"]
            .as_str()
            .unwrap()
            .starts_with("10.")
    );
    assert_eq!(legacy["cloud"]["price"]["per_hour"], 0.096);
    assert_eq!(list[0]["no_agent"], false);
    let table = env.ok(&["list"]);
    assert!(table.contains("no agent"), "{table}");
    assert!(env.ok(&["status", "legacy"]).contains("agent:       none"));

    // Power, size and tags by name, on Azure only.
    let vm = |name: &str| {
        fake.emulator(|e| {
            e.resource(&format!(
                "{rg}/providers/Microsoft.Compute/virtualMachines/{name}"
            ))
        })
    };
    assert!(env.ok(&["stop", "legacy"]).contains("did not make"));
    assert_eq!(vm("legacy").unwrap()["powerState"], "deallocated");
    assert_eq!(env.vm("legacy")["cloud"]["power"], "deallocated");
    env.ok(&["start", "legacy"]);
    assert_eq!(vm("legacy").unwrap()["powerState"], "running");
    env.ok(&["restart", "legacy"]);
    env.ok(&["resize", "legacy", "Standard_D4s_v5"]);
    assert_eq!(
        vm("legacy").unwrap()["properties"]["hardwareProfile"]["vmSize"],
        "Standard_D4s_v5"
    );
    env.ok(&["tag", "legacy", "team=core"]);
    assert_eq!(vm("legacy").unwrap()["tags"]["team"], "core");
    assert_eq!(vm("legacy").unwrap()["tags"]["owner"], "someone-else");

    // killall never touches them.
    env.ok(&["killall", "--yes"]);
    assert!(vm("legacy").is_some() && vm("buddy").is_some());
    assert!(vm("ours").is_none());

    // destroy: the plan names only what the VM owns (not the NSG the other
    // VM uses, no deployment of azlin's); without a terminal it needs --yes.
    let plan = env.ok(&["destroy", "--dry-run", "legacy"]);
    for part in [
        "virtualMachines/legacy",
        "networkInterfaces/legacy-nic",
        "publicIPAddresses/legacy-ip",
        "disks/legacy_OsDisk_1",
    ] {
        assert!(plan.contains(part), "{part}: {plan}");
    }
    assert!(
        !plan.contains("team-nsg") && !plan.contains("deployments"),
        "{plan}"
    );
    let err = env.fails(&["destroy", "legacy"]);
    assert!(
        err.contains("did not make") && err.contains("--yes"),
        "{err}"
    );
    assert!(vm("legacy").is_some());
    env.ok(&["destroy", "legacy", "--yes"]);
    let left = fake.emulator(|e| e.paths());
    let has = |part: &str| left.iter().any(|p| p.ends_with(&part.to_ascii_lowercase()));
    assert!(!has("/virtualmachines/legacy") && !has("/networkinterfaces/legacy-nic"));
    assert!(!has("/publicipaddresses/legacy-ip") && !has("/disks/legacy_osdisk_1"));
    assert!(
        has("/networksecuritygroups/team-nsg"),
        "shared by buddy: {left:?}"
    );
    assert!(has("/virtualmachines/buddy") && has("/virtualmachines/far"));
    // The last VM on the NSG takes it along; an NSG a subnet uses stays.
    let plan = env.ok(&["destroy", "--dry-run", "buddy"]);
    assert!(plan.contains("networkSecurityGroups/team-nsg"), "{plan}");
    fake.emulator(|e| {
        e.plant_vm(&rg, "lone", "Standard_B2s", "subnet-nsg", false);
        e.plant_subnet_nsg(&rg, "subnet-nsg");
    });
    let plan = env.ok(&["destroy", "--dry-run", "lone"]);
    assert!(plan.contains("networkInterfaces/lone-nic"), "{plan}");
    assert!(!plan.contains("subnet-nsg"), "a subnet uses it: {plan}");
    // A name that is nowhere is still an error.
    assert!(
        env.fails(&["stop", "nowhere"])
            .contains("no VM or session named")
    );
}
