//! A local VM agrees with itself: files sent to `~`, commands and the
//! terminal all use the VM's own folder as home (never the user's real
//! one), and it has a tmux server of its own, so it neither reports nor
//! alerts on the user's sessions or another local VM's, while sessions its
//! own commands start are its own.

use std::time::Duration;

use azlin_e2e::{Env, pty::Pty, tmux::TmuxServer};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn session_names(v: &Value) -> Vec<String> {
    let mut names: Vec<String> = v["tmux_sessions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| t["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn files_commands_and_the_terminal_share_the_vms_home() {
    let tmux = TmuxServer::named("azlin-lv");
    let mut env = Env::new();
    env.set_var("TMUX_TMPDIR", tmux.tmpdir().to_string_lossy());
    env.ok(&["new", "--name", "lv"]);
    env.wait("connected", WAIT, || env.connected("lv"));
    let home = env.vm_dir("lv").join("home");
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap();
    let real_x = me.dir.join("x");
    let real_before = std::fs::read(&real_x).ok();

    // cp to ~/x, then read it back with a command: the same file.
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("f.txt");
    std::fs::write(&file, "sent to the vm\n").unwrap();
    env.ok(&["cp", file.to_str().unwrap(), "lv:~/x"]);
    assert_eq!(
        std::fs::read_to_string(home.join("x")).unwrap(),
        "sent to the vm\n"
    );
    assert_eq!(env.ok(&["--", "cat", "~/x"]), "sent to the vm\n");
    let out = env.ok(&["exec", "--vm", "lv", "--", "echo \"$(pwd)|$HOME\""]);
    assert_eq!(out.trim(), format!("{0}|{0}", home.display()));

    // A command writes ~/made; cp brings it back from lv:~/made.
    env.ok(&["--", "echo made-by-exec > ~/made"]);
    let back = src.path().join("made");
    env.ok(&["cp", "lv:~/made", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "made-by-exec\n");

    // The terminal starts there too, with the same HOME, and what it
    // writes to ~ is where cp and commands find it.
    let mut cmd = env.command(&["connect", "lv", "--tmux", "work"]);
    cmd.env("TERM", "xterm-256color");
    let mut pty = Pty::spawn(cmd, 160, 30);
    let mark = pty.mark();
    pty.send("echo \"T:$(pwd)|$HOME:T\"; echo typed > ~/from-term\r");
    pty.wait_for(mark, &format!("T:{0}|{0}:T", home.display()), WAIT);
    env.wait("the terminal's file", WAIT, || {
        home.join("from-term").exists()
    });
    assert_eq!(env.ok(&["--", "cat", "~/from-term"]), "typed\n");
    std::thread::sleep(Duration::from_millis(100));
    pty.send("\x02d");
    assert_eq!(pty.wait_exit(WAIT).code(), Some(0), "{}", pty.screen());
    // Its session is on the VM's own tmux server.
    assert_eq!(
        tmux.run(&["list-sessions", "-F", "#{session_name}"]).trim(),
        "work"
    );

    // The user's own home was never touched.
    assert_eq!(std::fs::read(&real_x).ok(), real_before);
}

#[test]
fn a_local_vm_reports_its_own_tmux_sessions_not_the_users() {
    // The user's tmux: the default server of a private TMUX_TMPDIR, with a
    // session of their own.
    let host = TmuxServer::new();
    host.run(&["new-session", "-d", "-s", "mine"]);
    // Handles on the VMs' own servers there (they go when the test ends).
    let (own_1, own_2) = (host.sibling("azlin-t-1"), host.sibling("azlin-t-2"));
    let mut env = Env::new();
    env.set_var("TMUX_TMPDIR", host.tmpdir().to_string_lossy());
    env.write_alert_rules(
        "[builtin.idle]\nenabled = false\n[builtin.disk_full]\nenabled = false\n",
    );
    env.ok(&["new", "--name", "t", "--pool", "2"]);
    env.wait("connected", WAIT, || {
        env.connected("t-1") && env.connected("t-2")
    });

    // A session started by a plain `tmux` in a command is the VM's.
    env.ok(&["exec", "--vm", "t-1", "--", "tmux new-session -d -s x"]);
    env.ok(&["exec", "--vm", "t-2", "--", "tmux new-session -d -s y"]);
    env.wait("each VM sees its own session", WAIT, || {
        let (a, b) = (env.top_of("t-1"), env.top_of("t-2"));
        session_names(&a) == ["x"] && session_names(&b) == ["y"]
    });
    let listed = |server: &TmuxServer| {
        server
            .run(&["list-sessions", "-F", "#{session_name}"])
            .trim()
            .to_string()
    };
    assert_eq!(listed(&host), "mine");
    assert_eq!(listed(&own_1), "x");
    assert_eq!(listed(&own_2), "y");
    let list = env.ok(&["list"]);
    assert!(!list.contains("mine"), "{list}");

    // The user's session ending is no VM's event; the VMs' own are.
    host.run(&["kill-session", "-t", "mine"]);
    env.ok(&["exec", "--vm", "t-1", "--", "tmux kill-session -t x"]);
    env.ok(&["exec", "--vm", "t-2", "--", "tmux kill-session -t y"]);
    let ended = || -> Vec<(String, String)> {
        let v: Value =
            serde_json::from_str(&env.ok(&["alerts", "--json", "--history", "100"])).unwrap();
        let mut ended: Vec<(String, String)> = v["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["rule"] == "tmux-session-ended")
            .map(|e| {
                (
                    e["vm"].as_str().unwrap().to_string(),
                    e["subject"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        ended.sort();
        ended
    };
    // Each agent saw "mine" go (if it could see it at all) before its own
    // session, so once both of those are in, any event for "mine" would be.
    env.wait("both VMs' sessions ended", WAIT, || ended().len() >= 2);
    assert_eq!(
        ended(),
        [
            ("t-1".to_string(), "x".to_string()),
            ("t-2".to_string(), "y".to_string())
        ]
    );
}
