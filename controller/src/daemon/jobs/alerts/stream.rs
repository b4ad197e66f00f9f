//! One connected agent's alerts stream: send the VM's rules (again when
//! the book, its tags or its session name change), store each event the
//! agent pushes, then acknowledge it, so the agent can forget it.
//!
//! Events are checked first (`check_event`): an event about a rule this
//! VM was never given is dropped, text is cleaned, figures made finite.
//! A malformed frame ends the stream; the next connection opens a new one.

use std::{collections::BTreeMap, sync::Arc};

use anyhow::{Context, Result};
use azlin_protocol::{
    alert::{AlertsDown, AlertsUp, CAP_ALERTS, MAX_ALERT_FRAME, Rule, Transition, check_event},
    stream::{MAX_QUERY_FRAME, Query},
    transport::{self, FramedRecv, StreamError},
};

use crate::daemon::Daemon;
use crate::{alerts::rules_file::IDLE, state::alerts::NewAlert, telemetry::live::now_ms};

pub async fn run(d: Arc<Daemon>, vm: String, conn: quinn::Connection) {
    if !d.fleet.announces(&vm, CAP_ALERTS) {
        tracing::info!(%vm, "agent does not evaluate alert rules (an older version); only agent-lost applies");
        return;
    }
    if let Err(e) = serve(&d, &vm, &conn).await {
        tracing::warn!(%vm, "alerts stream ended: {e:#}");
    }
}

fn rules_for(d: &Daemon, vm: &str) -> Vec<Rule> {
    let tags = d.db.lock().expect("db lock").tags(vm).unwrap_or_default();
    let session = d.session_name(vm);
    d.alerts
        .book
        .borrow()
        .rules_for(vm, session.as_deref(), &tags)
}

async fn serve(d: &Arc<Daemon>, vm: &str, conn: &quinn::Connection) -> Result<()> {
    let mut book = d.alerts.book.subscribe();
    let mut targets = d.alerts.targets.subscribe();
    let (mut send, recv) = conn.open_bi().await.context("opening the alerts stream")?;
    let mut recv = FramedRecv::new(recv, MAX_ALERT_FRAME);
    let mut sent = rules_for(d, vm);
    // Every rule this stream ever gave the agent: an event can arrive for
    // a rule that was replaced a moment ago.
    let mut given: BTreeMap<String, Rule> = BTreeMap::new();
    given.extend(sent.iter().map(|r| (r.name.clone(), r.clone())));
    transport::send(&mut send, &Query::Alerts(sent.clone()), MAX_QUERY_FRAME).await?;
    loop {
        tokio::select! {
            changed = book.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                resend(d, vm, &mut send, &mut sent, &mut given).await?;
            }
            changed = targets.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                resend(d, vm, &mut send, &mut sent, &mut given).await?;
            }
            msg = recv.tagged::<AlertsUp>() => match msg {
                Ok(Some(AlertsUp::Accepted { rules })) => {
                    tracing::debug!(%vm, rules, "agent put the alert rules in force");
                }
                Ok(Some(AlertsUp::Refused { reason })) => {
                    tracing::warn!(%vm, "agent refused the alert rules: {reason}");
                }
                Ok(Some(AlertsUp::Event(event))) => {
                    let (epoch, seq) = (event.epoch, event.seq);
                    let rules: Vec<Rule> = given.values().cloned().collect();
                    if let Some(mut e) = check_event(event, &rules, now_ms()) {
                        if e.rule == IDLE && e.transition == Transition::Firing {
                            e.message.push_str(&format!(
                                "; idle: `azlin stop {vm}` stops paying for it (the disk is kept)"
                            ));
                        }
                        super::record(d, &NewAlert {
                            vm,
                            epoch: e.epoch,
                            seq: Some(e.seq),
                            rule: &e.rule,
                            subject: &e.subject,
                            transition: e.transition,
                            severity: e.severity,
                            value: e.value,
                            threshold: e.threshold,
                            message: &e.message,
                            at_ms: e.at_ms,
                            received_ms: now_ms(),
                        })?;
                    } else {
                        tracing::warn!(%vm, "dropped an alert event for a rule this VM was not given");
                    }
                    // Stored (or known, or worthless): the agent may forget it.
                    transport::send(&mut send, &AlertsDown::Ack { epoch, seq }, MAX_ALERT_FRAME).await?;
                }
                Ok(None) | Err(StreamError::Lost(_)) => return Ok(()),
                Err(e) => {
                    if e.is_peer_fault() {
                        recv.reject();
                    }
                    return Err(e).context("bad frame on the alerts stream");
                }
            },
        }
    }
}

async fn resend(
    d: &Daemon,
    vm: &str,
    send: &mut quinn::SendStream,
    sent: &mut Vec<Rule>,
    given: &mut BTreeMap<String, Rule>,
) -> Result<()> {
    let rules = rules_for(d, vm);
    if rules != *sent {
        given.extend(rules.iter().map(|r| (r.name.clone(), r.clone())));
        transport::send(send, &AlertsDown::Rules(rules.clone()), MAX_ALERT_FRAME).await?;
        *sent = rules;
    }
    Ok(())
}
