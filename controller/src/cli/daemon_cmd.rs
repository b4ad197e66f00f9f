//! `azlin daemon run|status|stop|rebind`.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Subcommand;

use crate::{
    home::Home,
    ipc::{
        client::Client,
        daemon::{DaemonStatus, Rebind, Shutdown},
    },
};

#[derive(Subcommand)]
pub enum DaemonAction {
    /// Run the daemon in the foreground (the CLI starts it this way).
    Run,
    /// Is the daemon running, and what does it hold?
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Stop the daemon. Agents keep running and reconnect when it is back.
    Stop,
    /// Move the fleet's connections to a new local UDP socket (after a
    /// network change); QUIC migrates them, so open terminals carry on.
    Rebind,
}

pub fn run(home: &Home, action: DaemonAction) -> Result<()> {
    match action {
        DaemonAction::Run => {
            // Cleaned and rotated (`azlin_protocol::log_file`): peers'
            // strings reach this log.
            let log = azlin_protocol::log_file::LogWriter::from_env()
                .map_err(|e| anyhow::anyhow!("cannot open the daemon's log file: {e}"))?;
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_env("AZLIN_LOG")
                        .unwrap_or_else(|_| "info".into()),
                )
                .with_writer(move || log.clone())
                .with_ansi(false)
                .init();
            crate::daemon::run(home.clone())
        }
        DaemonAction::Status { json } => {
            let Some(client) = Client::connect(home)? else {
                if json {
                    println!("{{\"running\":false}}");
                } else {
                    println!("daemon: not running (it starts with the next azlin command)");
                }
                return Ok(());
            };
            {
                let info = client.call(DaemonStatus, |_, _| {})?;
                {
                    if json {
                        let mut v = serde_json::to_value(&info)?;
                        v["running"] = true.into();
                        println!("{v}");
                    } else {
                        println!(
                            "daemon: running (pid {}, version {})\nhome: {}\nVMs: {} ({} connected)\ncertificates issued: {}\nlistening for agents: {}",
                            info.pid,
                            info.version,
                            info.home,
                            info.vms,
                            info.connected,
                            info.certificates_issued,
                            info.listen.as_deref().unwrap_or("no (agents are dialled)")
                        );
                        if let Some(e) = &info.config_error {
                            println!("config: NOT in force: {e}; the last good settings are");
                        }
                    }
                    Ok(())
                }
            }
        }
        DaemonAction::Rebind => {
            let Some(client) = Client::connect(home)? else {
                bail!("the daemon is not running: there is nothing to rebind");
            };
            println!("{}", client.call(Rebind, |_, _| {})?.message);
            Ok(())
        }
        DaemonAction::Stop => {
            let Some(client) = Client::connect(home)? else {
                println!("daemon: not running");
                return Ok(());
            };
            client.call(Shutdown, |_, _| {})?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while home.socket().exists() || lock_held(home) {
                if Instant::now() > deadline {
                    bail!(
                        "the daemon did not stop within 10 s; see {}",
                        home.daemon_log().display()
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            println!("daemon: stopped");
            Ok(())
        }
    }
}

/// True while some process holds the daemon lock.
fn lock_held(home: &Home) -> bool {
    use nix::fcntl::{Flock, FlockArg};
    let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .open(home.lock_file())
    else {
        return false;
    };
    Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err()
}
