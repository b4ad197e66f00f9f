//! Alerts end to end: rules from `alerts.toml` reach the agents, fire and
//! resolve on their samples, are stored once in `state.db`, and reach a
//! real webhook server (with retries), the desktop command and
//! `azlin alerts [--follow]`. Agent loss is judged by the daemon.
//!
//! Simulated agents (the real agent code in-process, fed chosen samples)
//! make the figures exact; the agent-lost and tmux tests use real agents.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::Duration,
};

use azlin_e2e::{Env, sim, tmux::TmuxServer, webhook::WebhookServer};
use azlin_protocol::telemetry::Sample;
use serde_json::Value;

fn alerts(env: &Env) -> Value {
    serde_json::from_str(&env.ok(&["alerts", "--json", "--history", "1000"])).unwrap()
}

fn history_of(env: &Env, rule: &str) -> Vec<String> {
    alerts(env)["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["rule"] == rule)
        .map(|e| e["state"].as_str().unwrap().to_string())
        .collect()
}

fn cpu(percent: f32) -> Sample {
    let mut s = sim::synthetic_sample(1, 1000);
    s.cpu_percent = percent;
    s
}

/// Built-ins that would fire on synthetic samples stay out of the way.
/// Built-ins that real agents on this machine could trip on their own (an
/// idle CPU, a tmux session ending, a disk that is nearly full) are off
/// where a test counts events.
const QUIET: &str = "[builtin.idle]\nenabled = false\n[builtin.tmux_session_ended]\nenabled = false\n[builtin.disk_full]\nenabled = false\n";

#[test]
fn a_rule_fires_and_resolves_once_through_every_channel_without_flapping() {
    let hook = WebhookServer::start(2);
    let env = Env::with_listener();
    let notified = env.home().join("notified.txt");
    let script = env.home().join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$AZLIN_ALERT_RULE $AZLIN_ALERT_STATE $AZLIN_ALERT_SEVERITY | $1\" >> '{}'\n",
            notified.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    env.write_alert_rules(&format!(
            "{QUIET}[channels.desktop]\ncommand = \"{}\"\n[channels.webhook]\nurl = \"{}\"\nretries = 5\n\
             [[rule]]\nname = \"cpu-high\"\nmetric = \"cpu\"\nop = \">\"\nthreshold = 90\nclear = 50\nseverity = \"critical\"\n",
            script.display(),
            hook.url()
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let (_, vm) = sim::join_external(&env, "box", dir.path());
    env.ok(&["session", "box", "main"]);

    vm.samples.send_replace(Some(cpu(10.0)));
    std::thread::sleep(Duration::from_millis(300));
    vm.samples.send_replace(Some(cpu(97.0)));
    hook.wait_for("the firing event", Duration::from_secs(20), |b| {
        b.iter().any(|e| e["rule"] == "cpu-high")
    });
    assert!(hook.attempts() >= 3, "the first two 500s were retried");
    let active = alerts(&env)["active"].clone();
    assert_eq!(active.as_array().unwrap().len(), 1, "{active}");
    assert_eq!(active[0]["vm"], "box");
    assert_eq!(active[0]["session_name"], "main");
    assert_eq!(active[0]["severity"], "critical");

    // Wobbling between the clear threshold and the firing one: no flapping.
    for p in [85.0, 92.0, 60.0, 95.0, 55.0, 91.0] {
        vm.samples.send_replace(Some(cpu(p)));
        std::thread::sleep(Duration::from_millis(150));
    }
    vm.samples.send_replace(Some(cpu(20.0)));
    hook.wait_for("the resolved event", Duration::from_secs(20), |b| {
        b.iter().any(|e| e["state"] == "resolved")
    });
    let bodies: Vec<Value> = hook
        .delivered()
        .into_iter()
        .filter(|b| b["rule"] == "cpu-high")
        .collect();
    let states: Vec<&str> = bodies
        .iter()
        .map(|b| b["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["firing", "resolved"], "{bodies:#?}");
    let fired = &bodies[0];
    assert_eq!(fired["version"], 1);
    assert_eq!(fired["vm"], "box");
    assert_eq!(fired["session_name"], "main");
    assert_eq!(fired["value"], 97.0);
    assert_eq!(fired["threshold"], 90.0);
    assert!(
        fired["message"].as_str().unwrap().contains("97.0% > 90.0%"),
        "{fired}"
    );
    assert_eq!(bodies[1]["value"], 20.0);

    assert_eq!(history_of(&env, "cpu-high"), vec!["firing", "resolved"]);
    assert!(alerts(&env)["active"].as_array().unwrap().is_empty());
    env.wait("two desktop notifications", Duration::from_secs(10), || {
        std::fs::read_to_string(&notified).is_ok_and(|t| t.lines().count() == 2)
    });
    let lines = std::fs::read_to_string(&notified).unwrap();
    assert!(
        lines.starts_with("cpu-high firing critical | CRITICAL firing main (box): cpu-high"),
        "{lines}"
    );
    assert!(
        env.daemon_log().contains("cpu-high"),
        "the log channel has it too"
    );
}

#[test]
fn events_raised_while_the_controller_is_away_arrive_once() {
    let hook = WebhookServer::start(0);
    let env = Env::with_listener();
    env.write_alert_rules(&format!(
            "{QUIET}[channels.webhook]\nurl = \"{}\"\n[[rule]]\nname = \"busy\"\nmetric = \"cpu\"\nop = \">=\"\nthreshold = 80\n",
            hook.url()
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let (_, vm) = sim::join_external(&env, "away", dir.path());
    vm.samples.send_replace(Some(cpu(5.0)));
    std::thread::sleep(Duration::from_millis(500));

    env.ok(&["daemon", "stop"]);
    // The agent goes on evaluating: fire, resolve, fire again, all unsent.
    for p in [90.0, 10.0, 95.0] {
        vm.samples.send_replace(Some(cpu(p)));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(hook.delivered().is_empty());

    // The daemon comes back (any command starts it); the agent redials.
    env.wait("the agent is back", Duration::from_secs(30), || {
        env.connected("away")
    });
    hook.wait_for("three events", Duration::from_secs(20), |b| b.len() >= 3);
    // Another reconnect: nothing acknowledged is sent or stored again.
    env.ok(&["daemon", "stop"]);
    env.wait("the agent is back again", Duration::from_secs(30), || {
        env.connected("away")
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        history_of(&env, "busy"),
        vec!["firing", "resolved", "firing"]
    );
    let states: Vec<String> = hook
        .delivered()
        .iter()
        .map(|b| b["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, vec!["firing", "resolved", "firing"]);
    assert_eq!(alerts(&env)["active"].as_array().unwrap().len(), 1);
}

#[test]
fn a_broken_rules_file_is_reported_by_line_and_column_and_the_last_good_rules_stay() {
    let env = Env::with_listener();
    env.write_alert_rules(&format!(
        "{QUIET}[[rule]]\nname = \"hot\"\nmetric = \"cpu\"\nop = \">\"\nthreshold = 90\n"
    ));
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let (_, vm) = sim::join_external(&env, "edit", dir.path());
    assert!(alerts(&env)["file_error"].is_null());

    env.write_alert_rules(
        "[[rule]]\nname = \"hot\"\nmetric = \"cpux\"\nop = \">\"\nthreshold = 50\n",
    );
    env.wait("the error is reported", Duration::from_secs(10), || {
        alerts(&env)["file_error"]
            .as_str()
            .is_some_and(|e| e.ends_with("alerts.toml:3:10: unknown metric \"cpux\": use cpu, memory, swap, disk, load1, net_rx, net_tx or processes"))
    });
    let out = env.run(&["alerts"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("alerts.toml:3:10"), "{stderr}");
    assert!(env.daemon_log().contains("alerts.toml:3:10"));
    // The old rule (> 90) is still in force: 70 does not fire, 95 does.
    vm.samples.send_replace(Some(cpu(70.0)));
    std::thread::sleep(Duration::from_millis(500));
    vm.samples.send_replace(Some(cpu(95.0)));
    env.wait("the old rule fires", Duration::from_secs(10), || {
        history_of(&env, "hot") == ["firing"]
    });

    // Fixed, with a new threshold: the agent gets it, the firing alert of
    // the changed rule is resolved, and the new one judges afresh.
    env.write_alert_rules(&format!(
        "{QUIET}[[rule]]\nname = \"hot\"\nmetric = \"cpu\"\nop = \">\"\nthreshold = 99\n"
    ));
    env.wait("the fix is taken", Duration::from_secs(10), || {
        alerts(&env)["file_error"].is_null()
    });
    env.wait(
        "the changed rule's alert is resolved",
        Duration::from_secs(10),
        || history_of(&env, "hot") == ["firing", "resolved"],
    );
    vm.samples.send_replace(Some(cpu(96.0)));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(history_of(&env, "hot"), vec!["firing", "resolved"]);
}

#[test]
fn a_lost_agent_is_reported_by_the_daemon_and_a_back_one_resolves() {
    let hook = WebhookServer::start(0);
    let env = Env::new();
    env.write_alert_rules(&format!(
        "{QUIET}[channels.webhook]\nurl = \"{}\"\n[builtin.agent_lost]\nafter = \"2s\"\n",
        hook.url()
    ));
    env.ok(&["new", "--name", "gone"]);
    env.wait("connected", Duration::from_secs(20), || {
        env.connected("gone")
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        history_of(&env, "agent-lost").is_empty(),
        "a live agent is not lost"
    );

    let pid = env.agent_pid("gone").unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    hook.wait_for("agent-lost firing", Duration::from_secs(15), |b| {
        b.iter()
            .any(|e| e["rule"] == "agent-lost" && e["state"] == "firing")
    });
    let active = alerts(&env)["active"].clone();
    assert_eq!(active[0]["rule"], "agent-lost", "{active}");
    assert_eq!(active[0]["severity"], "critical");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGCONT,
    )
    .unwrap();
    hook.wait_for("agent-lost resolved", Duration::from_secs(20), |b| {
        b.iter()
            .any(|e| e["rule"] == "agent-lost" && e["state"] == "resolved")
    });
    assert_eq!(history_of(&env, "agent-lost"), vec!["firing", "resolved"]);

    // A VM stopped on purpose is not lost.
    env.ok(&["stop", "gone"]);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(history_of(&env, "agent-lost"), vec!["firing", "resolved"]);
}

#[test]
fn an_ended_tmux_session_is_followed_live_from_a_real_agent() {
    // The VM's own server: a local VM's agent uses `-L azlin-VM`.
    let tmux = TmuxServer::named("azlin-tm");
    tmux.run(&["new-session", "-d", "-s", "work"]);
    tmux.run(&["new-session", "-d", "-s", "keep"]);
    let mut env = Env::new();
    env.set_var("TMUX_TMPDIR", tmux.tmpdir().to_string_lossy());
    env.write_alert_rules(
        "[builtin.idle]\nenabled = false\n[builtin.disk_full]\nenabled = false\n",
    );
    env.ok(&["new", "--name", "tm"]);
    env.wait("the sessions are seen", Duration::from_secs(20), || {
        env.top_of("tm")["tmux_sessions"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    });
    let mut follow = env
        .command(&["alerts", "--follow", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    tmux.run(&["kill-session", "-t", "work"]);
    let line = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("an event line from --follow");
    let _ = follow.kill();
    let _ = follow.wait();
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["rule"], "tmux-session-ended", "{event}");
    assert_eq!(event["subject"], "work");
    assert_eq!(event["state"], "notice");
    assert_eq!(event["display"], "tm");
    assert!(
        alerts(&env)["active"].as_array().unwrap().is_empty(),
        "a notice is never active"
    );
}

#[test]
fn an_idle_vm_is_reported_with_the_command_that_stops_it() {
    let env = Env::with_listener();
    env.write_alert_rules("[builtin.idle]\ncpu_below = 5\nafter = \"1s\"\n[builtin.tmux_session_ended]\nenabled = false\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let (_, vm) = sim::join_external(&env, "lazy", dir.path());
    for _ in 0..12 {
        vm.samples.send_replace(Some(cpu(1.0)));
        std::thread::sleep(Duration::from_millis(250));
    }
    env.wait("the idle alert", Duration::from_secs(10), || {
        history_of(&env, "vm-idle") == ["firing"]
    });
    let active = alerts(&env)["active"].clone();
    let message = active[0]["message"].as_str().unwrap();
    assert!(message.contains("cpu is 1.0% < 5.0% for 1s"), "{message}");
    assert!(message.contains("`azlin stop lazy`"), "{message}");
    assert_eq!(active[0]["severity"], "info");
    // Busy again, past the clear threshold (10 %): resolved.
    vm.samples.send_replace(Some(cpu(40.0)));
    env.wait("resolved", Duration::from_secs(10), || {
        history_of(&env, "vm-idle") == ["firing", "resolved"]
    });
}
