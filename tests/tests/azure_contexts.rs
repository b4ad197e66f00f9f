//! Contexts against the emulated ARM. Two contexts in two subscriptions
//! each get a VM named `dev-1`: two VMs, with fleet names `dev-1` and
//! `dev-1--XXXXXX`, each seen only in its own context, each answering to
//! `dev-1` there; a session name keyed by the second keeps
//! `[session_names]` a file the original tool parses; `kill dev-1` in one
//! context leaves the other untouched and connected (#1122), and a command
//! aimed at a VM of another context is refused naming where it is; a
//! prompt names the context and subscription it would delete in.
//! `context use` switches only once ARM has answered for the subscription
//! (#1096), and signs in to the context's tenant.

use std::{os::unix::fs::PermissionsExt, time::Duration};

use azlin_e2e::arm::azure_env::AzureEnv;
use serde_json::Value;

const SUB_A: &str = "00000000-0000-0000-0000-0000000000a1";
const SUB_B: &str = "00000000-0000-0000-0000-0000000000b2";
const GHOST: &str = "00000000-0000-0000-0000-00000000dead";

fn names(list: &str) -> Vec<String> {
    let v: Vec<Value> = serde_json::from_str(list).unwrap();
    v.iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

fn current(az: &AzureEnv) -> Option<String> {
    let text = std::fs::read_to_string(az.home().join("contexts.toml")).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    v.get("current")
        .and_then(|c| c.as_str())
        .map(str::to_string)
}

#[test]
fn the_same_name_in_two_contexts_is_two_vms_and_kill_takes_only_one() {
    let az = AzureEnv::new(SUB_A, "home-rg", "");
    let (env, fake) = (&az.env, &az.fake);
    fake.emulator(|e| {
        e.add_subscription(SUB_A, "Team A", "tenant-a");
        e.add_subscription(SUB_B, "Team B", "tenant-b");
    });
    env.ok(&[
        "context",
        "create",
        "a",
        "--subscription",
        SUB_A,
        "--resource-group",
        "rg-a",
    ]);
    env.ok(&[
        "context",
        "create",
        "b",
        "--subscription",
        SUB_B,
        "--resource-group",
        "rg-b",
    ]);
    env.ok(&["context", "create", "ghost", "--subscription", GHOST]);

    // A subscription ARM does not know: no switch.
    let err = env.fails(&["context", "use", "ghost"]);
    assert!(
        err.contains("cannot be reached") && err.contains(GHOST),
        "{err}"
    );
    assert_eq!(current(&az), None);
    let out = env.ok(&["context", "use", "a"]);
    assert!(
        out.contains("switched to context a") && out.contains("Team A"),
        "{out}"
    );
    assert_eq!(current(&az).as_deref(), Some("a"));
    let err = env.fails(&["context", "use", "ghost"]);
    assert!(err.contains("cannot be reached"), "{err}");
    assert_eq!(
        current(&az).as_deref(),
        Some("a"),
        "a failed use changed it"
    );
    let listed = env.ok(&["context", "list"]);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with('*') && l.contains(" a ")),
        "{listed}"
    );

    // dev-1 in a (the current context) and in b (--context).
    env.ok(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "dev-1",
        "--no-dev-tools",
    ]);
    env.ok(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "dev-1",
        "--no-dev-tools",
        "--context",
        "b",
    ]);
    let vm_a = format!(
        "/subscriptions/{SUB_A}/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/dev-1"
    );
    let vm_b = format!(
        "/subscriptions/{SUB_B}/resourceGroups/rg-b/providers/Microsoft.Compute/virtualMachines/dev-1"
    );
    assert!(fake.emulator(|e| e.resource(&vm_a)).is_some());
    assert!(fake.emulator(|e| e.resource(&vm_b)).is_some());

    // Each context sees its own; `dev-1` means its own in each.
    let in_a = names(&env.ok(&["list", "--json"]));
    let in_b = names(&env.ok(&["list", "--json", "--context", "b"]));
    assert_eq!(in_a, ["dev-1"]);
    assert_eq!(in_b.len(), 1, "{in_b:?}");
    let fleet_b = in_b[0].clone();
    assert!(fleet_b.starts_with("dev-1--"), "{fleet_b}");
    let status = |context: &str| -> Value {
        serde_json::from_str(&env.ok(&["status", "dev-1", "--json", "--context", context])).unwrap()
    };
    env.wait("both connected", Duration::from_secs(60), || {
        status("a")["connected"] == true && status("b")["connected"] == true
    });
    assert_eq!(status("a")["name"], "dev-1");
    assert_eq!(status("b")["name"], fleet_b.as_str());
    // Each has its own certificate.
    assert_ne!(env.cert_serial("dev-1"), env.cert_serial(&fleet_b));

    // A VM of another context is refused, saying where it is.
    let err = env.fails(&["stop", &fleet_b]);
    assert!(
        err.contains("not in context a") && err.contains(SUB_B),
        "{err}"
    );

    // A session name for b's dev-1 is keyed by its fleet name, in the
    // original tool's format (a TOML table of strings, Python's reader).
    env.ok(&["session", "dev-1", "web-b", "--context", "b"]);
    let parsed = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, tomllib; print(tomllib.load(open(sys.argv[1], 'rb'))['session_names'])",
        ])
        .arg(az.home().join("config.toml"))
        .output()
        .unwrap();
    assert!(parsed.status.success(), "{parsed:?}");
    let text = String::from_utf8_lossy(&parsed.stdout);
    assert!(text.contains(&format!("'{fleet_b}': 'web-b'")), "{text}");
    assert_eq!(status("b")["session_name"], "web-b");
    assert!(status("a")["session_name"].is_null());

    // On a terminal, destroy names the context and the subscription
    // before it asks; "no" deletes nothing.
    let mut cmd = env.command(&["destroy", "dev-1", "--context", "b"]);
    cmd.env("TERM", "xterm");
    let mut pty = azlin_e2e::pty::Pty::spawn(cmd, 200, 24);
    pty.wait_for(
        0,
        "Delete dev-1? Type yes to confirm:",
        Duration::from_secs(60),
    );
    let screen = pty.screen();
    assert!(
        screen.contains(&format!(
            "[context b: subscription {SUB_B}, resource group rg-b]"
        )) && screen.contains(&format!("of subscription {SUB_B}, context b")),
        "{screen}"
    );
    pty.send("no\r");
    assert!(!pty.wait_exit(Duration::from_secs(30)).success());
    assert!(fake.emulator(|e| e.resource(&vm_b)).is_some());

    // kill dev-1 in b: b's goes, a's stays, connected.
    let out = env.ok(&["kill", "dev-1", "--context", "b"]);
    assert!(out.contains(SUB_B) && out.contains("context b"), "{out}");
    assert!(fake.emulator(|e| e.resource(&vm_b)).is_none());
    assert!(fake.emulator(|e| e.resource(&vm_a)).is_some());
    assert!(names(&env.ok(&["list", "--json", "--context", "b"])).is_empty());
    assert_eq!(names(&env.ok(&["list", "--json"])), ["dev-1"]);
    assert!(env.connected("dev-1"));
}

