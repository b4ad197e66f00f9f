//! SSH when wanted: `azlin ssh-config` and `azlin connect --ssh`.
//!
//! OpenSSH does the connecting, with azlin's own key and a known_hosts file
//! azlin writes from the host keys each VM's agent reports over its
//! mutually authenticated connection. So `StrictHostKeyChecking yes` holds
//! from the very first connection: no trust on first use, no
//! `accept-new`, no `/dev/null` known_hosts. Keys are pinned under the VM's
//! name (`HostKeyAlias`), not its address, so a recycled cloud IP never
//! inherits another VM's key.
//!
//! azlin's public key is authorized for each VM's user through the agent
//! (an audited command run as that user), so this works the same on every
//! provider.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};
use azlin_protocol::{exec::ExecEvent, secret_file::write_atomic};

use crate::{
    home::Home,
    ipc::{ExecSpec, Reply, Request, SshTarget, client::Client, ssh::SshTargets},
    selector::Selector,
};

fn ssh_dir(home: &Home) -> PathBuf {
    crate::ssh_key::dir(home)
}

pub fn config_path(home: &Home) -> PathBuf {
    ssh_dir(home).join("config")
}

/// `azlin ssh-config`: pin, authorize and write; prints what it wrote.
pub fn write_config(home: &Home, selector: Selector) -> Result<()> {
    let written = refresh(home, selector)?;
    println!(
        "wrote {} ({} VM(s)) and {}",
        config_path(home).display(),
        written,
        ssh_dir(home).join("known_hosts").display()
    );
    println!(
        "use it with `ssh -F {0} VM`, or add `Include {0}` at the top of ~/.ssh/config \
         (VS Code Remote-SSH reads that)",
        config_path(home).display()
    );
    Ok(())
}

/// `azlin connect --ssh VM`: refresh that VM's pins, then hand over to ssh
/// running tmux, as `ssh -t VM tmux new-session -A -s NAME` would.
pub fn connect(
    home: &Home,
    config: &crate::config::Config,
    vm: &str,
    tmux: Option<String>,
) -> Result<u8> {
    use std::os::unix::process::CommandExt;
    let session = match tmux {
        Some(t) => t,
        None => config.connect.tmux_session.clone(),
    };
    azlin_protocol::terminal::check_session_name(&session)?;
    let selector = Selector {
        names: vec![vm.to_string()],
        ..Selector::default()
    };
    refresh(home, selector)?;
    let err = Command::new("ssh")
        .arg("-F")
        .arg(config_path(home))
        .args(["-t", vm, "tmux", "new-session", "-A", "-s", &session])
        .exec();
    bail!("cannot run ssh ({err}); install the OpenSSH client")
}

/// Ask the daemon for the VMs' SSH details, authorize azlin's key on
/// them, and rewrite the config and known_hosts. Returns how many VMs are
/// in the config; VMs that could not be reached are reported and left out.
fn refresh(home: &Home, selector: Selector) -> Result<usize> {
    let public = crate::ssh_key::ensure(home)?;
    let targets = Client::connect_or_start(home)?.call(SshTargets { selector }, |vm, m| {
        eprintln!("{vm}: {m}");
    })?;
    let (mut good, bad): (Vec<SshTarget>, Vec<SshTarget>) =
        targets.into_iter().partition(|t| t.result.is_ok());
    for t in &bad {
        if let Err(e) = &t.result {
            eprintln!("azlin: {}: left out: {e}", t.vm);
        }
    }
    let refused = authorize(home, &good, &public)?;
    for (vm, why) in &refused {
        eprintln!("azlin: {vm}: left out: cannot authorize azlin's key: {why}");
    }
    good.retain(|t| !refused.iter().any(|(vm, _)| vm == &t.vm));
    if good.is_empty() {
        bail!("no VM could be set up for ssh");
    }
    write_files(home, &good)?;
    Ok(good.len())
}

