//! Telemetry: take a [`Sample`] of this VM every interval and keep only the
//! newest, for the session to push.
//!
//! - [`sampler`]: CPU, memory, load, filesystems, network, uptime (sysinfo).
//! - [`filesystems`]: which mounts are real disks.
//! - [`users`]: logged-in sessions, read from utmp.
//! - [`tmux`]: the VM user's tmux sessions, from the real `tmux` binary, in
//!   its own task so a missing or hung tmux never stalls sampling.
//!
//! Not here: sending (see [`crate::session`]) or on-demand process lists
//! (see [`crate::processes`]).

pub mod filesystems;
pub mod sampler;
pub mod tmux;
pub mod users;

use std::time::Duration;

use azlin_protocol::telemetry::Sample;
use tokio::sync::watch;

use crate::config::TelemetryConfig;

/// Sample forever at the configured interval, publishing each sample into
/// `out`; a reader that falls behind sees only the newest.
pub async fn run(
    config: TelemetryConfig,
    user: Option<String>,
    out: watch::Sender<Option<Sample>>,
) {
    let interval = Duration::from_millis(u64::from(config.interval_ms));
    let tmux = tmux::spawn_reader(config.clone(), user, interval);
    let mut sampler = sampler::Sampler::new(config.interval_ms);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let sample = sampler.sample(tmux.borrow().clone());
        out.send_replace(Some(sample));
    }
}
