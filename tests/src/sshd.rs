//! A private OpenSSH server on loopback for tests and benchmarks: its own
//! host key, its own port, its logins' tmux in a private `TMUX_TMPDIR`,
//! killed on drop. Needs Debian's openssh-server. [`AuthorizedKeys`] puts
//! the user's `~/.ssh/authorized_keys` back as it was after a test that
//! has azlin authorize its key.

use std::{
    path::{Path, PathBuf},
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
    /// key logins only. Every login it starts gets
    /// `TMUX_TMPDIR=tmux_tmpdir` (sshd's `SetEnv`, which wins over anything
    /// the client sends), so a `tmux` run over ssh — `azlin connect --ssh`
    /// runs `tmux new-session -A` — uses the test's private tmux server
    /// (for example a [`crate::tmux::TmuxServer`]'s), never the user's
    /// default one, and the test's cleanup ends it.
    pub fn start(dir: &Path, port: u16, tmux_tmpdir: &Path) -> Self {
        Self::start_at(
            dir,
            "127.0.0.1",
            port,
            tmux_tmpdir,
            Command::new("/usr/sbin/sshd"),
        )
    }

    /// The same on `addr`, started by `sshd` (`/usr/sbin/sshd` itself, or
    /// run through `ip netns exec NS`), which the test must be able to
    /// reach from where it runs only when `addr` is loopback.
    pub fn start_at(
        dir: &Path,
        addr: &str,
        port: u16,
        tmux_tmpdir: &Path,
        mut sshd: Command,
    ) -> Self {
        keygen(&dir.join("host_key"));
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress {addr}\nHostKey {}\nPidFile {}\nUsePAM no\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nStrictModes no\n\
                 SetEnv TMUX_TMPDIR={}\nSubsystem sftp /usr/lib/openssh/sftp-server\n",
                dir.join("host_key").display(),
                dir.join("sshd.pid").display(),
                tmux_tmpdir.display()
            ),
        )
        .unwrap();
        // sshd's privilege separation needs this folder.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = sshd
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd (openssh-server) is installed");
        let sshd = Sshd(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        if addr != "127.0.0.1" {
            // In another namespace: its pid file says it is listening.
            while !dir.join("sshd.pid").exists() {
                assert!(Instant::now() < deadline, "sshd did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            return sshd;
        }
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        sshd
    }
}

/// The current user's `~/.ssh/authorized_keys` (which `azlin ssh-config`
/// and `azlin connect --ssh` add azlin's key to, through a local VM's
/// agent) as it was when [`AuthorizedKeys::keep`] ran, put back on drop,
/// also when the test fails: the same content if the file was there;
/// otherwise the file is removed, and `~/.ssh` too if it was not there
/// either (only when empty: nothing else in it is touched).
pub struct AuthorizedKeys {
    ssh_dir: PathBuf,
    ssh_dir_existed: bool,
    before: Option<Vec<u8>>,
}

impl AuthorizedKeys {
    pub fn keep() -> Self {
        let me = nix::unistd::User::from_uid(nix::unistd::getuid())
            .unwrap()
            .expect("the current user has a passwd entry");
        let ssh_dir = me.dir.join(".ssh");
        Self {
            ssh_dir_existed: ssh_dir.is_dir(),
            before: std::fs::read(ssh_dir.join("authorized_keys")).ok(),
            ssh_dir,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.ssh_dir.join("authorized_keys")
    }
}

impl Drop for AuthorizedKeys {
    fn drop(&mut self) {
        match &self.before {
            Some(keys) => {
                let _ = std::fs::write(self.path(), keys);
            }
            None => {
                let _ = std::fs::remove_file(self.path());
                if !self.ssh_dir_existed {
                    // Fails, leaving it, if anything else is in it now.
                    let _ = std::fs::remove_dir(&self.ssh_dir);
                }
            }
        }
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
