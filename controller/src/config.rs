//! `config.toml`: the user's defaults. Keys this build does not know (for
//! example those of the original azlin tool) are kept as they are, so a
//! rewrite never loses them.
//!
//! ```toml
//! default_provider = "local"
//! [daemon]
//! listen = "127.0.0.1:47801"   # UDP address for agents in dial mode
//! token_ttl_secs = 3600         # how long a join token stays valid
//! agent_cert_secs = 31536000    # an agent certificate's life; renewed at 2/3
//! [metrics]
//! listen = "127.0.0.1:9464"     # Prometheus /metrics (loopback only); unset: off
//! retention_days = 7            # how long metrics history is kept
//! [connect]
//! tmux_session = "azlin"        # the tmux session `azlin connect` attaches
//! terminal = "kitty"            # what `connect --new-window` opens
//! [session_names]                # what `azlin session VM NAME` sets
//! vm-1 = "main"
//! [docker]                       # the docker provider (see provider::docker)
//! image = "azlin-vm:0123abcd"   # default: the newest azlin-vm image
//! network = "azlin"             # the docker network the VMs share
//! subnet = "10.213.0.0/16"      # used when azlin creates that network
//! user = "azureuser"            # the VM user cloud-init creates
//! dev_tools = true              # install git, docker, Python, Node, Rust…
//! [notifications]
//! after = 60                    # seconds: a longer new/os-update/update/clone/cp
//!                               # sends a completion notice to the desktop channel
//! [cost]
//! notional_per_hour = 0.05      # local, docker and external VMs have no bill: this
//!                               # figure is shown for them, marked notional; unset: -
//! ```

use std::{collections::BTreeMap, net::SocketAddr, path::Path};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_provider: Option<String>,
    #[serde(default)]
    pub daemon: DaemonConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub connect: ConnectConfig,
    #[serde(default)]
    pub docker: DockerConfig,
    #[serde(default)]
    pub azure: crate::azure::settings::AzureConfig,
    #[serde(default)]
    pub cost: CostConfig,
    #[serde(default)]
    pub notifications: NotificationsConfig,
    /// VM name → the name the user gave it (`azlin session`), as the
    /// original azlin keeps them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub session_names: BTreeMap<String, String>,
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub other: toml::Table,
}

/// `[notifications]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// `new`, `os-update`, `update`, `clone` and `cp` that ran at least
    /// this many seconds send a completion notice to the desktop channel.
    #[serde(default = "default_notice_after")]
    pub after: u64,
}

fn default_notice_after() -> u64 {
    60
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            after: default_notice_after(),
        }
    }
}

/// `[cost]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostConfig {
    /// What a VM with no bill (local, docker, external) is taken to cost
    /// an hour: shown marked "notional", never as a bill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notional_per_hour: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Where agents that dial out reach the daemon. Unset: the daemon only
    /// dials agents itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(default = "default_token_ttl")]
    pub token_ttl_secs: u64,
    /// How long an agent's certificate is valid; the daemon renews it
    /// over the live connection at two thirds of that.
    #[serde(default = "default_agent_cert_secs")]
    pub agent_cert_secs: u64,
}

fn default_token_ttl() -> u64 {
    3600
}

fn default_agent_cert_secs() -> u64 {
    365 * 86400
}

/// Shortest and longest `agent_cert_secs`.
pub const AGENT_CERT_SECS: std::ops::RangeInclusive<u64> = 30..=(10 * 365 * 86400);

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            listen: None,
            token_ttl_secs: default_token_ttl(),
            agent_cert_secs: default_agent_cert_secs(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where the daemon serves Prometheus `/metrics`. Loopback only: the
    /// endpoint has no authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

fn default_retention_days() -> u32 {
    7
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: None,
            retention_days: default_retention_days(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectConfig {
    /// The tmux session `azlin connect` attaches to unless `--tmux` says.
    #[serde(default = "default_tmux_session")]
    pub tmux_session: String,
    /// The terminal `connect --new-window` opens: a command line the
    /// connect command is added to (`"kitty"`, `"wezterm start --"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal: Option<String>,
}

fn default_tmux_session() -> String {
    "azlin".into()
}

impl Default for ConnectConfig {
    fn default() -> Self {
        Self {
            tmux_session: default_tmux_session(),
            terminal: None,
        }
    }
}

/// The docker provider's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerConfig {
    /// The VM image; unset: the newest local `azlin-vm` image (built by
    /// `deploy/vm-image/build.sh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default = "default_docker_network")]
    pub network: String,
    /// The network's subnet when azlin creates it; a fixed subnet lets a
    /// container keep its address when it is reconnected.
    #[serde(default = "default_docker_subnet")]
    pub subnet: String,
    #[serde(default = "default_vm_user")]
    pub user: String,
    /// Install the development tools after the agent (needs the internet).
    #[serde(default = "default_true")]
    pub dev_tools: bool,
    /// The shared storage's NFS server image; unset: the newest local
    /// `azlin-nfs` image (built by `deploy/nfs-image/build.sh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs_image: Option<String>,
}

fn default_docker_network() -> String {
    "azlin".into()
}

fn default_docker_subnet() -> String {
    "10.213.0.0/16".into()
}

fn default_vm_user() -> String {
    "azureuser".into()
}

fn default_true() -> bool {
    true
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            image: None,
            network: default_docker_network(),
            subnet: default_docker_subnet(),
            user: default_vm_user(),
            dev_tools: true,
            nfs_image: None,
        }
    }
}

