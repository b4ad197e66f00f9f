//! What to cut, decided from figures (pure): a VM is oversized when its
//! own agent's 95th percentiles of CPU and memory over a week stay below
//! [`CPU_P95_BELOW`] and [`MEMORY_P95_BELOW`] (so half the size still has
//! room), and the next size down is the largest of the same family with
//! fewer vCPUs; a saving's priority follows its size per month.
//!
//! Not here: reading the history, the sizes or the prices (the daemon's
//! `cost_recommend` handler and the provider).

use serde::{Deserialize, Serialize};

/// Below this p95 CPU (percent of the VM), a VM is a candidate for half.
pub const CPU_P95_BELOW: f64 = 25.0;
/// Below this p95 memory (percent used), likewise.
pub const MEMORY_P95_BELOW: f64 = 40.0;
/// History must cover this much of the week to judge.
pub const MIN_COVERAGE_SECS: i64 = 6 * 86400;

/// A size as the cloud offers it.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeInfo {
    pub name: String,
    pub family: String,
    pub vcpus: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    High,
    Medium,
    Low,
}

/// The 95th percentile (nearest rank) of `values`; `None` when empty.
pub fn p95(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((0.95 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// Whether a week at these percentiles says the VM is too big.
pub fn oversized(cpu_p95: f64, memory_p95: f64) -> bool {
    cpu_p95 < CPU_P95_BELOW && memory_p95 < MEMORY_P95_BELOW
}

/// The next size down from `size` among `sizes`: same family, the most
/// vCPUs below its own.
pub fn next_size_down<'a>(sizes: &'a [SizeInfo], size: &str) -> Option<&'a SizeInfo> {
    let current = sizes.iter().find(|s| s.name.eq_ignore_ascii_case(size))?;
    sizes
        .iter()
        .filter(|s| s.family == current.family && s.vcpus < current.vcpus && s.vcpus > 0)
        .max_by_key(|s| s.vcpus)
}

/// How urgent a saving of `per_month` is.
pub fn priority(per_month: Option<f64>) -> Priority {
    match per_month {
        Some(m) if m >= 50.0 => Priority::High,
        Some(m) if m >= 10.0 => Priority::Medium,
        _ => Priority::Low,
    }
}

/// Below this CPU percent an hour counts as idle for a schedule.
pub const IDLE_CPU_BELOW: f64 = 3.0;
/// The shortest idle stretch worth a schedule, in hours.
pub const MIN_IDLE_HOURS: u32 = 6;
/// A weekend day counts as seen when its history covers this many hours.
const WEEKEND_HOURS_SEEN: usize = 18;
/// Monday is bit 0 of a day mask, as in `cost::schedule`.
const MONDAY: u8 = 0;
const FRIDAY: u8 = 4;
const SATURDAY: u8 = 5;
const SUNDAY: u8 = 6;
/// Monday to Friday, as a `cost::schedule` day mask.
pub const WEEKDAYS: u8 = 0x1f;
/// Every day, as a `cost::schedule` day mask.
const EVERY_DAY: u8 = 0x7f;

/// One sample of a VM's history, in the schedule's zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourPoint {
    /// The local date, any number that differs from day to day.
    pub day: i64,
    /// 0 Monday … 6 Sunday.
    pub weekday: u8,
    /// 0-23.
    pub hour: u8,
    pub cpu: f64,
    /// A terminal was attached.
    pub attached: bool,
}

impl HourPoint {
    fn busy(&self) -> bool {
        self.cpu >= IDLE_CPU_BELOW || self.attached
    }
}

/// A power schedule suggested from history: stop at `stop` on
/// `stop_days`, start at `start` on `start_days` (whole hours, day masks
/// Monday bit 0), which keeps the VM off `hours_per_week` hours a week.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerPlan {
    pub stop: u8,
    pub start: u8,
    pub stop_days: u8,
    pub start_days: u8,
    pub hours_per_week: u32,
    /// The evidence, in words ("every night from 20:00 to 08:00").
    pub evidence: String,
}

