//! Which mounts count as the VM's filesystems: real block-backed or network
//! filesystems, each device once. Virtual and in-memory filesystems (tmpfs,
//! overlay, proc, cgroup …) are noise in a disk column and are left out.

/// Filesystem types that never hold the user's data on disk.
const VIRTUAL: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fuse.lxcfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "overlay",
    "proc",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
];

/// Whether a mount of this type, with this size, is a real filesystem.
pub fn is_real(fs_type: &str, total: u64) -> bool {
    total > 0 && !VIRTUAL.contains(&fs_type)
}

/// One mount as read from the system.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub device: String,
    pub mount: String,
    pub fs_type: String,
    pub used: u64,
    pub total: u64,
}

/// Keep real filesystems, each device once under its shortest mount point
/// (a device bind-mounted into many places, as containers do with
/// `/etc/hosts`, is one filesystem).
pub fn select(mounts: Vec<Mount>) -> Vec<Mount> {
    let mut kept: Vec<Mount> = Vec::new();
    for m in mounts.into_iter().filter(|m| is_real(&m.fs_type, m.total)) {
        match kept.iter_mut().find(|k| k.device == m.device) {
            Some(k) if m.mount.len() < k.mount.len() => *k = m,
            Some(_) => {}
            None => kept.push(m),
        }
    }
    kept.sort_by(|a, b| a.mount.cmp(&b.mount));
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(device: &str, mount: &str, fs_type: &str, total: u64) -> Mount {
        Mount {
            device: device.into(),
            mount: mount.into(),
            fs_type: fs_type.into(),
            used: total / 2,
            total,
        }
    }

    #[test]
    fn virtual_and_empty_mounts_are_dropped_and_binds_collapse() {
        let got = select(vec![
            m("overlay", "/", "overlay", 100),
            m("tmpfs", "/dev/shm", "tmpfs", 100),
            m("proc", "/proc", "proc", 0),
            m("/dev/sda1", "/etc/hosts", "ext4", 1000),
            m("/dev/sda1", "/etc/hostname", "ext4", 1000),
            m("/dev/sda1", "/", "ext4", 1000),
            m("/dev/sdb1", "/data", "xfs", 5000),
            m("/dev/sdc", "/empty", "ext4", 0),
        ]);
        let names: Vec<&str> = got.iter().map(|m| m.mount.as_str()).collect();
        assert_eq!(names, ["/", "/data"]);
    }
}
