//! The newest sample of every VM, how old it is, and the running averages
//! the history table is written from.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use azlin_protocol::telemetry::Sample;
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How fresh a VM's newest sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Freshness {
    /// Arrived within the last few intervals.
    Live,
    /// Late: a few intervals missed; the figures may be out of date.
    Stale,
    /// No sample for long, or the link is down: the figures are history.
    Lost,
}

/// Missed intervals before a VM shows as stale.
pub const STALE_AFTER_INTERVALS: u32 = 3;
/// Missed intervals before a VM shows as lost, even with its link up.
pub const LOST_AFTER_INTERVALS: u32 = 10;

/// Judge a sample `age` old from an agent sampling every `interval`, whose
/// link is `connected` or not.
pub fn freshness(age: Duration, interval: Duration, connected: bool) -> Freshness {
    if !connected || age > interval * LOST_AFTER_INTERVALS {
        Freshness::Lost
    } else if age > interval * STALE_AFTER_INTERVALS {
        Freshness::Stale
    } else {
        Freshness::Live
    }
}

/// One VM's newest sample and when it arrived.
#[derive(Debug, Clone)]
pub struct Latest {
    pub sample: Sample,
    pub received: Instant,
}

impl Latest {
    pub fn age(&self) -> Duration {
        self.received.elapsed()
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.sample.interval_ms))
    }
}

/// Sums of the samples since the last history write, so a stored point is
/// the average over its window rather than whichever sample came last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub samples: u32,
    pub cpu: f64,
    pub load1: f64,
    pub memory_used: f64,
    pub disk_used: f64,
    pub rx: f64,
    pub tx: f64,
    /// Totals and counts are taken from the newest sample.
    pub memory_total: u64,
    pub disk_total: u64,
    pub tmux_sessions: u32,
}

impl Window {
    fn add(&mut self, s: &Sample) {
        let disk = s.main_filesystem();
        self.samples += 1;
        self.cpu += f64::from(s.cpu_percent);
        self.load1 += f64::from(s.load[0]);
        self.memory_used += s.memory_used as f64;
        self.disk_used += disk.map_or(0.0, |f| f.used as f64);
        self.rx += s.rx_bytes_per_sec() as f64;
        self.tx += s.tx_bytes_per_sec() as f64;
        self.memory_total = s.memory_total;
        self.disk_total = disk.map_or(0, |f| f.total);
        self.tmux_sessions = s.tmux_sessions().len() as u32;
    }

    /// The window's averages as one history point.
    pub fn point(&self) -> Point {
        let n = f64::from(self.samples.max(1));
        Point {
            cpu: self.cpu / n,
            load1: self.load1 / n,
            memory_used: (self.memory_used / n) as i64,
            memory_total: self.memory_total as i64,
            disk_used: (self.disk_used / n) as i64,
            disk_total: self.disk_total as i64,
            rx: (self.rx / n) as i64,
            tx: (self.tx / n) as i64,
            tmux_sessions: i64::from(self.tmux_sessions),
        }
    }
}

/// One stored history point (averages over its step).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Point {
    pub cpu: f64,
    pub load1: f64,
    pub memory_used: i64,
    pub memory_total: i64,
    pub disk_used: i64,
    pub disk_total: i64,
    pub rx: i64,
    pub tx: i64,
    pub tmux_sessions: i64,
}

#[derive(Default)]
struct Entry {
    latest: Option<Latest>,
    window: Window,
}

/// Every VM's newest sample. Cheap to update (one lock, one map entry) so
/// thousands of agents at 1 Hz cost little.
#[derive(Default)]
pub struct LiveStore {
    vms: Mutex<HashMap<String, Entry>>,
}

impl LiveStore {
    pub fn update(&self, vm: &str, sample: Sample) {
        let mut vms = self.vms.lock().expect("live lock");
        let entry = match vms.get_mut(vm) {
            Some(e) => e,
            None => vms.entry(vm.to_string()).or_default(),
        };
        entry.window.add(&sample);
        entry.latest = Some(Latest {
            sample,
            received: Instant::now(),
        });
    }

    pub fn latest(&self, vm: &str) -> Option<Latest> {
        self.vms
            .lock()
            .expect("live lock")
            .get(vm)
            .and_then(|e| e.latest.clone())
    }

    /// Every VM's newest sample, for the exposition.
    pub fn all(&self) -> Vec<(String, Latest)> {
        let vms = self.vms.lock().expect("live lock");
        let mut all: Vec<(String, Latest)> = vms
            .iter()
            .filter_map(|(vm, e)| Some((vm.clone(), e.latest.clone()?)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Take the windows gathered since the last call (VMs with samples only).
    pub fn take_windows(&self) -> Vec<(String, Window)> {
        let mut vms = self.vms.lock().expect("live lock");
        vms.iter_mut()
            .filter(|(_, e)| e.window.samples > 0)
            .map(|(vm, e)| (vm.clone(), std::mem::take(&mut e.window)))
            .collect()
    }

    pub fn forget(&self, vm: &str) {
        self.vms.lock().expect("live lock").remove(vm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_follows_the_agents_interval_and_the_link() {
        let s = Duration::from_secs(1);
        assert_eq!(
            freshness(Duration::from_millis(900), s, true),
            Freshness::Live
        );
        assert_eq!(
            freshness(Duration::from_millis(3100), s, true),
            Freshness::Stale
        );
        assert_eq!(freshness(Duration::from_secs(11), s, true), Freshness::Lost);
        assert_eq!(freshness(Duration::ZERO, s, false), Freshness::Lost);
        let slow = Duration::from_secs(10);
        assert_eq!(
            freshness(Duration::from_secs(25), slow, true),
            Freshness::Live
        );
    }

    fn sample(cpu: f32, mem: u64) -> Sample {
        Sample {
            taken_at_ms: 0,
            interval_ms: 1000,
            cpu_percent: cpu,
            per_core: vec![cpu],
            load: [1.0, 0.0, 0.0],
            memory_used: mem,
            memory_total: 1000,
            swap_used: 0,
            swap_total: 0,
            filesystems: vec![],
            interfaces: vec![],
            uptime_secs: 1,
            users: 0,
            processes: 1,
            tmux: azlin_protocol::telemetry::Tmux::Sessions(vec![]),
        }
    }

    #[test]
    fn windows_average_and_reset() {
        let store = LiveStore::default();
        store.update("a", sample(10.0, 100));
        store.update("a", sample(30.0, 300));
        store.update("b", sample(50.0, 500));
        assert_eq!(store.latest("a").unwrap().sample.cpu_percent, 30.0);
        let mut w = store.take_windows();
        w.sort_by(|x, y| x.0.cmp(&y.0));
        let p = w[0].1.point();
        assert_eq!((p.cpu, p.memory_used, p.memory_total), (20.0, 200, 1000));
        assert!(store.take_windows().is_empty(), "windows restart empty");
        assert_eq!(store.all().len(), 2, "latest samples stay");
        store.forget("a");
        assert!(store.latest("a").is_none());
    }
}
