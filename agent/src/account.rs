//! The VM user: whose commands run and whose tmux sessions are reported.
//!
//! Resolved from the agent config's `user`, else the agent's own user. When
//! the agent is root and has to act as someone else, the switch (groups,
//! gid, uid) happens in the forked child, and the environment is built the
//! way sshd builds it for a command: a fixed set of variables plus
//! `/etc/environment` and the system locale, nothing from the agent.
//!
//! Two settings of the VM adjust that ([`Account::for_vm`]): the config's
//! `home` replaces the passwd home (as `HOME` and the folder commands start
//! in), and the folder of the private tmux server's wrapper goes first on
//! `PATH` (see [`crate::tmux_server`]).
//!
//! Not here: running the command (see [`crate::exec`]).

use std::{
    ffi::OsStr,
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
};

use nix::unistd::{Gid, Uid, User};

/// PATH sshd gives a command on Debian, for root and for everyone else.
const ROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/games";
/// Files pam_env reads for an ssh session on Debian.
const ENV_FILES: [&str; 2] = ["/etc/environment", "/etc/default/locale"];

#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub uid: Uid,
    pub gid: Gid,
    pub home: PathBuf,
    pub shell: PathBuf,
    /// Supplementary groups, looked up before forking (NSS is not safe to
    /// call in a forked child).
    groups: Vec<Gid>,
    /// Whether the child must switch to this account.
    switch: bool,
    /// A folder to put first on `PATH`.
    path_first: Option<PathBuf>,
}

impl Account {
    /// The configured user, else the agent's own.
    pub fn resolve(configured: Option<&str>) -> Result<Self, String> {
        let me = Uid::effective();
        let user = match configured {
            Some(name) => User::from_name(name)
                .map_err(|e| format!("cannot look up user {name}: {e}"))?
                .ok_or_else(|| format!("user {name} does not exist on this VM"))?,
            None => User::from_uid(me)
                .map_err(|e| format!("cannot look up uid {me}: {e}"))?
                .ok_or_else(|| format!("the agent's uid {me} has no passwd entry"))?,
        };
        let switch = user.uid != me;
        if switch && !me.is_root() {
            return Err(format!(
                "cannot act as {}: the agent runs as uid {me}, not root",
                user.name
            ));
        }
        let groups = if switch {
            let name = std::ffi::CString::new(user.name.clone())
                .map_err(|_| format!("user name {:?} contains a NUL byte", user.name))?;
            nix::unistd::getgrouplist(&name, user.gid)
                .map_err(|e| format!("cannot list {}'s groups: {e}", user.name))?
        } else {
            Vec::new()
        };
        let shell = if user.shell.as_os_str().is_empty() {
            PathBuf::from("/bin/sh")
        } else {
            user.shell
        };
        Ok(Self {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
            home: user.dir,
            shell,
            groups,
            switch,
            path_first: None,
        })
    }

    /// This account as the VM's settings have it: `home` (the config's)
    /// instead of the passwd home, and `path_first` before the rest of
    /// `PATH`.
    pub fn for_vm(mut self, home: Option<&Path>, path_first: Option<&Path>) -> Self {
        if let Some(home) = home {
            self.home = home.to_path_buf();
        }
        self.path_first = path_first.map(Path::to_path_buf);
        self
    }

    /// Run `cmd` as this account: identity, and a home to start in.
    pub fn apply(&self, cmd: &mut tokio::process::Command) {
        let cwd = if self.home.is_dir() {
            self.home.as_path()
        } else {
            Path::new("/")
        };
        cmd.current_dir(cwd);
        if self.switch {
            let (groups, gid, uid) = (self.groups.clone(), self.gid, self.uid);
            // SAFETY: setgroups, setgid and setuid are plain system calls,
            // safe between fork and exec; nothing here allocates or locks.
            unsafe {
                cmd.pre_exec(move || {
                    nix::unistd::setgroups(&groups)?;
                    nix::unistd::setgid(gid)?;
                    nix::unistd::setuid(uid)?;
                    Ok(())
                });
            }
        }
    }

    /// The environment sshd would give a command run as this account.
    pub fn environment(&self) -> Vec<(String, String)> {
        let files: Vec<String> = ENV_FILES
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect();
        build_environment(self, &files)
    }

