//! The daemon's in-memory view of every VM's link: connected or not, since
//! when, the agent's version, the last error. Durable facts live in
//! `state.db`; this is only what is true right now.
//!
//! Exactly one connection per VM: a newer one replaces the older (closing
//! it), so a VM is never listed twice.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use azlin_protocol::{message::Hello, transport::close};
use tokio::sync::watch;

use crate::state::now_unix;

#[derive(Debug, Clone, Default)]
pub struct LinkStatus {
    pub connected: bool,
    pub connected_since: Option<i64>,
    pub remote: Option<String>,
    pub agent_version: Option<String>,
    pub agent_started_at: Option<i64>,
    pub reconnects: u64,
    pub last_error: Option<String>,
    /// What the connected agent said it can do (its greeting).
    pub capabilities: Vec<String>,
}

struct Link {
    status: LinkStatus,
    conn: Option<quinn::Connection>,
    cancel: watch::Sender<bool>,
}

pub struct Fleet {
    links: Mutex<HashMap<String, Link>>,
    /// Bumped on every change, so waiters can sleep until something happens.
    generation: watch::Sender<u64>,
}

impl Default for Fleet {
    fn default() -> Self {
        Self {
            links: Mutex::new(HashMap::new()),
            generation: watch::channel(0).0,
        }
    }
}

impl Fleet {
    fn bump(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Register a VM (idempotent); returns a receiver that turns true when
    /// the VM is removed or stopped.
    pub fn track(&self, vm: &str) -> watch::Receiver<bool> {
        let mut links = self.links.lock().expect("fleet lock");
        let link = links.entry(vm.to_string()).or_insert_with(|| Link {
            status: LinkStatus::default(),
            conn: None,
            cancel: watch::channel(false).0,
        });
        link.cancel.subscribe()
    }

    /// Stop tracking a VM: cancel its dialler and close its connection.
    pub fn untrack(&self, vm: &str, reason: &str) {
        if let Some(link) = self.links.lock().expect("fleet lock").remove(vm) {
            let _ = link.cancel.send(true);
            if let Some(conn) = link.conn {
                conn.close(close::SHUTDOWN, reason.as_bytes());
            }
        }
        self.bump();
    }

    pub fn connected(&self, vm: &str, conn: &quinn::Connection, hello: &Hello) {
        let mut links = self.links.lock().expect("fleet lock");
        let Some(link) = links.get_mut(vm) else {
            conn.close(close::UNAUTHORIZED, b"VM is no longer in the fleet");
            return;
        };
        if let Some(old) = link.conn.replace(conn.clone())
            && old.stable_id() != conn.stable_id()
        {
            old.close(close::REPLACED, b"replaced by a newer connection");
        }
        let s = &mut link.status;
        // Only a connection after an earlier one counts; enrollment's
        // redial is the first real session.
        if s.connected_since.is_some() {
            s.reconnects += 1;
        }
        s.connected = true;
        s.connected_since = Some(now_unix());
        s.remote = Some(conn.remote_address().to_string());
        s.agent_version = Some(hello.software.clone());
        s.agent_started_at = Some(hello.started_at_unix as i64);
        s.capabilities = hello.capabilities.clone();
        s.last_error = None;
        drop(links);
        self.bump();
    }

    /// Mark `conn` gone, if it is still the VM's current connection.
    pub fn disconnected(&self, vm: &str, conn: &quinn::Connection, reason: String) {
        let mut links = self.links.lock().expect("fleet lock");
        if let Some(link) = links.get_mut(vm)
            && link
                .conn
                .as_ref()
                .is_some_and(|c| c.stable_id() == conn.stable_id())
        {
            link.conn = None;
            link.status.connected = false;
            link.status.last_error = Some(reason);
        }
        drop(links);
        self.bump();
    }

    pub fn failed(&self, vm: &str, error: String) {
        if let Some(link) = self.links.lock().expect("fleet lock").get_mut(vm) {
            link.status.last_error = Some(error);
        }
        self.bump();
    }

    pub fn status(&self, vm: &str) -> LinkStatus {
        self.links
            .lock()
            .expect("fleet lock")
            .get(vm)
            .map(|l| l.status.clone())
            .unwrap_or_default()
    }

    /// Whether the VM's agent announced `capability` on its connection
    /// (or its last one).
    pub fn announces(&self, vm: &str, capability: &str) -> bool {
        self.links
            .lock()
            .expect("fleet lock")
            .get(vm)
            .is_some_and(|l| l.status.capabilities.iter().any(|c| c == capability))
    }

    /// The VM's live connection, if it has one.
    pub fn connection(&self, vm: &str) -> Option<quinn::Connection> {
        self.links.lock().expect("fleet lock").get(vm)?.conn.clone()
    }

    /// Reconnections of every VM since the daemon started.
    pub fn reconnects_total(&self) -> u64 {
        self.links
            .lock()
            .expect("fleet lock")
            .values()
            .map(|l| l.status.reconnects)
            .sum()
    }

    pub fn connected_count(&self) -> usize {
        self.links
            .lock()
            .expect("fleet lock")
            .values()
            .filter(|l| l.status.connected)
            .count()
    }

    /// Close every connection (daemon shutdown).
    pub fn close_all(&self, reason: &str) {
        for link in self.links.lock().expect("fleet lock").values_mut() {
            let _ = link.cancel.send(true);
            if let Some(conn) = link.conn.take() {
                conn.close(close::SHUTDOWN, reason.as_bytes());
            }
        }
    }

    /// Wait until `done` holds for the fleet or `timeout` passes.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&Fleet) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut rx = self.generation.subscribe();
        loop {
            if done(self) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = tokio::time::timeout(left, rx.changed()).await;
        }
    }
}
