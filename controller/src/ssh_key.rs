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
        // New VMs of a pool ask at once: one makes the key, the others
        // wait for it.
        static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = MAKING.lock().unwrap_or_else(|p| p.into_inner());
        if !key.exists() {
            make(&dir, &key, &public)?;
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

/// Make the pair in a scratch folder and link it into place, so a half-made
/// key is never seen under the real name and a key made meanwhile by
/// another process wins.
fn make(dir: &std::path::Path, key: &std::path::Path, public: &std::path::Path) -> Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix(".keygen-")
        .tempdir_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let made = scratch.path().join("id_ed25519");
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "controller".into());
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C"])
        .arg(format!("azlin@{host}"))
        .arg("-f")
        .arg(&made)
        .stdin(std::process::Stdio::null())
        .status()
        .context("cannot run ssh-keygen; install the OpenSSH client")?;
    if !status.success() {
        bail!("ssh-keygen failed ({status}) making {}", key.display());
    }
    match std::fs::hard_link(&made, key) {
        Ok(()) => std::fs::rename(made.with_extension("pub"), public)
            .with_context(|| format!("cannot write {}", public.display())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot write {}", key.display())),
    }
}
