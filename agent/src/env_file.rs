//! The VM user's variables azlin manages (`azlin env`), kept in
//! `~/.config/azlin/env` (the format: `azlin_protocol::env`):
//!
//! - changed in one atomic write (a new file, fsynced, renamed over the
//!   old one), owned by the VM user, 0600, every folder on the way opened
//!   without following symlinks, one change at a time;
//! - given to every command and terminal the agent starts (read here,
//!   never sourced), and sourced by the user's own shells through one
//!   line added once to `~/.profile` and `~/.bashrc`.
//!
//! Not here: what a valid name or value is, or the file's shape
//! (`azlin_protocol::env`).

use std::{io::Write, os::fd::OwnedFd, path::Path, sync::Mutex};

use azlin_protocol::{
    env::{self, EnvRequest},
    stream::QueryReply,
};
use nix::{
    fcntl::{OFlag, openat, renameat},
    sys::stat::Mode,
};

use crate::{
    account::Account,
    exec::ExecContext,
    files::place::{self, Owner},
};

const DIRS: [&str; 2] = [".config", "azlin"];
const FILE: &str = "env";
const PARTIAL: &str = "env.azlin-partial";
/// The line the user's shells source the file with.
pub const SOURCE_LINE: &str =
    "[ -f \"$HOME/.config/azlin/env\" ] && . \"$HOME/.config/azlin/env\"  # azlin env";
/// Where [`SOURCE_LINE`] goes.
const STARTUP_FILES: [&str; 2] = [".profile", ".bashrc"];

/// One change at a time.
static CHANGING: Mutex<()> = Mutex::new(());

