//! One telemetry sample: what an agent pushes about its VM every interval,
//! and the checks the controller runs on it before believing it.
//!
//! [`check`] is pure: a sample from a buggy or hostile agent (NaN, negative
//! figures, used > total, a million disks, terminal escapes in a tmux
//! session name) is rejected or clamped here, so the rest of the fleet and
//! the terminal that shows it are never disturbed.
//!
//! Not here: how a sample is taken (the agent's `telemetry` module) or sent
//! (a dedicated QUIC stream, see [`crate::stream`]).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest encoded sample frame; a frame announcing more ends the stream.
pub const MAX_SAMPLE_FRAME: usize = 256 * 1024;
/// Most CPU cores kept from one sample.
pub const MAX_CORES: usize = 1024;
/// Most filesystems kept from one sample.
pub const MAX_FILESYSTEMS: usize = 64;
/// Most network interfaces kept from one sample.
pub const MAX_INTERFACES: usize = 64;
/// Most tmux sessions kept from one sample.
pub const MAX_TMUX_SESSIONS: usize = 256;
/// Longest name (mount point, interface, session) kept, in bytes.
pub const MAX_NAME: usize = 255;
/// Shortest and longest sampling interval an agent may announce.
pub const MIN_INTERVAL_MS: u32 = 100;
pub const MAX_INTERVAL_MS: u32 = 3_600_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When the agent took it, in milliseconds since the Unix epoch.
    pub taken_at_ms: u64,
    /// How often this agent samples, so the controller knows when a VM has
    /// gone quiet.
    pub interval_ms: u32,
    /// CPU busy, 0-100 over the whole machine.
    pub cpu_percent: f32,
    /// CPU busy per core, 0-100 each.
    pub per_core: Vec<f32>,
    /// Load average over 1, 5 and 15 minutes.
    pub load: [f32; 3],
    pub memory_used: u64,
    pub memory_total: u64,
    pub swap_used: u64,
    pub swap_total: u64,
    /// Real filesystems only (no tmpfs, overlay, proc …).
    pub filesystems: Vec<Filesystem>,
    pub interfaces: Vec<Interface>,
    pub uptime_secs: u64,
    /// Logged-in user sessions (utmp).
    pub users: u32,
    pub processes: u32,
    pub tmux: Tmux,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filesystem {
    pub mount: String,
    pub fs_type: String,
    pub used: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    pub rx_bytes_per_sec: u64,
    pub tx_bytes_per_sec: u64,
}

/// The VM user's tmux sessions, or why they could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Tmux {
    Sessions(Vec<TmuxSession>),
    Unavailable { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TmuxSession {
    pub name: String,
    pub attached: bool,
    pub windows: u32,
    /// When the session was created, seconds since the Unix epoch.
    pub created_unix: u64,
}

impl Sample {
    /// The root filesystem if there is one, else the largest.
    pub fn main_filesystem(&self) -> Option<&Filesystem> {
        self.filesystems
            .iter()
            .find(|f| f.mount == "/")
            .or_else(|| self.filesystems.iter().max_by_key(|f| f.total))
    }

    pub fn rx_bytes_per_sec(&self) -> u64 {
        self.interfaces
            .iter()
            .fold(0u64, |a, i| a.saturating_add(i.rx_bytes_per_sec))
    }

    pub fn tx_bytes_per_sec(&self) -> u64 {
        self.interfaces
            .iter()
            .fold(0u64, |a, i| a.saturating_add(i.tx_bytes_per_sec))
    }

    pub fn tmux_sessions(&self) -> &[TmuxSession] {
        match &self.tmux {
            Tmux::Sessions(s) => s,
            Tmux::Unavailable { .. } => &[],
        }
    }
}

/// Why a sample was thrown away whole.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SampleError {
    #[error("{field} is not a finite number")]
    NotFinite { field: &'static str },
}

/// A sample that passed [`check`], and whether anything had to be clamped.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub sample: Sample,
    pub clamped: bool,
}

