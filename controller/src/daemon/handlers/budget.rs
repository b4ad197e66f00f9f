//! `azlin cost budget set|show|clear`, and the check the daemon makes
//! whenever cost data refreshes ([`check`]): this month's actual cost
//! against the scope's budget. Each threshold crossed becomes one alert
//! event (rule `budget`, to every configured channel) whose identity is
//! (`budget:SCOPE`, month, percent): stored and sent once a month, never
//! again after a restart. A `stop` threshold sends its notice first, and
//! the budget's grace later ([`stop_when_due`], also run by the daemon's
//! `budget_check` job) deallocates the running VMs azlin made in the scope
//! (never one it adopted or did not make), unless the budget was raised
//! above the spend or cleared in between. The deallocation, or the stop
//! called off, is an alert event too.

use anyhow::{Context, Result, bail};
use azlin_protocol::alert::{Severity, Transition};

use super::{Ctx, Handle, cost};
use crate::{
    alerts::rules_file::BUDGET,
    alerts::rules_file::parse_duration,
    azure::context::Target,
    cost::{
        budget::{self, Action, DEFAULT_STOP_GRACE_SECS, MAX_STOP_GRACE_SECS, StopStep},
        dates::Day,
    },
    daemon::jobs::alerts,
    ipc::{
        Done,
        budget::{BudgetClear, BudgetSet, BudgetShow, BudgetView},
    },
    provider::{BillingScope, CloudBudget, Kind, Operation},
    state::{VmState, alerts::NewAlert, budgets::BudgetRow, now_unix},
    telemetry::live::now_ms,
};

/// Days of history kept before Azure's forecast is asked.
const FORECAST_AFTER_DAYS: usize = 28;
const LINEAR: &str = "linear projection of this month so far";
const FORECAST: &str = "Cost Management forecast";

impl Handle for BudgetSet {
    async fn handle(self, cx: &Ctx) -> Result<BudgetView> {
        let amount = budget::parse_amount(&self.amount)?;
        let thresholds = budget::thresholds(&self.thresholds)?;
        if !self.azure && !self.emails.is_empty() {
            bail!("--email is where Azure's budget e-mails go: it needs --azure (nothing set)");
        }
        let grace = self
            .stop_grace
            .as_deref()
            .map(
                |text| match parse_duration(text).map(|ms| (ms / 1000) as i64) {
                    Some(secs) if secs <= MAX_STOP_GRACE_SECS => Ok(secs),
                    _ => bail!(
                        "--stop-grace {text:?}: write a wait of up to a day such as 10m, 1h or 0 \
                     (nothing set)"
                    ),
                },
            )
            .transpose()?;
        let scope = cost::scope_of(cx, self.whole_subscription).await?;
        let provider = cx.d.providers.get(Kind::Azure);
        let old = cx.d.db.lock().expect("db lock").budget(&scope.path)?;
        let mut row = BudgetRow {
            scope: scope.path.clone(),
            words: scope.words.clone(),
            subscription: scope.subscription.clone(),
            resource_group: scope.resource_group.clone(),
            amount,
            thresholds: thresholds.clone(),
            azure_budget: old.as_ref().and_then(|b| b.azure_budget.clone()),
            stop_grace: grace
                .or(old.as_ref().map(|b| b.stop_grace))
                .unwrap_or(DEFAULT_STOP_GRACE_SECS),
            stop_noticed: old.as_ref().and_then(|b| b.stop_noticed),
        };
        if self.azure {
            let today = Day::of_unix(now_unix());
            let start = today.first_of_month();
            let end = Day::new(start.year() + 1, start.month(), 1)
                .expect("the first of a month a year on exists")
                .plus(-1);
            let cloud = CloudBudget {
                amount,
                percents: thresholds.iter().map(|t| t.percent).collect(),
                emails: self.emails.clone(),
                start,
                end,
            };
            row.azure_budget = Some(provider.put_budget(&scope, &cloud, &cx.azure).await?);
        }
        cx.d.db.lock().expect("db lock").set_budget(&row)?;
        let mut view = check(cx, &scope, &row).await;
        if self.azure && thresholds.iter().any(|t| t.action == Action::Stop) {
            view.notes.push(
                "Azure's budget only e-mails: a stop threshold deallocates VMs through this \
                 machine's daemon alone, so only while it runs"
                    .into(),
            );
        }
        Ok(view)
    }
}

