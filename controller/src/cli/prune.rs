//! `azlin prune [--idle-days N] [--dry-run] [--yes]`: the fleet's VMs the
//! history shows unused for N days (stopped, or idle), each with why, and
//! the VMs left out with why; then, asked on the terminal or with --yes,
//! deleting them as `kill` does, every failure said.

use anyhow::{Result, bail};

use super::{args::PruneArgs, ask_in, render, terminal_text::shown};
use crate::{
    home::Home,
    ipc::prune::{PruneCandidates, PruneDelete, PruneFind},
};

pub fn run(home: &Home, args: PruneArgs) -> Result<()> {
    let idle_days = args.idle_days;
    let found = ask_in(home, PruneFind { idle_days }, args.scope.clone())?;
    if args.json && args.dry_run {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
    let table = table(&found, idle_days);
    if found.candidates.is_empty() || args.dry_run {
        println!("{table}");
        if !found.candidates.is_empty() {
            println!("dry run: nothing deleted");
        }
        return Ok(());
    }
    if !args.yes {
        super::confirm_on_terminal(
            &table,
            &format!(
                "Delete these {} VMs and everything azlin made for them?",
                found.candidates.len()
            ),
        )?;
    } else if !args.json {
        println!("{table}");
    }
    let vms = found.candidates.iter().map(|c| c.vm.clone()).collect();
    let outcomes = ask_in(home, PruneDelete { vms, idle_days }, args.scope)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        for o in &outcomes {
            match &o.failure {
                None => println!("deleted {}", shown(&o.vm)),
                Some(why) => eprintln!("NOT deleted {}: {}", shown(&o.vm), shown(why)),
            }
        }
    }
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    if failed > 0 {
        bail!("{failed} of {} not deleted (said above)", outcomes.len());
    }
    Ok(())
}

fn table(found: &PruneCandidates, idle_days: u32) -> String {
    let mut out = String::new();
    if found.candidates.is_empty() {
        out.push_str(&format!("no VM unused for {idle_days} days\n"));
    } else {
        out.push_str(&format!("unused for {idle_days} days or more:\n"));
        let rows: Vec<[String; 3]> = found
            .candidates
            .iter()
            .map(|c| {
                [
                    shown(&c.vm).into_owned(),
                    c.provider.clone(),
                    shown(&c.why).into_owned(),
                ]
            })
            .collect();
        out.push_str(&render::aligned(
            &["VM", "PROVIDER", "WHY"].map(String::from),
            &rows,
        ));
    }
    if !found.passed.is_empty() {
        out.push_str("left alone:\n");
        for (vm, why) in &found.passed {
            out.push_str(&format!("  {}: {}\n", shown(vm), shown(why)));
        }
    }
    out.trim_end().to_string()
}
