//! A private OpenSSH server on loopback for tests and benchmarks: its own
//! host key, its own port, killed on drop. Needs Debian's openssh-server.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Make an ed25519 key pair at `path` (and `path.pub`).
pub fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client) is installed")
        .success();
    assert!(ok, "ssh-keygen failed");
}

impl Sshd {
    /// sshd on 127.0.0.1:`port` with a new host key at `dir/host_key`,
    /// key logins only, accepting `TMUX_TMPDIR` from clients.
    pub fn start(dir: &Path, port: u16) -> Self {
        keygen(&dir.join("host_key"));
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nStrictModes no\n\
                 AcceptEnv TMUX_TMPDIR\nSubsystem sftp /usr/lib/openssh/sftp-server\n",
                dir.join("host_key").display(),
                dir.join("sshd.pid").display()
            ),
        )
        .unwrap();
        // sshd's privilege separation needs this folder.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd (openssh-server) is installed");
        let sshd = Sshd(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        sshd
    }
}

/// Tell local VM `vm`'s agent about the sshd started in `dir` on `port`
/// (its `[ssh]` port and host key, what `azlin ssh-config` pins), and
/// restart the agent so it takes them; returns once it is connected.
pub fn point_vm_at(env: &crate::Env, vm: &str, dir: &Path, port: u16) {
    env.ok(&["stop", vm]);
    let agent_toml = env.vm_dir(vm).join("agent.toml");
    let mut text = std::fs::read_to_string(&agent_toml).unwrap();
    text.push_str(&format!(
        "\n[ssh]\nport = {port}\nhost_keys = [\"{}\"]\n",
        dir.join("host_key.pub").display()
    ));
    std::fs::write(&agent_toml, text).unwrap();
    env.ok(&["start", vm]);
    env.wait(&format!("{vm} is back"), Duration::from_secs(30), || {
        env.connected(vm)
    });
}
