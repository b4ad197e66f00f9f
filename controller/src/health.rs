//! How `azlin health` grades a VM: green, yellow or red, with a reason
//! for each finding, from the facts its agent reported
//! (`azlin_protocol::health`) and the clock skew measured around the
//! question. A VM that cannot be asked is red and says when it was last
//! heard from: never green, never "0%" (the original tool's #1106).
//! Pure; the thresholds are the constants below.
//!
//! Not here: asking the agents (the `health` handler).

use azlin_protocol::health::HealthReport;
use serde::{Deserialize, Serialize};

/// Disk or inode use from which a file system is yellow, and red.
pub const DISK_YELLOW: f64 = 80.0;
pub const DISK_RED: f64 = 90.0;
/// Memory available below which the VM is yellow, and red.
pub const MEMORY_YELLOW: f64 = 15.0;
pub const MEMORY_RED: f64 = 5.0;
/// PSI memory `some avg10` from which the VM is yellow, and red.
pub const PRESSURE_YELLOW: f64 = 10.0;
pub const PRESSURE_RED: f64 = 40.0;
/// Clock skew (ms) from which the VM is yellow, and red.
pub const SKEW_YELLOW_MS: i64 = 2_000;
pub const SKEW_RED_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Grade {
    Green,
    Yellow,
    Red,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Green => "green",
            Grade::Yellow => "yellow",
            Grade::Red => "red",
        }
    }
}

/// A grade and why: each finding with its own grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub grade: Grade,
    pub reasons: Vec<(Grade, String)>,
}

impl Verdict {
    fn from(reasons: Vec<(Grade, String)>) -> Self {
        Verdict {
            grade: reasons
                .iter()
                .map(|(g, _)| *g)
                .max()
                .unwrap_or(Grade::Green),
            reasons,
        }
    }
}

fn band(value: f64, yellow: f64, red: f64) -> Option<Grade> {
    if value >= red {
        Some(Grade::Red)
    } else if value >= yellow {
        Some(Grade::Yellow)
    } else {
        None
    }
}

/// Grade `r`, whose clock was `skew_ms` off the controller's, against the
/// controller's own version.
pub fn grade(r: &HealthReport, skew_ms: i64, controller_version: &str) -> Verdict {
    let mut out: Vec<(Grade, String)> = Vec::new();
    let mut say = |g: Grade, why: String| out.push((g, why));
    if r.agent_version != controller_version {
        say(
            Grade::Yellow,
            format!(
                "agent {} is not this azlin's {controller_version} (`azlin agent upgrade`)",
                r.agent_version
            ),
        );
    }
    match r.cloud_init.as_deref() {
        Some("done") | Some("disabled") | None => {}
        Some("running") | Some("not started") => {
            say(Grade::Yellow, "cloud-init is still running".into())
        }
        Some(other) => say(Grade::Red, format!("cloud-init ended: {other}")),
    }
    if let Some(failed) = &r.dev_tools_failed
        && !failed.is_empty()
    {
        say(
            Grade::Yellow,
            format!(
                "development tools failed: {} (/var/log/azlin/dev-tools.log)",
                failed.join(", ")
            ),
        );
    }
    if let Some(units) = &r.failed_units
        && !units.is_empty()
    {
        say(Grade::Red, format!("failed units: {}", units.join(", ")));
    }
    for fs in &r.file_systems {
        if let Some(g) = band(fs.used_percent, DISK_YELLOW, DISK_RED) {
            say(g, format!("{} is {:.0}% full", fs.mount, fs.used_percent));
        }
        if let Some(i) = fs.inodes_used_percent
            && let Some(g) = band(i, DISK_YELLOW, DISK_RED)
        {
            say(g, format!("{} has used {i:.0}% of its inodes", fs.mount));
        }
    }
    if let Some(avail) = r.memory_available_percent
        && let Some(g) = band(100.0 - avail, 100.0 - MEMORY_YELLOW, 100.0 - MEMORY_RED)
    {
        say(g, format!("only {avail:.0}% of memory available"));
    }
    if let Some(p) = r.memory_pressure_avg10
        && let Some(g) = band(p, PRESSURE_YELLOW, PRESSURE_RED)
    {
        say(
            g,
            format!("memory pressure: tasks stalled {p:.0}% of the last 10 s"),
        );
    }
    if let Some(g) = band(
        skew_ms.unsigned_abs() as f64,
        SKEW_YELLOW_MS as f64,
        SKEW_RED_MS as f64,
    ) {
        say(
            g,
            format!(
                "clock is {:.1} s off this machine's",
                skew_ms as f64 / 1000.0
            ),
        );
    }
    if r.reboot_required {
        say(Grade::Yellow, "a reboot is required".into());
    }
    if let Some(n) = r.security_updates
        && n > 0
    {
        say(
            Grade::Yellow,
            format!("{n} security update(s) pending (`azlin os-update`)"),
        );
    }
    for (dir, answering) in &r.nfs_mounts {
        if !answering {
            say(Grade::Red, format!("NFS mount {dir} is not answering"));
        }
    }
    if r.sshd_up == Some(false) {
        say(Grade::Yellow, "sshd is not accepting connections".into());
    }
    Verdict::from(out)
}

