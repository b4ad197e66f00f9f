//! `azlin agent upgrade` on a docker fleet of three (systemd in each
//! container runs the agent as on a VM): a new build reaches every VM over
//! its connection, a few at a time, and a command running on a VM when
//! its upgrade begins finishes first; a broken build (it exits at start)
//! is put back by the VM itself once it misses its deadline, and the
//! upgrade stops there. Local VMs, which run this azlin's own binary, are
//! refused.

use std::{path::Path, time::Duration};

use azlin_e2e::{
    bin,
    docker::{DockerEnv, image},
};

fn sha256(path: &Path) -> String {
    azlin_controller::provider::docker::agent_download::sha256_file(path).unwrap()
}

#[test]
fn a_fleet_moves_to_a_new_agent_and_a_broken_one_is_rolled_back() {
    let Some(image) = image() else {
        return;
    };
    let env = DockerEnv::new(&image);
    env.ok(&["new", "--provider", "docker", "--name", "up", "--pool", "3"]);
    let on = |vm: &str, script: &str| env.exec(vm, script).trim().to_string();
    let first = on(
        "up-1",
        "sha256sum /usr/local/bin/azlin-agent | cut -d' ' -f1",
    );
    assert_eq!(first, sha256(&bin("azlin-agent")));

    // A new build: the same program with other bytes, so another sha256.
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("azlin-agent-new");
    let mut bytes = std::fs::read(bin("azlin-agent")).unwrap();
    bytes.extend_from_slice(b"\nazlin test build 2\n");
    std::fs::write(&new, &bytes).unwrap();
    let new_sha = sha256(&new);

    // A command that runs while up-1's upgrade begins is not cut off.
    let long = {
        let mut cmd = env.command(&["exec", "--vm", "up-1", "--", "sleep 4; echo survived"]);
        std::thread::spawn(move || cmd.output().unwrap())
    };
    env.wait("the long command to start", Duration::from_secs(30), || {
        !env.exec("up-1", "pgrep -f '[s]leep 4' || true")
            .trim()
            .is_empty()
    });
    let out = env.run(&[
        "agent",
        "upgrade",
        "--binary",
        new.to_str().unwrap(),
        "--parallel",
        "2",
        "--timeout",
        "30",
    ]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("upgraded up-1, up-2, up-3"), "{said}");
    let long = long.join().unwrap();
    assert!(
        long.status.success(),
        "{}",
        String::from_utf8_lossy(&long.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&long.stdout), "survived\n");
    for vm in ["up-1", "up-2", "up-3"] {
        assert_eq!(
            on(vm, "sha256sum /usr/local/bin/azlin-agent | cut -d' ' -f1"),
            new_sha,
            "{vm}"
        );
        assert_eq!(
            on(
                vm,
                "test -e /usr/local/bin/azlin-agent.pending && echo on-trial || echo committed"
            ),
            "committed"
        );
        assert_eq!(
            on(
                vm,
                "sha256sum /usr/local/bin/azlin-agent.previous | cut -d' ' -f1"
            ),
            first
        );
        assert!(env.connected(vm), "{vm}");
        assert_eq!(env.ok(&["exec", "--vm", vm, "--", "echo ok"]), "ok\n");
    }
    // Again: nothing to do.
    let again = env.ok(&["agent", "upgrade", "--binary", new.to_str().unwrap()]);
    assert!(again.contains("already there up-1, up-2, up-3"), "{again}");

    // A build that cannot start: up-1 puts the previous agent back by its
    // deadline, the upgrade stops, up-2 and up-3 are not touched.
    let broken = dir.path().join("azlin-agent-broken");
    std::fs::write(&broken, "#!/bin/sh\necho 'broken build' >&2\nexit 3\n").unwrap();
    let out = env.run(&[
        "agent",
        "upgrade",
        "--binary",
        broken.to_str().unwrap(),
        "--parallel",
        "1",
        "--timeout",
        "8",
    ]);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("up-1") && said.contains("put the previous agent back"),
        "{said}"
    );
    assert!(said.contains("not tried: up-2, up-3"), "{said}");
    for vm in ["up-1", "up-2", "up-3"] {
        assert_eq!(
            on(vm, "sha256sum /usr/local/bin/azlin-agent | cut -d' ' -f1"),
            new_sha,
            "{vm}"
        );
        assert!(env.connected(vm), "{vm}");
    }
    assert_eq!(
        env.ok(&["exec", "--vm", "up-1", "--", "echo back"]),
        "back\n"
    );

    // Local VMs run this azlin's own agent: refused, nothing sent.
    env.ok(&["new", "--provider", "local", "--name", "loc"]);
    let err = env.fails(&[
        "agent",
        "upgrade",
        "--vm",
        "loc",
        "--binary",
        new.to_str().unwrap(),
    ]);
    assert!(
        err.contains("local VMs run this azlin's own azlin-agent"),
        "{err}"
    );
}
