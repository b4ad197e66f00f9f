//! Mounting shared NFS storage on a VM, asked of its agent: what the
//! controller sends ([`MountRequest`]: mount or unmount one export at one
//! folder), the checks both sides make of it ([`check`]: an export
//! `HOST:/PATH` and an absolute folder, each one `fstab` field, nothing a
//! shell or `fstab` would read twice), and the one set of mount options
//! ([`OPTIONS`]) and `fstab` line ([`fstab_line`]) azlin uses.
//!
//! Not here: mounting, or editing `/etc/fstab` (the agent's `mount`).

use serde::{Deserialize, Serialize};

/// The NFS options azlin mounts with: NFS 4.1, AUTH_SYS, four TCP
/// connections.
pub const OPTIONS: &str = "vers=4,minorversion=1,sec=sys,nconnect=4";
/// Added in `fstab`: mounted once the network is up, and a boot that
/// cannot mount it carries on.
pub const FSTAB_OPTIONS: &str = "_netdev,nofail";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRequest {
    /// `HOST:/PATH`.
    pub export: String,
    /// An absolute folder on the VM.
    pub dir: String,
    /// Unmount (and remove its `fstab` line) rather than mount.
    pub unmount: bool,
}

/// One NFS mount a VM has: its export at its folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mounted {
    pub export: String,
    pub dir: String,
}

/// The VM user's home on shared storage (`Query::Home`): set up at first
/// boot by the agent when its config names an export, so the controller
/// can tell `new` and `status` how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HomeState {
    /// This VM's home is not on shared storage.
    Local,
    /// Being mounted now (installing the client, mounting, copying).
    Pending { export: String },
    /// Mounted at `dir`; `note` says what was done (skeleton copied, or
    /// the home there kept).
    Mounted {
        export: String,
        dir: String,
        note: String,
    },
    /// Not mounted, and why; the VM runs on with its local home.
    Failed { export: String, reason: String },
}

impl HomeState {
    /// No control character in any field (so it may reach a terminal);
    /// the controller checks what an agent reports.
    pub fn is_clean(&self) -> bool {
        let fields: Vec<&str> = match self {
            HomeState::Local => vec![],
            HomeState::Pending { export } => vec![export],
            HomeState::Mounted { export, dir, note } => vec![export, dir, note],
            HomeState::Failed { export, reason } => vec![export, reason],
        };
        !fields
            .iter()
            .any(|f| f.chars().any(char::is_control) || f.len() > 4096)
    }

    /// One line for people: `mounted H:/P at /home/u (skeleton copied)`.
    pub fn describe(&self) -> String {
        match self {
            HomeState::Local => "local (not on shared storage)".into(),
            HomeState::Pending { export } => format!("{export}: being mounted"),
            HomeState::Mounted { export, dir, note } => {
                format!("{export} mounted at {dir} ({note})")
            }
            HomeState::Failed { export, reason } => format!("{export} NOT mounted: {reason}"),
        }
    }
}

/// Most mounts one VM reports.
pub const MAX_MOUNTS: usize = 256;

/// The NFS mounts in `mounts` (`/proc/self/mounts` text), at most
/// [`MAX_MOUNTS`], each field as the kernel wrote it (octal escapes
/// kept, so nothing in them is a control character).
pub fn nfs_mounts(mounts: &str) -> Vec<Mounted> {
    mounts
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (export, dir, kind) = (w.next()?, w.next()?, w.next()?);
            matches!(kind, "nfs" | "nfs4").then(|| Mounted {
                export: export.to_string(),
                dir: dir.to_string(),
            })
        })
        .filter(Mounted::is_clean)
        .take(MAX_MOUNTS)
        .collect()
}

impl Mounted {
    /// Neither field holds a control character (so either may be shown
    /// on a terminal); the controller checks what an agent reports too.
    pub fn is_clean(&self) -> bool {
        !self
            .export
            .chars()
            .chain(self.dir.chars())
            .any(char::is_control)
    }
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MountError {
    #[error("{0:?} is not an NFS export: write HOST:/PATH (letters, digits, . - _ / only)")]
    Export(String),
    #[error(
        "{0:?} is not a folder to mount at: write an absolute path of letters, digits and . - _ / \
         (no .., not /)"
    )]
    Dir(String),
}

fn plain(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'))
}

fn shown(s: &str) -> String {
    s.chars().take(80).collect()
}

/// `req` when both its fields are safe to mount and to write in `fstab`.
pub fn check(req: &MountRequest) -> Result<&MountRequest, MountError> {
    let export_ok = req.export.split_once(":/").is_some_and(|(host, path)| {
        !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
            && plain(path)
            && !path.split('/').any(|p| p == "..")
    }) && req.export.len() <= 1024;
    if !export_ok {
        return Err(MountError::Export(shown(&req.export)));
    }
    let dir_ok = req.dir.starts_with('/')
        && req.dir.len() > 1
        && req.dir.len() <= 1024
        && plain(&req.dir)
        && !req.dir.split('/').any(|p| p == ".." || p == ".");
    if !dir_ok {
        return Err(MountError::Dir(shown(&req.dir)));
    }
    Ok(req)
}

/// The `fstab` line for `export` at `dir` (both checked).
pub fn fstab_line(export: &str, dir: &str) -> String {
    format!("{export} {dir} nfs4 {OPTIONS},{FSTAB_OPTIONS} 0 0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(export: &str, dir: &str) -> MountRequest {
        MountRequest {
            export: export.into(),
            dir: dir.into(),
            unmount: false,
        }
    }

    #[test]
    fn only_nfs_mounts_are_reported() {
        let mounts = "proc /proc proc rw 0 0\n\
            srv:/home /mnt/team nfs4 rw,vers=4.1 0 0\n\
            old:/x /mnt/old nfs rw 0 0\n\
            /dev/sda1 / ext4 rw 0 0\n";
        assert_eq!(
            nfs_mounts(mounts),
            vec![
                Mounted {
                    export: "srv:/home".into(),
                    dir: "/mnt/team".into()
                },
                Mounted {
                    export: "old:/x".into(),
                    dir: "/mnt/old".into()
                }
            ]
        );
    }

    #[test]
    fn exports_and_folders_are_one_plain_fstab_field_each() {
        for good in [
            ("teamhome.file.core.windows.net:/teamhome/home", "/home/dev"),
            ("10.214.0.5:/home", "/mnt/team_home-1"),
        ] {
            assert!(check(&req(good.0, good.1)).is_ok(), "{good:?}");
        }
        for export in [
            "nohost",
            ":/path",
            "host:relative",
            "host:/a b",
            "host:/a\tb",
            "ho$t:/x",
            "host:/../etc",
            "host:/x\n/ / nfs4",
        ] {
            assert!(
                matches!(check(&req(export, "/mnt/x")), Err(MountError::Export(_))),
                "{export:?}"
            );
        }
        for dir in [
            "relative",
            "/",
            "/mnt/../etc",
            "/mnt/a b",
            "/mnt/x;rm",
            "/mnt/./x",
            "",
        ] {
            assert!(
                matches!(check(&req("h:/x", dir)), Err(MountError::Dir(_))),
                "{dir:?}"
            );
        }
        assert_eq!(
            fstab_line("h:/home", "/mnt/h"),
            "h:/home /mnt/h nfs4 vers=4,minorversion=1,sec=sys,nconnect=4,_netdev,nofail 0 0"
        );
    }
}