    /// `argv[0]` for the shell: its file name, as sshd passes it.
    pub fn shell_name(&self) -> &OsStr {
        self.shell
            .file_name()
            .unwrap_or_else(|| OsStr::from_bytes(b"sh"))
    }
}

fn build_environment(account: &Account, files: &[String]) -> Vec<(String, String)> {
    let path = if account.uid.is_root() {
        ROOT_PATH
    } else {
        USER_PATH
    };
    let mut env: Vec<(String, String)> = vec![("PATH".into(), path.into())];
    for text in files {
        for (k, v) in parse_env_file(text) {
            env.retain(|(key, _)| *key != k);
            env.push((k, v));
        }
    }
    let home = account.home.display().to_string();
    let fixed = [
        ("USER", account.name.clone()),
        ("LOGNAME", account.name.clone()),
        ("HOME", home),
        ("SHELL", account.shell.display().to_string()),
        ("MAIL", format!("/var/mail/{}", account.name)),
    ];
    for (k, v) in fixed {
        env.retain(|(key, _)| key != k);
        env.push((k.into(), v));
    }
    // The user's variables `azlin env` manages (names the login sets are
    // never among them).
    match crate::env_file::read(&account.home) {
        Ok(vars) => {
            for (k, v) in vars {
                env.retain(|(key, _)| *key != k);
                env.push((k, v));
            }
        }
        Err(e) => tracing::warn!("the managed environment is left out: {e}"),
    }
    if let Some(first) = &account.path_first
        && let Some((_, path)) = env.iter_mut().find(|(k, _)| k == "PATH")
    {
        *path = format!("{}:{path}", first.display());
    }
    env
}

/// `KEY=value` lines as pam_env reads `/etc/environment`: comments and
/// blank lines skipped, an optional `export`, one level of quotes removed.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
            let (key, value) = line.split_once('=')?;
            let valid = !key.is_empty()
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !key.as_bytes()[0].is_ascii_digit();
            if !valid {
                return None;
            }
            let value = value.trim();
            let unquoted = ['"', '\'']
                .iter()
                .find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q))
                .unwrap_or(value);
            Some((key.to_string(), unquoted.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_are_read_as_pam_env_reads_them() {
        let got = parse_env_file(
            "# comment\n\nPATH=\"/opt/bin:/usr/bin\"\nexport LANG=C.UTF-8\nTZ='UTC'\n1BAD=x\nno equals\nA-B=1\n",
        );
        assert_eq!(
            got,
            vec![
                ("PATH".to_string(), "/opt/bin:/usr/bin".to_string()),
                ("LANG".to_string(), "C.UTF-8".to_string()),
                ("TZ".to_string(), "UTC".to_string()),
            ]
        );
    }

    #[test]
    fn the_environment_is_sshds_not_the_agents() {
        let me = Account::resolve(None).unwrap();
        let env = build_environment(&me, &["PATH=/opt/x\nUSER=spoofed\nLANG=C\n".into()]);
        let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get("PATH").as_deref(), Some("/opt/x"));
        assert_eq!(get("LANG").as_deref(), Some("C"));
        assert_eq!(get("USER"), Some(me.name.clone()));
        assert_eq!(get("HOME"), Some(me.home.display().to_string()));
        assert_eq!(env.iter().filter(|(k, _)| k == "USER").count(), 1);
        assert!(get("CARGO").is_none(), "nothing leaks from the agent");
    }

    #[test]
    fn the_vms_home_and_path_replace_the_users() {
        let me = Account::resolve(None)
            .unwrap()
            .for_vm(Some(Path::new("/vm/home")), Some(Path::new("/vm/bin")));
        let env = build_environment(&me, &["PATH=/opt/x\n".into()]);
        let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get("HOME").as_deref(), Some("/vm/home"));
        assert_eq!(get("PATH").as_deref(), Some("/vm/bin:/opt/x"));
        assert_eq!(env.iter().filter(|(k, _)| k == "PATH").count(), 1);
        let plain = Account::resolve(None).unwrap().for_vm(None, None);
        assert_eq!(plain.home, Account::resolve(None).unwrap().home);
    }

    #[test]
    fn unknown_users_are_named() {
        let e = Account::resolve(Some("no-such-user-azlin")).unwrap_err();
        assert!(e.contains("no-such-user-azlin"), "{e}");
    }
}
