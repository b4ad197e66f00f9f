//! `azlin cost recommend` and `azlin cost apply`: what the scope could
//! stop paying for, each recommendation with its saving a month and the
//! figure's source, and carrying chosen ones out:
//!
//! - **resize**: an Azure VM of the fleet whose own agent's week of
//!   history has p95 CPU and memory below the thresholds of
//!   `cost::recommend`, to the next size down in its family (both sizes'
//!   pay-as-you-go prices);
//! - **deallocate**: a VM stopped but still allocated (billed as running;
//!   its size's price);
//! - **schedule**: a VM of the fleet idle at the same hours every night,
//!   or all weekend, in its agent's week of history (CPU only: the
//!   history keeps no terminal attachments), stopped then and started
//!   after, in this machine's zone (`cost::recommend::suggest_schedule`;
//!   its price for those hours, when it has one);
//! - **delete** an unattached disk, a public IP on nothing, a snapshot
//!   older than the given days (each its actual cost over the last 30
//!   days, when Azure has reported it).
//!
//! Apply works the list out again, so a recommendation that no longer
//! holds is refused, and every ID is checked before anything is done; a
//! change that fails stops the rest, and the error lists what was done.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::{Ctx, Handle, HandleVm, cost, prices, resolve};
use crate::{
    cost::{
        dates::Day,
        recommend::{self, HourPoint, MIN_COVERAGE_SECS, SizeInfo},
        schedule,
    },
    ipc::{
        cost_recommend::{Change, CostApply, CostRecommend, Recommendation, Recommendations},
        lifecycle::{Resize, Stop},
        schedule::ScheduleSet,
        vms::HOURS_PER_MONTH,
    },
    provider::{BillingScope, Kind},
    state::{VmRow, VmState, now_unix},
};

const PRICES: &str = "pay-as-you-go prices";
const HOURS_PER_WEEK: f64 = 168.0;
const ACTUAL: &str = "actual cost, last 30 days";
const NOTIONAL: &str = "notional price, [cost] notional_per_hour in config.toml";

impl Handle for CostRecommend {
    async fn handle(self, cx: &Ctx) -> Result<Recommendations> {
        recommendations(cx, self.whole_subscription, self.snapshot_days).await
    }
}

/// Everything to cut: from Azure (in the request's scope) when it can be
/// asked, and the schedules the agents' history suggests whatever the
/// provider; without Azure the reply says why only schedules are there.
async fn recommendations(
    cx: &Ctx,
    whole_subscription: bool,
    snapshot_days: u32,
) -> Result<Recommendations> {
    let mut notes = Vec::new();
    let mut out = match cost::scope_of(cx, whole_subscription).await {
        Ok(scope) => from_azure(cx, &scope, snapshot_days).await?,
        Err(e) => {
            notes.push(format!(
                "Azure was not asked ({e:#}): only schedules are suggested, from the agents' \
                 history"
            ));
            Vec::new()
        }
    };
    out.extend(schedules(cx).await?);
    out.sort_by(|a, b| {
        a.priority.cmp(&b.priority).then_with(|| {
            b.saving_per_month
                .unwrap_or(0.0)
                .total_cmp(&a.saving_per_month.unwrap_or(0.0))
        })
    });
    Ok(Recommendations {
        recommendations: out,
        notes,
    })
}

