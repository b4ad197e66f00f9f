//! The VM user's home on shared storage (`azlin new --nfs-storage`): when
//! the agent's config names `shared_home = "HOST:/PATH"`, the agent mounts
//! that export as the user's passwd home once at its start, in the
//! background, so the VM joins the fleet whatever happens here, and keeps
//! how it went for the controller (`Query::Home`).
//!
//! The export is mounted first at a staging folder, where it is made the
//! user's: its root folder must belong to the user (a fresh share's root
//! belongs to root, and only a root that is not squashed can give it
//! away: the controller arranges that, see the storage capability). An
//! empty share gets the home cloud-init made (the skeleton and the SSH
//! key), copied as the user, so no file on it belongs to root; a share
//! with content is kept as it is. Then it is mounted at the home itself
//! and its `fstab` line written, so a reboot mounts it again (`nofail`:
//! a boot that cannot mount it carries on with the local home).
//!
//! A failure at any step leaves the local home in place and `fstab`
//! unchanged, and is reported with its reason (`HomeState::Failed`).
//!
//! Not here: mounting on request (`super::mount`), the `fstab` text.

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::Path,
    process::Stdio,
    sync::Mutex,
    time::Duration,
};

use azlin_protocol::mount::{HomeState, MountRequest, check};

use super::{ensure_client, fstab, is_mounted, mount_nfs, read_fstab, run, write_fstab};
use crate::account::Account;

/// Where the export is made ready before it covers the home.
const STAGING: &str = "/run/azlin-home";
const COPY_WITHIN: Duration = Duration::from_secs(300);

static STATE: Mutex<HomeState> = Mutex::new(HomeState::Local);

/// How the home on shared storage is doing (`Local` when the config
/// names none).
pub fn state() -> HomeState {
    STATE.lock().expect("home state lock").clone()
}

fn set(state: HomeState) {
    *STATE.lock().expect("home state lock") = state;
}

/// Mount `export` as `user`'s home, once; the outcome is kept for
/// [`state`] and logged.
pub async fn settle(export: String, user: Option<String>) {
    set(HomeState::Pending {
        export: export.clone(),
    });
    let done = match Account::resolve(user.as_deref()) {
        Ok(account) => mount_home(&export, &account).await,
        Err(e) => Err(format!("cannot find the VM user: {e}")),
    };
    match done {
        Ok((dir, note)) => {
            tracing::info!(%export, %dir, "home on shared storage: {note}");
            set(HomeState::Mounted { export, dir, note });
        }
        Err(reason) => {
            tracing::warn!(%export, "home on shared storage not mounted: {reason}");
            set(HomeState::Failed { export, reason });
        }
    }
}

async fn mount_home(export: &str, account: &Account) -> Result<(String, String), String> {
    let dir = account
        .home
        .to_str()
        .ok_or_else(|| format!("{}'s home is not UTF-8", account.name))?
        .to_string();
    let req = MountRequest {
        export: export.to_string(),
        dir: dir.clone(),
        unmount: false,
    };
    check(&req).map_err(|e| e.to_string())?;
    if is_mounted(export, &dir)? {
        return Ok((dir, "mounted already (from /etc/fstab at boot)".into()));
    }
    let (text, mode) = read_fstab()?;
    let new_fstab = fstab::with_line(&text, export, &dir)?;
    ensure_client().await?;
    std::fs::create_dir_all(STAGING).map_err(|e| format!("cannot make {STAGING}: {e}"))?;
    std::fs::set_permissions(STAGING, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("cannot lock {STAGING}: {e}"))?;
    mount_nfs(export, STAGING).await?;
    let prepared = prepare(Path::new(STAGING), account).await;
    if let Err(e) = run("umount", &[STAGING], super::MOUNT_WITHIN).await {
        tracing::warn!("cannot unmount the staging mount {STAGING}: {e}");
    }
    let note = prepared?;
    mount_nfs(export, &dir).await?;
    if let Some(new) = new_fstab {
        write_fstab(&new, mode)?;
    }
    Ok((dir, note))
}

/// Make the share at `root` `account`'s home: its root folder theirs,
/// and, when it is empty, the local home copied in as them.
async fn prepare(root: &Path, account: &Account) -> Result<String, String> {
    let meta = std::fs::metadata(root).map_err(|e| format!("cannot read the share: {e}"))?;
    let (uid, gid) = (account.uid.as_raw(), account.gid.as_raw());
    if meta.uid() != uid {
        let given = meta.uid() == 0
            && std::os::unix::fs::chown(root, Some(uid), Some(gid)).is_ok()
            && std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).is_ok();
        if !given {
            return Err(format!(
                "the share's root folder belongs to uid {}, not to {} (uid {uid}), and root \
                 here cannot give it away (root squash): `azlin new --nfs-storage` gives it \
                 to uid {uid} when the share is first used; the local home is kept",
                meta.uid(),
                account.name
            ));
        }
    }
    let empty = std::fs::read_dir(root)
        .map_err(|e| format!("cannot list the share: {e}"))?
        .flatten()
        .all(|e| e.file_name() == "lost+found");
    if !empty {
        return Ok("kept the home already on the share".into());
    }
    let mut cp = tokio::process::Command::new("cp");
    cp.arg("-a")
        .arg(account.home.join("."))
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    account.apply(&mut cp);
    let out = tokio::time::timeout(COPY_WITHIN, cp.output())
        .await
        .map_err(|_| format!("copying the home onto the share took over {COPY_WITHIN:?}"))?
        .map_err(|e| format!("cannot copy the home onto the share: {e}"))?;
    if !out.status.success() {
        let why: String = String::from_utf8_lossy(&out.stderr)
            .chars()
            .filter(|c| !c.is_control())
            .take(400)
            .collect();
        return Err(format!("cannot copy the home onto the share: {why}"));
    }
    Ok("the share was empty: the new home's skeleton was copied in".into())
}
