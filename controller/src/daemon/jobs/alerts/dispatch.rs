//! Hand each stored event to its channels: the daemon's log always, the
//! desktop command and the webhook when the rule names them. Each channel
//! has its own queue and task and delivers in order; a failure is logged
//! with the event and never stops the next one.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::alerts::{
    book::{Channel, Desktop, Webhook},
    desktop,
    record::AlertRecord,
    webhook,
};
use crate::daemon::Daemon;
use azlin_protocol::alert::{Severity, Transition};

struct Job {
    record: AlertRecord,
    display: String,
    session: Option<String>,
}

pub async fn run(d: Arc<Daemon>, mut events: mpsc::UnboundedReceiver<AlertRecord>) {
    let (desktop_tx, desktop_rx) = mpsc::unbounded_channel::<Job>();
    let (webhook_tx, webhook_rx) = mpsc::unbounded_channel::<Job>();
    tokio::spawn(desktop_task(d.clone(), desktop_rx));
    tokio::spawn(webhook_task(d.clone(), webhook_rx));
    while let Some(record) = events.recv().await {
        let session = d.session_name(&record.vm);
        // As every command shows a VM: `main (dev-1)`.
        let display = crate::ipc::VmName {
            vm: record.vm.clone(),
            session_name: session.clone(),
        }
        .labelled();
        let channels = d.alerts.book.borrow().channels_of(&record.rule);
        log(&record, &display);
        let job = || Job {
            record: record.clone(),
            display: display.clone(),
            session: session.clone(),
        };
        if channels.contains(&Channel::Desktop) {
            let _ = desktop_tx.send(job());
        }
        if channels.contains(&Channel::Webhook) {
            let _ = webhook_tx.send(job());
        }
    }
}

fn log(r: &AlertRecord, display: &str) {
    let line = r.summary(display);
    match (r.transition, r.severity) {
        (Transition::Firing, Severity::Critical | Severity::Warning) => {
            tracing::warn!(alert = r.id, vm = %r.vm, rule = %r.rule, "{line}")
        }
        _ => tracing::info!(alert = r.id, vm = %r.vm, rule = %r.rule, "{line}"),
    }
}

async fn desktop_task(d: Arc<Daemon>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = jobs.recv().await {
        let config: Option<Desktop> = d.alerts.book.borrow().desktop.clone();
        let Some(config) = config else { continue };
        if let Err(e) = desktop::notify(&config, &job.record, &job.display).await {
            tracing::warn!(alert = job.record.id, "desktop notification failed: {e:#}");
        }
    }
}

async fn webhook_task(d: Arc<Daemon>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut sender: Option<(Webhook, webhook::Sender)> = None;
    while let Some(job) = jobs.recv().await {
        let config: Option<Webhook> = d.alerts.book.borrow().webhook.clone();
        let Some(config) = config else { continue };
        if sender.as_ref().is_none_or(|(c, _)| *c != config) {
            match webhook::Sender::new(config.clone()) {
                Ok(s) => sender = Some((config, s)),
                Err(e) => {
                    tracing::warn!("cannot make a webhook client: {e:#}");
                    continue;
                }
            }
        }
        let (_, s) = sender.as_ref().expect("just set");
        let body = job.record.webhook_body(job.session.as_deref());
        match s.post(&body).await {
            Ok(()) => tracing::debug!(alert = job.record.id, "webhook delivered"),
            Err(e) => tracing::warn!(
                alert = job.record.id,
                url = s.shown_url(),
                "webhook delivery failed: {e:#}"
            ),
        }
    }
}
