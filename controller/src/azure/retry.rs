//! When a request is tried again: connection errors, timeouts, 408, 429
//! and 5xx, up to [`MAX_ATTEMPTS`] in all, waiting what `Retry-After` (or
//! a service's own `x-ms-ratelimit-*-retry-after`) asks
//! or else an exponential backoff with jitter (0.5 s doubling to 30 s). A
//! pure decision; [`super::client`] sleeps.

use std::time::Duration;

pub const MAX_ATTEMPTS: u32 = 6;

/// What came back from one attempt.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// No response: connection refused or reset, timed out.
    NoResponse,
    Status(u16),
}

/// How long to wait before attempt `attempt + 1` (`attempt` counts from 1),
/// or `None` to give up and report this outcome. `jitter` is in [0, 1).
pub fn delay(
    attempt: u32,
    outcome: Outcome,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    let retryable = match outcome {
        Outcome::NoResponse => true,
        Outcome::Status(s) => s == 408 || s == 429 || (500..600).contains(&s) && s != 501,
    };
    if !retryable || attempt >= MAX_ATTEMPTS {
        return None;
    }
    if let Some(wait) = retry_after {
        return Some(wait.min(Duration::from_secs(600)));
    }
    let base = 0.5 * 2f64.powi(attempt.saturating_sub(1) as i32);
    let secs = base.min(30.0) * (0.75 + 0.5 * jitter.clamp(0.0, 1.0));
    Some(Duration::from_secs_f64(secs))
}

/// How long a response asks to wait: `Retry-After` in seconds, or the
/// longest of the `x-ms-ratelimit-*-retry-after` headers some services
/// send instead (Cost Management's `…costmanagement-qpu-retry-after`,
/// `-entity-`, `-tenant-`, `-clienttype-`).
pub fn retry_after<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Duration> {
    headers
        .into_iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            name == "retry-after"
                || (name.starts_with("x-ms-ratelimit-") && name.ends_with("-retry-after"))
        })
        .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
        .max()
        .map(Duration::from_secs)
}

/// A uniform random number in [0, 1) for [`delay`]'s jitter.
pub fn jitter() -> f64 {
    let mut b = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_what_may_pass_later_and_nothing_else() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(delay(1, Outcome::Status(s), None, 0.5).is_some(), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 501] {
            assert!(delay(1, Outcome::Status(s), None, 0.5).is_none(), "{s}");
        }
        assert!(delay(1, Outcome::NoResponse, None, 0.5).is_some());
        assert!(delay(MAX_ATTEMPTS, Outcome::Status(503), None, 0.5).is_none());
    }

    #[test]
    fn the_longest_wait_any_throttling_header_asks_is_taken() {
        assert_eq!(
            retry_after([("Retry-After", "3"), ("content-type", "x")]),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after([
                (
                    "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
                    "20"
                ),
                (
                    "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
                    "45"
                ),
                ("x-ms-ratelimit-remaining-subscription-reads", "11999"),
            ]),
            Some(Duration::from_secs(45))
        );
        assert_eq!(retry_after([("retry-after", "soon")]), None);
        assert_eq!(
            retry_after([("x-ms-ratelimit-remaining-subscription-reads", "5")]),
            None
        );
    }

    #[test]
    fn retry_after_is_honoured_and_backoff_grows_to_a_cap() {
        let ra = Some(Duration::from_secs(7));
        assert_eq!(delay(1, Outcome::Status(429), ra, 0.9), ra);
        let d: Vec<f64> = (1..MAX_ATTEMPTS)
            .map(|a| {
                delay(a, Outcome::Status(503), None, 0.5)
                    .unwrap()
                    .as_secs_f64()
            })
            .collect();
        assert_eq!(d[0], 0.5);
        assert!(d.windows(2).all(|w| w[1] >= w[0]), "{d:?}");
        assert!(d.iter().all(|&s| s <= 30.0 * 1.25));
    }
}