/// Write the known_hosts and config for `targets` (each with the key it
/// accepts: its old one after a rotation that could not prove the new
/// one there, else the current one).
pub(super) fn write_files(home: &Home, targets: &[SshTarget]) -> Result<()> {
    let dir = ssh_dir(home);
    let known_hosts = dir.join("known_hosts");
    write_atomic(&known_hosts, known_hosts_text(targets).as_bytes(), 0o600)
        .with_context(|| format!("cannot write {}", known_hosts.display()))?;
    let old = crate::ssh_key::OldKeys::load(home)?;
    let text = config_text(targets, &|vm| old.key_for(home, vm), &known_hosts);
    write_atomic(&config_path(home), text.as_bytes(), 0o600)
        .with_context(|| format!("cannot write {}", config_path(home).display()))
}

/// Log in to `target` with `key` alone, its host keys pinned, and run
/// `true`: the proof that sshd there takes the key.
pub(super) fn check_login(home: &Home, target: &SshTarget, key: &Path) -> Result<(), String> {
    let scratch = tempfile::Builder::new()
        .prefix(".login-check-")
        .tempdir_in(ssh_dir(home))
        .map_err(|e| format!("cannot make a scratch folder: {e}"))?;
    let known_hosts = scratch.path().join("known_hosts");
    let config = scratch.path().join("config");
    let one = std::slice::from_ref(target);
    std::fs::write(&known_hosts, known_hosts_text(one))
        .and_then(|()| {
            std::fs::write(
                &config,
                config_text(one, &|_| key.to_path_buf(), &known_hosts),
            )
        })
        .map_err(|e| format!("cannot write the check's ssh config: {e}"))?;
    let out = Command::new("ssh")
        .arg("-F")
        .arg(&config)
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=15",
            &target.vm,
            "true",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ssh ({e}); install the OpenSSH client"))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let said = said.trim();
    Err(format!(
        "the login with the new key failed ({}){}",
        out.status,
        if said.is_empty() {
            String::new()
        } else {
            format!(": {}", said.chars().take(300).collect::<String>())
        }
    ))
}

/// Add `public` to each VM user's authorized_keys (once) with a command
/// run through the agents; returns the VMs where that failed, and why.
pub(super) fn authorize(
    home: &Home,
    targets: &[SshTarget],
    public: &str,
) -> Result<Vec<(String, String)>> {
    // `public` holds only base64, spaces and name characters (checked), so
    // single quotes carry it intact. The file is in the home sshd uses, the
    // passwd one: a local VM's commands have a `~` of their own.
    let command = format!(
        "umask 077 && h=\"$(getent passwd \"$(id -u)\" | cut -d: -f6)\" && [ -d \"$h\" ] && \
         mkdir -p \"$h/.ssh\" && touch \"$h/.ssh/authorized_keys\" && \
         (grep -qxF '{public}' \"$h/.ssh/authorized_keys\" || \
          echo '{public}' >> \"$h/.ssh/authorized_keys\")"
    );
    run_on(home, targets, command)
}

/// Take `public` out of each VM user's authorized_keys (every other line
/// kept, the file replaced in one rename); returns the VMs where that
/// failed, and why.
pub(super) fn deauthorize(
    home: &Home,
    targets: &[SshTarget],
    public: &str,
) -> Result<Vec<(String, String)>> {
    // As in `authorize`, `public` is checked to need no quoting.
    let command = format!(
        "umask 077 && h=\"$(getent passwd \"$(id -u)\" | cut -d: -f6)\" && \
         f=\"$h/.ssh/authorized_keys\" && [ -f \"$f\" ] && \
         {{ grep -vxF '{public}' \"$f\" > \"$f.azlin-new\"; [ $? -le 1 ]; }} && \
         mv \"$f.azlin-new\" \"$f\""
    );
    run_on(home, targets, command)
}

