//! SSH when wanted: `azlin ssh-config` and `azlin connect --ssh` against a
//! real sshd. The host key is pinned from what the VM's agent reports over
//! its authenticated connection, so `StrictHostKeyChecking yes` holds from
//! the first connection, and a different key is refused. The test leaves
//! the machine as it found it: the ssh login's tmux is the VM's private
//! server (the sshd sets its `TMUX_TMPDIR`), never the user's default one,
//! and the user's `authorized_keys` is put back.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use azlin_e2e::{
    Env, free_tcp,
    pty::Pty,
    sshd::{AuthorizedKeys, Sshd, keygen, point_vm_at},
    tmux::TmuxServer,
};

const WAIT: Duration = Duration::from_secs(30);

fn ssh(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new("ssh")
        .arg("-F")
        .arg(config)
        .args(["-o", "BatchMode=yes"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn ssh_config_pins_the_host_key_the_agent_reports() {
    let authorized = authorized_keys_now();
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp().port();
    // The VM's tmux: one private server for its agent and for logins
    // through its sshd alike.
    let tmux = TmuxServer::new();
    let tmux_dir = tmux.tmpdir().to_path_buf();
    let _sshd = Sshd::start(dir.path(), port, &tmux_dir);
    let keys = AuthorizedKeys::keep();
    let mut env = Env::new();
    env.set_var("TMUX_TMPDIR", tmux.tmpdir().to_string_lossy());
    env.ok(&["new", "--name", "dev"]);
    env.ok(&["session", "dev", "box"]);
    // The VM's sshd: its port and host key, in the agent's config.
    point_vm_at(&env, "dev", dir.path(), port);

    let out = env.ok(&["ssh-config"]);
    assert!(out.contains("1 VM(s)"), "{out}");
    let config = env.home().join("ssh/config");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("Host dev box\n"), "{text}");
    assert!(text.contains("StrictHostKeyChecking yes"), "{text}");
    let known = std::fs::read_to_string(env.home().join("ssh/known_hosts")).unwrap();
    let host_pub = std::fs::read_to_string(dir.path().join("host_key.pub")).unwrap();
    let blob = host_pub.split_whitespace().nth(1).unwrap();
    assert!(
        known.contains(&format!("azlin-dev ssh-ed25519 {blob}")),
        "{known}"
    );

    // The first connection is already verified, by VM name or session name.
    for host in ["dev", "box"] {
        let out = ssh(&config, &[host, "echo", "via-ssh"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "via-ssh",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // A server presenting another key is refused, not learned.
    let other = dir.path().join("other");
    keygen(&other);
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let other_blob = other_pub.split_whitespace().nth(1).unwrap();
    std::fs::write(
        env.home().join("ssh/known_hosts"),
        known.replace(blob, other_blob),
    )
    .unwrap();
    let out = ssh(&config, &["dev", "true"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HOST IDENTIFICATION HAS CHANGED") || err.contains("verification failed"),
        "{err}"
    );

    // `connect --ssh` re-pins and opens tmux through OpenSSH, in the VM's
    // tmux server. (A name of this run's own: another run's leftovers in
    // the default server cannot make this pass or fail.)
    let session = format!("viassh-{}", std::process::id());
    let mut cmd = env.command(&["connect", "--ssh", "box", "--tmux", &session]);
    cmd.env("TERM", "xterm");
    let mut pty = Pty::spawn(cmd, 100, 30);
    let mark = pty.mark();
    pty.send("echo over-$((20+3))\r");
    pty.wait_for(mark, "over-23", WAIT);
    tmux.run(&["has-session", "-t", &format!("={session}")]);
    assert!(
        !in_default_tmux(&session),
        "{session} was made in the user's default tmux server"
    );
    std::thread::sleep(Duration::from_millis(100));
    pty.send("\x02d");
    assert_eq!(pty.wait_exit(WAIT).code(), Some(0), "{}", pty.screen());
    let known = std::fs::read_to_string(env.home().join("ssh/known_hosts")).unwrap();
    assert!(known.contains(blob), "{known}");

    let ours = std::fs::read_to_string(env.home().join("ssh/id_ed25519.pub")).unwrap();
    let keys_file = std::fs::read_to_string(keys.path()).unwrap_or_default();
    assert!(keys_file.contains(ours.trim()), "{keys_file}");

    // Cleanup, as when the test fails: the agents stop, the VM's tmux
    // server (with the session made over ssh) is killed, authorized_keys
    // is put back. Nothing of the run is left.
    drop(env);
    drop(tmux);
    drop(keys);
    assert!(!tmux_dir.exists(), "{} is left", tmux_dir.display());
    assert!(
        !in_default_tmux(&session),
        "{session} is left in the user's default tmux server"
    );
    assert_eq!(
        authorized_keys_now(),
        authorized,
        "~/.ssh/authorized_keys is not as it was"
    );
}

/// Whether the user's default tmux server (the one a login without
/// `TMUX_TMPDIR` uses) has a session named exactly `name`.
fn in_default_tmux(name: &str) -> bool {
    Command::new("tmux")
        .env_remove("TMUX_TMPDIR")
        .env_remove("TMUX")
        .args(["has-session", "-t", &format!("={name}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `~/.ssh` is there, and `~/.ssh/authorized_keys`' content if it is.
fn authorized_keys_now() -> (bool, Option<Vec<u8>>) {
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap();
    let ssh = me.dir.join(".ssh");
    (
        ssh.is_dir(),
        std::fs::read(ssh.join("authorized_keys")).ok(),
    )
}
