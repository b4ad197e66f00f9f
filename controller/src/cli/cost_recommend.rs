//! `azlin cost recommend` and `azlin cost apply ID…`: print what to cut
//! (priority, saving a month with its source, or "no figure"), and carry
//! chosen recommendations out: `--dry-run` says what would be done; on a
//! terminal the plan is shown and confirmed; without one `--yes` is
//! needed.

use anyhow::{Result, bail};

use super::args::CostAction;
use crate::{
    cost::{money::amount, recommend::Priority},
    home::Home,
    ipc::{
        client::Client,
        cost_recommend::{CostApply, CostRecommend, Recommendation},
    },
};

pub fn run(home: &Home, action: CostAction) -> Result<()> {
    match action {
        CostAction::Recommend {
            json,
            snapshot_days,
            whole_subscription,
            scope,
        } => {
            let recs = Client::connect_or_start(home)?
                .targeting(scope.target())
                .call(
                    CostRecommend {
                        whole_subscription,
                        snapshot_days,
                    },
                    |_, _| {},
                )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&recs)?);
            } else {
                show(&recs.recommendations);
                for note in &recs.notes {
                    println!("note: {note}");
                }
            }
            Ok(())
        }
        CostAction::Apply {
            ids,
            dry_run,
            yes,
            snapshot_days,
            whole_subscription,
            scope,
        } => {
            let ask = |dry_run: bool| -> Result<Vec<String>> {
                Client::connect_or_start(home)?
                    .targeting(scope.clone().target())
                    .call(
                        CostApply {
                            ids: ids.clone(),
                            dry_run,
                            whole_subscription,
                            snapshot_days,
                        },
                        |_, _| {},
                    )
            };
            if !dry_run && !yes {
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    bail!(
                        "no terminal to ask on: run with --yes to apply, or --dry-run to see the plan"
                    );
                }
                for line in ask(true)? {
                    println!("{line}");
                }
                if !super::confirm("Apply? Type yes to confirm: ")? {
                    bail!("nothing done");
                }
            }
            for line in ask(dry_run)? {
                println!("{line}");
            }
            if dry_run {
                println!("(nothing changed: --dry-run)");
            }
            Ok(())
        }
        _ => unreachable!("only recommend and apply come here"),
    }
}

fn show(recs: &[Recommendation]) {
    if recs.is_empty() {
        println!("nothing to cut found");
        return;
    }
    for r in recs {
        let priority = match r.priority {
            Priority::High => "HIGH",
            Priority::Medium => "MEDIUM",
            Priority::Low => "LOW",
        };
        let saving = match r.saving_per_month {
            Some(s) => format!(
                "saves {}/month ({})",
                amount(s, r.currency.as_deref().unwrap_or_default()),
                r.saving_source
            ),
            None => format!("saving: no figure yet ({})", r.saving_source),
        };
        println!("[{priority}] {}: {}", r.id, r.reason);
        println!("    {saving}");
    }
    println!("\n`azlin cost apply ID… [--dry-run]` carries them out.");
}
