//! `azlin cleanup [--dry-run] [--yes] [--older-than DAYS]
//! [--include-untagged]`: the orphans in azlin's resource groups, each
//! with its age, why it is one and what it costs a month, and what was
//! left alone and why; then, asked on the terminal (naming the
//! subscription) or with --yes, deleting them, every failure said.

use anyhow::{Result, bail};

use super::{args::CleanupArgs, ask_in, figures, render, terminal_text::shown};
use crate::{
    home::Home,
    ipc::cleanup::{CleanupDelete, CleanupFind, CleanupRules, Orphans},
};

pub fn run(home: &Home, args: CleanupArgs) -> Result<()> {
    let rules = CleanupRules {
        older_than_days: args.older_than,
        include_untagged: args.include_untagged,
    };
    let found = ask_in(home, CleanupFind { rules }, args.scope.clone())?;
    if args.json && args.dry_run {
        println!("{}", serde_json::to_string_pretty(&json_of(&found))?);
        return Ok(());
    }
    let table = table(&found);
    if found.orphans.is_empty() {
        println!("{table}");
        return Ok(());
    }
    if args.dry_run {
        println!("{table}\ndry run: nothing deleted");
        return Ok(());
    }
    if !args.yes {
        super::confirm_on_terminal(
            &table,
            &format!(
                "Delete these {} resources in {}?",
                found.orphans.len(),
                shown(&found.place)
            ),
        )?;
    } else if !args.json {
        println!("{table}");
    }
    let ids = found.orphans.iter().map(|o| o.id.clone()).collect();
    let outcomes = ask_in(home, CleanupDelete { ids, rules }, args.scope)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    }
    let failed: Vec<_> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    if !args.json {
        for o in &outcomes {
            match &o.failure {
                None => println!("deleted {}", shown(&o.name)),
                Some(why) => eprintln!("NOT deleted {}: {}", shown(&o.name), shown(why)),
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} not deleted (said above); run `azlin cleanup --dry-run` to see what is left",
            failed.len(),
            outcomes.len()
        );
    }
    Ok(())
}

fn json_of(found: &Orphans) -> serde_json::Value {
    serde_json::json!({
        "place": found.place,
        "orphans": found.orphans,
        "passed": found.passed.iter().map(|(why, n)| serde_json::json!({"why": why, "count": n})).collect::<Vec<_>>(),
    })
}

/// The orphans as a table with a total, then what was left alone.
fn table(found: &Orphans) -> String {
    let mut out = String::new();
    if found.orphans.is_empty() {
        out.push_str(&format!("no orphans in {}\n", shown(&found.place)));
    } else {
        let rows: Vec<[String; 5]> = found
            .orphans
            .iter()
            .map(|o| {
                [
                    o.kind.clone(),
                    shown(&o.name).into_owned(),
                    figures::duration(u64::try_from(o.age_secs).unwrap_or(0)),
                    match (o.per_month, &o.currency) {
                        (Some(p), Some(c)) => format!("{p:.2} {c}/month"),
                        _ => "—".into(),
                    },
                    format!("{} ({})", shown(&o.why), shown(&o.price_source)),
                ]
            })
            .collect();
        out.push_str(&format!("orphans in {}:\n", shown(&found.place)));
        out.push_str(&render::aligned(
            &["KIND", "NAME", "AGE", "COST", "WHY (PRICE)"].map(String::from),
            &rows,
        ));
        let priced: Vec<f64> = found.orphans.iter().filter_map(|o| o.per_month).collect();
        if !priced.is_empty() {
            let unpriced = found.orphans.len() - priced.len();
            out.push_str(&format!(
                "total {:.2} USD/month at pay-as-you-go prices{}\n",
                priced.iter().sum::<f64>(),
                if unpriced > 0 {
                    format!(" ({unpriced} without a price, not counted)")
                } else {
                    String::new()
                }
            ));
        }
    }
    if !found.passed.is_empty() {
        out.push_str("left alone:\n");
        for (why, n) in &found.passed {
            out.push_str(&format!("  {n} {}\n", shown(why)));
        }
    }
    out.trim_end().to_string()
}
