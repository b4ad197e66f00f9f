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

/// The longest stretch of hours of the day (wrapping past midnight) that
/// were idle on every day the history covers: `(first idle hour, first
/// busy hour after it)`, when it is at least [`MIN_IDLE_HOURS`] long and
/// the history covers at least three days. `points` are (local day
/// number, local hour 0-23, CPU percent, any terminal attached).
pub fn idle_hours(points: &[(i64, u8, f64, bool)]) -> Option<(u8, u8)> {
    let days: std::collections::BTreeSet<i64> = points.iter().map(|p| p.0).collect();
    if days.len() < 3 {
        return None;
    }
    // An hour is idle when no point in it was busy, and it has points on
    // every day (but the first and last, which the history may cover in
    // part).
    let mut busy = [false; 24];
    let mut seen: [std::collections::BTreeSet<i64>; 24] = Default::default();
    for &(day, hour, cpu, attached) in points {
        let h = usize::from(hour % 24);
        seen[h].insert(day);
        if cpu >= IDLE_CPU_BELOW || attached {
            busy[h] = true;
        }
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

    #[test]
    fn the_hours_idle_every_day_make_a_schedule() {
        // Four days: busy 08:00-19:59, idle the rest (through midnight).
        let mut points = Vec::new();
        for day in 0..4 {
            for hour in 0..24u8 {
                let cpu = if (8..20).contains(&hour) { 40.0 } else { 1.0 };
                points.push((day, hour, cpu, false));
            }
        }
        assert_eq!(idle_hours(&points), Some((20, 8)));
        // One night with a terminal attached at 02:00 breaks that stretch.
        points.push((2, 2, 0.5, true));
        assert_eq!(idle_hours(&points), Some((20, 2)));
        // Too little history, or never busy: nothing to suggest.
        assert_eq!(idle_hours(&points[..48]), None);
        let quiet: Vec<_> = (0..4)
            .flat_map(|d| (0..24u8).map(move |h| (d, h, 0.5, false)))
            .collect();
        assert_eq!(idle_hours(&quiet), None);
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