impl Config {
    /// Read the config; a missing file means defaults.
    /// The file at `path` (defaults when there is none). A file that does
    /// not parse or check is an [`Invalid`] error naming `FILE:LINE:COLUMN`
    /// where it can.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let config: Config = toml::from_str(&text).map_err(|e| {
            let (line, column) =
                crate::text_position::line_column(&text, e.span().map_or(0, |s| s.start));
            // The line itself, as an editor would show it (printable only).
            let shown: String = text
                .lines()
                .nth(line - 1)
                .unwrap_or("")
                .trim()
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .take(80)
                .collect();
            Invalid(format!(
                "{}:{line}:{column}: {} (in `{shown}`); fix it or move it aside",
                path.display(),
                e.message().trim()
            ))
        })?;
        config
            .check()
            .map_err(|e| Invalid(format!("{} is invalid: {e:#}", path.display())))?;
        Ok(config)
    }

    /// Set (or with `None` clear) VM's session name in the file at `path`,
    /// keeping every other key; the file is replaced atomically. Returns
    /// the session names now in force.
    pub fn write_session_name(
        path: &Path,
        vm: &str,
        name: Option<&str>,
    ) -> Result<BTreeMap<String, String>> {
        // Read, change, write: two at once (killall deletes VMs in
        // parallel) would lose one's change.
        static ONE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = ONE_WRITER.lock().unwrap_or_else(|e| e.into_inner());
        let mut config = Self::load(path)?;
        match name {
            Some(n) => config.session_names.insert(vm.to_string(), n.to_string()),
            None => config.session_names.remove(vm),
        };
        let text = toml::to_string(&config).context("cannot write the config")?;
        azlin_protocol::secret_file::write_atomic(path, text.as_bytes(), 0o600)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(config.session_names)
    }

    fn check(&self) -> Result<()> {
        if let Some(addr) = self.metrics.listen
            && !addr.ip().is_loopback()
        {
            anyhow::bail!(
                "metrics.listen = {addr} is not a loopback address; /metrics has no authentication, \
                 so serve it on 127.0.0.1 and let Prometheus scrape it locally (or through a proxy)"
            );
        }
        let ttl = self.daemon.token_ttl_secs;
        if !(1..=crate::state::tokens::MAX_TOKEN_TTL_SECS as u64).contains(&ttl) {
            anyhow::bail!(
                "daemon.token_ttl_secs = {ttl} must be 1 to {} (30 days)",
                crate::state::tokens::MAX_TOKEN_TTL_SECS
            );
        }
        let life = self.daemon.agent_cert_secs;
        if !AGENT_CERT_SECS.contains(&life) {
            anyhow::bail!(
                "daemon.agent_cert_secs = {life} must be {} to {} (10 years)",
                AGENT_CERT_SECS.start(),
                AGENT_CERT_SECS.end()
            );
        }
        if self.metrics.retention_days == 0 {
            anyhow::bail!("metrics.retention_days must be at least 1");
        }
        azlin_protocol::terminal::check_session_name(&self.connect.tmux_session)
            .context("connect.tmux_session")?;
        for (vm, name) in &self.session_names {
            check_session_label(name).with_context(|| format!("session_names.{vm}"))?;
        }
        if let Some(n) = self.cost.notional_per_hour
            && !(n.is_finite() && (0.0..1000.0).contains(&n))
        {
            anyhow::bail!("cost.notional_per_hour = {n} must be a number from 0 to 1000");
        }
        self.docker.check()?;
        self.azure.check().map_err(anyhow::Error::msg)
    }
}

impl DockerConfig {
    fn check(&self) -> Result<()> {
        let plain = |s: &str| {
            !s.is_empty()
                && !s.starts_with('-')
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-:/@".contains(&b))
        };
        if let Some(image) = &self.image
            && !plain(image)
        {
            anyhow::bail!("docker.image = {image:?} is not an image reference");
        }
        if !plain(&self.network) || self.network.contains([':', '/', '@']) {
            anyhow::bail!("docker.network = {:?} is not a network name", self.network);
        }
        let subnet_ok = self.subnet.split_once('/').is_some_and(|(ip, len)| {
            ip.parse::<std::net::Ipv4Addr>().is_ok() && len.parse::<u8>().is_ok_and(|l| l <= 30)
        });
        if !subnet_ok {
            anyhow::bail!(
                "docker.subnet = {:?} is not an IPv4 CIDR such as 10.213.0.0/16",
                self.subnet
            );
        }
        Ok(())
    }
}

