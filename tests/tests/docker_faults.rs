//! Faults across real hosts: ten docker VMs (systemd, cloud-init, the real
//! agent on its own address) and the real daemon. One VM cut off the
//! network, one killed and started, the daemon restarted, the agent binary
//! replaced on every VM one at a time, and (where the kernel has netem)
//! delay and loss on one VM's link. Times are printed, never asserted:
//! BENCHMARKS.md has the figures; the waits only bound a hang.

use std::{
    collections::BTreeSet,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use azlin_e2e::docker::{DockerEnv, TEST_NETWORK, docker_ok, image};

const FLEET: usize = 10;

fn names() -> Vec<String> {
    (1..=FLEET).map(|i| format!("f-{i}")).collect()
}

/// The VMs not connected, sampled every 100 ms while `body` runs.
fn watch_fleet<T>(env: &DockerEnv, body: impl FnOnce() -> T) -> (T, Vec<BTreeSet<String>>) {
    /// Stops the watcher however `body` ends: a scope waits for its
    /// threads, so a panic in `body` would otherwise never return.
    struct Stop<'a>(&'a AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let down: BTreeSet<String> = env
                    .list()
                    .iter()
                    .filter(|v| v["connected"] != true)
                    .map(|v| v["name"].as_str().unwrap().to_string())
                    .collect();
                samples.push(down);
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        });
        let guard = Stop(&stop);
        let out = body();
        drop(guard);
        (out, watcher.join().unwrap())
    })
}

fn reconnects(env: &DockerEnv, vm: &str) -> u64 {
    env.vm(vm)["reconnects"].as_u64().unwrap()
}

