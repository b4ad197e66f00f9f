//! Snapshots of local VMs: a snapshot is a copy of the VM's home folder
//! (`~/.azlin/local/VM/home`, the VM's "disk": what its commands,
//! terminals and file copies see) under `~/.azlin/snapshots/local/NAME/`,
//! made with `cp -a` (owners, modes, times, links and special files kept;
//! reflinked where the file system can).
//!
//! The rest of the VM's folder is its agent's identity (key,
//! certificate, CA) and log: a restore keeps them as they are now, so the
//! VM comes back without enrolling again, and the copy leaves them out,
//! so no snapshot holds a second copy of the VM's private key.
//!
//! A clone's source is a copy of the source VM's home like a snapshot's,
//! under `~/.azlin/clones/`, with the files the security filter blocks
//! removed; each clone gets its own copy of it as its home, and a new
//! folder, key and certificate of its own.
//!
//! A local VM's processes are the user's own processes on this machine,
//! which the agent cannot freeze: a file being written while the copy
//! runs may be caught mid-write (the copy is of each file as it was when
//! read, not of one moment).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::LocalProvider;
use crate::{
    azure::context::AzureContext,
    provider::{
        Stage, Started, Work,
        snapshots::{HomeSecrets, Snapshots},
    },
    state::{VmRow, now_unix, snapshots::SnapshotRow},
};

/// What `state.db` keeps of a local snapshot.
#[derive(Debug, Serialize, Deserialize)]
struct LocalSnapshot {
    /// The snapshot's folder; the copy is its `home`.
    dir: PathBuf,
}

fn data_of(s: &SnapshotRow) -> Result<LocalSnapshot> {
    serde_json::from_str(&s.provider_data)
        .with_context(|| format!("snapshot {} has no folder recorded", s.name))
}

/// What a clone of a local VM is made from: `dir/home`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LocalCloneSource {
    pub dir: PathBuf,
}

/// `cp -a` `from` to `to` (which must not exist).
pub(super) async fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let out = tokio::process::Command::new("cp")
        .arg("-a")
        .arg("--reflink=auto")
        .arg("--no-target-directory")
        .arg(from)
        .arg(to)
        .output()
        .await
        .context("cannot run cp")?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(to);
        bail!(
            "cannot copy {} to {}: {}",
            from.display(),
            to.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Remove `dir` and all in it; one already gone is removed.
pub(super) fn remove_tree(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", dir.display())),
    }
}

impl LocalProvider {
    async fn copy_for_clones(&self, src: &VmRow, secrets: &HomeSecrets) -> Result<String> {
        let dir = self
            .home
            .root()
            .join("clones")
            .join(format!("{}-{}", src.name, now_unix()));
        remove_tree(&dir)?;
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let home = dir.join("home");
        copy_tree(&self.vm_dir(&src.name)?.join("home"), &home).await?;
        for rel in &secrets.paths {
            let path = home.join(rel);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => remove_tree(&path)?,
                Ok(_) => std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?,
                Err(_) => {}
            }
        }
        Ok(serde_json::to_string(&LocalCloneSource { dir })?)
    }

    /// Where the VM's home goes aside when a restore replaces it.
    fn set_aside(&self, vm: &str, snapshot: &str) -> Result<PathBuf> {
        Ok(self
            .vm_dir(vm)?
            .join(format!("home.before-{snapshot}-{}", now_unix())))
    }

    async fn take_copy(&self, vm: &VmRow, name: &str) -> Result<String> {
        let home = self.vm_dir(&vm.name)?.join("home");
        let dir = self.home.local_snapshot_dir(name)?;
        if dir.exists() {
            bail!("{} already exists: pick another name", dir.display());
        }
        let partial = dir.with_extension("partial");
        remove_tree(&partial)?;
        std::fs::create_dir_all(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        copy_tree(&home, &partial.join("home")).await?;
        std::fs::rename(&partial, &dir)
            .with_context(|| format!("cannot move {} into place", dir.display()))?;
        Ok(serde_json::to_string(&LocalSnapshot { dir })?)
    }

    async fn restore_copy(
        &self,
        vm: &VmRow,
        snapshot: &SnapshotRow,
        delete_old: bool,
        stage: Stage<'_>,
    ) -> Result<Started> {
        let copy = data_of(snapshot)?.dir.join("home");
        if !copy.is_dir() {
            bail!(
                "snapshot {} is gone from {}: delete its record with azlin snapshot delete {}",
                snapshot.name,
                copy.display(),
                snapshot.name
            );
        }
        let dir = self.vm_dir(&vm.name)?;
        let incoming = dir.join("home.restoring");
        remove_tree(&incoming)?;
        // Copied before the VM stops: it is down only for two renames.
        copy_tree(&copy, &incoming).await?;
        self.stop(vm).await?;
        stage(format!("{} stopped", vm.name));
        let home = dir.join("home");
        let aside = self.set_aside(&vm.name, &snapshot.name)?;
        std::fs::rename(&home, &aside)
            .with_context(|| format!("cannot move {} aside", home.display()))?;
        std::fs::rename(&incoming, &home)
            .with_context(|| format!("cannot move the restored home to {}", home.display()))?;
        if delete_old {
            remove_tree(&aside)?;
            stage("the home it had is deleted".into());
        } else {
            stage(format!("the home it had is kept at {}", aside.display()));
        }
        Ok(Started {
            provider_data: self.start(vm)?,
            address: None,
        })
    }
}

