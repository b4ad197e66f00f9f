//! `azlin top`: the fleet at a glance, from the daemon's memory (no round
//! trip to any VM): a full-screen live dashboard on a terminal, or one table
//! (`--once`, or when stdout is not a terminal), or JSON (`--json`).
//!
//! - [`table`]: rows, sorting and filtering (pure).
//! - [`dashboard`]: the ratatui screen and its keys.

mod dashboard;
pub mod table;

use std::io::IsTerminal;

use anyhow::Result;

use crate::{
    home::Home,
    ipc::{VmView, client::Client, vms::List},
};

pub use table::Sort;

pub struct TopArgs {
    pub once: bool,
    pub json: bool,
    pub sort: Sort,
    pub filter: String,
}

/// The fleet as the daemon holds it now; with `cloud`, also what the cloud
/// says (power, and the price of running cloud VMs: three ARM lists per
/// subscription and the day-old price cache, so the dashboard asks it once
/// a minute, not every refresh).
pub fn fetch(home: &Home, cloud: bool) -> Result<Vec<VmView>> {
    let mut vms = Client::connect_or_start(home)?.call(List { cloud }, |_, _| {})?;
    // top is the fleet's live view: cloud VMs without an agent have none.
    vms.retain(|v| !v.no_agent);
    Ok(vms)
}

pub fn run(home: &Home, args: TopArgs) -> Result<()> {
    let vms = fetch(home, true)?;
    if args.json {
        let list: Vec<serde_json::Value> = table::select(&vms, args.sort, &args.filter)
            .into_iter()
            .map(table::json)
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if args.once || !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        let rows: Vec<table::Row> = table::select(&vms, args.sort, &args.filter)
            .into_iter()
            .map(table::row)
            .collect();
        if vms.is_empty() {
            println!("no VMs; create some with `azlin new --pool 3`");
        } else {
            print!("{}", table::text(&rows));
            if let Some(line) = crate::cli::render::fleet_price(&vms) {
                println!("{line}");
            }
            if vms.iter().any(|v| v.notional_per_hour.is_some()) {
                println!("{}", crate::cli::render::NOTIONAL);
            }
        }
        return Ok(());
    }
    dashboard::run(home, vms, args.sort, args.filter)
}
