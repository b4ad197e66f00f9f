//! `azlin keys`: azlin's SSH key pair.
//!
//! - `rotate [SELECTORS]`: a new ed25519 pair, authorized on each chosen
//!   VM through its agent (no SSH), proven there by a real ssh login with
//!   it alone (host keys pinned from the agent), and only then the VM's
//!   old key removed. A VM where the proof fails keeps its old key (the
//!   new one is taken off it again) and is reported; `ssh-config` and
//!   `connect --ssh` go on using the old key for it, and the new one for
//!   the rest at once. The old private key is kept in
//!   `~/.azlin/ssh/backups/` (0600). Refused, with the reason, on VMs
//!   without an sshd of their own (local VMs).
//! - `list`: the current key and the kept ones, with fingerprints and the
//!   VMs still on each.
//! - `backup --to DIR`: a copy of the current pair (0600).
//! - `export`: the current public key.

use std::{io::Write, path::Path};

use anyhow::{Context, Result, bail};

use super::{ask, exec::SelectArgs, ssh, terminal_text::shown};
use crate::{
    home::Home,
    ipc::{SshTarget, keys::KeysRotatePlan, ssh::SshTargets, vms::List},
    selector::Selector,
    ssh_key::{self, OldKeys},
};

#[derive(clap::Subcommand, Debug)]
pub enum KeysAction {
    /// A new key on the chosen VMs (default: all running), each proven by
    /// an ssh login before its old key is removed.
    Rotate {
        #[command(flatten)]
        select: SelectArgs,
    },
    /// The current key and the kept old ones, with fingerprints.
    List,
    /// Copy the current key pair into DIR (private key 0600).
    Backup {
        #[arg(long, value_name = "DIR")]
        to: std::path::PathBuf,
    },
    /// Print the current public key.
    Export,
}

pub fn run(home: &Home, action: KeysAction) -> Result<()> {
    match action {
        KeysAction::Rotate { select } => rotate(home, select.selector(true)?),
        KeysAction::List => list(home),
        KeysAction::Backup { to } => backup(home, &to),
        KeysAction::Export => {
            println!("{}", ssh_key::ensure(home)?);
            Ok(())
        }
    }
}

