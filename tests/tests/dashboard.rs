//! `azlin top` on a real terminal: run in a tmux pane, driven by keys,
//! read back with capture-pane.

use std::time::Duration;

use azlin_e2e::{Env, bin, tmux::TmuxServer};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn the_dashboard_sorts_filters_shows_details_and_quits() {
    let env = Env::new();
    env.ok(&["new", "--name", "dash", "--pool", "2"]);
    env.wait("samples", WAIT, || {
        env.top()
            .iter()
            .filter(|v| v["freshness"] == "live")
            .count()
            == 2
    });
    let term = TmuxServer::named("dash");
    let status_dir = tempfile::tempdir().unwrap();
    let status_file = status_dir.path().join("status");
    let cmd = format!(
        "env AZLIN_HOME='{}' '{}' top; echo exit=$? > '{}'",
        env.home().display(),
        bin("azlin").display(),
        status_file.display()
    );
    term.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "160",
        "-y",
        "40",
        &cmd,
    ]);
    term.run(&["set-option", "-t", "t", "remain-on-exit", "on"]);
    let keys = |k: &[&str]| {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(k);
        term.run(&args);
    };

    // Opens with data already there.
    term.wait_for("t", WAIT, "both rows", |s| {
        s.contains("azlin top") && s.contains("dash-1") && s.contains("dash-2") && s.contains("%")
    });
    keys(&["n"]);
    term.wait_for("t", WAIT, "name order", |s| s.contains("sort: name"));
    keys(&["m"]);
    term.wait_for("t", WAIT, "memory order", |s| s.contains("sort: memory"));
    keys(&["/", "dash-2", "Enter"]);
    term.wait_for("t", WAIT, "filtered to dash-2", |s| {
        s.contains("dash-2") && !s.contains("dash-1") && s.contains("[filter: dash-2]")
    });
    keys(&["Enter"]);
    let detail = term.wait_for("t", WAIT, "detail with processes from the agent", |s| {
        s.contains("per-core cpu") && s.contains("top processes by cpu") && s.contains("PID")
    });
    assert!(detail.contains("core   0"), "{detail}");
    keys(&["p"]);
    term.wait_for("t", WAIT, "processes by memory", |s| {
        s.contains("top processes by memory")
    });
    keys(&["Escape"]);
    term.wait_for("t", WAIT, "back to the table", |s| s.contains("NET RX/TX"));
    keys(&["Escape"]);
    term.wait_for("t", WAIT, "filter cleared", |s| {
        s.contains("dash-1") && s.contains("dash-2")
    });
    keys(&["q"]);
    // The pane's shell records top's exit status once it has quit.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match std::fs::read_to_string(&status_file) {
            Ok(s) if s.ends_with('\n') => {
                assert_eq!(s.trim(), "exit=0", "top must quit with status 0");
                break;
            }
            _ => {}
        }
        assert!(
            std::time::Instant::now() < deadline,
            "top did not quit: {}",
            term.capture("t")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
