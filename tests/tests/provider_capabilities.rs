//! Every provider-specific command and flag, through the real CLI and
//! daemon, on the providers that run here with nothing installed (local
//! and external): each is either done (its effect checked) or refused
//! with a message naming the provider and the flag, exit 2, and nothing
//! about the fleet changed. (Docker's refusals are in `docker_fleet.rs`,
//! Azure's in `azure_provider.rs`; the capability table of all four is
//! walked exhaustively by the controller's unit tests.)

use azlin_e2e::Env;

/// `azlin ARGS` fails with exit 2 and a message containing each of `needles`.
fn refused(env: &Env, args: &[&str], needles: &[&str]) {
    let out = env.run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "azlin {args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "azlin {args:?}: {err:?} lacks {n:?}");
    }
}

#[test]
fn local_vms_refuse_what_they_lack_and_do_what_they_have() {
    let env = Env::with_listener();
    env.ok(&["new", "--name", "box"]);
    let before = env.fleet_fingerprint();

    refused(
        &env,
        &["new", "--name", "sub", "--subscription", "s"],
        &["local VMs are not in Azure", "--subscription"],
    );
    refused(
        &env,
        &["new", "--name", "rg", "--resource-group", "g"],
        &["local VMs", "--resource-group"],
    );
    refused(
        &env,
        &["new", "--name", "tools", "--no-dev-tools"],
        &["local VMs", "--no-dev-tools"],
    );
    refused(
        &env,
        &["stop", "--no-deallocate", "box"],
        &["local VMs have no allocation", "--no-deallocate"],
    );
    refused(
        &env,
        &["resize", "box", "Standard_D4s_v5"],
        &["local VMs have no size", "resize"],
    );
    // Nothing was made, stopped or changed by any of them.
    assert_eq!(env.fleet_fingerprint(), before);
    assert!(!env.vm_dir("sub").exists() && !env.vm_dir("tools").exists());
    assert_eq!(env.vm("box")["state"], "running");

    // What a local VM has: dial mode, stop, start, restart.
    env.ok(&["new", "--name", "dialer", "--dial"]);
    assert_eq!(env.vm("dialer")["connect_mode"], "dial");
    env.ok(&["stop", "box"]);
    assert_eq!(env.vm("box")["state"], "stopped");
    env.ok(&["start", "box"]);
    env.ok(&["restart", "box"]);
    env.wait("box back", std::time::Duration::from_secs(20), || {
        env.connected("box")
    });
}

#[test]
fn external_machines_are_the_users_to_power() {
    let env = Env::with_listener();
    env.ok(&["new", "--provider", "external", "--name", "ws"]);
    let before = env.fleet_fingerprint();
    for (args, needles) in [
        (
            &["new", "--provider", "external", "--name", "x", "--dial"][..],
            &["external machines always dial in", "--dial"][..],
        ),
        (
            &[
                "new",
                "--provider",
                "external",
                "--name",
                "x",
                "--no-dev-tools",
            ],
            &["external machines", "--no-dev-tools"],
        ),
        (
            &[
                "new",
                "--provider",
                "external",
                "--name",
                "x",
                "--subscription",
                "s",
            ],
            &["external machines are not in Azure", "--subscription"],
        ),
        (
            &["start", "ws"],
            &["external machines are powered by you", "azlin start"],
        ),
        (
            &["stop", "ws"],
            &["external machines are powered by you", "azlin stop"],
        ),
        (&["restart", "ws"], &["external machines", "azlin restart"]),
        (
            &["resize", "ws", "Standard_B2s"],
            &["external machines have no size"],
        ),
    ] {
        refused(&env, args, needles);
    }
    assert_eq!(env.fleet_fingerprint(), before);
    assert!(
        env.fails(&["status", "x"])
            .contains("no VM or session named")
    );
    // What azlin does for them: forget one (its record and certificate).
    let plan = env.ok(&["destroy", "--dry-run", "ws"]);
    assert!(plan.contains("the machine itself is yours"), "{plan}");
    env.ok(&["kill", "ws"]);
    assert!(env.list().is_empty());
}
