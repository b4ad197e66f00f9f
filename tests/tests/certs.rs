//! Agents' certificates renewed over the live connection: with a 30 s
//! life (`[daemon] agent_cert_secs`), the daemon renews each VM's at two
//! thirds of it while a command streams output over that connection: the
//! command completes, the link never drops, the agent keeps the new
//! certificate on disk. `certs rotate` does it at once. After the daemon
//! restarts, both a listening and a dialling agent come back with their
//! renewed certificates, enrolled once.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use azlin_e2e::Env;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn agent_cert(env: &Env, vm: &str) -> String {
    let path = env
        .vm_file(vm, "agent.crt")
        .unwrap_or_else(|| panic!("no agent.crt under {}", env.vm_dir(vm).display()));
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn certificates_are_renewed_over_the_live_link() {
    let env = Env::with_listener();
    // The listener's `[daemon]` table is the file's last: the life joins it.
    env.configure("agent_cert_secs = 30\n");
    env.ok(&["new", "--name", "lis"]);
    env.ok(&["new", "--name", "dia", "--dial"]);
    env.wait("both connected", WAIT, || {
        env.connected("lis") && env.connected("dia")
    });
    let first = (
        env.cert_serial("lis").unwrap(),
        env.cert_serial("dia").unwrap(),
    );
    let disk = agent_cert(&env, "lis");
    let before = (env.links("lis"), env.links("dia"));

    // A command streaming over the link while the certificate is renewed.
    let run = env
        .command(&[
            "exec",
            "--vm",
            "lis",
            "--",
            "for i in $(seq 1 30); do echo tick $i; sleep 1; done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    env.wait("the daemon renews both", WAIT, || {
        env.cert_serial("lis").unwrap() != first.0 && env.cert_serial("dia").unwrap() != first.1
    });
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tick 1\n") && text.contains("tick 30\n"),
        "{text}"
    );
    assert_eq!(
        (env.links("lis"), env.links("dia")),
        before,
        "a link dropped"
    );
    assert!(env.connected("lis") && env.connected("dia"));
    assert_ne!(agent_cert(&env, "lis"), disk, "the agent kept the new one");

    // By hand, now.
    let renewed = env.cert_serial("lis").unwrap();
    let out: Vec<Value> =
        serde_json::from_str(&env.ok(&["certs", "rotate", "--vm", "lis", "--json"])).unwrap();
    let now = env.cert_serial("lis").unwrap();
    assert_ne!(now, renewed);
    assert_eq!(out[0]["result"]["Ok"]["serial"], now.as_str(), "{out:?}");
    let listed: Vec<Value> = serde_json::from_str(&env.ok(&["certs", "list", "--json"])).unwrap();
    assert_eq!(listed.len(), 2);

    // The next handshakes present the renewed certificates.
    env.ok(&["daemon", "stop"]);
    let started = Instant::now();
    env.ok(&["list"]);
    env.wait("both back", WAIT, || {
        env.connected("lis") && env.connected("dia")
    });
    println!("back in {:?}", started.elapsed());
    let log = env.daemon_log();
    assert_eq!(log.matches("enrolled agent vm=lis ").count(), 1, "{log}");
    assert_eq!(log.matches("enrolled agent vm=dia ").count(), 1, "{log}");
    assert!(!log.contains("is not the current one"), "{log}");
    assert!(
        env.ok(&["exec", "--vm", "lis", "--", "echo ok"])
            .contains("ok"),
        "commands run after the restart"
    );
}