/// Run `command` on each target's VM through its agent; the VMs where it
/// did not exit 0, and why.
fn run_on(home: &Home, targets: &[SshTarget], command: String) -> Result<Vec<(String, String)>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let spec = ExecSpec {
        selector: Selector {
            names: targets.iter().map(|t| t.vm.clone()).collect(),
            ..Selector::default()
        },
        command,
        timeout_secs: Some(30),
        stdin: false,
    };
    let mut talk = Client::connect_or_start(home)?.converse(Request::Exec(spec))?;
    let mut plan: Vec<crate::ipc::VmName> = Vec::new();
    let mut refused = Vec::new();
    loop {
        match talk.next_reply()? {
            Reply::ExecPlan { vms } => plan = vms,
            Reply::Exec { vm, event } => {
                let name = plan
                    .get(vm as usize)
                    .map(|p| p.vm.clone())
                    .unwrap_or_default();
                match event {
                    ExecEvent::Finished(s) if s.outcome.exit_code() == 0 => {}
                    ExecEvent::Finished(s) => refused.push((name, s.outcome.describe())),
                    ExecEvent::Failed { reason } => refused.push((name, reason)),
                    _ => {}
                }
            }
            Reply::ExecDone => return Ok(refused),
            Reply::Err { message, .. } => bail!("{message}"),
            _ => {}
        }
    }
}

fn known_hosts_text(targets: &[SshTarget]) -> String {
    let mut out =
        String::from("# written by `azlin ssh-config` from each VM's agent; rewritten each run\n");
    for t in targets {
        if let Ok(e) = &t.result {
            for key in &e.host_keys {
                let _ = writeln!(out, "{} {key}", alias(&t.vm));
            }
        }
    }
    out
}

/// The name keys are pinned under.
fn alias(vm: &str) -> String {
    format!("azlin-{vm}")
}

fn config_text(
    targets: &[SshTarget],
    key_for: &dyn Fn(&str) -> PathBuf,
    known_hosts: &Path,
) -> String {
    let mut out = String::from("# written by `azlin ssh-config`; rewritten each run\n");
    for t in targets {
        let Ok(e) = &t.result else { continue };
        let names = match &t.session_name {
            Some(s) => format!("{} {s}", t.vm),
            None => t.vm.clone(),
        };
        let _ = write!(
            out,
            "\nHost {names}\n    HostName {}\n    Port {}\n    User {}\n    IdentityFile {}\n    \
             IdentitiesOnly yes\n    UserKnownHostsFile {}\n    HostKeyAlias {}\n    \
             StrictHostKeyChecking yes\n    CheckHostIP no\n",
            e.host,
            e.port,
            e.user,
            key_for(&t.vm).display(),
            known_hosts.display(),
            alias(&t.vm),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::SshEndpoint;

    #[test]
    fn config_pins_keys_under_the_vm_name() {
        let t = SshTarget {
            vm: "dev-1".into(),
            session_name: Some("main".into()),
            result: Ok(SshEndpoint {
                host: "10.0.0.4".into(),
                port: 2222,
                user: "azureuser".into(),
                host_keys: vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkq".into()],
            }),
        };
        let kh = known_hosts_text(std::slice::from_ref(&t));
        assert!(
            kh.contains("\nazlin-dev-1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkq\n"),
            "{kh}"
        );
        let c = config_text(
            &[t],
            &|_| PathBuf::from("/h/ssh/id_ed25519"),
            Path::new("/h/ssh/known_hosts"),
        );
        for want in [
            "Host dev-1 main\n",
            "HostName 10.0.0.4\n",
            "Port 2222\n",
            "User azureuser\n",
            "StrictHostKeyChecking yes\n",
            "HostKeyAlias azlin-dev-1\n",
            "UserKnownHostsFile /h/ssh/known_hosts\n",
        ] {
            assert!(c.contains(want), "{want:?} missing from\n{c}");
        }
    }
}
