//! The local provider: a "VM" is an `azlin-agent` process on this machine
//! with its own folder `~/.azlin/local/<vm>/` (config, CA, join token, key,
//! certificate, log). It needs nothing installed and runs the same
//! enrollment as a cloud VM. Agents run in their own process group, so they
//! outlive the daemon, as real VMs would.

mod snapshot;

use std::{
    net::UdpSocket,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use azlin_protocol::secret_file::write_atomic;
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use serde::{Deserialize, Serialize};

use super::{
    AgentConnect, Capabilities, Kind, NewStyle, Provider, Provisioned, Stage, Started, VmSpec, Work,
};
use crate::{azure::context::AzureContext, home::Home, state::VmRow};

/// A local VM is a process: no allocation, no size, no cloud, no
/// development tools to install (it runs on this machine's).
pub const CAPABILITIES: Capabilities = Capabilities {
    new: NewStyle::Provision,
    max_pool: 100,
    power: true,
    keep_allocated: false,
    resize: false,
    dial: true,
    dev_tools: false,
    azure_target: false,
    machine: false,
    adopt: false,
    agent_upgrade: false,
    cost: false,
    storage: false,
    snapshots: true,
    clone: true,
    own_sshd: false,
    cloud_init: false,
};

pub struct LocalProvider {
    home: Home,
    agent_bin: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LocalData {
    pid: Option<i32>,
}

/// Find `azlin-agent`: `$AZLIN_AGENT_BIN`, next to this executable, or PATH.
pub fn find_agent_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("AZLIN_AGENT_BIN") {
        return Ok(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let sibling = dir.join("azlin-agent");
        if sibling.is_file() {
            return Ok(sibling);
        }
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let candidate = dir.join("azlin-agent");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "cannot find the azlin-agent binary: build it (`cargo build --release`), put it next to \
         azlin or on PATH, or set AZLIN_AGENT_BIN"
    )
}

impl LocalProvider {
    pub fn new(home: Home) -> Result<Self> {
        // Resolved lazily so a daemon without local VMs needs no agent binary.
        let agent_bin = find_agent_binary().unwrap_or_default();
        Ok(Self { home, agent_bin })
    }

    /// The VM's folder.
    pub fn vm_dir(&self, vm: &str) -> Result<PathBuf> {
        self.home.local_vm_dir(vm)
    }

    fn config_path(dir: &Path) -> PathBuf {
        dir.join("agent.toml")
    }

    /// Set up the VM's folder and start its agent.
    pub async fn create(&self, spec: &VmSpec) -> Result<Provisioned> {
        let dir = self.home.local_vm_dir(&spec.name)?;
        if dir.exists() {
            bail!(
                "{} already exists; remove it or pick another name",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir.join("state"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let (connect, address) = match &spec.connect {
            AgentConnect::Listen => {
                let addr = free_udp_address()?;
                (
                    format!("[connect]\nmode = \"listen\"\nlisten = \"{addr}\"\n"),
                    Some(addr),
                )
            }
            AgentConnect::Dial { controller } => (
                format!("[connect]\nmode = \"dial\"\ncontroller = \"{controller}\"\n"),
                None,
            ),
        };
        write_atomic(&dir.join("ca.crt"), spec.ca_pem.as_bytes(), 0o644)?;
        write_atomic(
            &dir.join("join-token"),
            spec.token.to_string().as_bytes(),
            0o600,
        )?;
        // A local VM's user is whoever runs azlin: commands run as them.
        let user = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .context("the current user has no passwd entry")?
            .name;
        // The VM's `~` is its own folder, not the user's real home: files
        // sent there (`azlin sync` too), commands and terminals all agree.
        // And its own tmux server, not the user's (see the agent config).
        let home = dir.join("home");
        match &spec.source {
            // A clone: its own copy of the source's home.
            Some(source) => {
                let source: snapshot::LocalCloneSource =
                    serde_json::from_str(source).context("a clone's source is not a local VM's")?;
                snapshot::copy_tree(&source.dir.join("home"), &home).await?;
            }
            None => std::fs::create_dir_all(&home)
                .with_context(|| format!("cannot create {}", home.display()))?,
        }
        let config = format!(
            "name = \"{}\"\nuser = \"{user}\"\nhome = \"{}\"\nstate_dir = \"{}\"\nca_cert = \"{}\"\njoin_token_file = \"{}\"\n\n{connect}\n[telemetry]\ntmux_server = \"azlin-{}\"\n",
            spec.name,
            home.display(),
            dir.join("state").display(),
            dir.join("ca.crt").display(),
            dir.join("join-token").display(),
            spec.name,
        );
        write_atomic(&Self::config_path(&dir), config.as_bytes(), 0o600)?;
        let pid = self.spawn(&dir)?;
        Ok(Provisioned {
            address,
            provider_data: serde_json::to_string(&LocalData { pid: Some(pid) })?,
        })
    }

    fn spawn(&self, dir: &Path) -> Result<i32> {
        if self.agent_bin.as_os_str().is_empty() {
            find_agent_binary()?;
        }
        use std::os::unix::fs::OpenOptionsExt;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(dir.join("agent.log"))?;
        let mut child = tokio::process::Command::new(&self.agent_bin)
            .env(
                azlin_protocol::log_file::LOG_FILE_ENV,
                dir.join("agent.log"),
            )
            .arg("run")
            .arg("--config")
            .arg(Self::config_path(dir))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", self.agent_bin.display()))?;
        let pid = child.id().context("agent exited at once")? as i32;
        // The agent outlives this call (and the daemon); waiting for it in
        // the background reaps it when it exits, so no zombie is left.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(pid)
    }

    /// Is this VM's agent process alive (and really ours)?
    pub fn is_running(&self, vm: &VmRow) -> bool {
        self.live_pid(vm).is_some()
    }

    fn live_pid(&self, vm: &VmRow) -> Option<i32> {
        let data: LocalData = serde_json::from_str(&vm.provider_data).unwrap_or_default();
        let pid = data.pid?;
        let dir = self.home.local_vm_dir(&vm.name).ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        let ours = cmdline.contains("azlin-agent")
            && cmdline.contains(&*Self::config_path(&dir).to_string_lossy());
        ours.then_some(pid)
    }

    /// Start the agent again; returns new provider data.
    pub fn start(&self, vm: &VmRow) -> Result<String> {
        if self.is_running(vm) {
            return Ok(vm.provider_data.clone());
        }
        let dir = self.home.local_vm_dir(&vm.name)?;
        let pid = self.spawn(&dir)?;
        Ok(serde_json::to_string(&LocalData { pid: Some(pid) })?)
    }

    /// Stop the agent: SIGTERM, then SIGKILL if it lingers.
    pub async fn stop(&self, vm: &VmRow) -> Result<()> {
        let Some(pid) = self.live_pid(vm) else {
            return Ok(());
        };
        let pid = Pid::from_raw(pid);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if self.live_pid(vm).is_none() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = kill(pid, Signal::SIGKILL);
        Ok(())
    }

    /// Stop the agent and remove the VM's folder.
    pub async fn delete(&self, vm: &VmRow) -> Result<()> {
        self.stop(vm).await?;
        snapshot::remove_tree(&self.home.local_vm_dir(&vm.name)?)
    }

    /// The last lines of the VM's agent log, for error messages.
    pub fn log_tail(&self, vm: &str) -> String {
        let Ok(dir) = self.home.local_vm_dir(vm) else {
            return String::new();
        };
        crate::log_tail::last_lines(&dir.join("agent.log"), 5).join("\n")
    }
}

impl Provider for LocalProvider {
    fn kind(&self) -> Kind {
        Kind::Local
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn ready_timeout(&self, _pool: u32) -> Duration {
        // A local agent is up at once.
        Duration::from_secs(30)
    }

    fn create<'a>(
        &'a self,
        spec: &'a VmSpec,
        _azure: &'a AzureContext,
        _stage: Stage<'a>,
    ) -> Work<'a, Result<Provisioned>> {
        Box::pin(self.create(spec))
    }

    fn start<'a>(&'a self, vm: &'a VmRow, _azure: &'a AzureContext) -> Work<'a, Result<Started>> {
        Box::pin(async move {
            Ok(Started {
                provider_data: self.start(vm)?,
                address: None,
            })
        })
    }

    fn stop<'a>(
        &'a self,
        vm: &'a VmRow,
        _keep_allocated: bool,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(self.stop(vm))
    }

    fn delete<'a>(&'a self, vm: &'a VmRow, _azure: &'a AzureContext) -> Work<'a, Result<()>> {
        Box::pin(self.delete(vm))
    }

    fn deletions(&self, vm: &VmRow) -> Result<Vec<String>> {
        Ok(vec![
            format!("agent process of {}", vm.name),
            format!("folder {}", self.vm_dir(&vm.name)?.display()),
        ])
    }

    fn is_alive(&self, vm: &VmRow) -> Option<bool> {
        Some(self.is_running(vm))
    }

    fn log_tail<'a>(&'a self, vm: &'a VmRow) -> Work<'a, String> {
        Box::pin(async move { self.log_tail(&vm.name) })
    }

    fn created_word(&self) -> &'static str {
        "agent started"
    }

    fn snapshots(&self) -> Option<&dyn super::snapshots::Snapshots> {
        Some(self)
    }
}

/// A free UDP port on loopback for a new agent.
fn free_udp_address() -> Result<String> {
    let socket = UdpSocket::bind("127.0.0.1:0").context("cannot find a free UDP port")?;
    Ok(socket.local_addr()?.to_string())
}
