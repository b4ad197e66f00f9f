//! fleet-sim: N simulated agents (real enrollment, mutual TLS and QUIC, one
//! endpoint each, all in this process) pushing samples to a real daemon at
//! a given rate. Measures the daemon's CPU and memory and the age of the
//! samples it holds, and prints a Markdown row for BENCHMARKS.md.
//!
//! cargo build --release --workspace
//! target/release/fleet-sim AGENTS [RATE_HZ] [SECONDS]

use std::time::{Duration, Instant};

use azlin_controller::telemetry::live::now_ms;
use azlin_e2e::{
    Env,
    proc_stats::{cpu_seconds, mib, percentile, status_bytes},
    sim,
};
use serde_json::Value;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let agents: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let rate: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let seconds: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(30);
    let interval = Duration::from_secs_f64(1.0 / rate);
    // One UDP socket per agent, plus files while enrolling.
    let _ =
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, 65_536, 65_536);

    let env = Env::with_listener();
    let joined: Value = serde_json::from_str(&env.ok(&[
        "new",
        "--provider",
        "external",
        "--name",
        "sim",
        "--pool",
        &agents.to_string(),
        "--json",
    ]))
    .expect("join list");
    let controller = joined["controller"].as_str().unwrap().to_string();
    let ca_pem = joined["ca_pem"].as_str().unwrap().to_string();
    let daemon = env.daemon_pid().expect("daemon runs");
    let dir = tempfile::tempdir().unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let sims = runtime.block_on(async {
        let mut sims = Vec::new();
        for (i, vm) in joined["vms"].as_array().unwrap().iter().enumerate() {
            let s = sim::start(
                dir.path(),
                vm["name"].as_str().unwrap(),
                vm["token"].as_str().unwrap(),
                &ca_pem,
                &controller,
                interval.as_millis() as u32,
            )
            .expect("start simulated agent");
            sim::feed(&s, i as u64, interval);
            sims.push(s);
            // Enrollment signs a certificate and commits a transaction per
            // agent; pace the arrivals a little, as a real rollout would.
            if i % 100 == 99 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        sims
    });
    let _guard = runtime.enter();
    env.wait(
        "all simulated agents connected",
        Duration::from_secs(600),
        || env.daemon_status()["connected"].as_u64() == Some(agents as u64),
    );
    let connect_time = started.elapsed();
    // Let enrollment's work settle before measuring the steady state.
    std::thread::sleep(Duration::from_secs(3));

    let cpu0 = cpu_seconds(daemon).unwrap();
    let own0 = cpu_seconds(std::process::id() as i32).unwrap();
    let t0 = Instant::now();
    let mut ages = Vec::new();
    let mut rss = Vec::new();
    while t0.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(2));
        rss.push(status_bytes(daemon, "VmRSS").unwrap());
        let fleet = env.top();
        let now = now_ms();
        for vm in &fleet {
            if let Some(taken) = vm["taken_at_ms"].as_u64() {
                ages.push(now.saturating_sub(taken) as f64 / 1000.0);
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (cpu_seconds(daemon).unwrap() - cpu0) / wall * 100.0;
    let own = (cpu_seconds(std::process::id() as i32).unwrap() - own0) / wall * 100.0;
    let peak = status_bytes(daemon, "VmHWM").unwrap();
    let avg_rss = rss.iter().sum::<u64>() / rss.len() as u64;
    let size = std::fs::metadata(env.home().join("state.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "| {agents} | {rate} Hz | {:.1} s | {cpu:.1} % | {:.0} MiB | {:.0} MiB | {:.2} s | {:.2} s | {own:.0} % |",
        connect_time.as_secs_f64(),
        mib(avg_rss),
        mib(peak),
        percentile(&mut ages, 0.5),
        percentile(&mut ages, 0.99),
    );
    eprintln!("state.db after the run: {:.1} MiB", mib(size));
    drop(sims);
    drop(env);
}
