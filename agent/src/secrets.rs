//! The files in the VM user's home that must not reach a clone of this VM
//! (`Query::Secrets`): those the files security filter blocks by name
//! (`.ssh/id_*`, `*.pem`, `.aws/credentials`, …) or by content (a private
//! key or a cloud token inside any file), the same filter `azlin cp`
//! applies. Asked while the VM is held still for the clone's snapshot, so
//! the list is of the files the snapshot has.
//!
//! Symbolic links are not followed and the walk stays on the home's file
//! system (a mounted share is not the VM's to copy). Files larger than
//! [`SCAN_LIMIT`] are judged by name alone: keys and tokens live in small
//! files, and reading every large file would make a clone slow.
//!
//! Not here: removing them (the controller's provider, in the clone's
//! copy, never on this VM).

use std::{
    io::Read,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use azlin_protocol::{
    files::filter::{ContentScan, Filter, Verdict},
    stream::{MAX_SECRETS, QueryReply},
};

use crate::exec::ExecContext;

/// Largest file whose content is scanned.
pub const SCAN_LIMIT: u64 = 8 * 1024 * 1024;

/// The home's secrets, relative to it.
pub fn find(home: &Path) -> Result<Vec<String>, String> {
    let dev = std::fs::symlink_metadata(home)
        .map_err(|e| format!("cannot read {}: {e}", home.display()))?
        .dev();
    let filter = Filter::default();
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = vec![home.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.dev() != dev {
                continue;
            }
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(rel) = path.strip_prefix(home) else {
                continue;
            };
            let rel = rel.to_string_lossy().into_owned();
            let secret = match filter.by_name(&rel) {
                Verdict::Blocked(_) => true,
                _ => meta.is_file() && meta.len() <= SCAN_LIMIT && holds_secret(&path),
            };
            if secret {
                if found.len() == MAX_SECRETS {
                    return Err(format!(
                        "more than {MAX_SECRETS} files in {} look like secrets",
                        home.display()
                    ));
                }
                found.push(rel);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn holds_secret(path: &Path) -> bool {
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut scan = ContentScan::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => scan.feed(&buf[..n]),
        }
        if scan.found().is_some() {
            return true;
        }
    }
    scan.found().is_some()
}

/// Answer `Query::Secrets` for the VM user's home.
pub async fn serve(ctx: &ExecContext) -> QueryReply {
    let home = match &ctx.home {
        Some(home) => home.clone(),
        None => match crate::account::Account::resolve(ctx.user.as_deref()) {
            Ok(a) => a.home,
            Err(reason) => return QueryReply::Error { reason },
        },
    };
    let walk = home.clone();
    match tokio::task::spawn_blocking(move || find(&walk)).await {
        Ok(Ok(paths)) => QueryReply::Secrets {
            home: home.display().to_string(),
            paths,
        },
        Ok(Err(reason)) => QueryReply::Error { reason },
        Err(e) => QueryReply::Error {
            reason: format!("the secret scan failed: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_by_name_and_by_content_are_found_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::create_dir_all(home.join("src/app")).unwrap();
        std::fs::write(home.join(".ssh/id_ed25519"), "x").unwrap();
        std::fs::write(home.join(".ssh/id_ed25519.pub"), "ssh-ed25519 AAAA").unwrap();
        std::fs::write(home.join(".ssh/known_hosts"), "h").unwrap();
        std::fs::write(
            home.join("src/app/notes.txt"),
            "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n",
        )
        .unwrap();
        std::fs::write(home.join("src/app/main.rs"), "fn main() {}").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", home.join("link.pem")).unwrap();
        assert_eq!(
            find(home).unwrap(),
            [".ssh/id_ed25519", "link.pem", "src/app/notes.txt"]
        );
    }
}
