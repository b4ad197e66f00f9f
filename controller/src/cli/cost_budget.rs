//! `azlin cost budget set|show|clear`: ask the daemon, print the budget
//! and where this month stands: spent so far (Azure's actual cost) or "no
//! data yet", the thresholds reached, and the day a straight line through
//! the month reaches the amount.

use anyhow::Result;

use super::args::BudgetAction;
use crate::{
    cost::money::{NO_DATA, amount},
    home::Home,
    ipc::{
        budget::{BudgetClear, BudgetSet, BudgetShow, BudgetView},
        client::Client,
    },
};

pub fn run(home: &Home, action: BudgetAction) -> Result<()> {
    match action {
        BudgetAction::Set {
            amount,
            thresholds,
            azure,
            emails,
            whole_subscription,
            stop_grace,
            scope,
        } => {
            let view = Client::connect_or_start(home)?
                .targeting(scope.target())
                .call(
                    BudgetSet {
                        amount,
                        thresholds,
                        azure,
                        emails,
                        whole_subscription,
                        stop_grace,
                    },
                    |_, _| {},
                )?;
            show(&view);
            Ok(())
        }
        BudgetAction::Show {
            json,
            whole_subscription,
            scope,
        } => {
            let view = Client::connect_or_start(home)?
                .targeting(scope.target())
                .call(BudgetShow { whole_subscription }, |_, _| {})?;
            match (view, json) {
                (view, true) => println!("{}", serde_json::to_string_pretty(&view)?),
                (Some(view), false) => show(&view),
                (None, false) => {
                    println!("no budget here; `azlin cost budget set AMOUNT` sets one")
                }
            }
            Ok(())
        }
        BudgetAction::Clear {
            whole_subscription,
            scope,
        } => {
            let done = Client::connect_or_start(home)?
                .targeting(scope.target())
                .call(BudgetClear { whole_subscription }, |_, _| {})?;
            println!("{}", done.message);
            Ok(())
        }
    }
}

fn show(v: &BudgetView) {
    let currency = v.currency.as_deref().unwrap_or_default();
    println!(
        "budget of {}: {} a month",
        v.scope,
        amount(v.amount, currency)
    );
    println!("thresholds: {}", v.thresholds.join(" "));
    if let Some(id) = &v.azure_budget {
        println!("in Azure too: {id}");
    }
    match v.spent {
        Some(spent) => println!(
            "this month so far: {} (actual cost, Azure Cost Management), {:.0}% of it",
            amount(spent, currency),
            100.0 * spent / v.amount
        ),
        None if v.notes.is_empty() => println!("this month so far: {NO_DATA}"),
        None => {}
    }
    if !v.crossed.is_empty() {
        println!("reached: {}", v.crossed.join(" "));
    }
    if let Some(at) = &v.stop_due {
        println!(
            "stop pending: azlin's VMs here are deallocated at {at}, unless the budget is raised \
             or cleared before"
        );
    }
    match &v.exceeds_on {
        Some(day) => println!("it will exceed on {day} ({})", v.forecast_source),
        None if v.spent.is_some() => {
            println!("it will not exceed this month ({})", v.forecast_source)
        }
        None => {}
    }
    for note in &v.notes {
        println!("note: {note}");
    }
}
