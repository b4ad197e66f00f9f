//! Running a command on an agent (`azlin -- CMD`, `azlin exec`, `w`,
//! `os-update`, `update`).
//!
//! The controller opens a bidirectional stream per command and sends
//! [`crate::stream::Query::Exec`] with an [`ExecRequest`]. After it:
//!
//! - controller → agent: [`ExecInput`] frames (stdin bytes, end of stdin,
//!   cancel). Resetting or dropping the stream is a cancel too, so a
//!   controller that vanishes leaves nothing running.
//! - agent → controller: [`ExecEvent`] frames, output as the command writes
//!   it, then exactly one [`ExecEvent::Finished`] or [`ExecEvent::Failed`],
//!   then the end of the stream.
//!
//! Flow control is QUIC's own: the agent reads the command's output only as
//! fast as the stream drains, so a command writing gigabytes costs a bounded
//! buffer at every hop, and bytes pass through untouched.
//!
//! Not here: spawning processes, users and audit logs (the agent), choosing
//! VMs and printing output (the controller).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::message::Tagged;

/// Capability an agent announces when it runs commands.
pub const CAP_EXEC: &str = "exec/1";
/// Most output bytes an agent puts in one frame.
pub const OUTPUT_CHUNK: usize = 64 * 1024;
/// Largest frame after the request, either way: a chunk plus framing.
pub const MAX_EXEC_FRAME: usize = OUTPUT_CHUNK + 4096;
/// Longest command line: Linux refuses a single argument (`sh -c CMD`)
/// longer than 128 KiB including its terminating NUL.
pub const MAX_COMMAND_BYTES: usize = 128 * 1024 - 1;
/// Longest timeout a request may ask for (a week).
pub const MAX_TIMEOUT_SECS: u32 = 7 * 24 * 3600;
/// Longest "who asked" and failure reason kept.
pub const MAX_REASON: usize = 1024;

/// Run one command through the VM user's shell, as `ssh VM CMD` would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// Chosen by the controller; the same id is in both audit logs.
    pub id: u64,
    /// Passed to `$SHELL -c` unchanged.
    pub command: String,
    /// The agent kills the command's process group after this long.
    pub timeout_secs: Option<u32>,
    /// Whether stdin frames follow; without, the command's stdin is empty.
    pub stdin: bool,
    /// Who asked, for the agent's audit log (`user@controller-host`).
    pub requested_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExecError {
    #[error("the command is empty")]
    Empty,
    #[error("the command contains a NUL byte, which no shell can receive")]
    Nul,
    #[error("the command is {0} bytes; the limit is {MAX_COMMAND_BYTES}")]
    TooLong(usize),
    #[error("timeout must be between 1 and {MAX_TIMEOUT_SECS} seconds, not {0}")]
    Timeout(u32),
}

/// What the agent checks before running anything.
pub fn check_request(req: &ExecRequest) -> Result<(), ExecError> {
    if req.command.trim().is_empty() {
        return Err(ExecError::Empty);
    }
    if req.command.contains('\0') {
        return Err(ExecError::Nul);
    }
    if req.command.len() > MAX_COMMAND_BYTES {
        return Err(ExecError::TooLong(req.command.len()));
    }
    match req.timeout_secs {
        Some(t) if t == 0 || t > MAX_TIMEOUT_SECS => Err(ExecError::Timeout(t)),
        _ => Ok(()),
    }
}

/// Controller → agent, after the request. Append only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecInput {
    /// Bytes for the command's stdin.
    Stdin(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Close the command's stdin.
    StdinEnd,
    /// Kill the command's process group.
    Cancel,
}

impl Tagged for ExecInput {
    const KNOWN_TYPES: u32 = 3;
}