impl Handle for BudgetShow {
    async fn handle(self, cx: &Ctx) -> Result<Option<BudgetView>> {
        let scope = cost::scope_of(cx, self.whole_subscription).await?;
        let row = cx.d.db.lock().expect("db lock").budget(&scope.path)?;
        Ok(match row {
            Some(row) => Some(check(cx, &scope, &row).await),
            None => None,
        })
    }
}

impl Handle for BudgetClear {
    async fn handle(self, cx: &Ctx) -> Result<Done> {
        let scope = cost::scope_of(cx, self.whole_subscription).await?;
        let row = cx.d.db.lock().expect("db lock").budget(&scope.path)?;
        let Some(row) = row else {
            bail!("{} has no budget; nothing cleared", scope.words);
        };
        if let Some(id) = &row.azure_budget {
            cx.d.providers
                .get(Kind::Azure)
                .delete_budget(id, &cx.azure)
                .await
                .context("the budget stays, in azlin and in Azure")?;
        }
        cx.d.db.lock().expect("db lock").clear_budget(&scope.path)?;
        Ok(Done {
            message: format!(
                "the budget of {} is cleared{}{}",
                scope.words,
                if row.azure_budget.is_some() {
                    ", in Azure too"
                } else {
                    ""
                },
                if row.stop_noticed.is_some() {
                    "; its pending stop is called off"
                } else {
                    ""
                }
            ),
        })
    }
}

/// The Azure target a kept budget's scope is.
pub fn target_of(row: &BudgetRow) -> Target {
    Target {
        subscription: Some(row.subscription.clone()),
        resource_group: row.resource_group.clone(),
        // A kept budget's scope is its own, whatever context is in use.
        context: None,
    }
}

