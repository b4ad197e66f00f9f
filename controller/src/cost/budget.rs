//! A monthly budget: its thresholds (a percentage of the amount and what
//! crossing it does: `notify`, `alert`, or `stop` azlin's VMs), which of
//! them this month's spend has crossed, and when the month reaches the
//! amount: on a straight line through the month so far, or on Azure's
//! forecast of the days left. Pure.
//!
//! Not here: keeping budgets (`state::budgets`), raising the alerts or
//! stopping VMs (the daemon's `budget` handler).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::dates::Day;

/// What crossing a threshold does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Action {
    /// An informational alert event.
    Notify,
    /// A warning alert event.
    Alert,
    /// A critical alert event, then azlin's running VMs in the scope are
    /// deallocated.
    Stop,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Notify => "notify",
            Action::Alert => "alert",
            Action::Stop => "stop",
        }
    }
}

/// One threshold: `percent` of the amount, and what crossing it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Threshold {
    pub percent: u32,
    pub action: Action,
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.percent, self.action.name())
    }
}

/// How long a `stop` threshold's notice comes before the deallocation,
/// unless the budget says otherwise.
pub const DEFAULT_STOP_GRACE_SECS: i64 = 600;
/// The longest wait a stop may be given.
pub const MAX_STOP_GRACE_SECS: i64 = 86_400;

/// Where a budget's stop stands, given whether this month's spend is at
/// or past a `stop` threshold and when a notice of it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopStep {
    /// Nothing pending.
    Idle,
    /// Noticed; the VMs are deallocated at this time (unix seconds).
    Waiting(i64),
    /// Noticed, and the wait is over: deallocate now.
    Due,
    /// Noticed, but the spend is under every stop threshold now (the
    /// budget was raised): the stop is called off.
    CalledOff,
}

/// `stop_crossed`: `None` when the spend is not known now (then a notice
/// stands as it is).
pub fn stop_step(
    stop_crossed: Option<bool>,
    noticed: Option<i64>,
    grace: i64,
    now: i64,
) -> StopStep {
    match (noticed, stop_crossed) {
        (None, _) => StopStep::Idle,
        (Some(_), Some(false)) => StopStep::CalledOff,
        (Some(at), _) if now >= at + grace => StopStep::Due,
        (Some(at), _) => StopStep::Waiting(at + grace),
    }
}

/// The thresholds a budget gets when none is given.
pub const DEFAULT_THRESHOLDS: [Threshold; 3] = [
    Threshold {
        percent: 50,
        action: Action::Notify,
    },
    Threshold {
        percent: 80,
        action: Action::Alert,
    },
    Threshold {
        percent: 100,
        action: Action::Alert,
    },
];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BudgetError {
    #[error(
        "threshold {0:?} is not PERCENT:ACTION: write it as 80:alert (actions: notify, alert, stop; \
         percent 1 to 1000)"
    )]
    Threshold(String),
    #[error("the amount {0:?} is not a positive number of the bill's currency")]
    Amount(String),
    #[error("threshold {0}% is given twice")]
    Twice(u32),
}

/// `80:alert`.
pub fn parse_threshold(text: &str) -> Result<Threshold, BudgetError> {
    let bad = || BudgetError::Threshold(text.chars().take(40).collect());
    let (p, a) = text.split_once(':').ok_or_else(bad)?;
    let percent: u32 = p
        .trim()
        .trim_end_matches('%')
        .parse()
        .ok()
        .filter(|p| (1..=1000).contains(p))
        .ok_or_else(bad)?;
    let action = match a.trim().to_ascii_lowercase().as_str() {
        "notify" => Action::Notify,
        "alert" => Action::Alert,
        "stop" => Action::Stop,
        _ => return Err(bad()),
    };
    Ok(Threshold { percent, action })
}

/// The thresholds given (the defaults when none), in order, each percent
/// once.
pub fn thresholds(given: &[String]) -> Result<Vec<Threshold>, BudgetError> {
    let mut out: Vec<Threshold> = if given.is_empty() {
        DEFAULT_THRESHOLDS.to_vec()
    } else {
        given
            .iter()
            .map(|t| parse_threshold(t))
            .collect::<Result<_, _>>()?
    };
    out.sort();
    for w in out.windows(2) {
        if w[0].percent == w[1].percent {
            return Err(BudgetError::Twice(w[0].percent));
        }
    }
    Ok(out)
}

/// A budget amount: finite and above zero.
pub fn parse_amount(text: &str) -> Result<f64, BudgetError> {
    text.trim()
        .trim_start_matches('$')
        .parse::<f64>()
        .ok()
        .filter(|a| a.is_finite() && *a > 0.0 && *a < 1e12)
        .ok_or_else(|| BudgetError::Amount(text.chars().take(40).collect()))
}

