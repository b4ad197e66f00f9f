//! `azlin env`: the VM user's variables azlin manages, on one VM or the
//! chosen ones (`--vm`, `--all`, `--tag`, `--prefix`, globs):
//!
//! - `set VM KEY=VALUE…` (a word with `=` is a variable, one without a VM);
//! - `list VM [--show]`: values masked unless `--show`;
//! - `unset VM KEY…`, `clear VM`;
//! - `export VM FILE`: the variables as the VM keeps them (`sh` that
//!   `export`s each, 0600);
//! - `import VM FILE`: such a file, or `KEY=VALUE` lines (`#` comments,
//!   an optional `export `, one pair of surrounding quotes removed).
//!
//! The agent writes `~/.config/azlin/env` atomically; new shells,
//! `azlin exec` and `connect` see the variables.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use azlin_protocol::{env, secret_file::write_atomic};

use super::{ask, exec::SelectArgs, terminal_text::shown};
use crate::{
    home::Home,
    ipc::env::{EnvChange, EnvOutcome},
    selector::Selector,
};

#[derive(clap::Subcommand, Debug)]
pub enum EnvAction {
    /// Set variables: `azlin env set VM KEY=VALUE…` (or `--all`, `--tag`…).
    Set {
        #[command(flatten)]
        select: SelectArgs,
    },
    /// The variables, values masked unless --show.
    List {
        #[command(flatten)]
        select: SelectArgs,
        #[arg(long)]
        show: bool,
        #[arg(long)]
        json: bool,
    },
    /// Remove variables: `azlin env unset VM KEY…`.
    Unset {
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Write one VM's variables to FILE (0600), as `export KEY='value'`.
    Export { vm: String, file: PathBuf },
    /// Set the variables in FILE (as export writes them, or KEY=VALUE).
    Import { vm: String, file: PathBuf },
    /// Remove every managed variable.
    Clear {
        #[command(flatten)]
        select: SelectArgs,
    },
}

/// Split positional words: assignments (`KEY=VALUE`) from VM names.
fn assignments(select: &SelectArgs) -> (SelectArgs, Vec<(String, String)>) {
    let mut sel = select.clone();
    let mut vars = Vec::new();
    sel.targets.clear();
    for word in &select.targets {
        match word.split_once('=') {
            Some((k, v)) => vars.push((k.to_string(), v.to_string())),
            None => sel.targets.push(word.clone()),
        }
    }
    (sel, vars)
}

/// For `unset`: the first word is the VM unless a flag chose the VMs.
fn names(select: &SelectArgs) -> (SelectArgs, Vec<String>) {
    let mut sel = select.clone();
    let chosen_by_flags =
        sel.all || !sel.vms.is_empty() || !sel.tags.is_empty() || sel.prefix.is_some();
    let mut words = std::mem::take(&mut sel.targets);
    if !chosen_by_flags && !words.is_empty() {
        sel.targets.push(words.remove(0));
    }
    (sel, words)
}

fn one_vm(vm: &str) -> Selector {
    Selector {
        names: vec![vm.to_string()],
        ..Selector::default()
    }
}

fn chosen(select: &SelectArgs) -> Result<Selector> {
    let sel = select.selector(false)?;
    if sel == Selector::default() {
        bail!("name the VM (or --all, --tag KEY=VALUE, --vm NAME)");
    }
    Ok(sel)
}

pub fn run(home: &Home, action: EnvAction) -> Result<()> {
    let change = |selector: Selector, request: env::EnvRequest| -> Result<Vec<EnvOutcome>> {
        env::check(&request).map_err(|e| anyhow::anyhow!("{e}; nothing changed"))?;
        ask(home, EnvChange { selector, request })
    };
    match action {
        EnvAction::Set { select } => {
            let (sel, set) = assignments(&select);
            if set.is_empty() {
                bail!("give KEY=VALUE after the VM: azlin env set VM KEY=VALUE…");
            }
            let n = set.len();
            report(
                &change(
                    chosen(&sel)?,
                    env::EnvRequest {
                        set,
                        ..Default::default()
                    },
                )?,
                &format!("{n} variable(s) set"),
            )
        }
        EnvAction::Unset { select } => {
            let (sel, unset) = names(&select);
            if unset.is_empty() {
                bail!("name the variables after the VM: azlin env unset VM KEY…");
            }
            report(
                &change(
                    chosen(&sel)?,
                    env::EnvRequest {
                        unset,
                        ..Default::default()
                    },
                )?,
                "unset",
            )
        }
        EnvAction::Clear { select } => report(
            &change(
                chosen(&select)?,
                env::EnvRequest {
                    clear: true,
                    ..Default::default()
                },
            )?,
            "cleared",
        ),
        EnvAction::List { select, show, json } => {
            let outcomes = change(chosen(&select)?, env::EnvRequest::default())?;
            if json {
                let shown: Vec<serde_json::Value> = outcomes
                    .iter()
                    .map(|o| match &o.result {
                        Ok(vars) => serde_json::json!({
                            "vm": o.vm,
                            "vars": vars.iter().map(|(k, v)| serde_json::json!({
                                "name": k,
                                "value": if show { v.clone() } else { mask(v) },
                            })).collect::<Vec<_>>(),
                        }),
                        Err(e) => serde_json::json!({"vm": o.vm, "error": e}),
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&shown)?);
                return failures(&outcomes);
            }
            for o in &outcomes {
                if let Ok(vars) = &o.result {
                    if outcomes.len() > 1 {
                        println!("{}:", shown(&o.vm));
                    }
                    if vars.is_empty() {
                        println!("  (no variables)");
                    }
                    for (k, v) in vars {
                        let v = if show { v.clone() } else { mask(v) };
                        println!(
                            "{}{k}={}",
                            if outcomes.len() > 1 { "  " } else { "" },
                            shown(&v)
                        );
                    }
                }
            }
            failures(&outcomes)
        }
        EnvAction::Export { vm, file } => {
            let outcomes = change(one_vm(&vm), env::EnvRequest::default())?;
            failures(&outcomes)?;
            let vars = outcomes
                .into_iter()
                .next()
                .and_then(|o| o.result.ok())
                .unwrap_or_default();
            write_atomic(&file, env::render(&vars).as_bytes(), 0o600)
                .with_context(|| format!("cannot write {}", file.display()))?;
            println!(
                "wrote {} variable(s) of {} to {}",
                vars.len(),
                shown(&vm),
                file.display()
            );
            Ok(())
        }
        EnvAction::Import { vm, file } => {
            let set = read_file(&file)?;
            let n = set.len();
            report(
                &change(
                    one_vm(&vm),
                    env::EnvRequest {
                        set,
                        ..Default::default()
                    },
                )?,
                &format!("{n} variable(s) imported"),
            )
        }
    }
}

/// A value as `list` shows it without --show.
fn mask(value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        "********".into()
    }
}

