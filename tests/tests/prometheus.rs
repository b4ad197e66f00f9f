//! A real Prometheus server scrapes the daemon with the shipped example
//! config (deploy/prometheus.yml), and every metric the shipped Grafana
//! dashboard (deploy/grafana-dashboard.json) queries is one the daemon
//! actually exports.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use azlin_e2e::{Env, free_tcp, http_get};
use serde_json::Value;

fn deploy(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_scrapes_the_daemon_with_the_shipped_config() {
    let env = Env::new();
    let metrics = free_tcp();
    env.configure(&format!("[metrics]\nlisten = \"{metrics}\"\n"));
    env.ok(&["new", "--name", "prom"]);
    env.wait("a sample", Duration::from_secs(20), || {
        env.top_of("prom")["freshness"] == "live"
    });

    let dir = tempfile::tempdir().unwrap();
    let config = deploy("prometheus.yml")
        .replace("127.0.0.1:9464", &metrics.to_string())
        .replace("scrape_interval: 5s", "scrape_interval: 1s");
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let web = free_tcp();
    let server = Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian package prometheus) is installed");
    let _server = Killed(server);

    let query = |q: &str| -> Option<Value> {
        let url = format!("/api/v1/query?query={}", q.replace(' ', "%20"));
        let out = std::panic::catch_unwind(|| http_get(web, &url)).ok()?;
        let v: Value = serde_json::from_str(&out.1).ok()?;
        v["data"]["result"]
            .as_array()
            .filter(|r| !r.is_empty())
            .map(|r| r[0].clone())
    };
    env.wait(
        "Prometheus scraped the daemon",
        Duration::from_secs(60),
        || query("up{job=\"azlin\"}").is_some_and(|r| r["value"][1] == "1"),
    );
    env.wait(
        "VM figures stored in Prometheus",
        Duration::from_secs(30),
        || {
            query("azlin_vm_up")
                .is_some_and(|r| r["metric"]["vm"] == "prom" && r["value"][1] == "1")
        },
    );
    let cpu = query("azlin_vm_cpu_percent{vm=\"prom\"}").expect("cpu series");
    let value: f64 = cpu["value"][1].as_str().unwrap().parse().unwrap();
    assert!((0.0..=100.0).contains(&value), "{cpu}");

    // Every metric the dashboard queries exists in the exposition.
    let body = http_get(metrics, "/metrics").1;
    let dashboard: Value = serde_json::from_str(&deploy("grafana-dashboard.json")).unwrap();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 10);
    for expr in &exprs {
        for name in expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("azlin_"))
        {
            assert!(
                body.contains(&format!("# TYPE {name} ")),
                "dashboard queries {name}, which /metrics does not export"
            );
        }
    }
}
