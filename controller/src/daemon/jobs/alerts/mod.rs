//! Alerts in the daemon: the rule book in force (reloaded when
//! `alerts.toml` changes; a broken file is reported and the last good book
//! stays), storing events, and handing them to the channels.
//!
//! - [`stream`]: each connected agent's alerts stream.
//! - [`agent_lost`]: the daemon's own rule: no sign of life from an agent.
//! - [`dispatch`]: the channels, each in its own task so a slow webhook
//!   never delays a desktop notification or the next event's storage.

pub mod agent_lost;
pub mod dispatch;
pub mod stream;

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Result;
use tokio::sync::{broadcast, mpsc, watch};

use crate::daemon::Daemon;
use crate::{
    alerts::{book::RuleBook, record::AlertRecord, rules_file},
    ipc::AlertsView,
    state::alerts::NewAlert,
};

/// How often `alerts.toml` is looked at for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(1);
/// Events kept in `state.db` (active ones are always kept).
const HISTORY_KEPT: u32 = 10_000;

pub struct AlertsHub {
    /// The book in force: the last one that read without error.
    pub book: watch::Sender<Arc<RuleBook>>,
    /// Why the file on disk is not the book in force, if it is not.
    pub file_error: Mutex<Option<String>>,
    /// Every stored event, for `azlin alerts --follow`.
    pub feed: broadcast::Sender<AlertRecord>,
    /// Bumped when a VM's tags or session name change, which can change
    /// the rules it gets.
    pub targets: watch::Sender<u64>,
    out: mpsc::UnboundedSender<AlertRecord>,
    pub file: PathBuf,
    notification_command: Option<String>,
}

impl AlertsHub {
    /// Read the rules file; the receiver is for [`dispatch::run`].
    pub fn load(
        file: PathBuf,
        notification_command: Option<String>,
    ) -> (Self, mpsc::UnboundedReceiver<AlertRecord>) {
        let (book, error) = match rules_file::load(&file, notification_command.as_deref()) {
            Ok(b) => (b, None),
            Err(e) => {
                tracing::error!("{e}; alert rules are the built-in ones until it is fixed");
                let builtin = rules_file::parse("", &file, notification_command.as_deref())
                    .unwrap_or_default();
                (builtin, Some(e.to_string()))
            }
        };
        let (out, rx) = mpsc::unbounded_channel();
        let hub = Self {
            book: watch::channel(Arc::new(book)).0,
            file_error: Mutex::new(error),
            feed: broadcast::channel(1024).0,
            targets: watch::channel(0).0,
            out,
            file,
            notification_command,
        };
        (hub, rx)
    }

    pub fn retarget(&self) {
        self.targets.send_modify(|g| *g += 1);
    }

    /// Read the file again; keep the book in force if it has an error.
    fn reload(&self) {
        match rules_file::load(&self.file, self.notification_command.as_deref()) {
            Ok(book) => {
                let was_broken = self
                    .file_error
                    .lock()
                    .expect("alerts lock")
                    .take()
                    .is_some();
                let changed = **self.book.borrow() != book;
                if changed {
                    tracing::info!(
                        rules = book.rules.len(),
                        "alert rules reloaded from {}",
                        self.file.display()
                    );
                    self.book.send_replace(Arc::new(book));
                } else if was_broken {
                    tracing::info!("{} is fixed", self.file.display());
                }
            }
            Err(e) => {
                let text = e.to_string();
                let mut error = self.file_error.lock().expect("alerts lock");
                if error.as_deref() != Some(&text) {
                    tracing::error!("{text}; keeping the last good alert rules");
                    *error = Some(text);
                }
            }
        }
    }
}

/// Start the file watcher, the channels and the agent-lost judge.
pub fn spawn(d: Arc<Daemon>, outgoing: mpsc::UnboundedReceiver<AlertRecord>) {
    tokio::spawn(dispatch::run(d.clone(), outgoing));
    tokio::spawn(agent_lost::watch(d.clone()));
    tokio::spawn(async move {
        let mut seen = std::fs::read(&d.alerts.file).ok();
        let mut tick = tokio::time::interval(RELOAD_EVERY);
        let mut pruned_at = 0u64;
        loop {
            tick.tick().await;
            let now = std::fs::read(&d.alerts.file).ok();
            if now != seen {
                seen = now;
                d.alerts.reload();
            }
            pruned_at += 1;
            if pruned_at % 3600 == 1
                && let Err(e) = d.db.lock().expect("db lock").prune_alerts(HISTORY_KEPT)
            {
                tracing::warn!("cannot prune alert history: {e:#}");
            }
        }
    });
}

/// What `azlin alerts` shows: the rules' state, active alerts, history.
pub fn view(d: &Daemon, history: u32) -> Result<AlertsView> {
    let (active, history) = {
        let db = d.db.lock().expect("db lock");
        (db.active_alerts()?, db.alert_history(history.min(100_000))?)
    };
    let book = d.alerts.book.borrow().clone();
    let mut channels = vec!["log".to_string()];
    if let Some(desk) = &book.desktop {
        channels.push(format!("desktop ({})", desk.argv.join(" ")));
    }
    if let Some(hook) = &book.webhook {
        channels.push(format!("webhook ({})", hook.shown_url()));
    }
    Ok(AlertsView {
        file: d.alerts.file.display().to_string(),
        file_error: d.alerts.file_error.lock().expect("alerts lock").clone(),
        rules: book.rules.iter().map(|r| r.rule.name.clone()).collect(),
        agent_lost_after_ms: book.agent_lost.as_ref().map(|a| a.after_ms),
        channels,
        active,
        history,
        session_names: d.session_names.read().expect("session names lock").clone(),
    })
}

/// Store an event; if it is new, send it to the follow feed and channels.
/// `Ok(None)`: stored before (an agent's resend).
pub fn record(d: &Daemon, new: &NewAlert<'_>) -> Result<Option<AlertRecord>> {
    let stored = d.db.lock().expect("db lock").record_alert(new)?;
    if let Some(r) = &stored {
        let _ = d.alerts.feed.send(r.clone());
        let _ = d.alerts.out.send(r.clone());
    }
    Ok(stored)
}
