//! A buggy or hostile agent's telemetry: non-finite figures are thrown
//! away, absurd ones clamped, an oversized frame ends only that agent's
//! connection. A real VM beside it is never disturbed.

use std::time::Duration;

use azlin_agent::credentials::AgentCredentials;
use azlin_e2e::{Env, free_tcp, http_get, peer, sim};
use azlin_protocol::{
    stream::AgentStream,
    telemetry::{MAX_CORES, MAX_SAMPLE_FRAME, Tmux, TmuxSession},
    transport,
};

fn counter(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing:\n{body}"))
}

#[test]
fn hostile_samples_are_rejected_or_clamped_and_nobody_else_notices() {
    let env = Env::with_listener();
    let metrics = free_tcp();
    env.configure(&format!("[metrics]\nlisten = \"{metrics}\"\n"));
    env.ok(&["new", "--name", "dev"]);
    env.wait("dev reports", Duration::from_secs(20), || {
        env.top_of("dev")["freshness"] == "live"
    });
    let reconnects = env.vm("dev")["reconnects"].as_u64().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let (controller, bad) = sim::join_external(&env, "bad", dir.path());

    // NaN: the sample is thrown away and counted.
    let mut s = sim::synthetic_sample(1, 1000);
    s.cpu_percent = f32::NAN;
    bad.samples.send_replace(Some(s));
    env.wait("NaN sample rejected", Duration::from_secs(10), || {
        counter(
            &http_get(metrics, "/metrics").1,
            "azlin_daemon_samples_rejected_total",
        ) >= 1
    });
    assert!(
        env.top_of("bad")["cpu_percent"].is_null(),
        "no figures from a rejected sample"
    );

    // Absurd figures and a terminal escape: clamped and cleaned.
    let mut s = sim::synthetic_sample(2, 1000);
    s.cpu_percent = 1e9;
    s.per_core = vec![500.0; 5000];
    s.load = [-3.0, 1.0, 1.0];
    s.memory_used = s.memory_total * 10;
    s.tmux = Tmux::Sessions(vec![TmuxSession {
        name: "x\x1b]0;owned\x07".into(),
        attached: true,
        windows: 1,
        created_unix: 0,
    }]);
    bad.samples.send_replace(Some(s));
    env.wait("absurd sample clamped", Duration::from_secs(10), || {
        env.top_of("bad")["cpu_percent"].as_f64() == Some(100.0)
    });
    let v = env.top_of("bad");
    assert_eq!(v["per_core_percent"].as_array().unwrap().len(), MAX_CORES);
    assert_eq!(v["memory_used"], v["memory_total"]);
    assert_eq!(v["load"][0], 0.0);
    assert_eq!(v["tmux_sessions"][0]["name"], "x?]0;owned?");
    assert!(
        counter(
            &http_get(metrics, "/metrics").1,
            "azlin_daemon_samples_clamped_total"
        ) >= 1
    );

    // An agent with a valid certificate announcing a frame far over the
    // limit: its connection ends with the reason, nothing else does.
    runtime.block_on(bad.agent.shutdown("replaced by a raw peer"));
    let creds = AgentCredentials::load_or_create(
        &dir.path().join("bad"),
        &dir.path().join("bad/ca.crt"),
        "bad",
    )
    .unwrap();
    let reason = runtime.block_on(async {
        let (conn, _control) =
            peer::agent_session(&creds, "bad", vec![], controller.parse().unwrap()).await;
        let mut uni = conn.open_uni().await.unwrap();
        transport::send(&mut uni, &AgentStream::Telemetry, MAX_SAMPLE_FRAME)
            .await
            .unwrap();
        uni.write_all(&(100u32 << 20).to_be_bytes()).await.unwrap();
        uni.write_all(&[0u8; 4096]).await.unwrap();
        peer::close_reason(&conn).await
    });
    assert!(reason.contains("bad telemetry"), "{reason}");
    assert!(
        counter(
            &http_get(metrics, "/metrics").1,
            "azlin_daemon_protocol_errors_total"
        ) >= 1
    );

    let dev = env.vm("dev");
    assert_eq!(dev["connected"], true);
    assert_eq!(
        dev["reconnects"].as_u64().unwrap(),
        reconnects,
        "dev never dropped"
    );
    assert_eq!(env.top_of("dev")["freshness"], "live");
}
