//! The daemon's own running totals, for `/metrics` and `azlin daemon
//! status`. Relaxed atomics: each is an independent count.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Counters {
    pub frames_received: AtomicU64,
    pub samples_received: AtomicU64,
    pub samples_rejected: AtomicU64,
    pub samples_clamped: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub queries: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
