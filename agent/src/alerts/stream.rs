//! The alerts stream of one controller connection. The controller opens it
//! with the VM's rules; from then on it sends new rules and
//! acknowledgements, and this side sends every unacknowledged event, the
//! ones left from before this connection first.
//!
//! Rules that fail [`check_rules`] are refused with the reason and change
//! nothing; a malformed frame stops the stream (the controller opens a new
//! one on its next connection). A newer stream ends this one.

use std::sync::Arc;

use azlin_protocol::{
    alert::{AlertsDown, AlertsUp, MAX_ALERT_FRAME, Rule, check_rules},
    transport::{self, FramedRecv, StreamError},
};

use super::Alerts;

pub async fn serve(
    alerts: Arc<Alerts>,
    rules: Vec<Rule>,
    mut send: quinn::SendStream,
    mut recv: FramedRecv,
) {
    let mut newer = alerts.generation.subscribe();
    let mine = {
        alerts.generation.send_modify(|g| *g += 1);
        *alerts.generation.borrow()
    };
    newer.mark_unchanged();
    let result: Result<(), StreamError> = async {
        answer_rules(&alerts, rules, &mut send).await?;
        let mut sent_through = 0u64;
        loop {
            let pushed = alerts.pushed.notified();
            tokio::pin!(pushed);
            pushed.as_mut().enable();
            for event in alerts.unsent_after(sent_through) {
                sent_through = event.seq;
                transport::send(&mut send, &AlertsUp::Event(event), MAX_ALERT_FRAME).await?;
            }
            tokio::select! {
                () = &mut pushed => {}
                msg = recv.tagged::<AlertsDown>() => match msg? {
                    Some(AlertsDown::Rules(rules)) => answer_rules(&alerts, rules, &mut send).await?,
                    Some(AlertsDown::Ack { epoch, seq }) => alerts.ack(epoch, seq),
                    None => return Ok(()),
                },
                () = superseded(&mut newer, mine) => return Ok(()),
            }
        }
    }
    .await;
    match result {
        Ok(()) | Err(StreamError::Lost(_)) => {}
        Err(e) => {
            tracing::warn!("alerts stream from the controller: {e}");
            if e.is_peer_fault() {
                recv.reject();
            }
        }
    }
    let _ = send.finish();
}

/// Returns once a newer stream has started.
async fn superseded(newer: &mut tokio::sync::watch::Receiver<u64>, mine: u64) {
    loop {
        if newer.changed().await.is_err() {
            return std::future::pending().await;
        }
        let current = *newer.borrow_and_update();
        if current != mine {
            return;
        }
    }
}

async fn answer_rules(
    alerts: &Alerts,
    rules: Vec<Rule>,
    send: &mut quinn::SendStream,
) -> Result<(), StreamError> {
    let reply = match check_rules(&rules) {
        Ok(()) => {
            let count = rules.len() as u32;
            alerts.set_rules(rules, now_ms());
            tracing::info!(rules = count, "alert rules in force");
            AlertsUp::Accepted { rules: count }
        }
        Err(e) => {
            tracing::warn!("refused alert rules from the controller: {e}");
            AlertsUp::Refused {
                reason: e.to_string(),
            }
        }
    };
    transport::send(send, &reply, MAX_ALERT_FRAME).await
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
