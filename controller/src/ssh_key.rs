//! azlin's own SSH key pair (`~/.azlin/ssh/id_ed25519`), made with
//! ssh-keygen on first use. `azlin ssh-config` authorizes it on each VM; the
//! cloud-init of a new VM puts it in the VM user's authorized_keys.
//!
//! `azlin keys rotate` makes the next pair beside it ([`make_next`]),
//! then puts it in place, the old pair kept in `ssh/backups/` (0600,
//! [`promote`]); a VM whose login with the new key could not be proven
//! keeps its old key, recorded in `ssh/old-keys.toml` ([`OldKeys`]) so
//! `ssh-config` goes on using that key for it.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::home::Home;

/// Where azlin keeps its SSH files.
pub fn dir(home: &Home) -> PathBuf {
    home.root().join("ssh")
}

/// The current private key.
pub fn current(home: &Home) -> PathBuf {
    dir(home).join("id_ed25519")
}

/// Where [`make_next`] makes the next pair.
fn next(home: &Home) -> PathBuf {
    dir(home).join("id_ed25519-next")
}

/// The folder old pairs are kept in.
pub fn backups_dir(home: &Home) -> PathBuf {
    dir(home).join("backups")
}

/// The public key line of the private key at `key` (its `.pub` beside
/// it), checked to be an ed25519 key of safe characters.
pub fn public_of(key: &Path) -> Result<String> {
    let public = key.with_extension("pub");
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

/// The key's SHA256 fingerprint, as ssh-keygen prints it.
pub fn fingerprint(key: &Path) -> Result<String> {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub"))
        .output()
        .context("cannot run ssh-keygen; install the OpenSSH client")?;
    if !out.status.success() {
        bail!("ssh-keygen cannot read {}", key.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string())
}

fn remove_if_there(f: &Path) -> Result<()> {
    match std::fs::remove_file(f) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", f.display()))
        }
        _ => Ok(()),
    }
}

/// Make the next pair (replacing one a failed rotation left); returns its
/// path and public key line.
pub fn make_next(home: &Home) -> Result<(PathBuf, String)> {
    let dir = dir(home);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let next = next(home);
    discard_next(home)?;
    make(&dir, &next, &next.with_extension("pub"))?;
    let public = public_of(&next)?;
    Ok((next, public))
}

/// Remove the next pair (a rotation that proved it nowhere).
pub fn discard_next(home: &Home) -> Result<()> {
    let next = next(home);
    remove_if_there(&next)?;
    remove_if_there(&next.with_extension("pub"))
}

/// Put the next pair in place of the current one, which is kept in
/// [`backups_dir`] under the time (`id_ed25519-YYYYMMDDTHHMMSSZ`, 0600):
/// returns that backup's path. Files are renamed, never copied, so a key
/// is never half-written anywhere.
pub fn promote(home: &Home) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let key = current(home);
    let next = next(home);
    let backups = backups_dir(home);
    std::fs::create_dir_all(&backups)
        .with_context(|| format!("cannot create {}", backups.display()))?;
    std::fs::set_permissions(&backups, std::fs::Permissions::from_mode(0o700))?;
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let mut backup = backups.join(format!("id_ed25519-{stamp}"));
    let mut n = 1;
    while backup.exists() {
        backup = backups.join(format!("id_ed25519-{stamp}-{n}"));
        n += 1;
    }
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to)
            .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))
    };
    rename(&key, &backup)?;
    std::fs::set_permissions(&backup, std::fs::Permissions::from_mode(0o600))?;
    rename(&key.with_extension("pub"), &backup.with_extension("pub"))?;
    rename(&next, &key)?;
    rename(&next.with_extension("pub"), &key.with_extension("pub"))?;
    Ok(backup)
}

/// The kept old pairs' private keys, newest first.
pub fn backups(home: &Home) -> Result<Vec<PathBuf>> {
    let dir = backups_dir(home);
    let mut out: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_none())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    out.sort();
    out.reverse();
    Ok(out)
}

/// VMs still on an old key after a rotation that could not prove the new
/// one there: VM name → that old private key.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct OldKeys {
    #[serde(default)]
    pub vms: std::collections::BTreeMap<String, PathBuf>,
}

impl OldKeys {
    fn path(home: &Home) -> PathBuf {
        dir(home).join("old-keys.toml")
    }

    pub fn load(home: &Home) -> Result<Self> {
        let path = Self::path(home);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| {
                format!(
                    "{} is not what azlin wrote; fix or remove it",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn save(&self, home: &Home) -> Result<()> {
        let path = Self::path(home);
        let text = format!(
            "# VMs still on an old key after `azlin keys rotate`; written by azlin\n{}",
            toml::to_string(self)?
        );
        azlin_protocol::secret_file::write_atomic(&path, text.as_bytes(), 0o600)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The private key `vm` accepts: its old one, else the current one.
    pub fn key_for(&self, home: &Home, vm: &str) -> PathBuf {
        self.vms.get(vm).cloned().unwrap_or_else(|| current(home))
    }
}

/// azlin's key pair, made with ssh-keygen on first use; returns the
/// public key line.
pub fn ensure(home: &Home) -> Result<String> {
    let dir = dir(home);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key = dir.join("id_ed25519");
    if !key.exists() {
        // New VMs of a pool ask at once: one makes the key, the others
        // wait for it.
        static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = MAKING.lock().unwrap_or_else(|p| p.into_inner());
        if !key.exists() {
            make(&dir, &key, &key.with_extension("pub"))?;
        }
    }
    public_of(&key)
}

/// Make the pair in a scratch folder and link it into place, so a half-made
/// key is never seen under the real name and a key made meanwhile by
/// another process wins.
fn make(dir: &Path, key: &Path, public: &Path) -> Result<()> {
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
