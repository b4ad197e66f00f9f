//! The agent's config file (TOML), read once at start.
//!
//! ```toml
//! name = "vm-1"                       # this VM's name in the fleet
//! state_dir = "/var/lib/azlin-agent"  # key and certificate live here
//! ca_cert = "/etc/azlin/ca.crt"       # the fleet CA certificate (PEM)
//! join_token_file = "/etc/azlin/join-token"  # needed until enrolled
//! user = "azureuser"                  # the VM user: commands run as them
//!                                     # and their tmux sessions are shown
//!                                     # (default: the agent's own user; an
//!                                     # agent running as root runs commands
//!                                     # only if this says so, even "root")
//!
//! [connect]
//! mode = "listen"                     # or "dial"
//! listen = "0.0.0.0:47800"            # listen mode: UDP address
//! # controller = "203.0.113.5:47801"  # dial mode: the controller's address
//!
//! [telemetry]
//! interval_ms = 1000                  # how often a sample is pushed
//! # tmux = "/usr/bin/tmux"            # the tmux binary (default: from PATH)
//!
//! [exec]
//! # audit_log = "/var/log/azlin-agent/audit.log"  # default: state_dir/audit.log
//!
//! [files]                             # where `azlin cp` and `sync` may write
//! roots = ["~", "/tmp"]               # ~ is the VM user's home
//! # home = "/srv/vm-home"             # where ~ points for files (default:
//!                                     # the VM user's home)
//!
//! [ssh]                               # what `azlin ssh-config` learns
//! port = 22                           # where this VM's sshd listens
//! host_keys = ["/etc/ssh/ssh_host_ed25519_key.pub"]  # default: the
//!                                     # ed25519, ecdsa and rsa keys there
//! ```

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use azlin_protocol::telemetry::{MAX_INTERVAL_MS, MIN_INTERVAL_MS};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub name: String,
    pub state_dir: PathBuf,
    pub ca_cert: PathBuf,
    #[serde(default)]
    pub join_token_file: Option<PathBuf>,
    /// The VM user (see the module docs).
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub connect: Connect,
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    #[serde(default)]
    pub exec: ExecConfig,
    #[serde(default)]
    pub ssh: SshConfig,
    #[serde(default)]
    pub files: FilesConfig,
}

/// Where the controller may put files (`azlin cp`, `sync`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// Absolute folders, or `~` (the VM user's home) and `~/…`.
    #[serde(default = "default_file_roots")]
    pub roots: Vec<String>,
    /// Where `~` points for files; default the VM user's home. A local VM
    /// (an agent on the developer's own machine) has a folder of its own,
    /// so `azlin sync` never writes over the developer's real dotfiles.
    #[serde(default)]
    pub home: Option<std::path::PathBuf>,
}

fn default_file_roots() -> Vec<String> {
    vec!["~".into(), "/tmp".into()]
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            roots: default_file_roots(),
            home: None,
        }
    }
}

/// The VM's sshd, as reported to the controller over the authenticated
/// channel so it can pin the host keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshConfig {
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    #[serde(default = "default_host_keys")]
    pub host_keys: Vec<PathBuf>,
}

fn default_ssh_port() -> u16 {
    22
}

fn default_host_keys() -> Vec<PathBuf> {
    ["ed25519", "ecdsa", "rsa"]
        .iter()
        .map(|k| PathBuf::from(format!("/etc/ssh/ssh_host_{k}_key.pub")))
        .collect()
}

impl Default for SshConfig {
    fn default() -> Self {
        Self {
            port: default_ssh_port(),
            host_keys: default_host_keys(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// Where every command run is recorded; default `state_dir/audit.log`.
    #[serde(default)]
    pub audit_log: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u32,
    #[serde(default = "default_tmux")]
    pub tmux: PathBuf,
}

fn default_interval_ms() -> u32 {
    1000
}

fn default_tmux() -> PathBuf {
    PathBuf::from("tmux")
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            interval_ms: default_interval_ms(),
            tmux: default_tmux(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase", tag = "mode")]
pub enum Connect {
    /// Wait for the controller to dial in.
    Listen {
        #[serde(default = "default_listen")]
        listen: SocketAddr,
    },
    /// Dial out to the controller (private networks).
    Dial { controller: String },
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], azlin_protocol::DEFAULT_AGENT_PORT))
}

impl Default for Connect {
    fn default() -> Self {
        Connect::Listen {
            listen: default_listen(),
        }
    }
}

impl AgentConfig {
    pub fn audit_log(&self) -> PathBuf {
        self.exec
            .audit_log
            .clone()
            .unwrap_or_else(|| self.state_dir.join("audit.log"))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read agent config {}", path.display()))?;
        let config: AgentConfig = toml::from_str(&text)
            .with_context(|| format!("agent config {} is invalid", path.display()))?;
        azlin_protocol::pki::check_vm_name(&config.name)
            .with_context(|| format!("agent config {}: field `name`", path.display()))?;
        let interval = config.telemetry.interval_ms;
        if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&interval) {
            bail!(
                "agent config {}: telemetry.interval_ms must be between {MIN_INTERVAL_MS} and {MAX_INTERVAL_MS}, not {interval}",
                path.display()
            );
        }
        if let Connect::Dial { controller } = &config.connect
            && controller.trim().is_empty()
        {
            bail!(
                "agent config {}: dial mode needs `controller = \"host:port\"`",
                path.display()
            );
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AgentConfig> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("agent.toml");
        std::fs::write(&p, text).unwrap();
        AgentConfig::load(&p)
    }

    #[test]
    fn listen_is_the_default_on_the_documented_port() {
        let c = parse("name='vm-1'\nstate_dir='/s'\nca_cert='/c'\n").unwrap();
        match c.connect {
            Connect::Listen { listen } => assert_eq!(listen.port(), 47800),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dial_mode_and_errors() {
        let c = parse(
            "name='a'\nstate_dir='/s'\nca_cert='/c'\n[connect]\nmode='dial'\ncontroller='h:1'\n",
        )
        .unwrap();
        assert!(matches!(c.connect, Connect::Dial { .. }));
        let e = parse("name='a'\nstate_dir='/s'\nca_cert='/c'\nbogus=1\n").unwrap_err();
        assert!(format!("{e:#}").contains("bogus"), "{e:#}");
        let e = parse("name='a'\nstate_dir='/s'\nca_cert='/c'\n[telemetry]\ninterval_ms=5\n")
            .unwrap_err();
        assert!(format!("{e:#}").contains("interval_ms"), "{e:#}");
        let e = parse("name='A B'\nstate_dir='/s'\nca_cert='/c'\n").unwrap_err();
        assert!(format!("{e:#}").contains("name"), "{e:#}");
    }
}
