//! Completion notices for long commands: `new`, `os-update`, `update`,
//! `clone` and `cp`, when they ran `[notifications] after` seconds or
//! more, tell the desktop channel (through the daemon) that they are done
//! or failed. A notice that cannot be sent is a warning; the command's
//! own result stands.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use super::args::{Cli, Command};
use crate::{config::Config, home::Home, ipc::client::Client, ipc::notice::Notice};

/// A command being timed for its notice.
#[derive(Clone)]
pub struct Watch {
    started: Instant,
    command: String,
}

/// This process's watch, for a command that ends its own way (`new`
/// going on into `connect` sends its notice before the terminal opens).
static CURRENT: Mutex<Option<Watch>> = Mutex::new(None);
/// The notice went already.
static SENT: AtomicBool = AtomicBool::new(false);

/// Send the running command's notice now, as done: the rest of the
/// process (an interactive terminal) is not the command's work.
pub fn done_now(home: &Home, config: &Config) {
    let watch = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(w) = watch {
        w.finish(home, config, &Ok(0));
    }
}

impl Watch {
    /// Start timing `cli`, if it is a command that sends notices.
    pub fn of(cli: &Cli) -> Option<Self> {
        let noticed = matches!(
            cli.command,
            Some(
                Command::New(_)
                    | Command::OsUpdate { .. }
                    | Command::Update { .. }
                    | Command::Clone { .. }
                    | Command::Cp { .. }
            )
        );
        let watch = noticed.then(|| Self {
            started: Instant::now(),
            command: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        });
        *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = watch.clone();
        watch
    }

    /// Send the notice if the command ran long enough.
    pub fn finish(self, home: &Home, config: &Config, result: &anyhow::Result<u8>) {
        // One notice at most: the first finish (maybe `done_now`) decides.
        if SENT.swap(true, Ordering::SeqCst) {
            return;
        }
        let seconds = self.started.elapsed().as_secs();
        if seconds < config.notifications.after {
            return;
        }
        let (ok, error) = match result {
            Ok(0) => (true, None),
            Ok(code) => (false, Some(format!("exit status {code}"))),
            Err(e) => (false, Some(format!("{e:#}"))),
        };
        let notice = Notice {
            command: self.command,
            ok,
            seconds,
            error,
        };
        match Client::connect(home) {
            Ok(Some(client)) => {
                if let Err(e) = client.call(notice, |_, _| {}) {
                    eprintln!("azlin: the completion notice was not shown: {e:#}");
                }
            }
            Ok(None) => eprintln!("azlin: no daemon running to show the completion notice"),
            Err(e) => eprintln!("azlin: the completion notice was not shown: {e:#}"),
        }
    }
}
