//! What a new user trips over on the command line (issue: the first hour),
//! through the real CLI: usage errors exit 2, a mistyped subcommand gets
//! "did you mean", and `--help` says where azlin keeps its state.

use azlin_e2e::Env;

#[test]
fn a_command_that_chooses_no_vms_is_a_usage_error() {
    let env = Env::new();
    let out = env.run(&["exec", "--", "uname"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("choose the VMs: --vm NAME"), "{err}");
    // Told from the command line alone: no daemon was started for it.
    assert!(!env.home().join("daemon.sock").exists());
}

#[test]
fn a_mistyped_subcommand_gets_the_one_meant() {
    let env = Env::new();
    for (typed, meant) in [
        ("lst", "list"),
        ("stauts", "status"),
        ("destory", "destroy"),
    ] {
        let out = env.run(&[typed]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{typed}: {err}");
        assert!(
            err.contains(&format!("did you mean `azlin {meant}`?")),
            "{typed}: {err}"
        );
    }
    // Far from every subcommand: clap's own error, no tip.
    let out = env.run(&["qwertyuiop"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("did you mean"));
    // `azlin -- CMD` still runs CMD (on an empty fleet: nothing to run on).
    let out = env.run(&["--", "lst"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("did you mean"));
}

#[test]
fn help_says_where_state_lives_and_what_new_json_prints() {
    let env = Env::new();
    let help = env.ok(&["--help"]);
    assert!(help.contains("AZLIN_HOME"), "{help}");
    let new_help = env.ok(&["new", "--help"]);
    assert!(new_help.contains("as JSON"), "{new_help}");
}

#[test]
fn killall_names_what_it_would_delete_and_tags_show_in_text() {
    let env = Env::new();
    env.ok(&["new", "--name", "k", "--pool", "2"]);
    env.ok(&["session", "k-2", "main"]);
    // `tag` prints the VM's tags; list and status show them in text too.
    let tagged = env.ok(&["tag", "k-1", "env=prod", "team=ml"]);
    assert!(tagged.contains("tags:        env=prod team=ml"), "{tagged}");
    let table = env.ok(&["list"]);
    assert!(
        table.contains("TAGS") && table.contains("env=prod team=ml"),
        "{table}"
    );
    assert!(env.ok(&["status", "k-2"]).contains("tags:        -"));

    // One identity in machine output: the VM's name as `vm`, its session
    // name beside it, in list, status, ps and exec alike.
    let listed = env.list();
    let k2 = listed.iter().find(|v| v["name"] == "k-2").unwrap();
    assert_eq!(
        (&k2["vm"], &k2["session_name"]),
        (&"k-2".into(), &"main".into())
    );
    let status: serde_json::Value =
        serde_json::from_str(&env.ok(&["status", "main", "--json"])).unwrap();
    assert_eq!(
        (&status["vm"], &status["session_name"]),
        (&"k-2".into(), &"main".into())
    );
    let ps: serde_json::Value =
        serde_json::from_str(&env.ok(&["ps", "--json", "--vm", "main"])).unwrap();
    assert_eq!(
        (&ps[0]["vm"], &ps[0]["session_name"]),
        (&"k-2".into(), &"main".into())
    );
    let exec: serde_json::Value = serde_json::from_str(
        env.ok(&["exec", "--json", "--vm", "main", "--", "true"])
            .trim(),
    )
    .unwrap();
    assert_eq!(
        (&exec["vm"], &exec["session_name"]),
        (&"k-2".into(), &"main".into())
    );
    // People see the session name with the VM's name beside it.
    let both = env.ok(&["exec", "--all", "--", "echo", "hi"]);
    assert!(both.lines().any(|l| l == "main (k-2): hi"), "{both}");
    let ps = env.ok(&["ps", "--vm", "main"]);
    assert!(ps.contains("main (k-2)"), "{ps}");

    // On a terminal, killall names how many VMs and which before asking;
    // anything but yes deletes nothing.
    let mut cmd = env.command(&["killall"]);
    cmd.env("TERM", "xterm");
    let mut pty = azlin_e2e::pty::Pty::spawn(cmd, 200, 24);
    pty.wait_for(
        0,
        "Delete 2 VMs: k-1, main (k-2)? Type yes to confirm:",
        std::time::Duration::from_secs(30),
    );
    pty.send("no\r");
    assert!(!pty.wait_exit(std::time::Duration::from_secs(30)).success());
    assert_eq!(env.list().len(), 2);
    env.ok(&["killall", "--yes"]);
    // Without a terminal nothing is asked and nothing deleted.
    env.ok(&["new", "--name", "left"]);
    assert!(env.fails(&["killall"]).contains("--yes"));
    assert_eq!(env.list().len(), 1);
    env.ok(&["killall", "--yes"]);
    // Nothing left: said so on the terminal, and no question.
    let mut cmd = env.command(&["killall"]);
    cmd.env("TERM", "xterm");
    let mut pty = azlin_e2e::pty::Pty::spawn(cmd, 200, 24);
    pty.wait_for(0, "no VMs to delete", std::time::Duration::from_secs(30));
    assert!(pty.wait_exit(std::time::Duration::from_secs(30)).success());
}

#[test]
fn start_waits_for_the_agent_and_says_how_long() {
    let env = Env::new();
    env.ok(&["new", "--name", "s"]);
    env.ok(&["stop", "s"]);
    let out = env.ok(&["start", "s"]);
    assert!(out.contains("s started; its agent connected in"), "{out}");
    // Connected when start returns: no waiting here.
    assert!(env.connected("s"));
    env.ok(&["stop", "s"]);
    let out = env.ok(&["start", "--no-wait", "s"]);
    assert!(
        out.contains("s started (not waiting for its agent)"),
        "{out}"
    );
    env.wait("s back", std::time::Duration::from_secs(20), || {
        env.connected("s")
    });
}

#[test]
fn connect_to_an_unknown_vm_names_the_closest_terminal_or_not() {
    let env = Env::new();
    env.ok(&["new", "--name", "web"]);
    let err = env.fails(&["connect", "wbe"]);
    assert!(
        err.contains("no VM or session named \"wbe\"") && err.contains("did you mean web"),
        "{err}"
    );
    assert!(!err.contains("needs a terminal"), "{err}");
}

#[test]
fn a_scoped_list_with_nothing_there_says_where_the_vms_are() {
    let env = Env::new();
    env.ok(&["new", "--name", "here"]);
    let out = env.ok(&["list", "--subscription", "sub-x"]);
    assert!(
        out.contains("no VMs in that subscription / resource group; 1 VM(s) elsewhere"),
        "{out}"
    );
    // Machine output stays what it was: an empty list.
    let json = env.ok(&["list", "--json", "--subscription", "sub-x"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn ps_fits_the_terminal_and_alerts_name_the_rules_in_force() {
    let env = Env::new();
    env.ok(&["new", "--name", "p"]);
    // Whole command lines for scripts (the agent's own is long)...
    let plain = env.ok(&["ps", "--top", "50"]);
    assert!(plain.lines().any(|l| l.chars().count() > 60), "{plain}");
    // ...cut to the width on a terminal.
    let mut cmd = env.command(&["ps", "--top", "50"]);
    cmd.env("TERM", "xterm");
    let mut pty = azlin_e2e::pty::Pty::spawn(cmd, 60, 60);
    assert!(pty.wait_exit(std::time::Duration::from_secs(30)).success());
    let screen = pty.screen();
    assert!(screen.contains('…'), "{screen}");

    let alerts = env.ok(&["alerts"]);
    let in_force = alerts
        .lines()
        .find(|l| l.starts_with("in force: "))
        .unwrap_or_else(|| panic!("{alerts}"));
    for rule in ["disk-full", "tmux-session-ended", "vm-idle"] {
        assert!(in_force.contains(rule), "{in_force}");
    }
}

#[test]
fn a_broken_config_is_never_accepted_in_silence() {
    let env = Env::new();
    env.ok(&["new", "--name", "c"]);
    let path = env.home().join("config.toml");
    let good = std::fs::read_to_string(&path).unwrap_or_default();
    // An unclosed table, then a wrong type, while the daemon runs on the
    // last good settings: every command says where, exit 2, nothing done.
    for (broken, at) in [
        (format!("{good}[daemon\n"), "config.toml:"),
        (
            format!("{good}[daemon]\ntoken_ttl_secs = \"soon\"\n"),
            "token_ttl_secs",
        ),
    ] {
        std::fs::write(&path, &broken).unwrap();
        for args in [
            &["list"][..],
            &["exec", "--all", "--", "true"],
            &["new", "--name", "d"],
            &["--", "true"],
        ] {
            let out = env.run(args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(
                err.contains(at) && err.contains("config.toml"),
                "{args:?}: {err}"
            );
        }
        // Stopping the daemon (to restart it once fixed) still works.
        env.ok(&["daemon", "status"]);
    }
    let err = String::from_utf8_lossy(&env.run(&["list"]).stderr).into_owned();
    let located = err.contains("config.toml:")
        && err.split("config.toml:").nth(1).is_some_and(|r| {
            r.split(':')
                .take(2)
                .all(|n| n.trim().parse::<usize>().is_ok())
        });
    assert!(located, "LINE:COLUMN: {err}");
    std::fs::write(&path, &good).unwrap();
    assert_eq!(env.list().len(), 1);
}

#[test]
fn the_daemon_rereads_config_toml_and_keeps_the_last_good_settings() {
    use std::time::Duration;
    let env = Env::new();
    env.ok(&["new", "--name", "c"]);
    assert!(env.vm("c")["notional_per_hour"].is_null());
    let path = env.home().join("config.toml");
    let base = std::fs::read_to_string(&path).unwrap_or_default();
    // A good change is in force without a restart.
    std::fs::write(&path, format!("{base}[cost]\nnotional_per_hour = 0.25\n")).unwrap();
    env.wait("the new setting in force", Duration::from_secs(20), || {
        env.vm("c")["notional_per_hour"] == 0.25
    });
    // A broken file: every command but `daemon status` says where; the
    // daemon reports it and keeps the last good settings.
    std::fs::write(&path, format!("{base}[cost\nnotional_per_hour = 0.5\n")).unwrap();
    let line = base.lines().count() + 1;
    let err = env.fails(&["list"]);
    assert!(err.contains(&format!("config.toml:{line}:")), "{err}");
    env.wait("the daemon to report it", Duration::from_secs(20), || {
        env.daemon_status()["config_error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("config.toml:{line}:")))
    });
    let status = env.ok(&["daemon", "status"]);
    assert!(
        status.contains("config: NOT in force: ") && status.contains("the last good settings are"),
        "{status}"
    );
    // A wrong type, the same way.
    std::fs::write(
        &path,
        format!("{base}[cost]\nnotional_per_hour = \"cheap\"\n"),
    )
    .unwrap();
    assert!(env.fails(&["list"]).contains("config.toml:"));
    // Fixed: in force again, and no error left.
    std::fs::write(&path, format!("{base}[cost]\nnotional_per_hour = 0.75\n")).unwrap();
    env.wait("the fixed file in force", Duration::from_secs(20), || {
        env.daemon_status()["config_error"].is_null() && env.vm("c")["notional_per_hour"] == 0.75
    });
}
