//! `azlin health [SELECTORS] [--json]`: green, yellow or red per VM, each
//! finding on a line of its own; an unreachable VM says when it was last
//! heard from.

use anyhow::Result;

use super::{ask, exec::SelectArgs, terminal_text::shown};
use crate::{health::Grade, home::Home, ipc::health::Health};

pub fn run(home: &Home, select: SelectArgs, json: bool) -> Result<()> {
    let views = ask(
        home,
        Health {
            selector: select.selector(true)?,
        },
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&views)?);
        return Ok(());
    }
    if views.is_empty() {
        println!("no VMs");
    }
    let width = views
        .iter()
        .map(|v| v.vm.chars().count())
        .max()
        .unwrap_or(0);
    for v in &views {
        let grade = v.verdict.grade.as_str().to_uppercase();
        let first = match v.verdict.reasons.first() {
            None => "all checks passed".to_string(),
            Some((_, why)) => shown(why).into_owned(),
        };
        println!("{:<width$}  {grade:<6}  {first}", shown(&v.vm));
        for (g, why) in v.verdict.reasons.iter().skip(1) {
            let mark = if *g == Grade::Red { "red" } else { "yellow" };
            println!("{:<width$}  {:<6}  {} ({mark})", "", "", shown(why));
        }
    }
    Ok(())
}
