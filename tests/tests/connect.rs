//! `azlin connect` on a real terminal: a PTY drives the real CLI, which
//! reaches a real tmux through the daemon and a local VM's agent. Typing,
//! window size changes, detaching, a dropped connection that reattaches by
//! itself, QUIC migration, and session names.

use std::time::Duration;

use azlin_e2e::{Env, pty::Pty, tmux::TmuxServer};
use nix::{sys::signal::Signal, unistd::Pid};

const WAIT: Duration = Duration::from_secs(30);

/// `dev`'s own tmux server (a local VM's agent uses `-L azlin-VM`), in a
/// private TMUX_TMPDIR.
fn server() -> TmuxServer {
    TmuxServer::named("azlin-dev")
}

/// A VM whose agent's tmux is `tmux`'s server.
fn fleet(tmux: &TmuxServer) -> Env {
    let mut env = Env::new();
    env.set_var("TMUX_TMPDIR", tmux.tmpdir().to_string_lossy());
    env.ok(&["new", "--name", "dev"]);
    env
}

fn connect(env: &Env, args: &[&str]) -> Pty {
    let mut full = vec!["connect"];
    full.extend_from_slice(args);
    let mut cmd = env.command(&full);
    cmd.env("TERM", "xterm-256color");
    Pty::spawn(cmd, 100, 30)
}

/// Type a command line; wait for its output.
fn run(pty: &mut Pty, line: &str, expect: &str) -> Duration {
    let mark = pty.mark();
    pty.send(line);
    pty.send("\r");
    pty.wait_for(mark, expect, WAIT)
}

