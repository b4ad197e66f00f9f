//! `azlin cost` and `azlin cost history`: ask the daemon for Azure's bill
//! and print it: each amount with its currency and where it came from
//! (Azure's actual cost, or pay-as-you-go prices), and "no data yet"
//! where Azure has no figure, never `$0.00`.

use anyhow::Result;

use super::args::{CostAction, CostArgs};
use crate::{
    cost::money::{NO_DATA, amount},
    home::Home,
    ipc::{
        client::Client,
        cost::{Cost, CostHistory, CostReport, Estimate, HistoryReport},
    },
};

pub fn run(home: &Home, args: CostArgs) -> Result<()> {
    match args.action {
        Some(CostAction::Budget { action }) => super::cost_budget::run(home, action),
        Some(action @ (CostAction::Recommend { .. } | CostAction::Apply { .. })) => {
            super::cost_recommend::run(home, action)
        }
        Some(CostAction::Dashboard {
            once,
            json,
            whole_subscription,
            scope,
        }) => super::cost_dashboard::run(home, once, json, whole_subscription, scope),
        Some(CostAction::History {
            days,
            json,
            whole_subscription,
            scope,
        }) => {
            let report = Client::connect_or_start(home)?
                .targeting(scope.target())
                .call(
                    CostHistory {
                        days,
                        whole_subscription,
                    },
                    |_, _| {},
                )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                history(&report);
            }
            Ok(())
        }
        None => {
            let report = Client::connect_or_start(home)?
                .targeting(args.scope.target())
                .call(
                    Cost {
                        from: args.from,
                        to: args.to,
                        whole_subscription: args.whole_subscription,
                        estimate: args.estimate,
                    },
                    |_, _| {},
                )?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                bill(&report, args.by_vm);
            }
            Ok(())
        }
    }
}

fn bill(r: &CostReport, by_vm: bool) {
    println!("{}, {} to {} (UTC)", r.scope, r.from, r.to);
    let currency = r.currency.as_deref().unwrap_or_default();
    match r.total {
        None => println!("total: {NO_DATA}"),
        Some(total) => {
            println!(
                "total: {} (actual cost, Azure Cost Management)",
                amount(total, currency)
            );
            if by_vm {
                println!();
                println!("{:<24} {:>12} {:>10}", "VM", "COST", "RESOURCES");
                for v in &r.by_vm {
                    println!(
                        "{:<24} {:>12} {:>10}",
                        v.vm,
                        amount(v.cost, currency),
                        v.resources
                    );
                }
                println!("{:<24} {:>12}", "(shared)", amount(r.shared, currency));
            } else {
                println!();
                println!("{:<12} {:>12}", "DAY", "COST");
                for (day, cost) in &r.days {
                    println!("{day:<12} {:>12}", amount(*cost, currency));
                }
            }
        }
    }
    if let Some(e) = &r.estimate {
        println!();
        for line in estimate_lines(e, currency) {
            println!("{line}");
        }
    }
    if r.age_secs > 0 {
        println!(
            "(figures from {} s ago; Azure is asked again after 5 minutes)",
            r.age_secs
        );
    }
}

/// The month's projection, as lines.
pub fn estimate_lines(e: &Estimate, currency: &str) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!("{}:", e.month));
    match e.month_to_date {
        Some(m) => out.push(format!(
            "  so far:           {} (actual cost, Azure Cost Management)",
            amount(m, currency)
        )),
        None => out.push(format!("  so far:           {NO_DATA}")),
    }
    let burn = match e.price_currency.as_str() {
        "USD" => format!("${:.4}/h", e.burn_per_hour),
        c => format!("{:.4} {c}/h", e.burn_per_hour),
    };
    out.push(format!(
        "  burn now:         {burn} from {} running VM(s) ({})",
        e.running.len(),
        e.price_source
    ));
    for (vm, why) in &e.unpriced {
        out.push(format!("  not in the burn:  {vm} ({why})"));
    }
    out.push(format!(
        "  rest of month:    {} ({:.0} h at the burn now)",
        amount(e.rest_of_month, &e.price_currency),
        e.hours_left
    ));
    match e.projected {
        Some(p) => out.push(format!(
            "  projected:        {}{}",
            amount(p, &e.price_currency),
            if e.month_to_date.is_none() {
                " (the burn only: Azure has no figure for the month yet)"
            } else {
                ""
            }
        )),
        None => out.push(format!(
            "  projected:        not added up: Azure bills in {currency}, prices are in {}",
            e.price_currency
        )),
    }
    out
}

fn history(r: &HistoryReport) {
    println!("{}, {} to {} (UTC)", r.scope, r.from, r.to);
    if let Some(why) = &r.stale {
        println!("(kept days only; Azure could not be asked: {why})");
    }
    let currency = r.currency.as_deref().unwrap_or_default();
    if r.days.is_empty() {
        println!("{NO_DATA}");
        return;
    }
    let anomalies: Vec<&str> = r
        .trend
        .iter()
        .flat_map(|t| t.anomalies.iter().map(|(d, _)| d.as_str()))
        .collect();
    println!("{:<12} {:>12}", "DAY", "COST");
    for (day, cost) in &r.days {
        let mark = if anomalies.contains(&day.as_str()) {
            "  anomaly (more than 2σ from the mean)"
        } else {
            ""
        };
        println!("{day:<12} {:>12}{mark}", amount(*cost, currency));
    }
    match &r.trend {
        None => println!("trend: too few days to tell"),
        Some(t) => println!(
            "trend: {} ({}{} a day; mean {} a day)",
            match t.direction {
                crate::cost::trend::Direction::Increasing => "increasing",
                crate::cost::trend::Direction::Decreasing => "decreasing",
                crate::cost::trend::Direction::Stable => "stable",
            },
            if t.per_day >= 0.0 { "+" } else { "-" },
            amount(t.per_day.abs(), currency),
            amount(t.mean, currency)
        ),
    }
}
