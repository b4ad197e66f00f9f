//! How each VM's run ended, and what azlin's own exit status is:
//!
//! - one VM: the command's own status (128+N if killed by signal N), 124 if
//!   it timed out, 130 if cancelled, 255 if it could not run there (VM
//!   offline, lost mid-command, or the agent refused it), as ssh does;
//! - several VMs: 0 only if every VM ran it and it exited 0; else 130 if
//!   cancelled, 255 if some VM could not run it, 124 if some timed out,
//!   1 if some exited non-zero.
//!
//! azlin's own errors (bad selection, no daemon) are 255 too; a bad command
//! line is 2.

use azlin_protocol::exec::Outcome;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmResult {
    Ran { outcome: Outcome, duration_ms: u64 },
    Failed { reason: String },
}

impl VmResult {
    pub fn ok(&self) -> bool {
        matches!(
            self,
            VmResult::Ran {
                outcome: Outcome::Exited(0),
                ..
            }
        )
    }

    pub fn describe(&self) -> String {
        match self {
            VmResult::Ran { outcome, .. } => outcome.describe(),
            VmResult::Failed { reason } => reason.clone(),
        }
    }
}

/// Exit status for errors of azlin's own, as ssh uses.
pub const OWN_ERROR: u8 = 255;

pub fn exit_code(results: &[VmResult]) -> u8 {
    if let [only] = results {
        return match only {
            VmResult::Ran { outcome, .. } => (outcome.exit_code() & 0xff) as u8,
            VmResult::Failed { .. } => OWN_ERROR,
        };
    }
    let any = |f: fn(&VmResult) -> bool| results.iter().any(f);
    if results.iter().all(VmResult::ok) {
        0
    } else if any(|r| {
        matches!(
            r,
            VmResult::Ran {
                outcome: Outcome::Cancelled,
                ..
            }
        )
    }) {
        130
    } else if any(|r| matches!(r, VmResult::Failed { .. })) {
        OWN_ERROR
    } else if any(|r| {
        matches!(
            r,
            VmResult::Ran {
                outcome: Outcome::TimedOut,
                ..
            }
        )
    }) {
        124
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(outcome: Outcome) -> VmResult {
        VmResult::Ran {
            outcome,
            duration_ms: 1,
        }
    }

    fn failed() -> VmResult {
        VmResult::Failed {
            reason: "offline".into(),
        }
    }

    #[test]
    fn one_vm_passes_its_status_through() {
        assert_eq!(exit_code(&[ran(Outcome::Exited(3))]), 3);
        assert_eq!(exit_code(&[ran(Outcome::Exited(256 + 7))]), 7);
        assert_eq!(exit_code(&[ran(Outcome::Signalled(9))]), 137);
        assert_eq!(exit_code(&[ran(Outcome::TimedOut)]), 124);
        assert_eq!(exit_code(&[failed()]), 255);
    }

    #[test]
    fn many_vms_succeed_only_together() {
        let ok = ran(Outcome::Exited(0));
        assert_eq!(exit_code(&[ok.clone(), ok.clone()]), 0);
        assert_eq!(exit_code(&[ok.clone(), ran(Outcome::Exited(2))]), 1);
        assert_eq!(
            exit_code(&[ok.clone(), ran(Outcome::TimedOut), ran(Outcome::Exited(2))]),
            124
        );
        assert_eq!(
            exit_code(&[ok.clone(), failed(), ran(Outcome::TimedOut)]),
            255
        );
        assert_eq!(exit_code(&[ran(Outcome::Cancelled), failed()]), 130);
    }
}