fn sessions(tmux: &TmuxServer) -> String {
    let out = tmux
        .command()
        .args(["list-sessions", "-F", "#{session_name}:#{session_attached}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn types_resizes_detaches_and_leaves_tmux_running() {
    let tmux = server();
    let env = fleet(&tmux);
    let mut pty = connect(&env, &["dev", "--tmux", "work"]);
    run(&mut pty, "echo typed-$((40+2))", "typed-42");
    assert_eq!(sessions(&tmux).trim(), "work:1");

    // The window size follows the local terminal, both at attach and on
    // every change (tmux keeps one row for its status line).
    run(&mut pty, "stty size", "29 100");
    pty.resize(132, 43);
    std::thread::sleep(Duration::from_millis(300));
    run(&mut pty, "stty size", "42 132");

    // Detach (C-b d): azlin exits 0, tmux keeps the session.
    run(
        &mut pty,
        "export KEPT=still-here-7; echo set-$((6+1))",
        "set-7",
    );
    let mark = pty.mark();
    pty.send("\x02d");
    pty.wait_for(mark, "[detached", WAIT);
    let status = pty.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{}", pty.screen());
    assert_eq!(sessions(&tmux).trim(), "work:0");

    // Connecting again is a reattach: the shell and its variables are there.
    let mut again = connect(&env, &["dev", "--tmux", "work"]);
    run(&mut again, "echo $KEPT", "still-here-7");
    // Ending the session's last shell ends azlin too.
    again.send("exit\r");
    assert_eq!(again.wait_exit(WAIT).code(), Some(0));
    assert!(!sessions(&tmux).contains("work"), "{}", sessions(&tmux));

    // Both ends audited the terminal.
    let audit = std::fs::read_to_string(env.home().join("logs/audit.log")).unwrap();
    assert!(
        audit.contains("tmux new-session -A -s work (terminal)"),
        "{audit}"
    );
}

#[test]
fn reattaches_by_itself_after_the_connection_drops() {
    let tmux = server();
    let env = fleet(&tmux);
    let mut pty = connect(&env, &["dev"]);
    run(
        &mut pty,
        "export MARK=kept-$((3+4)); echo marked-$((1+1))",
        "marked-2",
    );
    let agent = env.agent_pid("dev").expect("agent pid");

    // The VM stops answering for longer than the idle timeout: the
    // connection is declared dead on both ends.
    let mark = pty.mark();
    nix::sys::signal::kill(Pid::from_raw(agent), Signal::SIGSTOP).unwrap();
    pty.wait_for(mark, "reattaching when it is back", WAIT);
    std::thread::sleep(Duration::from_secs(4));
    nix::sys::signal::kill(Pid::from_raw(agent), Signal::SIGCONT).unwrap();

    // No prompt, no keys: the same tmux session comes back.
    env.wait("dev is connected again", WAIT, || env.connected("dev"));
    run(&mut pty, "echo $MARK-again", "kept-7-again");
    assert_eq!(sessions(&tmux).trim(), "azlin:1");
    pty.send("\x02d");
    assert_eq!(pty.wait_exit(WAIT).code(), Some(0));
}

#[test]
fn an_address_change_migrates_without_a_reattach() {
    let tmux = server();
    let env = fleet(&tmux);
    let mut pty = connect(&env, &["dev"]);
    run(&mut pty, "echo before-$((1+1))", "before-2");
    let reconnects = env.vm("dev")["reconnects"].as_u64().unwrap();
    let mark = pty.mark();
    let moved = env.ok(&["daemon", "rebind"]);
    assert!(moved.contains("moved 1 connection(s)"), "{moved}");
    run(&mut pty, "echo after-$((2+1))", "after-3");
    let screen = pty.screen();
    assert!(
        !screen[mark..].contains("reattaching"),
        "{}",
        &screen[mark..]
    );
    assert_eq!(env.vm("dev")["reconnects"].as_u64().unwrap(), reconnects);
    pty.send("\x02d");
    assert_eq!(pty.wait_exit(WAIT).code(), Some(0));
}

#[test]
fn without_reconnect_a_lost_vm_ends_the_session() {
    let tmux = server();
    let env = fleet(&tmux);
    let mut pty = connect(&env, &["dev", "--no-reconnect"]);
    run(&mut pty, "echo up-$((5+5))", "up-10");
    let agent = env.agent_pid("dev").unwrap();
    nix::sys::signal::kill(Pid::from_raw(agent), Signal::SIGSTOP).unwrap();
    let status = pty.wait_exit(WAIT);
    nix::sys::signal::kill(Pid::from_raw(agent), Signal::SIGCONT).unwrap();
    assert_eq!(status.code(), Some(255), "{}", pty.screen());
    assert!(pty.screen().contains("lost"), "{}", pty.screen());
}

#[test]
fn without_a_terminal_connect_refuses_instead_of_hanging() {
    let tmux = server();
    let env = fleet(&tmux);
    let err = env.fails(&["connect", "dev"]);
    assert!(err.contains("needs a terminal"), "{err}");
    assert!(sessions(&tmux).is_empty());
}

#[test]
fn session_names_work_wherever_vm_names_do() {
    let tmux = server();
    let env = fleet(&tmux);
    env.ok(&["new", "--name", "other"]);
    env.ok(&["session", "dev", "main"]);
    assert_eq!(env.vm("main")["name"], "dev");
    assert_eq!(env.vm("dev")["session_name"], "main");
    let list = env.ok(&["list"]);
    let row = list.lines().find(|l| l.starts_with("dev ")).unwrap();
    assert_eq!(row.split_whitespace().nth(1), Some("main"), "{list}");
    let config = std::fs::read_to_string(env.home().join("config.toml")).unwrap_or_default();
    assert!(
        config.contains("[session_names]") && config.contains("dev = \"main\""),
        "{config}"
    );

    // Taken names and unusable names are refused, and change nothing.
    let err = env.fails(&["session", "dev", "other"]);
    assert!(err.contains("already the name of a VM"), "{err}");
    let err = env.fails(&["session", "other", "main"]);
    assert!(err.contains("already the session name of dev"), "{err}");
    let err = env.fails(&["session", "dev", "Not OK"]);
    assert!(err.contains("not usable"), "{err}");
    assert_eq!(env.vm("dev")["session_name"], "main");

    // connect by session name; an unknown one lists the closest.
    let mut pty = connect(&env, &["main"]);
    run(&mut pty, "echo via-$((1+2))", "via-3");
    pty.send("\x02d");
    assert_eq!(pty.wait_exit(WAIT).code(), Some(0));
    let err = env.fails(&["status", "mian"]);
    assert!(err.contains("did you mean main"), "{err}");

    // A new VM may not take a session name; deleting a VM frees its name.
    let err = env.fails(&["new", "--name", "main"]);
    assert!(err.contains("session name of dev"), "{err}");
    env.ok(&["session", "other", "spare"]);
    env.ok(&["kill", "spare"]);
    let config = std::fs::read_to_string(env.home().join("config.toml")).unwrap();
    assert!(!config.contains("spare"), "{config}");

    env.ok(&["session", "dev", "--clear"]);
    assert!(env.vm("dev")["session_name"].is_null());
    env.fails(&["status", "main"]);
}

#[test]
fn one_new_vm_on_a_terminal_is_connected_to_unless_told_not_to() {
    let tmux = TmuxServer::named("azlin-solo");
    let mut env = Env::new();
    env.set_var("TMUX_TMPDIR", tmux.tmpdir().to_string_lossy());
    let mut cmd = env.command(&["new", "--name", "solo"]);
    cmd.env("TERM", "xterm-256color");
    let mut pty = Pty::spawn(cmd, 100, 30);
    pty.wait_for(0, "connecting to solo", WAIT);
    run(&mut pty, "echo inside-$((40+2))", "inside-42");
    let mark = pty.mark();
    pty.send("\x02d");
    pty.wait_for(mark, "[detached", WAIT);
    assert_eq!(pty.wait_exit(WAIT).code(), Some(0), "{}", pty.screen());

    let other = TmuxServer::named("azlin-quiet");
    let mut env = Env::new();
    env.set_var("TMUX_TMPDIR", other.tmpdir().to_string_lossy());
    let mut cmd = env.command(&["new", "--name", "quiet", "--no-connect"]);
    cmd.env("TERM", "xterm-256color");
    let mut pty = Pty::spawn(cmd, 100, 30);
    assert!(pty.wait_exit(WAIT).success(), "{}", pty.screen());
    assert!(!pty.screen().contains("connecting to"), "{}", pty.screen());
}
