//! Azure benchmarks against the fake ARM in its emulating mode, with the
//! real CLI and daemon:
//! - provisioning, `azlin new --provider azure --pool N`, whose operations
//!   finish after one `InProgress` poll (the recorded sequences,
//!   shortened); each VM is "booted" by starting its real agent from its
//!   custom data. Reports the wall time for 1 and 10 VMs, the ARM requests
//!   per VM beside the recorded `az vm create`, and the shortest gap
//!   between two polls of one operation;
//! - `azlin list` of a resource group of 50 VMs (made behind azlin's back,
//!   so all of them are `no agent`, and one of azlin's): ARM requests and
//!   wall time per list, prices already kept.
//!
//! cargo build --release --workspace && target/release/azure-bench [RUNS]

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use azlin_e2e::{
    Env,
    arm::{
        blob::FakeBlob,
        boot::{Boot, Halt},
        cassette,
        emulator::Emulator,
        fake::FakeArm,
        fixtures_dir,
    },
    proc_stats,
};

struct Run {
    secs: f64,
    requests: usize,
    writes: usize,
    min_poll_gap: Option<Duration>,
}

fn one(pool: usize) -> Run {
    let boot = Boot::default();
    let blob = FakeBlob::start();
    let fake = FakeArm::emulating(Emulator::new(1, Some(Box::new(boot.clone()))).with_blob(blob));
    let mut env = Env::new();
    env.configure(
        "[azure]\nsubscription = \"00000000-0000-0000-0000-0000000000bb\"\nresource_group = \"bench\"\n\
         allowed_cidr = \"203.0.113.7/32\"\n",
    );
    env.set_var("AZLIN_ARM_ENDPOINT", fake.base());
    env.set_var("AZLIN_ARM_TOKEN", "bench");
    env.set_var("AZLIN_RETAIL_PRICES_ENDPOINT", fake.base());
    boot.set_root(env.home().join("azure-vms"));
    let _halt = Halt(boot.clone());
    env.ok(&["daemon", "status"]);
    let t = Instant::now();
    env.ok(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "b",
        "--pool",
        &pool.to_string(),
        "--no-dev-tools",
    ]);
    let secs = t.elapsed().as_secs_f64();
    let seen = fake.seen();
    let mut polls: BTreeMap<&str, Vec<Instant>> = BTreeMap::new();
    for s in &seen {
        if s.path.contains("/operations/") {
            polls.entry(&s.path).or_default().push(s.at);
        }
    }
    let min_poll_gap = polls
        .values()
        .flat_map(|times| times.windows(2).map(|w| w[1] - w[0]))
        .min();
    Run {
        secs,
        requests: seen.len(),
        writes: seen.iter().filter(|s| s.method != "GET").count(),
        min_poll_gap,
    }
}

/// `azlin list --json` of a group of `n` VMs azlin did not make and one of
/// its own: (ARM requests per list, wall seconds of each list).
fn list(n: usize, runs: usize) -> (usize, Vec<f64>) {
    let boot = Boot::default();
    let fake = FakeArm::emulating(
        Emulator::new(1, Some(Box::new(boot.clone()))).with_blob(FakeBlob::start()),
    );
    let mut env = Env::new();
    let sub = "00000000-0000-0000-0000-0000000000bb";
    env.configure(&format!(
        "[azure]\nsubscription = \"{sub}\"\nresource_group = \"bench\"\n\
         allowed_cidr = \"203.0.113.7/32\"\n"
    ));
    env.set_var("AZLIN_ARM_ENDPOINT", fake.base());
    env.set_var("AZLIN_ARM_TOKEN", "bench");
    env.set_var("AZLIN_RETAIL_PRICES_ENDPOINT", fake.base());
    boot.set_root(env.home().join("azure-vms"));
    let _halt = Halt(boot.clone());
    env.ok(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "ours",
        "--no-dev-tools",
    ]);
    let group = format!("/subscriptions/{sub}/resourceGroups/bench");
    fake.emulator(|e| {
        for i in 0..n {
            e.plant_vm(
                &group,
                &format!("vm{i:02}"),
                "Standard_D2s_v5",
                &format!("nsg{i}"),
                true,
            );
        }
    });
    // The first list keeps the prices; the measured ones ask ARM only.
    assert_eq!(env.list().len(), n + 1);
    let mut secs = Vec::new();
    let mut requests = 0;
    for _ in 0..runs {
        let before = fake.seen().len();
        let t = Instant::now();
        env.ok(&["list", "--json"]);
        secs.push(t.elapsed().as_secs_f64());
        requests = fake.seen().len() - before;
    }
    (requests, secs)
}

fn main() {
    azlin_protocol::install_crypto_provider();
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let recorded = cassette::load(
        &fixtures_dir().join("recordings/azure-cli/vm/test_vm_create_custom_data.yaml"),
    )
    .len();
    let mut rows = Vec::new();
    for pool in [1usize, 10] {
        let mut secs = Vec::new();
        let mut last = None;
        for _ in 0..runs {
            let r = one(pool);
            secs.push(r.secs);
            last = Some(r);
        }
        let r = last.unwrap();
        let p50 = proc_stats::percentile(&mut secs, 0.5);
        rows.push((pool, p50, r));
    }
    let one_vm = rows[0].1;
    println!("| VMs | wall p50 | vs 1 VM | ARM requests per VM (writes) | shortest poll gap |");
    println!("|---:|---:|---:|---:|---:|");
    for (pool, p50, r) in &rows {
        println!(
            "| {pool} | {p50:.2} s | {:.2}× | {:.1} ({:.1}) | {} |",
            p50 / one_vm,
            r.requests as f64 / *pool as f64,
            r.writes as f64 / *pool as f64,
            r.min_poll_gap
                .map_or("-".into(), |g| format!("{:.2} s", g.as_secs_f64()))
        );
    }
    println!(
        "\nThe recording of one `az vm create` with custom data \
         (test_vm_create_custom_data.yaml) has {recorded} requests (one of them `vm show`)."
    );
    let (requests, mut secs) = list(50, runs.max(5));
    let p50 = proc_stats::percentile(&mut secs.clone(), 0.5);
    let max = secs.iter().cloned().fold(0.0, f64::max);
    secs.sort_by(f64::total_cmp);
    println!(
        "\n| `azlin list`, group of 50 VMs + 1 of azlin's | ARM requests | wall p50 | wall max |"
    );
    println!("|---|---:|---:|---:|");
    println!("| azlin | {requests} | {:.3} s | {max:.3} s |", p50);
}
