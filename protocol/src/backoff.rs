//! Capped exponential backoff with jitter, as plain state.
//!
//! The caller supplies randomness (a value in `0.0..1.0`, see [`random_unit`]),
//! so the sequence is deterministic under test.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// Start at `base`, double per failure, never above `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The redial schedule used between agent and daemon: 100 ms doubling to
    /// a 1 s cap, so a peer that comes back is found within about a second.
    pub fn redial() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(1))
    }

    /// Delay before the next attempt. "Equal jitter": half the exponential
    /// step is fixed and half is random, so peers that failed together spread
    /// out while no delay exceeds the cap.
    pub fn next_delay(&mut self, random_unit: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX));
        let step = exp.min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        half + half.mul_f64(random_unit.clamp(0.0, 1.0))
    }

    /// Forget past failures after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A uniform random value in `0.0..1.0` from the OS, for jitter.
pub fn random_unit() -> f64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let maxed: Vec<_> = (0..8).map(|_| b.next_delay(1.0)).collect();
        assert_eq!(maxed[0], Duration::from_millis(100));
        assert_eq!(maxed[1], Duration::from_millis(200));
        assert_eq!(maxed[3], Duration::from_millis(800));
        assert!(maxed[4..].iter().all(|d| *d == Duration::from_secs(1)));
        b.reset();
        assert_eq!(b.next_delay(0.0), Duration::from_millis(50));
    }

    #[test]
    fn jitter_stays_within_half_to_full_step() {
        let mut b = Backoff::redial();
        for _ in 0..40 {
            b.next_delay(0.5);
        }
        let d = b.next_delay(0.0);
        assert_eq!(d, Duration::from_millis(500));
        let d = b.next_delay(7.0);
        assert_eq!(d, Duration::from_secs(1));
    }
}
