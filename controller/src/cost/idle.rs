//! Idle autostop, decided (pure): a VM in use (a terminal attached, a
//! command from azlin running, or CPU at or above its threshold) is busy
//! now; one idle for its whole `idle` time is stopped, unless a keepalive
//! holds it; a warning goes out [`WARN_BEFORE`] before (or halfway, for
//! an idle time shorter than twice that), once per idle stretch.

/// How long before the stop the warning goes out.
pub const WARN_BEFORE: i64 = 10 * 60;

/// What the watcher does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// In use: the idle stretch starts again.
    Busy,
    Wait,
    Warn,
    Stop,
}

/// When, within an idle time of `idle_secs`, the warning goes out.
pub fn warn_after(idle_secs: i64) -> i64 {
    (idle_secs - WARN_BEFORE).max(idle_secs / 2)
}

/// The step for a VM last busy at `last_busy`, now `now`.
pub fn step(
    busy_now: bool,
    now: i64,
    last_busy: i64,
    idle_secs: i64,
    keepalive_until: i64,
    warned: bool,
) -> Step {
    if busy_now {
        return Step::Busy;
    }
    // A keepalive counts as being in use until it ends.
    let since = last_busy.max(keepalive_until);
    let idle_for = now - since;
    if idle_for >= idle_secs {
        Step::Stop
    } else if idle_for >= warn_after(idle_secs) && !warned {
        Step::Warn
    } else {
        Step::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_warns_once_then_stops_and_use_or_keepalive_hold_it() {
        let h = 3600;
        assert_eq!(step(true, 10 * h, 0, 2 * h, 0, false), Step::Busy);
        assert_eq!(step(false, h, 0, 2 * h, 0, false), Step::Wait);
        assert_eq!(step(false, 2 * h - 600, 0, 2 * h, 0, false), Step::Warn);
        assert_eq!(step(false, 2 * h - 600, 0, 2 * h, 0, true), Step::Wait);
        assert_eq!(step(false, 2 * h, 0, 2 * h, 0, true), Step::Stop);
        // Kept alive until 3 h: idle counts from then.
        assert_eq!(step(false, 4 * h, 0, 2 * h, 3 * h, true), Step::Wait);
        assert_eq!(step(false, 5 * h, 0, 2 * h, 3 * h, true), Step::Stop);
        assert_eq!(warn_after(60), 30);
    }
}
