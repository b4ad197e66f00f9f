//! `azlin cost` and `azlin cost history`: Azure's bill for a range, asked
//! of the Azure provider once per range and scope in five minutes (Cost
//! Management allows only a few queries per scope a minute, so the cache
//! is part of being right, not only fast), summed by day and by VM, and
//! each complete day kept in `state.db` for the history. `--estimate`
//! adds the month: Azure's figure so far plus the rest of the month at
//! the running VMs' pay-as-you-go prices, each labelled as what it is.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Result, bail};

use super::{Ctx, Handle, cloud_view, list, prices};
use crate::{
    cost::{
        attribution,
        dates::{self, Day},
        trend,
    },
    ipc::cost::{Cost, CostHistory, CostReport, Estimate, HistoryReport},
    provider::{Billed, BillingScope, Kind, Operation},
    state::now_unix,
};

/// How long an answer from Cost Management is used again.
pub const CACHE_FOR: Duration = Duration::from_secs(5 * 60);

/// The longest range asked for at once.
const MAX_RANGE_DAYS: i64 = 366;

/// A forecast: cost per day.
type Forecast = Vec<(Day, f64)>;

/// Answers kept [`CACHE_FOR`], by scope and range, with when they came.
struct Kept<T>(Mutex<BTreeMap<String, (Instant, T)>>);

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept(Mutex::default())
    }
}

impl<T: Clone> Kept<T> {
    /// A fresh answer, and its age.
    fn fresh(&self, key: &str) -> Option<(T, Duration)> {
        self.0
            .lock()
            .expect("cost cache lock")
            .get(key)
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(at, v)| (v.clone(), at.elapsed()))
    }

    fn keep(&self, key: String, value: T) {
        let mut kept = self.0.lock().expect("cost cache lock");
        kept.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
        kept.insert(key, (Instant::now(), value));
    }
}

/// Bills and forecasts asked in the last [`CACHE_FOR`], by scope and
/// range.
#[derive(Default)]
pub struct CostCache {
    bills: Kept<Arc<Billed>>,
    forecasts: Kept<Forecast>,
    /// One query of the cloud at a time: two requests for the same range
    /// ask once.
    asking: tokio::sync::Mutex<()>,
}

/// What an answer is kept under: the scope, the ARM endpoint asked (tests
/// point requests at other servers), the range.
fn cache_key(cx: &Ctx, scope: &BillingScope, range: (Day, Day)) -> String {
    format!(
        "{}|{:?}|{}|{}",
        scope.path.to_ascii_lowercase(),
        cx.azure.access.endpoint,
        range.0,
        range.1
    )
}

/// The answer kept under `key` in `kept`, else `ask`'s, kept; its age.
async fn cached<T: Clone, F: std::future::Future<Output = Result<T>>>(
    cx: &Ctx,
    kept: &Kept<T>,
    key: String,
    ask: impl FnOnce() -> F,
) -> Result<(T, Duration)> {
    if let Some(hit) = kept.fresh(&key) {
        return Ok(hit);
    }
    let _one = cx.d.cost_cache.asking.lock().await;
    if let Some(hit) = kept.fresh(&key) {
        return Ok(hit);
    }
    let value = ask().await?;
    kept.keep(key, value.clone());
    Ok((value, Duration::ZERO))
}

/// The cloud's forecast of `scope` per day for `range`, from the cache
/// when it is fresh.
pub async fn forecast(cx: &Ctx, scope: &BillingScope, range: (Day, Day)) -> Result<Forecast> {
    let provider = cx.d.providers.get(Kind::Azure);
    let ask = || provider.forecast(scope, range, &cx.azure);
    let key = cache_key(cx, scope, range);
    Ok(cached(cx, &cx.d.cost_cache.forecasts, key, ask).await?.0)
}

/// The bill of `scope` for `range`, from the cache when it is fresh; its
/// age.
pub async fn billed(
    cx: &Ctx,
    scope: &BillingScope,
    range: (Day, Day),
) -> Result<(Arc<Billed>, Duration)> {
    let provider = cx.d.providers.get(Kind::Azure);
    let ask = || async { Ok(Arc::new(provider.billed(scope, range, &cx.azure).await?)) };
    let key = cache_key(cx, scope, range);
    cached(cx, &cx.d.cost_cache.bills, key, ask).await
}

