//! A VM's power schedule (pure): a stop time and an optional start time
//! of day, on some days of the week, in an IANA time zone. [`latest`]
//! says when an event last fell due (DST included, by the zone's rules);
//! [`windows_zone`] names the zone as Azure's auto-shutdown wants it,
//! when the zone has a Windows name.
//!
//! Not here: running schedules (the daemon's `schedule_runner`), or
//! writing Azure's auto-shutdown resource (the provider).

use jiff::{Timestamp, civil::Date, tz::TimeZone};

/// A time of day, hours and minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub hour: i8,
    pub minute: i8,
}

impl std::fmt::Display for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

/// Every day of the week.
pub const DAILY: u8 = 0x7f;
const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    #[error("{0:?} is not a time of day: write it as HH:MM, 24-hour (e.g. 19:00)")]
    Clock(String),
    #[error("{0:?} is not a set of days: write Mon-Fri, Sat,Sun, Mon,Wed,Fri or daily")]
    Days(String),
    #[error(
        "{0:?} is not a time zone azlin knows: write an IANA name such as Europe/London or UTC"
    )]
    Zone(String),
}

pub fn parse_clock(text: &str) -> Result<Clock, ScheduleError> {
    let bad = || ScheduleError::Clock(text.chars().take(20).collect());
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let num = |s: &str, max: i8| -> Option<i8> {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    Ok(Clock {
        hour: num(h, 23).ok_or_else(bad)?,
        minute: num(m, 59).ok_or_else(bad)?,
    })
}

fn day_index(name: &str) -> Option<u8> {
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name.trim()))
        .map(|i| i as u8)
}

/// `Mon-Fri`, `Sat,Sun`, `Mon,Wed-Fri`, `daily`: a mask, Monday bit 0.
pub fn parse_days(text: &str) -> Result<u8, ScheduleError> {
    let bad = || ScheduleError::Days(text.chars().take(40).collect());
    if text.trim().eq_ignore_ascii_case("daily") {
        return Ok(DAILY);
    }
    let mut mask = 0u8;
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day_index(a).ok_or_else(bad)?, day_index(b).ok_or_else(bad)?);
                if a > b {
                    return Err(bad());
                }
                for d in a..=b {
                    mask |= 1 << d;
                }
            }
            None => mask |= 1 << day_index(part).ok_or_else(bad)?,
        }
    }
    if mask == 0 { Err(bad()) } else { Ok(mask) }
}

/// The days of `mask`, as `Mon,Tue` or `daily`.
pub fn days_text(mask: u8) -> String {
    if mask & DAILY == DAILY {
        return "daily".into();
    }
    (0..7)
        .filter(|d| mask & (1 << d) != 0)
        .map(|d| NAMES[d as usize])
        .collect::<Vec<_>>()
        .join(",")
}

pub fn zone(name: &str) -> Result<TimeZone, ScheduleError> {
    TimeZone::get(name.trim()).map_err(|_| ScheduleError::Zone(name.chars().take(60).collect()))
}

/// The latest moment (unix seconds) at or before `now` when `clock` fell
/// on one of `days` in `tz`; `None` when none did in the last week.
pub fn latest(clock: Clock, days: u8, tz: &TimeZone, now: i64) -> Option<i64> {
    let now_ts = Timestamp::from_second(now).ok()?;
    let mut date: Date = now_ts.to_zoned_datetime(tz.clone()).date();
    for _ in 0..8 {
        let weekday = date.weekday().to_monday_zero_offset() as u8;
        if days & (1 << weekday) != 0 {
            let at = date
                .at(clock.hour, clock.minute, 0, 0)
                .to_zoned_datetime(tz.clone())
                .ok()?
                .timestamp()
                .as_second();
            if at <= now {
                return Some(at);
            }
        }
        date = date.yesterday().ok()?;
    }
    None
}

