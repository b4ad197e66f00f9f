//! Shell completion: `azlin completions bash|zsh|fish|powershell` prints
//! the registration for that shell, and the shell then asks `azlin`
//! itself (`COMPLETE=SHELL azlin -- WORDS…`, clap_complete's dynamic
//! completion) for each TAB: subcommands and flags from the command
//! line's own shape, VM and session names from the running daemon,
//! context names from `contexts.toml`.
//!
//! A TAB never starts the daemon: with none running, names complete to
//! nothing, at once; a daemon that does not answer within
//! [`ASK_TIMEOUT`] is given up on.

use std::{ffi::OsStr, time::Duration};

use anyhow::Result;
use clap::{CommandFactory, ValueEnum};
use clap_complete::{
    CompleteEnv,
    engine::{ArgValueCompleter, CompletionCandidate},
    env::{Bash, EnvCompleter, Fish, Powershell, Zsh},
};

use super::args::Cli;
use crate::{home::Home, ipc::client::Client, ipc::vms::List};

/// Longest a TAB waits for the daemon.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The variable the shells' registrations set.
const VAR: &str = "COMPLETE";

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// The command line with VM-naming arguments completed from the daemon,
/// context-naming ones from `contexts.toml`.
fn command() -> clap::Command {
    fn walk(cmd: clap::Command, in_context: bool) -> clap::Command {
        let subs: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        let mut cmd = cmd.mut_args(|a| match a.get_id().as_str() {
            "vm" | "vms" | "targets" | "src" => a.add(ArgValueCompleter::new(vm_names)),
            "context" => a.add(ArgValueCompleter::new(context_names)),
            "name" | "from" if in_context => a.add(ArgValueCompleter::new(context_names)),
            _ => a,
        });
        for s in subs {
            // `context create NAME` and `migrate NAME` name a new one.
            let names_one = in_context || s == "context";
            let existing = !matches!(s.as_str(), "create" | "migrate");
            cmd = cmd.mut_subcommand(s, |c| walk(c, names_one && existing));
        }
        cmd
    }
    walk(Cli::command(), false)
}

/// The contexts' names starting with `current` (none if the file is
/// missing or broken: a TAB reports nothing).
fn context_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    let Ok(home) = Home::from_env() else {
        return Vec::new();
    };
    let Ok(contexts) = crate::contexts::Contexts::load(&home) else {
        return Vec::new();
    };
    contexts
        .contexts
        .keys()
        .filter(|n| n.starts_with(prefix))
        .map(|n| CompletionCandidate::new(n.clone()))
        .collect()
}

/// Answer the shell and exit, when it is the shell asking (`COMPLETE` set);
/// otherwise return at once.
pub fn answer_shell() {
    CompleteEnv::with_factory(command).var(VAR).complete();
}

/// `azlin completions SHELL`: the registration to source.
pub fn print(shell: Shell) -> Result<()> {
    // The shell completes what the user types (`azlin`) by asking this
    // very binary, wherever PATH points later.
    let completer = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(String::from))
        .unwrap_or_else(|| "azlin".into());
    let shell: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
        Shell::Powershell => &Powershell,
    };
    let mut out = std::io::stdout().lock();
    shell.write_registration(VAR, "azlin", "azlin", &completer, &mut out)?;
    Ok(())
}

/// The fleet's VM and session names starting with `current`, from the
/// daemon if one is running.
fn vm_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    let Ok(home) = Home::from_env() else {
        return Vec::new();
    };
    let Ok(Some(client)) = Client::connect(&home) else {
        return Vec::new();
    };
    let Ok(vms) = client
        .with_timeout(ASK_TIMEOUT)
        .call(List { cloud: false }, |_, _| {})
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in vms {
        for name in std::iter::once(v.name.clone()).chain(v.session_name.clone()) {
            let printable = name.chars().all(|c| !c.is_control() && !c.is_whitespace());
            if printable && name.starts_with(prefix) {
                out.push(CompletionCandidate::new(name));
            }
        }
    }
    out
}
