//! A terminal on the agent (`azlin connect`): a PTY running
//! `tmux new-session -A -s NAME` as the VM's user, carried on one stream.
//!
//! The controller opens a bidirectional stream and sends
//! [`crate::stream::Query::Terminal`] with a [`TerminalRequest`]. After it:
//!
//! - controller → agent: [`TerminalInput`] frames (keystrokes, window size
//!   changes). Finishing or resetting the stream, or losing the connection,
//!   hangs up the terminal: tmux detaches and its session stays.
//! - agent → controller: [`TerminalEvent`] frames, the screen's bytes as
//!   tmux draws them, then exactly one [`TerminalEvent::Ended`] or
//!   [`TerminalEvent::Failed`], then the end of the stream.
//!
//! Not here: PTYs and processes (the agent), raw mode and reconnecting (the
//! controller).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::message::Tagged;

/// Capability an agent announces when it serves terminals.
pub const CAP_TERMINAL: &str = "terminal/1";
/// Most screen bytes an agent puts in one frame.
pub const SCREEN_CHUNK: usize = 16 * 1024;
/// Largest frame after the request, either way.
pub const MAX_TERMINAL_FRAME: usize = SCREEN_CHUNK + 1024;
/// Longest tmux session name accepted.
pub const MAX_SESSION_NAME: usize = 64;
/// Largest window accepted, either side.
pub const MAX_DIMENSION: u16 = 4096;

/// Open a terminal attached to a tmux session, created if missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalRequest {
    /// Chosen by the controller; the same id is in both audit logs.
    pub id: u64,
    /// The tmux session to attach to or create.
    pub session: String,
    /// The local terminal's `$TERM`, so tmux draws for it.
    pub term: String,
    pub size: WindowSize,
    /// Who asked, for the agent's audit log (`user@controller-host`).
    pub requested_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSize {
    pub cols: u16,
    pub rows: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TerminalError {
    #[error(
        "tmux session name {0:?} is not usable: use 1 to {MAX_SESSION_NAME} letters, digits, '-' or '_', not starting with '-'"
    )]
    SessionName(String),
    #[error("terminal type {0:?} is not a terminal name")]
    Term(String),
    #[error("window size {cols}x{rows} is out of range (1 to {MAX_DIMENSION} each way)")]
    Size { cols: u16, rows: u16 },
}

/// A tmux session name that is safe everywhere it goes: tmux treats `:`
/// and `.` as target separators, and the name ends up in audit logs.
pub fn check_session_name(name: &str) -> Result<(), TerminalError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_SESSION_NAME
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(TerminalError::SessionName(name.to_string()))
    }
}

pub fn check_size(size: WindowSize) -> Result<(), TerminalError> {
    let fits = |n: u16| (1..=MAX_DIMENSION).contains(&n);
    if fits(size.cols) && fits(size.rows) {
        Ok(())
    } else {
        Err(TerminalError::Size {
            cols: size.cols,
            rows: size.rows,
        })
    }
}

/// What the agent checks before starting anything.
pub fn check_request(req: &TerminalRequest) -> Result<(), TerminalError> {
    check_session_name(&req.session)?;
    let term_ok = !req.term.is_empty()
        && req.term.len() <= 64
        && req
            .term
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b));
    if !term_ok {
        return Err(TerminalError::Term(req.term.clone()));
    }
    check_size(req.size)
}

/// Controller → agent, after the request. Append only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TerminalInput {
    /// Keystrokes (and pastes), as the local terminal produced them.
    Keys(#[serde(with = "serde_bytes")] Vec<u8>),
    Resize(WindowSize),
}

impl Tagged for TerminalInput {
    const KNOWN_TYPES: u32 = 2;
}

/// Agent → controller. Append only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TerminalEvent {
    /// Bytes for the local screen.
    Screen(#[serde(with = "serde_bytes")] Vec<u8>),
    /// tmux exited: the user detached, or ended the session's last shell.
    /// The last frame.
    Ended { exit_code: i32 },
    /// The terminal could not start; the last frame.
    Failed { reason: String },
}

impl Tagged for TerminalEvent {
    const KNOWN_TYPES: u32 = 3;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DecodeError, decode_tagged};

    fn req(session: &str, term: &str, cols: u16, rows: u16) -> TerminalRequest {
        TerminalRequest {
            id: 1,
            session: session.into(),
            term: term.into(),
            size: WindowSize { cols, rows },
            requested_by: "me@here".into(),
        }
    }

    #[test]
    fn requests_are_checked() {
        assert_eq!(
            check_request(&req("azlin", "xterm-256color", 80, 24)),
            Ok(())
        );
        assert_eq!(
            check_request(&req("work_2-b", "screen.xterm", 1, 1)),
            Ok(())
        );
        for bad in ["", "a:b", "a.b", "a b", "-t", "x\x1b", &"s".repeat(65)] {
            assert!(check_session_name(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            check_request(&req("a", "xterm; rm -rf /", 80, 24)),
            Err(TerminalError::Term(_))
        ));
        assert!(matches!(
            check_request(&req("a", "xterm", 0, 24)),
            Err(TerminalError::Size { .. })
        ));
        assert!(check_request(&req("a", "xterm", 80, MAX_DIMENSION + 1)).is_err());
    }

    #[test]
    fn frames_round_trip_and_unknown_tags_are_named() {
        let keys = TerminalInput::Keys(vec![0, 3, 27, 255]);
        let bytes = postcard::to_stdvec(&keys).unwrap();
        assert_eq!(decode_tagged::<TerminalInput>(&bytes).unwrap(), keys);
        let screen = TerminalEvent::Screen(vec![7; SCREEN_CHUNK]);
        let bytes = postcard::to_stdvec(&screen).unwrap();
        assert!(bytes.len() <= MAX_TERMINAL_FRAME);
        assert_eq!(decode_tagged::<TerminalEvent>(&bytes).unwrap(), screen);
        assert_eq!(
            decode_tagged::<TerminalInput>(&[5]).unwrap_err(),
            DecodeError::UnknownType { tag: 5, known: 2 }
        );
    }
}
