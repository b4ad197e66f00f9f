//! Alert latency, printing Markdown rows for BENCHMARKS.md: a CPU burner
//! started on a VM (a local VM: a real agent on this machine, sampling
//! every 1 s) until the webhook request arrives at a real HTTP server,
//! with `cpu > 70, for = 0`.
//!
//! Side by side in the same trials: Prometheus scraping the daemon's
//! `/metrics` every 1 s and evaluating the same rule every 1 s (the
//! fastest self-hosted setup), timed until its `/api/v1/alerts` shows the
//! alert firing, which is before any Alertmanager `group_wait`.
//!
//! cargo build --release --workspace && target/release/alert-bench [TRIALS]

use std::{
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use azlin_e2e::{Env, free_tcp, proc_stats::percentile, try_http_get, webhook::WebhookServer};
use serde_json::Value;

struct Burner {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Burner {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn prometheus_firing(web: std::net::SocketAddr) -> bool {
    let Ok((_, body)) = try_http_get(web, "/api/v1/alerts") else {
        return false;
    };
    serde_json::from_str::<Value>(&body).is_ok_and(|v| {
        v["data"]["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["state"] == "firing"))
    })
}

fn main() {
    let trials: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let hook = WebhookServer::start(0);
    let env = Env::new();
    let metrics = free_tcp();
    env.configure(&format!("[metrics]\nlisten = \"{metrics}\"\n"));
    std::fs::write(
        env.home().join("alerts.toml"),
        format!(
            "[builtin.idle]\nenabled = false\n[builtin.tmux_session_ended]\nenabled = false\n\
             [channels.webhook]\nurl = \"{}\"\n\
             [[rule]]\nname = \"cpu-high\"\nmetric = \"cpu\"\nop = \">\"\nthreshold = 70\nclear = 40\n",
            hook.url()
        ),
    )
    .unwrap();
    env.ok(&["new", "--name", "bench"]);
    env.wait("connected", Duration::from_secs(30), || {
        env.connected("bench")
    });

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: azlin\n  interval: 1s\n  rules:\n  - alert: CpuHigh\n    expr: azlin_vm_cpu_percent > 70\n    for: 0s\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [\"{}\"]\n\
             scrape_configs:\n- job_name: azlin\n  static_configs:\n  - targets: [\"{metrics}\"]\n",
            dir.path().join("rules.yml").display()
        ),
    )
    .unwrap();
    let web = free_tcp();
    let mut prometheus = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian package prometheus) is installed");
    env.wait(
        "Prometheus scrapes the daemon",
        Duration::from_secs(60),
        || {
            try_http_get(web, "/api/v1/query?query=azlin_vm_up")
                .is_ok_and(|(_, b)| b.contains("\"bench\""))
        },
    );

    let mut azlin = Vec::new();
    let mut prom = Vec::new();
    for trial in 0..trials {
        // Start at a different point of the sampling interval each time.
        std::thread::sleep(Duration::from_millis((trial as u64 * 379) % 1000));
        let fired_before = hook
            .delivered()
            .iter()
            .filter(|b| b["state"] == "firing")
            .count();
        let t0 = Instant::now();
        let burner = Burner::start();
        let mut azlin_at = None;
        let mut prom_at = None;
        while (azlin_at.is_none() || prom_at.is_none()) && t0.elapsed() < Duration::from_secs(30) {
            if azlin_at.is_none() {
                let fired: Vec<(Instant, Value)> = hook
                    .delivered_at()
                    .into_iter()
                    .filter(|(_, b)| b["state"] == "firing")
                    .collect();
                if fired.len() > fired_before {
                    azlin_at = Some(fired[fired_before].0 - t0);
                }
            }
            if prom_at.is_none() && prometheus_firing(web) {
                prom_at = Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        burner.stop();
        let (Some(a), Some(p)) = (azlin_at, prom_at) else {
            eprintln!(
                "trial {trial}: an alert did not fire within 30 s (azlin {azlin_at:?}, Prometheus {prom_at:?})"
            );
            continue;
        };
        eprintln!("trial {trial}: azlin {a:?}, Prometheus {p:?}");
        azlin.push(a.as_secs_f64() * 1000.0);
        prom.push(p.as_secs_f64() * 1000.0);
        // Both must be quiet again before the next trial.
        let resolved_before = fired_before;
        env.wait("the alert resolves", Duration::from_secs(30), || {
            hook.delivered()
                .iter()
                .filter(|b| b["state"] == "resolved")
                .count()
                > resolved_before
                && !prometheus_firing(web)
        });
    }
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    let row = |name: &str, v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        println!(
            "| {name} | {} | {:.0} ms | {:.0} ms | {:.0} ms |",
            v.len(),
            percentile(v, 0.5),
            percentile(v, 0.99),
            v.last().copied().unwrap_or(0.0)
        );
    };
    println!("| path | trials | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    row(
        "azlin: agent rule → daemon → webhook POST received",
        &mut azlin,
    );
    row(
        "Prometheus, scrape + eval every 1 s: alert firing in its API (before Alertmanager)",
        &mut prom,
    );
    // Where azlin's time goes: the sample that crossed the threshold was
    // taken at `at_ms` and stored by the daemon at `received_ms`.
    let mut stored: Vec<f64> = hook
        .delivered()
        .iter()
        .filter(|b| b["state"] == "firing")
        .filter_map(|b| Some((b["received_ms"].as_u64()? - b["at_ms"].as_u64()?) as f64))
        .collect();
    if !stored.is_empty() {
        println!(
            "\nsample taken → event stored by the daemon: p50 {:.0} ms, max {:.0} ms",
            percentile(&mut stored, 0.5),
            stored.last().copied().unwrap_or(0.0)
        );
    }
}
