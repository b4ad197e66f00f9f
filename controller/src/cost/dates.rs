//! Calendar days (UTC) as cost reports use them: parsed from the user's
//! `YYYY-MM-DD` and from Cost Management's `20261204` numbers, split into
//! ranges a single query may ask for, and the month a day is in.
//!
//! Not here: time of day or time zones (bills are by UTC day).

use std::fmt;

use time::{Date, Month};

/// One UTC calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(Date);

/// The longest range one Cost Management query is asked for: longer
/// ranges are split into ranges of at most this many days.
pub const MAX_QUERY_DAYS: i64 = 31;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DateError {
    #[error("{0:?} is not a date: write it as YYYY-MM-DD (e.g. 2026-11-01)")]
    Malformed(String),
    #[error("--from {from} is after --to {to}: give the earlier date first")]
    Reversed { from: Day, to: Day },
}

impl Day {
    pub fn new(year: i32, month: u8, day: u8) -> Option<Day> {
        let month = Month::try_from(month).ok()?;
        Date::from_calendar_date(year, month, day).ok().map(Day)
    }

    /// `YYYY-MM-DD`, as the user writes it.
    pub fn parse(text: &str) -> Result<Day, DateError> {
        let bad = || DateError::Malformed(text.chars().take(40).collect());
        let parts: Vec<&str> = text.trim().split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let num = |s: &str| -> Option<u32> {
            s.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| s.parse().ok())
                .flatten()
        };
        let (Some(y), Some(m), Some(d)) = (num(y), num(m), num(d)) else {
            return Err(bad());
        };
        Day::new(y as i32, m as u8, d as u8).ok_or_else(bad)
    }

    /// Cost Management's `UsageDate`: the number `YYYYMMDD`.
    pub fn from_number(n: u64) -> Option<Day> {
        let (y, m, d) = (n / 10000, n / 100 % 100, n % 100);
        if !(1900..=9999).contains(&y) {
            return None;
        }
        Day::new(y as i32, m as u8, d as u8)
    }

    /// The number `YYYYMMDD`, as Cost Management's `UsageDate` writes it.
    pub fn number(self) -> u32 {
        self.0.year() as u32 * 10000
            + u32::from(self.0.month() as u8) * 100
            + u32::from(self.0.day())
    }

    /// Today, in UTC, from seconds since the epoch.
    pub fn of_unix(secs: i64) -> Day {
        let date = time::OffsetDateTime::from_unix_timestamp(secs)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .date();
        Day(date)
    }

    /// Seconds since the epoch at this day's 00:00 UTC.
    pub fn unix(self) -> i64 {
        self.0.midnight().assume_utc().unix_timestamp()
    }

    pub fn plus(self, days: i64) -> Day {
        Day(self.0 + time::Duration::days(days))
    }

    /// Days from `self` to `later` (0 for the same day).
    pub fn days_until(self, later: Day) -> i64 {
        (later.0 - self.0).whole_days()
    }

    pub fn first_of_month(self) -> Day {
        Day(self.0.replace_day(1).expect("every month has a first"))
    }

    pub fn last_of_month(self) -> Day {
        let len = self.0.month().length(self.0.year());
        Day(self.0.replace_day(len).expect("a month's last day exists"))
    }

    pub fn year(self) -> i32 {
        self.0.year()
    }

    pub fn month(self) -> u8 {
        self.0.month() as u8
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            self.0.month() as u8,
            self.0.day()
        )
    }
}

/// The days `from` to `to`, both included, checked in order.
pub fn range(from: Day, to: Day) -> Result<(Day, Day), DateError> {
    if from > to {
        return Err(DateError::Reversed { from, to });
    }
    Ok((from, to))
}

/// `from..=to` cut into consecutive ranges of at most
/// [`MAX_QUERY_DAYS`] days, in order.
pub fn split(from: Day, to: Day) -> Vec<(Day, Day)> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = start.plus(MAX_QUERY_DAYS - 1).min(to);
        out.push((start, end));
        start = end.plus(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Day {
        Day::parse(s).unwrap()
    }

    #[test]
    fn dates_are_read_strictly() {
        assert_eq!(d("2026-02-28").to_string(), "2026-02-28");
        for bad in [
            "2026-02-30",
            "2026-2-01",
            "26-02-01",
            "2026/02/01",
            "",
            "2026-02-01x",
            "+026-02-01",
        ] {
            assert!(
                matches!(Day::parse(bad), Err(DateError::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(Day::from_number(20180417), Some(d("2018-04-17")));
        assert_eq!(Day::from_number(20181340), None);
        assert_eq!(d("2018-04-07").number(), 20180407);
        assert!(matches!(
            range(d("2026-03-02"), d("2026-03-01")),
            Err(DateError::Reversed { .. })
        ));
    }

    #[test]
    fn long_ranges_split_into_query_sized_pieces_that_cover_every_day_once() {
        let (from, to) = (d("2026-01-15"), d("2026-04-20"));
        let parts = split(from, to);
        assert!(parts.len() > 1);
        assert_eq!(parts[0].0, from);
        assert_eq!(parts.last().unwrap().1, to);
        for w in parts.windows(2) {
            assert_eq!(w[0].1.plus(1), w[1].0);
        }
        for (a, b) in &parts {
            assert!(a.days_until(*b) < MAX_QUERY_DAYS);
        }
        assert_eq!(split(from, from), vec![(from, from)]);
    }

    #[test]
    fn months_and_epoch_days() {
        assert_eq!(d("2028-02-10").last_of_month(), d("2028-02-29"));
        assert_eq!(d("2026-12-04").first_of_month(), d("2026-12-01"));
        let day = d("2026-12-04");
        assert_eq!(Day::of_unix(day.unix() + 86399), day);
    }
}
