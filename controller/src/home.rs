//! Where the controller keeps its files: `~/.azlin/`, or `$AZLIN_HOME`.
//! The folder is private to the user (0700); everything below it is found
//! through this type, so no path is spelled twice. Like ssh's StrictModes,
//! a home, `pki/` or `state.db` that another user owns, or that others
//! may write, is refused (never repaired behind the user's back): whoever
//! can write there can replace the fleet's CA or enrol agents.

use std::{
    fs,
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};

#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `$AZLIN_HOME`, else `$HOME/.azlin`.
    pub fn from_env() -> Result<Self> {
        let root = match std::env::var_os("AZLIN_HOME") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => {
                let home = std::env::var_os("HOME")
                    .context("neither AZLIN_HOME nor HOME is set; set AZLIN_HOME")?;
                PathBuf::from(home).join(".azlin")
            }
        };
        Ok(Self { root })
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Create the folder tree with private permissions.
    pub fn ensure(&self) -> Result<()> {
        self.check_owned()?;
        for dir in [
            self.root.clone(),
            self.pki_dir(),
            self.logs_dir(),
            self.local_dir(),
        ] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mode = fs::metadata(&self.root)?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot make {} private", self.root.display()))?;
        }
        Ok(())
    }

    /// Refuse a home, `pki/` or `state.db` owned by another user or
    /// writable by group or others, naming the path and the fix.
    pub fn check_owned(&self) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let me = nix::unistd::geteuid().as_raw();
        for path in [self.root.clone(), self.pki_dir(), self.state_db()] {
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            };
            if meta.file_type().is_symlink() {
                bail!(
                    "{} is a symbolic link; azlin keeps its keys only in a real folder or file \
                     of yours: replace it, or set AZLIN_HOME to a folder you own",
                    path.display()
                );
            }
            if meta.uid() != me {
                bail!(
                    "{} belongs to uid {}, not to you (uid {me}); whoever owns it can replace \
                     the fleet's keys. Use a home of your own (set AZLIN_HOME), or `chown` it",
                    path.display(),
                    meta.uid()
                );
            }
            if meta.mode() & 0o022 != 0 {
                bail!(
                    "{} may be written by others (mode {:o}); whoever can write there can \
                     replace the fleet's keys. Run `chmod go-w {}` and check what is in it",
                    path.display(),
                    meta.mode() & 0o7777,
                    path.display()
                );
            }
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    /// The named Azure contexts (`crate::contexts`).
    pub fn contexts_file(&self) -> PathBuf {
        self.root.join("contexts.toml")
    }
    /// What `azlin sync` copies to every VM's home (dotfiles).
    pub fn sync_home(&self) -> PathBuf {
        self.root.join("home")
    }

    pub fn alerts_file(&self) -> PathBuf {
        self.root.join("alerts.toml")
    }

    pub fn state_db(&self) -> PathBuf {
        self.root.join("state.db")
    }
    pub fn pki_dir(&self) -> PathBuf {
        self.root.join("pki")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn daemon_log(&self) -> PathBuf {
        self.logs_dir().join("daemon.log")
    }
    pub fn socket(&self) -> PathBuf {
        self.root.join("daemon.sock")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("daemon.lock")
    }
    pub fn local_dir(&self) -> PathBuf {
        self.root.join("local")
    }

    /// The docker provider's folder for one VM (its cloud-init seed).
    pub fn docker_vm_dir(&self, vm: &str) -> Result<PathBuf> {
        if azlin_protocol::pki::check_vm_name(vm).is_err() {
            bail!("invalid VM name {vm:?}");
        }
        Ok(self.root.join("docker").join(vm))
    }

    /// The local provider's folder for one VM. The name is checked, so it
    /// can never point outside `local/`.
    pub fn local_vm_dir(&self, vm: &str) -> Result<PathBuf> {
        if azlin_protocol::pki::check_vm_name(vm).is_err() {
            bail!("invalid VM name {vm:?}");
        }
        Ok(self.local_dir().join(vm))
    }

    /// Where the local provider keeps snapshot `name` (a copy of a VM's
    /// folder). The name is checked, so it can never point elsewhere.
    pub fn local_snapshot_dir(&self, name: &str) -> Result<PathBuf> {
        if azlin_protocol::pki::check_vm_name(name).is_err() {
            bail!("invalid snapshot name {name:?}");
        }
        Ok(self.root.join("snapshots").join("local").join(name))
    }
}

#[cfg(test)]
mod strict_mode_tests {
    use super::*;

    #[test]
    fn a_home_others_may_write_is_refused_and_a_readable_one_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("h"));
        home.ensure().unwrap();
        let pki = home.pki_dir();
        fs::set_permissions(&pki, fs::Permissions::from_mode(0o777)).unwrap();
        let e = format!("{:#}", home.ensure().unwrap_err());
        assert!(e.contains(&pki.display().to_string()), "{e}");
        assert!(e.contains("chmod go-w"), "{e}");
        fs::set_permissions(&pki, fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(home.state_db(), b"").unwrap();
        fs::set_permissions(home.state_db(), fs::Permissions::from_mode(0o666)).unwrap();
        assert!(format!("{:#}", home.ensure().unwrap_err()).contains("state.db"));
        fs::set_permissions(home.state_db(), fs::Permissions::from_mode(0o600)).unwrap();
        // Readable by others but not writable: made private, not refused.
        fs::set_permissions(home.root(), fs::Permissions::from_mode(0o755)).unwrap();
        home.ensure().unwrap();
        let mode = fs::metadata(home.root()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Another user's: refused (only root can make one to try).
        if nix::unistd::geteuid().is_root() {
            let other = Some(nix::unistd::Uid::from_raw(54321));
            nix::unistd::chown(&pki, other, None).unwrap();
            let e = format!("{:#}", home.ensure().unwrap_err());
            assert!(e.contains("belongs to uid 54321"), "{e}");
            nix::unistd::chown(&pki, Some(nix::unistd::geteuid()), None).unwrap();
        }
        // A symlinked pki is refused.
        fs::remove_dir(&pki).unwrap();
        std::os::unix::fs::symlink(dir.path(), &pki).unwrap();
        assert!(format!("{:#}", home.ensure().unwrap_err()).contains("symbolic link"));
    }
}