/// A stand-in `az` on PATH that hands out `tok-TENANT` (`tok-home` with no
/// `--tenant`) and records how it was asked.
fn fake_az(dir: &std::path::Path) {
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {log}\ntenant=home\nwhile [ $# -gt 0 ]; do\n  \
         if [ \"$1\" = --tenant ]; then tenant=$2; fi\n  shift\ndone\n\
         printf '{{\"accessToken\":\"tok-%s\",\"expires_on\":4102444800,\"tokenType\":\"Bearer\"}}\\n' \"$tenant\"\n",
        log = dir.join("az.log").display()
    );
    let path = dir.join("az");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn context_use_signs_in_to_the_contexts_tenant() {
    let bin = tempfile::tempdir().unwrap();
    fake_az(bin.path());
    let mut az = AzureEnv::new(SUB_A, "home-rg", "");
    // No static token: the Azure CLI's sign-in, as a user has it.
    az.env.set_var("AZLIN_ARM_TOKEN", "");
    az.env.set_var(
        "PATH",
        format!(
            "{}:{}",
            bin.path().display(),
            std::env::var("PATH").unwrap()
        ),
    );
    az.fake.emulator(|e| {
        e.add_subscription(SUB_B, "Team B", "tenant-b");
        e.grants.insert("tok-home".into(), "tenant-a".into());
        e.grants.insert("tok-tenant-b".into(), "tenant-b".into());
    });
    let env = &az.env;
    env.ok(&["context", "create", "b-home", "--subscription", SUB_B]);
    env.ok(&[
        "context",
        "create",
        "b",
        "--subscription",
        SUB_B,
        "--tenant",
        "tenant-b",
    ]);
    // The home tenant's token is refused in tenant-b's subscription.
    let err = env.fails(&["context", "use", "b-home"]);
    assert!(
        err.contains("cannot be reached") && err.contains("wrong issuer"),
        "{err}"
    );
    assert_eq!(current(&az), None);
    let out = env.ok(&["context", "use", "b"]);
    assert!(out.contains("Team B"), "{out}");
    assert_eq!(current(&az).as_deref(), Some("b"));
    let asked = std::fs::read_to_string(bin.path().join("az.log")).unwrap();
    assert!(
        asked
            .lines()
            .any(|l| l.contains("get-access-token") && l.contains("--tenant tenant-b")),
        "{asked}"
    );

    // `context migrate` turns [azure] into a context and makes it current.
    let out = env.ok(&["context", "migrate"]);
    assert!(out.contains("config.toml is unchanged"), "{out}");
    assert_eq!(current(&az).as_deref(), Some("default"));
    let shown: Value =
        serde_json::from_str(&env.ok(&["context", "show", "default", "--json"])).unwrap();
    assert_eq!(shown["subscription"], SUB_A);
    assert_eq!(shown["resource_group"], "home-rg");
    assert_eq!(shown["region"], "westus2");
    assert_eq!(shown["current"], true);
    let err = env.fails(&["context", "migrate"]);
    assert!(err.contains("exists already"), "{err}");
}
