//! File transfer benchmarks against OpenSSH, printing Markdown rows for
//! BENCHMARKS.md. Both sides copy on loopback to the same host and user:
//! azlin through its daemon and the local VM's agent, scp and rsync
//! through a private sshd with the config `azlin ssh-config` writes.
//!
//! - one 1 GiB file: `azlin cp` vs `scp -c aes128-gcm@openssh.com`;
//! - 10,000 files of 1-64 KiB: `azlin cp -r` vs `rsync -a`;
//! - the agent's peak RSS (VmHWM) over the 1 GiB copies.
//!
//! - 1,000 files of 1-8 KiB: the same;
//! - `durable`: the 10,000 files against `rsync --fsync`, which makes each
//!   file durable as azlin does before acknowledging it;
//! - `sync --watch`: one small file saved, and a burst of 2,000;
//! - `fetch1k`, `fetch10k`: the 1,000 and the 10,000 files copied from the
//!   VM to here, `azlin cp -r VM:dir` against `rsync -a VM:dir`.
//!
//! `--rtt MS [--loss PERCENT] [--rate MBIT]` runs both tools across an
//! emulated WAN link instead (`azlin_e2e::wan_vm`): the daemon, the CLI
//! and the anchors on one side, the agent and sshd on the other.
//!
//! Run as root; needs Debian's openssh-server, openssh-client and rsync.
//! cargo build --release --workspace && target/release/files-bench [RUNS] [big,tree,small,durable,fetch1k,fetch10k,watch] [--rtt MS [--loss P] [--rate MBIT]]

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use azlin_e2e::{
    Env, free_tcp,
    proc_stats::{cpu_seconds, machine_busy_seconds, mib, percentile, status_bytes},
    sshd::{AuthorizedKeys, Sshd, point_vm_at},
    wan_vm,
};

fn timed(mut c: Command) -> Duration {
    let t = Instant::now();
    let out = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// What `f` returns, and the CPU seconds the whole machine was busy
/// while it ran.
fn busy_while<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let before = machine_busy_seconds().unwrap();
    let out = f();
    (out, machine_busy_seconds().unwrap() - before)
}