/// The thresholds `spent` has reached.
pub fn crossed(spent: f64, amount: f64, thresholds: &[Threshold]) -> Vec<Threshold> {
    thresholds
        .iter()
        .filter(|t| spent >= amount * f64::from(t.percent) / 100.0)
        .copied()
        .collect()
}

/// The first day of `today`'s month on which `spent_so_far` (through
/// `today`, included) reaches `amount` if every day costs what the days so
/// far did on average; `None` when it does not happen this month.
pub fn exceeds_on(spent_so_far: f64, today: Day, amount: f64) -> Option<Day> {
    let first = today.first_of_month();
    let days_so_far = first.days_until(today) + 1;
    if spent_so_far >= amount {
        return Some(today);
    }
    let per_day = spent_so_far / days_so_far as f64;
    if per_day <= 0.0 {
        return None;
    }
    let days_needed = (amount / per_day).ceil() as i64;
    let day = first.plus(days_needed - 1);
    (day <= today.last_of_month()).then_some(day)
}

/// The first day on which `spent_so_far` (through `today`) plus the
/// forecast days after it reaches `amount`; `None` when the forecast does
/// not reach it.
pub fn exceeds_on_forecast(
    spent_so_far: f64,
    today: Day,
    amount: f64,
    forecast: &[(Day, f64)],
) -> Option<Day> {
    if spent_so_far >= amount {
        return Some(today);
    }
    let mut days: Vec<&(Day, f64)> = forecast.iter().filter(|(d, _)| *d > today).collect();
    days.sort_by_key(|(d, _)| *d);
    let mut total = spent_so_far;
    for (day, cost) in days {
        total += cost;
        if total >= amount {
            return Some(*day);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_read_strictly_and_kept_in_order() {
        assert_eq!(
            parse_threshold("80:alert").unwrap(),
            Threshold {
                percent: 80,
                action: Action::Alert
            }
        );
        for bad in ["80", "0:notify", "80:shout", ":stop", "1001:stop", "x:stop"] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
        let t = thresholds(&["100:stop".into(), "50:notify".into()]).unwrap();
        assert_eq!(t[0].percent, 50);
        assert_eq!(
            thresholds(&["50:notify".into(), "50:stop".into()]),
            Err(BudgetError::Twice(50))
        );
        assert_eq!(thresholds(&[]).unwrap(), DEFAULT_THRESHOLDS.to_vec());
        assert!(parse_amount("-5").is_err() && parse_amount("NaN").is_err());
        assert_eq!(parse_amount("$250").unwrap(), 250.0);
    }

    #[test]
    fn a_stop_waits_out_its_notice_and_is_called_off_under_the_threshold() {
        assert_eq!(stop_step(Some(true), None, 600, 1000), StopStep::Idle);
        assert_eq!(
            stop_step(Some(true), Some(1000), 600, 1200),
            StopStep::Waiting(1600)
        );
        // Spend unknown now: the notice stands.
        assert_eq!(
            stop_step(None, Some(1000), 600, 1200),
            StopStep::Waiting(1600)
        );
        assert_eq!(stop_step(None, Some(1000), 600, 1600), StopStep::Due);
        assert_eq!(stop_step(Some(true), Some(1000), 0, 1000), StopStep::Due);
        assert_eq!(
            stop_step(Some(false), Some(1000), 600, 1200),
            StopStep::CalledOff
        );
    }

    #[test]
    fn crossing_and_the_day_the_line_reaches_the_amount() {
        let t = thresholds(&[]).unwrap();
        assert_eq!(crossed(79.0, 100.0, &t).len(), 1);
        assert_eq!(crossed(80.0, 100.0, &t).len(), 2);
        let today = Day::parse("2026-12-10").unwrap();
        // 10 a day: 100 is reached on the 10th of a 31-day month... at 300:
        assert_eq!(
            exceeds_on(100.0, today, 300.0),
            Some(Day::parse("2026-12-30").unwrap())
        );
        assert_eq!(exceeds_on(100.0, today, 400.0), None);
        assert_eq!(exceeds_on(0.0, today, 400.0), None);
        assert_eq!(exceeds_on(500.0, today, 400.0), Some(today));
        let f = |n: i64, c: f64| (today.plus(n), c);
        assert_eq!(
            exceeds_on_forecast(100.0, today, 300.0, &[f(2, 150.0), f(1, 40.0), f(3, 20.0)]),
            Some(today.plus(3))
        );
        assert_eq!(
            exceeds_on_forecast(100.0, today, 900.0, &[f(1, 40.0)]),
            None
        );
    }
}
