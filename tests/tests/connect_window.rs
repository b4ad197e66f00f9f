//! `azlin connect VM --new-window` with stand-in terminals on PATH that
//! record the exact arguments they were started with: `[connect]
//! terminal` first (with its own words), then `$TERMINAL -e`, then the
//! first of gnome-terminal (`--`), konsole and xterm (`-e`); the command
//! given is this azlin's own `connect VM`. With none, the error lists what
//! was tried; an unknown VM opens nothing.

use std::{os::unix::fs::PermissionsExt, path::Path, time::Duration};

use azlin_e2e::{Env, bin};

/// A stand-in terminal `name` in `dir` that writes its arguments, one a
/// line, to `out`.
fn stand_in(dir: &Path, name: &str, out: &Path) {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {}.tmp && mv {0}.tmp {0}\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn opened(env: &Env, out: &Path, path: &str, terminal: Option<&str>) -> Vec<String> {
    let _ = std::fs::remove_file(out);
    let mut cmd = env.command(&["connect", "w1", "--new-window"]);
    cmd.env("PATH", path);
    match terminal {
        Some(t) => cmd.env("TERMINAL", t),
        None => cmd.env_remove("TERMINAL"),
    };
    let run = cmd.output().unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("opened"));
    env.wait("the terminal ran", Duration::from_secs(10), || out.exists());
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn the_right_terminal_is_opened_with_the_exact_command() {
    let env = Env::new();
    env.ok(&["new", "--name", "w1"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("args");
    let (only, known) = (dir.path().join("only"), dir.path().join("known"));
    std::fs::create_dir_all(&only).unwrap();
    std::fs::create_dir_all(&known).unwrap();
    stand_in(&only, "my-term", &out);
    stand_in(&known, "xterm", &out);
    let azlin = std::fs::canonicalize(bin("azlin"))
        .unwrap()
        .display()
        .to_string();
    let connect = |first: Vec<&str>| -> Vec<String> {
        let mut argv: Vec<String> = first.into_iter().map(String::from).collect();
        argv.extend([azlin.clone(), "connect".into(), "w1".into()]);
        argv
    };
    let sys = "/usr/bin:/bin";

    // $TERMINAL, run with -e.
    let path = format!("{}:{sys}", only.display());
    assert_eq!(
        opened(&env, &out, &path, Some("my-term")),
        connect(vec!["-e"])
    );
    // The first known terminal on PATH.
    let path = format!("{}:{sys}", known.display());
    assert_eq!(opened(&env, &out, &path, None), connect(vec!["-e"]));
    stand_in(&known, "gnome-terminal", &out);
    assert_eq!(opened(&env, &out, &path, None), connect(vec!["--"]));
    // [connect] terminal, with its own words, before all of them.
    env.configure(&format!(
        "[connect]\nterminal = \"{} --class azlin\"\n",
        only.join("my-term").display()
    ));
    assert_eq!(
        opened(&env, &out, &path, Some("xterm")),
        connect(vec!["--class", "azlin"])
    );

    // None to be found: what was tried, nothing opened.
    std::fs::write(env.home().join("config.toml"), "").unwrap();
    let _ = std::fs::remove_file(&out);
    let run = env
        .command(&["connect", "w1", "--new-window"])
        .env("PATH", sys)
        .env("TERMINAL", "no-such-terminal")
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    for tried in [
        "$TERMINAL = \"no-such-terminal\"",
        "gnome-terminal",
        "konsole",
        "xterm",
    ] {
        assert!(err.contains(tried), "{tried}: {err}");
    }
    let err = env.fails(&["connect", "nope", "--new-window"]);
    assert!(!err.is_empty());
    std::thread::sleep(Duration::from_millis(300));
    assert!(!out.exists(), "a window opened");
}
