//! Measurements for the benchmark tools: CPU time and memory of a process,
//! read from `/proc`, and percentiles of what they collect.

/// Clock ticks per second for `/proc/<pid>/stat` times (USER_HZ).
fn ticks_per_sec() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64
}

/// User + system CPU seconds used so far by `pid`.
pub fn cpu_seconds(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields restart after ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_sec())
}

/// CPU seconds the whole machine has been busy so far, all cores
/// together (everything in `/proc/stat`'s first line but idle and iowait):
/// what a tool costs whichever processes it runs in (scp's ssh, sshd,
/// sftp-server and scp alike).
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let (idle, iowait) = (f.get(3)?, f.get(4)?);
    Some((f.iter().sum::<f64>() - idle - iowait) / ticks_per_sec())
}

/// A `kB` field of `/proc/<pid>/status` (VmRSS, VmHWM …), in bytes.
pub fn status_bytes(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The `p` quantile (0.0-1.0) of `v`, nearest rank; sorts `v`.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}