/// The managed variables of the user whose home is `home` (none when
/// there is no file; an unreadable one is an error).
pub fn read(home: &Path) -> Result<Vec<(String, String)>, String> {
    let dir = match place::open_dirs(home, &DIRS, None) {
        Ok(dir) => dir,
        Err(e) if e.ends_with("does not exist") => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    read_in(&dir)
}

fn read_in(dir: &OwnedFd) -> Result<Vec<(String, String)>, String> {
    if place::existing(dir, FILE)?.is_none() {
        return Ok(Vec::new());
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut place::open_regular(dir, FILE)?, &mut text)
        .map_err(|e| format!("cannot read ~/.config/azlin/env: {e}"))?;
    env::parse(&text).map_err(|e| format!("~/.config/azlin/env is not azlin's: {e}"))
}

/// Apply `req` for `account` and return the variables after it.
pub fn change(account: &Account, req: &EnvRequest) -> Result<Vec<(String, String)>, String> {
    env::check(req)?;
    if req.changes_nothing() {
        return read(&account.home);
    }
    let _one = CHANGING.lock().unwrap_or_else(|p| p.into_inner());
    let owner = Owner {
        uid: account.uid,
        gid: account.gid,
    };
    // The startup files first: one that cannot take the line (a symlink,
    // a folder) stops the change before anything is written.
    source_from_startup_files(&account.home, owner)?;
    let dir = place::open_dirs(&account.home, &DIRS, Some(owner))?;
    let vars = env::apply(read_in(&dir)?, req);
    if vars.len() > env::MAX_VARS {
        return Err(format!("at most {} variables", env::MAX_VARS));
    }
    if place::existing(&dir, PARTIAL)?.is_some() {
        nix::unistd::unlinkat(&dir, PARTIAL, nix::unistd::UnlinkatFlags::NoRemoveDir)
            .map_err(|e| format!("cannot remove a stale {PARTIAL}: {e}"))?;
    }
    let mut f = place::create_partial(&dir, PARTIAL, owner)?;
    f.write_all(env::render(&vars).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write ~/.config/azlin/env: {e}"))?;
    renameat(&dir, PARTIAL, &dir, FILE)
        .map_err(|e| format!("cannot put the file in place: {e}"))?;
    let _ = nix::unistd::fsync(&dir);
    Ok(vars)
}

/// Add [`SOURCE_LINE`] to the user's startup files that lack it (made
/// when missing), never following a symlink.
fn source_from_startup_files(home: &Path, owner: Owner) -> Result<(), String> {
    let dir = place::open_dirs(home, &[], None)?;
    for name in STARTUP_FILES {
        let text = match place::existing(&dir, name)? {
            Some(_) => {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut place::open_regular(&dir, name)?, &mut text)
                    .map_err(|e| format!("cannot read ~/{name}: {e}"))?;
                text
            }
            None => String::new(),
        };
        if text.lines().any(|l| l == SOURCE_LINE) {
            continue;
        }
        let fd = openat(
            &dir,
            name,
            OFlag::O_WRONLY
                | OFlag::O_APPEND
                | OFlag::O_CREAT
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(|e| format!("cannot add to ~/{name}: {e}"))?;
        let mut f = std::fs::File::from(fd);
        if !f.metadata().is_ok_and(|m| m.file_type().is_file()) {
            return Err(format!("~/{name} is not a regular file"));
        }
        if text.is_empty() {
            owner.apply(&f)?;
        }
        let sep = if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        f.write_all(format!("{sep}{SOURCE_LINE}\n").as_bytes())
            .map_err(|e| format!("cannot add to ~/{name}: {e}"))?;
    }
    Ok(())
}

/// Answer `Query::Env`.
pub async fn serve(ctx: &ExecContext, req: EnvRequest) -> QueryReply {
    let account = match Account::resolve(ctx.user.as_deref()) {
        Ok(a) => a.for_vm(ctx.home.as_deref(), None),
        Err(reason) => return QueryReply::Error { reason },
    };
    match tokio::task::spawn_blocking(move || change(&account, &req)).await {
        Ok(Ok(vars)) => QueryReply::Env { vars },
        Ok(Err(reason)) => QueryReply::Error { reason },
        Err(e) => QueryReply::Error {
            reason: format!("the change failed: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(home: &Path) -> Account {
        Account::resolve(None).unwrap().for_vm(Some(home), None)
    }

    #[test]
    fn changes_are_kept_read_back_and_sourced_once() {
        let home = tempfile::tempdir().unwrap();
        let a = me(home.path());
        assert_eq!(read(home.path()).unwrap(), vec![]);
        let set = EnvRequest {
            set: vec![("A".into(), "x'y".into()), ("B".into(), "2".into())],
            ..Default::default()
        };
        change(&a, &set).unwrap();
        change(&a, &set).unwrap();
        let unset = EnvRequest {
            unset: vec!["B".into()],
            ..Default::default()
        };
        assert_eq!(
            change(&a, &unset).unwrap(),
            vec![("A".into(), "x'y".into())]
        );
        assert_eq!(read(home.path()).unwrap(), vec![("A".into(), "x'y".into())]);
        for f in STARTUP_FILES {
            let text = std::fs::read_to_string(home.path().join(f)).unwrap();
            assert_eq!(text.matches(SOURCE_LINE).count(), 1, "{f}: {text}");
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.path().join(".config/azlin/env"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_symlinked_folder_or_file_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), home.path().join(".config")).unwrap();
        let set = EnvRequest {
            set: vec![("A".into(), "1".into())],
            ..Default::default()
        };
        let e = change(&me(home.path()), &set).unwrap_err();
        assert!(e.contains("symlink"), "{e}");
        assert!(
            std::fs::read_dir(elsewhere.path())
                .unwrap()
                .next()
                .is_none()
        );

        let home = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", home.path().join(".profile")).unwrap();
        let e = change(&me(home.path()), &set).unwrap_err();
        assert!(e.contains(".profile"), "{e}");
        assert!(!home.path().join(".config").exists(), "nothing written");
    }

    #[test]
    fn bad_names_change_nothing() {
        let home = tempfile::tempdir().unwrap();
        let bad = EnvRequest {
            set: vec![("A".into(), "1".into()), ("1X".into(), "2".into())],
            ..Default::default()
        };
        assert!(change(&me(home.path()), &bad).is_err());
        assert!(!home.path().join(".config").exists());
    }
}
