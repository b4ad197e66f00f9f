//! What a run of daily costs says: its direction (a least-squares line
//! through the days, called stable when it moves less than 2% of the
//! mean a day) and the days more than two standard deviations from the
//! mean. Days with no figure are left out, never taken as zero.

use super::dates::Day;

/// Which way daily cost is going.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    Increasing,
    Decreasing,
    Stable,
}

/// A run of days, summed up.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trend {
    pub direction: Direction,
    /// Change per day of the fitted line, in the days' currency.
    pub per_day: f64,
    pub mean: f64,
    pub std_dev: f64,
    /// Days more than two standard deviations from the mean.
    pub anomalies: Vec<(String, f64)>,
}

/// Below this share of the mean per day, a line counts as flat.
const STABLE_SHARE: f64 = 0.02;

/// The trend of `days` (day, cost), or `None` with fewer than three.
pub fn trend(days: &[(Day, f64)]) -> Option<Trend> {
    if days.len() < 3 {
        return None;
    }
    let first = days.iter().map(|(d, _)| *d).min()?;
    let xs: Vec<f64> = days
        .iter()
        .map(|(d, _)| first.days_until(*d) as f64)
        .collect();
    let ys: Vec<f64> = days.iter().map(|(_, c)| *c).collect();
    let n = ys.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = if sxx == 0.0 { 0.0 } else { sxy / sxx };
    let std_dev = (ys.iter().map(|y| (y - my).powi(2)).sum::<f64>() / n).sqrt();
    let direction = if slope.abs() < STABLE_SHARE * my.abs() || slope == 0.0 {
        Direction::Stable
    } else if slope > 0.0 {
        Direction::Increasing
    } else {
        Direction::Decreasing
    };
    let anomalies = days
        .iter()
        .filter(|(_, c)| std_dev > 0.0 && (c - my).abs() > 2.0 * std_dev)
        .map(|(d, c)| (d.to_string(), *c))
        .collect();
    Some(Trend {
        direction,
        per_day: slope,
        mean: my,
        std_dev,
        anomalies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(costs: &[f64]) -> Vec<(Day, f64)> {
        let start = Day::parse("2026-11-01").unwrap();
        costs
            .iter()
            .enumerate()
            .map(|(i, c)| (start.plus(i as i64), *c))
            .collect()
    }

    #[test]
    fn direction_follows_the_line_and_flat_is_stable() {
        let up = trend(&run(&[10.0, 11.0, 12.0, 13.0, 14.0])).unwrap();
        assert_eq!(up.direction, Direction::Increasing);
        assert!((up.per_day - 1.0).abs() < 1e-9);
        let down = trend(&run(&[14.0, 13.0, 12.0, 11.0])).unwrap();
        assert_eq!(down.direction, Direction::Decreasing);
        let flat = trend(&run(&[10.0, 10.1, 9.9, 10.0, 10.05])).unwrap();
        assert_eq!(flat.direction, Direction::Stable);
        assert!(trend(&run(&[1.0, 2.0])).is_none());
    }

    #[test]
    fn a_day_far_from_the_mean_is_an_anomaly() {
        let mut costs = vec![10.0; 20];
        costs[12] = 60.0;
        let t = trend(&run(&costs)).unwrap();
        assert_eq!(t.anomalies, vec![("2026-11-13".to_string(), 60.0)]);
        assert!(trend(&run(&[5.0; 10])).unwrap().anomalies.is_empty());
    }
}
