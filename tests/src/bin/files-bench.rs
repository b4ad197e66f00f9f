//! File transfer benchmarks against OpenSSH, printing Markdown rows for
//! BENCHMARKS.md. Both sides copy on loopback to the same host and user:
//! azlin through its daemon and the local VM's agent, scp and rsync
//! through a private sshd with the config `azlin ssh-config` writes.
//!
//! - one 1 GiB file: `azlin cp` vs `scp -c aes128-gcm@openssh.com`;
//! - 10,000 files of 1-64 KiB: `azlin cp -r` vs `rsync -a`;
//! - the agent's peak RSS (VmHWM) over the 1 GiB copies.
//!
//! Run as root; needs Debian's openssh-server, openssh-client and rsync.
//! cargo build --release --workspace && target/release/files-bench [RUNS]

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use azlin_e2e::{
    Env, free_tcp,
    proc_stats::{mib, percentile, status_bytes},
    sshd::{Sshd, point_vm_at},
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

fn fresh(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let port = free_tcp().port();
    let _sshd = Sshd::start(dir.path(), port);
    let env = Env::new();
    env.ok(&["new", "--name", "bench"]);
    point_vm_at(&env, "bench", dir.path(), port);
    env.ok(&["ssh-config"]);
    let config = env.home().join("ssh/config");
    let agent = env.agent_pid("bench").unwrap();

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
    let a_dest = dir.path().join("azlin-dest");
    let s_dest = dir.path().join("ssh-dest");
    let azlin_cp = |args: &[&str]| {
        let mut c = env.command(&["cp"]);
        c.args(args);
        c
    };
    let scp = || {
        let mut c = Command::new("scp");
        c.arg("-F")
            .arg(&config)
            .args(["-q", "-c", "aes128-gcm@openssh.com"]);
        c.arg(&big).arg(format!("bench:{}/", s_dest.display()));
        c
    };
    let rsync = || {
        let mut c = Command::new("rsync");
        c.args(["-a", "-e"])
            .arg(format!("ssh -F {}", config.display()))
            .arg(&tree)
            .arg(format!("bench:{}/", s_dest.display()));
        c
    };
    let big_dest = format!("bench:{}/", a_dest.display());
    let tree_dest = big_dest.clone();

    let mut rows = Vec::new();
    for (case, bytes) in [
        ("one 1 GiB file", 1u64 << 30),
        ("10,000 files of 1-64 KiB", 0),
    ] {
        let mut a = Vec::new();
        let mut s = Vec::new();
        for _ in 0..runs {
            fresh(&a_dest);
            fresh(&s_dest);
            if bytes > 0 {
                a.push(timed(azlin_cp(&[big.to_str().unwrap(), &big_dest])).as_secs_f64());
                s.push(timed(scp()).as_secs_f64());
            } else {
                a.push(timed(azlin_cp(&["-r", tree.to_str().unwrap(), &tree_dest])).as_secs_f64());
                s.push(timed(rsync()).as_secs_f64());
            }
        }
        let (am, sm) = (percentile(&mut a, 0.5), percentile(&mut s, 0.5));
        let (anchor, what) = if bytes > 0 {
            (
                "scp -c aes128-gcm",
                format!("{:.0} / {:.0} MiB/s", 1024.0 / am, 1024.0 / sm),
            )
        } else {
            (
                "rsync -a",
                format!("{:.0} / {:.0} files/s", 10_000.0 / am, 10_000.0 / sm),
            )
        };
        rows.push(format!(
            "| {case} | {am:.2} s | {anchor} {sm:.2} s | {what} | {:.1}× |",
            sm / am
        ));
    }
    println!(
        "| case | azlin cp (median of {runs}) | anchor (median) | azlin / anchor rate | speed-up |"
    );
    println!("|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    println!(
        "\nazlin-agent peak RSS (VmHWM) after the copies: {:.1} MiB",
        mib(status_bytes(agent, "VmHWM").unwrap())
    );
    watch_latency(&env);
}

/// `sync --watch`: a small file written here until its new content is on
/// the VM, 50 times.
fn watch_latency(env: &Env) {
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
    let there = env.vm_dir("bench").join("home/watched/note.txt");
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
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "\nsync --watch, small file saved here → new content on the VM (50 edits): p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        percentile(&mut ms, 0.5),
        percentile(&mut ms, 0.9),
        ms.last().copied().unwrap_or(0.0)
    );
}