/// The Windows time-zone ID of an IANA zone, for Azure's auto-shutdown
/// (which takes only those); `None` for a zone not in this table.
pub fn windows_zone(iana: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("UTC", "UTC"),
        ("Etc/UTC", "UTC"),
        ("Europe/London", "GMT Standard Time"),
        ("Europe/Dublin", "GMT Standard Time"),
        ("Europe/Lisbon", "GMT Standard Time"),
        ("Europe/Berlin", "W. Europe Standard Time"),
        ("Europe/Amsterdam", "W. Europe Standard Time"),
        ("Europe/Zurich", "W. Europe Standard Time"),
        ("Europe/Stockholm", "W. Europe Standard Time"),
        ("Europe/Rome", "W. Europe Standard Time"),
        ("Europe/Vienna", "W. Europe Standard Time"),
        ("Europe/Paris", "Romance Standard Time"),
        ("Europe/Madrid", "Romance Standard Time"),
        ("Europe/Brussels", "Romance Standard Time"),
        ("Europe/Copenhagen", "Romance Standard Time"),
        ("Europe/Warsaw", "Central European Standard Time"),
        ("Europe/Prague", "Central Europe Standard Time"),
        ("Europe/Budapest", "Central Europe Standard Time"),
        ("Europe/Helsinki", "FLE Standard Time"),
        ("Europe/Kiev", "FLE Standard Time"),
        ("Europe/Kyiv", "FLE Standard Time"),
        ("Europe/Athens", "GTB Standard Time"),
        ("Europe/Bucharest", "GTB Standard Time"),
        ("Europe/Istanbul", "Turkey Standard Time"),
        ("Europe/Moscow", "Russian Standard Time"),
        ("America/New_York", "Eastern Standard Time"),
        ("America/Toronto", "Eastern Standard Time"),
        ("America/Chicago", "Central Standard Time"),
        ("America/Denver", "Mountain Standard Time"),
        ("America/Phoenix", "US Mountain Standard Time"),
        ("America/Los_Angeles", "Pacific Standard Time"),
        ("America/Vancouver", "Pacific Standard Time"),
        ("America/Anchorage", "Alaskan Standard Time"),
        ("Pacific/Honolulu", "Hawaiian Standard Time"),
        ("America/Sao_Paulo", "E. South America Standard Time"),
        ("America/Mexico_City", "Central Standard Time (Mexico)"),
        ("Asia/Tokyo", "Tokyo Standard Time"),
        ("Asia/Seoul", "Korea Standard Time"),
        ("Asia/Shanghai", "China Standard Time"),
        ("Asia/Hong_Kong", "China Standard Time"),
        ("Asia/Singapore", "Singapore Standard Time"),
        ("Asia/Kolkata", "India Standard Time"),
        ("Asia/Dubai", "Arabian Standard Time"),
        ("Asia/Jerusalem", "Israel Standard Time"),
        ("Australia/Sydney", "AUS Eastern Standard Time"),
        ("Australia/Melbourne", "AUS Eastern Standard Time"),
        ("Australia/Brisbane", "E. Australia Standard Time"),
        ("Australia/Perth", "W. Australia Standard Time"),
        ("Pacific/Auckland", "New Zealand Standard Time"),
        ("Africa/Johannesburg", "South Africa Standard Time"),
    ];
    TABLE
        .iter()
        .find(|(i, _)| i.eq_ignore_ascii_case(iana.trim()))
        .map(|(_, w)| *w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_days_are_read_strictly() {
        assert_eq!(
            parse_clock("19:05").unwrap(),
            Clock {
                hour: 19,
                minute: 5
            }
        );
        for bad in ["24:00", "7:00", "19.00", "19:60", "", "ab:cd"] {
            assert!(parse_clock(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_days("Mon-Fri").unwrap(), 0b0011111);
        assert_eq!(parse_days("sat,sun").unwrap(), 0b1100000);
        assert_eq!(parse_days("daily").unwrap(), DAILY);
        assert_eq!(
            days_text(parse_days("Mon,Wed-Fri").unwrap()),
            "Mon,Wed,Thu,Fri"
        );
        for bad in ["Fri-Mon", "Funday", "", "Mon,,Tue"] {
            assert!(parse_days(bad).is_err(), "{bad}");
        }
        assert!(zone("Mars/Olympus").is_err());
    }

    #[test]
    fn the_latest_event_follows_the_zone_and_the_days() {
        let berlin = zone("Europe/Berlin").unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap().as_second();
        let seven = Clock {
            hour: 19,
            minute: 0,
        };
        // Friday 2026-12-04 20:00 Berlin (19:00 UTC): 19:00 Berlin was 18:00 UTC.
        assert_eq!(
            latest(seven, DAILY, &berlin, at("2026-12-04T19:00:00Z")),
            Some(at("2026-12-04T18:00:00Z"))
        );
        // On Sunday a Mon-Fri schedule's latest stop was Friday's.
        assert_eq!(
            latest(
                seven,
                parse_days("Mon-Fri").unwrap(),
                &berlin,
                at("2026-12-06T20:00:00Z")
            ),
            Some(at("2026-12-04T18:00:00Z"))
        );
        // Summer time: 19:00 Berlin is 17:00 UTC.
        assert_eq!(
            latest(seven, DAILY, &berlin, at("2026-07-01T18:00:00Z")),
            Some(at("2026-07-01T17:00:00Z"))
        );
        assert_eq!(
            windows_zone("Europe/Berlin"),
            Some("W. Europe Standard Time")
        );
        assert_eq!(windows_zone("Asia/Kathmandu"), None);
    }
}