fn report(outcomes: &[EnvOutcome], done: &str) -> Result<()> {
    for o in outcomes {
        if let Ok(vars) = &o.result {
            println!("{}: {done} ({} managed)", shown(&o.vm), vars.len());
        }
    }
    failures(outcomes)
}

fn failures(outcomes: &[EnvOutcome]) -> Result<()> {
    let failed: Vec<&EnvOutcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for o in &failed {
        if let Err(e) = &o.result {
            eprintln!("azlin: {}: {}", shown(&o.vm), shown(e));
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} VM(s) failed (said above)",
            failed.len(),
            outcomes.len()
        );
    }
    Ok(())
}

/// The variables in `path`: azlin's own format, else `KEY=VALUE` lines.
fn read_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if text.starts_with(env::HEADER) {
        return env::parse(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}; nothing changed", path.display()));
    }
    let mut vars = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            bail!(
                "{}:{}: not KEY=VALUE; nothing changed",
                path.display(),
                n + 1
            );
        };
        let v = ['"', '\'']
            .iter()
            .find_map(|q| v.strip_prefix(*q)?.strip_suffix(*q))
            .unwrap_or(v);
        env::check_name(k)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}; nothing changed", path.display(), n + 1))?;
        vars.push((k.to_string(), v.to_string()));
    }
    Ok(vars)
}
