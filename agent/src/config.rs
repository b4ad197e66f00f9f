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
//! # home = "/srv/vm-home"             # the VM user's `~` (default: their
//!                                     # home in passwd)
//! # shared_home = "srv:/home"         # NFS export mounted as the user's
//!                                     # passwd home (`new --nfs-storage`)
//!
//! [connect]
//! mode = "listen"                     # or "dial"
//! listen = "0.0.0.0:47800"            # listen mode: UDP address
//! # controller = "203.0.113.5:47801"  # dial mode: the controller's address
//!
//! [telemetry]
//! interval_ms = 1000                  # how often a sample is pushed
//! # tmux = "/usr/bin/tmux"            # the tmux binary (default: from PATH)
//! # tmux_server = "azlin-vm-1"        # a tmux server of this VM's own
//!                                     # (default: the user's usual one)
//!
//! [exec]
//! # audit_log = "/var/log/azlin-agent/audit.log"  # default: state_dir/audit.log
//!
//! [files]                             # where `azlin cp` and `sync` may write
//! roots = ["~", "/tmp"]               # ~ is the VM user's home
//!
//! [ssh]                               # what `azlin ssh-config` learns
//! port = 22                           # where this VM's sshd listens
//! host_keys = ["/etc/ssh/ssh_host_ed25519_key.pub"]  # default: the
//!                                     # ed25519, ecdsa and rsa keys there
//! ```
//!
//! **`home`** is where `~` is, for everything the agent does as the VM
//! user: files sent to `~` land there, and commands and terminals run with
//! it as `HOME` and start in it (the rest of their environment is what sshd
//! would give). A VM normally leaves it out: `~` is the user's home from
//! passwd. A local VM (an agent on the developer's own machine, as its own
//! user) sets it to its own folder, so that `azlin cp f vm:~/x`,
//! `azlin -- cat ~/x` and `azlin connect` agree, and `azlin sync` never
//! writes over the developer's real dotfiles. It is top-level, not under
//! `[files]`, because it is not only about files; `[files] home`, where it
//! used to be, is still read as the same setting.
//!
//! **`shared_home`** puts the VM user's passwd home on shared NFS storage:
//! the agent mounts it there at its start, in the background, and reports
//! how it went ([`crate::mount::home`]). cloud-init writes it for
//! `azlin new --nfs-storage`.
//!
//! **`[telemetry] tmux_server`** gives the VM a tmux server of its own:
//! every tmux the agent runs (the session list in telemetry, the terminal of
//! `azlin connect`) gets `-L NAME`, a socket of that name in tmux's own
//! folder (`$TMUX_TMPDIR/tmux-UID/`). A socket name, not a path (`-S`): a
//! socket path longer than about 107 bytes cannot be used, and homes under
//! temporary folders are long. Commands reach the same server: the agent
//! writes a `tmux` wrapper into `state_dir/bin/` that adds `-L NAME` and
//! puts that folder first on the commands' `PATH` (see
//! [`crate::tmux_server`]). A local VM sets `azlin-<name>`, so several
//! local VMs and the developer's own tmux never see each other's sessions.
//! The name may hold letters, digits, `.`, `_` and `-` (not first), at most
//! [`crate::tmux_server::MAX_NAME`] bytes.

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
    /// The VM user's `~`, when not their passwd home (see the module docs).
    /// After [`AgentConfig::load`] it also holds an older `[files] home`,
    /// and `files.home` holds it.
    #[serde(default)]
    pub home: Option<PathBuf>,
    /// An NFS export (`HOST:/PATH`) to mount as the VM user's home at the
    /// agent's start (see the module docs).
    #[serde(default)]
    pub shared_home: Option<String>,
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
    /// The older spelling of the top-level `home`; [`AgentConfig::load`]
    /// makes the two the same, and files read `~` from here.
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
    /// This VM's own tmux server (`tmux -L NAME`), see the module docs.
    #[serde(default)]
    pub tmux_server: Option<String>,
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
            tmux_server: None,
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
        let mut config: AgentConfig = toml::from_str(&text)
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
        match (&config.home, &config.files.home) {
            (Some(top), Some(files)) if top != files => bail!(
                "agent config {}: `home` and `[files] home` differ; they are the same setting, \
                 keep only `home`",
                path.display()
            ),
            (None, Some(files)) => config.home = Some(files.clone()),
            _ => {}
        }
        if let Some(home) = &config.home
            && !home.is_absolute()
        {
            bail!(
                "agent config {}: `home` must be an absolute path, not {}",
                path.display(),
                home.display()
            );
        }
        config.files.home = config.home.clone();
        if let Some(export) = &config.shared_home {
            let req = azlin_protocol::mount::MountRequest {
                export: export.clone(),
                dir: "/home".into(),
                unmount: false,
            };
            azlin_protocol::mount::check(&req)
                .with_context(|| format!("agent config {}: `shared_home`", path.display()))?;
        }
        if let Some(name) = &config.telemetry.tmux_server {
            crate::tmux_server::check_name(name).map_err(|why| {
                anyhow::anyhow!(
                    "agent config {}: telemetry.tmux_server {name:?} {why}",
                    path.display()
                )
            })?;
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

    #[test]
    fn home_is_one_setting_under_either_name() {
        let base = "name='a'\nstate_dir='/s'\nca_cert='/c'\n";
        let c = parse(base).unwrap();
        assert_eq!((c.home, c.files.home), (None, None));
        for text in [
            format!("{base}home='/v/home'\n"),
            format!("{base}[files]\nhome='/v/home'\n"),
            format!("{base}home='/v/home'\n[files]\nhome='/v/home'\n"),
        ] {
            let c = parse(&text).unwrap();
            let want = Some(PathBuf::from("/v/home"));
            assert_eq!((&c.home, &c.files.home), (&want, &want), "{text}");
        }
        let e = parse(&format!("{base}home='/a'\n[files]\nhome='/b'\n")).unwrap_err();
        assert!(format!("{e:#}").contains("differ"), "{e:#}");
        let e = parse(&format!("{base}home='rel/home'\n")).unwrap_err();
        assert!(format!("{e:#}").contains("absolute"), "{e:#}");
    }

    #[test]
    fn a_shared_home_is_an_nfs_export() {
        let base = "name='a'\nstate_dir='/s'\nca_cert='/c'\n";
        let c = parse(&format!("{base}shared_home='srv.example:/team/home'\n")).unwrap();
        assert_eq!(c.shared_home.as_deref(), Some("srv.example:/team/home"));
        for bad in ["nohost", "h:/a b", "h:/../etc", "h:/x;reboot"] {
            let e = parse(&format!("{base}shared_home='{bad}'\n")).unwrap_err();
            assert!(format!("{e:#}").contains("shared_home"), "{bad}: {e:#}");
        }
    }

    #[test]
    fn a_tmux_server_name_is_a_plain_socket_name() {
        let base = "name='a'\nstate_dir='/s'\nca_cert='/c'\n[telemetry]\n";
        let c = parse(&format!("{base}tmux_server='azlin-dev-1'\n")).unwrap();
        assert_eq!(c.telemetry.tmux_server.as_deref(), Some("azlin-dev-1"));
        let long = "x".repeat(crate::tmux_server::MAX_NAME + 1);
        for bad in [
            "",
            "a/b",
            "../x",
            "-L",
            ".hidden",
            "tab\\there",
            "new\\nline",
            "sp ace",
            &long,
        ] {
            let e = parse(&format!("{base}tmux_server=\"{bad}\"\n")).unwrap_err();
            let text = format!("{e:#}");
            assert!(text.contains("telemetry.tmux_server"), "{bad:?}: {text}");
        }
    }
}
