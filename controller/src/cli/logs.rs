//! `azlin logs VM [--follow] [--since T] [--lines N] [--unit U |
//! --cloud-init | --agent | --syslog | --file PATH]`: a VM's logs,
//! streamed through its agent's connection (a command run as the VM user,
//! as `azlin exec` runs one: bounded memory, Ctrl-C stops it on the VM).
//! The journal by default (`--syslog`), a unit's (`--unit`, `--agent` for
//! azlin-agent), cloud-init's output log, or a file under `/var/log` or
//! the user's home (`--file`: checked here by its words, and on the VM
//! after resolving links, so a symlink cannot lead elsewhere). Lines are
//! printed with control characters escaped: a log cannot drive the
//! terminal.

use anyhow::{Result, bail};

use super::exec::{self, OutputArgs};
use crate::{home::Home, selector::Selector};

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// VM or session name.
    pub vm: String,
    /// Keep printing new lines until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Journal sources only: from this time on (as journalctl takes it:
    /// "2026-12-04 10:00", "1 hour ago", "today").
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// The last N lines (default 100).
    #[arg(long, short = 'n', value_name = "N", default_value_t = 100)]
    pub lines: u32,
    /// A systemd unit's journal.
    #[arg(long, value_name = "UNIT", group = "source")]
    pub unit: Option<String>,
    /// cloud-init's output (/var/log/cloud-init-output.log).
    #[arg(long, group = "source")]
    pub cloud_init: bool,
    /// The azlin-agent unit's journal.
    #[arg(long, group = "source")]
    pub agent: bool,
    /// The whole journal (the default).
    #[arg(long, group = "source")]
    pub syslog: bool,
    /// A log file under /var/log or the VM user's home.
    #[arg(long, value_name = "PATH", group = "source")]
    pub file: Option<String>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn check_unit(unit: &str) -> Result<()> {
    let ok = !unit.is_empty()
        && unit.len() <= 256
        && !unit.starts_with('-')
        && unit
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._:-\\".contains(&b));
    if !ok {
        bail!("{unit:?} is not a systemd unit name");
    }
    Ok(())
}

fn check_since(since: &str) -> Result<()> {
    let ok = !since.is_empty()
        && since.len() <= 64
        && !since.starts_with('-')
        && since
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " :+-.".contains(c));
    if !ok {
        bail!("--since {since:?}: give a time as journalctl takes it, e.g. \"1 hour ago\"");
    }
    Ok(())
}

/// `--file`'s path as the VM will be asked for it: absolute under
/// `/var/log`, or under the home (`~/…` or relative), without `..`.
fn check_file(path: &str) -> Result<String> {
    if path.is_empty() || path.chars().any(char::is_control) {
        bail!("--file: give a path");
    }
    if path.split('/').any(|p| p == "..") {
        bail!("--file {path:?}: no .. in the path");
    }
    if let Some(rest) = path.strip_prefix("/var/log/") {
        if rest.is_empty() {
            bail!("--file: name a file under /var/log");
        }
        return Ok(quote(path));
    }
    if path.starts_with('/') {
        bail!("--file {path:?}: only files under /var/log and the VM user's home can be read");
    }
    let rel = path.strip_prefix("~/").unwrap_or(path);
    Ok(format!("\"$HOME\"/{}", quote(rel)))
}

/// The command that prints the logs `args` asks for.
pub fn command(args: &LogsArgs) -> Result<String> {
    if args.lines == 0 && !args.follow {
        bail!("--lines 0 prints nothing; give at least 1, or --follow");
    }
    let n = args.lines.to_string();
    let journal = |unit: Option<&str>| -> Result<String> {
        let mut c = format!("journalctl --no-pager -o short-iso -n {n}");
        if let Some(u) = unit {
            check_unit(u)?;
            c.push_str(&format!(" -u {}", quote(u)));
        }
        if let Some(s) = &args.since {
            check_since(s)?;
            c.push_str(&format!(" --since {}", quote(s)));
        }
        if args.follow {
            c.push_str(" -f");
        }
        Ok(c)
    };
    let file = |target: String| -> Result<String> {
        if args.since.is_some() {
            bail!("--since applies to the journal (--unit, --agent, --syslog), not to a file");
        }
        let follow = if args.follow { " -F" } else { "" };
        Ok(format!(
            "f=$(readlink -f -- {target}) || exit 2; case \"$f\" in /var/log/*|\"$HOME\"/*) ;; \
             *) echo \"azlin: that file leads outside /var/log and the home\" >&2; exit 2;; esac; \
             tail -n {n}{follow} -- \"$f\""
        ))
    };
    if let Some(u) = &args.unit {
        journal(Some(u))
    } else if args.agent {
        journal(Some("azlin-agent"))
    } else if args.cloud_init {
        file(quote("/var/log/cloud-init-output.log"))
    } else if let Some(p) = &args.file {
        file(check_file(p)?)
    } else {
        journal(None)
    }
}

pub fn run(home: &Home, args: LogsArgs) -> Result<u8> {
    let command = command(&args)?;
    let selector = Selector {
        names: vec![args.vm.clone()],
        ..Selector::default()
    };
    let output = OutputArgs {
        no_stdin: true,
        text: true,
        ..OutputArgs::default()
    };
    Ok(exec::run(home, selector, command, &output))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(f: impl FnOnce(&mut LogsArgs)) -> LogsArgs {
        let mut a = LogsArgs {
            vm: "v".into(),
            follow: false,
            since: None,
            lines: 100,
            unit: None,
            cloud_init: false,
            agent: false,
            syslog: false,
            file: None,
        };
        f(&mut a);
        a
    }

    #[test]
    fn sources_become_commands_with_every_word_quoted() {
        let c = command(&args(|a| {
            a.unit = Some("ssh.service".into());
            a.since = Some("1 hour ago".into());
            a.follow = true;
        }))
        .unwrap();
        assert_eq!(
            c,
            "journalctl --no-pager -o short-iso -n 100 -u 'ssh.service' --since '1 hour ago' -f"
        );
        assert!(
            command(&args(|a| a.agent = true))
                .unwrap()
                .contains("-u 'azlin-agent'")
        );
        let c = command(&args(|a| a.file = Some("~/app/log.txt".into()))).unwrap();
        assert!(c.contains("readlink -f -- \"$HOME\"/'app/log.txt'"), "{c}");
    }

    #[test]
    fn bad_input_is_refused_before_any_vm_is_asked() {
        for bad in [
            args(|a| a.unit = Some("x; rm -rf /".into())),
            args(|a| a.since = Some("$(id)".into())),
            args(|a| a.file = Some("/etc/shadow".into())),
            args(|a| a.file = Some("/var/log/../../etc/shadow".into())),
            args(|a| {
                a.file = Some("/var/log/syslog".into());
                a.since = Some("today".into());
            }),
            args(|a| a.lines = 0),
        ] {
            assert!(command(&bad).is_err(), "{bad:?}");
        }
    }
}