/// The longest stretch of hours of the day (wrapping past midnight) that
/// were idle on every day the history covers: `(first idle hour, first
/// busy hour after it)`, when it is at least [`MIN_IDLE_HOURS`] long and
/// the history covers at least three days.
pub fn idle_hours(points: &[HourPoint]) -> Option<(u8, u8)> {
    let days: std::collections::BTreeSet<i64> = points.iter().map(|p| p.day).collect();
    if days.len() < 3 {
        return None;
    }
    // An hour is idle when no point in it was busy, and it has points on
    // every day (but the first and last, which the history may cover in
    // part).
    let mut busy = [false; 24];
    let mut seen: [std::collections::BTreeSet<i64>; 24] = Default::default();
    for p in points {
        let h = usize::from(p.hour % 24);
        seen[h].insert(p.day);
        busy[h] |= p.busy();
    }
    let idle: Vec<bool> = (0..24)
        .map(|h| !busy[h] && seen[h].len() >= 3 && seen[h].len() + 2 >= days.len())
        .collect();
    if idle.iter().all(|i| *i) {
        return None;
    }
    // The longest run of idle hours, going round the clock from a busy one.
    let start = idle.iter().position(|i| !i)?;
    let (mut best, mut run_start, mut run) = (None::<(usize, usize)>, 0usize, 0usize);
    for k in 1..=24 {
        let h = (start + k) % 24;
        if idle[h] {
            if run == 0 {
                run_start = h;
            }
            run += 1;
            if best.is_none_or(|(_, len)| run > len) {
                best = Some((run_start, run));
            }
        } else {
            run = 0;
        }
    }
    let (first, len) = best?;
    (len as u32 >= MIN_IDLE_HOURS).then_some((first as u8, ((first + len) % 24) as u8))
}

/// Whether the weekend was idle: `(hour Friday's work ended, hour
/// Monday's began)`, when Saturday and Sunday were seen (most of their
/// hours) and idle throughout, and some Friday and some Monday were busy.
/// Friday's end is 24 when it was busy until midnight.
pub fn idle_weekend(points: &[HourPoint]) -> Option<(u8, u8)> {
    for weekend_day in [SATURDAY, SUNDAY] {
        let of_day = || points.iter().filter(move |p| p.weekday == weekend_day);
        let hours: std::collections::BTreeSet<u8> = of_day().map(|p| p.hour).collect();
        if hours.len() < WEEKEND_HOURS_SEEN || of_day().any(HourPoint::busy) {
            return None;
        }
    }
    let busy_on = |weekday: u8| {
        points
            .iter()
            .filter(move |p| p.weekday == weekday && p.busy())
            .map(|p| p.hour)
    };
    let friday_end = busy_on(FRIDAY).max()? + 1;
    let monday_start = busy_on(MONDAY).min()?;
    Some((friday_end, monday_start))
}