/// Where the request's bill is, once the provider is known to have one.
pub async fn scope_of(cx: &Ctx, whole_subscription: bool) -> Result<BillingScope> {
    let provider = cx.d.providers.get(Kind::Azure);
    cx.d.providers.require(provider, &Operation::Cost)?;
    provider.billing_scope(whole_subscription, &cx.azure).await
}

/// The one currency of `bill`'s rows (`None`: no rows).
pub fn currency(bill: &Billed) -> Result<Option<String>> {
    let mut seen: Vec<&str> = bill
        .rows
        .iter()
        .map(|r| r.currency.as_str())
        .filter(|c| !c.is_empty())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    match seen.as_slice() {
        [] if bill.rows.is_empty() => Ok(None),
        [] => Ok(Some(String::new())),
        [one] => Ok(Some(one.to_string())),
        many => bail!(
            "Azure reported cost in more than one currency ({}); azlin does not add them up",
            many.join(", ")
        ),
    }
}

/// Keep `bill`'s complete days (before `today`) for the history.
pub fn keep_days(cx: &Ctx, scope: &BillingScope, bill: &Billed, today: Day) -> Result<()> {
    let Some(currency) = currency(bill)? else {
        return Ok(());
    };
    let days: Vec<(Day, f64)> = attribution::by_day(bill.rows.iter().map(|r| (r.day, r.cost)))
        .into_iter()
        .filter(|(d, _)| *d < today)
        .collect();
    cx.d.db
        .lock()
        .expect("db lock")
        .keep_cost_days(&scope.path, &currency, &days, today)
}

fn day_arg(text: Option<&str>, default: Day) -> Result<Day> {
    Ok(match text {
        Some(t) => Day::parse(t)?,
        None => default,
    })
}

impl Handle for Cost {
    async fn handle(self, cx: &Ctx) -> Result<CostReport> {
        let today = Day::of_unix(now_unix());
        let to = day_arg(self.to.as_deref(), today)?;
        let from = day_arg(self.from.as_deref(), to.first_of_month())?;
        dates::range(from, to)?;
        if to > today {
            bail!("--to {to} is after today ({today}, UTC): Azure bills no day ahead");
        }
        if from.days_until(to) >= MAX_RANGE_DAYS {
            bail!(
                "{from} to {to} is more than {MAX_RANGE_DAYS} days: ask for a year or less at once"
            );
        }
        let scope = scope_of(cx, self.whole_subscription).await?;
        let (bill, age) = billed(cx, &scope, (from, to)).await?;
        let currency = currency(&bill)?;
        keep_days(cx, &scope, &bill, today)?;
        // Fresh figures: the scope's budget is checked against them.
        let budget = cx.d.db.lock().expect("db lock").budget(&scope.path)?;
        if let Some(row) = budget
            && age.is_zero()
        {
            super::budget::check(cx, &scope, &row).await;
        }
        let days = attribution::by_day(bill.rows.iter().map(|r| (r.day, r.cost)));
        let by_vm = attribution::by_vm(
            bill.rows.iter().map(|r| (r.resource_id.as_str(), r.cost)),
            &bill.owners,
        );
        let total = (!bill.rows.is_empty()).then(|| bill.rows.iter().map(|r| r.cost).sum());
        let estimate = if self.estimate {
            Some(estimate(cx, &scope, today).await?)
        } else {
            None
        };
        Ok(CostReport {
            scope: scope.words,
            from: from.to_string(),
            to: to.to_string(),
            total,
            currency,
            days: days.into_iter().map(|(d, c)| (d.to_string(), c)).collect(),
            by_vm: by_vm.vms,
            shared: by_vm.shared,
            estimate,
            queries: if age.is_zero() { bill.queries } else { 0 },
            age_secs: age.as_secs(),
        })
    }
}

