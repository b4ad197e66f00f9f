//! Which tmux the agent runs, and which tmux server it talks to.
//!
//! By default that is the VM user's usual server, as a plain `tmux` would
//! find it. With `[telemetry] tmux_server = "NAME"` the VM has a server of
//! its own: every tmux the agent starts gets `-L NAME` (a socket called
//! NAME in tmux's folder, `$TMUX_TMPDIR/tmux-UID/`; a name, not a `-S` path,
//! since socket paths past about 107 bytes fail). A local VM uses this, so
//! that it does not report, attach to or alert on the developer's own tmux
//! sessions, nor on another local VM's.
//!
//! The user's commands reach the same server through [`install_wrapper`]: a
//! `tmux` script in `state_dir/bin/` that runs the real tmux with `-L NAME`
//! (and the agent's `TMUX_TMPDIR`), put first on their `PATH`. So
//! `azlin -- tmux new -d -s x` makes a session the VM reports and
//! `azlin connect` can attach to. Inside a terminal's tmux, `$TMUX` already
//! names the server. A command that runs tmux by its full path, or resets
//! `PATH`, talks to the user's usual server instead.
//!
//! Not here: reading sessions (see [`crate::telemetry::tmux`]) or the
//! terminal itself (see [`crate::terminal`]).

use std::{
    ffi::OsStr,
    io,
    os::unix::{ffi::OsStrExt, fs::PermissionsExt},
    path::{Path, PathBuf},
};

use crate::config::TelemetryConfig;

/// The longest server name taken (tmux's socket path must stay short).
pub const MAX_NAME: usize = 64;

/// The binary and, when private, the server.
#[derive(Debug, Clone)]
pub struct TmuxServer {
    pub bin: PathBuf,
    pub name: Option<String>,
}

impl TmuxServer {
    pub fn from_config(config: &TelemetryConfig) -> Self {
        Self {
            bin: config.tmux.clone(),
            name: config.tmux_server.clone(),
        }
    }

    /// `tmux [-L NAME]`, to add the subcommand to.
    pub fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.bin);
        if let Some(name) = &self.name {
            cmd.arg("-L").arg(name);
        }
        cmd
    }
}

/// Why `name` cannot be a server name, if it cannot: it must be a plain
/// file name tmux puts in its folder, and safe to show and quote.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("must be 1 to {MAX_NAME} characters"));
    }
    if !name.chars().all(ok_char) {
        return Err(
            "may hold only letters, digits, '.', '_' and '-' (it is a socket name, not a path)"
                .into(),
        );
    }
    if name.starts_with(['-', '.']) {
        return Err("must not start with '-' or '.'".into());
    }
    Ok(())
}

/// The folder of the `tmux` wrapper inside `state_dir`.
fn wrapper_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("bin")
}

/// Write (or, with no private server, remove) the `tmux` wrapper in
/// `state_dir/bin/`; returns the folder to put first on commands' `PATH`.
/// `None` also when the real tmux cannot be found, so a wrapper can never
/// end up calling itself.
pub fn install_wrapper(server: &TmuxServer, state_dir: &Path) -> io::Result<Option<PathBuf>> {
    let dir = wrapper_dir(state_dir);
    let wrapper = dir.join("tmux");
    let Some(name) = &server.name else {
        return match std::fs::remove_file(&wrapper) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(None),
        };
    };
    let Some(real) = find_binary(&server.bin, &dir) else {
        tracing::warn!(
            "{} not found: commands' plain `tmux` will not reach this VM's tmux server",
            server.bin.display()
        );
        return Ok(None);
    };
    let mut text =
        b"#!/bin/sh\n# Written by azlin-agent: a plain `tmux` reaches this VM's own tmux server.\n"
            .to_vec();
    match std::env::var_os("TMUX_TMPDIR") {
        Some(d) => {
            text.extend(b"TMUX_TMPDIR=".iter().chain(&quote(&d)));
            text.extend(b"; export TMUX_TMPDIR\n");
        }
        None => text.extend(b"unset TMUX_TMPDIR\n"),
    }
    text.extend(b"exec ".iter().chain(&quote(real.as_os_str())));
    text.extend(b" -L ".iter().chain(&quote(name.as_ref())));
    text.extend(b" \"$@\"\n");
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    let partial = dir.join(".tmux.partial");
    std::fs::write(&partial, text)?;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&partial, &wrapper)?;
    Ok(Some(dir))
}

/// `bin` as an absolute path: as given if it has a folder in it, else the
/// first executable file of that name on the agent's `PATH`, skipping
/// `skip` (the wrapper's own folder).
fn find_binary(bin: &Path, skip: &Path) -> Option<PathBuf> {
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if bin.components().count() > 1 {
        let path = std::path::absolute(bin).ok()?;
        return executable(&path).then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .filter(|dir| dir.is_absolute() && dir != skip)
        .map(|dir| dir.join(bin))
        .find(|p| executable(p))
}

/// `text` in single quotes for sh.
fn quote(text: &OsStr) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'\'');
    for &b in text.as_bytes() {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_socket_names() {
        for good in ["azlin-dev-1", "a", "x.y_z", &"n".repeat(MAX_NAME)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "-L",
            ".x",
            "a b",
            "a\u{1b}b",
            "é",
            &"n".repeat(MAX_NAME + 1),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_command_names_the_private_server() {
        let plain = TmuxServer {
            bin: "tmux".into(),
            name: None,
        };
        assert_eq!(plain.command().as_std().get_args().count(), 0);
        let private = TmuxServer {
            bin: "tmux".into(),
            name: Some("azlin-a".into()),
        };
        let cmd = private.command();
        let args: Vec<&OsStr> = cmd.as_std().get_args().collect();
        assert_eq!(args, ["-L", "azlin-a"]);
    }

    /// The wrapper, run as a command would run it, talks to the private
    /// server: `-L NAME` reaches a fake tmux that prints its arguments.
    #[test]
    fn the_wrapper_adds_the_server_and_goes_when_it_is_not_wanted() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake tmux's");
        std::fs::write(&fake, "#!/bin/sh\necho \"$@\"\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let state = dir.path().join("state");
        let server = TmuxServer {
            bin: fake.clone(),
            name: Some("azlin-a".into()),
        };
        let bin = install_wrapper(&server, &state).unwrap().unwrap();
        assert_eq!(bin, state.join("bin"));
        let out = std::process::Command::new(bin.join("tmux"))
            .args(["new", "-d", "-s", "it's"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "-L azlin-a new -d -s it's\n"
        );
        let plain = TmuxServer {
            name: None,
            ..server
        };
        assert_eq!(install_wrapper(&plain, &state).unwrap(), None);
        assert!(!bin.join("tmux").exists());
        let missing = TmuxServer {
            bin: dir.path().join("no-such-tmux"),
            name: Some("azlin-a".into()),
        };
        assert_eq!(install_wrapper(&missing, &state).unwrap(), None);
    }
}
