//! Figures as people read them: sizes, rates, percentages, ages. Pure
//! functions shared by `list`, `status` and `top`.

/// 1536 → "1.5K", 3.2e9 → "3.0G" (binary units, like `free -h`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}B")
    } else if v < 10.0 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}

/// Bytes per second, compact.
pub fn rate(n: u64) -> String {
    format!("{}/s", bytes(n))
}

/// "used/total (pct%)" for memory and disks.
pub fn used_of(used: u64, total: u64) -> String {
    format!(
        "{}/{} {:.0}%",
        bytes(used),
        bytes(total),
        percent(used, total)
    )
}

pub fn percent(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 * 100.0 / total as f64
    }
}

/// A duration in seconds as "42s", "3m07s", "5h12m", "2d03h".
pub fn duration(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// A sample's age: tenths of a second while fresh, whole seconds after.
pub fn sample_age(ms: u64) -> String {
    if ms < 10_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        duration(ms / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_figures() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024 + 1), "3.0G");
        assert_eq!(bytes(200 * 1024 * 1024), "200M");
        assert_eq!(used_of(1 << 30, 4 << 30), "1.0G/4.0G 25%");
        assert_eq!(percent(1, 0), 0.0);
        assert_eq!(duration(187), "3m07s");
        assert_eq!(duration(90_000), "1d01h");
        assert_eq!(sample_age(420), "0.4s");
        assert_eq!(sample_age(75_000), "1m15s");
    }
}
