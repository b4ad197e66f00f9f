//! `config.toml`: the user's defaults. Keys this build does not know (for
//! example those of the original azlin tool) are kept as they are, so a
//! rewrite never loses them.
//!
//! ```toml
//! default_provider = "local"
//! [daemon]
//! listen = "127.0.0.1:47801"   # UDP address for agents in dial mode
//! token_ttl_secs = 3600         # how long a join token stays valid
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

impl Config {
    /// Read the config; a missing file means defaults.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        toml::from_str(&text)
            .with_context(|| format!("{} is invalid; fix it or move it aside", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_top_level_keys_survive_and_daemon_keys_are_checked() {
        let c: Config = toml::from_str(
            "default_region = 'westus2'\n[session_names]\nvm-1 = 'main'\n[daemon]\nlisten = '127.0.0.1:1'\n",
        )
        .unwrap();
        assert_eq!(c.daemon.listen.unwrap().port(), 1);
        let text = toml::to_string(&c).unwrap();
        assert!(
            text.contains("default_region") && text.contains("vm-1"),
            "{text}"
        );
        let err = toml::from_str::<Config>("[daemon]\nlisten = 'nowhere'\n").unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
    }
}
