//! Telemetry benchmarks, each printing Markdown rows for BENCHMARKS.md:
//!
//! - `agent [SECS]`: an idle agent's RSS and CPU at 1 Hz over SECS (60),
//!   beside Prometheus node_exporter scraped at 1 Hz in the same run.
//! - `top [VMS] [RUNS]`: wall time of the whole `azlin top --once --json`
//!   process on VMS (20) real agents, and the age of the samples it shows.
//! - `sample`: the encoded size of this machine's real sample.
//! - `history [VMS] [DAYS]`: a week (DAYS=7) of VMS (50) VMs written and
//!   downsampled through the real state.db code; the file size.
//!
//! cargo build --release --workspace && target/release/telemetry-bench agent

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use azlin_controller::{
    state::{
        Db,
        metrics::{COARSE_STEP, RAW_STEP},
    },
    telemetry::live::{Point, now_ms},
};
use azlin_e2e::{
    Env, free_tcp, http_get,
    proc_stats::{cpu_seconds, mib, percentile, status_bytes},
    sim,
};
use serde_json::Value;

/// RSS (average, peak) and CPU % of one core of `pid` over `secs`,
/// calling `each_second` once a second.
fn footprint(pid: i32, secs: u64, mut each_second: impl FnMut()) -> (f64, f64, f64) {
    let cpu0 = cpu_seconds(pid).unwrap();
    let t0 = Instant::now();
    let mut rss = Vec::new();
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        each_second();
        rss.push(status_bytes(pid, "VmRSS").unwrap() as f64);
    }
    let cpu = (cpu_seconds(pid).unwrap() - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    let avg = rss.iter().sum::<f64>() / rss.len() as f64;
    (
        mib(avg as u64),
        mib(status_bytes(pid, "VmHWM").unwrap()),
        cpu,
    )
}

fn agent(secs: u64) {
    let env = Env::new();
    env.ok(&["new", "--name", "idle"]);
    let pid = env.agent_pid("idle").unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let (avg, peak, cpu) = footprint(pid, secs, || {});
    println!(
        "| azlin-agent (pushes a sample every 1 s) | {avg:.1} MiB | {peak:.1} MiB | {cpu:.2} % |"
    );

    let port = free_tcp();
    let exporter = Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match exporter {
        Ok(mut child) => {
            std::thread::sleep(Duration::from_secs(2));
            let (avg, peak, cpu) = footprint(child.id() as i32, secs, || {
                let _ = http_get(port, "/metrics");
            });
            println!(
                "| node_exporter 1.5 (scraped every 1 s) | {avg:.1} MiB | {peak:.1} MiB | {cpu:.2} % |"
            );
            let _ = child.kill();
            let _ = child.wait();
        }
        Err(e) => eprintln!("node_exporter not run ({e}); apt install prometheus-node-exporter"),
    }
}

fn top(vms: usize, runs: usize) {
    let env = Env::new();
    env.ok(&["new", "--name", "t", "--pool", &vms.to_string()]);
    env.wait("all live", Duration::from_secs(60), || {
        env.top()
            .iter()
            .filter(|v| v["freshness"] == "live")
            .count()
            == vms
    });
    let mut walls = Vec::new();
    let mut ages = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = env.run(&["top", "--once", "--json"]);
        walls.push(t.elapsed().as_secs_f64() * 1000.0);
        let now = now_ms();
        let fleet: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(fleet.len(), vms);
        for v in &fleet {
            ages.push(now.saturating_sub(v["taken_at_ms"].as_u64().unwrap()) as f64 / 1000.0);
        }
        std::thread::sleep(Duration::from_millis(97));
    }
    println!(
        "| `azlin top --once --json`, {vms} VMs, {runs} runs | p50 {:.1} ms | p95 {:.1} ms | max {:.1} ms |",
        percentile(&mut walls, 0.5),
        percentile(&mut walls, 0.95),
        percentile(&mut walls, 1.0)
    );
    println!(
        "| sample age seen by the CLI, {vms} real agents at 1 Hz | p50 {:.2} s | p99 {:.2} s | max {:.2} s |",
        percentile(&mut ages, 0.5),
        percentile(&mut ages, 0.99),
        percentile(&mut ages, 1.0)
    );
}

fn sample() {
    let mut sampler = azlin_agent::telemetry::sampler::Sampler::new(1000);
    std::thread::sleep(Duration::from_millis(500));
    let s = sampler.sample(azlin_protocol::telemetry::Tmux::Sessions(vec![]));
    let real = postcard::to_stdvec(&s).unwrap().len();
    let synthetic = postcard::to_stdvec(&sim::synthetic_sample(1, 1000))
        .unwrap()
        .len();
    println!(
        "| this machine ({} cores, {} filesystems, {} interfaces, no tmux) | {real} bytes |",
        s.per_core.len(),
        s.filesystems.len(),
        s.interfaces.len()
    );
    println!(
        "| fleet-sim's sample (2 cores, 1 filesystem, 1 interface, 1 tmux session) | {synthetic} bytes |"
    );
}

fn history(vms: usize, days: i64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut db = Db::open(&path).unwrap();
    let names: Vec<String> = (0..vms).map(|i| format!("vm-{i}")).collect();
    let start = 1_790_000_000 - 1_790_000_000 % COARSE_STEP;
    let end = start + days * 86_400;
    let t0 = Instant::now();
    let mut t = start;
    while t < end {
        let points: Vec<(String, Point)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let x = ((t / RAW_STEP) as usize * 31 + i * 17) % 100;
                (
                    n.clone(),
                    Point {
                        cpu: x as f64,
                        load1: x as f64 / 25.0,
                        memory_used: 2_000_000_000 + x as i64 * 10_000_000,
                        memory_total: 8_000_000_000,
                        disk_used: 20_000_000_000 + t,
                        disk_total: 64_000_000_000,
                        rx: x as i64 * 1000,
                        tx: x as i64 * 100,
                        tmux_sessions: 2,
                    },
                )
            })
            .collect();
        db.insert_points(t, &points).unwrap();
        t += RAW_STEP;
        if t.rem_euclid(COARSE_STEP) == 0 {
            db.downsample(t, 7 * 86_400).unwrap();
        }
    }
    let rows = db.metrics_rows().unwrap();
    db.vacuum().unwrap();
    drop(db);
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "| {vms} VMs × {days} days (10 s points for 6 h, 5 min averages after) | {rows} rows | {:.1} MiB | {:.0} s to write |",
        mib(size),
        t0.elapsed().as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = |i: usize, d: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    match args.get(1).map(String::as_str) {
        Some("agent") => agent(n(2, 60)),
        Some("top") => top(n(2, 20) as usize, n(3, 50) as usize),
        Some("sample") => sample(),
        Some("history") => history(n(2, 50) as usize, n(3, 7) as i64),
        _ => eprintln!(
            "usage: telemetry-bench agent [SECS] | top [VMS] [RUNS] | sample | history [VMS] [DAYS]"
        ),
    }
}
