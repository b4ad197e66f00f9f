//! Clone benchmark (snapshots and clones issue): `azlin clone SRC
//! --num-replicas K` on docker, from the command's start until every
//! clone's agent is connected (the command returns then), for K = 1 and
//! K = 5; and, beside it in the same run, `azlin new --provider docker
//! --pool K` (fresh VMs, no source to copy) as the anchor. The source is
//! copied once per clone command and shared by its clones. Host CPU
//! seconds used over each (all processes, from /proc/stat) say how much
//! of the time is the two cores.
//!
//! cargo build --release --workspace && target/release/clone-bench [RUNS]

use std::time::Instant;

use azlin_e2e::{
    docker::{DockerEnv, image},
    proc_stats::machine_busy_seconds,
};

fn timed(env: &DockerEnv, args: &[&str]) -> (f64, f64) {
    let cpu = machine_busy_seconds().unwrap();
    let t = Instant::now();
    env.ok(args);
    (
        t.elapsed().as_secs_f64(),
        machine_busy_seconds().unwrap() - cpu,
    )
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let image = image().expect("build the VM image first (tests/run-all --no-run)");
    let env = DockerEnv::new(&image);
    env.ok(&["new", "--provider", "docker", "--name", "src"]);
    env.ok(&[
        "exec",
        "--vm",
        "src",
        "--",
        "mkdir -p ~/work && head -c 50000000 /dev/urandom > ~/work/data.bin",
    ]);
    println!("| what | K | wall p50 (s) | host CPU (s) | CPU per VM (s) |");
    println!("|---|---:|---:|---:|---:|");
    for k in [1u32, 5] {
        for (what, clone) in [("`clone src`", true), ("`new --pool` (anchor)", false)] {
            let mut walls = Vec::new();
            let mut cpus = Vec::new();
            for run in 0..runs {
                let name = format!("b{k}{}{run}", if clone { "c" } else { "n" });
                let ks = k.to_string();
                let args: Vec<&str> = if clone {
                    vec!["clone", "src", "--name", &name, "--num-replicas", &ks]
                } else {
                    vec![
                        "new",
                        "--provider",
                        "docker",
                        "--name",
                        &name,
                        "--pool",
                        &ks,
                    ]
                };
                let (wall, cpu) = timed(&env, &args);
                walls.push(wall);
                cpus.push(cpu);
                let names: Vec<String> = if k == 1 {
                    vec![name.clone()]
                } else {
                    (1..=k).map(|i| format!("{name}-{i}")).collect()
                };
                for vm in names {
                    env.ok(&["kill", &vm]);
                }
            }
            walls.sort_by(f64::total_cmp);
            cpus.sort_by(f64::total_cmp);
            let (wall, cpu) = (walls[runs / 2], cpus[runs / 2]);
            println!(
                "| {what} | {k} | {wall:.1} | {cpu:.1} | {:.1} |",
                cpu / f64::from(k)
            );
        }
    }
}
