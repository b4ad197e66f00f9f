//! Writes the fleet's metrics history: every [`RAW_STEP`] seconds one point
//! per reporting VM (the average of its samples in that window), and every
//! [`COARSE_STEP`] seconds a downsampling pass that also applies the
//! retention setting.

use std::{sync::Arc, time::Duration};

use crate::state::{
    metrics::{COARSE_STEP, RAW_STEP},
    now_unix,
};

use crate::daemon::Daemon;

pub fn spawn(d: Arc<Daemon>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(RAW_STEP as u64));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_downsample = 0;
        loop {
            tick.tick().await;
            let now = now_unix();
            flush(&d, now);
            if now - last_downsample >= COARSE_STEP {
                last_downsample = now;
                let retention = i64::from(d.config().metrics.retention_days) * 86_400;
                let result = d.db.lock().expect("db lock").downsample(now, retention);
                match result {
                    Ok(done) => tracing::debug!(?done, "metrics downsampled"),
                    Err(e) => tracing::warn!("cannot downsample metrics: {e:#}"),
                }
            }
        }
    });
}

/// Store the windows gathered since the last flush, at the window start.
pub fn flush(d: &Daemon, now: i64) {
    let points: Vec<_> = d
        .live
        .take_windows()
        .into_iter()
        .map(|(vm, w)| (vm, w.point()))
        .collect();
    if points.is_empty() {
        return;
    }
    let t = (now - RAW_STEP).div_euclid(RAW_STEP) * RAW_STEP;
    if let Err(e) = d.db.lock().expect("db lock").insert_points(t, &points) {
        tracing::warn!("cannot store metrics history: {e:#}");
    }
}
