//! `azlin cost dashboard`: the figures of [`DashboardReport`] on one
//! screen, full screen and asked again each minute (the daemon keeps
//! Azure's answers five minutes, so that costs no query), or printed once
//! with `--once` (or as JSON). Keys: `q` or Esc quits.

use std::{sync::mpsc, time::Duration};

use anyhow::Result;
use ratatui::{
    crossterm::event::{self, Event, KeyCode, KeyEventKind},
    widgets::{Block, Paragraph},
};

use super::{args::AzureScope, cost::estimate_lines};
use crate::{
    cost::money::{NO_DATA, amount},
    home::Home,
    ipc::{
        client::Client,
        cost_dashboard::{CostDashboard, DashboardReport},
    },
};

/// How often the full screen asks the daemon again.
const REFRESH: Duration = Duration::from_secs(60);

fn ask(home: &Home, whole_subscription: bool, scope: &AzureScope) -> Result<DashboardReport> {
    Client::connect_or_start(home)?
        .targeting(scope.clone().target())
        .call(CostDashboard { whole_subscription }, |_, _| {})
}

pub fn run(
    home: &Home,
    once: bool,
    json: bool,
    whole_subscription: bool,
    scope: AzureScope,
) -> Result<()> {
    let first = ask(home, whole_subscription, &scope)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&first)?);
        return Ok(());
    }
    if once || !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        for line in lines(&first) {
            println!("{line}");
        }
        return Ok(());
    }
    let (tx, rx) = mpsc::channel::<Result<DashboardReport, String>>();
    {
        let home = home.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(REFRESH);
                let r = ask(&home, whole_subscription, &scope).map_err(|e| format!("{e:#}"));
                if tx.send(r).is_err() {
                    return;
                }
            }
        });
    }
    let (mut shown, mut error) = (first, None::<String>);
    let mut terminal = ratatui::init();
    let result = (|| -> Result<()> {
        loop {
            terminal.draw(|f| {
                let mut text = lines(&shown);
                if let Some(e) = &error {
                    text.push(String::new());
                    text.push(format!("(not refreshed: {e})"));
                }
                let block = Block::bordered().title(" azlin cost dashboard — q quits ");
                f.render_widget(Paragraph::new(text.join("\n")).block(block), f.area());
            })?;
            if event::poll(Duration::from_millis(200))?
                && let Event::Key(key) = event::read()?
                && key.kind == KeyEventKind::Press
                && matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)
            {
                return Ok(());
            }
            while let Ok(update) = rx.try_recv() {
                match update {
                    Ok(r) => {
                        shown = r;
                        error = None;
                    }
                    Err(e) => error = Some(e),
                }
            }
        }
    })();
    ratatui::restore();
    result
}

/// The screen as lines.
pub fn lines(r: &DashboardReport) -> Vec<String> {
    let currency = r.currency.as_deref().unwrap_or_default();
    let figure = |v: Option<f64>| v.map_or_else(|| NO_DATA.to_string(), |v| amount(v, currency));
    let change = |now: Option<f64>, before: Option<f64>| match (now, before) {
        (Some(n), Some(b)) if b > 0.0 => {
            format!(" ({:+.0}% against the one before)", 100.0 * (n - b) / b)
        }
        _ => String::new(),
    };
    let mut out = vec![
        format!("{} (actual cost, Azure Cost Management)", r.scope),
        String::new(),
        format!("this month so far  {}", figure(r.month_to_date)),
        format!(
            "today              {}{}",
            figure(r.today),
            change(r.today, r.yesterday)
        ),
        format!("yesterday          {}", figure(r.yesterday)),
        format!(
            "last 7 days        {}{}",
            figure(r.week),
            change(r.week, r.previous_week)
        ),
        format!("the 7 before       {}", figure(r.previous_week)),
        String::new(),
    ];
    out.extend(estimate_lines(&r.estimate, currency));
    out.push(String::new());
    if r.top.is_empty() {
        out.push(format!("top resources this month: {NO_DATA}"));
    } else {
        out.push(format!(
            "{:<28} {:<36} {:<14} {:>12}",
            "TOP THIS MONTH", "TYPE", "VM", "COST"
        ));
        for t in &r.top {
            out.push(format!(
                "{:<28} {:<36} {:<14} {:>12}",
                t.name,
                t.kind,
                t.vm.as_deref().unwrap_or("(shared)"),
                amount(t.cost, currency)
            ));
        }
    }
    if r.age_secs > 0 {
        out.push(String::new());
        out.push(format!(
            "(figures from {} s ago; Azure is asked again after 5 minutes)",
            r.age_secs
        ));
    }
    out
}
