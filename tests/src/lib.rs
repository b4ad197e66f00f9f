//! Harness for the end-to-end tests: each test gets its own `AZLIN_HOME`
//! and drives the real `azlin` and `azlin-agent` binaries built by the same
//! `cargo test` run. [`peer`] builds hand-crafted QUIC peers for the
//! hostile-input tests, [`sim`] runs simulated agents in-process.

pub mod arm;
pub mod docker;
pub mod entra;
pub mod flood;
pub mod git_http;
pub mod nfs_probe;
pub mod peer;
pub mod proc_stats;
pub mod pty;
pub mod sim;
pub mod sshd;
pub mod tmux;
pub mod wan;
pub mod wan_vm;
pub mod webhook;

use std::{
    net::{SocketAddr, UdpSocket},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

/// A binary of this workspace in `target/<profile>/`, found from the running
/// test (in `deps/`) or tool (beside them).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let mut dir = exe.parent().expect("executable folder").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `bash tests/run-all` (or `cargo test --workspace`) so it is built",
        path.display()
    );
    path
}

/// One private controller home and the processes started for it.
pub struct Env {
    home: tempfile::TempDir,
    pub listen: Option<SocketAddr>,
    /// Extra environment for every `azlin` run (and so for the daemon and
    /// the agents it starts).
    vars: Vec<(String, String)>,
    /// A program every `azlin` run goes through (`ip netns exec NS`).
    wrap: Vec<String>,
}

/// A free UDP port on loopback.
pub fn free_udp() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A free TCP port on loopback.
pub fn free_tcp() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `GET path` from a loopback HTTP server: (status line, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    try_http_get(addr, path).expect("GET from the HTTP server")
}

/// [`http_get`] for a server that may not be up yet.
pub fn try_http_get(addr: SocketAddr, path: &str) -> std::io::Result<(String, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    ))
}

impl Env {
    pub fn new() -> Self {
        let home = tempfile::Builder::new()
            .prefix("azlin-e2e-")
            .tempdir()
            .unwrap();
        Self {
            home,
            listen: None,
            vars: Vec::new(),
            wrap: Vec::new(),
        }
    }

    /// A home whose daemon also listens for dial-mode agents.
    pub fn with_listener() -> Self {
        let mut env = Self::new();
        let addr = free_udp();
        std::fs::write(
            env.home().join("config.toml"),
            format!("[daemon]\nlisten = \"{addr}\"\n"),
        )
        .unwrap();
        env.listen = Some(addr);
        env
    }

    /// Set an environment variable for the daemon and agents (before the
    /// first command starts the daemon).
    pub fn set_var(&mut self, key: &str, value: impl Into<String>) {
        self.vars.push((key.to_string(), value.into()));
    }

    /// Replace `alerts.toml` in one step, as an editor saving it would (a
    /// running daemon watches it and must never read half of it).
    pub fn write_alert_rules(&self, text: &str) {
        azlin_protocol::secret_file::write_atomic(
            &self.home().join("alerts.toml"),
            text.as_bytes(),
            0o600,
        )
        .unwrap();
    }

