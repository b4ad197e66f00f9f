//! `azlin storage create|list|status|delete`: ask the daemon, show each
//! storage (where, what a VM mounts, size and use, who may reach it, its
//! price a month or why there is none); `delete` says what it deletes,
//! asks on a terminal, and needs `--yes` without one.

use anyhow::{Result, bail};

use super::args::StorageAction;
use crate::{
    cost::money::amount,
    home::Home,
    ipc::{
        client::Client,
        storage::{
            StorageCreate, StorageDelete, StorageList, StorageMount, StorageStatus, StorageView,
        },
    },
};

pub fn run(home: &Home, action: StorageAction) -> Result<()> {
    match action {
        StorageAction::Create {
            name,
            size,
            tier,
            provider,
            json,
            scope,
        } => {
            let view = Client::connect_or_start(home)?
                .targeting(scope.target())
                .call(
                    StorageCreate {
                        name,
                        size_gib: size,
                        tier,
                        provider,
                    },
                    |who, message| {
                        if !json {
                            println!("{who}: {message}");
                        }
                    },
                )?;
            print(&[view], json)
        }
        StorageAction::List {
            provider,
            json,
            scope,
        } => {
            let views = Client::connect_or_start(home)?
                .targeting(scope.target())
                .call(StorageList { provider }, |_, _| {})?;
            if views.is_empty() && !json {
                println!("no storage; `azlin storage create NAME` makes one");
                return Ok(());
            }
            print(&views, json)
        }
        StorageAction::Status {
            name,
            provider,
            json,
            scope,
        } => {
            let view = Client::connect_or_start(home)?
                .targeting(scope.target())
                .call(StorageStatus { name, provider }, |_, _| {})?;
            print(&[view], json)
        }
        StorageAction::Mount { name, vm, path } => mount(home, name, vm, path, false),
        StorageAction::Unmount { name, vm, path } => mount(home, name, vm, path, true),
        StorageAction::Delete {
            name,
            provider,
            dry_run,
            yes,
            force,
            scope,
        } => {
            let ask = |dry_run: bool| {
                Client::connect_or_start(home)?
                    .targeting(scope.clone().target())
                    .call(
                        StorageDelete {
                            name: name.clone(),
                            provider: provider.clone(),
                            dry_run,
                            force,
                        },
                        |_, _| {},
                    )
            };
            if !dry_run && !yes {
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    bail!(
                        "no terminal to ask on: run with --yes to delete, or --dry-run to see \
                         what would go"
                    );
                }
                println!("{}", ask(true)?.message);
                if !super::confirm("Delete it? Type yes to confirm: ")? {
                    bail!("nothing deleted");
                }
            }
            println!("{}", ask(dry_run)?.message);
            Ok(())
        }
    }
}

fn mount(home: &Home, name: String, vm: String, path: Option<String>, unmount: bool) -> Result<()> {
    let done = Client::connect_or_start(home)?.call(
        StorageMount {
            name,
            vm,
            path,
            unmount,
        },
        |who, message| println!("{who}: {message}"),
    )?;
    println!("{}", done.message);
    Ok(())
}

fn print(views: &[StorageView], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(views)?);
        return Ok(());
    }
    for v in views {
        let s = &v.storage;
        println!("{} ({}, {})", s.name, v.provider, s.place);
        println!("  mount:      {}", s.export);
        let used = match s.used_bytes {
            Some(b) => {
                let gib = b as f64 / f64::from(1u32 << 30);
                let share = if s.size_gib > 0 {
                    format!(" ({:.1}%)", 100.0 * gib / f64::from(s.size_gib))
                } else {
                    String::new()
                };
                format!("{gib:.1} GiB used{share}")
            }
            None => "use not reported".into(),
        };
        println!("  size:       {} GiB, {used}", s.size_gib);
        println!(
            "  root:       {}",
            if s.root_squash {
                "squashed (root on a VM is nobody here)"
            } else {
                "NOT squashed"
            }
        );
        println!("  reachable:  {}", s.reachable_from);
        println!(
            "  mounted on: {}",
            if v.mounted_on.is_empty() {
                "no running VM".to_string()
            } else {
                v.mounted_on.join(", ")
            }
        );
        if !v.not_asked.is_empty() {
            println!("  not asked:  {} (not connected)", v.not_asked.join(", "));
        }
        match v.per_month {
            Some(m) => println!(
                "  price:      {}/month ({})",
                amount(m, v.currency.as_deref().unwrap_or_default()),
                v.price_note
            ),
            None => println!("  price:      - ({})", v.price_note),
        }
        for note in &s.notes {
            println!("  note: {note}");
        }
    }
    Ok(())
}
