//! `azlin snapshot` on a docker VM (a systemd container with the real
//! agent and cloud-init): the snapshot is taken while the agent holds the
//! VM still, without the VM's link dropping (no reconnection, no
//! agent-lost alert), and a process writing meanwhile carries on after;
//! a restore brings back a file written before and drops one written
//! after, on a new container that reconnects with the certificate it had
//! (no new enrollment), the old container kept stopped beside it; the
//! snapshot can be deleted while the VM runs from it; a schedule takes
//! them by itself and keeps the newest.

use std::time::Duration;

use azlin_e2e::docker::{DockerEnv, docker_ok, image};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(120);

fn on(env: &DockerEnv, script: &str) -> String {
    env.ok(&["exec", "--vm", "snap", "--", script])
}

/// How many times the agent was judged lost.
fn lost(env: &DockerEnv) -> usize {
    let alerts: Value = serde_json::from_str(&env.ok(&["alerts", "--json"])).unwrap();
    alerts["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["rule"] == "agent-lost" && e["state"] == "firing")
        .count()
}

fn connections(env: &DockerEnv) -> usize {
    env.links("snap")
}

#[test]
fn a_docker_vm_is_held_still_for_its_snapshot_and_restored_with_its_identity() {
    let Some(image) = image() else {
        return;
    };
    let env = DockerEnv::new(&image);
    env.ok(&["new", "--provider", "docker", "--name", "snap"]);
    env.wait("connected", WAIT, || env.connected("snap"));
    on(&env, "echo before > ~/kept.txt");
    // A process writing all along, outside azlin's commands.
    env.exec(
        "snap",
        "nohup sh -c 'while :; do date +%s%N >> /root/ticks; sleep 0.05; done' \
         >/dev/null 2>&1 &",
    );
    std::thread::sleep(Duration::from_millis(500));
    let links = connections(&env);
    assert_eq!(links, 1);
    // A loaded machine may be slow to see the agent back after it
    // enrolled; only what happens from the snapshot on counts.
    let lost_before = lost(&env);

    let out = env.ok(&["snapshot", "create", "snap", "--name", "snap-one", "--json"]);
    let view: Vec<Value> = serde_json::from_str(&out).unwrap();
    let held = view[0]["held"].as_str().unwrap_or_default().to_string();
    assert!(held.contains("processes frozen"), "{view:?}");
    assert!(
        view[0]["holds"]
            .as_str()
            .unwrap()
            .contains("azlin-snapshot:")
    );
    // The link held throughout: no reconnection, no agent-lost.
    assert!(env.connected("snap"));
    assert_eq!(connections(&env), links);
    assert_eq!(lost(&env), lost_before, "{}", env.ok(&["alerts", "--json"]));
    // Thawed: the writer carries on.
    let ticks = |env: &DockerEnv| {
        env.exec("snap", "wc -l < /root/ticks")
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let after_snapshot = ticks(&env);
    env.wait("the writer to carry on", WAIT, || {
        ticks(&env) > after_snapshot + 5
    });
    // Nothing is left frozen or in the hold group.
    let states = env.exec(
        "snap",
        "cat /sys/fs/cgroup/freezer/docker/*/freezer.state 2>/dev/null; \
         ls -d /sys/fs/cgroup/freezer/docker/*/azlin-quiesce 2>/dev/null; true",
    );
    assert!(
        !states.contains("FROZEN") && !states.contains("azlin-quiesce"),
        "{states}"
    );

    on(&env, "echo after > ~/new.txt; echo changed > ~/kept.txt");
    let serial_before = env.cert_serial("snap");
    let issued = env.daemon_status()["certificates_issued"].clone();
    let old = env.container("snap");

    let plan = env.ok(&["snapshot", "restore", "snap", "snap-one", "--dry-run"]);
    assert!(plan.contains("would"), "{plan}");
    assert_eq!(on(&env, "cat ~/kept.txt"), "changed\n");

    let out = env.ok(&["snapshot", "restore", "snap", "snap-one", "--yes"]);
    assert!(out.contains("same certificate"), "{out}");
    assert_eq!(
        on(
            &env,
            "cat ~/kept.txt; test -e ~/new.txt && echo new || echo no-new"
        ),
        "before\nno-new\n"
    );
    assert_eq!(env.cert_serial("snap"), serial_before, "enrolled again");
    assert_eq!(env.daemon_status()["certificates_issued"], issued);
    let names = env.containers();
    assert!(names.contains(&old), "{names:?}");
    let aside: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(&format!("{old}-before-snap-one-")))
        .collect();
    assert_eq!(aside.len(), 1, "{names:?}");
    assert_eq!(
        docker_ok(&["inspect", "--format", "{{.State.Running}}", aside[0]]).trim(),
        "false"
    );

    // Deleted while the VM runs from it: the VM keeps running.
    env.ok(&["snapshot", "delete", "snap-one", "--yes"]);
    assert!(env.ok(&["snapshot", "list"]).contains("no snapshots"));
    assert_eq!(on(&env, "cat ~/kept.txt"), "before\n");

    // A schedule takes them with no command and keeps the newest one.
    env.ok(&[
        "snapshot", "schedule", "snap", "--every", "10s", "--keep", "1",
    ]);
    let runs = || {
        let all: Value = serde_json::from_str(&env.ok(&["alerts", "--json"])).unwrap();
        all["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["rule"] == "snapshot")
            .count()
    };
    env.wait("two scheduled snapshots", WAIT, || runs() >= 2);
    env.ok(&["snapshot", "schedule", "clear", "snap"]);
    let listed = || -> Vec<Value> {
        serde_json::from_str(&env.ok(&["snapshot", "list", "snap", "--json"])).unwrap()
    };
    // A run under way when the schedule was cleared ends with its prune.
    env.wait("one kept", WAIT, || listed().len() == 1);
    let kept = listed();
    assert_eq!(kept[0]["origin"], "schedule");
    assert!(
        kept[0]["held"]
            .as_str()
            .unwrap()
            .contains("processes frozen")
    );
    assert!(env.connected("snap"));
}
