//! azlin's own SSH key pair (`~/.azlin/ssh/id_ed25519`), made with
//! ssh-keygen on first use. `azlin ssh-config` authorizes it on each VM; the
//! cloud-init of a new VM puts it in the VM user's authorized_keys.

use std::{path::PathBuf, process::Command};

use anyhow::{Context, Result, bail};

use crate::home::Home;

/// Where azlin keeps its SSH files.
pub fn dir(home: &Home) -> PathBuf {
    home.root().join("ssh")
}

/// azlin's key pair, made with ssh-keygen on first use; returns the
/// public key line.
pub fn ensure(home: &Home) -> Result<String> {
    let dir = dir(home);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key = dir.join("id_ed25519");
    let public = dir.join("id_ed25519.pub");
    if !key.exists() {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "controller".into());
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C"])
            .arg(format!("azlin@{host}"))
            .arg("-f")
            .arg(&key)
            .status()
            .context("cannot run ssh-keygen; install the OpenSSH client")?;
        if !status.success() {
            bail!("ssh-keygen failed ({status}) making {}", key.display());
        }
    }
    let line = std::fs::read_to_string(&public)
        .with_context(|| format!("cannot read {}", public.display()))?;
    let line = line.trim().to_string();
    let safe = line
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" +/=@.-_".contains(&b));
    if !safe || !line.starts_with("ssh-ed25519 ") {
        bail!(
            "{} is not an ed25519 public key; move it aside",
            public.display()
        );
    }
    Ok(line)
}