/// This month's actual cost so far in `scope`, and its currency; `None`:
/// no data yet.
pub async fn month_to_date(
    cx: &Ctx,
    scope: &BillingScope,
    today: Day,
) -> Result<Option<(f64, String)>> {
    let (bill, _) = billed(cx, scope, (today.first_of_month(), today)).await?;
    Ok(currency(&bill)?.map(|c| (bill.rows.iter().map(|r| r.cost).sum(), c)))
}

/// The month of `today`: Azure's figure so far, and the rest at the
/// burn of the VMs running now.
pub async fn estimate(cx: &Ctx, scope: &BillingScope, today: Day) -> Result<Estimate> {
    let first = today.first_of_month();
    let (bill, _) = billed(cx, scope, (first, today)).await?;
    let month_currency = currency(&bill)?;
    let month_to_date =
        (!bill.rows.is_empty()).then(|| bill.rows.iter().map(|r| r.cost).sum::<f64>());
    // The VMs where the request looks, azlin's and others, as `list`
    // sees them, with their prices.
    let mut views = list::list_in(&cx.d, &cx.azure.target)?;
    let others = cloud_view::merge(cx, &mut views).await;
    let (mut running, mut unpriced, mut burn) = (Vec::new(), Vec::new(), 0.0);
    for v in views.iter().chain(&others) {
        let Some(cloud) = &v.cloud else { continue };
        if v.provider != Kind::Azure.as_str() || cloud.power != "running" {
            continue;
        }
        match &cloud.price {
            Some(p) => {
                burn += p.per_hour;
                running.push(v.name.clone());
            }
            None => unpriced.push((
                v.name.clone(),
                cloud.no_price.clone().unwrap_or_else(|| "no price".into()),
            )),
        }
    }
    let end = today.last_of_month().plus(1).unix();
    let hours_left = ((end - now_unix()).max(0) as f64) / 3600.0;
    let rest_of_month = burn * hours_left;
    let same_currency = month_currency
        .as_deref()
        .is_none_or(|c| c.eq_ignore_ascii_case(prices::CURRENCY));
    Ok(Estimate {
        month: format!("{:04}-{:02}", today.year(), today.month()),
        month_to_date,
        burn_per_hour: burn,
        price_currency: prices::CURRENCY.into(),
        price_source: prices::SOURCE.into(),
        running,
        unpriced,
        hours_left,
        rest_of_month,
        projected: same_currency.then(|| month_to_date.unwrap_or(0.0) + rest_of_month),
    })
}

impl Handle for CostHistory {
    async fn handle(self, cx: &Ctx) -> Result<HistoryReport> {
        if self.days == 0 || i64::from(self.days) > crate::state::cost_days::KEEP_DAYS {
            bail!(
                "--days must be 1 to {} (days are kept that long)",
                crate::state::cost_days::KEEP_DAYS
            );
        }
        let today = Day::of_unix(now_unix());
        let from = today.plus(1 - i64::from(self.days));
        let scope = scope_of(cx, self.whole_subscription).await?;
        // Bring the kept days up to date; when Azure cannot be asked, the
        // kept days are shown, and why they may be behind.
        let stale = match billed(cx, &scope, (from, today)).await {
            Ok((bill, _)) => keep_days(cx, &scope, &bill, today)
                .err()
                .map(|e| format!("{e:#}")),
            Err(e) => Some(format!("{e:#}")),
        };
        let kept =
            cx.d.db
                .lock()
                .expect("db lock")
                .cost_days(&scope.path, from)?;
        let mut currencies: Vec<&str> = kept.iter().map(|(_, _, c)| c.as_str()).collect();
        currencies.dedup();
        let days: Vec<(Day, f64)> = kept.iter().map(|(d, c, _)| (*d, *c)).collect();
        Ok(HistoryReport {
            scope: scope.words,
            from: from.to_string(),
            to: today.to_string(),
            trend: trend::trend(&days),
            days: days.iter().map(|(d, c)| (d.to_string(), *c)).collect(),
            currency: currencies.first().map(|c| c.to_string()),
            stale,
        })
    }
}
