//! A private tmux server for tests (its own `TMUX_TMPDIR`, killed on drop):
//! to give agents real sessions to report, and to drive `azlin top` in a
//! real terminal with send-keys and capture-pane.

use std::{
    path::Path,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

pub struct TmuxServer {
    dir: Arc<tempfile::TempDir>,
    socket_name: String,
}

impl TmuxServer {
    /// A server on the default socket name inside a private TMUX_TMPDIR: the
    /// one an agent with that TMUX_TMPDIR reads.
    pub fn new() -> Self {
        Self::named("default")
    }

    pub fn named(socket_name: &str) -> Self {
        Self {
            dir: Arc::new(
                tempfile::Builder::new()
                    .prefix("azlin-tmux-")
                    .tempdir()
                    .unwrap(),
            ),
            socket_name: socket_name.to_string(),
        }
    }

    /// Another server (socket name) in the same TMUX_TMPDIR, such as a
    /// local VM's own (`azlin-VM`); each is killed when its handle drops.
    pub fn sibling(&self, socket_name: &str) -> Self {
        Self {
            dir: self.dir.clone(),
            socket_name: socket_name.to_string(),
        }
    }

    /// The TMUX_TMPDIR to give processes that should see this server.
    pub fn tmpdir(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        c.env("TMUX_TMPDIR", self.dir.path())
            .env_remove("TMUX")
            .args(["-L", &self.socket_name]);
        c
    }

    /// Run a tmux command; panic with its error if it fails.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The visible text of a pane.
    pub fn capture(&self, target: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", target])
    }

    /// Wait until the pane shows something `cond` accepts; panics with the
    /// screen if it does not within `timeout`.
    pub fn wait_for(
        &self,
        target: &str,
        timeout: Duration,
        what: &str,
        cond: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.capture(target);
            if cond(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Default for TmuxServer {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}