fn agent_lost_events(env: &DockerEnv, vm: &str) -> Vec<String> {
    let alerts: serde_json::Value =
        serde_json::from_str(&env.ok(&["alerts", "--json", "--history", "1000"])).unwrap();
    alerts["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["rule"] == "agent-lost" && e["vm"] == vm)
        .map(|e| e["state"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_fleet_of_ten_containers_survives_faults() {
    let Some(image) = image() else { return };
    let env = DockerEnv::new(&image);
    let started = Instant::now();
    env.ok(&[
        "new",
        "--provider",
        "docker",
        "--name",
        "f",
        "--pool",
        &FLEET.to_string(),
    ]);
    println!(
        "{FLEET} docker VMs enrolled and connected in {:?}",
        started.elapsed()
    );
    let issued = env.daemon_status()["certificates_issued"].as_i64().unwrap();
    assert_eq!(issued, FLEET as i64);

    cut_off(&env, "f-1");
    killed_and_started(&env, "f-2");
    daemon_restart(&env);
    rolling_upgrade(&env);
    delay_and_loss(&env, "f-3");

    assert_eq!(
        env.daemon_status()["certificates_issued"].as_i64().unwrap(),
        issued,
        "no VM enrolled again"
    );
    let listed: BTreeSet<String> = env
        .list()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        listed,
        names().into_iter().collect(),
        "no duplicate or lost entry"
    );
}

/// `docker network disconnect` for 10 s: lost, agent-lost raised, the rest
/// untouched, back soon after the link returns at the same address.
fn cut_off(env: &DockerEnv, vm: &str) {
    let container = env.container(vm);
    let ip = env.vm(vm)["address"]
        .as_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let before = reconnects(env, vm);
    let ((lost, back), samples) = watch_fleet(env, || {
        docker_ok(&["network", "disconnect", TEST_NETWORK, &container]);
        let cut = Instant::now();
        let lost = env.wait(
            "the cut-off VM to be seen as lost",
            Duration::from_secs(20),
            || !env.connected(vm),
        );
        env.wait("agent-lost to fire", Duration::from_secs(20), || {
            agent_lost_events(env, vm).contains(&"firing".to_string())
        });
        std::thread::sleep(Duration::from_secs(10).saturating_sub(cut.elapsed()));
        docker_ok(&["network", "connect", "--ip", &ip, TEST_NETWORK, &container]);
        let back = env.wait("the VM to reconnect", Duration::from_secs(30), || {
            env.connected(vm)
        });
        (lost, back)
    });
    println!("cut off: {vm} seen lost after {lost:?}; connected {back:?} after the link returned");
    for down in &samples {
        assert!(
            down.iter().all(|d| d == vm),
            "only {vm} may be down, but {down:?} were"
        );
    }
    assert!(reconnects(env, vm) > before);
    env.wait("agent-lost to resolve", Duration::from_secs(20), || {
        agent_lost_events(env, vm).contains(&"resolved".to_string())
    });
}

/// `docker kill` then `docker start`: lost, then back with its key and
/// certificate (the address may change; the daemon finds it).
fn killed_and_started(env: &DockerEnv, vm: &str) {
    let container = env.container(vm);
    docker_ok(&["kill", &container]);
    let killed = Instant::now();
    let lost = env.wait(
        "the killed VM to be seen as lost",
        Duration::from_secs(20),
        || !env.connected(vm),
    );
    docker_ok(&["start", &container]);
    let started = Instant::now();
    env.wait(
        "the killed VM to come back",
        Duration::from_secs(90),
        || env.connected(vm),
    );
    println!(
        "docker kill: {vm} seen lost after {lost:?}; back {:?} after docker start ({:?} in all)",
        started.elapsed(),
        killed.elapsed()
    );
    assert_eq!(env.ok(&["exec", "--vm", vm, "--", "echo alive"]), "alive\n");
}

/// The daemon stopped and started: every VM connected again.
fn daemon_restart(env: &DockerEnv) {
    env.ok(&["daemon", "stop"]);
    let restarted = Instant::now();
    env.ok(&["daemon", "status"]);
    let all = env.wait(
        "all VMs to reconnect to the new daemon",
        Duration::from_secs(30),
        || env.list().iter().all(|v| v["connected"] == true),
    );
    println!(
        "daemon restart: all {FLEET} VMs connected {all:?} after the new daemon answered ({:?} from stop)",
        restarted.elapsed()
    );
}

/// A newer agent binary installed on each VM in turn (as an upgrade would):
/// each VM reconnects running it, and never are two VMs down at once.
fn rolling_upgrade(env: &DockerEnv) {
    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("azlin-agent");
    let mut bytes = std::fs::read(azlin_e2e::bin("azlin-agent")).unwrap();
    // Bytes past the end of the ELF image change the build's hash, not what
    // it does.
    bytes.extend_from_slice(b"\nazlin rolling-upgrade test build\n");
    std::fs::write(&newer, &bytes).unwrap();
    std::fs::set_permissions(&newer, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sha = azlin_controller::provider::docker::agent_download::sha256_file(&newer).unwrap();
    let (times, samples) = watch_fleet(env, || {
        let mut times = Vec::new();
        for vm in names() {
            let before = reconnects(env, &vm);
            let container = env.container(&vm);
            let upgrading = Instant::now();
            docker_ok(&[
                "cp",
                &newer.display().to_string(),
                &format!("{container}:/usr/local/bin/azlin-agent.new"),
            ]);
            env.exec(
                &vm,
                "mv -f /usr/local/bin/azlin-agent.new /usr/local/bin/azlin-agent && systemctl restart azlin-agent",
            );
            env.wait(
                "the upgraded agent to reconnect",
                Duration::from_secs(30),
                || reconnects(env, &vm) > before && env.connected(&vm),
            );
            times.push(upgrading.elapsed());
        }
        times
    });
    println!("rolling upgrade: per-VM time to reconnected {times:?}");
    let most_down = samples.iter().map(BTreeSet::len).max().unwrap_or(0);
    assert!(most_down <= 1, "at most one VM down at a time: {samples:?}");
    for vm in names() {
        let running = env.exec(
            &vm,
            "sha256sum /proc/$(systemctl show -p MainPID --value azlin-agent)/exe | cut -d' ' -f1",
        );
        assert_eq!(running.trim(), sha, "{vm} runs the new build");
    }
}

/// 50 ms delay and 2 % loss on one VM's link (`tc netem` from the host,
/// in the container's network namespace): exec and telemetry still work.
fn delay_and_loss(env: &DockerEnv, vm: &str) {
    let container = env.container(vm);
    let pid = docker_ok(&["inspect", "--format", "{{.State.Pid}}", &container]);
    let add = std::process::Command::new("nsenter")
        .args([
            "-t",
            pid.trim(),
            "-n",
            "tc",
            "qdisc",
            "add",
            "dev",
            "eth0",
            "root",
            "netem",
        ])
        .args(["delay", "50ms", "loss", "2%"])
        .output()
        .expect("run nsenter tc");
    if !add.status.success() {
        let why = String::from_utf8_lossy(&add.stderr);
        assert!(
            why.contains("qdisc kind is unknown") || why.contains("Operation not supported"),
            "tc netem failed for another reason: {why}"
        );
        println!(
            "netem: not in this kernel ({}); delay and loss not tested",
            why.trim()
        );
        return;
    }
    let mut took = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        assert_eq!(env.ok(&["exec", "--vm", vm, "--", "echo ok"]), "ok\n");
        took.push(t.elapsed());
    }
    took.sort();
    println!(
        "netem 50 ms / 2 %: exec p50 {:?}, max {:?}",
        took[10], took[19]
    );
    let taken = |env: &DockerEnv| env.top_of(vm)["taken_at_ms"].as_u64().unwrap_or(0);
    let first = taken(env);
    env.wait(
        "telemetry through the lossy link",
        Duration::from_secs(15),
        || taken(env) >= first + 3000,
    );
}