/// What Azure's side says to cut in `scope`: oversized and stopped but
/// allocated VMs, and what is paid for but used by nothing.
async fn from_azure(
    cx: &Ctx,
    scope: &BillingScope,
    snapshot_days: u32,
) -> Result<Vec<Recommendation>> {
    let d = &cx.d;
    let provider = d.providers.get(Kind::Azure);
    let waste = provider.waste(scope, &cx.azure).await?;
    let today = Day::of_unix(now_unix());
    // What each resource cost over the last 30 complete days; Cost
    // Management not answering leaves savings unknown, not zero.
    let bill = cost::billed(cx, scope, (today.plus(-30), today.plus(-1)))
        .await
        .ok();
    let mut actual: BTreeMap<String, f64> = BTreeMap::new();
    let mut currency = None;
    if let Some((bill, _)) = &bill {
        currency = cost::currency(bill).ok().flatten();
        for r in &bill.rows {
            *actual.entry(r.resource_id.clone()).or_default() += r.cost;
        }
    }
    let last_30 = |id: &str| actual.get(&id.to_ascii_lowercase()).copied();
    let mut out = Vec::new();
    let price = |region: String, size: String| async move {
        prices::per_hour(d, &cx.azure.access, &region, &size)
            .await
            .ok()
    };

    // Oversized VMs of the fleet, from their agents' week.
    let rows: Vec<VmRow> = d.db.lock().expect("db lock").vms()?;
    let mut sizes: BTreeMap<String, Vec<SizeInfo>> = BTreeMap::new();
    for row in rows.iter().filter(|r| {
        r.provider == Kind::Azure.as_str()
            && d.state_of(r) == VmState::Running
            && resolve::in_target(d, &cx.azure.target, r)
    }) {
        let since = now_unix() - 7 * 86400;
        let history =
            d.db.lock()
                .expect("db lock")
                .utilisation(&row.name, since)?;
        let (Some(first), Some(last)) = (history.first(), history.last()) else {
            continue;
        };
        if last.0 - first.0 < MIN_COVERAGE_SECS {
            continue;
        }
        let cpu: Vec<f64> = history.iter().map(|h| h.1).collect();
        let mem: Vec<f64> = history.iter().map(|h| h.2).collect();
        let (Some(cpu), Some(mem)) = (recommend::p95(&cpu), recommend::p95(&mem)) else {
            continue;
        };
        if !recommend::oversized(cpu, mem) {
            continue;
        }
        let views = provider.cloud_views(&[row], &cx.azure).await;
        let Some(view) = views.views.get(&row.name) else {
            continue;
        };
        let (Some(size), Some(region)) = (view.size.clone(), view.location.clone()) else {
            continue;
        };
        if !sizes.contains_key(&region) {
            sizes.insert(region.clone(), provider.sizes(&region, &cx.azure).await?);
        }
        let Some(smaller) = recommend::next_size_down(&sizes[&region], &size) else {
            continue;
        };
        let (now_price, new_price) = (
            price(region.clone(), size.clone()).await,
            price(region.clone(), smaller.name.clone()).await,
        );
        let saving = match (&now_price, &new_price) {
            (Some(a), Some(b)) => Some((a.per_hour - b.per_hour) * HOURS_PER_MONTH),
            _ => None,
        };
        let shown = |p: &Option<crate::ipc::vms::Price>| {
            p.as_ref()
                .map_or("no price".into(), |p| format!("${:.4}/h", p.per_hour))
        };
        out.push(Recommendation {
            id: format!("resize:{}", row.name),
            change: Change::Resize {
                vm: row.name.clone(),
                to: smaller.name.clone(),
            },
            reason: format!(
                "{} used at most {cpu:.0}% CPU and {mem:.0}% memory 95% of the time this week \
                 (its agent's figures): {size} ({}) to {} ({})",
                row.name,
                shown(&now_price),
                smaller.name,
                shown(&new_price)
            ),
            saving_per_month: saving,
            currency: saving.map(|_| prices::CURRENCY.to_string()),
            saving_source: PRICES.into(),
            priority: recommend::priority(saving),
        });
    }

    // Stopped but still allocated: billed as running.
    for (row, size, region) in &waste.stopped_allocated {
        let p = price(region.clone(), size.clone()).await;
        let saving = p.as_ref().map(|p| p.per_hour * HOURS_PER_MONTH);
        out.push(Recommendation {
            id: format!("deallocate:{}", row.name),
            change: Change::Deallocate {
                vm: row.name.clone(),
            },
            reason: format!(
                "{} is stopped but not deallocated, so its {size} is still billed as if it ran",
                row.name
            ),
            saving_per_month: saving,
            currency: saving.map(|_| prices::CURRENCY.to_string()),
            saving_source: PRICES.into(),
            priority: recommend::priority(saving),
        });
    }

    // Paid for, used by nothing.
    let old_before = now_unix() - i64::from(snapshot_days) * 86400;
    let idle = waste
        .disks
        .iter()
        .map(|i| ("disk", i, "is attached to no VM".to_string()))
        .chain(
            waste
                .ips
                .iter()
                .map(|i| ("ip", i, "is a public IP on nothing".to_string())),
        )
        .chain(
            waste
                .snapshots
                .iter()
                .filter(|i| i.created.is_some_and(|c| c < old_before))
                .map(|i| {
                    (
                        "snapshot",
                        i,
                        format!("is a snapshot older than {snapshot_days} days"),
                    )
                }),
        );
    for (kind, item, why) in idle {
        let saving = last_30(&item.id);
        out.push(Recommendation {
            id: format!("delete-{kind}:{}", item.name),
            change: Change::Delete {
                id: item.id.clone(),
            },
            reason: format!("{} {why}", item.name),
            saving_per_month: saving,
            currency: saving.and(currency.clone()),
            saving_source: ACTUAL.into(),
            priority: recommend::priority(saving),
        });
    }
    Ok(out)
}

