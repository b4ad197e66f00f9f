//! A WAN in a box: two network namespaces the test makes, joined by a
//! userspace link that acts on packets, for benchmarks that must see a
//! real round trip, loss and a rate limit (this kernel has no
//! `sch_netem`). Each namespace holds a TUN device; a relay reads every
//! IP packet from one and writes it to the other after the delay of its
//! direction (plus jitter), unless it is lost, and no sooner than a link
//! of the given rate would have carried it. TCP's congestion control and
//! QUIC's see the same link, since neither end's transport is cut.
//!
//! Packets leave in the order they came (jitter never reorders them, as a
//! single path does not); a direction's backlog is bounded (tail drop,
//! like a router queue), so an overrun rate limit loses packets instead of
//! growing a queue without end.
//!
//! The namespaces are `{name}-a` (10.77.0.1) and `{name}-b` (10.77.0.2);
//! traffic stays in them. Dropping the [`WanLink`] stops the relay and
//! deletes both namespaces.
//!
//! Not here: which program runs where (the caller runs them with
//! `ip netns exec`, [`WanLink::command`]).

use std::{
    collections::VecDeque,
    fs::File,
    io::{Read, Write},
    os::fd::{AsRawFd, OwnedFd},
    process::Command,
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// The address of side A; side B is [`ADDR_B`].
pub const ADDR_A: &str = "10.77.0.1";
pub const ADDR_B: &str = "10.77.0.2";

/// Packets a direction may hold back at most (a router's queue).
const BACKLOG: usize = 4096;

/// What the link does to each direction's packets.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// One-way delay, A to B and B to A (half the round trip each, for a
    /// symmetric link).
    pub delay: Duration,
    /// Each packet's delay varies by up to this much either way.
    pub jitter: Duration,
    /// Share of packets lost, 0 to 1.
    pub loss: f64,
    /// Bits a second each way; `None`: as fast as the relay goes.
    pub rate_bps: Option<f64>,
}

impl Shape {
    /// A symmetric link of round trip `rtt`, `loss` (0 to 1) and `rate_mbit`.
    pub fn symmetric(rtt: Duration, loss: f64, rate_mbit: Option<f64>) -> Self {
        Self {
            delay: rtt / 2,
            jitter: Duration::ZERO,
            loss,
            rate_bps: rate_mbit.map(|m| m * 1e6),
        }
    }
}

/// Counts of one direction, for a benchmark to report.
#[derive(Debug, Default)]
pub struct Counts {
    pub carried: std::sync::atomic::AtomicU64,
    pub lost: std::sync::atomic::AtomicU64,
    pub dropped_full: std::sync::atomic::AtomicU64,
}

pub struct WanLink {
    name: String,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// A to B, then B to A.
    pub counts: [Arc<Counts>; 2],
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Why this machine cannot make the link, if it cannot (not root, no TUN).
pub fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("network namespaces need root".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("no /dev/net/tun".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("no ip command (iproute2)".into());
    }
    None
}

/// A TUN device named `wan0` made inside namespace `ns`, as a file.
fn tun_in(ns: &str) -> Result<File, String> {
    let ns = ns.to_string();
    // setns changes only the calling thread's namespace: a thread of its
    // own makes the device there, and the file works from any thread.
    std::thread::spawn(move || -> Result<File, String> {
        let handle =
            File::open(format!("/run/netns/{ns}")).map_err(|e| format!("namespace {ns}: {e}"))?;
        nix::sched::setns(&handle, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("cannot enter namespace {ns}: {e}"))?;
        let tun = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .map_err(|e| format!("/dev/net/tun: {e}"))?;
        // struct ifreq: the name, then the flags (IFF_TUN | IFF_NO_PI).
        let mut req = [0u8; 40];
        req[..4].copy_from_slice(b"wan0");
        let flags: i16 = 0x0001 | 0x1000;
        req[16..18].copy_from_slice(&flags.to_ne_bytes());
        const TUNSETIFF: u64 = 0x4004_54ca;
        // SAFETY: TUNSETIFF reads and writes one struct ifreq, which `req`
        // is large enough to hold, for the TUN file descriptor given.
        let r = unsafe { nix::libc::ioctl(tun.as_raw_fd(), TUNSETIFF as _, req.as_mut_ptr()) };
        if r != 0 {
            return Err(format!(
                "TUNSETIFF in {ns}: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(tun)
    })
    .join()
    .map_err(|_| "the TUN thread panicked".to_string())?
}

/// A small, fast random source (xorshift), one per direction.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Packets of one direction waiting for their time to leave.
#[derive(Default)]
struct Queue {
    packets: VecDeque<(Instant, Vec<u8>)>,
}

impl WanLink {
    /// Make the namespaces `{name}-a` and `{name}-b` joined by a link
    /// shaped by `a_to_b` and `b_to_a`.
    pub fn start(name: &str, a_to_b: Shape, b_to_a: Shape) -> Result<Self, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        let (a, b) = (format!("{name}-a"), format!("{name}-b"));
        for ns in [&a, &b] {
            // A namespace left by a run that was killed goes first.
            let _ = ip(&["netns", "del", ns]);
            ip(&["netns", "add", ns])?;
        }
        let mut link = WanLink {
            name: name.to_string(),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            counts: [Arc::default(), Arc::default()],
        };
        let tun_a = tun_in(&a)?;
        let tun_b = tun_in(&b)?;
        for (ns, me, peer) in [(&a, ADDR_A, ADDR_B), (&b, ADDR_B, ADDR_A)] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                me,
                "peer",
                &format!("{peer}/32"),
                "dev",
                "wan0",
            ])?;
            ip(&["-n", ns, "link", "set", "wan0", "mtu", "1500", "up"])?;
        }
        let dup = |f: &File| -> Result<File, String> {
            let fd: OwnedFd = nix::unistd::dup(f).map_err(|e| format!("dup: {e}"))?;
            Ok(File::from(fd))
        };
        let (read_a, write_a) = (dup(&tun_a)?, tun_a);
        let (read_b, write_b) = (dup(&tun_b)?, tun_b);
        link.direction(read_a, write_b, a_to_b, 0, 0x9e37_79b9_7f4a_7c15);
        link.direction(read_b, write_a, b_to_a, 1, 0xd1b5_4a32_d192_ed03);
        Ok(link)
    }

