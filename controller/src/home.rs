//! Where the controller keeps its files: `~/.azlin/`, or `$AZLIN_HOME`.
//! The folder is private to the user (0700); everything below it is found
//! through this type, so no path is spelled twice.

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

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.toml")
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
}
