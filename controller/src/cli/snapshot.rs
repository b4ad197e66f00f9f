//! `azlin snapshot create|list|delete|restore`. Delete and restore show
//! what they would do and ask on a terminal; without one they need
//! `--yes`, and `--dry-run` only says.

use anyhow::{Result, bail};

use super::{
    args::{SnapshotAction, SnapshotScheduleAction, SnapshotScheduleArgs},
    ask, ask_in,
    terminal_text::shown,
};
use crate::{
    home::Home,
    ipc::snapshot::{
        SnapshotCreate, SnapshotDelete, SnapshotList, SnapshotRestore, SnapshotScheduleClear,
        SnapshotScheduleList, SnapshotScheduleSet, SnapshotView,
    },
};

pub fn run(home: &Home, action: SnapshotAction) -> Result<()> {
    match action {
        SnapshotAction::Create {
            vm,
            name,
            json,
            scope,
        } => {
            let view = ask_in(home, SnapshotCreate { vm, name }, scope)?;
            print(&[view], json)
        }
        SnapshotAction::List { vm, json } => print(&ask(home, SnapshotList { vm })?, json),
        SnapshotAction::Delete { name, dry_run, yes } => {
            let delete = |dry_run: bool| {
                ask(
                    home,
                    SnapshotDelete {
                        name: name.clone(),
                        dry_run,
                    },
                )
            };
            if !dry_run && !yes {
                super::confirm_on_terminal(&delete(true)?.message, "Delete it?")?;
            }
            println!("{}", delete(dry_run)?.message);
            Ok(())
        }
        SnapshotAction::Restore {
            vm,
            name,
            dry_run,
            delete_old,
            yes,
            scope,
        } => {
            let restore = |dry_run: bool| {
                ask_in(
                    home,
                    SnapshotRestore {
                        vm: vm.clone(),
                        name: name.clone(),
                        dry_run,
                        delete_old,
                    },
                    scope.clone(),
                )
            };
            if !dry_run && !yes {
                super::confirm_on_terminal(&restore(true)?.message, "Restore it?")?;
            }
            println!("{}", restore(dry_run)?.message);
            Ok(())
        }
        SnapshotAction::Schedule(args) => schedule(home, args),
    }
}

fn schedule(home: &Home, args: SnapshotScheduleArgs) -> Result<()> {
    match (args.action, args.vm, args.every) {
        (Some(SnapshotScheduleAction::List { json }), _, _) => {
            let views = ask(home, SnapshotScheduleList)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else if views.is_empty() {
                println!("no snapshot schedules");
            } else {
                println!(
                    "{:<20} {:>10} {:>5}  {:<20} NEXT (UTC)",
                    "VM", "EVERY", "KEEP", "LAST (UTC)"
                );
                for v in views {
                    println!(
                        "{:<20} {:>9}s {:>5}  {:<20} {}",
                        shown(&v.vm),
                        v.every_secs,
                        v.keep,
                        v.last_run.map_or_else(|| "never".to_string(), utc),
                        utc(v.next_due)
                    );
                }
            }
            Ok(())
        }
        (Some(SnapshotScheduleAction::Clear { vm }), _, _) => {
            println!("{}", ask(home, SnapshotScheduleClear { vm })?.message);
            Ok(())
        }
        (None, Some(vm), Some(every)) => {
            let keep = args.keep;
            println!(
                "{}",
                ask(home, SnapshotScheduleSet { vm, every, keep })?.message
            );
            Ok(())
        }
        _ => bail!(
            "name the VM and how often: azlin snapshot schedule VM --every 1d [--keep 7] (or \
             snapshot schedule list / clear VM)"
        ),
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC), for the tables.
fn utc(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| "?".into())
}

fn print(views: &[SnapshotView], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(views)?);
        return Ok(());
    }
    if views.is_empty() {
        println!("no snapshots");
        return Ok(());
    }
    println!(
        "{:<32} {:<20} {:<8} {:<20} {:<8} HOLDS",
        "NAME", "VM", "PROVIDER", "TAKEN (UTC)", "BY"
    );
    for v in views {
        let at = utc(v.created_at);
        println!(
            "{:<32} {:<20} {:<8} {:<20} {:<8} {}",
            v.name,
            shown(&v.vm),
            v.provider,
            at,
            v.origin,
            shown(&v.holds)
        );
        if let Some(held) = &v.held {
            println!("{:<32} held: {}", "", shown(held));
        }
    }
    Ok(())
}
