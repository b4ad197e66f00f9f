//! The VM user's tmux sessions, read from the real `tmux` binary (from the
//! VM's own server when it has one, see [`crate::tmux_server`]).
//!
//! tmux runs in its own task with a deadline: a tmux that is missing, hung
//! or broken turns into [`Tmux::Unavailable`] with the reason, and the
//! sampler keeps publishing everything else on time.

use std::{process::Stdio, time::Duration};

use azlin_protocol::telemetry::{Tmux, TmuxSession};
use tokio::sync::watch;

use crate::{account::Account, config::TelemetryConfig, tmux_server::TmuxServer};

/// Longest a `tmux list-sessions` may take before it is killed.
pub const TMUX_TIMEOUT: Duration = Duration::from_secs(2);

const FORMAT: &str = "#{session_name}\t#{session_attached}\t#{session_windows}\t#{session_created}";

/// Start polling tmux every `interval`; the receiver always holds the latest
/// answer.
pub fn spawn_reader(
    config: TelemetryConfig,
    user: Option<String>,
    interval: Duration,
) -> watch::Receiver<Tmux> {
    let (tx, rx) = watch::channel(Tmux::Sessions(Vec::new()));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let state = read(&config, user.as_deref()).await;
            if tx.send(state).is_err() {
                return;
            }
        }
    });
    rx
}

/// Ask tmux once, as `user` (the agent config's VM user) when given.
pub async fn read(config: &TelemetryConfig, user: Option<&str>) -> Tmux {
    let mut cmd = TmuxServer::from_config(config).command();
    cmd.args(["list-sessions", "-F", FORMAT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("TMUX")
        .kill_on_drop(true);
    if user.is_some() {
        // As root, ask as the VM user so tmux finds that user's socket.
        match Account::resolve(user) {
            Ok(account) => {
                account.apply(&mut cmd);
                cmd.env("HOME", &account.home).env("USER", &account.name);
            }
            Err(reason) => return Tmux::Unavailable { reason },
        }
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Tmux::Unavailable {
                reason: format!(
                    "tmux is not installed ({} not found)",
                    config.tmux.display()
                ),
            };
        }
        Err(e) => {
            return Tmux::Unavailable {
                reason: format!("cannot run {}: {e}", config.tmux.display()),
            };
        }
    };
    match tokio::time::timeout(TMUX_TIMEOUT, child.wait_with_output()).await {
        Err(_) => Tmux::Unavailable {
            reason: format!("tmux did not answer within {} s", TMUX_TIMEOUT.as_secs()),
        },
        Ok(Err(e)) => Tmux::Unavailable {
            reason: format!("tmux failed: {e}"),
        },
        Ok(Ok(out)) if out.status.success() => {
            Tmux::Sessions(parse(&String::from_utf8_lossy(&out.stdout)))
        }
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            if no_server(&err) {
                Tmux::Sessions(Vec::new())
            } else {
                Tmux::Unavailable {
                    reason: format!("tmux: {}", err.lines().next().unwrap_or("failed").trim()),
                }
            }
        }
    }
}

/// tmux's ways of saying the user simply has no sessions (including a
/// server that exited, with its last session, while we asked).
fn no_server(stderr: &str) -> bool {
    [
        "no server running",
        "error connecting to",
        "server exited unexpectedly",
    ]
    .iter()
    .any(|s| stderr.contains(s))
}

/// Parse `list-sessions` output in [`FORMAT`]. Fields are taken from the
/// right so a tab inside a session name cannot shift them.
pub fn parse(text: &str) -> Vec<TmuxSession> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.rsplitn(4, '\t');
            let created = f.next()?.trim().parse().ok()?;
            let windows = f.next()?.trim().parse().ok()?;
            let attached: u32 = f.next()?.trim().parse().ok()?;
            let name = f.next()?.to_string();
            Some(TmuxSession {
                name,
                attached: attached > 0,
                windows,
                created_unix: created,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sessions_and_skips_junk() {
        let got = parse("main\t1\t3\t1790000000\nwith\ttab\t0\t1\t1790000001\njunk line\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "main");
        assert!(got[0].attached);
        assert_eq!(got[0].windows, 3);
        assert_eq!(got[1].name, "with\ttab");
        assert!(!got[1].attached);
        assert_eq!(got[1].created_unix, 1_790_000_001);
    }

    fn config(tmux: &str) -> TelemetryConfig {
        TelemetryConfig {
            tmux: tmux.into(),
            ..TelemetryConfig::default()
        }
    }

    #[tokio::test]
    async fn a_missing_tmux_is_reported() {
        match read(&config("/nonexistent/tmux"), None).await {
            Tmux::Unavailable { reason } => assert!(reason.contains("not installed"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_hung_tmux_times_out_and_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("tmux");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 60\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        match read(&config(script.to_str().unwrap()), None).await {
            Tmux::Unavailable { reason } => assert!(reason.contains("did not answer"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    /// The real tmux: a private server with two detached sessions, then none.
    #[tokio::test]
    async fn reads_a_real_tmux_server() {
        let dir = tempfile::tempdir().unwrap();
        let tmux = |args: &[&str]| {
            std::process::Command::new("tmux")
                .env("TMUX_TMPDIR", dir.path())
                .env_remove("TMUX")
                .args(args)
                .status()
                .unwrap()
        };
        let cfg = config("tmux");
        assert!(tmux(&["new-session", "-d", "-s", "alpha"]).success());
        assert!(tmux(&["new-session", "-d", "-s", "beta"]).success());
        assert!(tmux(&["new-window", "-t", "beta"]).success());
        let state = read_with_tmpdir(&cfg, dir.path()).await;
        tmux(&["kill-server"]);
        let Tmux::Sessions(mut s) = state else {
            panic!("{state:?}")
        };
        s.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].name.as_str(), s[0].windows), ("alpha", 1));
        assert_eq!((s[1].name.as_str(), s[1].windows), ("beta", 2));
        assert!(!s[0].attached && s[0].created_unix > 1_600_000_000);
        match read_with_tmpdir(&cfg, dir.path()).await {
            Tmux::Sessions(s) => assert!(s.is_empty()),
            other => panic!("no server must mean no sessions: {other:?}"),
        }
    }

    /// `read` with a private TMUX_TMPDIR, through a wrapper script, since
    /// tests must not change the test process's own environment.
    async fn read_with_tmpdir(cfg: &TelemetryConfig, tmpdir: &std::path::Path) -> Tmux {
        let wrapper = tmpdir.join("tmux-wrapper");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nTMUX_TMPDIR='{}' exec {} \"$@\"\n",
                tmpdir.display(),
                cfg.tmux.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        read(&config(wrapper.to_str().unwrap()), None).await
    }
}
