//! Hostile peers on the alerts stream. An agent's events are checked by
//! the daemon: events about rules it was never given are dropped, text is
//! cleaned, a resent event is stored once, a malformed frame ends only
//! that stream. A hand-crafted controller's rules are checked by the agent:
//! NaN thresholds and oversized rule sets are refused with the reason and
//! change nothing.

use std::time::Duration;

use azlin_e2e::{Env, peer, sim};
use azlin_protocol::{
    alert::{
        AlertEvent, AlertsDown, AlertsUp, CAP_ALERTS, MAX_ALERT_FRAME, Metric, Op, Rule, Severity,
        Transition,
    },
    stream::{MAX_QUERY_FRAME, Query},
    transport::{self, FramedRecv},
};
use serde_json::Value;

fn alerts(env: &Env) -> Value {
    serde_json::from_str(&env.ok(&["alerts", "--json", "--history", "1000"])).unwrap()
}

fn event(seq: u64, rule: &str, message: &str, value: f64) -> AlertsUp {
    AlertsUp::Event(AlertEvent {
        epoch: 77,
        seq,
        rule: rule.into(),
        subject: String::new(),
        transition: Transition::Firing,
        severity: Severity::Info,
        value,
        threshold: 1.0,
        at_ms: u64::MAX,
        message: message.into(),
    })
}

#[test]
fn a_hostile_agents_events_are_checked_stored_once_and_cannot_break_the_daemon() {
    let env = Env::with_listener();
    std::fs::write(
        env.home().join("alerts.toml"),
        "[[rule]]\nname = \"hot\"\nmetric = \"cpu\"\nop = \">\"\nthreshold = 90\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let (controller, creds) = sim::enrolled_for_raw_peer(&env, "bad", dir.path(), &runtime);
    let acks = runtime.block_on(async move {
        let (conn, _control) =
            peer::agent_session(&creds, "bad", vec![CAP_ALERTS.into()], controller).await;
        let (mut send, recv) = conn.accept_bi().await.unwrap();
        let mut recv = FramedRecv::new(recv, MAX_QUERY_FRAME);
        let Ok(Some(Query::Alerts(rules))) = recv.tagged::<Query>().await else {
            panic!("expected the alert rules first");
        };
        assert!(rules.iter().any(|r| r.name == "hot"), "{rules:?}");
        let frames = [
            event(1, "made-up", "not a rule of mine", 1.0),
            event(2, "hot", "cpu\x1b]0;owned\x07 is high", f64::NAN),
            event(2, "hot", "sent again", 5.0),
        ];
        for f in &frames {
            transport::send(&mut send, f, MAX_ALERT_FRAME)
                .await
                .unwrap();
        }
        let mut acks = Vec::new();
        for _ in 0..frames.len() {
            match recv.tagged::<AlertsDown>().await {
                Ok(Some(AlertsDown::Ack { epoch, seq })) => acks.push((epoch, seq)),
                other => panic!("expected an ack, got {other:?}"),
            }
        }
        // A garbage frame (an unknown tag): this stream ends, nothing else.
        send.write_all(&[0, 0, 0, 2, 0x7f, 0]).await.unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(5), recv.tagged::<AlertsDown>()).await;
        acks
    });
    assert_eq!(
        acks,
        vec![(77, 1), (77, 2), (77, 2)],
        "every event is acknowledged"
    );
    let view = alerts(&env);
    let history = view["history"].as_array().unwrap();
    let mine: Vec<&Value> = history.iter().filter(|e| e["vm"] == "bad").collect();
    assert_eq!(mine.len(), 1, "{history:#?}");
    assert_eq!(mine[0]["rule"], "hot");
    assert_eq!(mine[0]["message"], "cpu?]0;owned? is high");
    assert_eq!(mine[0]["value"], 0.0);
    assert_eq!(
        mine[0]["severity"], "warning",
        "the rule's severity, not the agent's"
    );
    assert!(
        mine[0]["at_ms"].as_u64().unwrap() < u64::MAX / 2,
        "no clock from the future"
    );
    assert!(
        env.daemon_status()["pid"].is_number(),
        "the daemon is still serving"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_refuses_hostile_rules_from_a_hand_crafted_controller() {
    let env = Env::new();
    env.ok(&["new", "--name", "h"]);
    let addr = env.vm("h")["address"].as_str().unwrap().parse().unwrap();
    env.wait("connected", Duration::from_secs(20), || env.connected("h"));
    // The real daemon would redial and replace the crafted controller.
    env.ok(&["daemon", "stop"]);
    let (conn, _control) = peer::controller_session(env.home(), "h", addr).await;
    let rule = |name: &str, threshold: f64| Rule {
        name: name.into(),
        metric: Metric::Processes,
        op: Op::Above,
        threshold,
        clear: 0.0,
        for_ms: 0,
        severity: Severity::Info,
    };
    let (mut send, recv) = conn.open_bi().await.unwrap();
    let mut recv = FramedRecv::new(recv, MAX_ALERT_FRAME);
    transport::send(
        &mut send,
        &Query::Alerts(vec![rule("nan", f64::NAN)]),
        MAX_QUERY_FRAME,
    )
    .await
    .unwrap();
    let mut next = async || recv.tagged::<AlertsUp>().await.unwrap().unwrap();
    match next().await {
        AlertsUp::Refused { reason } => assert!(reason.contains("finite"), "{reason}"),
        other => panic!("NaN threshold accepted: {other:?}"),
    }
    let many: Vec<Rule> = (0..300).map(|i| rule(&format!("r{i}"), 1.0)).collect();
    transport::send(&mut send, &AlertsDown::Rules(many), MAX_ALERT_FRAME)
        .await
        .unwrap();
    match next().await {
        AlertsUp::Refused { reason } => assert!(reason.contains("300 rules"), "{reason}"),
        other => panic!("300 rules accepted: {other:?}"),
    }
    // A sound rule is put in force and fires on the next sample.
    transport::send(
        &mut send,
        &AlertsDown::Rules(vec![rule("procs", 0.0)]),
        MAX_ALERT_FRAME,
    )
    .await
    .unwrap();
    assert_eq!(next().await, AlertsUp::Accepted { rules: 1 });
    let fired = tokio::time::timeout(Duration::from_secs(10), next())
        .await
        .expect("the rule fires on the next sample");
    let AlertsUp::Event(e) = fired else {
        panic!("expected an event, got {fired:?}");
    };
    assert_eq!(
        (e.rule.as_str(), e.transition),
        ("procs", Transition::Firing)
    );
}
