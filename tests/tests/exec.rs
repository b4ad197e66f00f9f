//! `azlin -- CMD` and `azlin exec` end to end, on a local fleet of real
//! agents: selection, output modes, exit statuses, the user's environment,
//! stdin, binary output, audit logs, and `ps`, `w`, `os-update`, `update`.

use std::{collections::BTreeSet, io::Write, process::Stdio};

use azlin_e2e::Env;
use serde_json::Value;

fn status(out: &std::process::Output) -> i32 {
    out.status.code().expect("azlin exited normally")
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn fleet() -> Env {
    let env = Env::new();
    env.configure("[session_names]\nweb-1 = \"alpha\"\n");
    env.ok(&["new", "--name", "web", "--pool", "2", "--tag", "role=web"]);
    env.ok(&["new", "--name", "db", "--tag", "role=db", "--tag", "tier=1"]);
    env
}

#[test]
fn commands_run_everywhere_or_on_the_chosen_vms() {
    let env = fleet();

    // Every running VM, each line prefixed with the VM's (session) name.
    let out = env.run(&["--", "echo", "hello;", "echo", "oops", ">&2"]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let lines: BTreeSet<String> = stdout(&out).lines().map(String::from).collect();
    // A session name is shown with the VM's name beside it.
    let expected: BTreeSet<String> = ["alpha (web-1)", "db           ", "web-2        "]
        .iter()
        .map(|n| format!("{n}: hello"))
        .collect();
    assert_eq!(lines, expected);
    assert_eq!(
        stderr(&out).matches(": oops").count(),
        3,
        "{}",
        stderr(&out)
    );

    // Selectors: glob, prefix, tag, session name, --all.
    let chosen = |args: &[&str]| -> BTreeSet<String> {
        let mut full = vec!["exec", "--json"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--", "true"]);
        json_lines(&env.ok(&full))
            .iter()
            .map(|v| v["vm"].as_str().unwrap().to_string())
            .collect()
    };
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    // Machine output names each VM by its name, with its session name.
    let one = json_lines(&env.ok(&["exec", "--json", "--vm", "alpha", "--", "true"]));
    assert_eq!(one[0]["vm"], "web-1");
    assert_eq!(one[0]["session_name"], "alpha");
    assert_eq!(chosen(&["web-*"]), set(&["web-1", "web-2"]));
    assert_eq!(chosen(&["--prefix", "d"]), set(&["db"]));
    assert_eq!(chosen(&["--tag", "role=web"]), set(&["web-1", "web-2"]));
    assert_eq!(
        chosen(&["--tag", "role=db", "--tag", "tier=1"]),
        set(&["db"])
    );
    assert_eq!(
        chosen(&["--vm", "alpha", "--vm", "db"]),
        set(&["web-1", "db"])
    );
    assert_eq!(chosen(&["--all"]), set(&["web-1", "db", "web-2"]));

    // Tags can change after creation.
    env.ok(&["tag", "web-2", "role=db", "--remove", "nothing"]);
    assert_eq!(chosen(&["--tag", "role=db"]), set(&["db", "web-2"]));

    // Unknown names and empty choices are errors, with azlin's own status.
    let out = env.run(&["exec", "--vm", "web-3", "--", "true"]);
    assert_eq!(status(&out), 255);
    assert!(
        stderr(&out).contains("no VM named \"web-3\"; did you mean web-1, web-2"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["exec", "prod-*", "--", "true"]);
    assert_eq!(status(&out), 255);
    assert!(
        stderr(&out).contains("no running VM matches \"prod-*\""),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["exec", "--", "true"]);
    assert!(stderr(&out).contains("choose the VMs"), "{}", stderr(&out));
    let out = env.run(&["exec", "--vm", "db", "--", " "]);
    assert!(
        stderr(&out).contains("the command is empty"),
        "{}",
        stderr(&out)
    );

    // Exit statuses: one VM passes its own through; several agree or fail.
    assert_eq!(
        status(&env.run(&["exec", "--vm", "db", "--", "exit", "7"])),
        7
    );
    assert_eq!(
        status(&env.run(&["exec", "--vm", "db", "--", "kill -9 $$"])),
        137
    );
    assert_eq!(status(&env.run(&["exec", "web-*", "--", "true"])), 0);
    let out = env.run(&[
        "exec",
        "--all",
        "--",
        "test \"$(cat /proc/sys/kernel/hostname)\" = never",
    ]);
    assert_eq!(status(&out), 1);
    assert!(
        stderr(&out).contains("3 of 3 VMs did not succeed"),
        "{}",
        stderr(&out)
    );

    // --json: one object per VM with everything a script needs.
    let out = env.run(&[
        "exec",
        "--vm",
        "db",
        "--vm",
        "web-2",
        "--json",
        "--",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(status(&out), 1);
    let objects = json_lines(&stdout(&out));
    assert_eq!(objects.len(), 2);
    for o in &objects {
        assert_eq!(o["exit_code"], 3, "{o}");
        assert_eq!(o["stdout"], "out\n");
        assert_eq!(o["stderr"], "err\n");
        assert!(o["duration_ms"].is_u64());
        assert!(o["error"].is_null());
    }

    // --group: each VM's output together under its header.
    let out = env.ok(&[
        "exec",
        "web-*",
        "--group",
        "--",
        "echo one; sleep 0.2; echo two",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    for block in lines.chunks(3) {
        assert!(
            block[0].starts_with("── ") && block[0].contains("exit 0"),
            "{out}"
        );
        assert_eq!(&block[1..], ["one", "two"]);
    }
}

#[test]
fn commands_run_as_ssh_would_run_them() {
    let env = Env::new();
    env.ok(&["new", "--name", "box"]);
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap();

    // The user's shell, identity and a clean environment; the home is the
    // local VM's own (`home` in its agent config).
    let out = env.ok(&[
        "exec",
        "--vm",
        "box",
        "--",
        "echo \"$0|$(pwd)|$HOME|$USER|$LOGNAME|$SHELL|$(id -un)|${AZLIN_HOME:-unset}\"",
    ]);
    let shell = me.shell.file_name().unwrap().to_string_lossy().into_owned();
    let home = env.vm_dir("box").join("home").display().to_string();
    assert_eq!(
        out.trim(),
        format!(
            "{shell}|{home}|{home}|{0}|{0}|{1}|{0}|unset",
            me.name,
            me.shell.display()
        )
    );

    // stdin reaches a single VM, and binary output returns byte for byte.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let mut child = env
        .command(&["exec", "--vm", "box", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = bytes.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&feed).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(status(&out), 0);
    assert!(
        out.stdout == bytes,
        "cat returned {} bytes, not the same ones",
        out.stdout.len()
    );

    // Binary output in --json comes back as base64.
    let out = env.ok(&[
        "exec",
        "--vm",
        "box",
        "--json",
        "--",
        "printf '\\377\\000ok'",
    ]);
    let o = &json_lines(&out)[0];
    assert!(o["stdout"].is_null());
    assert_eq!(o["stdout_base64"], "/wBvaw==");

    // Both ends recorded who ran what, under one id.
    let daemon: Vec<Value> =
        json_lines(&std::fs::read_to_string(env.home().join("logs/audit.log")).unwrap());
    let agent: Vec<Value> =
        json_lines(&std::fs::read_to_string(env.vm_dir("box").join("state/audit.log")).unwrap());
    let starts = |log: &[Value]| -> Vec<(String, String)> {
        log.iter()
            .filter(|r| r["event"] == "start")
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_string(),
                    r["command"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(starts(&daemon), starts(&agent));
    assert_eq!(starts(&daemon).len(), 3);
    let ends = agent.iter().filter(|r| r["event"] == "end").count();
    assert_eq!(ends, 3);
    assert!(
        agent[0]["by"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}@", me.name)),
        "{}",
        agent[0]
    );
    assert_eq!(agent[0]["user"], me.name.as_str());
    let daemon_end = daemon.iter().find(|r| r["event"] == "end").unwrap();
    assert_eq!(daemon_end["vm"], "box");
    assert_eq!(daemon_end["exit_code"], 0);
}

#[test]
fn ps_w_and_updates_run_on_the_fleet() {
    let env = Env::new();
    env.ok(&["new", "--name", "u", "--pool", "2"]);

    let tables: Vec<Value> =
        serde_json::from_str(&env.ok(&["ps", "--sort", "mem", "--top", "3", "--json"])).unwrap();
    assert_eq!(tables.len(), 2);
    for t in &tables {
        let list = t["processes"].as_array().unwrap();
        assert!(!list.is_empty() && list.len() <= 3, "{t}");
        let mem: Vec<u64> = list
            .iter()
            .map(|p| p["memory_bytes"].as_u64().unwrap())
            .collect();
        assert!(
            mem.windows(2).all(|w| w[0] >= w[1]),
            "sorted by memory: {mem:?}"
        );
    }
    let table = env.ok(&["ps", "--vm", "u-1", "--top", "2"]);
    assert!(table.starts_with("VM "), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");

    let w = env.ok(&["w"]);
    assert_eq!(w.matches("── u-").count(), 2, "{w}");
    assert_eq!(w.matches("USER").count(), 2, "{w}");

    let update = env.ok(&["update", "--vm", "u-1", "--dry-run"]);
    for step in [
        "==> apt packages",
        "==> rust (rustup)",
        "==> uv",
        "==> npm global packages",
        "==> update done",
    ] {
        assert!(update.contains(step), "{step} missing from:\n{update}");
    }
    // Real apt: the package lists are updated, the upgrade only simulated.
    let os = env.run(&["os-update", "--vm", "u-2", "--dry-run"]);
    let text = stdout(&os);
    assert_eq!(status(&os), 0, "{text}\n{}", stderr(&os));
    assert!(text.contains("==> apt-get upgrade (simulated)"), "{text}");
    assert!(text.contains("==> os-update done"), "{text}");
}

/// Point a VM's agent at another `user` line (or none) and restart it, as
/// a config change on a VM would. The local VM's `home` goes too: on a VM
/// that names its user, `~` is that user's home.
fn set_agent_user(env: &Env, vm: &str, user: Option<&str>) {
    let path = env.vm_dir(vm).join("agent.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("user = ") && !l.starts_with("home = "))
        .map(String::from)
        .collect();
    if let Some(u) = user {
        lines.insert(1, format!("user = \"{u}\""));
    }
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    env.ok(&["stop", vm]);
    env.ok(&["start", vm]);
    env.wait("agent back", std::time::Duration::from_secs(20), || {
        env.connected(vm)
    });
}

#[test]
fn a_root_agent_runs_commands_only_as_the_configured_user() {
    if !nix::unistd::Uid::effective().is_root() {
        panic!("this test switches users and must run as root, as CI does");
    }
    let env = Env::new();
    env.ok(&["new", "--name", "sw"]);
    const USER: &str = "azlin-test";
    if nix::unistd::User::from_name(USER).unwrap().is_none() {
        let ok = std::process::Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/sh", USER])
            .status()
            .unwrap()
            .success();
        assert!(ok, "useradd failed");
    }
    let account = nix::unistd::User::from_name(USER).unwrap().unwrap();

    // As the configured user: identity, groups, home and shell are theirs.
    set_agent_user(&env, "sw", Some(USER));
    let out = env.ok(&[
        "exec",
        "--vm",
        "sw",
        "--",
        "echo \"$(id -un) $(id -gn) $(id -G) $HOME $(pwd) $0\"",
    ]);
    assert_eq!(
        out.trim(),
        format!(
            "{USER} {USER} {gid} {home} {home} sh",
            gid = account.gid,
            home = account.dir.display()
        )
    );

    // A root agent whose config names no user runs nothing, and says why.
    set_agent_user(&env, "sw", None);
    let out = env.run(&[
        "exec",
        "--vm",
        "sw",
        "--",
        "touch /tmp/azlin-should-not-exist",
    ]);
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sw: this agent runs as root and its config names no `user`"),
        "{err}"
    );
    assert!(!std::path::Path::new("/tmp/azlin-should-not-exist").exists());
    let audit = std::fs::read_to_string(env.vm_dir("sw").join("state/audit.log")).unwrap();
    assert!(
        audit
            .lines()
            .last()
            .unwrap()
            .contains("\"event\":\"refused\""),
        "{audit}"
    );
}