/// Validate a sample received at `now_ms`: non-finite numbers reject it;
/// out-of-range figures, over-long lists and names, control characters and
/// clocks from the future are clamped.
pub fn check(mut s: Sample, now_ms: u64) -> Result<Checked, SampleError> {
    let mut clamped = false;
    finite("cpu_percent", s.cpu_percent)?;
    for c in &s.per_core {
        finite("per_core", *c)?;
    }
    for l in s.load {
        finite("load", l)?;
    }
    let mut fix = |changed: bool| clamped |= changed;
    fix(clamp_percent(&mut s.cpu_percent));
    fix(truncate_list(&mut s.per_core, MAX_CORES));
    for c in &mut s.per_core {
        fix(clamp_percent(c));
    }
    for l in &mut s.load {
        if *l < 0.0 {
            *l = 0.0;
            fix(true);
        }
    }
    fix(clamp_used(&mut s.memory_used, s.memory_total));
    fix(clamp_used(&mut s.swap_used, s.swap_total));
    fix(truncate_list(&mut s.filesystems, MAX_FILESYSTEMS));
    for f in &mut s.filesystems {
        fix(clean_name(&mut f.mount));
        fix(clean_name(&mut f.fs_type));
        fix(clamp_used(&mut f.used, f.total));
    }
    fix(truncate_list(&mut s.interfaces, MAX_INTERFACES));
    for i in &mut s.interfaces {
        fix(clean_name(&mut i.name));
    }
    match &mut s.tmux {
        Tmux::Sessions(list) => {
            fix(truncate_list(list, MAX_TMUX_SESSIONS));
            for t in list {
                fix(clean_name(&mut t.name));
            }
        }
        Tmux::Unavailable { reason } => fix(clean_name(reason)),
    }
    if s.taken_at_ms > now_ms {
        s.taken_at_ms = now_ms;
        fix(true);
    }
    let interval = s.interval_ms.clamp(MIN_INTERVAL_MS, MAX_INTERVAL_MS);
    fix(interval != s.interval_ms);
    s.interval_ms = interval;
    Ok(Checked { sample: s, clamped })
}

fn finite(field: &'static str, v: f32) -> Result<(), SampleError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(SampleError::NotFinite { field })
    }
}

fn clamp_percent(v: &mut f32) -> bool {
    let c = v.clamp(0.0, 100.0);
    let changed = c != *v;
    *v = c;
    changed
}

fn clamp_used(used: &mut u64, total: u64) -> bool {
    let changed = *used > total;
    *used = (*used).min(total);
    changed
}

fn truncate_list<T>(list: &mut Vec<T>, max: usize) -> bool {
    let changed = list.len() > max;
    list.truncate(max);
    changed
}

/// Cut a name to [`MAX_NAME`] bytes on a character boundary and replace
/// control characters, which would otherwise reach the user's terminal.
fn clean_name(name: &mut String) -> bool {
    clean_text(name, MAX_NAME)
}

