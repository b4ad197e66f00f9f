//! `azlin storage` end to end against the emulated ARM, whose Azure Files
//! is strict (`emulator::storage`): bad names, sizes and tiers are
//! refused before Azure is asked; a name taken elsewhere in Azure is
//! refused before anything is made; `create` makes a FileStorage Premium
//! account whose firewall admits only azlin's subnet (the service
//! endpoint added to it first, as Azure demands) with an NFS share,
//! root squashed, and again changes nothing; `list` and `status` show
//! size, use and the Premium Files price; the user's own storage account
//! is neither listed nor deletable; `delete` says what goes with
//! `--dry-run`, needs `--yes` without a terminal, and deletes; a
//! provider without storage refuses it. `new --nfs-storage` checks the
//! storage (there, ours, same region) before any VM is made, lifts root
//! squash for the first VM only and always puts it back, and hands the
//! export to the VM's agent with the user's uid fixed.

use azlin_e2e::arm::azure_env::AzureEnv;
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-0000000000f5";

#[test]
fn nfs_storage_is_made_locked_down_priced_listed_and_deleted() {
    let az = AzureEnv::new(SUB, "shared", "");
    let (env, fake) = (&az.env, &az.fake);
    let rg = az.rg();
    let account = |name: &str| {
        fake.emulator(|e| {
            e.resource(&format!(
                "{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
            ))
        })
    };

    // Refused before Azure is asked.
    for (args, says) in [
        (vec!["Team-Home"], "cannot name a storage"),
        (vec!["ab"], "cannot name a storage"),
        (vec!["teamhome", "--tier", "Standard"], "needs a Premium"),
        (vec!["teamhome", "--size", "50"], "100 to 102400 GiB"),
        (vec!["team\u{1b}[2J"], "\\u{1b}"),
    ] {
        let mut all = vec!["storage", "create"];
        all.extend(args);
        let err = env.fails(&all);
        assert!(err.contains(says), "{all:?}: {err}");
        assert!(!err.contains('\u{1b}'), "{err:?}");
    }
    assert!(fake.emulator(|e| e.paths()).is_empty());
    assert_eq!(fake.emulator(|e| e.files.name_checks), 0);

    // Taken elsewhere in Azure: refused, nothing made.
    fake.emulator(|e| {
        e.files.taken.insert("takenname".into());
    });
    let err = env.fails(&["storage", "create", "takenname"]);
    assert!(err.contains("not available in Azure"), "{err}");
    assert!(fake.emulator(|e| e.paths()).is_empty());

    // Made, locked down.
    let out = env.ok(&["storage", "create", "teamhome", "--size", "200"]);
    assert!(
        out.contains("service endpoint Microsoft.Storage added"),
        "{out}"
    );
    assert!(
        out.contains("NFS 4.1 share home (200 GiB, root squashed)"),
        "{out}"
    );
    assert!(out.contains("$32.00/month"), "{out}");
    let made = account("teamhome").expect("the account");
    assert_eq!(made["kind"], "FileStorage");
    assert_eq!(made["sku"]["name"], "Premium_LRS");
    assert_eq!(made["tags"]["managed-by"], "azlin");
    assert_eq!(made["tags"]["azlin-role"], "nfs-storage");
    let p = &made["properties"];
    assert_eq!(p["supportsHttpsTrafficOnly"], false);
    assert_eq!(p["allowBlobPublicAccess"], false);
    assert_eq!(p["networkAcls"]["defaultAction"], "Deny");
    let subnet_id =
        format!("{rg}/providers/Microsoft.Network/virtualNetworks/azlin-vnet/subnets/azlin-subnet");
    assert_eq!(
        p["networkAcls"]["virtualNetworkRules"],
        json!([{"id": subnet_id, "action": "Allow"}])
    );
    let subnet = fake.emulator(|e| e.resource(&subnet_id)).unwrap();
    assert_eq!(
        subnet["properties"]["serviceEndpoints"],
        json!([{"service": "Microsoft.Storage"}])
    );
    assert_eq!(subnet["properties"]["addressPrefix"], "10.42.0.0/24");
    let share_path = format!(
        "{rg}/providers/Microsoft.Storage/storageAccounts/teamhome/fileServices/default/shares/home"
    );
    let share = fake.emulator(|e| e.resource(&share_path)).unwrap();
    assert_eq!(share["properties"]["enabledProtocols"], "NFS");
    assert_eq!(share["properties"]["rootSquash"], "RootSquash");
    assert_eq!(share["properties"]["shareQuota"], 200);

    // Again: nothing new, the endpoint not added twice.
    let before = fake.emulator(|e| e.paths());
    let out = env.ok(&["storage", "create", "teamhome", "--size", "200"]);
    assert!(!out.contains("service endpoint"), "{out}");
    assert_eq!(fake.emulator(|e| e.paths()), before);
    let subnet = fake.emulator(|e| e.resource(&subnet_id)).unwrap();
    assert_eq!(
        subnet["properties"]["serviceEndpoints"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The user's own account beside it: not azlin's, not listed, not
    // deletable.
    fake.emulator(|e| {
        e.plant(
            &format!("{rg}/providers/Microsoft.Storage/storageAccounts/theirs"),
            json!({"location": "westus2", "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
                   "properties": {}}),
        );
        e.files
            .usage
            .insert(share_path.to_ascii_lowercase(), 50 << 30);
    });
    let list: Vec<Value> = serde_json::from_str(&env.ok(&["storage", "list", "--json"])).unwrap();
    assert_eq!(list.len(), 1, "{list:#?}");
    let s = &list[0]["storage"];
    assert_eq!(s["name"], "teamhome");
    assert_eq!(s["export"], "teamhome.file.core.windows.net:/teamhome/home");
    assert_eq!(s["size_gib"], 200);
    assert_eq!(s["used_bytes"], 50u64 << 30);
    assert_eq!(s["root_squash"], true);
    assert_eq!(
        s["reachable_from"],
        "only subnet azlin-subnet of azlin-vnet"
    );
    assert!((list[0]["per_month"].as_f64().unwrap() - 32.0).abs() < 1e-9);
    let status = env.ok(&["storage", "status", "teamhome"]);
    assert!(status.contains("50.0 GiB used (25.0%)"), "{status}");
    let err = env.fails(&["storage", "status", "theirs"]);
    assert!(err.contains("no NFS storage theirs made by azlin"), "{err}");
    assert!(err.contains("(it has teamhome)"), "{err}");
    let err = env.fails(&["storage", "delete", "theirs", "--yes"]);
    assert!(err.contains("no NFS storage theirs"), "{err}");
    assert!(account("theirs").is_some());

    // What a command said, progress (stderr) included.
    let said = |args: &[&str]| {
        let out = env.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {text}");
        text
    };
    // A VM's home on it. Checked before anything is made: a storage that
    // is not there, or in another region, makes no VM.
    let vms = || {
        fake.emulator(|e| e.paths())
            .iter()
            .filter(|p| p.contains("/virtualmachines/"))
            .count()
    };
    let err = env.fails(&[
        "new",
        "--name",
        "nohome",
        "--nfs-storage",
        "nosuch",
        "--no-dev-tools",
    ]);
    assert!(err.contains("no NFS storage nosuch made by azlin"), "{err}");
    let err = env.fails(&[
        "new",
        "--name",
        "nohome",
        "--nfs-storage",
        "theirs",
        "--no-dev-tools",
    ]);
    assert!(err.contains("no NFS storage theirs made by azlin"), "{err}");
    let err = env.fails(&[
        "new",
        "--name",
        "nohome",
        "--nfs-storage",
        "teamhome",
        "--region",
        "eastus",
        "--no-dev-tools",
    ]);
    assert!(
        err.contains("storage teamhome is in westus2, the VM would be in eastus"),
        "{err}"
    );
    assert_eq!(vms(), 0);
    assert!(fake.emulator(|e| e.files.squashes.clone()) == ["RootSquash", "RootSquash"]);
    // The first VM: root squash lifted while its agent gives the share's
    // root folder to the user, then back on whatever happened. (The agent
    // here runs on this machine, so it never mounts: the VM comes up with
    // its home local, and the account is not marked as given.)
    let out = said(&[
        "new",
        "--name",
        "homevm",
        "--nfs-storage",
        "teamhome",
        "--no-dev-tools",
    ]);
    assert!(out.contains("root squash lifted on teamhome"), "{out}");
    assert!(out.contains("root squash is back on"), "{out}");
    assert_eq!(
        az.boot
            .shared_homes
            .lock()
            .unwrap()
            .get("homevm")
            .map(String::as_str),
        Some("teamhome.file.core.windows.net:/teamhome/home")
    );
    let user_data = az.boot.user_data.lock().unwrap()["homevm"].clone();
    assert!(user_data.contains("    uid: 1000\n"), "{user_data}");
    assert_eq!(
        fake.emulator(|e| e.files.squashes.clone()),
        ["RootSquash", "RootSquash", "NoRootSquash", "RootSquash"]
    );
    let share = fake.emulator(|e| e.resource(&share_path)).unwrap();
    assert_eq!(share["properties"]["rootSquash"], "RootSquash");
    assert_eq!(share["properties"]["shareQuota"], 200);
    assert!(
        account("teamhome").unwrap()["tags"]
            .get("azlin-home-uid")
            .is_none()
    );
    // Once given (as an agent that mounted it would have had it marked),
    // root squash is never lifted again.
    fake.emulator(|e| {
        let path = format!("{rg}/providers/Microsoft.Storage/storageAccounts/teamhome");
        let mut held = e.resource(&path).unwrap();
        held["tags"]["azlin-home-uid"] = json!("1000");
        e.plant(&path, held);
    });
    let out = said(&[
        "new",
        "--name",
        "homevm2",
        "--nfs-storage",
        "teamhome",
        "--no-dev-tools",
    ]);
    assert!(!out.contains("root squash lifted"), "{out}");
    assert_eq!(fake.emulator(|e| e.files.squashes.len()), 4);
    env.ok(&["kill", "homevm"]);
    env.ok(&["kill", "homevm2"]);

    // Delete: what would go, then asked, then gone (with its share).
    let out = env.ok(&["storage", "delete", "teamhome", "--dry-run"]);
    assert!(out.contains("would delete storage teamhome"), "{out}");
    assert!(account("teamhome").is_some());
    let err = env.fails(&["storage", "delete", "teamhome"]);
    assert!(err.contains("no terminal to ask on"), "{err}");
    assert!(account("teamhome").is_some());
    let out = env.ok(&["storage", "delete", "teamhome", "--yes"]);
    assert!(out.contains("deleted storage teamhome"), "{out}");
    assert!(account("teamhome").is_none());
    assert!(fake.emulator(|e| e.resource(&share_path)).is_none());
    assert!(
        env.ok(&["storage", "list"])
            .contains("no storage; `azlin storage create NAME` makes one")
    );

    // Azure's flags are not taken by a provider that is not in Azure.
    let err = env.fails(&[
        "storage",
        "list",
        "--provider",
        "docker",
        "--resource-group",
        "elsewhere",
    ]);
    assert!(
        err.contains("docker VMs are not in Azure: --resource-group applies to Azure VMs"),
        "{err}"
    );

    // A provider without shared storage refuses, saying where it applies.
    let err = env.fails(&["storage", "list", "--provider", "local"]);
    assert!(
        err.contains(
            "local VMs have no shared storage: `azlin storage` applies to docker VMs and Azure VMs"
        ),
        "{err}"
    );
}
