//! `azlin health` on docker VMs (systemd, cloud-init, sshd, apt inside):
//! a failed unit makes a VM red and a required reboot adds a yellow
//! finding, each said; the other VM does not carry them; a stopped VM is
//! red as unreachable with when it was last heard from, never green.

use std::time::Duration;

use azlin_e2e::docker::{DockerEnv, image};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(120);

fn health(env: &DockerEnv, vm: &str) -> Value {
    let out: Vec<Value> = serde_json::from_str(&env.ok(&["health", "--vm", vm, "--json"])).unwrap();
    out[0].clone()
}

fn reasons(v: &Value) -> Vec<String> {
    v["verdict"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn findings_are_graded_and_an_unreachable_vm_is_never_green() {
    let Some(image) = image() else {
        return;
    };
    let env = DockerEnv::new(&image);
    env.ok(&["new", "--provider", "docker", "--name", "h", "--pool", "2"]);
    env.wait("connected", WAIT, || {
        env.connected("h-1") && env.connected("h-2")
    });
    for vm in ["h-1", "h-2"] {
        env.exec(vm, "cloud-init status --wait >/dev/null || true");
    }

    let before = health(&env, "h-2");
    let report = &before["report"];
    assert_eq!(report["cloud_init"], "done", "{before:#}");
    assert!(
        report["failed_units"].is_array(),
        "systemd answers: {before:#}"
    );
    assert_eq!(report["sshd_up"], true, "{before:#}");
    assert!(
        before["skew_ms"].as_i64().unwrap().abs() < 2000,
        "{before:#}"
    );

    env.exec(
        "h-1",
        "systemd-run --unit=azlin-broken /bin/false; touch /var/run/reboot-required",
    );
    env.wait("the unit fails", WAIT, || {
        env.exec("h-1", "systemctl is-failed azlin-broken || true")
            .trim()
            == "failed"
    });
    let h1 = health(&env, "h-1");
    assert_eq!(h1["verdict"]["grade"], "Red", "{h1:#}");
    let why = reasons(&h1);
    assert!(
        why.iter()
            .any(|r| r.contains("failed units:") && r.contains("azlin-broken")),
        "{why:?}"
    );
    assert!(why.iter().any(|r| r == "a reboot is required"), "{why:?}");
    let h2 = reasons(&health(&env, "h-2"));
    assert!(
        !h2.iter()
            .any(|r| r.contains("azlin-broken") || r.contains("reboot")),
        "{h2:?}"
    );

    let table = env.ok(&["health", "--vm", "h-1"]);
    assert!(table.contains("RED"), "{table}");

    env.ok(&["stop", "h-2"]);
    let gone = health(&env, "h-2");
    assert_eq!(gone["verdict"]["grade"], "Red", "{gone:#}");
    assert!(gone["report"].is_null());
    let why = reasons(&gone);
    assert!(
        why[0].starts_with("unreachable") && why[0].contains("last sample"),
        "{why:?}"
    );
}
