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
//!   wall time per list, prices already kept;
//! - `azlin cost --by-vm` over 30 days of 10 and 50 VMs: requests per
//!   report (they do not grow with the VMs), wall time cold and from the
//!   daemon's cache, and `cost dashboard` opened first and again.
//!
//! cargo build --release --workspace && target/release/azure-bench [RUNS]

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use azlin_e2e::{
    Env,
    arm::{
        azure_env::AzureEnv,
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
    let az = AzureEnv::new("00000000-0000-0000-0000-0000000000bb", "bench", "");
    let (env, fake) = (&az.env, &az.fake);
    env.ok(&[
        "new",
        "--provider",
        "azure",
        "--name",
        "ours",
        "--no-dev-tools",
    ]);
    let group = az.rg();
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

/// `azlin cost --by-vm` over `days` days of a group of `n` VMs (each
/// billed for its VM, disk, NIC, public IP and NSG every day), each run a
/// different range so the daemon's five-minute cache is not used; then
/// the same range again (the cache): (Cost Management and ARM requests
/// per run, wall seconds of each cold run, wall seconds warm).
fn cost_by_vm(n: usize, days: i64, runs: usize) -> (usize, Vec<f64>, f64, Vec<f64>) {
    use azlin_controller::cost::dates::Day;
    let az = AzureEnv::new("00000000-0000-0000-0000-0000000000bc", "bench", "");
    let (env, fake) = (&az.env, &az.fake);
    let group = az.rg();
    let today = Day::of_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    fake.emulator(|e| {
        // Cost Management pages its answers by 1000 rows.
        e.cost.page_size = 1000;
        for i in 0..n {
            let vm = format!("vm{i:02}");
            e.plant_vm(&group, &vm, "Standard_D2s_v5", &format!("nsg{i}"), true);
            let ids = [
                format!("{group}/providers/Microsoft.Compute/virtualMachines/{vm}"),
                format!("{group}/providers/Microsoft.Compute/disks/{vm}_OsDisk_1"),
                format!("{group}/providers/Microsoft.Network/networkInterfaces/{vm}-nic"),
                format!("{group}/providers/Microsoft.Network/publicIPAddresses/{vm}-ip"),
                format!("{group}/providers/Microsoft.Network/networkSecurityGroups/nsg{i}"),
            ];
            for back in 1..=(days + runs as i64 + 1) {
                let day: u32 = today.plus(-back).number();
                for id in &ids {
                    e.cost.rows.push((day, id.clone(), 0.1, "USD".into()));
                }
            }
        }
    });
    env.ok(&["daemon", "status"]);
    let range = |i: i64| {
        let to = today.plus(-1 - i);
        (to.plus(1 - days).to_string(), to.to_string())
    };
    let mut secs = Vec::new();
    let mut requests = 0;
    for i in 0..runs {
        let (from, to) = range(i as i64);
        let before = fake.seen().len();
        let t = Instant::now();
        let out = env.ok(&["cost", "--by-vm", "--json", "--from", &from, "--to", &to]);
        secs.push(t.elapsed().as_secs_f64());
        requests = fake.seen().len() - before;
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["by_vm"].as_array().unwrap().len(), n);
    }
    let (from, to) = range(0);
    let t = Instant::now();
    env.ok(&["cost", "--by-vm", "--json", "--from", &from, "--to", &to]);
    let warm = t.elapsed().as_secs_f64();
    // The dashboard: first opening (its own range: asked), then again
    // (from the cache).
    let mut dash = Vec::new();
    for _ in 0..2 {
        let t = Instant::now();
        env.ok(&["cost", "dashboard", "--json"]);
        dash.push(t.elapsed().as_secs_f64());
    }
    (requests, secs, warm, dash)
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
    println!(
        "\n| `azlin cost --by-vm`, 30 days | requests (ARM + Cost Management) | wall p50 cold | wall warm | `cost dashboard` first | again |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for n in [10usize, 50] {
        let (requests, mut secs, warm, dash) = cost_by_vm(n, 30, runs.max(3));
        let p50 = proc_stats::percentile(&mut secs, 0.5);
        println!(
            "| {n} VMs | {requests} | {p50:.3} s | {warm:.3} s | {:.3} s | {:.3} s |",
            dash[0], dash[1]
        );
    }
}
