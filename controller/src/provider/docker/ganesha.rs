//! The configuration of the docker provider's NFS server (nfs-ganesha),
//! pure: NFS 4.1 and 4.2 only (no v3, no NLM, no rquota, so no rpcbind
//! is needed), one export `/home` with root squashed, readable and
//! writable by the fleet's network alone and by nobody else
//! (`Access_Type = None` outside it), `sec=sys`, TCP, kept on disk by
//! ganesha's VFS backend in a docker volume of its own.
//!
//! VFS addresses files by handle (`name_to_handle_at`,
//! `open_by_handle_at`), which Docker's default seccomp profile refuses
//! and the second of which needs `CAP_DAC_READ_SEARCH`. [`seccomp`] is
//! the profile this one container runs under instead: every call allowed
//! but those Docker's default refuses to an unprivileged container
//! ([`DENIED`]), less the two handle calls. (Ganesha's in-memory backend
//! needs neither, but keeps no file data: a read returns filler.)
//!
//! Not here: running the server (`super::storage`).

/// The path VMs mount: `SERVER:/home`.
pub const PSEUDO: &str = "/home";
/// Where the server keeps the files (its volume; mode 1777, set by the
/// image, so each user makes a folder of their own, owned by them).
pub const EXPORT_DIR: &str = "/srv/azlin-nfs";
/// The line ganesha logs when it serves.
pub const READY: &str = "NFS SERVER INITIALIZED";

/// The whole `ganesha.conf` for an export admitted from `clients` (a
/// CIDR, checked by the caller).
pub fn config(clients: &str) -> String {
    format!(
        "# Written by azlin: one NFS 4.1 export, root squashed, for {clients} only.
NFS_CORE_PARAM {{
    Protocols = 4;
    NFS_Port = 2049;
    Enable_NLM = false;
    Enable_RQUOTA = false;
}}
NFSv4 {{
    Minor_Versions = 1, 2;
    Graceless = true;
}}
EXPORT_DEFAULTS {{
    Access_Type = None;
}}
EXPORT {{
    Export_Id = 1;
    Path = {EXPORT_DIR};
    Pseudo = {PSEUDO};
    Access_Type = None;
    Squash = Root_Squash;
    Protocols = 4;
    Transports = TCP;
    SecType = sys;
    CLIENT {{
        Clients = {clients};
        Access_Type = RW;
    }}
    FSAL {{
        Name = VFS;
    }}
}}
LOG {{
    Default_Log_Level = EVENT;
}}
"
    )
}

/// System calls Docker's default profile refuses an unprivileged
/// container, which the NFS server is refused too: kernel modules and
/// keys, clocks, mounts and namespaces, tracing, reboot, swap, BPF and
/// perf, and the rest of what lets a container reach its host.
pub const DENIED: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "mount_setattr",
    "move_mount",
    "move_pages",
    "nfsservctl",
    "open_tree",
    "perf_event_open",
    "personality",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "sysfs",
    "_sysctl",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
];

/// The NFS server's seccomp profile (JSON, as `docker --security-opt
/// seccomp=FILE` reads it): every call allowed but [`DENIED`], which
/// fail with `EPERM`.
pub fn seccomp() -> String {
    serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{
            "names": DENIED,
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        }]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_is_v4_only_squashed_and_for_the_fleet_alone() {
        let c = config("10.213.0.0/16");
        assert!(c.contains("Protocols = 4;"));
        assert!(c.contains("Minor_Versions = 1, 2;"));
        assert!(c.contains("Squash = Root_Squash;"));
        assert!(c.contains("Clients = 10.213.0.0/16;"));
        // Nobody else: the export's own and the defaults' access is None.
        assert_eq!(c.matches("Access_Type = None;").count(), 2);
        assert_eq!(c.matches("Access_Type = RW;").count(), 1);
        assert!(!c.contains("NFS_Protocols = 3"));
        assert!(c.contains("Name = VFS;"));
    }

    #[test]
    fn the_profile_refuses_what_docker_does_but_the_handle_calls() {
        let p: serde_json::Value = serde_json::from_str(&seccomp()).unwrap();
        let denied: Vec<&str> = p["syscalls"][0]["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        for call in ["mount", "ptrace", "kexec_load", "unshare", "setns", "bpf"] {
            assert!(denied.contains(&call), "{call}");
        }
        for call in ["name_to_handle_at", "open_by_handle_at"] {
            assert!(!denied.contains(&call), "{call}");
        }
        assert_eq!(p["defaultAction"], "SCMP_ACT_ALLOW");
    }
}