/// This month against `row`: crossings become alert events (once each),
/// a new `stop` crossing is noticed (and deallocates azlin's VMs in the
/// scope once its grace is over), a pending stop is called off when the
/// spend is under every stop threshold now. Never fails: what went wrong
/// is in the view's notes and the log.
pub async fn check(cx: &Ctx, scope: &BillingScope, row: &BudgetRow) -> BudgetView {
    let now = now_unix();
    let today = Day::of_unix(now);
    let mut view = BudgetView {
        scope: row.words.clone(),
        amount: row.amount,
        thresholds: row.thresholds.iter().map(|t| t.to_string()).collect(),
        azure_budget: row.azure_budget.clone(),
        spent: None,
        currency: None,
        crossed: Vec::new(),
        exceeds_on: None,
        forecast_source: LINEAR.into(),
        notes: Vec::new(),
        stop_grace_secs: row.stop_grace,
        stop_due: row.stop_noticed.map(|at| utc(at + row.stop_grace)),
    };
    let (spent, currency) = match cost::month_to_date(cx, scope, today).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            view.notes.push(crate::cost::money::NO_DATA.into());
            return view;
        }
        Err(e) => {
            let why = format!("cannot check the budget now: {e:#}");
            tracing::warn!("{}: {why}", row.words);
            view.notes.push(why);
            return view;
        }
    };
    view.spent = Some(spent);
    view.currency = Some(currency.clone());
    view.exceeds_on = budget::exceeds_on(spent, today, row.amount).map(|d| d.to_string());
    // With four weeks of history kept, Azure's own forecast of the days
    // left says when instead.
    let kept =
        cx.d.db
            .lock()
            .expect("db lock")
            .cost_days(&row.scope, today.plus(-60))
            .map(|d| d.len())
            .unwrap_or(0);
    if kept >= FORECAST_AFTER_DAYS && today < today.last_of_month() {
        match cost::forecast(cx, scope, (today.plus(1), today.last_of_month())).await {
            Ok(days) => {
                view.exceeds_on = budget::exceeds_on_forecast(spent, today, row.amount, &days)
                    .map(|d| d.to_string());
                view.forecast_source = FORECAST.into();
            }
            Err(e) => view.notes.push(format!(
                "no forecast from Azure ({e:#}); a straight line instead"
            )),
        }
    }
    let crossed = budget::crossed(spent, row.amount, &row.thresholds);
    view.crossed = crossed.iter().map(|t| t.to_string()).collect();
    let stop_crossed = crossed.iter().any(|t| t.action == Action::Stop);
    let mut noticed = row.stop_noticed;
    let month = u64::from(today.year() as u32) * 100 + u64::from(today.month());
    let who = who(row);
    for t in crossed {
        let severity = match t.action {
            Action::Notify => Severity::Info,
            Action::Alert => Severity::Warning,
            Action::Stop => Severity::Critical,
        };
        let amount = |v: f64| crate::cost::money::amount(v, &currency);
        let mut message = format!(
            "{} this month is {} of the {} budget: {}% reached",
            row.words,
            amount(spent),
            amount(row.amount),
            t.percent
        );
        if t.action == Action::Stop {
            let vms = stoppable(cx, row);
            message.push_str(&if vms.is_empty() {
                "; no running VM azlin made is there to stop".to_string()
            } else if row.stop_grace == 0 {
                format!("; deallocating {}", vms.join(", "))
            } else {
                format!(
                    "; deallocating {} at {} (in {}) unless the budget is raised or cleared \
                     before",
                    vms.join(", "),
                    utc(now + row.stop_grace),
                    wait_words(row.stop_grace)
                )
            });
        }
        let new = NewAlert {
            vm: &who,
            epoch: month,
            seq: Some(u64::from(t.percent)),
            rule: BUDGET,
            subject: &row.words,
            transition: Transition::Notice,
            severity,
            value: spent,
            threshold: row.amount * f64::from(t.percent) / 100.0,
            message: &message,
            at_ms: now_ms(),
            received_ms: now_ms(),
        };
        match alerts::record(&cx.d, &new) {
            // Sent before: this month's crossing is done.
            Ok(None) => {}
            Ok(Some(_)) if t.action == Action::Stop && noticed.is_none() => {
                match cx
                    .d
                    .db
                    .lock()
                    .expect("db lock")
                    .set_budget_stop_noticed(&row.scope, Some(now))
                {
                    Ok(()) => noticed = Some(now),
                    Err(e) => view
                        .notes
                        .push(format!("cannot record the stop's notice: {e:#}")),
                }
            }
            Ok(Some(_)) => {}
            Err(e) => {
                tracing::error!("cannot record the budget event: {e:#}");
                view.notes
                    .push(format!("cannot record the budget event: {e:#}"));
            }
        }
    }
    let row = BudgetRow {
        stop_noticed: noticed,
        ..row.clone()
    };
    match budget::stop_step(Some(stop_crossed), noticed, row.stop_grace, now) {
        StopStep::Idle => {}
        StopStep::Waiting(at) => view.stop_due = Some(utc(at)),
        StopStep::Due => {
            view.stop_due = None;
            view.notes.extend(stop_when_due(cx, &row).await);
        }
        StopStep::CalledOff => {
            view.stop_due = None;
            view.notes.extend(call_off(cx, &row));
        }
    }
    view
}

