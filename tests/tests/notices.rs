//! Completion notices: with `[notifications] after = 0`, `new` and `cp`
//! tell the desktop channel of alerts.toml (a real command that records
//! its last argument and `AZLIN_NOTICE_*`) that they are done, a failing
//! `cp` that it failed, with its reason; `list` sends none; with a long
//! `after`, quick commands send none.

use std::{os::unix::fs::PermissionsExt, time::Duration};

use azlin_e2e::Env;

#[test]
fn long_commands_tell_the_desktop_how_they_ended() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("notices");
    let notify = dir.path().join("notify");
    std::fs::write(
        &notify,
        format!(
            "#!/bin/sh\nfor a; do last=\"$a\"; done\nprintf '%s|%s|%s\\n' \"$last\" \"$AZLIN_NOTICE_RESULT\" \"$AZLIN_NOTICE_COMMAND\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&notify, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write_alert_rules(&format!(
        "[channels.desktop]\ncommand = \"{}\"\n[builtin.idle]\nenabled = false\n",
        notify.display()
    ));
    env.configure("[notifications]\nafter = 0\n");
    let lines = || -> Vec<String> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    };

    env.ok(&["new", "--name", "n1"]);
    env.wait("the notice", Duration::from_secs(10), || lines().len() == 1);
    assert!(
        lines()[0].starts_with("azlin new --name n1: done in "),
        "{:?}",
        lines()
    );
    assert!(lines()[0].ends_with("|done|new --name n1"), "{:?}", lines());

    let file = dir.path().join("f.txt");
    std::fs::write(&file, "x").unwrap();
    env.ok(&["cp", file.to_str().unwrap(), "n1:f.txt"]);
    env.wait("the cp notice", Duration::from_secs(10), || {
        lines().len() == 2
    });
    assert!(lines()[1].contains("|done|cp "), "{:?}", lines());

    env.fails(&["cp", "/nonexistent/file", "n1:g.txt"]);
    env.wait("the failure notice", Duration::from_secs(10), || {
        lines().len() == 3
    });
    assert!(lines()[2].contains(": FAILED after "), "{:?}", lines());
    assert!(
        lines()[2].contains("|failed|cp /nonexistent/file"),
        "{:?}",
        lines()
    );

    env.ok(&["list"]);
    std::fs::write(
        env.home().join("config.toml"),
        "[notifications]\nafter = 3600\n",
    )
    .unwrap();
    env.ok(&["cp", file.to_str().unwrap(), "n1:h.txt"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines().len(), 3, "{:?}", lines());
}
