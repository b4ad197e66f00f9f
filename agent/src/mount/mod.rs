//! Mount and unmount shared NFS storage on this VM, as the controller
//! asks (`Query::Mount`), with no SSH. Mounting: the request is checked
//! (`azlin_protocol::mount::check`), a conflicting `/etc/fstab` line is
//! refused before anything, the NFS client (`nfs-common`) is installed
//! when `mount.nfs4` is missing, the folder is made, the kernel is asked
//! to mount with azlin's options, and only once it has mounted is the
//! `fstab` line written (atomically, once), so a reboot mounts it again.
//! When the kernel refuses, the reason says why, and `/etc/fstab` is left
//! as it was: on a kernel without an NFS client, that it has none (Ubuntu
//! loads NFS as a module, so `/proc/filesystems` is read after the mount
//! was tried, never instead). Unmounting takes exactly that export at
//! that folder and its `fstab` line; a busy mount is reported with the
//! processes holding it, and nothing changes.
//!
//! Not here: the `fstab` text itself ([`fstab`], pure); the VM user's
//! home on shared storage, mounted at first boot ([`home`]).

pub mod fstab;
pub mod home;

use std::{path::Path, process::Stdio, time::Duration};

use azlin_protocol::{
    mount::{MountRequest, Mounted, OPTIONS, check},
    secret_file::write_atomic,
    stream::QueryReply,
};

const FSTAB: &str = "/etc/fstab";
const MOUNT_WITHIN: Duration = Duration::from_secs(60);
const INSTALL_WITHIN: Duration = Duration::from_secs(600);
/// Where `mount.nfs4` is when the NFS client is installed.
const HELPERS: [&str; 2] = ["/sbin/mount.nfs4", "/usr/sbin/mount.nfs4"];

/// Carry out `req`; the reply says what was done or why not.
pub async fn serve(req: MountRequest) -> QueryReply {
    let done = match check(&req) {
        Err(e) => Err(e.to_string()),
        Ok(_) if req.unmount => unmount(&req).await,
        Ok(_) => mount(&req).await,
    };
    match done {
        Ok(message) => QueryReply::Mounted { message },
        Err(reason) => QueryReply::Error { reason },
    }
}

fn read_fstab() -> Result<(String, u32), String> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::read_to_string(FSTAB) {
        Ok(text) => {
            let mode = std::fs::metadata(FSTAB)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0o644);
            Ok((text, mode))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((String::new(), 0o644)),
        Err(e) => Err(format!("cannot read {FSTAB}: {e}")),
    }
}

fn write_fstab(text: &str, mode: u32) -> Result<(), String> {
    write_atomic(Path::new(FSTAB), text.as_bytes(), mode)
        .map_err(|e| format!("cannot write {FSTAB}: {e}"))
}

/// The NFS mounts this VM has now (`/proc/self/mounts`), as
/// `Query::Mounts` reports them.
pub fn nfs_mounts() -> Result<Vec<Mounted>, String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts")
        .map_err(|e| format!("cannot read /proc/self/mounts: {e}"))?;
    Ok(azlin_protocol::mount::nfs_mounts(&mounts))
}

/// Whether `export` is mounted at `dir` now.
fn is_mounted(export: &str, dir: &str) -> Result<bool, String> {
    Ok(nfs_mounts()?
        .iter()
        .any(|m| m.export == export && m.dir == dir))
}

/// Whether the running kernel lists an NFS 4 client.
fn kernel_has_nfs4() -> bool {
    std::fs::read_to_string("/proc/filesystems").is_ok_and(|t| {
        t.lines()
            .any(|l| l.split_whitespace().last() == Some("nfs4"))
    })
}