/// A session name must be usable wherever a VM name is: the same rules.
pub fn check_session_label(name: &str) -> Result<()> {
    azlin_protocol::pki::check_vm_name(name)
        .map_err(|e| anyhow::anyhow!("session name {name:?} is not usable: {e}"))
}

/// `config.toml` does not parse or holds a value it cannot; nothing that
/// depends on it runs until it is fixed (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_must_listen_on_loopback_and_keep_something() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, "[metrics]\nlisten = '0.0.0.0:9464'\n").unwrap();
        let e = Config::load(&p).unwrap_err();
        assert!(format!("{e:#}").contains("loopback"), "{e:#}");
        std::fs::write(&p, "[metrics]\nretention_days = 0\n").unwrap();
        assert!(Config::load(&p).is_err());
        std::fs::write(&p, "[metrics]\nlisten = '127.0.0.1:9464'\n").unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.metrics.retention_days, 7);
    }

    #[test]
    fn a_file_that_does_not_parse_is_located_by_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, "default_provider = 'local'\n[daemon\n").unwrap();
        let e = format!("{:#}", Config::load(&p).unwrap_err());
        assert!(e.contains("config.toml:2:"), "{e}");
        std::fs::write(&p, "[daemon]\ntoken_ttl_secs = \"soon\"\n").unwrap();
        let e = Config::load(&p).unwrap_err();
        assert!(e.downcast_ref::<Invalid>().is_some());
        assert!(format!("{e:#}").contains("config.toml:2:18"), "{e:#}");
        // Lifetimes that would wrap a token's expiry, or never end, are refused.
        for ttl in ["0", "9223372036854775807", "2592001"] {
            std::fs::write(&p, format!("[daemon]\ntoken_ttl_secs = {ttl}\n")).unwrap();
            let e = format!("{:#}", Config::load(&p).unwrap_err());
            assert!(e.contains("must be 1 to 2592000"), "{ttl}: {e}");
        }
        std::fs::write(&p, "[daemon]\ntoken_ttl_secs = 2592000\n").unwrap();
        assert!(Config::load(&p).is_ok());
    }

    #[test]
    fn unknown_top_level_keys_survive_and_daemon_keys_are_checked() {
        let c: Config = toml::from_str(
            "default_region = 'westus2'\n[session_names]\nvm-1 = 'main'\n[daemon]\nlisten = '127.0.0.1:1'\n",
        )
        .unwrap();
        assert_eq!(c.daemon.listen.unwrap().port(), 1);
        assert_eq!(
            c.session_names.get("vm-1").map(String::as_str),
            Some("main")
        );
        assert_eq!(c.session_names.get("vm-2"), None);
        let text = toml::to_string(&c).unwrap();
        assert!(
            text.contains("default_region") && text.contains("vm-1"),
            "{text}"
        );
        let err = toml::from_str::<Config>("[daemon]\nlisten = 'nowhere'\n").unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
    }

    #[test]
    fn docker_settings_are_checked() {
        let load = |text: &str| {
            let c: Config = toml::from_str(text)?;
            c.check().map(|()| c)
        };
        let c = load("[docker]\nimage = 'azlin-vm:abc'\ndev_tools = false\n").unwrap();
        assert_eq!(c.docker.image.as_deref(), Some("azlin-vm:abc"));
        assert_eq!(c.docker.network, "azlin");
        assert!(!c.docker.dev_tools);
        for (text, says) in [
            ("[docker]\nsubnet = '10.0.0.0'\n", "docker.subnet"),
            ("[docker]\nsubnet = '10.0.0.0/31'\n", "docker.subnet"),
            ("[docker]\nnetwork = 'a b'\n", "docker.network"),
            ("[docker]\nimage = '--privileged'\n", "docker.image"),
        ] {
            let err = load(text).unwrap_err();
            assert!(format!("{err:#}").contains(says), "{text}: {err:#}");
        }
        assert!(load("[docker]\nmystery = 1\n").is_err());
    }
}

#[cfg(test)]
mod session_name_tests {
    use super::*;

    #[test]
    fn session_names_are_written_atomically_keeping_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(
            &p,
            "default_region = 'westus2'\n[metrics]\nretention_days = 3\n",
        )
        .unwrap();
        let names = Config::write_session_name(&p, "vm-1", Some("main")).unwrap();
        assert_eq!(names.get("vm-1").map(String::as_str), Some("main"));
        let c = Config::load(&p).unwrap();
        assert_eq!(c.metrics.retention_days, 3);
        assert!(c.other.contains_key("default_region"));
        assert_eq!(c.session_names.len(), 1);
        let names = Config::write_session_name(&p, "vm-1", None).unwrap();
        assert!(names.is_empty());
        std::fs::write(&p, "[session_names]\nvm-1 = 'Bad Name'\n").unwrap();
        let e = Config::load(&p).unwrap_err();
        assert!(format!("{e:#}").contains("session_names.vm-1"), "{e:#}");
        assert!(Config::write_session_name(&p, "vm-2", Some("ok")).is_err());
        assert!(std::fs::read_to_string(&p).unwrap().contains("Bad Name"));
    }
}
