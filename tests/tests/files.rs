//! `azlin cp` to a VM end to end: the real CLI, daemon and agent. Files
//! land whole with their modes, secrets and noise are left out and
//! reported, a rerun sends nothing that is already there, and an agent
//! killed mid-copy (20 times) never leaves a partial file under the real
//! name, while a rerun completes the copy.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Stdio, time::Duration};

use azlin_e2e::{Env, kill9};
use serde_json::Value;

fn cp_json(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["cp", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&env.ok(&all)).unwrap()
}

fn reasons(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["path"].as_str().unwrap(),
                e["reason"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn cp_sends_a_folder_whole_and_reports_every_file_it_leaves_out() {
    let env = Env::new();
    env.ok(&["new", "--name", "fs"]);
    env.wait("connected", Duration::from_secs(20), || env.connected("fs"));
    let src = tempfile::tempdir().unwrap();
    let proj = src.path().join("proj");
    std::fs::create_dir_all(proj.join("src")).unwrap();
    std::fs::create_dir_all(proj.join("node_modules/dep")).unwrap();
    std::fs::write(proj.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(proj.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(proj.join("run.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(proj.join("data.bin"), &big).unwrap();
    std::fs::write(proj.join("node_modules/dep/index.js"), "x").unwrap();
    std::fs::write(proj.join(".env"), "TOKEN=1\n").unwrap();
    std::fs::write(proj.join("notes.md"), "aws key AKIAIOSFODNN7EXAMPLE here\n").unwrap();
    let dest = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let target = format!("fs:{}/", dest.path().display());

    let dry = cp_json(&env, &["-r", "--dry-run", proj.to_str().unwrap(), &target]);
    assert_eq!(dry["files"].as_array().unwrap().len(), 4, "{dry}");
    assert!(
        std::fs::read_dir(dest.path()).unwrap().next().is_none(),
        "a dry run sends nothing"
    );

    let out = env.run(&["cp", "-r", proj.to_str().unwrap(), &target]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("blocked proj/.env: looks like a secret"),
        "{stderr}"
    );
    assert!(
        stderr.contains("blocked proj/notes.md: contains an AWS access key id"),
        "{stderr}"
    );
    assert!(
        stderr.contains("skipped proj/node_modules/: noise"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3 file(s) sent"), "{stdout}");

    let landed = dest.path().join("proj");
    assert_eq!(std::fs::read(landed.join("data.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read_to_string(landed.join("src/main.rs")).unwrap(),
        "fn main() {}\n"
    );
    let mode = std::fs::metadata(landed.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750);
    assert!(!landed.join(".env").exists() && !landed.join("notes.md").exists());
    assert!(!landed.join("node_modules").exists());

    // Again: nothing changed, nothing sent. Then one file changes.
    let again = cp_json(&env, &["-r", proj.to_str().unwrap(), &target]);
    assert_eq!(
        (again["sent"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(3)),
        "{again}"
    );
    std::fs::write(
        proj.join("src/main.rs"),
        "fn main() { println!(\"v2\"); }\n",
    )
    .unwrap();
    let changed = cp_json(&env, &["-r", proj.to_str().unwrap(), &target]);
    assert_eq!(
        (changed["sent"].as_u64(), changed["unchanged"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(reasons(&changed, "blocked").len() == 2);

    // A single file under a new name; --force sends noise, never secrets.
    let one = cp_json(
        &env,
        &[
            proj.join("run.sh").to_str().unwrap(),
            &format!("fs:{}/renamed.sh", dest.path().display()),
        ],
    );
    assert_eq!(one["sent"], 1);
    assert!(dest.path().join("renamed.sh").exists());
    let forced = cp_json(&env, &["-r", "--force", proj.to_str().unwrap(), &target]);
    assert_eq!(forced["sent"], 1, "node_modules/dep/index.js: {forced}");
    assert_eq!(reasons(&forced, "blocked").len(), 2);

    // Outside the folders the agent accepts: refused by the agent itself.
    let out = env.run(&[
        "cp",
        proj.join("run.sh").to_str().unwrap(),
        "fs:/etc/azlin-should-not-exist",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("outside the folders"),
        "{out:?}"
    );
    assert!(!Path::new("/etc/azlin-should-not-exist").exists());
}

/// The size of the partial file in `dir`, if there is one.
fn partial_size(dir: &std::path::Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".azlin-partial-")
        })
        .and_then(|e| e.metadata().ok())
        .map(|m| m.len())
}

#[test]
fn killing_the_agent_mid_copy_never_tears_a_file_and_a_rerun_completes_it() {
    let env = Env::new();
    env.ok(&["new", "--name", "kk"]);
    env.wait("connected", Duration::from_secs(20), || env.connected("kk"));
    let src = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..48u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = src.path().join("big.bin");
    std::fs::write(&file, &big).unwrap();
    let want = blake3::hash(&big);
    let dest = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let target = format!("kk:{}/", dest.path().display());
    let landed = dest.path().join("big.bin");

    let mut kills = 0;
    let mut cut_mid_write = 0;
    let mut delay = 30u64;
    while kills < 20 {
        let mut cp = env
            .command(&["cp", "--json", file.to_str().unwrap(), &target])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if kills % 2 == 0 {
            // Half the kills at fixed delays, some before any byte moves…
            std::thread::sleep(Duration::from_millis(delay));
            delay = 30 + (delay * 7) % 400;
        } else {
            // …and half while bytes are landing: once the partial file
            // grows, whatever hashing the file first took on this machine.
            let before = partial_size(dest.path());
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while partial_size(dest.path()) <= before && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(delay % 150));
        }
        let Some(pid) = env.agent_pid("kk") else {
            panic!("agent gone")
        };
        kill9(pid);
        kills += 1;
        let _ = cp.wait();
        // The real name holds the whole file or nothing, never a part.
        if landed.exists() {
            assert_eq!(
                blake3::hash(&std::fs::read(&landed).unwrap()),
                want,
                "torn file after kill {kills}"
            );
            std::fs::remove_file(&landed).unwrap();
        }
        let partial = std::fs::read_dir(dest.path()).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".azlin-partial-")
        });
        cut_mid_write += usize::from(partial);
        // Until the daemon's idle timeout notices, the dead connection
        // still looks connected: wait for that, then start the agent.
        env.wait(
            "the daemon sees the agent gone",
            Duration::from_secs(30),
            || !env.connected("kk"),
        );
        env.ok(&["start", "kk"]);
        env.wait("the agent is back", Duration::from_secs(30), || {
            env.connected("kk")
        });
    }
    assert!(
        cut_mid_write >= 5,
        "only {cut_mid_write} of 20 kills hit a transfer in progress"
    );
    let had_partial = std::fs::read_dir(dest.path()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".azlin-partial-")
    });
    let done = cp_json(&env, &[file.to_str().unwrap(), &target]);
    assert_eq!(done["sent"], 1, "{done}");
    if had_partial {
        assert_eq!(
            done["resumed"], 1,
            "the rerun picks up the partial file: {done}"
        );
        assert!(done["bytes"].as_u64().unwrap() < big.len() as u64, "{done}");
    }
    assert_eq!(blake3::hash(&std::fs::read(&landed).unwrap()), want);
    let leftovers: Vec<String> = std::fs::read_dir(dest.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers,
        vec!["big.bin"],
        "the completed copy used up its partial file"
    );
}

#[test]
fn sync_sends_the_dotfiles_to_every_vm_at_once_and_only_what_changed() {
    let env = Env::new();
    env.ok(&["new", "--name", "dot", "--pool", "3"]);
    let vms = ["dot-1", "dot-2", "dot-3"];
    env.wait("connected", Duration::from_secs(30), || {
        vms.iter().all(|v| env.connected(v))
    });
    let out = env.run(&["sync"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("home does not exist"),
        "{out:?}"
    );

    let dots = env.home().join("home");
    std::fs::create_dir_all(dots.join(".config/nvim")).unwrap();
    std::fs::create_dir_all(dots.join(".ssh")).unwrap();
    std::fs::create_dir_all(dots.join(".cache/pip")).unwrap();
    std::fs::write(dots.join(".bashrc"), "alias ll='ls -l'\n").unwrap();
    std::fs::write(dots.join(".config/nvim/init.lua"), "vim.o.number = true\n").unwrap();
    std::fs::write(
        dots.join(".ssh/config"),
        "Host *\n  ServerAliveInterval 30\n",
    )
    .unwrap();
    std::fs::write(dots.join(".ssh/id_rsa"), "not really a key").unwrap();
    std::fs::write(dots.join(".cache/pip/x"), "cache").unwrap();

    let first: Value = serde_json::from_str(&env.ok(&["sync", "--json"])).unwrap();
    let first = first.as_array().unwrap();
    assert_eq!(first.len(), 3);
    for r in first {
        assert_eq!(r["sent"], 3, "{r}");
        assert_eq!(reasons(r, "blocked").len(), 1, "{r}");
        assert!(reasons(r, "skipped")[0].starts_with(".cache/"), "{r}");
    }
    for vm in vms {
        let home = env.vm_dir(vm).join("home");
        assert_eq!(
            std::fs::read_to_string(home.join(".bashrc")).unwrap(),
            "alias ll='ls -l'\n"
        );
        assert!(home.join(".config/nvim/init.lua").exists());
        assert!(home.join(".ssh/config").exists());
        assert!(
            !home.join(".ssh/id_rsa").exists(),
            "a key never leaves the laptop"
        );
        assert!(!home.join(".cache").exists());
    }

    std::fs::write(dots.join(".bashrc"), "alias ll='ls -la'\n").unwrap();
    let again: Value = serde_json::from_str(&env.ok(&["sync", "--json", "dot-*"])).unwrap();
    for r in again.as_array().unwrap() {
        assert_eq!(
            (r["sent"].as_u64(), r["unchanged"].as_u64()),
            (Some(1), Some(2)),
            "{r}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(env.vm_dir("dot-2").join("home/.bashrc")).unwrap(),
        "alias ll='ls -la'\n"
    );
}

#[test]
fn cp_on_a_terminal_shows_a_progress_bar_with_rate_and_eta_and_scripts_get_none() {
    let env = Env::new();
    env.ok(&["new", "--name", "bar"]);
    env.wait("connected", Duration::from_secs(20), || {
        env.connected("bar")
    });
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("large.bin");
    let big: Vec<u8> = (0..160u32 << 20)
        .map(|i| (i.wrapping_mul(40503) >> 7) as u8)
        .collect();
    std::fs::write(&file, &big).unwrap();
    let dest = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let target = format!("bar:{}/", dest.path().display());

    let mut cmd = env.command(&["cp", file.to_str().unwrap(), &target]);
    cmd.env("TERM", "xterm");
    let mut pty = azlin_e2e::pty::Pty::spawn(cmd, 120, 24);
    pty.wait_for(0, "ETA", Duration::from_secs(60));
    assert!(pty.wait_exit(Duration::from_secs(120)).success());
    let screen = pty.screen();
    assert!(screen.contains("bar") && screen.contains("/s"), "{screen}");
    assert!(screen.contains("1 file(s) sent (160M)"), "{screen}");
    assert!(
        !screen.contains("0 B/0 B"),
        "no bar before the size is known: {screen}"
    );

    std::fs::remove_file(dest.path().join("large.bin")).unwrap();
    let out = env.run(&["cp", file.to_str().unwrap(), &target]);
    assert!(out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("ETA"),
        "no bar without a terminal"
    );
}

#[test]
fn cp_copies_from_a_vm_to_here_and_from_one_vm_to_another() {
    let env = Env::new();
    env.ok(&["new", "--name", "src", "--pool", "2"]);
    env.wait("connected", Duration::from_secs(30), || {
        env.connected("src-1") && env.connected("src-2")
    });
    // What src-1 holds, in its home folder.
    let home1 = env.vm_dir("src-1").join("home");
    std::fs::create_dir_all(home1.join("proj/src")).unwrap();
    std::fs::write(home1.join("proj/src/lib.rs"), "pub fn f() {}\n").unwrap();
    std::fs::write(home1.join("proj/.env"), "TOKEN=x\n").unwrap();
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(home1.join("proj/data.bin"), &big).unwrap();
    std::fs::set_permissions(
        home1.join("proj/data.bin"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/passwd", home1.join("proj/passwd-link")).unwrap();
    std::fs::write(home1.join("notes.txt"), "remember\n").unwrap();

    // One file to a new local name, then a folder into a local folder.
    let here = tempfile::tempdir().unwrap();
    let one = cp_json(
        &env,
        &[
            "src-1:notes.txt",
            here.path().join("copy.txt").to_str().unwrap(),
        ],
    );
    assert_eq!(one["sent"], 1, "{one}");
    assert_eq!(
        std::fs::read_to_string(here.path().join("copy.txt")).unwrap(),
        "remember\n"
    );
    let out = env.run(&["cp", "src-1:proj", &format!("{}/", here.path().display())]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("use -r"),
        "{out:?}"
    );
    let tree = cp_json(
        &env,
        &["-r", "src-1:proj", &format!("{}/", here.path().display())],
    );
    assert_eq!(tree["sent"], 3, "{tree}");
    assert_eq!(
        reasons(&tree, "skipped"),
        vec!["proj/passwd-link: not a regular file (symlink, device or socket)"]
    );
    let local = here.path().join("proj");
    assert_eq!(std::fs::read(local.join("data.bin")).unwrap(), big);
    assert_eq!(
        std::fs::metadata(local.join("data.bin"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(!local.join("passwd-link").exists());
    let again = cp_json(
        &env,
        &["-r", "src-1:proj", &format!("{}/", here.path().display())],
    );
    assert_eq!(
        (again["sent"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(3))
    );

    // VM to VM, relayed by the daemon; the destination VM's filter holds.
    let relayed = cp_json(&env, &["-r", "src-1:proj", "src-2:"]);
    assert_eq!(relayed["sent"], 2, "{relayed}");
    assert_eq!(
        reasons(&relayed, "blocked").len(),
        1,
        ".env is a secret: {relayed}"
    );
    let again = cp_json(&env, &["-r", "src-1:proj", "src-2:"]);
    assert_eq!(
        (again["sent"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(2)),
        "what src-2 holds already is not sent again: {again}"
    );
    let home2 = env.vm_dir("src-2").join("home");
    assert_eq!(std::fs::read(home2.join("proj/data.bin")).unwrap(), big);
    assert!(!home2.join("proj/.env").exists());
    let renamed = cp_json(&env, &["src-1:notes.txt", "src-2:~/todo.txt"]);
    assert_eq!(renamed["sent"], 1);
    assert_eq!(
        std::fs::read_to_string(home2.join("todo.txt")).unwrap(),
        "remember\n"
    );

    // Outside the agent's allowed folders: refused by the agent.
    let out = env.run(&["cp", "src-1:/etc/passwd", here.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("outside the folders"),
        "{out:?}"
    );
}

#[test]
fn sync_watch_mirrors_every_change_to_every_target_until_stopped() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    env.ok(&["new", "--name", "w", "--pool", "2"]);
    env.wait("connected", Duration::from_secs(30), || {
        env.connected("w-1") && env.connected("w-2")
    });
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("before.txt"), "already here\n").unwrap();
    let mut child = env
        .command(&[
            "sync",
            "--watch",
            src.path().to_str().unwrap(),
            "w-1:~/mirror",
            "w-2:mirror",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let started = rx
        .recv_timeout(Duration::from_secs(30))
        .into_iter()
        .chain(rx.try_iter());
    let mut seen: Vec<String> = started.collect();
    while !seen.iter().any(|l| l.starts_with("watching ")) {
        seen.push(
            rx.recv_timeout(Duration::from_secs(30))
                .expect("the watch starts"),
        );
    }
    let mirrors = [
        env.vm_dir("w-1").join("home/mirror"),
        env.vm_dir("w-2").join("home/mirror"),
    ];
    let on_both = |what: &str, rel: &str, want: Option<&str>| {
        env.wait(what, Duration::from_secs(15), || {
            mirrors.iter().all(|m| {
                let got = std::fs::read_to_string(m.join(rel)).ok();
                got.as_deref() == want
            })
        });
    };
    on_both("the first copy", "before.txt", Some("already here\n"));

    std::fs::write(src.path().join("a.txt"), "one\n").unwrap();
    on_both("a created file", "a.txt", Some("one\n"));
    std::fs::write(src.path().join("a.txt"), "two\n").unwrap();
    on_both("a modified file", "a.txt", Some("two\n"));
    std::fs::rename(src.path().join("a.txt"), src.path().join("b.txt")).unwrap();
    on_both("the new name", "b.txt", Some("two\n"));
    on_both("the old name gone", "a.txt", None);
    std::fs::create_dir_all(src.path().join("sub/deeper")).unwrap();
    std::fs::write(src.path().join("sub/deeper/c.txt"), "three\n").unwrap();
    on_both("a file in new folders", "sub/deeper/c.txt", Some("three\n"));
    std::fs::remove_dir_all(src.path().join("sub")).unwrap();
    on_both("a removed folder", "sub/deeper/c.txt", None);
    // The folder's own removal can come a batch after its file's.
    env.wait(
        "the removed folder itself gone",
        Duration::from_secs(15),
        || mirrors.iter().all(|m| !m.join("sub").exists()),
    );
    std::fs::remove_file(src.path().join("b.txt")).unwrap();
    on_both("a removed file", "b.txt", None);

    std::fs::write(src.path().join(".env"), "TOKEN=secret\n").unwrap();
    let blocked = (0..200)
        .filter_map(|_| rx.recv_timeout(Duration::from_millis(100)).ok())
        .find(|l| l.contains("blocked .env"));
    assert!(blocked.is_some(), "a secret is reported, not sent");
    assert!(mirrors.iter().all(|m| !m.join(".env").exists()));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn names_from_a_vm_or_a_file_system_cannot_drive_the_terminal() {
    let env = Env::new();
    env.ok(&["new", "--name", "tt"]);
    env.wait("connected", Duration::from_secs(20), || env.connected("tt"));
    let clear = "e\u{1b}[2J";
    let title = "t\u{1b}]0;owned\u{7}";
    let fake = "x\nsent 9 file(s)";
    let src = tempfile::tempdir().unwrap();
    let proj = src.path().join("proj");
    std::fs::create_dir_all(proj.join(clear)).unwrap();
    std::fs::write(proj.join(clear).join(".env"), "TOKEN=1\n").unwrap();
    std::fs::write(proj.join(title), "a\n").unwrap();
    std::fs::write(proj.join(fake), "b\n").unwrap();
    let raw = |out: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let clean = |text: &str| {
        assert!(
            !text.contains('\u{1b}'),
            "an ESC reached the terminal: {text:?}"
        );
        assert!(
            !text.contains('\u{7}'),
            "a BEL reached the terminal: {text:?}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("sent 9 file(s)")),
            "a faked line: {text:?}"
        );
    };
    // Names from this machine's file system: the dry run, then the copy.
    let dest = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let target = format!("tt:{}/", dest.path().display());
    let out = env.run(&["cp", "-r", "--dry-run", proj.to_str().unwrap(), &target]);
    assert!(out.status.success(), "{out:?}");
    let text = raw(&out);
    clean(&text);
    assert!(text.contains("proj/t\\u{1b}]0;owned\\u{7}"), "{text}");
    assert!(text.contains("proj/x\\nsent 9 file(s)"), "{text}");
    assert!(
        text.contains("blocked proj/e\\u{1b}[2J/.env: looks like a secret"),
        "{text}"
    );
    let out = env.run(&["cp", "-r", proj.to_str().unwrap(), &target]);
    assert!(out.status.success(), "{out:?}");
    clean(&raw(&out));
    // --json keeps the exact names.
    let dry = cp_json(&env, &["-r", "--dry-run", proj.to_str().unwrap(), &target]);
    let rels: Vec<&str> = dry["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rel"].as_str().unwrap())
        .collect();
    assert!(rels.contains(&format!("proj/{title}").as_str()), "{rels:?}");
    assert!(rels.contains(&format!("proj/{fake}").as_str()), "{rels:?}");

    // Names from the VM: fetched back into a folder where one of them is
    // a folder already, so its failure names it.
    let back = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(back.path().join("proj").join(title)).unwrap();
    let out = env.run(&[
        "cp",
        "-r",
        &format!("tt:{}/proj", dest.path().display()),
        &format!("{}/", back.path().display()),
    ]);
    let text = raw(&out);
    clean(&text);
    assert!(
        text.contains("failed  proj/t\\u{1b}]0;owned\\u{7}: "),
        "{text}"
    );
}