    /// Carry packets read from `from` to `to`, shaped by `shape`.
    fn direction(&mut self, mut from: File, mut to: File, shape: Shape, i: usize, seed: u64) {
        let queue = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let counts = self.counts[i].clone();
        let stop = self.stop.clone();
        let q = queue.clone();
        // Reader: each packet gets its time to leave, or is lost.
        self.threads.push(std::thread::spawn(move || {
            let mut rng = Rng(seed);
            let mut buf = vec![0u8; 65536];
            // When the (rate-limited) link is free again.
            let mut free_at = Instant::now();
            let mut last_due = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                // Wait a tenth of a second at most, so a stop is seen.
                let mut pfd = nix::libc::pollfd {
                    fd: from.as_raw_fd(),
                    events: nix::libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one pollfd, valid for the call.
                let ready = unsafe { nix::libc::poll(&mut pfd, 1, 100) };
                if ready <= 0 {
                    continue;
                }
                let n = match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                if shape.loss > 0.0 && rng.unit() < shape.loss {
                    counts.lost.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let now = Instant::now();
                let mut sent = now;
                if let Some(rate) = shape.rate_bps {
                    let start = free_at.max(now);
                    free_at = start + Duration::from_secs_f64(n as f64 * 8.0 / rate);
                    sent = free_at;
                }
                let jitter = if shape.jitter.is_zero() {
                    Duration::ZERO
                } else {
                    shape.jitter.mul_f64(rng.unit() * 2.0)
                };
                let due = (sent + shape.delay + jitter)
                    .checked_sub(shape.jitter)
                    .unwrap_or(sent)
                    .max(last_due);
                last_due = due;
                let (lock, ready) = &*q;
                let mut queue = lock.lock().unwrap();
                if queue.packets.len() >= BACKLOG {
                    counts.dropped_full.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                queue.packets.push_back((due, buf[..n].to_vec()));
                ready.notify_one();
            }
        }));
        let counts = self.counts[i].clone();
        let stop = self.stop.clone();
        // Writer: each packet leaves at its time, in order.
        self.threads.push(std::thread::spawn(move || {
            let (lock, ready) = &*queue;
            let mut q = lock.lock().unwrap();
            while !stop.load(Ordering::Relaxed) {
                let Some((due, _)) = q.packets.front() else {
                    q = ready.wait_timeout(q, Duration::from_millis(50)).unwrap().0;
                    continue;
                };
                let now = Instant::now();
                if *due > now {
                    let wait = *due - now;
                    q = ready.wait_timeout(q, wait).unwrap().0;
                    continue;
                }
                let (_, packet) = q.packets.pop_front().unwrap();
                drop(q);
                if to.write(&packet).is_ok() {
                    counts.carried.fetch_add(1, Ordering::Relaxed);
                }
                q = lock.lock().unwrap();
            }
        }));
    }

    /// `program ARGS` to run in side A (`a`) or B.
    pub fn command(&self, side_a: bool, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &format!("{}-{}", self.name, if side_a { "a" } else { "b" }),
            program,
        ]);
        c
    }
}

impl Drop for WanLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Deleting the namespaces removes the TUN devices, which ends the
        // readers' blocking reads.
        for side in ["a", "b"] {
            let _ = ip(&["netns", "del", &format!("{}-{side}", self.name)]);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