impl Snapshots for LocalProvider {
    fn holds_still(&self) -> bool {
        false
    }

    fn take<'a>(
        &'a self,
        vm: &'a VmRow,
        name: &'a str,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<String>> {
        Box::pin(self.take_copy(vm, name))
    }

    fn holds(&self, snapshot: &SnapshotRow) -> String {
        match data_of(snapshot) {
            Ok(d) => format!("a copy of its home at {}", d.dir.join("home").display()),
            Err(e) => format!("{e:#}"),
        }
    }

    fn restore_plan(&self, vm: &VmRow, snapshot: &SnapshotRow, delete_old: bool) -> Vec<String> {
        let home = self
            .vm_dir(&vm.name)
            .map(|d| d.join("home").display().to_string())
            .unwrap_or_default();
        vec![
            format!("copy snapshot {}'s home beside {home}", snapshot.name),
            format!("stop {}'s agent", vm.name),
            if delete_old {
                format!("replace {home} with the copy and delete the home it had")
            } else {
                format!("replace {home} with the copy, keeping the home it had beside it")
            },
            format!(
                "start {}'s agent again with its key and certificate as they are now (no new \
                 enrollment)",
                vm.name
            ),
        ]
    }

    fn restore<'a>(
        &'a self,
        vm: &'a VmRow,
        snapshot: &'a SnapshotRow,
        delete_old: bool,
        _azure: &'a AzureContext,
        stage: Stage<'a>,
    ) -> Work<'a, Result<Started>> {
        Box::pin(self.restore_copy(vm, snapshot, delete_old, stage))
    }

    fn clone_source<'a>(
        &'a self,
        src: &'a VmRow,
        secrets: &'a HomeSecrets,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<String>> {
        Box::pin(self.copy_for_clones(src, secrets))
    }

    fn drop_clone_source<'a>(&'a self, source: &'a str, _azure: &'a AzureContext) -> Work<'a, ()> {
        Box::pin(async move {
            let Ok(source) = serde_json::from_str::<LocalCloneSource>(source) else {
                return;
            };
            // Only ever a folder under the clones folder.
            if source.dir.starts_with(self.home.root().join("clones"))
                && let Err(e) = remove_tree(&source.dir)
            {
                tracing::warn!("cannot remove a clone source: {e:#}");
            }
        })
    }

    fn delete<'a>(
        &'a self,
        snapshot: &'a SnapshotRow,
        _azure: &'a AzureContext,
    ) -> Work<'a, Result<()>> {
        Box::pin(async move {
            let dir = data_of(snapshot)?.dir;
            // Only ever a folder under the snapshots folder.
            let expected = self.home.local_snapshot_dir(&snapshot.name)?;
            if dir != expected {
                bail!(
                    "snapshot {}'s record points at {}, not {}: not deleting it",
                    snapshot.name,
                    dir.display(),
                    expected.display()
                );
            }
            remove_tree(&dir)
        })
    }
}
