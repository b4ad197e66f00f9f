//! Which of the fleet's VMs `azlin prune` proposes deleting: those the
//! history shows unused for the last N days, either stopped (no sample
//! from the agent in that time) or idle (running, every sample's CPU below
//! [`crate::cost::recommend::IDLE_CPU_BELOW`]). Pure: the daemon gathers
//! each VM's [`Facts`] from `state.db` and the providers, and deletes the
//! ones the user confirms (`daemon::handlers::prune`).
//!
//! Never proposed: a VM younger than N days (no history to judge by), one
//! azlin did not make, a machine the user runs (external: azlin cannot
//! delete it), one being made.

use crate::state::VmState;

/// What the daemon knows of one VM.
#[derive(Debug, Clone)]
pub struct Facts {
    pub name: String,
    pub state: VmState,
    pub created_at: i64,
    /// Its latest stored sample, and latest with CPU at or above the idle
    /// threshold (unix seconds).
    pub last_seen: Option<i64>,
    pub last_busy: Option<i64>,
    pub made_by_azlin: bool,
    /// The provider can delete it (not an external machine).
    pub deletable: bool,
}

/// A VM to propose, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub name: String,
    pub why: String,
    /// Since when it has been unused (unix seconds).
    pub unused_since: i64,
}

/// Why a VM was left out, or the candidate it is.
pub fn judge(f: &Facts, now: i64, idle_days: u32) -> Result<Candidate, String> {
    let window = i64::from(idle_days) * 86400;
    let since = now - window;
    if !f.deletable {
        return Err("a machine you run (azlin does not delete it)".into());
    }
    if !f.made_by_azlin {
        return Err("a VM azlin did not make (`azlin destroy` deletes it)".into());
    }
    if matches!(f.state, VmState::Provisioning) {
        return Err("being made".into());
    }
    if f.created_at > since {
        return Err(format!("younger than {idle_days} days"));
    }
    let day = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_else(|_| "?".into())
    };
    match f.state {
        VmState::Running => match f.last_busy {
            Some(busy) if busy > since => Err(format!("used in the last {idle_days} days")),
            _ if f.last_seen.is_none_or(|s| s <= since) => {
                Err("running, but no samples to judge by".into())
            }
            busy => {
                let from = busy.unwrap_or(f.created_at);
                Ok(Candidate {
                    name: f.name.clone(),
                    why: format!(
                        "idle: CPU below {}% at every sample since {}",
                        crate::cost::recommend::IDLE_CPU_BELOW,
                        day(from.max(since))
                    ),
                    unused_since: from,
                })
            }
        },
        _ => match f.last_seen {
            Some(seen) if seen > since => Err(format!("up in the last {idle_days} days")),
            seen => {
                let from = seen.unwrap_or(f.created_at);
                Ok(Candidate {
                    name: f.name.clone(),
                    why: match seen {
                        Some(s) => format!(
                            "{}: no sample from its agent since {}",
                            f.state.as_str(),
                            day(s)
                        ),
                        None => format!(
                            "{}: no sample from its agent in the last {idle_days} days",
                            f.state.as_str()
                        ),
                    },
                    unused_since: from,
                })
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 86400;

    fn facts(state: VmState) -> Facts {
        Facts {
            name: "dev".into(),
            state,
            created_at: NOW - 30 * DAY,
            last_seen: Some(NOW - 60),
            last_busy: Some(NOW - 20 * DAY),
            made_by_azlin: true,
            deletable: true,
        }
    }

    #[test]
    fn an_idle_running_vm_is_proposed_a_busy_one_is_not() {
        let c = judge(&facts(VmState::Running), NOW, 14).unwrap();
        assert!(
            c.why
                .starts_with("idle: CPU below 3% at every sample since"),
            "{}",
            c.why
        );
        assert_eq!(c.unused_since, NOW - 20 * DAY);
        let busy = Facts {
            last_busy: Some(NOW - 3 * DAY),
            ..facts(VmState::Running)
        };
        assert_eq!(
            judge(&busy, NOW, 14).unwrap_err(),
            "used in the last 14 days"
        );
        let never_busy = Facts {
            last_busy: None,
            ..facts(VmState::Running)
        };
        assert!(judge(&never_busy, NOW, 14).is_ok());
        let blind = Facts {
            last_seen: Some(NOW - 20 * DAY),
            ..facts(VmState::Running)
        };
        assert_eq!(
            judge(&blind, NOW, 14).unwrap_err(),
            "running, but no samples to judge by"
        );
    }

    #[test]
    fn a_long_stopped_vm_is_proposed_a_recently_used_one_is_not() {
        let stopped = Facts {
            last_seen: Some(NOW - 15 * DAY),
            ..facts(VmState::Stopped)
        };
        let c = judge(&stopped, NOW, 14).unwrap();
        assert!(
            c.why.starts_with("stopped: no sample from its agent since"),
            "{}",
            c.why
        );
        let recent = Facts {
            last_seen: Some(NOW - 2 * DAY),
            ..facts(VmState::Stopped)
        };
        assert_eq!(
            judge(&recent, NOW, 14).unwrap_err(),
            "up in the last 14 days"
        );
        let no_history = Facts {
            last_seen: None,
            ..facts(VmState::Stopped)
        };
        assert!(judge(&no_history, NOW, 14).is_ok());
    }

    #[test]
    fn young_foreign_external_and_new_vms_are_never_proposed() {
        let young = Facts {
            created_at: NOW - 3 * DAY,
            last_seen: None,
            ..facts(VmState::Stopped)
        };
        assert_eq!(judge(&young, NOW, 14).unwrap_err(), "younger than 14 days");
        let foreign = Facts {
            made_by_azlin: false,
            ..facts(VmState::Stopped)
        };
        assert!(
            judge(&foreign, NOW, 14)
                .unwrap_err()
                .contains("did not make")
        );
        let external = Facts {
            deletable: false,
            ..facts(VmState::Stopped)
        };
        assert!(judge(&external, NOW, 14).unwrap_err().contains("you run"));
        let making = Facts {
            last_seen: None,
            ..facts(VmState::Provisioning)
        };
        assert_eq!(judge(&making, NOW, 14).unwrap_err(), "being made");
    }
}
