//! `config.toml`: the user's defaults. Keys this build does not know (for
//! example those of the original azlin tool) are kept as they are, so a
//! rewrite never loses them.
//!
//! ```toml
//! default_provider = "local"
//! [daemon]
//! listen = "127.0.0.1:47801"   # UDP address for agents in dial mode
//! token_ttl_secs = 3600         # how long a join token stays valid
//! [metrics]
//! listen = "127.0.0.1:9464"     # Prometheus /metrics (loopback only); unset: off
//! retention_days = 7            # how long metrics history is kept
//! ```

use std::{net::SocketAddr, path::Path};

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
    /// Everything else, kept verbatim.
    #[serde(flatten)]
    pub other: toml::Table,
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
}

fn default_token_ttl() -> u64 {
    3600
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            listen: None,
            token_ttl_secs: default_token_ttl(),
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

impl Config {
    /// Read the config; a missing file means defaults.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let config: Config = toml::from_str(&text)
            .with_context(|| format!("{} is invalid; fix it or move it aside", path.display()))?;
        config
            .check()
            .with_context(|| format!("{} is invalid", path.display()))?;
        Ok(config)
    }

    /// The session name the user gave a VM (`[session_names]`, as the
    /// original azlin keeps them), if any.
    pub fn session_name(&self, vm: &str) -> Option<String> {
        self.other
            .get("session_names")?
            .as_table()?
            .get(vm)?
            .as_str()
            .map(str::to_string)
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
        if self.metrics.retention_days == 0 {
            anyhow::bail!("metrics.retention_days must be at least 1");
        }
        Ok(())
    }
}

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
    fn unknown_top_level_keys_survive_and_daemon_keys_are_checked() {
        let c: Config = toml::from_str(
            "default_region = 'westus2'\n[session_names]\nvm-1 = 'main'\n[daemon]\nlisten = '127.0.0.1:1'\n",
        )
        .unwrap();
        assert_eq!(c.daemon.listen.unwrap().port(), 1);
        assert_eq!(c.session_name("vm-1").as_deref(), Some("main"));
        assert_eq!(c.session_name("vm-2"), None);
        let text = toml::to_string(&c).unwrap();
        assert!(
            text.contains("default_region") && text.contains("vm-1"),
            "{text}"
        );
        let err = toml::from_str::<Config>("[daemon]\nlisten = 'nowhere'\n").unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
    }
}