/// A wait in words: `45 s`, `10 min`, `2 h 30 min`.
fn wait_words(secs: i64) -> String {
    match secs {
        ..120 => format!("{secs} s"),
        120..3600 => format!("{} min", secs / 60),
        _ if secs % 3600 < 60 => format!("{} h", secs / 3600),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc(at: i64) -> String {
    jiff::Timestamp::from_second(at)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| at.to_string())
}

/// Carry out `row`'s pending stop if its grace is over (whether the
/// spend still crosses was judged when it was noticed, and by every
/// check since): deallocate the running VMs azlin made in the scope, then
/// mark it done and record the event. What went wrong, in words.
pub async fn stop_when_due(cx: &Ctx, row: &BudgetRow) -> Vec<String> {
    let Some(noticed) = row.stop_noticed else {
        return Vec::new();
    };
    if budget::stop_step(None, Some(noticed), row.stop_grace, now_unix()) != StopStep::Due {
        return Vec::new();
    }
    let mut notes = Vec::new();
    let mut stopped = Vec::new();
    for vm in stoppable(cx, row) {
        match stop(cx, &vm).await {
            Ok(()) => stopped.push(vm),
            Err(e) => {
                let why = format!("budget stop of {vm} failed: {e:#}");
                tracing::error!("{why}");
                notes.push(why);
            }
        }
    }
    // Done (a failed VM is reported, not retried every few seconds).
    let message = if stopped.is_empty() {
        format!(
            "{}: the budget stop found no running VM azlin made to deallocate",
            row.words
        )
    } else {
        format!(
            "{}: the budget stop deallocated {}",
            row.words,
            stopped.join(", ")
        )
    };
    notes.extend(end_stop(cx, row, noticed, 0, Severity::Critical, &message));
    notes
}

/// Call off `row`'s pending stop: the spend is under its stop thresholds.
fn call_off(cx: &Ctx, row: &BudgetRow) -> Vec<String> {
    let Some(noticed) = row.stop_noticed else {
        return Vec::new();
    };
    let message = format!(
        "{}: the pending budget stop is called off: this month's spend is under its stop \
         threshold now",
        row.words
    );
    let mut notes = vec![message.clone()];
    notes.extend(end_stop(cx, row, noticed, 1, Severity::Info, &message));
    notes
}

/// End the stop noticed at `noticed`: no longer pending, and its event,
/// carried out (`seq` 0) or called off (1), one each whatever restarts.
/// What went wrong, in words (when the stop could not be marked ended, no
/// event says it did).
fn end_stop(
    cx: &Ctx,
    row: &BudgetRow,
    noticed: i64,
    seq: u64,
    severity: Severity,
    message: &str,
) -> Option<String> {
    let new = NewAlert {
        vm: &who(row),
        epoch: noticed as u64,
        seq: Some(seq),
        rule: BUDGET,
        subject: &row.words,
        transition: Transition::Notice,
        severity,
        value: 0.0,
        threshold: row.amount,
        message,
        at_ms: now_ms(),
        received_ms: now_ms(),
    };
    if let Err(e) =
        cx.d.db
            .lock()
            .expect("db lock")
            .set_budget_stop_noticed(&row.scope, None)
    {
        return Some(format!("cannot mark the budget stop ended: {e:#}"));
    }
    alerts::record(&cx.d, &new)
        .err()
        .map(|e| format!("cannot record the budget stop's event: {e:#}"))
}

/// The name budget events go by (`budget:RG` or `budget:SUBSCRIPTION`).
fn who(row: &BudgetRow) -> String {
    format!(
        "budget:{}",
        row.resource_group.as_deref().unwrap_or(&row.subscription)
    )
}

/// The running VMs azlin made in the budget's scope.
fn stoppable(cx: &Ctx, row: &BudgetRow) -> Vec<String> {
    let target = target_of(row);
    let rows = match cx.d.db.lock().expect("db lock").vms() {
        Ok(rows) => rows,
        Err(_) => return Vec::new(),
    };
    rows.into_iter()
        .filter(|r| cx.d.state_of(r) == VmState::Running)
        .filter(|r| {
            cx.d.providers.of(&r.provider).is_ok_and(|p| {
                p.kind() == Kind::Azure && p.made_by_azlin(r) && p.in_target(r, &target)
            })
        })
        .map(|r| r.name)
        .collect()
}

/// Deallocate `vm` as `azlin stop` does.
async fn stop(cx: &Ctx, vm: &str) -> Result<()> {
    let row =
        cx.d.db
            .lock()
            .expect("db lock")
            .vm(vm)?
            .with_context(|| format!("{vm} left the fleet"))?;
    let provider = cx.d.providers.of(&row.provider)?;
    cx.d.providers.require(
        provider,
        &Operation::Stop {
            keep_allocated: false,
        },
    )?;
    cx.d.db
        .lock()
        .expect("db lock")
        .set_vm_state(vm, VmState::Stopped)?;
    cx.d.fleet.untrack(vm, "VM stopped by its budget");
    cx.d.fleet.track(vm);
    provider.stop(&row, false, &cx.azure).await
}
