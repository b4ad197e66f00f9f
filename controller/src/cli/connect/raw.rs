//! The local terminal for `azlin connect`: raw mode while the session runs
//! (every key goes to the VM, Ctrl-C included), restored however we leave;
//! the window's size; and a one-line status message drawn over it.
//!
//! Not here: talking to the daemon (see [`super`]).

use std::{
    io::Write,
    os::fd::{AsFd, BorrowedFd},
};

use anyhow::{Context, Result};
use azlin_protocol::terminal::WindowSize;
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};

/// Raw mode on stdin until dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    pub fn enable() -> Result<Self> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).context("cannot read the terminal's settings")?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSADRAIN, &raw)
            .context("cannot put the terminal in raw mode")?;
        Ok(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSADRAIN, &self.saved);
    }
}

/// Whether both stdin and stdout are terminals.
pub fn is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The size of the terminal on `fd` (80x24 if it will not say).
pub fn size_of(fd: BorrowedFd<'_>) -> WindowSize {
    use std::os::fd::AsRawFd;
    let mut ws = nix::pty::Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize through the pointer, which
    // lives across the call.
    let rc = unsafe { nix::libc::ioctl(fd.as_raw_fd(), nix::libc::TIOCGWINSZ, &mut ws) };
    if rc != 0 || ws.ws_col == 0 || ws.ws_row == 0 {
        return WindowSize { cols: 80, rows: 24 };
    }
    WindowSize {
        cols: ws.ws_col,
        rows: ws.ws_row,
    }
}

pub fn size() -> WindowSize {
    size_of(std::io::stdout().as_fd())
}

/// Draw `message` on its own line in reverse video; the next attach
/// redraws the whole screen over it.
pub fn status_line(message: &str) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "\r\n\x1b[7m azlin: {message} \x1b[0m\r\n");
    let _ = out.flush();
}
