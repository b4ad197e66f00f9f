//! Flood benchmark (hardening issue): the daemon's dial-mode listener
//! under connections that never authenticate. It measures the daemon's
//! RSS before and at its peak (VmHWM, reset first) and `azlin list`
//! latency, idle and during each flood:
//!
//! 1. 2,000 idle connections with no certificate, 20 from each of 100
//!    loopback addresses, held open;
//! 2. 200 connections (20 from each of 10 addresses) that each announce a
//!    1 MiB frame on the greeting stream, and on a stream of their own,
//!    and send most of it.
//!
//! Real binaries on loopback; prints a Markdown table for BENCHMARKS.md.
//!
//! cargo build --release --workspace && target/release/flood-bench

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use azlin_e2e::{
    Env,
    flood::{Flood, flood},
    peer,
    proc_stats::{mib, status_bytes},
};

fn list_latency(env: &Env, runs: usize) -> (f64, f64) {
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            env.ok(&["list"]);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let p50 = azlin_e2e::proc_stats::percentile(&mut ms, 0.5);
    let p95 = azlin_e2e::proc_stats::percentile(&mut ms, 0.95);
    (p50, p95)
}

fn sources(first: u8, count: u8) -> Vec<IpAddr> {
    (0..count)
        .map(|n| IpAddr::from([127, 0, 1, first + n]))
        .collect()
}

fn main() {
    let env = Env::with_listener();
    env.ok(&["new", "--name", "b", "--pool", "5"]);
    let pid = env.daemon_pid().expect("the daemon runs");
    let addr = env.listen.expect("a listener");
    let ca = peer::fleet_ca(env.home());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss = status_bytes(pid, "VmRSS:").unwrap();
    let (idle_p50, idle_p95) = list_latency(&env, 30);
    println!(
        "| what | held / refused | daemon RSS peak (idle {:.1} MiB) | over idle | `azlin list` p50 / p95 |",
        mib(idle_rss)
    );
    println!("|---|---|---|---|---|");
    println!("| no flood | - | - | - | {idle_p50:.1} / {idle_p95:.1} ms |");
    for (what, srcs, per, big) in [
        (
            "2,000 idle connections, no certificate",
            sources(1, 100),
            20usize,
            false,
        ),
        (
            "200 connections each sending most of a 1 MiB frame",
            sources(150, 10),
            20,
            true,
        ),
    ] {
        // Reset the peak (VmHWM) to now.
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
        let flooding = runtime.spawn({
            let ca = ca.clone();
            async move { flood(addr, &ca, &srcs, per, big).await }
        });
        // `azlin list` while the flood comes in and is held.
        std::thread::sleep(Duration::from_millis(300));
        let (p50, p95) = list_latency(&env, 30);
        let f: Flood = runtime.block_on(flooding).unwrap();
        std::thread::sleep(Duration::from_secs(1));
        let peak = status_bytes(pid, "VmHWM:").unwrap();
        println!(
            "| {what} | {} / {} | {:.1} MiB | +{:.1} MiB | {p50:.1} / {p95:.1} ms |",
            f.held.len(),
            f.refused,
            mib(peak),
            mib(peak.saturating_sub(idle_rss)),
        );
        // Dropped at the deadline (or at once, for a frame over the limit).
        let t = Instant::now();
        while f.open() > 0 && t.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "{what}: all dropped by the daemon {:?} after the flood",
            t.elapsed()
        );
        drop(f);
    }
    assert!(
        env.list().iter().all(|v| v["connected"] == true),
        "the fleet stayed up"
    );
}