    /// Add lines to `config.toml`.
    pub fn configure(&self, toml: &str) {
        let path = self.home().join("config.toml");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(toml);
        std::fs::write(path, text).unwrap();
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn vm_dir(&self, vm: &str) -> PathBuf {
        self.home().join("local").join(vm)
    }

    /// Run every `azlin` (and so the daemon it starts) through `prefix`,
    /// for example `ip netns exec NS` (before the first command).
    pub fn wrap(&mut self, prefix: &[&str]) {
        self.wrap = prefix.iter().map(|s| s.to_string()).collect();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = match self.wrap.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(bin("azlin"));
                c
            }
            None => Command::new(bin("azlin")),
        };
        c.args(args)
            .env("AZLIN_HOME", self.home())
            .env("AZLIN_AGENT_BIN", bin("azlin-agent"))
            .env_remove("AZLIN_LOG")
            .stdin(Stdio::null());
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run azlin")
    }

    /// Run `azlin ARGS`, require success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "azlin {args:?} failed: {}\n--- daemon log ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.daemon_log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run `azlin ARGS`, require failure, return stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "azlin {args:?} should have failed");
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn list(&self) -> Vec<Value> {
        serde_json::from_str(&self.ok(&["list", "--json"])).unwrap()
    }

    pub fn vm(&self, name: &str) -> Value {
        serde_json::from_str(&self.ok(&["status", name, "--json"])).unwrap()
    }

    pub fn connected(&self, name: &str) -> bool {
        self.vm(name)["connected"] == Value::Bool(true)
    }

    /// The serial of the certificate `state.db` holds as `vm`'s current
    /// one (`None`: not enrolled).
    pub fn cert_serial(&self, vm: &str) -> Option<String> {
        azlin_controller::state::Db::open(&self.home().join("state.db"))
            .expect("state.db opens")
            .vm(vm)
            .expect("state.db reads")
            .unwrap_or_else(|| panic!("no VM {vm} in state.db"))
            .cert_serial
    }

    /// `azlin top --json`: every VM with its newest figures.
    pub fn top(&self) -> Vec<Value> {
        serde_json::from_str(&self.ok(&["top", "--json"])).unwrap()
    }

    /// One VM of [`Env::top`].
    pub fn top_of(&self, vm: &str) -> Value {
        let fleet = self.top();
        fleet
            .iter()
            .find(|v| v["vm"] == vm)
            .unwrap_or_else(|| panic!("{vm} missing from top: {fleet:?}"))
            .clone()
    }

    pub fn daemon_status(&self) -> Value {
        serde_json::from_str(&self.ok(&["daemon", "status", "--json"])).unwrap()
    }

    /// The fleet as it matters for "nothing changed": names, enrollment,
    /// connection, reconnect counts, issued certificates.
    pub fn fleet_fingerprint(&self) -> Value {
        let vms: Vec<Value> = self
            .list()
            .into_iter()
            .map(|v| {
                serde_json::json!([
                    v["name"],
                    v["enrolled"],
                    v["connected"],
                    v["reconnects"],
                    v["address"]
                ])
            })
            .collect();
        serde_json::json!({"vms": vms, "certs": self.daemon_status()["certificates_issued"]})
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.home().join("logs/daemon.log")).unwrap_or_default()
    }

    /// How many times `vm`'s agent connected, by the daemon's log.
    pub fn links(&self, vm: &str) -> usize {
        self.daemon_log()
            .matches(&format!("agent connected vm={vm} "))
            .count()
    }

    /// The file named `name` somewhere under a local VM's folder (its
    /// agent's state folder, say), if there is one.
    pub fn vm_file(&self, vm: &str, name: &str) -> Option<PathBuf> {
        let mut stack = vec![self.vm_dir(vm)];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).ok()?.flatten() {
                let p = e.path();
                if p.is_dir() && !p.is_symlink() {
                    stack.push(p);
                } else if p.file_name().is_some_and(|n| n == name) {
                    return Some(p);
                }
            }
        }
        None
    }

    pub fn agent_log(&self, vm: &str) -> String {
        std::fs::read_to_string(self.vm_dir(vm).join("agent.log")).unwrap_or_default()
    }

    /// Wait up to `timeout` for `cond`; panic with `what` and the logs.
    pub fn wait(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> Duration {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if cond() {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "timed out waiting for {what}\n--- daemon log ---\n{}",
            self.daemon_log()
        );
    }

    /// Pids of processes whose command line mentions this home.
    pub fn pids_mentioning(&self, needle: &str) -> Vec<i32> {
        pids_where(|cmdline| String::from_utf8_lossy(cmdline).contains(needle))
    }

    pub fn agent_pid(&self, vm: &str) -> Option<i32> {
        let config = self.vm_dir(vm).join("agent.toml");
        self.pids_mentioning(&config.to_string_lossy())
            .first()
            .copied()
    }

    pub fn daemon_pid(&self) -> Option<i32> {
        self.daemon_status()["pid"].as_i64().map(|p| p as i32)
    }

    /// Start a VM's agent by hand, as systemd would restart it.
    pub fn spawn_agent(&self, vm: &str) -> Child {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.vm_dir(vm).join("agent.log"))
            .unwrap();
        Command::new(bin("azlin-agent"))
            .args(["run", "--config"])
            .arg(self.vm_dir(vm).join("agent.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

/// Pids of the processes whose raw `/proc/PID/cmdline` (arguments separated
/// by NUL bytes) `wanted` accepts.
pub fn pids_where(wanted: impl Fn(&[u8]) -> bool) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if wanted(&cmd) {
            pids.push(pid);
        }
    }
    pids
}

pub fn kill9(pid: i32) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(Some(pid)) = std::panic::catch_unwind(|| self.daemon_pid()) {
            kill9(pid);
        }
        for pid in self.pids_mentioning(&self.home().to_string_lossy()) {
            kill9(pid);
        }
    }
}
