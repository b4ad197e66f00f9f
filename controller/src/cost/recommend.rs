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