/// The schedule the history suggests, if any:
/// - idle every night and all weekend: stop each weekday evening, start
///   each weekday morning (Friday's stop holds until Monday);
/// - idle every night only: the same, daily;
/// - idle all weekend only: stop when Friday's work ended, start when
///   Monday's began.
pub fn suggest_schedule(points: &[HourPoint]) -> Option<PowerPlan> {
    let nightly = idle_hours(points);
    let weekend = idle_weekend(points);
    let span = |from: u8, to: u8| (i64::from(to) - i64::from(from)).rem_euclid(24) as u32;
    match (nightly, weekend) {
        // An evening stop and a morning start: weekdays only covers the
        // weekend too.
        (Some((stop, start)), Some(_)) if stop > start => Some(PowerPlan {
            stop,
            start,
            stop_days: WEEKDAYS,
            start_days: WEEKDAYS,
            hours_per_week: 4 * span(stop, start) + (24 - u32::from(stop)) + 48 + u32::from(start),
            evidence: format!("every night from {stop:02}:00 to {start:02}:00 and all weekend"),
        }),
        (Some((stop, start)), _) => Some(PowerPlan {
            stop,
            start,
            stop_days: EVERY_DAY,
            start_days: EVERY_DAY,
            hours_per_week: 7 * span(stop, start),
            evidence: format!("every night from {stop:02}:00 to {start:02}:00"),
        }),
        (None, Some((friday_end, monday_start))) => {
            // Busy until midnight on Friday: stop as Saturday begins.
            let (stop, stop_days) = if friday_end >= 24 {
                (0, 1 << SATURDAY)
            } else {
                (friday_end, 1 << FRIDAY)
            };
            let hours = (24 - u32::from(friday_end)) + 48 + u32::from(monday_start);
            (hours >= MIN_IDLE_HOURS).then(|| PowerPlan {
                stop,
                start: monday_start,
                stop_days,
                start_days: 1 << MONDAY,
                hours_per_week: hours,
                evidence: format!(
                    "all weekend, from {friday_end:02}:00 on Friday to {monday_start:02}:00 on \
                     Monday"
                ),
            })
        }
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_95th_percentile_is_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(p95(&v), Some(95.0));
        assert_eq!(p95(&[3.0]), Some(3.0));
        assert_eq!(p95(&[]), None);
        assert!(oversized(10.0, 20.0));
        assert!(!oversized(10.0, 60.0) && !oversized(30.0, 10.0));
    }

    /// Hourly points over `days` days from a Monday, busy when `busy`
    /// says so for (weekday, hour).
    fn history(days: i64, busy: impl Fn(u8, u8) -> bool) -> Vec<HourPoint> {
        (0..days)
            .flat_map(|day| {
                let weekday = (day % 7) as u8;
                let busy = &busy;
                (0..24u8).map(move |hour| HourPoint {
                    day,
                    weekday,
                    hour,
                    cpu: if busy(weekday, hour) { 40.0 } else { 1.0 },
                    attached: false,
                })
            })
            .collect()
    }

    #[test]
    fn the_hours_idle_every_day_make_a_schedule() {
        // Four days: busy 08:00-19:59, idle the rest (through midnight).
        let mut points = history(4, |_, h| (8..20).contains(&h));
        assert_eq!(idle_hours(&points), Some((20, 8)));
        // One night with a terminal attached at 02:00 breaks that stretch.
        points.push(HourPoint {
            day: 2,
            weekday: 2,
            hour: 2,
            cpu: 0.5,
            attached: true,
        });
        assert_eq!(idle_hours(&points), Some((20, 2)));
        // Too little history, or never busy: nothing to suggest.
        assert_eq!(idle_hours(&points[..48]), None);
        assert_eq!(idle_hours(&history(4, |_, _| false)), None);
    }

    #[test]
    fn an_idle_weekend_makes_a_weekday_or_a_weekend_schedule() {
        // Office hours on weekdays, nothing at the weekend: weekday
        // evenings off, and Friday's stop lasts until Monday.
        let office = history(7, |d, h| d < 5 && (8..20).contains(&h));
        let plan = suggest_schedule(&office).unwrap();
        assert_eq!((plan.stop, plan.start), (20, 8));
        assert_eq!((plan.stop_days, plan.start_days), (WEEKDAYS, WEEKDAYS));
        assert_eq!(plan.hours_per_week, 4 * 12 + 4 + 48 + 8);
        // Busy around the clock on weekdays (a build farm), idle at the
        // weekend: stop when Friday's work ended, start Monday morning.
        let farm = history(7, |d, h| {
            (1..4).contains(&d) || (d == 4 && h < 18) || (d == 0 && h >= 6)
        });
        let plan = suggest_schedule(&farm).unwrap();
        assert_eq!((plan.stop, plan.start), (18, 6));
        assert_eq!((plan.stop_days, plan.start_days), (1 << 4, 1));
        assert_eq!(plan.hours_per_week, 6 + 48 + 6);
        assert!(plan.evidence.contains("all weekend"), "{}", plan.evidence);
        // Busy until midnight on Friday: the stop is Saturday 00:00.
        let late = history(7, |d, h| (1..=4).contains(&d) || (d == 0 && h >= 6));
        let plan = suggest_schedule(&late).unwrap();
        assert_eq!((plan.stop, plan.stop_days), (0, 1 << 5));
        // Every night but a busy weekend: daily.
        let nights = history(7, |_, h| (8..20).contains(&h));
        let plan = suggest_schedule(&nights).unwrap();
        assert_eq!((plan.stop_days, plan.hours_per_week), (EVERY_DAY, 7 * 12));
        // A weekend with a busy hour, or one not seen: no weekend plan.
        let saturday_job = history(7, |d, h| d <= 4 || (d == 5 && h == 3));
        assert_eq!(idle_weekend(&saturday_job), None);
        let short: Vec<_> = late.iter().copied().filter(|p| p.day < 6).collect();
        assert_eq!(idle_weekend(&short), None);
    }

    #[test]
    fn the_next_size_down_keeps_the_family() {
        let s = |n: &str, f: &str, v: i64| SizeInfo {
            name: n.into(),
            family: f.into(),
            vcpus: v,
        };
        let sizes = [
            s("Standard_D2s_v5", "dsv5", 2),
            s("Standard_D4s_v5", "dsv5", 4),
            s("Standard_D8s_v5", "dsv5", 8),
            s("Standard_B4ms", "bs", 4),
        ];
        assert_eq!(
            next_size_down(&sizes, "Standard_D8s_v5").unwrap().name,
            "Standard_D4s_v5"
        );
        assert!(next_size_down(&sizes, "Standard_D2s_v5").is_none());
        assert!(next_size_down(&sizes, "Standard_X").is_none());
        assert_eq!(priority(Some(70.0)), Priority::High);
        assert_eq!(priority(None), Priority::Low);
    }
}
