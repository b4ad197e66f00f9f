//! Live telemetry end to end: real agents sample this machine and a private
//! real tmux server, the daemon holds the newest sample of each, and
//! `list`, `status`, `top` and `/metrics` show it without asking any VM.

use std::{process::Command, time::Duration};

use azlin_e2e::{Env, free_tcp, http_get, kill9, tmux::TmuxServer};
use serde_json::Value;

fn live(v: &Value) -> bool {
    v["freshness"] == "live" && v["cpu_percent"].is_number()
}

#[test]
fn samples_reach_list_status_top_and_metrics() {
    // dev-1's own server (a local VM's agent uses `-L azlin-VM`).
    let tmux = TmuxServer::named("azlin-dev-1");
    tmux.run(&["new-session", "-d", "-s", "work", "-x", "80", "-y", "20"]);
    tmux.run(&["new-session", "-d", "-s", "idle"]);
    // A real client attached to "work", running in a pane of a second server.
    let outer = TmuxServer::named("outer");
    let attach = format!(
        "env -u TMUX TMUX_TMPDIR='{}' tmux -L azlin-dev-1 attach -t work",
        tmux.tmpdir().display()
    );
    outer.run(&["new-session", "-d", "-x", "100", "-y", "30", &attach]);

    let mut env = Env::new();
    let metrics = free_tcp();
    env.configure(&format!("[metrics]\nlisten = \"{metrics}\"\n"));
    env.set_var("TMUX_TMPDIR", tmux.tmpdir().to_string_lossy());
    env.ok(&["new", "--name", "dev", "--pool", "2"]);
    env.wait(
        "both VMs report live samples",
        Duration::from_secs(20),
        || {
            let fleet = env.top();
            fleet.len() == 2 && fleet.iter().all(live)
        },
    );
    env.wait(
        "the attached client is seen",
        Duration::from_secs(20),
        || {
            let s = &env.top_of("dev-1")["tmux_sessions"];
            s.as_array().is_some_and(|a| {
                a.iter()
                    .any(|t| t["name"] == "work" && t["attached"] == true)
            })
        },
    );

    let v = &env.top_of("dev-1");
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(
        v["per_core_percent"].as_array().unwrap().len(),
        cores,
        "{v}"
    );
    assert!(v["memory_total"].as_u64().unwrap() > 0);
    assert!(v["processes"].as_u64().unwrap() > 1);
    assert!(v["sample_age_ms"].as_u64().unwrap() < 3000, "{v}");
    let sessions = v["tmux_sessions"].as_array().unwrap();
    let idle = sessions
        .iter()
        .find(|t| t["name"] == "idle")
        .expect("idle session");
    assert_eq!(idle["attached"], false);
    assert_eq!(idle["windows"], 1);
    assert!(
        v["filesystems"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["fs_type"] != "tmpfs")
    );

    // list gains live columns; status marks attached sessions (in words
    // when not on a terminal) and shows the figures.
    let list = env.ok(&["list"]);
    assert!(
        list.contains("idle,work") || list.contains("work,idle"),
        "{list}"
    );
    let status = env.ok(&["status", "dev-1"]);
    for needle in [
        "sample:",
        "(live)",
        "cpu:",
        "memory:",
        "work (1 windows) [attached]",
        "idle (1 windows)",
    ] {
        assert!(status.contains(needle), "{needle:?} missing:\n{status}");
    }
    assert!(!status.contains("idle (1 windows) [attached]"));

    // No TTY: plain `top` behaves like `top --once`.
    let table = env.ok(&["top"]);
    assert!(
        table.starts_with("NAME") && table.contains("dev-1") && table.contains("dev-2"),
        "{table}"
    );
    let filtered = env.ok(&["top", "--once", "--filter", "DEV-2", "--sort", "name"]);
    assert!(
        filtered.contains("dev-2") && !filtered.contains("dev-1"),
        "{filtered}"
    );

    // Prometheus: real promtool accepts the exposition.
    let (status_line, body) = http_get(metrics, "/metrics");
    assert!(status_line.contains("200"), "{status_line}");
    assert!(body.contains("azlin_vm_up{vm=\"dev-1\"} 1"), "{body}");
    assert!(
        body.contains("azlin_vm_tmux_sessions_attached{vm=\"dev-1\"} 1"),
        "{body}"
    );
    assert!(body.contains("azlin_daemon_connections 2"), "{body}");
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed");
    std::io::Write::write_all(check.stdin.as_mut().unwrap(), body.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(http_get(metrics, "/nope").0.contains("404"));

    // A VM whose agent dies shows as lost, visibly.
    kill9(env.agent_pid("dev-2").unwrap());
    env.wait("dead VM shown as lost", Duration::from_secs(15), || {
        env.top_of("dev-2")["freshness"] == "lost"
    });
    let table = env.ok(&["top", "--once"]);
    let row = table.lines().find(|l| l.starts_with("dev-2")).unwrap();
    assert!(row.contains("LOST") && !row.contains("running"), "{table}");
    assert!(live(&env.top_of("dev-1")), "the other VM is undisturbed");
}

#[test]
fn a_hung_tmux_never_stalls_sampling() {
    let bin = tempfile::tempdir().unwrap();
    let fake = bin.path().join("tmux");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 600\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut env = Env::new();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    env.set_var("PATH", path);
    env.ok(&["new", "--name", "hang"]);
    env.wait("tmux reported unavailable", Duration::from_secs(20), || {
        env.top_of("hang")["tmux_unavailable"]
            .as_str()
            .is_some_and(|r| r.contains("did not answer"))
    });
    // Samples keep coming every second although every tmux call hangs 2 s.
    let first = env.top_of("hang")["taken_at_ms"].as_u64().unwrap();
    env.wait("newer samples", Duration::from_secs(10), || {
        let v = &env.top()[0];
        v["taken_at_ms"].as_u64().unwrap() >= first + 2000 && live(v)
    });
    assert!(
        env.ok(&["status", "hang"])
            .contains("tmux:        unavailable (tmux did not answer")
    );
}
