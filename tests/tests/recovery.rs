//! Recovery: an agent killed and started again, the daemon stopped or
//! killed and started again, agents that dial out. Each must come back
//! without re-enrollment. Times are printed, never asserted (shared,
//! noisy machines); BENCHMARKS.md has the measured figures.

use std::time::{Duration, Instant};

use azlin_e2e::{Env, kill9};

fn cert(env: &Env, vm: &str) -> Vec<u8> {
    std::fs::read(env.vm_dir(vm).join("state/agent.crt")).unwrap()
}

#[test]
fn killed_agent_that_restarts_is_reconnected_without_reenrolling() {
    let env = Env::new();
    env.ok(&["new", "--name", "a", "--pool", "2"]);
    let cert_before = cert(&env, "a-1");
    kill9(env.agent_pid("a-1").unwrap());
    let lost = env.wait("a-1 to be seen as lost", Duration::from_secs(15), || {
        !env.connected("a-1")
    });
    println!("dead agent noticed after {lost:?}");
    assert!(env.connected("a-2"), "the rest of the fleet is unaffected");
    let restarted = Instant::now();
    let mut child = env.spawn_agent("a-1");
    let back = env.wait("a-1 to reconnect", Duration::from_secs(20), || {
        env.connected("a-1")
    });
    println!(
        "agent reconnected {back:?} after restart ({:?})",
        restarted.elapsed()
    );
    assert_eq!(cert(&env, "a-1"), cert_before, "no re-enrollment");
    assert_eq!(env.daemon_status()["certificates_issued"], 2);
    assert_eq!(
        env.agent_log("a-1")
            .matches("enrolled: fleet certificate stored")
            .count(),
        1
    );
    assert!(env.vm("a-1")["reconnects"].as_u64().unwrap() >= 1);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn stopped_and_started_vm_comes_back() {
    let env = Env::new();
    env.ok(&["new", "--name", "s"]);
    env.ok(&["stop", "s"]);
    let vm = env.vm("s");
    assert_eq!(vm["state"], "stopped");
    assert_eq!(vm["connected"], false);
    assert!(env.agent_pid("s").is_none());
    env.ok(&["start", "s"]);
    env.wait("s to reconnect", Duration::from_secs(20), || {
        env.connected("s")
    });
    assert_eq!(env.vm("s")["state"], "running");
}

#[test]
fn daemon_restart_and_kill_9_lose_nothing() {
    let env = Env::new();
    env.ok(&["new", "--name", "d", "--pool", "3"]);
    let certs: Vec<Vec<u8>> = (1..=3).map(|i| cert(&env, &format!("d-{i}"))).collect();
    let fingerprint = env.fleet_fingerprint();

    // Graceful stop: agents notice at once and wait; the next command
    // starts the daemon, which dials them from state.db.
    env.ok(&["daemon", "stop"]);
    let t = Instant::now();
    let vms = env.list();
    assert_eq!(vms.len(), 3);
    env.wait(
        "all agents back after restart",
        Duration::from_secs(20),
        || env.list().iter().all(|v| v["connected"] == true),
    );
    println!("all 3 connected {:?} after daemon restart", t.elapsed());

    // kill -9: nothing acknowledged is lost.
    kill9(env.daemon_pid().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    env.wait(
        "all agents back after kill -9",
        Duration::from_secs(20),
        || env.list().iter().all(|v| v["connected"] == true),
    );
    let after: Vec<Vec<u8>> = (1..=3).map(|i| cert(&env, &format!("d-{i}"))).collect();
    assert_eq!(certs, after, "no re-enrollment");
    let now = env.fleet_fingerprint();
    assert_eq!(now["certs"], fingerprint["certs"]);
    assert_eq!(now["vms"].as_array().unwrap().len(), 3);
}

#[test]
fn dial_mode_agents_enroll_and_redial_a_restarted_daemon() {
    let env = Env::with_listener();
    env.ok(&["new", "--name", "out", "--pool", "2", "--dial"]);
    for vm in env.list() {
        assert_eq!(vm["connected"], true, "{vm}");
        assert_eq!(vm["connect_mode"], "dial");
    }
    let cert_before = cert(&env, "out-1");
    env.ok(&["daemon", "stop"]);
    env.ok(&["daemon", "status"]);
    let t = Instant::now();
    env.list();
    env.wait(
        "dial-mode agents to redial",
        Duration::from_secs(20),
        || env.list().iter().all(|v| v["connected"] == true),
    );
    println!(
        "dial-mode agents back {:?} after daemon restart",
        t.elapsed()
    );
    assert_eq!(cert(&env, "out-1"), cert_before);
    assert!(env.ok(&["kill", "out-1"]).contains("revoked"));
    assert_eq!(env.list().len(), 1);
}

#[test]
fn new_whose_daemon_is_killed_says_what_exists() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    // Agents that take 2 s to start, so the daemon is killed after the
    // VMs are made and before they have joined.
    let dir = tempfile::tempdir().unwrap();
    let slow = dir.path().join("slow-agent");
    std::fs::write(
        &slow,
        format!(
            "#!/bin/sh\nsleep 2\nexec {} \"$@\"\n",
            azlin_e2e::bin("azlin-agent").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &slow,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .unwrap();
    let mut child = env
        .command(&["new", "--name", "k", "--pool", "3"])
        .env("AZLIN_AGENT_BIN", &slow)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    let mut started = 0;
    while started < 3 {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "new ended: {said}"
        );
        started += usize::from(line.contains("agent started"));
        said.push_str(&line);
    }
    kill9(env.daemon_pid().unwrap());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        rest.contains(
            "the daemon stopped while `new` was running; starting it again to see what was made"
        ),
        "{said}{rest}"
    );
    assert!(
        rest.contains("all 3 VM(s) were made and are connected"),
        "{rest}"
    );
    assert!(out.status.success(), "{rest}");
    for vm in ["k-1", "k-2", "k-3"] {
        assert!(stdout.contains(vm), "{stdout}");
    }
    assert!(env.list().iter().all(|v| v["connected"] == true));
}
