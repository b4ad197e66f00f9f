//! A local fleet end to end: enrollment, listing, status, kill, killall,
//! and the CLI's errors for bad requests.

use std::{os::unix::fs::PermissionsExt, time::Duration};

use azlin_e2e::Env;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn local_fleet_enrolls_lists_and_kills() {
    let env = Env::new();
    let out = env.ok(&[
        "new",
        "--provider",
        "local",
        "--name",
        "dev",
        "--pool",
        "3",
        "--json",
    ]);
    let created: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(created.len(), 3);
    let list = env.list();
    let names: Vec<&str> = list.iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["dev-1", "dev-2", "dev-3"]);
    for vm in &list {
        assert_eq!(vm["connected"], true, "{vm}");
        assert_eq!(vm["enrolled"], true, "{vm}");
        assert_eq!(vm["state"], "running");
        assert_eq!(vm["provider"], "local");
        assert_eq!(vm["agent_version"], env!("CARGO_PKG_VERSION"));
        assert!(vm["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    }
    let table = env.ok(&["list"]);
    for col in [
        "NAME",
        "PROVIDER",
        "STATE",
        "CONNECTED",
        "CPU",
        "MEM",
        "TMUX",
        "ADDRESS",
        "UPTIME",
    ] {
        assert!(table.contains(col), "{table}");
    }
    assert!(env.ok(&["status", "dev-2"]).contains("connected:   yes"));
    assert_eq!(env.daemon_status()["certificates_issued"], 3);

    // Key material is private, the spent token is gone.
    assert_eq!(mode(&env.home().join("pki/ca.key")), 0o600);
    assert_eq!(mode(&env.home().join("pki/controller.key")), 0o600);
    assert_eq!(mode(&env.home().join("daemon.sock")), 0o600);
    assert_eq!(mode(&env.home().join("state.db")), 0o600);
    assert_eq!(mode(env.home()), 0o700);
    assert_eq!(mode(&env.vm_dir("dev-1").join("state/agent.key")), 0o600);
    assert!(env.vm_dir("dev-1").join("state/agent.crt").exists());
    assert!(!env.vm_dir("dev-1").join("join-token").exists());

    // kill: process gone, folder gone, not listed.
    let pid = env.agent_pid("dev-2").expect("dev-2 agent runs");
    assert!(env.ok(&["kill", "dev-2"]).contains("revoked"));
    assert!(!env.vm_dir("dev-2").exists());
    env.wait("dev-2's agent to exit", Duration::from_secs(10), || {
        !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || std::fs::read(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .is_empty()
    });
    let names: Vec<String> = env
        .list()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["dev-1", "dev-3"]);
    assert!(env.connected("dev-1") && env.connected("dev-3"));

    // killall needs --yes, then empties the fleet.
    assert!(env.fails(&["killall"]).contains("--yes"));
    assert_eq!(env.list().len(), 2);
    env.ok(&["killall", "--yes"]);
    assert!(env.list().is_empty());
    assert!(env.agent_pid("dev-1").is_none() && env.agent_pid("dev-3").is_none());
    env.ok(&["daemon", "stop"]);
    assert_eq!(env.daemon_status()["running"], false);
}

#[test]
fn bad_requests_get_clear_errors_and_change_nothing() {
    let env = Env::new();
    env.ok(&["new", "--name", "web"]);
    let before = env.fleet_fingerprint();
    let err = env.fails(&["status", "wbe"]);
    assert!(
        err.contains("no VM or session named \"wbe\"") && err.contains("did you mean web"),
        "{err}"
    );
    assert!(
        env.fails(&["new", "--name", "Bad_Name"])
            .contains("invalid VM name")
    );
    assert!(
        env.fails(&["new", "--name", "web"])
            .contains("already exists")
    );
    assert!(env.fails(&["new", "--pool", "0"]).contains("--pool"));
    assert!(
        env.fails(&["new", "--provider", "nimbus"])
            .contains("provider")
    );
    assert!(env.fails(&["new", "--dial"]).contains("[daemon] listen"));
    assert!(
        env.fails(&["kill", "nope"])
            .contains("no VM or session named")
    );
    assert_eq!(env.fleet_fingerprint(), before);
}

#[test]
fn bad_config_file_is_reported_with_its_location() {
    let env = Env::new();
    std::fs::write(env.home().join("config.toml"), "[daemon]\nlisten = 42\n").unwrap();
    // The CLI reads the file first and says where it is wrong; no daemon
    // is started on a file that does not parse.
    let err = env.fails(&["list"]);
    assert!(err.contains("config.toml:2:10"), "{err}");
    assert!(!env.home().join("daemon.sock").exists());
    // The daemon run by hand says the same.
    let err = env.fails(&["daemon", "run"]);
    assert!(err.contains("config.toml:2:10"), "{err}");
}

#[test]
fn a_pool_on_a_terminal_gets_one_progress_bar_per_vm() {
    let env = Env::new();
    env.ok(&["daemon", "status"]);
    let mut cmd = env.command(&["new", "--provider", "local", "--name", "bar", "--pool", "2"]);
    cmd.env("TERM", "xterm-256color");
    let mut pty = azlin_e2e::pty::Pty::spawn(cmd, 120, 30);
    assert!(
        pty.wait_exit(Duration::from_secs(60)).success(),
        "{}",
        pty.screen()
    );
    let screen = pty.screen();
    for vm in ["bar-1", "bar-2"] {
        // The stage lines stay above the bars, with their times...
        assert!(
            screen.contains(&format!("{vm}: enrolled and connected (")),
            "{screen}"
        );
        // ...and each VM's own bar ends ticked with its last stage.
        let ticked = format!("✓ {vm} ");
        assert!(
            screen
                .split(['\n', '\r'])
                .any(|l| l.contains(&ticked) && l.contains("] enrolled and connected")),
            "no finished bar for {vm}: {screen}"
        );
    }
    // Off a terminal the same stages are plain lines (no bars, no escapes).
    let out = env.run(&["new", "--provider", "local", "--name", "plain"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plain: enrolled and connected ("), "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains('✓'), "{err}");
}

#[test]
fn killall_deletes_the_whole_fleet_at_once_and_frees_every_session_name() {
    let env = Env::new();
    env.ok(&["new", "--provider", "local", "--name", "k", "--pool", "4"]);
    for i in 1..=4 {
        env.ok(&["session", &format!("k-{i}"), &format!("work{i}")]);
    }
    assert_eq!(env.vm("work3")["name"], "k-3");
    env.ok(&["killall", "--yes"]);
    assert!(env.list().is_empty());
    // Deleted in parallel, and no deletion lost another's config change.
    let config: toml::Table =
        toml::from_str(&std::fs::read_to_string(env.home().join("config.toml")).unwrap()).unwrap();
    let names = config.get("session_names").and_then(|t| t.as_table());
    assert!(names.is_none_or(|t| t.is_empty()), "{config}");
    // The names are free again.
    env.ok(&["new", "--provider", "local", "--name", "work1"]);
}