/// Run `program args` within `limit`: its stderr (cleaned) when it fails.
async fn run(program: &str, args: &[&str], limit: Duration) -> Result<(), String> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .map_err(|_| format!("{program} did not finish within {limit:?}; stopped"))?
        .map_err(|e| format!("{program} failed: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let text = if text.trim().is_empty() {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        text.into_owned()
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join("; ");
    Err(tail.chars().filter(|c| !c.is_control()).take(600).collect())
}

/// `mount.nfs4` there, or installed (`apt-get`); whether it was installed.
async fn ensure_client() -> Result<bool, String> {
    if HELPERS.iter().any(|h| Path::new(h).exists()) {
        return Ok(false);
    }
    if !Path::new("/usr/bin/apt-get").exists() {
        return Err(
            "the NFS client is not installed (no mount.nfs4) and this VM has no apt-get to \
             install it: install your distribution's NFS client package"
                .into(),
        );
    }
    let install = async {
        run("apt-get", &["update", "-q"], INSTALL_WITHIN).await?;
        run(
            "apt-get",
            &[
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "nfs-common",
            ],
            INSTALL_WITHIN,
        )
        .await
    };
    install
        .await
        .map_err(|e| format!("cannot install the NFS client (nfs-common): {e}"))?;
    Ok(true)
}

async fn mount(req: &MountRequest) -> Result<String, String> {
    let (text, mode) = read_fstab()?;
    // A conflicting line is refused before anything happens.
    let new_fstab = fstab::with_line(&text, &req.export, &req.dir)?;
    let mut said = Vec::new();
    if is_mounted(&req.export, &req.dir)? {
        said.push(format!("{} was mounted at {} already", req.export, req.dir));
    } else {
        if ensure_client().await? {
            said.push("installed the NFS client (nfs-common)".to_string());
        }
        std::fs::create_dir_all(&req.dir).map_err(|e| format!("cannot make {}: {e}", req.dir))?;
        mount_nfs(&req.export, &req.dir).await?;
        said.push(format!("mounted {} at {}", req.export, req.dir));
    }
    if let Some(new) = new_fstab {
        write_fstab(&new, mode)?;
        said.push("/etc/fstab mounts it at boot".into());
    }
    Ok(said.join("; "))
}

/// Ask the kernel to mount `export` at `dir` with azlin's options; when
/// it refuses, why, in words (on a kernel without an NFS client, that).
async fn mount_nfs(export: &str, dir: &str) -> Result<(), String> {
    let Err(why) = run(
        "mount",
        &["-t", "nfs4", "-o", OPTIONS, export, dir],
        MOUNT_WITHIN,
    )
    .await
    else {
        return Ok(());
    };
    Err(if kernel_has_nfs4() {
        format!("the kernel did not mount {export} at {dir}: {why}; /etc/fstab is unchanged")
    } else {
        format!(
            "this kernel has no NFS client: nfs4 is not in /proc/filesystems, so {export} \
             cannot be mounted here (mount said: {why}); /etc/fstab is unchanged"
        )
    })
}

/// Processes whose folder, root or open files are in `dir`: `PID (NAME)`.
pub fn holders(dir: &Path) -> Vec<String> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let inside = |p: &Path| p.starts_with(dir);
    let mut out = Vec::new();
    for entry in procs.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let base = entry.path();
        let mut uses = ["cwd", "root"]
            .iter()
            .any(|l| std::fs::read_link(base.join(l)).is_ok_and(|p| inside(&p)));
        if !uses && let Ok(fds) = std::fs::read_dir(base.join("fd")) {
            uses = fds
                .flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|p| inside(&p)));
        }
        if uses {
            let comm: String = std::fs::read_to_string(base.join("comm"))
                .unwrap_or_default()
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(32)
                .collect();
            out.push(format!("{pid} ({comm})"));
        }
    }
    out.sort();
    out
}

async fn unmount(req: &MountRequest) -> Result<String, String> {
    let (text, mode) = read_fstab()?;
    let (new_fstab, lines) = fstab::without_line(&text, &req.export, &req.dir);
    let mounted = is_mounted(&req.export, &req.dir)?;
    if !mounted && lines == 0 {
        return Err(format!(
            "{} is not mounted at {}, nor in /etc/fstab; nothing changed",
            req.export, req.dir
        ));
    }
    let mut said = Vec::new();
    if mounted {
        if let Err(why) = run("umount", &[&req.dir], MOUNT_WITHIN).await {
            let held = holders(Path::new(&req.dir));
            return Err(if held.is_empty() {
                format!("cannot unmount {}: {why}; nothing changed", req.dir)
            } else {
                format!(
                    "{} is busy, held by {}: stop them and try again; nothing changed",
                    req.dir,
                    held.join(", ")
                )
            });
        }
        said.push(format!("unmounted {} from {}", req.export, req.dir));
    }
    if lines > 0 {
        write_fstab(&new_fstab, mode)?;
        said.push("removed its /etc/fstab line".into());
    }
    Ok(said.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_processes_inside_a_folder_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(dir.path())
            .spawn()
            .unwrap();
        let held = holders(dir.path());
        child.kill().ok();
        child.wait().ok();
        assert!(
            held.iter().any(|h| h == &format!("{} (sleep)", child.id())),
            "{held:?}"
        );
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(holders(elsewhere.path()).is_empty());
    }
}
