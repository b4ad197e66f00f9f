//! `azlin keys rotate` on docker VMs, which run a real sshd: the new key
//! is authorized through the agent, proven by a real ssh login, and only
//! then the old key is removed; a VM whose sshd is down keeps its old key
//! (the new one taken off it again) and is reported, `ssh-config` going on
//! using the old key for it; a local VM is refused with the reason; the
//! old private key is kept 0600; a second rotation moves the VM left
//! behind from its old key to the newest. `keys list`, `export`, `backup`.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Command, time::Duration};

use azlin_e2e::docker::{DockerEnv, image};

const WAIT: Duration = Duration::from_secs(120);

fn ssh_login(config: &Path, vm: &str) -> bool {
    Command::new("ssh")
        .arg("-F")
        .arg(config)
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=15", vm, "true"])
        .stdin(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn the_key_is_rotated_only_where_a_login_proves_it() {
    let Some(image) = image() else {
        return;
    };
    let env = DockerEnv::new(&image);
    env.ok(&["new", "--provider", "docker", "--name", "k", "--pool", "2"]);
    env.ok(&["new", "--provider", "local", "--name", "lv"]);
    env.wait("connected", WAIT, || {
        env.connected("k-1") && env.connected("k-2") && env.connected("lv")
    });
    let ssh_dir = env.home().join("ssh");
    let config = ssh_dir.join("config");
    let public = || std::fs::read_to_string(ssh_dir.join("id_ed25519.pub")).unwrap();
    let authorized = |vm: &str| env.exec(vm, "cat /home/azureuser/.ssh/authorized_keys");
    let first = public();
    env.ok(&["ssh-config", "--vm", "k-1", "--vm", "k-2"]);
    assert!(ssh_login(&config, "k-1") && ssh_login(&config, "k-2"));

    // k-2's sshd is down: its login cannot prove the new key.
    env.exec("k-2", "systemctl stop ssh.socket ssh.service");
    let out = env.run(&["keys", "rotate", "--vm", "k-1", "--vm", "k-2", "--vm", "lv"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("on 1 VM(s): k-1"), "{stdout}");
    assert!(
        stderr.contains("k-2: keeps its old key: the login with the new key failed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("lv: keeps its old key: local VMs have no sshd of their own"),
        "{stderr}"
    );
    let second = public();
    assert_ne!(first, second);
    assert_eq!(
        authorized("k-1").trim(),
        second.trim(),
        "only the new key on k-1"
    );
    assert_eq!(authorized("k-2").trim(), first.trim(), "k-2 is as it was");

    // The old pair is kept, private; ssh-config uses the new key for k-1
    // and the old one for k-2 at once.
    let backups: Vec<_> = std::fs::read_dir(ssh_dir.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let mode = std::fs::metadata(&backups[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        std::fs::read_to_string(backups[0].with_extension("pub")).unwrap(),
        first
    );
    assert!(ssh_login(&config, "k-1"));
    env.exec(
        "k-2",
        "systemctl start ssh.socket ssh.service || systemctl start ssh",
    );
    assert!(ssh_login(&config, "k-2"), "k-2 is reached with its old key");
    let list = env.ok(&["keys", "list"]);
    assert!(list.contains("still on: k-2"), "{list}");

    // Rotated again, k-2 moves from its old key to the newest.
    let out = env.ok(&["keys", "rotate", "--vm", "k-2"]);
    assert!(out.contains("on 1 VM(s): k-2"), "{out}");
    let third = public();
    assert_eq!(authorized("k-2").trim(), third.trim());
    assert_eq!(authorized("k-1").trim(), second.trim(), "k-1 untouched");
    let list = env.ok(&["keys", "list"]);
    assert!(!list.contains("k-2"), "{list}");
    assert!(ssh_login(&config, "k-2"));

    assert_eq!(env.ok(&["keys", "export"]).trim(), third.trim());
    let to = tempfile::tempdir().unwrap();
    let dest = to.path().join("keys");
    env.ok(&["keys", "backup", "--to", dest.to_str().unwrap()]);
    let mode = std::fs::metadata(dest.join("id_ed25519"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let err = env.fails(&["keys", "backup", "--to", dest.to_str().unwrap()]);
    assert!(err.contains("never overwrites"), "{err}");
}
