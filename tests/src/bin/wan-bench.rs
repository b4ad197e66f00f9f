//! How fast the WAN emulator (`azlin_e2e::wan`) carries a TCP stream, so
//! a benchmark run through it knows the relay is not its bottleneck:
//! `wan-bench [MBYTES]` sends MBYTES (default 500) from one namespace to
//! the other over an unshaped link and over one limited to 1 Gbit/s with
//! a 40 ms round trip, three times each, and prints the median rate and
//! the relay's CPU time. Needs root (network namespaces).

use std::{
    io::Read,
    process::Stdio,
    time::{Duration, Instant},
};

use azlin_e2e::wan::{ADDR_B, Shape, WanLink};

/// Seconds to carry `bytes` through `link`, B to A.
fn carry(link: &WanLink, bytes: u64) -> f64 {
    let mut server = link
        .command(false, "python3")
        .args([
            "-c",
            &format!(
                "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
                 s.bind(('{ADDR_B}',7071))\ns.listen(1)\nprint('ready',flush=True)\nc,_=s.accept()\n\
                 b=bytes(1<<20)\nn={bytes}\nwhile n>0:\n    k=min(n,len(b))\n    c.sendall(b[:k])\n    n-=k\nc.close()\n"
            ),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = [0u8; 6];
    server
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut ready)
        .unwrap();
    let started = Instant::now();
    let client = link
        .command(true, "python3")
        .args([
            "-c",
            &format!(
                "import socket\nc=socket.create_connection(('{ADDR_B}',7071),timeout=60)\nn=0\n\
                 while True:\n    b=c.recv(1<<20)\n    if not b: break\n    n+=len(b)\nprint(n)\n"
            ),
        ])
        .output()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(client.status.success());
    let got: u64 = String::from_utf8_lossy(&client.stdout)
        .trim()
        .parse()
        .unwrap();
    assert_eq!(got, bytes, "the stream arrived short");
    server.wait().unwrap();
    secs
}

fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let tick = 100.0;
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / tick
}

fn main() {
    if let Some(why) = azlin_e2e::wan::unavailable() {
        eprintln!("wan-bench: {why}");
        std::process::exit(2);
    }
    let mbytes: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("MBYTES is a number"))
        .unwrap_or(500);
    let bytes = mbytes * 1_000_000;
    for (label, shape) in [
        ("unshaped", Shape::default()),
        (
            "RTT 40 ms, 1 Gbit/s",
            Shape::symmetric(Duration::from_millis(40), 0.0, Some(1000.0)),
        ),
    ] {
        let link = WanLink::start("azlin-wan-bench", shape, shape).unwrap();
        let cpu0 = cpu_secs();
        let mut runs: Vec<f64> = (0..3).map(|_| carry(&link, bytes)).collect();
        let cpu = cpu_secs() - cpu0;
        runs.sort_by(f64::total_cmp);
        let median = runs[1];
        println!(
            "{label}: {mbytes} MB in {median:.2} s (median of 3) = {:.2} Gbit/s; relay CPU {:.2} s \
             for all 3",
            bytes as f64 * 8.0 / median / 1e9,
            cpu
        );
        drop(link);
    }
}
