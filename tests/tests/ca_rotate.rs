//! `azlin ca rotate` over live connections: while a command streams output
//! from one VM, the fleet's CA is replaced; the command completes, no link
//! drops, both a listening and a dialling agent get certificates of the
//! new CA and come back with them after the daemon restarts. A VM stopped
//! during the rotation comes back under the old CA, still trusted, is
//! brought over at once, and the old CA is then retired by itself; after
//! that every agent reconnects with the new CA alone.

use std::{process::Stdio, time::Duration};

use azlin_e2e::Env;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn show(env: &Env) -> Value {
    serde_json::from_str(&env.ok(&["ca", "show", "--json"])).unwrap()
}

/// The CA certificates in a VM's agent trust file (`trust.pem`), if any.
fn agent_trust(env: &Env, vm: &str) -> Option<usize> {
    let text = std::fs::read_to_string(env.vm_file(vm, "trust.pem")?).unwrap();
    Some(text.matches("BEGIN CERTIFICATE").count())
}

#[test]
fn the_fleet_ca_is_rotated_without_dropping_a_link() {
    let env = Env::with_listener();
    env.ok(&["new", "--name", "lis"]);
    env.ok(&["new", "--name", "dia", "--dial"]);
    env.ok(&["new", "--name", "away"]);
    env.wait("all connected", WAIT, || {
        env.connected("lis") && env.connected("dia") && env.connected("away")
    });
    let err = env.fails(&["ca", "retire"]);
    assert!(err.contains("no rotation is under way"), "{err}");
    let before = show(&env);
    assert_eq!(before["old"].as_array().unwrap().len(), 0);
    let ca_file = env.home().join("pki/ca.crt");
    let ca_before = std::fs::read_to_string(&ca_file).unwrap();
    env.ok(&["stop", "away"]);
    let links_before = (env.links("lis"), env.links("dia"));

    // A command streams over lis's link while the CA is rotated.
    let run = env
        .command(&[
            "exec",
            "--vm",
            "lis",
            "--",
            "for i in $(seq 1 20); do echo tick $i; sleep 0.2; done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let rotated: Value = serde_json::from_str(&env.ok(&["ca", "rotate", "--json"])).unwrap();
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tick 1\n") && text.contains("tick 20\n"),
        "{text}"
    );
    assert_eq!(
        rotated["renewed"],
        serde_json::json!(["dia", "lis"]),
        "{rotated}"
    );
    assert_eq!(rotated["pending"][0][0], "away", "{rotated}");
    assert_eq!(rotated["retired"], false);
    assert_eq!(
        (env.links("lis"), env.links("dia")),
        links_before,
        "a link dropped"
    );
    assert!(env.connected("lis") && env.connected("dia"));

    // The new CA is the fleet's; the old one is still trusted for away.
    let during = show(&env);
    assert_ne!(during["fingerprint"], before["fingerprint"]);
    assert_eq!(during["old"][0], before["fingerprint"]);
    assert_eq!(during["behind"], serde_json::json!(["away"]));
    assert_ne!(std::fs::read_to_string(&ca_file).unwrap(), ca_before);
    assert_eq!(agent_trust(&env, "lis"), Some(2));
    let err = env.fails(&["ca", "retire"]);
    assert!(err.contains("away still hold"), "{err}");

    // After a daemon restart both come back with the new CA's certificates.
    env.ok(&["daemon", "stop"]);
    env.ok(&["list"]);
    env.wait("both back", WAIT, || {
        env.connected("lis") && env.connected("dia")
    });
    assert!(
        env.ok(&["exec", "--vm", "dia", "--", "echo ok"])
            .contains("ok")
    );

    // away comes back under the old CA, is brought over, and the old CA is
    // retired by itself.
    env.ok(&["start", "away"]);
    env.wait("away brought over and the old CA retired", WAIT, || {
        let s = show(&env);
        env.connected("away")
            && s["old"].as_array().unwrap().is_empty()
            && s["behind"].as_array().unwrap().is_empty()
    });
    env.wait("the agents told to trust the new CA alone", WAIT, || {
        agent_trust(&env, "lis") == Some(1) && agent_trust(&env, "away") == Some(1)
    });

    // The new CA alone carries the fleet: every agent reconnects.
    env.ok(&["daemon", "stop"]);
    env.ok(&["list"]);
    env.wait("all back on the new CA alone", WAIT, || {
        env.connected("lis") && env.connected("dia") && env.connected("away")
    });
    let log = env.daemon_log();
    for vm in ["lis", "dia", "away"] {
        assert_eq!(
            log.matches(&format!("enrolled agent vm={vm} ")).count(),
            1,
            "{vm} enrolled again: {log}"
        );
    }
}