/// A schedule for each running VM of the fleet (any provider) without one
/// whose week of history was idle at the same hours every night or all
/// weekend, in this machine's zone; its saving at its size's price (an
/// Azure VM) or the notional price of config.toml (any other), when there
/// is one.
async fn schedules(cx: &Ctx) -> Result<Vec<Recommendation>> {
    let d = &cx.d;
    let provider = d.providers.get(Kind::Azure);
    let rows: Vec<VmRow> = d.db.lock().expect("db lock").vms()?;
    let mut out = Vec::new();
    let zone = jiff::tz::TimeZone::system();
    let zone_name = zone.iana_name().unwrap_or("UTC").to_string();
    for row in rows.iter().filter(|r| {
        d.state_of(r) == VmState::Running
            && resolve::in_target(d, &cx.azure.target, r)
            && d.db
                .lock()
                .expect("db lock")
                .schedule(&r.name)
                .is_ok_and(|s| s.is_none())
    }) {
        let since = now_unix() - 7 * 86400;
        let history =
            d.db.lock()
                .expect("db lock")
                .utilisation(&row.name, since)?;
        let points: Vec<HourPoint> = history
            .iter()
            .filter_map(|(t, cpu, _)| {
                let local = jiff::Timestamp::from_second(*t)
                    .ok()?
                    .to_zoned_datetime(zone.clone());
                let date = local.date();
                Some(HourPoint {
                    day: i64::from(date.year()) * 10000
                        + i64::from(date.month()) * 100
                        + i64::from(date.day()),
                    weekday: date.weekday().to_monday_zero_offset() as u8,
                    hour: local.hour() as u8,
                    cpu: *cpu,
                    attached: false,
                })
            })
            .collect();
        let Some(plan) = recommend::suggest_schedule(&points) else {
            continue;
        };
        // (price an hour, its currency, where it comes from)
        let (per_hour, currency, source) = if row.provider == Kind::Azure.as_str() {
            let views = provider.cloud_views(&[row], &cx.azure).await;
            let per_hour = match views.views.get(&row.name) {
                Some(v) => match (v.size.clone(), v.location.clone()) {
                    (Some(size), Some(region)) => {
                        prices::per_hour(d, &cx.azure.access, &region, &size)
                            .await
                            .ok()
                            .map(|p| p.per_hour)
                    }
                    _ => None,
                },
                None => None,
            };
            (per_hour, Some(prices::CURRENCY.to_string()), PRICES)
        } else {
            (d.config().cost.notional_per_hour, None, NOTIONAL)
        };
        let saving =
            per_hour.map(|p| p * f64::from(plan.hours_per_week) * HOURS_PER_MONTH / HOURS_PER_WEEK);
        out.push(Recommendation {
            id: format!("schedule:{}", row.name),
            change: Change::Schedule {
                vm: row.name.clone(),
                stop: format!("{:02}:00", plan.stop),
                start: format!("{:02}:00", plan.start),
                days: schedule::days_text(plan.stop_days),
                start_days: schedule::days_text(plan.start_days),
                tz: zone_name.clone(),
            },
            reason: format!(
                "{} was idle (CPU below {}%) {} ({zone_name}) in its agent's week of history: \
                 stop it then, start it after ({} h off a week)",
                row.name,
                recommend::IDLE_CPU_BELOW,
                plan.evidence,
                plan.hours_per_week
            ),
            saving_per_month: saving,
            currency: saving.and(currency),
            saving_source: source.into(),
            priority: recommend::priority(saving),
        });
    }
    Ok(out)
}

