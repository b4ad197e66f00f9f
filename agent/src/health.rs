//! The facts `azlin health` grades, gathered on demand: the agent's own
//! version and uptime, the VM's uptime and clock, cloud-init's status,
//! the development tools' sections, failed systemd units, disk and inode
//! use of `/` and the user's home, memory available and its pressure
//! (PSI), whether a reboot is required, pending security updates
//! (apt's simulation), NFS mounts answering a stat in time, and sshd
//! accepting connections. A fact the VM cannot give is `None`, never a
//! guess; every command has a time limit.
//!
//! Not here: grading (the controller).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use azlin_protocol::{
    health::{FileSystemUse, HealthReport, MAX_ITEMS},
    stream::QueryReply,
};

use crate::{exec::ExecContext, session::Agent};

/// Longest any one check's command may run.
const COMMAND_LIMIT: Duration = Duration::from_secs(20);
/// Longest an NFS mount may take to answer a stat.
const MOUNT_LIMIT: Duration = Duration::from_secs(3);
/// Where the development tools record each section.
const DEV_TOOLS_STATUS: &str = "/var/lib/azlin/dev-tools.status";

/// stdout of `program args`, or `None` when it cannot run, fails, or
/// takes too long.
async fn output(program: &str, args: &[&str]) -> Option<String> {
    let run = tokio::process::Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(COMMAND_LIMIT, run).await {
        Ok(Ok(out)) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into()),
        _ => None,
    }
}

async fn cloud_init() -> Option<String> {
    // `status` exits non-zero for an error or a degraded run: read its
    // words either way.
    let run = tokio::process::Command::new("cloud-init")
        .arg("status")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(COMMAND_LIMIT, run).await.ok()?.ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("status:"))
        .map(|s| s.trim().chars().take(32).collect())
}

fn dev_tools() -> Option<Vec<String>> {
    let text = std::fs::read_to_string(DEV_TOOLS_STATUS).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.strip_suffix(" failed"))
            .map(|s| s.chars().take(64).collect())
            .take(MAX_ITEMS)
            .collect(),
    )
}

async fn failed_units() -> Option<Vec<String>> {
    let text = output(
        "systemctl",
        &["--failed", "--no-legend", "--plain", "--no-pager"],
    )
    .await?;
    Some(
        text.lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(|u| u.chars().take(128).collect())
            .take(MAX_ITEMS)
            .collect(),
    )
}

fn file_system(path: &Path) -> Option<FileSystemUse> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let percent = |free: u64, total: u64| {
        (total > 0).then(|| 100.0 * (total - free.min(total)) as f64 / total as f64)
    };
    Some(FileSystemUse {
        mount: path.display().to_string(),
        used_percent: percent(st.blocks_available() as u64, st.blocks() as u64)?,
        inodes_used_percent: percent(st.files_available() as u64, st.files() as u64),
    })
}

fn memory() -> (Option<f64>, Option<f64>) {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        let field = |name: &str| {
            t.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|r| r.split_whitespace().next()?.parse::<f64>().ok())
        };
        let (avail, total) = (field("MemAvailable:")?, field("MemTotal:")?);
        (total > 0.0).then(|| 100.0 * avail / total)
    });
    let pressure = std::fs::read_to_string("/proc/pressure/memory")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("some "))?
                .split_whitespace()
                .find_map(|w| w.strip_prefix("avg10="))?
                .parse()
                .ok()
        });
    (available, pressure)
}

async fn security_updates() -> Option<u32> {
    let text = output(
        "apt-get",
        &["-s", "-o", "Debug::NoLocking=1", "-qq", "upgrade"],
    )
    .await?;
    Some(
        text.lines()
            .filter(|l| l.starts_with("Inst ") && l.to_ascii_lowercase().contains("security"))
            .count() as u32,
    )
}

async fn nfs_mounts() -> Vec<(String, bool)> {
    let Ok(mounts) = crate::mount::nfs_mounts() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in mounts.into_iter().take(MAX_ITEMS) {
        let dir = PathBuf::from(&m.dir);
        let stat = tokio::task::spawn_blocking(move || std::fs::metadata(&dir).is_ok());
        let answering = matches!(tokio::time::timeout(MOUNT_LIMIT, stat).await, Ok(Ok(true)));
        out.push((m.dir, answering));
    }
    out
}

async fn sshd_up(port: u16) -> Option<bool> {
    let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
    Some(matches!(
        tokio::time::timeout(Duration::from_secs(2), connect).await,
        Ok(Ok(_))
    ))
}

/// Answer `Query::Health`.
pub async fn serve(agent: &Agent, ctx: &ExecContext) -> QueryReply {
    let home = match &ctx.home {
        Some(h) => Some(h.clone()),
        None => crate::account::Account::resolve(ctx.user.as_deref())
            .ok()
            .map(|a| a.home),
    };
    let (cloud_init, failed_units, security_updates, nfs_mounts, sshd_up) = tokio::join!(
        cloud_init(),
        failed_units(),
        security_updates(),
        nfs_mounts(),
        sshd_up(ctx.ssh.port),
    );
    // `/` and the home, once each when they are one file system.
    let mut file_systems: Vec<FileSystemUse> = Vec::new();
    let mut devices = Vec::new();
    for path in std::iter::once(PathBuf::from("/")).chain(home) {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let dev = std::os::unix::fs::MetadataExt::dev(&meta);
        if devices.contains(&dev) {
            continue;
        }
        devices.push(dev);
        file_systems.extend(file_system(&path));
    }
    let (memory_available_percent, memory_pressure_avg10) = memory();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let report = HealthReport {
        agent_version: azlin_protocol::SOFTWARE_VERSION.to_string(),
        agent_uptime_secs: now.as_secs().saturating_sub(agent.started_at_unix),
        uptime_secs: std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok())
            .map(|s| s as u64),
        now_ms: now.as_millis() as u64,
        cloud_init,
        dev_tools_failed: dev_tools(),
        failed_units,
        file_systems,
        memory_available_percent,
        memory_pressure_avg10,
        reboot_required: Path::new("/var/run/reboot-required").exists(),
        security_updates,
        nfs_mounts,
        sshd_up,
    };
    QueryReply::Health(Box::new(report))
}
