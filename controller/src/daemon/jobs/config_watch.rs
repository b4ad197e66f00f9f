//! `config.toml` reread when it changes, as `alerts.toml` is: a file that
//! reads without error is put in force at once (the settings the daemon
//! reads per request: token lifetime, the default provider, the notional
//! price, the tmux session `connect` attaches to, metrics retention); one
//! that does not is reported (`config.toml:LINE:COLUMN: what`, in the log
//! and in `azlin daemon status`) and the last good settings are kept. A
//! change to what the daemon set up at its start (its listener, the
//! metrics address, a provider's settings) is taken too, and the log says
//! it applies when the daemon restarts.
//!
//! Not here: parsing and checking the file (`crate::config`).

use std::{sync::Arc, time::Duration};

use crate::{config::Config, daemon::Daemon};

/// How often the file is looked at.
const EVERY: Duration = Duration::from_secs(2);

/// Whether two sections are the same (the config types serialise; they
/// do not compare).
fn same<T: serde::Serialize>(a: &T, b: &T) -> bool {
    serde_json::to_string(a).ok() == serde_json::to_string(b).ok()
}

/// What only a restart puts in force, where `new` differs from `old`.
fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    [
        (old.daemon.listen == new.daemon.listen, "[daemon] listen"),
        (old.metrics.listen == new.metrics.listen, "[metrics] listen"),
        (same(&old.azure, &new.azure), "[azure]"),
        (same(&old.docker, &new.docker), "[docker]"),
    ]
    .into_iter()
    .filter(|(unchanged, _)| !unchanged)
    .map(|(_, what)| what)
    .collect()
}

pub fn spawn(d: Arc<Daemon>) {
    tokio::spawn(async move {
        let path = d.home.config_file();
        let mut seen = std::fs::read(&path).ok();
        loop {
            tokio::time::sleep(EVERY).await;
            let now = std::fs::read(&path).ok();
            if now == seen {
                continue;
            }
            seen = now;
            match Config::load(&path) {
                Ok(config) => {
                    let restart = needs_restart(&d.config(), &config);
                    d.set_config(config);
                    *d.config_error.lock().expect("config error lock") = None;
                    tracing::info!("config.toml reread: its settings are in force");
                    if !restart.is_empty() {
                        tracing::warn!(
                            "config.toml: {} changed; that applies when the daemon restarts \
                             (`azlin daemon stop`)",
                            restart.join(", ")
                        );
                    }
                }
                Err(e) => {
                    let why = format!("{e:#}");
                    tracing::warn!("{why}; the last good settings are kept");
                    *d.config_error.lock().expect("config error lock") = Some(why);
                }
            }
        }
    });
}