/// A VM whose agent could not be asked: red, with when it was last heard
/// from (`None`: never).
pub fn unreachable(why: &str, last_sample_unix: Option<i64>, now_unix: i64) -> Verdict {
    let when = match last_sample_unix {
        Some(t) => format!(
            "last sample {} ago",
            crate::cli::figures::duration(u64::try_from(now_unix - t).unwrap_or(0))
        ),
        None => "no sample ever".into(),
    };
    Verdict::from(vec![(Grade::Red, format!("unreachable ({why}); {when}"))])
}

#[cfg(test)]
mod tests {
    use azlin_protocol::health::FileSystemUse;

    use super::*;

    fn healthy() -> HealthReport {
        HealthReport {
            agent_version: "1.0".into(),
            cloud_init: Some("done".into()),
            dev_tools_failed: Some(vec![]),
            failed_units: Some(vec![]),
            file_systems: vec![FileSystemUse {
                mount: "/".into(),
                used_percent: 40.0,
                inodes_used_percent: Some(10.0),
            }],
            memory_available_percent: Some(60.0),
            memory_pressure_avg10: Some(0.0),
            security_updates: Some(0),
            sshd_up: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn a_healthy_vm_is_green_with_nothing_to_say() {
        let v = grade(&healthy(), 30, "1.0");
        assert_eq!(
            v,
            Verdict {
                grade: Grade::Green,
                reasons: vec![]
            }
        );
    }

    #[test]
    fn each_finding_grades_and_says_why() {
        let mut r = healthy();
        r.reboot_required = true;
        r.security_updates = Some(3);
        let v = grade(&r, 0, "1.0");
        assert_eq!(v.grade, Grade::Yellow);
        assert_eq!(v.reasons.len(), 2);
        r.failed_units = Some(vec!["broken.service".into()]);
        r.file_systems[0].used_percent = 93.0;
        r.nfs_mounts = vec![("/home".into(), false)];
        let v = grade(&r, 90_000, "2.0");
        assert_eq!(v.grade, Grade::Red);
        let text: Vec<&str> = v.reasons.iter().map(|(_, s)| s.as_str()).collect();
        for want in [
            "failed units: broken.service",
            "/ is 93% full",
            "NFS mount /home",
            "clock is 90.0 s off",
            "agent 1.0 is not",
        ] {
            assert!(text.iter().any(|t| t.contains(want)), "{want}: {text:?}");
        }
    }

    #[test]
    fn an_unreachable_vm_is_red_and_says_when_it_was_heard_from() {
        let v = unreachable("not connected", Some(1000), 1000 + 125);
        assert_eq!(v.grade, Grade::Red);
        assert_eq!(
            v.reasons[0].1,
            "unreachable (not connected); last sample 2m05s ago"
        );
        assert!(
            unreachable("x", None, 5).reasons[0]
                .1
                .contains("no sample ever")
        );
    }
}