/// A destination folder never used before. Nothing is deleted between
/// runs: this machine's ext4 runs without a journal, and there every new
/// inode is first checked against the ones deleted in the last minute or
/// more (`recently_deleted` in `ext4_new_inode`), so a copy made just
/// after 10,000 deletions creates its files several times slower, and
/// whichever tool ran first after them would pay for it.
fn fresh(base: &Path, case: &str, run: usize) -> std::path::PathBuf {
    let dir = base.join(format!("{case}-{run}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Where the benchmark runs: everything on loopback, or across an
/// emulated WAN link (`--rtt`).
enum Place {
    Loopback { env: Env, _sshd: Sshd },
    Wan(wan_vm::WanVms),
}

impl Place {
    fn env(&self) -> &Env {
        match self {
            Place::Loopback { env, .. } => env,
            Place::Wan(w) => &w.env,
        }
    }

    /// An anchor tool (ssh, scp, rsync), run where the daemon runs.
    fn anchor(&self, program: &str) -> Command {
        match self {
            Place::Loopback { .. } => Command::new(program),
            Place::Wan(w) => w.here(program),
        }
    }

    /// The VM's home on this machine's file system.
    fn vm_home(&self, vm: &str, dir: &Path) -> std::path::PathBuf {
        match self {
            Place::Loopback { env, .. } => env.vm_dir(vm).join("home"),
            Place::Wan(_) => dir.join("vms").join(vm).join("home"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rtt = wan_vm::flag(&args, "--rtt");
    let loss = wan_vm::flag(&args, "--loss").unwrap_or(0.0);
    let rate = wan_vm::flag(&args, "--rate");
    let plain: Vec<&String> = {
        let mut plain = Vec::new();
        let mut skip = false;
        for a in &args {
            if skip {
                skip = false;
            } else if a.starts_with("--") {
                skip = true;
            } else {
                plain.push(a);
            }
        }
        plain
    };
    let runs: usize = plain.first().and_then(|a| a.parse().ok()).unwrap_or(3);
    // Which parts to run: any of big, tree, small, durable, fetch1k,
    // fetch10k, watch (big, tree, small and watch by default).
    let cases = plain
        .get(1)
        .map(|s| s.to_string())
        .unwrap_or_else(|| "big,tree,small,watch".into());
    let dir = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let _keys = AuthorizedKeys::keep();
    let place = match rtt {
        None => {
            let port = free_tcp().port();
            let sshd = Sshd::start(dir.path(), port, dir.path());
            let env = Env::new();
            env.ok(&["new", "--name", "bench"]);
            point_vm_at(&env, "bench", dir.path(), port);
            Place::Loopback { env, _sshd: sshd }
        }
        Some(rtt) => {
            let w = wan_vm::start("azlin-fb", rtt, loss / 100.0, rate, &["bench"], dir.path())
                .unwrap_or_else(|e| panic!("cannot make the WAN link: {e}"));
            Place::Wan(w)
        }
    };
    let env = place.env();
    if let Some(rtt) = rtt {
        println!(
            "Across the emulated link: RTT {rtt} ms, loss {loss} %, rate {}; azlin and the anchors both cross it.\n",
            rate.map_or("unlimited".to_string(), |r| format!("{r} Mbit/s"))
        );
    }
    env.ok(&["ssh-config"]);
    let config = env.home().join("ssh/config");
    let agent = match &place {
        Place::Loopback { env, .. } => env.agent_pid("bench").unwrap(),
        Place::Wan(w) => w.pids[0].1,
    };
    let daemon = env.daemon_pid().unwrap();
    let cpu = || (cpu_seconds(daemon).unwrap(), cpu_seconds(agent).unwrap());

    // One 1 GiB file, incompressible enough.
    let big = dir.path().join("big.bin");
    {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut data = vec![0u8; 1 << 30];
        for chunk in data.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        std::fs::write(&big, &data).unwrap();
    }
    // 10,000 files of 1-64 KiB in 100 folders.
    let tree = dir.path().join("tree");
    for i in 0..10_000u32 {
        let sub = tree.join(format!("d{:03}", i % 100));
        std::fs::create_dir_all(&sub).unwrap();
        let size = 1024 + (i.wrapping_mul(2_654_435_761) % (63 * 1024)) as usize;
        let body: Vec<u8> = (0..size).map(|j| (j as u32 ^ i) as u8).collect();
        std::fs::write(sub.join(format!("f{i:05}.txt")), body).unwrap();
    }
    // 1,000 files of 1-8 KiB in 20 folders.
    let small = dir.path().join("small");
    for i in 0..1_000u32 {
        let sub = small.join(format!("d{:02}", i % 20));
        std::fs::create_dir_all(&sub).unwrap();
        let size = 1024 + (i.wrapping_mul(2_654_435_761) % (7 * 1024)) as usize;
        let body: Vec<u8> = (0..size).map(|j| (j as u32 ^ i) as u8).collect();
        std::fs::write(sub.join(format!("f{i:04}.txt")), body).unwrap();
    }
    // The sources on disk before any run, so no copy's flush writes them.
    Command::new("sync").status().unwrap();
    let a_dest = dir.path().join("azlin-dest");
    let s_dest = dir.path().join("ssh-dest");
    let l_dest = dir.path().join("local-dest");
    let azlin_cp = |args: &[&str]| {
        let mut c = env.command(&["cp"]);
        c.args(args);
        c
    };
    let scp = |to: &Path| {
        let mut c = place.anchor("scp");
        c.arg("-F")
            .arg(&config)
            .args(["-q", "-c", "aes128-gcm@openssh.com"]);
        c.arg(&big).arg(format!("bench:{}/", to.display()));
        c
    };
    // `--fsync` (rsync 3.2.4 and later): each file durable before rsync
    // goes on, as azlin's are before it acknowledges them.
    let rsync = |from: &Path, to: &Path, durable: bool| {
        let mut c = place.anchor("rsync");
        if durable {
            c.arg("--fsync");
        }
        c.args(["-a", "-e"])
            .arg(format!("ssh -F {}", config.display()))
            .arg(from)
            .arg(format!("bench:{}/", to.display()));
        c
    };
    let rsync_from = |from: &Path, to: &Path| {
        let mut c = place.anchor("rsync");
        c.args(["-a", "-e"])
            .arg(format!("ssh -F {}", config.display()))
            .arg(format!("bench:{}", from.display()))
            .arg(format!("{}/", to.display()));
        c
    };
    let vm = |to: &Path| format!("bench:{}/", to.display());

    let mut rows = Vec::new();
    for (case, label, bytes, files) in [
        ("one 1 GiB file", "big", 1u64 << 30, 1),
        ("10,000 files of 1-64 KiB", "tree", 0, 10_000),
        ("1,000 files of 1-8 KiB", "small", 0, 1_000),
        (
            "10,000 files of 1-64 KiB, rsync --fsync",
            "durable",
            0,
            10_000,
        ),
        ("from the VM: 1,000 files of 1-8 KiB", "fetch1k", 0, 1_000),
        (
            "from the VM: 10,000 files of 1-64 KiB",
            "fetch10k",
            0,
            10_000,
        ),
    ] {
        if !cases.split(',').any(|c| c == label) {
            continue;
        }
        let source = if label == "small" || label == "fetch1k" {
            &small
        } else {
            &tree
        };
        // A copy from the VM: the same files, put in the VM's home first.
        let pulled = label.starts_with("fetch").then(|| {
            let on_vm = place.vm_home("bench", dir.path()).join(label);
            if !on_vm.exists() {
                let ok = Command::new("cp")
                    .arg("-a")
                    .arg(source)
                    .arg(&on_vm)
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "cannot put the files on the VM");
                Command::new("sync").status().unwrap();
            }
            on_vm
        });
        let (mut a, mut s, mut l) = (Vec::new(), Vec::new(), Vec::new());
        let mut used = (0.0, 0.0);
        // The whole machine's CPU time per copy, whichever processes did it.
        let mut busy = (0.0, 0.0);
        for run in 0..runs {
            let (to_a, to_s) = (fresh(&a_dest, label, run), fresh(&s_dest, label, run));
            if bytes > 0 && run > 0 {
                // One inode each, so no slow allocations follow; the pages
                // freed are reused by whichever tool writes next.
                let _ = std::fs::remove_file(a_dest.join(format!("big-{}/big.bin", run - 1)));
                let _ = std::fs::remove_file(s_dest.join(format!("big-{}/big.bin", run - 1)));
            }
            let azlin = || {
                if let Some(on_vm) = &pulled {
                    let from = format!("bench:{}", on_vm.display());
                    timed(azlin_cp(&["-r", &from, &format!("{}/", to_a.display())]))
                } else if bytes > 0 {
                    timed(azlin_cp(&[big.to_str().unwrap(), &vm(&to_a)]))
                } else {
                    timed(azlin_cp(&["-r", source.to_str().unwrap(), &vm(&to_a)]))
                }
            };
            let mut anchor = || {
                let (took, cost) = busy_while(|| {
                    if let Some(on_vm) = &pulled {
                        timed(rsync_from(on_vm, &to_s))
                    } else if bytes > 0 {
                        timed(scp(&to_s))
                    } else {
                        timed(rsync(source, &to_s, label == "durable"))
                    }
                });
                busy.1 += cost;
                took
            };
            // The same files copied by GNU cp on this machine alone (no
            // network, no encryption, no fsync): what the file system
            // itself costs, the floor under any tool here.
            let to_l = fresh(&l_dest, label, run);
            if bytes > 0 && run > 0 {
                let _ = std::fs::remove_file(l_dest.join(format!("big-{}/big.bin", run - 1)));
            }
            let local = || {
                let mut c = Command::new("cp");
                c.arg("-a")
                    .arg(if bytes > 0 { &big } else { source })
                    .arg(&to_l);
                timed(c).as_secs_f64()
            };
            let mut azlin = || {
                let before = cpu();
                let (took, cost) = busy_while(azlin);
                busy.0 += cost;
                let after = cpu();
                used.0 += after.0 - before.0;
                used.1 += after.1 - before.1;
                took.as_secs_f64()
            };
            // Turn and turn about, so none always runs on another's dirty
            // pages or just after its deletions.
            for turn in 0..3 {
                match (turn + run) % 3 {
                    0 => a.push(azlin()),
                    1 => s.push(anchor().as_secs_f64()),
                    _ => l.push(local()),
                }
            }
        }
        let (am, sm, lm) = (
            percentile(&mut a, 0.5),
            percentile(&mut s, 0.5),
            percentile(&mut l, 0.5),
        );
        let (anchor, what) = if bytes > 0 {
            (
                "scp -c aes128-gcm",
                format!("{:.0} / {:.0} MiB/s", 1024.0 / am, 1024.0 / sm),
            )
        } else {
            (
                "rsync -a",
                format!(
                    "{:.0} / {:.0} files/s",
                    files as f64 / am,
                    files as f64 / sm
                ),
            )
        };
        rows.push(format!(
            "| {case} | {am:.2} s | {anchor} {sm:.2} s | {what} | {:.1}× | {:.2} / {:.2} s | {:.2} / {:.2} s | {lm:.2} s |",
            sm / am,
            used.0 / runs as f64,
            used.1 / runs as f64,
            busy.0 / runs as f64,
            busy.1 / runs as f64,
        ));
    }
    println!(
        "| case | azlin cp (median of {runs}) | anchor (median) | azlin / anchor rate | speed-up | CPU per copy: daemon / agent | machine CPU per copy: azlin / anchor | local cp -a (floor) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    if let Place::Wan(w) = &place {
        use std::sync::atomic::Ordering::Relaxed;
        for (dir, c) in ["A to B", "B to A"].iter().zip(&w.link.counts) {
            println!(
                "\nlink {dir}: {} packets carried, {} lost (emulated), {} dropped (queue full)",
                c.carried.load(Relaxed),
                c.lost.load(Relaxed),
                c.dropped_full.load(Relaxed)
            );
        }
    }
    println!(
        "\nazlin-agent peak RSS (VmHWM) after the copies: {:.1} MiB",
        mib(status_bytes(agent, "VmHWM").unwrap())
    );
    if cases.split(',').any(|c| c == "watch") {
        watch_latency(env, &place.vm_home("bench", dir.path()));
    }
}

/// `sync --watch`: a small file written here until its new content is on
/// the VM, 50 times.
fn watch_latency(env: &Env, vm_home: &Path) {
    use std::io::{BufRead, BufReader};
    let src = tempfile::tempdir().unwrap();
    let mut child = env
        .command(&[
            "sync",
            "--watch",
            src.path().to_str().unwrap(),
            "bench:watched",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    while !lines.next().unwrap().unwrap().starts_with("watching ") {}
    std::thread::spawn(move || for _ in lines {});
    let there = vm_home.join("watched/note.txt");
    let mut ms = Vec::new();
    for i in 0..50 {
        let body = format!("edit {i}\n");
        let t = Instant::now();
        std::fs::write(src.path().join("note.txt"), &body).unwrap();
        while std::fs::read_to_string(&there).ok().as_deref() != Some(body.as_str()) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "edit {i} never arrived"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(100));
    }
    // A burst: 2,000 files of 1 KiB written at once (a `git checkout`
    // of another branch), from the first write until the last of them
    // is on the VM (each arrives whole, by rename, so being there is
    // being complete).
    let mut bursts = Vec::new();
    for round in 0..3 {
        let here = src.path().join(format!("burst{round}"));
        let there_dir = vm_home.join(format!("watched/burst{round}"));
        std::fs::create_dir_all(&here).unwrap();
        let t = Instant::now();
        for i in 0..2_000 {
            std::fs::write(here.join(format!("f{i:04}")), [round as u8; 1024]).unwrap();
        }
        let written = t.elapsed().as_secs_f64() * 1000.0;
        while std::fs::read_dir(&there_dir).map_or(0, |d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.'))
            })
            .count()
        }) < 2_000
        {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "burst {round} never arrived"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        bursts.push((t.elapsed().as_secs_f64() * 1000.0, written));
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "\nsync --watch, small file saved here → new content on the VM (50 edits): p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        percentile(&mut ms, 0.5),
        percentile(&mut ms, 0.9),
        ms.last().copied().unwrap_or(0.0)
    );
    bursts.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!(
        "sync --watch, 2,000 files of 1 KiB written here → all on the VM (3 bursts, from the first write; writing them took {:.0} ms): median {:.0} ms",
        bursts[1].1, bursts[1].0
    );
}
