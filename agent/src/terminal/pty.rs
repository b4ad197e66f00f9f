//! A pseudo-terminal with tmux on its far side: open the pair, start
//! `tmux new-session -A -s NAME` as the VM user with the PTY as its
//! controlling terminal, and do non-blocking I/O on the master.
//!
//! Not here: what the bytes mean or where they go (see [`super`]).

use std::{
    io,
    os::fd::{AsRawFd, OwnedFd},
    process::Stdio,
};

use azlin_protocol::terminal::{TerminalRequest, WindowSize};
use nix::{
    fcntl::{FcntlArg, FdFlag, OFlag, fcntl},
    pty::{Winsize, openpty},
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use tokio::{io::unix::AsyncFd, process::Child};

use crate::{account::Account, tmux_server::TmuxServer};

/// The master side of a running terminal and the tmux client on it.
pub struct Pty {
    pub master: AsyncFd<OwnedFd>,
    pub child: Child,
    /// tmux leads its own session and process group.
    pub pgid: Pid,
}

fn winsize(size: WindowSize) -> Winsize {
    Winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// Start tmux (on its private server, if the VM has one) for `req` as
/// `account` on a new PTY.
pub fn spawn(account: &Account, tmux: &TmuxServer, req: &TerminalRequest) -> io::Result<Pty> {
    let pair = openpty(&winsize(req.size), None).map_err(io::Error::from)?;
    for fd in [&pair.master, &pair.slave] {
        // Neither end may leak into tmux beyond the three stdio copies.
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
    }
    let flags = OFlag::from_bits_truncate(fcntl(&pair.master, FcntlArg::F_GETFL)?);
    fcntl(&pair.master, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    let mut cmd = tmux.command();
    cmd.args(["new-session", "-A", "-s", &req.session])
        .env_clear()
        .envs(account.environment())
        .env("TERM", &req.term)
        // Where tmux keeps its sockets is the deployment's choice, made in
        // the agent's environment; the tmux reader honours it too.
        .envs(std::env::var_os("TMUX_TMPDIR").map(|v| ("TMUX_TMPDIR", v)))
        .stdin(Stdio::from(pair.slave.try_clone()?))
        .stdout(Stdio::from(pair.slave.try_clone()?))
        .stderr(Stdio::from(pair.slave.try_clone()?))
        .kill_on_drop(false);
    // SAFETY: setsid and ioctl are plain system calls, safe between fork
    // and exec. They come before the account's own hook, which drops root.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()?;
            // Make the PTY (now stdin) this new session's controlling
            // terminal, so tmux gets SIGWINCH and SIGHUP from it.
            if nix::libc::ioctl(0, nix::libc::TIOCSCTTY as _, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    account.apply(&mut cmd);
    let child = cmd.spawn()?;
    drop(pair.slave);
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("tmux exited before it was seen"))?;
    // SAFETY: an OwnedFd stays open, and is the same descriptor, for as
    // long as the AsyncFd that owns it.
    let master = unsafe { AsyncFd::register(pair.master) }.map_err(io::Error::from)?;
    Ok(Pty {
        master,
        child,
        pgid: Pid::from_raw(pid as i32),
    })
}

/// Tell tmux the window's new size.
pub fn resize(master: &AsyncFd<OwnedFd>, size: WindowSize) -> io::Result<()> {
    let ws = winsize(size);
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which lives
    // across the call.
    let rc = unsafe { nix::libc::ioctl(master.get_ref().as_raw_fd(), nix::libc::TIOCSWINSZ, &ws) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Read what tmux drew, waiting until there is some. `Ok(0)` once every
/// holder of the terminal's far side has closed it.
pub async fn read(master: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut ready = master.readable().await?;
        match ready.try_io(|fd| nix::unistd::read(fd.get_ref(), buf).map_err(io::Error::from)) {
            Ok(Ok(n)) => return Ok(n),
            // Linux reports a hung-up PTY as EIO, not end of file.
            Ok(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => return Ok(0),
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}

/// Type all of `bytes`, waiting while tmux is not reading.
pub async fn write_all(master: &AsyncFd<OwnedFd>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let mut ready = master.writable().await?;
        match ready.try_io(|fd| nix::unistd::write(fd.get_ref(), bytes).map_err(io::Error::from)) {
            Ok(Ok(n)) => bytes = &bytes[n..],
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
    Ok(())
}

/// Signal tmux's process group (SIGHUP detaches it, as a dropped ssh
/// connection would).
pub fn signal(pgid: Pid, sig: Signal) {
    match killpg(pgid, sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!("cannot signal terminal process group {pgid}: {e}"),
    }
}