/// Agent → controller. Append only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecEvent {
    Stdout(#[serde(with = "serde_bytes")] Vec<u8>),
    Stderr(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The command ran and ended; the last frame.
    Finished(ExecStatus),
    /// The command did not run, or its VM was lost; the last frame.
    Failed {
        reason: String,
    },
}

impl Tagged for ExecEvent {
    const KNOWN_TYPES: u32 = 4;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecStatus {
    pub outcome: Outcome,
    pub duration_ms: u64,
}

/// How a command that ran ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Exited(i32),
    /// Killed by this signal, not by us.
    Signalled(i32),
    /// Its timeout passed and its process group was killed.
    TimedOut,
    /// Cancelled from the controller and its process group killed.
    Cancelled,
}

impl Outcome {
    /// The status a shell would report: 128+N for signal N, 124 for a
    /// timeout as timeout(1) does, 130 for a cancel as for Ctrl-C.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Exited(c) => c,
            Outcome::Signalled(s) => 128 + s,
            Outcome::TimedOut => 124,
            Outcome::Cancelled => 130,
        }
    }

    pub fn describe(self) -> String {
        match self {
            Outcome::Exited(c) => format!("exit {c}"),
            Outcome::Signalled(s) => format!("killed by signal {s}"),
            Outcome::TimedOut => "timed out; its process group was killed".into(),
            Outcome::Cancelled => "cancelled; its process group was killed".into(),
        }
    }
}

/// Make a failure reason from a peer safe to print.
pub fn clean_reason(mut reason: String) -> String {
    crate::telemetry::clean_text(&mut reason, MAX_REASON);
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DecodeError, decode_tagged};

    fn req(command: &str, timeout_secs: Option<u32>) -> ExecRequest {
        ExecRequest {
            id: 1,
            command: command.into(),
            timeout_secs,
            stdin: false,
            requested_by: "me@here".into(),
        }
    }

    #[test]
    fn requests_are_checked() {
        assert_eq!(check_request(&req("uname -a", Some(5))), Ok(()));
        assert_eq!(check_request(&req("  \n", None)), Err(ExecError::Empty));
        assert_eq!(check_request(&req("a\0b", None)), Err(ExecError::Nul));
        let long = "x".repeat(MAX_COMMAND_BYTES + 1);
        assert_eq!(
            check_request(&req(&long, None)),
            Err(ExecError::TooLong(MAX_COMMAND_BYTES + 1))
        );
        assert_eq!(
            check_request(&req("x", Some(0))),
            Err(ExecError::Timeout(0))
        );
        assert!(check_request(&req("x", Some(MAX_TIMEOUT_SECS + 1))).is_err());
    }

    #[test]
    fn output_is_carried_byte_for_byte_and_compactly() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(OUTPUT_CHUNK).collect();
        let event = ExecEvent::Stdout(bytes.clone());
        let encoded = postcard::to_stdvec(&event).unwrap();
        // Tag, a 3-byte length and the bytes themselves: no per-byte cost.
        assert_eq!(encoded.len(), 1 + 3 + OUTPUT_CHUNK);
        assert!(encoded.len() <= MAX_EXEC_FRAME);
        assert_eq!(decode_tagged::<ExecEvent>(&encoded).unwrap(), event);
    }

    #[test]
    fn unknown_frames_are_named_not_misread() {
        assert_eq!(
            decode_tagged::<ExecInput>(&[9]).unwrap_err(),
            DecodeError::UnknownType { tag: 9, known: 3 }
        );
        let done = ExecEvent::Finished(ExecStatus {
            outcome: Outcome::Signalled(9),
            duration_ms: 3,
        });
        let bytes = postcard::to_stdvec(&done).unwrap();
        assert_eq!(decode_tagged::<ExecEvent>(&bytes).unwrap(), done);
    }

    #[test]
    fn outcomes_map_to_shell_statuses() {
        assert_eq!(Outcome::Exited(3).exit_code(), 3);
        assert_eq!(Outcome::Signalled(9).exit_code(), 137);
        assert_eq!(Outcome::TimedOut.exit_code(), 124);
        assert_eq!(Outcome::Cancelled.exit_code(), 130);
        assert_eq!(clean_reason("a\x1b[2Jb".into()), "a?[2Jb");
    }
}
