//! Simulated agents: the real agent code (enrollment, mutual TLS, QUIC,
//! the telemetry stream) run in-process, many at once, fed synthetic
//! samples instead of this machine's. Used by `fleet-sim` for scale
//! figures and by the e2e tests to play a buggy or hostile agent.

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use azlin_agent::{
    config::{AgentConfig, Connect, TelemetryConfig},
    credentials::AgentCredentials,
    endpoint,
    session::Agent,
};
use azlin_controller::telemetry::live::now_ms;
use azlin_protocol::telemetry::{Filesystem, Interface, Sample, Tmux, TmuxSession};
use tokio::sync::watch;

/// A plausible small VM's sample, varied by `seed` so VMs differ.
pub fn synthetic_sample(seed: u64, interval_ms: u32) -> Sample {
    let wobble = (seed.wrapping_mul(2_654_435_761) % 1000) as f32 / 10.0;
    Sample {
        taken_at_ms: now_ms(),
        interval_ms,
        cpu_percent: wobble,
        per_core: vec![wobble, 100.0 - wobble],
        load: [wobble / 50.0, 0.5, 0.25],
        memory_used: 2_000_000_000 + seed % 1_000_000_000,
        memory_total: 8_000_000_000,
        swap_used: 0,
        swap_total: 0,
        filesystems: vec![Filesystem {
            mount: "/".into(),
            fs_type: "ext4".into(),
            used: 20_000_000_000,
            total: 64_000_000_000,
        }],
        interfaces: vec![Interface {
            name: "eth0".into(),
            rx_bytes_per_sec: seed % 100_000,
            tx_bytes_per_sec: seed % 10_000,
        }],
        uptime_secs: 3600,
        users: 1,
        processes: 150,
        tmux: Tmux::Sessions(vec![TmuxSession {
            name: "main".into(),
            attached: seed.is_multiple_of(2),
            windows: 2,
            created_unix: 1_790_000_000,
        }]),
    }
}

/// One simulated agent: its own key, enrolled with `token`, dialling
/// `controller`, pushing whatever is put into the returned sender.
pub struct SimAgent {
    pub agent: Arc<Agent>,
    pub samples: watch::Sender<Option<Sample>>,
}

pub fn start(
    dir: &Path,
    name: &str,
    token: &str,
    ca_pem: &str,
    controller: &str,
    interval_ms: u32,
) -> Result<SimAgent> {
    let state_dir = dir.join(name);
    std::fs::create_dir_all(&state_dir)?;
    let ca = state_dir.join("ca.crt");
    std::fs::write(&ca, ca_pem)?;
    let token_file = state_dir.join("join-token");
    std::fs::write(&token_file, token)?;
    let config = AgentConfig {
        name: name.to_string(),
        state_dir: state_dir.clone(),
        ca_cert: ca.clone(),
        join_token_file: Some(token_file),
        user: None,
        home: None,
        shared_home: None,
        exec: Default::default(),
        ssh: Default::default(),
        files: Default::default(),
        connect: Connect::Dial {
            controller: controller.to_string(),
        },
        telemetry: TelemetryConfig {
            interval_ms,
            ..TelemetryConfig::default()
        },
    };
    let creds = AgentCredentials::load_or_create(&state_dir, &ca, name)
        .with_context(|| format!("credentials for {name}"))?;
    let (samples, rx) = watch::channel(None);
    let agent = Arc::new(Agent::new(config, creds, rx));
    let dialler = agent.clone();
    let controller = controller.to_string();
    tokio::spawn(async move {
        let _ = endpoint::dial(dialler, controller).await;
    });
    Ok(SimAgent { agent, samples })
}

/// Feed `sim` a synthetic sample every `interval` until the sender closes.
pub fn feed(sim: &SimAgent, seed: u64, interval: Duration) {
    let tx = sim.samples.clone();
    let interval_ms = interval.as_millis() as u32;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        // Spread agents over the interval, as real ones are.
        tokio::time::sleep(Duration::from_millis(
            seed * 7919 % interval.as_millis().max(1) as u64,
        ))
        .await;
        loop {
            tick.tick().await;
            if tx.send(Some(synthetic_sample(seed, interval_ms))).is_err() {
                return;
            }
        }
    });
}

/// Register `name` with `env`'s daemon as an external machine and join it
/// with a simulated agent in `dir` (inside a tokio runtime); returns the
/// controller's address and the agent once it is connected.
pub fn join_external(env: &crate::Env, name: &str, dir: &Path) -> (String, SimAgent) {
    let joined: serde_json::Value =
        serde_json::from_str(&env.ok(&["new", "--provider", "external", "--name", name, "--json"]))
            .unwrap();
    let controller = joined["controller"].as_str().unwrap().to_string();
    let ca_pem = joined["ca_pem"].as_str().unwrap();
    let token = joined["vms"][0]["token"].as_str().unwrap();
    let agent = start(dir, name, token, ca_pem, &controller, 1000).unwrap();
    env.wait(
        &format!("{name} enrolled and connected"),
        Duration::from_secs(20),
        || env.connected(name),
    );
    (controller, agent)
}

/// Enroll `name` as an external machine with the real agent code, then
/// stop that agent so a raw peer can take its place with the certificate
/// it earned: returns the controller's address and those credentials.
/// Call inside `runtime`'s context.
pub fn enrolled_for_raw_peer(
    env: &crate::Env,
    name: &str,
    dir: &Path,
    runtime: &tokio::runtime::Runtime,
) -> (
    std::net::SocketAddr,
    azlin_agent::credentials::AgentCredentials,
) {
    let (controller, real) = join_external(env, name, dir);
    runtime.block_on(real.agent.shutdown("replaced by a raw peer"));
    let creds =
        AgentCredentials::load_or_create(&dir.join(name), &dir.join(name).join("ca.crt"), name)
            .unwrap();
    (controller.parse().unwrap(), creds)
}
