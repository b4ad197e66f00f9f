//! Alert rules evaluated here, on every sample, whether or not the
//! controller is connected; events wait in the outbox until the controller
//! has stored them.
//!
//! - [`store`]: the rules and the outbox in a file under `state_dir`, so
//!   neither is lost when the agent restarts.
//! - [`stream`]: the alerts stream of one controller connection: rules in,
//!   events out, acknowledgements in.
//! - [`commands`]: the command lines of running processes, for rules that
//!   watch a process.
//!
//! Not here: the evaluator itself (pure, in `azlin_protocol::alert::eval`).

pub mod commands;
pub mod store;
pub mod stream;

use std::{path::PathBuf, sync::Mutex};

use azlin_protocol::{
    alert::{Rule, eval::Evaluator, eval::Happening, outbox::Outbox},
    telemetry::Sample,
};
use tokio::sync::{Notify, watch};

pub struct Alerts {
    inner: Mutex<Inner>,
    /// Woken whenever the outbox gains an event.
    pub(crate) pushed: Notify,
    /// Bumped when a controller opens a new alerts stream; an older stream
    /// sees it and ends, so one connection's stream sends at a time.
    pub(crate) generation: watch::Sender<u64>,
    file: PathBuf,
}

struct Inner {
    evaluator: Evaluator,
    outbox: Outbox,
}

impl Alerts {
    /// Load the rules and outbox kept in `state_dir` (or start empty).
    pub fn load(state_dir: &std::path::Path) -> Self {
        let file = state_dir.join("alerts.state");
        let saved = store::load(&file);
        let mut evaluator = Evaluator::default();
        // The evaluator starts empty, so this resolves nothing.
        evaluator.set_rules(saved.rules, 0);
        Self {
            inner: Mutex::new(Inner {
                evaluator,
                outbox: saved.outbox,
            }),
            pushed: Notify::new(),
            generation: watch::channel(0).0,
            file,
        }
    }

    /// Put new rules in force (already checked); their resolutions go out.
    pub(crate) fn set_rules(&self, rules: Vec<Rule>, now_ms: u64) {
        let mut inner = self.inner.lock().expect("alerts lock");
        if inner.evaluator.rules() == rules.as_slice() {
            return;
        }
        let happened = inner.evaluator.set_rules(rules, now_ms);
        self.record(&mut inner, happened, true);
    }

    /// Evaluate one sample.
    pub fn observe(&self, sample: &Sample, commands: &[String]) {
        let mut inner = self.inner.lock().expect("alerts lock");
        let happened = inner.evaluator.observe(sample, commands);
        if !happened.is_empty() {
            self.record(&mut inner, happened, false);
        }
    }

    pub(crate) fn needs_processes(&self) -> bool {
        self.inner
            .lock()
            .expect("alerts lock")
            .evaluator
            .needs_processes()
    }

    pub(crate) fn ack(&self, epoch: u64, seq: u64) {
        let mut inner = self.inner.lock().expect("alerts lock");
        if inner.outbox.ack(epoch, seq) {
            self.save(&inner);
        }
    }

    /// Unacknowledged events after `seq`, to send.
    pub(crate) fn unsent_after(&self, seq: u64) -> Vec<azlin_protocol::alert::AlertEvent> {
        let inner = self.inner.lock().expect("alerts lock");
        inner.outbox.after(seq).cloned().collect()
    }

    fn record(&self, inner: &mut Inner, happened: Vec<Happening>, rules_changed: bool) {
        for h in happened {
            tracing::info!(rule = %h.rule, subject = %h.subject, transition = h.transition.name(), "{}", h.message);
            inner.outbox.push(h);
        }
        if rules_changed || !inner.outbox.is_empty() {
            self.save(inner);
        }
        self.pushed.notify_waiters();
    }

    /// Events are rare; each change is written through so an event raised
    /// while the controller is away survives an agent restart too.
    fn save(&self, inner: &Inner) {
        if let Err(e) = store::save(&self.file, inner.evaluator.rules(), &inner.outbox) {
            tracing::warn!("cannot keep alert state in {}: {e}", self.file.display());
        }
    }
}

/// Evaluate every sample the sampler publishes, for as long as it runs.
pub async fn evaluate(
    alerts: std::sync::Arc<Alerts>,
    mut samples: watch::Receiver<Option<Sample>>,
) {
    while samples.changed().await.is_ok() {
        let sample = samples.borrow_and_update().clone();
        let Some(sample) = sample else { continue };
        let commands = if alerts.needs_processes() {
            tokio::task::spawn_blocking(commands::running)
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        alerts.observe(&sample, &commands);
    }
}