impl Handle for CostApply {
    async fn handle(self, cx: &Ctx) -> Result<Vec<String>> {
        if self.ids.is_empty() {
            bail!("name the recommendations to apply (`azlin cost recommend` lists their IDs)");
        }
        let recs = recommendations(cx, self.whole_subscription, self.snapshot_days)
            .await?
            .recommendations;
        let mut chosen = Vec::new();
        for id in &self.ids {
            match recs.iter().find(|r| &r.id == id) {
                Some(r) => chosen.push(r.clone()),
                None => bail!(
                    "no recommendation {id:?} now (it may no longer apply); `azlin cost \
                     recommend` lists them. Nothing done"
                ),
            }
        }
        let mut lines = Vec::new();
        for r in chosen {
            let what = match &r.change {
                Change::Resize { vm, to } => format!("resize {vm} to {to}"),
                Change::Deallocate { vm } => format!("deallocate {vm}"),
                Change::Delete { id } => format!("delete {id}"),
                Change::Schedule {
                    vm,
                    stop,
                    start,
                    days,
                    start_days,
                    tz,
                } => {
                    format!("schedule {vm}: stop {stop} {days}, start {start} {start_days} ({tz})")
                }
            };
            if self.dry_run {
                lines.push(format!("would {what} ({})", r.id));
                continue;
            }
            if let Err(e) = carry_out(cx, &r.change).await {
                lines.push(format!("FAILED: {what} ({}): {e:#}", r.id));
                bail!("{}\nthe rest not tried", lines.join("\n"));
            }
            lines.push(format!("done: {what} ({})", r.id));
        }
        Ok(lines)
    }
}

/// Carry out one recommendation's change.
async fn carry_out(cx: &Ctx, change: &Change) -> Result<()> {
    match change {
        Change::Resize { vm, to } => {
            let resolved = resolve::vm_or_unmanaged(cx, vm).await?;
            Resize {
                vm: vm.clone(),
                size: to.clone(),
            }
            .handle(cx, resolved)
            .await?;
        }
        Change::Deallocate { vm } => {
            let resolved = resolve::vm_or_unmanaged(cx, vm).await?;
            Stop {
                vm: vm.clone(),
                keep_allocated: false,
            }
            .handle(cx, resolved)
            .await?;
        }
        Change::Schedule {
            vm,
            stop,
            start,
            days,
            start_days,
            tz,
        } => {
            let resolved = resolve::vm(cx, vm)?;
            ScheduleSet {
                vm: vm.clone(),
                stop: stop.clone(),
                start: Some(start.clone()),
                days: days.clone(),
                start_days: Some(start_days.clone()),
                tz: tz.clone(),
            }
            .handle(cx, resolved)
            .await?;
        }
        Change::Delete { id } => {
            cx.d.providers
                .get(Kind::Azure)
                .delete_resource(id, &cx.azure)
                .await?;
        }
    }
    Ok(())
}
