//! `azlin repo clone VM URL [DIR]` (and `azlin new --repo URL`): `git
//! clone` run on the VM as its user, through its agent.
//!
//! For an `http(s)` URL, the token this machine's `gh` has for that host
//! (`gh auth token --hostname HOST`), if any, goes with that one clone
//! only: down the command's stdin (never on a command line, so never in
//! the audit logs), into the clone's environment, read by a credential
//! helper given on git's command line by reference (`$AZLIN_GIT_TOKEN`);
//! every configured helper is switched off for that clone, so none can
//! store it. It is never written to the VM's disk. A URL that carries
//! credentials itself is refused: they would be logged and kept in the
//! clone's config.

use std::{io::Write, time::Duration};

use anyhow::{Result, bail};
use azlin_protocol::exec::{ExecEvent, ExecInput, MAX_EXEC_FRAME};

use crate::{
    home::Home,
    ipc::{ExecSpec, Reply, Request, client::Client},
    selector::Selector,
};

/// Longest a clone may take.
const CLONE_TIMEOUT_SECS: u32 = 3600;
/// Longest `gh auth token` may take.
const GH_LIMIT: Duration = Duration::from_secs(10);

/// `sh` single quotes around `s`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The host of an `http(s)://` URL (with its port), if it is one.
fn http_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// Check the URL and the folder; the folder defaults to the URL's last
/// part without `.git`.
pub fn check(url: &str, dir: Option<&str>) -> Result<String> {
    if url.is_empty() || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bail!("the repository URL must be one word without control characters");
    }
    if url.starts_with('-') {
        bail!("the repository URL cannot start with -");
    }
    if let Some(host) = http_host(url)
        && host.contains('@')
    {
        bail!(
            "the URL carries credentials; leave them out (azlin passes this machine's `gh` \
             token for the clone, never on a command line)"
        );
    }
    let dir = match dir {
        Some(d) => d.to_string(),
        None => url
            .trim_end_matches('/')
            .rsplit(['/', ':'])
            .next()
            .unwrap_or_default()
            .trim_end_matches(".git")
            .to_string(),
    };
    let bad = dir.is_empty()
        || dir.starts_with('-')
        || dir.chars().any(char::is_control)
        || std::path::Path::new(&dir)
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if bad {
        bail!("{dir:?} is not a folder to clone into (relative to the VM user's home, no ..)");
    }
    Ok(dir)
}

/// This machine's `gh` token for `host`, if it has one.
fn gh_token(host: &str) -> Option<String> {
    let mut child = std::process::Command::new("gh")
        .args(["auth", "token", "--hostname", host])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + GH_LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    let token = out.trim().to_string();
    let ok =
        !token.is_empty() && token.len() <= 4096 && token.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(token)
}

/// The command that clones, reading the token (if any) from stdin.
fn command(url: &str, dir: &str, with_token: bool) -> String {
    let clone = format!("git clone --quiet -- {} {}", quote(url), quote(dir));
    if !with_token {
        return format!("GIT_TERMINAL_PROMPT=0 {clone}");
    }
    let helper = "!f() { test \"$1\" = get && printf 'username=x-access-token\\npassword=%s\\n' \
                  \"$AZLIN_GIT_TOKEN\"; }; f";
    format!(
        "IFS= read -r AZLIN_GIT_TOKEN && export AZLIN_GIT_TOKEN && GIT_TERMINAL_PROMPT=0 \
         git -c credential.helper= -c credential.helper={} clone --quiet -- {} {}",
        quote(helper),
        quote(url),
        quote(dir)
    )
}

/// Clone `url` into `dir` on `vm`; errors with git's own words.
pub fn clone(home: &Home, vm: &str, url: &str, dir: Option<&str>) -> Result<String> {
    let dir = check(url, dir)?;
    let token = http_host(url).and_then(gh_token);
    let spec = ExecSpec {
        selector: Selector {
            names: vec![vm.to_string()],
            ..Selector::default()
        },
        command: command(url, &dir, token.is_some()),
        timeout_secs: Some(CLONE_TIMEOUT_SECS),
        stdin: true,
    };
    let client = Client::connect_or_start(home)?;
    let mut talk = client.converse(Request::Exec(spec))?;
    {
        let mut writer = talk.writer()?;
        let mut send = |input: &ExecInput| -> Result<()> {
            let frame = azlin_protocol::message::encode_frame(input, MAX_EXEC_FRAME)?;
            writer.write_all(&frame)?;
            Ok(())
        };
        if let Some(t) = &token {
            send(&ExecInput::Stdin(format!("{t}\n").into_bytes()))?;
        }
        send(&ExecInput::StdinEnd)?;
    }
    let mut stderr = Vec::new();
    loop {
        match talk.next_reply()? {
            Reply::Exec { event, .. } => match event {
                ExecEvent::Stderr(b) => {
                    if stderr.len() < 64 * 1024 {
                        stderr.extend(b);
                    }
                }
                ExecEvent::Stdout(_) => {}
                ExecEvent::Finished(s) if s.outcome.exit_code() == 0 => {}
                ExecEvent::Finished(s) => {
                    let said = String::from_utf8_lossy(&stderr);
                    let said: String = said
                        .trim()
                        .chars()
                        .filter(|c| !c.is_control() || *c == '\n')
                        .collect();
                    bail!(
                        "git clone on {vm} failed ({}): {said}",
                        s.outcome.describe()
                    );
                }
                ExecEvent::Failed { reason } => bail!("cannot clone on {vm}: {reason}"),
            },
            Reply::ExecDone => break,
            Reply::Err { message, .. } => bail!("{message}"),
            _ => {}
        }
    }
    Ok(format!(
        "cloned {url} into ~/{dir} on {vm}{}",
        if token.is_some() {
            " (with this machine's gh token, for that clone only)"
        } else {
            ""
        }
    ))
}

#[derive(clap::Subcommand, Debug)]
pub enum RepoAction {
    /// Clone URL on the VM as its user, into DIR (default: the URL's
    /// last part) in its home.
    Clone {
        vm: String,
        url: String,
        dir: Option<String>,
    },
}

pub fn run(home: &Home, action: RepoAction) -> Result<()> {
    match action {
        RepoAction::Clone { vm, url, dir } => {
            println!("{}", clone(home, &vm, &url, dir.as_deref())?);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_folders_are_checked() {
        assert_eq!(check("https://github.com/o/r.git", None).unwrap(), "r");
        assert_eq!(check("git@github.com:o/r.git", None).unwrap(), "r");
        assert_eq!(check("https://h/o/r", Some("src/r")).unwrap(), "src/r");
        for bad in ["https://u:p@github.com/o/r", "-oProxy", "a b", "x\ny"] {
            assert!(check(bad, None).is_err(), "{bad}");
        }
        for dir in ["../up", "-x", ""] {
            assert!(check("https://h/o/r", Some(dir)).is_err(), "{dir}");
        }
    }

    #[test]
    fn the_token_is_never_on_the_command_line() {
        let c = command("https://h/o/r'x", "r", true);
        assert!(c.contains("$AZLIN_GIT_TOKEN"));
        assert!(c.contains("-c credential.helper= "));
        assert!(c.contains("'https://h/o/r'\\''x'"), "{c}");
    }
}
