//! Idle autostop and schedules on docker VMs (a systemd container with
//! the real agent and cloud-init each): an idle VM is warned about and
//! deallocated (its container stops); a started one is stopped by a
//! schedule due this minute.

use std::time::Duration;

use azlin_e2e::docker::{DockerEnv, image};

const WAIT: Duration = Duration::from_secs(90);

fn clock_now_utc() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 86400;
    format!("{:02}:{:02}", t / 3600, t / 60 % 60)
}

#[test]
fn an_idle_docker_vm_is_stopped_and_a_schedule_stops_it_again() {
    let Some(image) = image() else {
        return;
    };
    let env = DockerEnv::new(&image);
    env.ok(&["new", "--provider", "docker", "--name", "sched"]);
    env.wait("connected", WAIT, || env.connected("sched"));
    env.ok(&["autostop", "sched", "--idle", "20s", "--cpu", "100"]);
    env.wait("the warning", WAIT, || {
        env.ok(&["alerts", "--json"])
            .contains("sched has been idle")
    });
    env.wait("sched deallocated", WAIT, || !env.running("sched"));
    env.ok(&["autostop", "sched", "--off"]);

    env.ok(&["start", "sched"]);
    env.wait("connected again", WAIT, || env.connected("sched"));
    env.ok(&[
        "schedule",
        "sched",
        "--stop",
        &clock_now_utc(),
        "--tz",
        "UTC",
    ]);
    env.wait("the scheduled stop", WAIT, || !env.running("sched"));
    assert_eq!(env.vm("sched")["state"], "stopped");
}