fn rotate(home: &Home, selector: Selector) -> Result<()> {
    ssh_key::ensure(home)?;
    let plan = ask(home, KeysRotatePlan { selector })?;
    let (good, left_out): (Vec<SshTarget>, Vec<SshTarget>) =
        plan.into_iter().partition(|t| t.result.is_ok());
    let mut kept_old: Vec<(String, String)> = left_out
        .iter()
        .map(|t| (t.vm.clone(), t.result.clone().err().unwrap_or_default()))
        .collect();
    if good.is_empty() {
        for (vm, why) in &kept_old {
            eprintln!("azlin: {}: left out: {}", shown(vm), shown(why));
        }
        bail!("no VM to rotate the key on; nothing changed");
    }
    let (next, next_public) = ssh_key::make_next(home)?;
    let refused = ssh::authorize(home, &good, &next_public)?;
    let mut proven = Vec::new();
    let mut unproven = Vec::new();
    for t in good {
        if let Some((_, why)) = refused.iter().find(|(vm, _)| vm == &t.vm) {
            kept_old.push((t.vm.clone(), format!("cannot authorize the new key: {why}")));
            continue;
        }
        match ssh::check_login(home, &t, &next) {
            Ok(()) => proven.push(t),
            Err(why) => {
                kept_old.push((t.vm.clone(), why));
                unproven.push(t);
            }
        }
    }
    // Where the new key was not proven, it goes again: the VM is as it was.
    for (vm, why) in ssh::deauthorize(home, &unproven, &next_public)? {
        eprintln!(
            "azlin: {}: the new key is still authorized there (cannot take it off: {})",
            shown(&vm),
            shown(&why)
        );
    }
    if proven.is_empty() {
        ssh_key::discard_next(home)?;
        report(&kept_old);
        bail!("the new key was proven on no VM; nothing changed (the current key stays)");
    }

    // Each proven VM's old key (the current one, or an older one a past
    // rotation left it on), read before the new pair takes its place.
    let mut old_keys = OldKeys::load(home)?;
    let mut by_old: Vec<(String, Vec<SshTarget>)> = Vec::new();
    for t in proven.iter().cloned() {
        let old = ssh_key::public_of(&old_keys.key_for(home, &t.vm))?;
        match by_old.iter_mut().find(|(k, _)| *k == old) {
            Some((_, ts)) => ts.push(t),
            None => by_old.push((old, vec![t])),
        }
    }
    let mut still_both = Vec::new();
    for (old, targets) in &by_old {
        for (vm, why) in ssh::deauthorize(home, targets, old)? {
            still_both.push((vm, why));
        }
    }
    let fleet: Vec<String> = ask(home, List { cloud: false })?
        .into_iter()
        .map(|v| v.name)
        .collect();
    let backup = ssh_key::promote(home)?;
    for vm in &fleet {
        if proven.iter().any(|t| &t.vm == vm) {
            old_keys.vms.remove(vm);
        } else {
            old_keys
                .vms
                .entry(vm.clone())
                .or_insert_with(|| backup.clone());
        }
    }
    old_keys.vms.retain(|vm, _| fleet.contains(vm));
    old_keys.save(home)?;

    // ssh-config and connect --ssh take the new key at once.
    let targets = ask(
        home,
        SshTargets {
            selector: Selector {
                all: true,
                ..Selector::default()
            },
        },
    )?;
    let reachable: Vec<SshTarget> = targets.into_iter().filter(|t| t.result.is_ok()).collect();
    ssh::write_files(home, &reachable)?;

    let names: Vec<String> = proven.iter().map(|t| shown(&t.vm).into_owned()).collect();
    println!(
        "new key {} on {} VM(s): {}",
        ssh_key::fingerprint(&ssh_key::current(home))?,
        proven.len(),
        names.join(", ")
    );
    println!("the old private key is kept at {} (0600)", backup.display());
    for (vm, why) in &still_both {
        eprintln!(
            "azlin: {}: the old key could not be taken off ({}); remove it from \
             ~/.ssh/authorized_keys there",
            shown(vm),
            shown(why)
        );
    }
    if !kept_old.is_empty() {
        report(&kept_old);
        bail!(
            "{} VM(s) kept the old key (said above); `azlin keys rotate` again once they can be \
             reached",
            kept_old.len()
        );
    }
    Ok(())
}

fn report(kept_old: &[(String, String)]) {
    for (vm, why) in kept_old {
        eprintln!("azlin: {}: keeps its old key: {}", shown(vm), shown(why));
    }
}

fn list(home: &Home) -> Result<()> {
    let current = ssh_key::current(home);
    if !current.exists() {
        println!("no key yet: azlin makes one with the first VM or `azlin ssh-config`");
        return Ok(());
    }
    let old_keys = OldKeys::load(home)?;
    println!(
        "current  {}  {}",
        ssh_key::fingerprint(&current)?,
        current.display()
    );
    for b in ssh_key::backups(home)? {
        let on: Vec<&str> = old_keys
            .vms
            .iter()
            .filter(|(_, k)| **k == b)
            .map(|(vm, _)| vm.as_str())
            .collect();
        println!(
            "old      {}  {}{}",
            ssh_key::fingerprint(&b).unwrap_or_else(|e| format!("({e:#})")),
            b.display(),
            if on.is_empty() {
                String::new()
            } else {
                format!("  (still on: {})", on.join(", "))
            }
        );
    }
    Ok(())
}

fn backup(home: &Home, to: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    ssh_key::ensure(home)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(to)
        .with_context(|| format!("cannot create {}", to.display()))?;
    let key = ssh_key::current(home);
    for (from, mode) in [(key.clone(), 0o600), (key.with_extension("pub"), 0o644)] {
        let name = from.file_name().expect("a file name");
        let dest = to.join(name);
        let bytes =
            std::fs::read(&from).with_context(|| format!("cannot read {}", from.display()))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&dest)
            .with_context(|| {
                format!(
                    "cannot write {} (already there? azlin never overwrites a key)",
                    dest.display()
                )
            })?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        println!("wrote {}", dest.display());
    }
    Ok(())
}