/// Cut `text` to `max` bytes on a character boundary and replace control
/// characters with `?`; true if anything changed.
pub fn clean_text(name: &mut String, max: usize) -> bool {
    let mut changed = false;
    if name.len() > max {
        let mut end = max;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
        changed = true;
    }
    if name.chars().any(char::is_control) {
        *name = name
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plausible sample of a small VM: 2 cores, 2 filesystems, 2
    /// interfaces, 3 tmux sessions.
    pub fn typical() -> Sample {
        Sample {
            taken_at_ms: 1_790_000_000_000,
            interval_ms: 1000,
            cpu_percent: 12.5,
            per_core: vec![10.0, 15.0],
            load: [0.31, 0.22, 0.1],
            memory_used: 3_100_000_000,
            memory_total: 8_300_000_000,
            swap_used: 0,
            swap_total: 2_000_000_000,
            filesystems: vec![
                Filesystem {
                    mount: "/".into(),
                    fs_type: "ext4".into(),
                    used: 21_000_000_000,
                    total: 62_000_000_000,
                },
                Filesystem {
                    mount: "/boot/efi".into(),
                    fs_type: "vfat".into(),
                    used: 6_000_000,
                    total: 105_000_000,
                },
            ],
            interfaces: vec![
                Interface {
                    name: "eth0".into(),
                    rx_bytes_per_sec: 12_345,
                    tx_bytes_per_sec: 2_345,
                },
                Interface {
                    name: "docker0".into(),
                    rx_bytes_per_sec: 0,
                    tx_bytes_per_sec: 0,
                },
            ],
            uptime_secs: 86_400,
            users: 1,
            processes: 180,
            tmux: Tmux::Sessions(
                ["main", "build", "notes"]
                    .iter()
                    .map(|n| TmuxSession {
                        name: n.to_string(),
                        attached: *n == "main",
                        windows: 3,
                        created_unix: 1_789_990_000,
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn a_typical_sample_is_small_and_passes_unchanged() {
        let s = typical();
        let bytes = postcard::to_stdvec(&s).unwrap();
        // Reported in BENCHMARKS.md; a regression here is a wire cost.
        assert!(bytes.len() < 256, "typical sample is {} bytes", bytes.len());
        let checked = check(s.clone(), s.taken_at_ms + 10).unwrap();
        assert!(!checked.clamped);
        assert_eq!(checked.sample, s);
    }

    #[test]
    fn non_finite_numbers_reject_the_sample() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut s = typical();
            s.cpu_percent = bad;
            assert_eq!(
                check(s, u64::MAX).unwrap_err(),
                SampleError::NotFinite {
                    field: "cpu_percent"
                }
            );
            let mut s = typical();
            s.per_core[1] = bad;
            assert!(check(s, u64::MAX).is_err());
            let mut s = typical();
            s.load[2] = bad;
            assert!(check(s, u64::MAX).is_err());
        }
    }

    #[test]
    fn absurd_figures_are_clamped() {
        let mut s = typical();
        s.cpu_percent = -5.0;
        s.per_core = vec![250.0; MAX_CORES + 10];
        s.load = [-1.0, 2.0, 3.0];
        s.memory_used = s.memory_total + 1;
        s.filesystems = vec![s.filesystems[0].clone(); 1_000_000];
        s.filesystems[0].used = u64::MAX;
        s.interval_ms = 0;
        s.taken_at_ms = u64::MAX;
        let now = 1_790_000_000_500;
        let c = check(s, now).unwrap();
        assert!(c.clamped);
        let s = c.sample;
        assert_eq!(s.cpu_percent, 0.0);
        assert_eq!(s.per_core.len(), MAX_CORES);
        assert!(s.per_core.iter().all(|c| *c == 100.0));
        assert_eq!(s.load, [0.0, 2.0, 3.0]);
        assert_eq!(s.memory_used, s.memory_total);
        assert_eq!(s.filesystems.len(), MAX_FILESYSTEMS);
        assert_eq!(s.filesystems[0].used, s.filesystems[0].total);
        assert_eq!(s.interval_ms, MIN_INTERVAL_MS);
        assert_eq!(s.taken_at_ms, now);
    }

    #[test]
    fn names_are_cut_and_control_characters_replaced() {
        let mut s = typical();
        s.tmux = Tmux::Sessions(vec![TmuxSession {
            name: "evil\x1b[2J\x07".into(),
            attached: false,
            windows: 1,
            created_unix: 0,
        }]);
        s.interfaces[0].name = "é".repeat(200);
        let c = check(s, u64::MAX).unwrap();
        assert!(c.clamped);
        assert_eq!(c.sample.tmux_sessions()[0].name, "evil?[2J?");
        let name = &c.sample.interfaces[0].name;
        assert!(name.len() <= MAX_NAME && name.chars().all(|ch| ch == 'é'));
    }

    #[test]
    fn main_filesystem_prefers_root() {
        let s = typical();
        assert_eq!(s.main_filesystem().unwrap().mount, "/");
        assert_eq!(s.rx_bytes_per_sec(), 12_345);
    }
}
