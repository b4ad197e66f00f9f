//! Start a command as `ssh VM CMD` would, in a process group of its own,
//! and kill that whole group when its time is up or it is cancelled.
//!
//! A non-interactive shell has no job control, so everything the command
//! starts in the background stays in its group and dies with it. A process
//! that deliberately leaves the group (`setsid`, a daemon) is not followed,
//! exactly as with ssh.

use std::process::Stdio;

use nix::{
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use tokio::process::{Child, Command};

use crate::account::Account;

pub struct Running {
    pub child: Child,
    pub pgid: Pid,
}

/// `$SHELL -c COMMAND` as `account`, from their home, with sshd's
/// environment; stdin is a pipe when `stdin`, else empty.
pub fn spawn(account: &Account, command: &str, stdin: bool) -> std::io::Result<Running> {
    let mut cmd = Command::new(&account.shell);
    cmd.arg0(account.shell_name())
        .arg("-c")
        .arg(command)
        .env_clear()
        .envs(account.environment())
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    account.apply(&mut cmd);
    let child = cmd.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| std::io::Error::other("the command exited before it was seen"))?;
    Ok(Running {
        child,
        pgid: Pid::from_raw(pid as i32),
    })
}

/// Kill every process in the command's group.
pub fn kill_group(pgid: Pid) {
    match killpg(pgid, Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!("cannot kill process group {pgid}: {e}"),
    }
}
