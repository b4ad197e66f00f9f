//! Take one [`Sample`] of this machine with sysinfo.
//!
//! Only the cheap parts are refreshed each interval (CPU, memory,
//! filesystems, network: well under a millisecond together); the process
//! table is not refreshed here, only counted from `/proc`, because a full
//! refresh costs milliseconds per second and most of the agent's CPU budget.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use azlin_protocol::telemetry::{Filesystem, Interface, Sample, Tmux};
use sysinfo::{Disks, Networks, System};

use super::{filesystems, users};

pub struct Sampler {
    interval_ms: u32,
    system: Option<System>,
    disks: Option<Disks>,
    networks: Option<Networks>,
    networks_at: Instant,
}

impl Sampler {
    pub fn new(interval_ms: u32) -> Self {
        let mut system = System::new().ok();
        if let Some(s) = &mut system {
            // CPU usage is a difference between two refreshes; prime it.
            s.refresh_cpu_usage();
        }
        Self {
            interval_ms,
            system,
            disks: Disks::new().ok(),
            networks: Networks::new_with_refreshed_list().ok(),
            networks_at: Instant::now(),
        }
    }

    pub fn sample(&mut self, tmux: Tmux) -> Sample {
        let taken_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let (cpu_percent, per_core, memory) = match &mut self.system {
            Some(s) => {
                s.refresh_cpu_usage();
                s.refresh_memory();
                (
                    s.global_cpu_usage(),
                    s.cpus().iter().map(|c| c.usage()).collect(),
                    [
                        s.used_memory(),
                        s.total_memory(),
                        s.used_swap(),
                        s.total_swap(),
                    ],
                )
            }
            None => (0.0, Vec::new(), [0; 4]),
        };
        let load = System::load_average()
            .map(|l| [l.one as f32, l.five as f32, l.fifteen as f32])
            .unwrap_or([0.0; 3]);
        Sample {
            taken_at_ms,
            interval_ms: self.interval_ms,
            cpu_percent,
            per_core,
            load,
            memory_used: memory[0],
            memory_total: memory[1],
            swap_used: memory[2],
            swap_total: memory[3],
            filesystems: self.filesystems(),
            interfaces: self.interfaces(),
            uptime_secs: System::uptime().unwrap_or(0),
            users: users::count(std::path::Path::new(users::UTMP)),
            processes: process_count(),
            tmux,
        }
    }

    fn filesystems(&mut self) -> Vec<Filesystem> {
        let Some(disks) = &mut self.disks else {
            return Vec::new();
        };
        // Mounts come and go (USB, network shares): relist each time; it is
        // one read of /proc/mounts and a statvfs per mount.
        disks.refresh(true);
        let mounts = disks
            .iter()
            .map(|d| filesystems::Mount {
                device: d.name().to_string_lossy().into_owned(),
                mount: d.mount_point().to_string_lossy().into_owned(),
                fs_type: d.file_system().to_string_lossy().into_owned(),
                used: d.total_space().saturating_sub(d.available_space()),
                total: d.total_space(),
            })
            .collect();
        filesystems::select(mounts)
            .into_iter()
            .map(|m| Filesystem {
                mount: m.mount,
                fs_type: m.fs_type,
                used: m.used,
                total: m.total,
            })
            .collect()
    }

    fn interfaces(&mut self) -> Vec<Interface> {
        let Some(networks) = &mut self.networks else {
            return Vec::new();
        };
        networks.refresh(true);
        let now = Instant::now();
        let elapsed_ms = now.duration_since(self.networks_at).as_millis().max(1) as u64;
        self.networks_at = now;
        let mut list: Vec<Interface> = networks
            .iter()
            .filter(|(name, _)| name.as_os_str() != "lo")
            .map(|(name, data)| Interface {
                name: name.to_string_lossy().into_owned(),
                rx_bytes_per_sec: data.received().saturating_mul(1000) / elapsed_ms,
                tx_bytes_per_sec: data.transmitted().saturating_mul(1000) / elapsed_ms,
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }
}

/// Processes running now: the numeric entries of `/proc`.
pub fn process_count() -> u32 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let n = dir
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use azlin_protocol::telemetry;

    /// Two real samples of this machine, with real CPU work between them.
    #[test]
    fn samples_this_machine() {
        let mut s = Sampler::new(1000);
        std::thread::sleep(std::time::Duration::from_millis(250));
        let first = s.sample(Tmux::Sessions(vec![]));
        let end = Instant::now() + std::time::Duration::from_millis(300);
        let mut x = 0u64;
        while Instant::now() < end {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let second = s.sample(Tmux::Sessions(vec![]));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        for sample in [first, second.clone()] {
            let checked = telemetry::check(sample, now).unwrap();
            assert!(!checked.clamped, "a real sample needs no clamping");
        }
        assert!(second.cpu_percent > 0.0, "busy loop not seen");
        assert_eq!(
            second.per_core.len(),
            std::thread::available_parallelism().unwrap().get()
        );
        assert!(second.memory_total > 0 && second.memory_used > 0);
        assert!(second.processes > 1);
        assert!(second.uptime_secs > 0);
        assert!(second.load.iter().all(|l| *l >= 0.0));
        assert!(
            second
                .filesystems
                .iter()
                .all(|f| f.fs_type != "tmpfs" && f.fs_type != "overlay" && f.total > 0)
        );
        let bytes = postcard::to_stdvec(&second).unwrap();
        assert!(bytes.len() < 1024, "{} bytes", bytes.len());
    }
}
