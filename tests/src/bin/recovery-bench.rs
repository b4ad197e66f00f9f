//! Recovery benchmark: how fast the fleet notices a dead agent, finds an
//! agent that came back, and reconnects everyone after a daemon restart.
//! Real binaries on loopback; prints a Markdown table for BENCHMARKS.md.
//!
//! cargo build --release --workspace && target/release/recovery-bench [VMS] [ROUNDS]

use std::time::{Duration, Instant};

use azlin_e2e::{Env, kill9};

fn pct(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let vms: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let env = Env::new();
    let t = Instant::now();
    env.ok(&["new", "--name", "b", "--pool", &vms.to_string()]);
    let create = t.elapsed();
    let names: Vec<String> = (1..=vms).map(|i| format!("b-{i}")).collect();

    let (mut noticed, mut back, mut daemon_back, mut list) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let vm = &names[round % vms];
        kill9(env.agent_pid(vm).expect("agent runs"));
        let t = Instant::now();
        env.wait("dead agent noticed", Duration::from_secs(30), || {
            !env.connected(vm)
        });
        noticed.push(t.elapsed());
        let mut child = env.spawn_agent(vm);
        let t = Instant::now();
        env.wait("agent back", Duration::from_secs(30), || env.connected(vm));
        back.push(t.elapsed());
        // Leave the hand-started agent running; reap it when it ends.
        std::thread::spawn(move || child.wait());

        env.ok(&["daemon", "stop"]);
        let t = Instant::now();
        env.wait(
            "all back after daemon restart",
            Duration::from_secs(30),
            || env.list().iter().all(|v| v["connected"] == true),
        );
        daemon_back.push(t.elapsed());

        for _ in 0..20 {
            let t = Instant::now();
            env.ok(&["list", "--json"]);
            list.push(t.elapsed());
        }
    }
    println!("fleet of {vms} local VMs, {rounds} rounds");
    println!();
    println!("| measure | goal | p50 | max |");
    println!("|---|---|---|---|");
    println!(
        "| `azlin new --pool {vms}` (create, enroll, connect) | - | {} | - |",
        ms(create)
    );
    let row = |name: &str, goal: &str, s: &mut Vec<Duration>| {
        let max = *s.iter().max().unwrap();
        println!("| {name} | {goal} | {} | {} |", ms(pct(s, 0.5)), ms(max));
    };
    row(
        "agent killed (-9) → daemon shows it lost",
        "≤ 5 s",
        &mut noticed,
    );
    row("agent restarted → connected again", "≤ 2 s", &mut back);
    row(
        &format!("daemon restarted → all {vms} connected (incl. daemon start)"),
        "≤ 5 s",
        &mut daemon_back,
    );
    row(
        "`azlin list --json` wall time, whole CLI process",
        "-",
        &mut list,
    );
}
